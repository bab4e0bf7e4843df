#!/usr/bin/env bash
# Scenario 1: how close to the floor of any SQL-level design the trigger is.
# The "floor" writes what Scenario 1 must persist per order with the
# cheapest SQL there is, and nothing else: no reading of the old state, no
# retraction, no locking order, no validation.
#   single row: one statement, the event row plus an upsert of the user's
#     state, two reference-count upserts and one hour upsert (CTEs);
#   bulk: the event rows (INSERT ... SELECT, or COPY from a file), then the
#     states, reference counts and hours of the load written set-based
#     (INSERT ... SELECT ... GROUP BY into empty tables).
# Single rows run at 1 and 8 clients, with pgbench's simple protocol and
# with prepared statements: parsing and planning the floor's one large
# statement every time costs more than its writes (see lib.sh).
# Ratios of medians against a bare table in the same run.  Uses the server
# in the PG* environment variables.  Knobs: ROWS (1000000), USERS (200000),
# RUNS (3), SECS (10).
set -euo pipefail
cd "$(dirname "$0")"
ROWS=${ROWS:-1000000}
USERS=${USERS:-200000}
RUNS=${RUNS:-3}
SECS=${SECS:-10}
DB=${BENCH_DB:-bench_floor}
export PGDATABASE=$DB
T=/tmp/insure_stream_bench.$$	# per-run file prefix

. ./lib.sh

fresh_db
psql_q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
CREATE TABLE bare (LIKE insure_stream.user_order INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE floor_events (LIKE insure_stream.user_order INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE floor_state (id bigint, day date, gmt_modified bigint, order_no varchar,
	customer_tel varchar, account_payble double precision, PRIMARY KEY (id, day));
CREATE TABLE floor_value (biz_date varchar, kind "char", value varchar, refs bigint,
	PRIMARY KEY (biz_date, kind, value));
CREATE TABLE floor_hour (biz_date varchar, writer int, users bigint, premium numeric,
	PRIMARY KEY (biz_date, writer));
SQL

make_order_source "$ROWS" "$USERS"
COLS="id, order_no, customer_tel, gmt_modified, account_payble"
BIZ="to_char(to_timestamp(gmt_modified / 1000.0) AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDDHH24')"

reset_all() {
	psql_q -c "TRUNCATE bare, floor_events, floor_state, floor_value, floor_hour,
		insure_stream.user_order, insure_stream.order_state,
		insure_stream.order_hour_part, insure_stream.order_hour_value" -c "CHECKPOINT" >/dev/null
}

# what the floor writes besides the events, read from src (as the events)
FLOOR_STATE="
INSERT INTO floor_state
SELECT DISTINCT ON (id) id, current_date, gmt_modified, order_no, customer_tel, account_payble
  FROM src ORDER BY id, gmt_modified DESC;
INSERT INTO floor_value
SELECT $BIZ, v.kind, v.value, count(*)
  FROM floor_state, LATERAL (VALUES ('p'::\"char\", order_no), ('t', customer_tel)) AS v(kind, value)
 WHERE v.value IS NOT NULL GROUP BY 1, 2, 3;
INSERT INTO floor_hour
SELECT $BIZ, 0, count(*), sum(coalesce(account_payble, 0)::numeric) FROM floor_state GROUP BY 1;"
BULK_COLS=$COLS BULK_SRC=src BULK_CSV=$T.orders.csv
bulk_floor_runs bare floor_events insure_stream.user_order

hour0=$(psql_q -Atc "SELECT (extract(epoch FROM date_trunc('hour', now())) * 1000)::bigint")
SETS="\\set uid random(1, $USERS)
\\set off random(0, 3599999)
\\set amt random(1, 100000)"
VALUES="(:uid, 'PB' || :off, '139' || :uid, $hour0 + :off, :amt / 100.0)"
cat > $T.s_bare_orders.sql <<SQL
$SETS
INSERT INTO bare ($COLS) VALUES $VALUES;
SQL
cat > $T.s_floor_orders.sql <<SQL
$SETS
WITH e AS (INSERT INTO floor_events ($COLS) VALUES $VALUES),
 s AS (INSERT INTO floor_state VALUES (:uid, current_date, $hour0 + :off, 'PB' || :off, '139' || :uid, :amt / 100.0)
       ON CONFLICT (id, day) DO UPDATE SET gmt_modified = excluded.gmt_modified, order_no = excluded.order_no,
       account_payble = excluded.account_payble),
 p AS (INSERT INTO floor_value VALUES ('h', 'p', 'PB' || :off, 1)
       ON CONFLICT (biz_date, kind, value) DO UPDATE SET refs = floor_value.refs + 1),
 t AS (INSERT INTO floor_value VALUES ('h', 't', '139' || :uid, 1)
       ON CONFLICT (biz_date, kind, value) DO UPDATE SET refs = floor_value.refs + 1)
INSERT INTO floor_hour VALUES ('h', pg_backend_pid(), 1, :amt / 100.0)
ON CONFLICT (biz_date, writer) DO UPDATE SET users = floor_hour.users + 1,
   premium = floor_hour.premium + excluded.premium;
SQL
cat > $T.s_ext_orders.sql <<SQL
$SETS
INSERT INTO insure_stream.user_order ($COLS) VALUES $VALUES;
SQL
for run in $(seq 1 "$RUNS"); do
	reset_all
	single_row_runs orders
	echo "run $run: single-row tps (1 / 8 clients; simple, prepared; bare, floor, insure_stream):$(for k in 1.simple 1.prepared 8.simple 8.prepared; do for s in bare floor ext; do printf ' %s' "${FLOOR_TPS[orders.$k.$s]##* }"; done; done)"
done
psql_q -Atc "SELECT 'verify() differences: ' || count(*) FROM insure_stream.verify()"

echo
echo "| workload ($RUNS runs, medians) | bare | SQL floor | insure_stream | floor / bare | insure_stream / bare |"
echo "|---|---|---|---|---|---|"
bulk_floor_table "$ROWS orders"
single_row_table "single-row INSERT" orders
rm -f "$T".s_*.sql
