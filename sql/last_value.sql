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

/*
 * Null values at the greatest key never replace the kept value, whatever
 * the order of the rows.  Each group is fed to the aggregate in three
 * orders (a plain Aggregate over a Sort keeps the sort's order): keys
 * ascending, keys descending, and shuffled by a hash of the row id.
 *   1: values at keys 1..5, a null value at key 6 (the greatest)
 *   2: null values at the greatest and the smallest key
 *   3: only null values
 *   4: one value at the smallest key, null values above it
 *   5: a tie at the greatest key between two null values and a value
 *   6: a null key (skipped by the two-argument form; with ORDER BY it
 *      sorts last, so the one-argument form takes its value)
 *   7: by-reference values that grow and shrink (the state is reused in
 *      place or grown), the longest one compressed in the table, then a
 *      null value at the greatest key
 */
CREATE TEMP TABLE nk (id int, g int, o int, v8 int8, vt text, vn numeric);
INSERT INTO nk (id, g, o, v8) VALUES
  (1, 1, 1, 11), (2, 1, 2, 12), (3, 1, 3, 13), (4, 1, 4, 14), (5, 1, 5, 15), (6, 1, 6, NULL),
  (7, 2, 0, NULL), (8, 2, 3, 23), (9, 2, 5, 25), (10, 2, 9, NULL),
  (11, 3, 1, NULL), (12, 3, 2, NULL),
  (13, 4, 1, 41), (14, 4, 2, NULL), (15, 4, 3, NULL),
  (16, 5, 2, 52), (17, 5, 7, NULL), (18, 5, 7, 57), (19, 5, 7, NULL),
  (20, 6, 1, 61), (21, 6, NULL, 62), (22, 6, 2, NULL),
  (23, 7, 1, 71), (24, 7, 2, 72), (25, 7, 3, 73), (26, 7, 4, 74), (27, 7, 5, NULL);
UPDATE nk SET vt = CASE g WHEN 7 THEN repeat(chr(96 + o), (ARRAY[10, 500, 3, 3000])[o]) ELSE 't' || v8 END,
              vn = v8 + 0.5
 WHERE v8 IS NOT NULL;
SELECT pg_column_compression(vt) IS NOT NULL AS compressed FROM nk WHERE g = 7 AND o = 4;
CREATE TEMP VIEW nk_orders AS
  SELECT n.*, r.name,
         CASE r.name WHEN 'ascending' THEN row_number() OVER (PARTITION BY r.name ORDER BY o NULLS FIRST, id)
                     WHEN 'descending' THEN row_number() OVER (PARTITION BY r.name ORDER BY o DESC NULLS LAST, id DESC)
                     ELSE row_number() OVER (PARTITION BY r.name ORDER BY hashint4(id), id) END AS pos
    FROM nk n, (VALUES ('ascending'), ('descending'), ('shuffled')) r(name);
-- the answers in every order
SELECT r.name, g.g, a.*
  FROM (VALUES ('ascending'), ('descending'), ('shuffled')) r(name),
       (SELECT DISTINCT g FROM nk) g,
       LATERAL (SELECT insure_stream.last_value(s.v8, s.o) AS v8,
                       left(insure_stream.last_value(s.vt, s.o), 12) AS vt,
                       length(insure_stream.last_value(s.vt, s.o)) AS vt_len,
                       insure_stream.last_value(s.vn, s.o) AS vn,
                       insure_stream.last_value(s.v8 ORDER BY s.o, s.id) AS v8_ordered,
                       left(insure_stream.last_value(s.vt ORDER BY s.o, s.id), 12) AS vt_ordered
                  FROM (SELECT * FROM nk_orders x WHERE x.g = g.g AND x.name = r.name ORDER BY x.pos OFFSET 0) s) a
 ORDER BY g.g, r.name;
-- the same against plain SQL: the non-null value with the greatest non-null
-- key; with ORDER BY, the last non-null value in (o NULLS LAST, id) order
SELECT count(*) AS mismatches
  FROM (VALUES ('ascending'), ('descending'), ('shuffled')) r(name),
       (SELECT DISTINCT g FROM nk) g,
       LATERAL (SELECT insure_stream.last_value(s.v8, s.o) AS v8,
                       insure_stream.last_value(s.vt, s.o) AS vt,
                       insure_stream.last_value(s.vn, s.o) AS vn,
                       insure_stream.last_value(s.vt ORDER BY s.o, s.id) AS vt_ordered
                  FROM (SELECT * FROM nk_orders x WHERE x.g = g.g AND x.name = r.name ORDER BY x.pos OFFSET 0) s) a
 WHERE a.v8 IS DISTINCT FROM (SELECT v8 FROM nk WHERE nk.g = g.g AND v8 IS NOT NULL AND o IS NOT NULL ORDER BY o DESC LIMIT 1)
    OR a.vt IS DISTINCT FROM (SELECT vt FROM nk WHERE nk.g = g.g AND vt IS NOT NULL AND o IS NOT NULL ORDER BY o DESC LIMIT 1)
    OR a.vn IS DISTINCT FROM (SELECT vn FROM nk WHERE nk.g = g.g AND vn IS NOT NULL AND o IS NOT NULL ORDER BY o DESC LIMIT 1)
    OR a.vt_ordered IS DISTINCT FROM (SELECT vt FROM nk WHERE nk.g = g.g AND vt IS NOT NULL ORDER BY o DESC NULLS FIRST, id DESC LIMIT 1);
-- as a window function, a running frame: nulls never replace the value so far
SELECT id, g, o, v8, left(insure_stream.last_value(vt, o) OVER w, 8) AS vt_so_far,
       length(insure_stream.last_value(vt, o) OVER w) AS vt_len, insure_stream.last_value(v8, o) OVER w AS v8_so_far
  FROM nk WHERE g IN (1, 2, 5, 7)
WINDOW w AS (PARTITION BY g ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
 ORDER BY g, id;
-- expanded values (array_append() returns one) are flattened when kept
SELECT insure_stream.last_value(array_append(ARRAY[o], id), o) FROM nk WHERE g = 1;

/*
 * Ties on the key.  Two-argument form, in one process: the later input
 * wins, so the winner depends on the order of the rows.  One-argument
 * form: ORDER BY decides; rows equal in the ORDER BY come in an unspecified
 * order, so add a tie-breaker (here id) for a defined answer.
 */
CREATE TEMP TABLE ties (id int, o int, v text);
INSERT INTO ties VALUES (1, 1, 'low'), (2, 5, 'first at 5'), (3, 5, NULL), (4, 5, 'second at 5'), (5, 2, 'mid');
SELECT (SELECT insure_stream.last_value(v, o) FROM (SELECT * FROM ties ORDER BY id OFFSET 0) s) AS by_id,
       (SELECT insure_stream.last_value(v, o) FROM (SELECT * FROM ties ORDER BY id DESC OFFSET 0) s) AS by_id_desc,
       (SELECT insure_stream.last_value(v ORDER BY o, id) FROM ties) AS ordered,
       (SELECT insure_stream.last_value(v ORDER BY o, id DESC) FROM ties) AS ordered_desc;

/*
 * The combine function, in one process: partitionwise aggregation runs a
 * Partial Aggregate per partition (its states serialized, as in a parallel
 * plan) and combines them in the order
 * of the partitions (Append, then a Finalize Aggregate or HashAggregate;
 * a Sort in between would not keep that order).  Null values at the
 * greatest key of a partition or of the whole table, partitions with only
 * nulls, and ties across partitions (the later partition's state is
 * combined second and wins).  Keys 1..4, below them 300 filler rows per
 * group and partition (so that partial aggregation pays).
 */
CREATE TEMP TABLE pw (part int, g int, o int, v8 int8, vt text, vn numeric) PARTITION BY LIST (part);
CREATE TEMP TABLE pw1 PARTITION OF pw FOR VALUES IN (1);
CREATE TEMP TABLE pw2 PARTITION OF pw FOR VALUES IN (2);
CREATE TEMP TABLE pw3 PARTITION OF pw FOR VALUES IN (3);
INSERT INTO pw
  SELECT p, g, o, v, 'p' || p || ':' || v, v / 10.0
    FROM generate_series(1, 3) p, generate_series(1, 6) g, generate_series(-299, 4) o,
         LATERAL (SELECT CASE WHEN (g = 1 AND o = 4)                 -- null at each partition's greatest key
                                OR (g = 2 AND p = 3 AND o = 4)        -- null at the greatest key overall
                                OR (g = 3 AND p = 2)                  -- a partition of nulls only
                                OR (g = 4 AND p <> 1)                 -- one partition has values
                                OR g = 5                              -- nulls only
                              THEN NULL ELSE p * 100 + g * 10 + o END AS v) x;
-- group 6 ties across partitions: the same keys in every partition
ANALYZE pw;
SET enable_partitionwise_aggregate = on;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT insure_stream.last_value(vt, o) FROM pw WHERE g IN (1, 2);
EXPLAIN (COSTS OFF) SELECT g, insure_stream.last_value(vt, o) FROM pw GROUP BY g;
-- whole table, groups 1 and 2: nulls at key 4 but for group 2 in
-- partitions 1 and 2 (a tie: partition 2 wins); group 6: a tie at key 4
-- across all three partitions (partition 3 wins)
SELECT insure_stream.last_value(v8, o) AS v8, insure_stream.last_value(vt, o) AS vt, insure_stream.last_value(vn, o) AS vn
  FROM pw WHERE g IN (1, 2);
SELECT insure_stream.last_value(v8, o) AS v8, insure_stream.last_value(vt, o) AS vt, insure_stream.last_value(vn, o) AS vn
  FROM pw WHERE g = 6;
SELECT g, insure_stream.last_value(v8, o) AS v8, insure_stream.last_value(vt, o) AS vt, insure_stream.last_value(vn, o) AS vn
  FROM pw GROUP BY g ORDER BY g;
RESET enable_partitionwise_aggregate;
RESET enable_sort;

/*
 * Parallel aggregation: workers' partial states are serialized, then
 * deserialized and combined by the leader.  Distinct keys per group (ties
 * across workers have no defined winner), a null value at the greatest
 * key of every group and of the table, 10% other null values, groups of
 * nulls only; the answers must equal plain SQL's.  Fewer than 30000 rows,
 * so that ANALYZE reads them all and the plan is stable.
 */
CREATE TABLE lv_par AS
  SELECT id, id % 500 AS g, o, x.v8, 'v' || x.v8 || repeat('.', (id % 7) * 5) AS vt, x.v8 / 7.0 AS vn
    FROM generate_series(1, 25000) id,
         LATERAL (SELECT hashint4(id) AS o) h,
         LATERAL (SELECT CASE WHEN abs(hashint4(id + 1)) % 10 = 0 OR id % 500 IN (7, 8) THEN NULL
                              ELSE id::int8 * 3 END AS v8) x;
UPDATE lv_par SET v8 = NULL, vt = NULL, vn = NULL
 WHERE (g, o) IN (SELECT g, max(o) FROM lv_par GROUP BY g);
UPDATE lv_par SET vt = NULL, vn = NULL WHERE v8 IS NULL;
ALTER TABLE lv_par SET (parallel_workers = 2);
ANALYZE lv_par;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- the leader only combines, and a costly filter (true for every row) keeps
-- the scan long enough for both workers to read part of the table
SET parallel_leader_participation = off;
CREATE VIEW lv_par_slow AS SELECT * FROM lv_par WHERE md5(repeat(id::text, 100)) <> '';
EXPLAIN (COSTS OFF) SELECT insure_stream.last_value(vt, o) FROM lv_par_slow;
EXPLAIN (COSTS OFF) SELECT g, insure_stream.last_value(vt, o) FROM lv_par_slow GROUP BY g;
SELECT insure_stream.last_value(v8, o) = (SELECT v8 FROM lv_par WHERE v8 IS NOT NULL ORDER BY o DESC LIMIT 1) AS v8_right,
       insure_stream.last_value(vt, o) = (SELECT vt FROM lv_par WHERE vt IS NOT NULL ORDER BY o DESC LIMIT 1) AS vt_right,
       insure_stream.last_value(vn, o) = (SELECT vn FROM lv_par WHERE vn IS NOT NULL ORDER BY o DESC LIMIT 1) AS vn_right
  FROM lv_par_slow;
EXPLAIN (COSTS OFF) CREATE TEMP TABLE lv_par_result AS
  SELECT g, insure_stream.last_value(v8, o) AS v8 FROM lv_par_slow GROUP BY g;
CREATE TEMP TABLE lv_par_result AS
  SELECT g, insure_stream.last_value(v8, o) AS v8, insure_stream.last_value(vt, o) AS vt,
         insure_stream.last_value(vn, o) AS vn, insure_stream.last_value(o, o) AS o
    FROM lv_par_slow GROUP BY g;
RESET parallel_leader_participation;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT count(*) AS groups, count(*) FILTER (WHERE v8 IS NULL) AS null_groups,
       count(*) FILTER (WHERE r.v8 IS DISTINCT FROM (SELECT v8 FROM lv_par p WHERE p.g = r.g AND v8 IS NOT NULL ORDER BY o DESC LIMIT 1)
                           OR r.vt IS DISTINCT FROM (SELECT vt FROM lv_par p WHERE p.g = r.g AND vt IS NOT NULL ORDER BY o DESC LIMIT 1)
                           OR r.vn IS DISTINCT FROM (SELECT vn FROM lv_par p WHERE p.g = r.g AND vn IS NOT NULL ORDER BY o DESC LIMIT 1)
                           OR r.o IS DISTINCT FROM (SELECT max(o) FROM lv_par p WHERE p.g = r.g)) AS mismatches
  FROM lv_par_result r;
DROP VIEW lv_par_slow;
DROP TABLE lv_par;

-- outside an aggregate the support functions refuse to run
SELECT insure_stream.last_value_trans(1, 2);
\echo :LAST_ERROR_SQLSTATE
