-- The 10th client: longer transactions, two order statements 300 ms apart
-- (so some begin before a local midnight and write after it, when
-- maintenance may have closed the day).  Its users (ids from 1000001) and
-- order numbers are its own and it has no phone, so it shares no row with
-- the others: a second statement in one transaction may otherwise deadlock
-- legitimately (see Limitations in the README).  About every 5 s instead an
-- operator's rebuild(), concurrent with maintenance() (ingest waits).
\set r random(1, 15)
\if :r = 1
SELECT insure_stream.rebuild();
\else
\set lu 1000000 + random(1, 50)
\set t random(0, 3599999)
\set amt random(1, 100000)
BEGIN;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
VALUES (:lu, 'L' || :client_id || '-' || :t, NULL,
        LEAST(:day0 + :span, GREATEST(:day0, :day0 + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint - :start) * :speed - :t)),
        :amt / 100.0);
\sleep 300 ms
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
VALUES (:lu, 'L' || :client_id || '-' || :t || 'b', NULL,
        LEAST(:day0 + :span, GREATEST(:day0, :day0 + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint - :start) * :speed - :t / 2)),
        NULL);
END;
\endif
