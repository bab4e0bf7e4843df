-- A multi-row statement: up to 40 orders over a handful of users from the
-- shared pool (each user several times, in different hours), in ascending
-- or descending order, with nulls.
\set n random(2, 40)
\set k random(1, 8)
\set u0 random(1, :users)
\set step random(1, 13)
\set t0 random(0, :span)
\set dir random(0, 1)
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
SELECT 1 + (:u0 + (g % :k) * :step) % :users,
       CASE WHEN random() < 0.1 THEN NULL ELSE 'PO' || (1 + (g * 31 + :u0) % (:users * 2)) END,
       CASE WHEN random() < 0.1 THEN NULL ELSE '138' || ((:u0 + (g % :k) * :step) % 40) END,
       LEAST(:day0 + :span, GREATEST(:day0, :day0 + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint - :start) * :speed - (:t0 + g * 977777) % 10800000)),
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 2000 - 10)::numeric, 2)::float8 END
  FROM generate_series(1, :n) g
 ORDER BY CASE WHEN :dir = 1 THEN g ELSE -g END;
