-- One transaction into all three event tables, always in the same order
-- (orders, update_info, user_log): no lock cycle between such transactions.
\set uid random(1, :users)
\set k random(1, :keys)
\set a random(1, :accounts)
\set t random(0, :span)
\set p random(100, 1500)
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
VALUES (:uid, 'PM' || :t % 97, '139' || :uid % 40, LEAST(:day0 + :span, GREATEST(:day0, :day0 + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint - :start) * :speed - :t % 3600000)), :p / 10.0);
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (:k, 'saved', :p::text, 'mixed ' || :p);
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
VALUES (LEAST(:day0 + :span, GREATEST(:day0, :day0 + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint - :start) * :speed - :t % 3600000)), 'dev' || :k % 3, 'acc' || :a, 'mixed', 'page' || :p);
END;
