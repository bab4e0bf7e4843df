-- Only with STRESS_ON_BAD_INPUT=quarantine: statements mixing good rows and
-- bad ones (NaN amount, event time far in the future, unparsable premium),
-- which are quarantined with a WARNING while the good rows count.
\set uid random(1, :users)
\set k random(1, :keys)
\set a random(1, :accounts)
\set t random(0, :span)
\set which random(1, 3)
\set future :day0 + 40 * 86400000
\if :which = 1
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
VALUES (:uid, 'PB' || :t % 50, '137' || :uid % 40, :day0 + :t % 86400000, 'NaN'),
       (:uid + 1, 'PB' || :t % 51, '137' || :uid % 41, :day0 + :t % 86400000, 12.5),
       (:uid, 'PF', NULL, :future, 1);
\elif :which = 2
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
VALUES (:k, 'saved', '1,000', 'bad premium'), (:k, 'saved', 'Infinity', 'bad premium'),
       (:k, 'saved', (100 + :t % 900)::text, 'good after bad');
\else
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
VALUES (:future, 'dev1', 'acc' || :a, 'future', 'bad'),
       (:day0 + :t % 86400000, 'dev1', 'acc' || :a, 'after bad', 'good');
\endif
