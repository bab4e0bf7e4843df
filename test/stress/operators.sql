-- Operators edit key customers: UPDATE of one raw_info row, or an upsert
-- that also creates new key customers (ids up to :keys + 4 appear).
\set k random(1, :keys + 4)
\set p random(100, 1500)
\set op random(1, 4)
\if :op = 1
UPDATE insure_stream.raw_info SET raw_premium = NULL, raw_info = 'operator cleared' WHERE id = :k;
\elif :op = 2
INSERT INTO insure_stream.raw_info VALUES (:k, :p::text, 'operator added ' || :p)
ON CONFLICT (id) DO UPDATE SET raw_premium = excluded.raw_premium, raw_info = excluded.raw_info;
\else
UPDATE insure_stream.raw_info SET raw_premium = :p::text, raw_info = 'operator ' || :p WHERE id = :k;
\endif
