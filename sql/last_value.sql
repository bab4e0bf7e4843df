-- last_value aggregates
SET TimeZone = 'UTC';
CREATE TEMP TABLE lv (g int, t int, v_int bigint, v_text text, v_num numeric, v_arr int[]);
INSERT INTO lv VALUES
  (1, 1, 10, 'a', 1.5, '{1}'),
  (1, 3, NULL, NULL, NULL, NULL),   -- nulls are skipped
  (1, 2, 20, 'b', 2.5, '{2,2}'),
  (2, 5, 50, 'e', 5.5, '{5}'),
  (2, 5, 51, 'e2', 5.25, '{5,1}'),  -- tie on t: the later input wins
  (3, NULL, 30, 'c', 3, '{3}'),     -- null ord: skipped by the two-argument form
  (4, 1, NULL, NULL, NULL, NULL);   -- only nulls

-- one argument: last non-null input in input order
SELECT g, insure_stream.last_value(v_int ORDER BY t) AS v_int,
       insure_stream.last_value(v_text ORDER BY t) AS v_text,
       insure_stream.last_value(v_num ORDER BY t) AS v_num,
       insure_stream.last_value(v_arr ORDER BY t) AS v_arr
  FROM lv GROUP BY g ORDER BY g;

-- two arguments: the non-null value with the greatest ord, no ORDER BY needed
SELECT g, insure_stream.last_value(v_int, t) AS v_int,
       insure_stream.last_value(v_text, t) AS v_text,
       insure_stream.last_value(v_num, t) AS v_num,
       insure_stream.last_value(v_arr, t) AS v_arr,
       insure_stream.last_value(v_text, t::numeric) AS ord_numeric,
       insure_stream.last_value(t, v_text) AS by_text_ord
  FROM lv GROUP BY g ORDER BY g;

-- ord types: timestamps, text with collation, composite keys (gmt, seq)
SELECT insure_stream.last_value(v, o) FROM (VALUES ('x', timestamptz '2026-01-01'), ('y', timestamptz '2025-01-01')) s(v, o);
SELECT insure_stream.last_value(v, o COLLATE "C") FROM (VALUES (1, 'B'), (2, 'a')) s(v, o);
SELECT insure_stream.last_value(v, row(g, s)) FROM (VALUES ('p', 1, 9), ('q', 2, 1), ('r', 2, 0)) x(v, g, s);

-- no rows, all nulls
SELECT insure_stream.last_value(v, o) FROM (SELECT 1, 1 WHERE false) s(v, o);
SELECT insure_stream.last_value(NULL::int, 1), insure_stream.last_value(NULL::text);

-- an ord type without ordering is refused
\set VERBOSITY terse
SELECT insure_stream.last_value(1, point(1, 1));
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- many groups, by-reference values: same answer as a sort-based query
CREATE TEMP TABLE big AS
  SELECT g % 1000 AS k, g AS t, md5(g::text) AS v FROM generate_series(1, 20000) g;
SELECT count(*) AS mismatches FROM (
  SELECT k, insure_stream.last_value(v, t) AS a, (array_agg(v ORDER BY t DESC))[1] AS b
    FROM big GROUP BY k) s
 WHERE a IS DISTINCT FROM b;

-- partial and parallel aggregation use combine, serialize and deserialize
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
ALTER TABLE big SET (parallel_workers = 2);
CREATE TABLE big_shared AS SELECT * FROM big;
ALTER TABLE big_shared SET (parallel_workers = 2);
ANALYZE big_shared;
EXPLAIN (COSTS OFF) SELECT insure_stream.last_value(v, t) FROM big_shared;
SELECT insure_stream.last_value(v, t) = md5('20000') AS parallel_right FROM big_shared;
SELECT count(*) AS mismatches FROM (
  SELECT k, insure_stream.last_value(v, t) AS a, (array_agg(v ORDER BY t DESC))[1] AS b
    FROM big_shared GROUP BY k) s
 WHERE a IS DISTINCT FROM b;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE big_shared;

-- outside an aggregate the support functions refuse to run
SELECT insure_stream.last_value_trans(1, 2);
\echo :LAST_ERROR_SQLSTATE
