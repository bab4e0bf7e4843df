-- Page views into user_log: single rows or a multi-row statement over a
-- small account pool, several devices per account (null and '' devices
-- too), null page columns, ties in log_time, late views; a few views
-- four days old, which maintenance purges during the load.
\set a random(1, :accounts)
\set d random(0, 4)
\set t random(0, :span)
\set nulls random(0, 7)
\set kind random(1, 100)
\set n random(2, 30)
\set dir random(0, 1)
\if :kind <= 60
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
VALUES (CASE WHEN :kind <= 10 THEN :day0 + :t % 1000 ELSE LEAST(:day0 + :span, GREATEST(:day0, :day0 + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint - :start) * :speed - :t % 10800000)) END,
        CASE :d WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'dev' || :d END, 'acc' || :a,
        CASE WHEN :nulls & 1 = 1 THEN NULL ELSE 'view' || :d END,
        CASE WHEN :nulls & 2 = 2 THEN NULL ELSE 'page' || :t % 50 END);
\elif :kind <= 97
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
SELECT LEAST(:day0 + :span, GREATEST(:day0, :day0 + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint - :start) * :speed - (:t + g * 7777777) % 10800000)),
       CASE (g + :d) % 5 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'dev' || (g + :d) % 5 END,
       'acc' || (1 + (:a + g % 4) % :accounts),
       CASE WHEN random() < 0.2 THEN NULL ELSE 'click' END,
       CASE WHEN random() < 0.2 THEN NULL ELSE 'page' || g END
  FROM generate_series(1, :n) g
 ORDER BY CASE WHEN :dir = 1 THEN g ELSE -g END;
\else
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
VALUES (:day0 - 4 * 86400000 + :t % 86400000, 'dev' || :d, 'acc' || :a, 'old view', 'old page');
\endif
