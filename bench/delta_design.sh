#!/usr/bin/env bash
# The write path of a design not built: events as insert-only deltas,
# merged into the state when read or by maintenance (issue "write what the
# work needs").  Measures, single-row, what such a design would cost an
# ingesting statement at best, against the bare table and today's
# triggers, in one run:
#   bare   - a copy of the event table, no trigger, no index
#   delta  - the same copy with one btree index on the key a reader would
#            merge by (orders: user and time; page views: account and
#            time); no trigger: the least the delta design writes
#   ours   - the event table with insure_stream's triggers
# and the read a delta design would pay: one account's last page and all
# accounts' last pages, merged from page_state and a tail of events
# (prototype query; ties and values' own times left out).
# Uses the server in the PG* environment variables.
# Knobs: USERS (200000), ACCOUNTS (500000), RUNS (5), SECS (10), CLIENTS ("1 8")
set -euo pipefail
cd "$(dirname "$0")"
USERS=${USERS:-200000}
ACCOUNTS=${ACCOUNTS:-500000}
RUNS=${RUNS:-5}
SECS=${SECS:-10}
CLIENTS=${CLIENTS:-1 8}
DB=${BENCH_DB:-bench_delta}
T=/tmp/insure_stream_bench.$$
ROLE=bench_delta_ingest
export PGDATABASE=$DB
. ./lib.sh

fresh_db
psql_q -v role="$ROLE" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
DROP ROLE IF EXISTS :"role";
CREATE ROLE :"role";
\o /dev/null
SELECT insure_stream.grant_ingest(:'role');
\o
CREATE TABLE bare_order (LIKE insure_stream.user_order INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE delta_order (LIKE insure_stream.user_order INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON delta_order (id, gmt_modified, ingest_seq);
CREATE TABLE bare_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE delta_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON delta_log (account_id, log_time, ingest_seq);
GRANT INSERT ON bare_order, delta_order, bare_log, delta_log TO :"role";
SQL
hour0=$(psql_q -Atc "SELECT (extract(epoch FROM date_trunc('hour', now())) * 1000)::bigint")
for t in bare_order delta_order insure_stream.user_order; do
	cat > "$T.$t.sql" <<SQL
\set uid random(1, $USERS)
\set off random(0, 3599999)
\set amt random(1, 100000)
INSERT INTO $t (id, order_no, customer_tel, gmt_modified, account_payble) VALUES (:uid, 'PB' || :off, '139' || :uid, $hour0 + :off, :amt / 100.0);
SQL
done
for t in bare_log delta_log insure_stream.user_log; do
	cat > "$T.$t.sql" <<SQL
\set a random(1, $ACCOUNTS)
\set t random(1, 86400000)
INSERT INTO $t (log_time, device_id, account_id, bury_point_type, page_name) VALUES (1795572000000 + :t, 'dev', 'acc' || :a, 'view', 'p' || :t);
SQL
done
tps() { PGOPTIONS="-c role=$ROLE" pgbench_tps "$@"; }
declare -A r
targets="bare_order delta_order insure_stream.user_order bare_log delta_log insure_stream.user_log"
for run in $(seq 1 "$RUNS"); do
	psql_q -c CHECKPOINT
	for c in $CLIENTS; do
		for t in $targets; do
			r[$t.$c]+=" $(tps "$c" "$T.$t.sql" "$t.$c")"
		done
	done
	echo "run $run done"
done

echo
echo "| single-row, $RUNS runs of ${SECS} s | clients | bare tps | delta tps | ours tps | delta / bare | ours / bare | WAL bytes per statement, bare / delta / ours |"
echo "|---|---|---|---|---|---|---|---|"
for s in order log; do
	for c in $CLIENTS; do
		b=${r[bare_$s.$c]} d=${r[delta_$s.$c]} o=${r[insure_stream.user_$s.$c]}
		echo "| $([ $s = order ] && echo orders || echo 'page views') | $c | $(median $b) | $(median $d) | $(median $o) | $(pair_ratio "$d" "$b")x | $(pair_ratio "$o" "$b")x | $(wal_of bare_$s.$c) / $(wal_of delta_$s.$c) / $(wal_of insure_stream.user_$s.$c) |"
	done
done

# reads: page_state as maintenance would leave it (all of user_log folded),
# plus a tail of the delta table's events not folded yet
psql_q <<'SQL'
CREATE VIEW delta_last_log AS
SELECT DISTINCT ON (p.account_id) p.account_id, p.device_id, p.bury_point_type, p.page_name
  FROM (SELECT u.account_id, u.device_key, max(u.device_id) AS device_id, max(u.log_time) AS log_time,
			   insure_stream.last_value(u.bury_point_type, u.log_time) AS bury_point_type,
			   insure_stream.last_value(u.page_name, u.log_time) AS page_name
		  FROM (SELECT s.account_id, s.device_key, s.device_id, s.log_time, s.bury_point_type, s.page_name
				  FROM insure_stream.page_state s
				UNION ALL
				SELECT l.account_id, CASE WHEN l.device_id IS NULL THEN 'n' ELSE 'd' || l.device_id END,
					   l.device_id, l.log_time, l.bury_point_type, l.page_name
				  FROM delta_log l
				 WHERE l.account_id IS NOT NULL AND l.log_time IS NOT NULL) u
		 GROUP BY u.account_id, u.device_key) p
 ORDER BY p.account_id, p.log_time DESC;
VACUUM ANALYZE insure_stream.page_state, delta_log;
SQL
tail_rows=$(psql_q -Atc "SELECT count(*) FROM delta_log")
state_rows=$(psql_q -Atc "SELECT count(*) FROM insure_stream.page_state")
one() {	# view: median ms of 200 reads of one random account each
	local ms=()
	for i in 1 2 3; do
		ms+=("$(timed "SELECT count(*) FROM (SELECT (SELECT v.page_name FROM $1 v WHERE v.account_id = 'acc' || (1 + g * 7919 % $ACCOUNTS)) FROM generate_series(1, 200) g) x")")
	done
	awk -v m="$(median "${ms[@]}")" 'BEGIN {printf "%.3f", m / 200}'
}
all() { local ms=(); for i in 1 2 3; do ms+=("$(timed "SELECT count(*) FROM $1")"); done; median "${ms[@]}"; }
echo
echo "| read ($state_rows state rows, tail of $tail_rows events) | today's view | delta design (state + tail) |"
echo "|---|---|---|"
echo "| one account, ms | $(one insure_stream.user_last_log) | $(one delta_last_log) |"
echo "| all accounts, ms | $(all insure_stream.user_last_log) | $(all delta_last_log) |"
rm -f "$T".*
