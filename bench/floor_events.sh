#!/usr/bin/env bash
# Scenarios 2 and 3: how close to the floor of any SQL-level design the
# triggers are.  The "floor" writes, with the cheapest SQL there is, only
# what the scenario must persist per event, and nothing else: no reading
# of the old state, no validation, no arrival order, no alert.
#   policy change, single row: the event row plus an UPDATE of the key
#     customer's raw_info row (every benchmark id is a key customer);
#   page view, single row: the event row plus one INSERT ... ON CONFLICT of
#     the (account, device) pair's state;
#   page views, bulk: the event rows (INSERT ... SELECT, or COPY from a
#     file), then one state row per pair written set-based (INSERT ...
#     SELECT DISTINCT ON into an empty table).
# The single-row workloads are those of events.sh, at 1 and 8 clients, with
# pgbench's simple protocol and with prepared statements (see lib.sh).  Ratios of medians
# against bare tables in the same run.  Uses the server in the PG*
# environment variables.  Knobs: KEYS (100000), LOG_ROWS (5000000),
# ACCOUNTS (500000), RUNS (3), SECS (10).
set -euo pipefail
cd "$(dirname "$0")"
KEYS=${KEYS:-100000}
LOG_ROWS=${LOG_ROWS:-5000000}
ACCOUNTS=${ACCOUNTS:-500000}
RUNS=${RUNS:-3}
SECS=${SECS:-10}
DB=${BENCH_DB:-bench_floor_events}
export PGDATABASE=$DB
T=/tmp/insure_stream_bench.$$	# per-run file prefix

. ./lib.sh

fresh_db
psql_q -v lrows="$LOG_ROWS" -v accounts="$ACCOUNTS" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
CREATE TABLE bare_update_info (LIKE insure_stream.update_info INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE floor_update_info (LIKE insure_stream.update_info INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE floor_raw_info (LIKE insure_stream.raw_info INCLUDING ALL) WITH (fillfactor = 50);
CREATE TABLE bare_user_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE floor_user_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE floor_page (account_id varchar, device_id varchar, log_time bigint,
	bury_point_type varchar, page_name varchar, PRIMARY KEY (account_id, device_id))
	WITH (fillfactor = 50);
-- the page views of events.sh, as a table
CREATE TABLE src_log AS
SELECT 1795572000000 + abs(hashint4(g)) % 86400000 AS log_time, 'dev' || (abs(hashint4(g + 1)) % 3) AS device_id,
       'acc' || (abs(hashint4(g + 2)) % :accounts) AS account_id,
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'view' END AS bury_point_type, 'page' || (g % 1000) AS page_name
  FROM generate_series(1, :lrows) g;
VACUUM ANALYZE src_log;
SQL
LCOLS="log_time, device_id, account_id, bury_point_type, page_name"

reset_all() {
	psql_q -c "TRUNCATE bare_update_info, floor_update_info, floor_raw_info, bare_user_log,
		floor_user_log, floor_page, insure_stream.update_info, insure_stream.user_log,
		insure_stream.raw_info, insure_stream.premium_alert, insure_stream.premium_applied,
		insure_stream.page_state" \
		-c "INSERT INTO insure_stream.raw_info SELECT g, '1000', 'key ' || g FROM generate_series(1, $KEYS) g" \
		-c "INSERT INTO floor_raw_info SELECT * FROM insure_stream.raw_info" \
		-c "CHECKPOINT" >/dev/null
}

FLOOR_STATE="
INSERT INTO floor_page
SELECT DISTINCT ON (account_id, device_id) account_id, device_id, log_time, bury_point_type, page_name
  FROM src_log ORDER BY account_id, device_id, log_time DESC;"
BULK_COLS=$LCOLS BULK_SRC=src_log BULK_CSV=$T.log.csv
bulk_floor_runs bare_user_log floor_user_log insure_stream.user_log

# single-row statements: as events.sh (random premiums of 100 to 1000; the
# floor never alerts, so it is also the floor of an event that does not)
PSETS="\\set id random(1, $KEYS)
\\set p random(100, 1000)"
PVALUES="(:id, 'saved', :p, 'x')"
cat > $T.s_bare_premium.sql <<SQL
$PSETS
INSERT INTO bare_update_info (id, event, now_premium, now_info) VALUES $PVALUES;
SQL
cat > $T.s_floor_premium.sql <<SQL
$PSETS
WITH e AS (INSERT INTO floor_update_info (id, event, now_premium, now_info) VALUES $PVALUES)
UPDATE floor_raw_info SET raw_premium = :p, raw_info = 'x' WHERE id = :id;
SQL
cat > $T.s_ext_premium.sql <<SQL
$PSETS
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES $PVALUES;
SQL
LSETS="\\set a random(1, $ACCOUNTS)
\\set t random(1, 86400000)"
LVALUES="(1795572000000 + :t, 'dev', 'acc' || :a, 'view', 'p' || :t)"
cat > $T.s_bare_log.sql <<SQL
$LSETS
INSERT INTO bare_user_log ($LCOLS) VALUES $LVALUES;
SQL
cat > $T.s_floor_log.sql <<SQL
$LSETS
WITH e AS (INSERT INTO floor_user_log ($LCOLS) VALUES $LVALUES)
INSERT INTO floor_page VALUES ('acc' || :a, 'dev', 1795572000000 + :t, 'view', 'p' || :t)
ON CONFLICT (account_id, device_id) DO UPDATE SET log_time = excluded.log_time,
  bury_point_type = excluded.bury_point_type, page_name = excluded.page_name;
SQL
cat > $T.s_ext_log.sql <<SQL
$LSETS
INSERT INTO insure_stream.user_log ($LCOLS) VALUES $LVALUES;
SQL
for run in $(seq 1 "$RUNS"); do
	reset_all
	single_row_runs premium log
	echo "run $run done"
done
psql_q -Atc "SELECT 'verify() differences: ' || count(*) FROM insure_stream.verify()"

echo
echo "| workload ($RUNS runs, medians) | bare | SQL floor | insure_stream | floor / bare | insure_stream / bare |"
echo "|---|---|---|---|---|---|"
bulk_floor_table "$LOG_ROWS page views over $ACCOUNTS accounts"
single_row_table "single-row INSERT into update_info" premium
single_row_table "single-row INSERT into user_log" log
rm -f "$T".s_*.sql
