#!/usr/bin/env bash
# What an alert's notification costs the ingest: single-row policy changes
# (pgbench, 1 and 8 clients) into a bare copy of update_info and into
# update_info under notify = commit, deferred and off, at the alert rates
# NOTIFY_RATES (default "1 0.005": every event alerts, and 0.5%), in one
# run, medians of RUNS; then how long forward_alerts() takes to send the
# alerts queued under deferred.  Nobody listens: PostgreSQL queues a
# NOTIFY and takes its commit lock whether or not anyone listens.
# Uses the server in the PG* environment variables.
# Knobs: KEYS (10000), RUNS (3), SECS (10), NOTIFY_RATES
set -euo pipefail
KEYS=${KEYS:-10000}
RUNS=${RUNS:-3}
SECS=${SECS:-10}
NOTIFY_RATES=${NOTIFY_RATES:-1 0.005}
DB=${BENCH_DB:-bench_notify}
export PGDATABASE=$DB
. "$(dirname "$0")/lib.sh"
tps() { pgbench_tps "$@"; }

fresh_db
T=/tmp/insure_stream_notify.$$
psql_q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
CREATE TABLE bare_update_info (LIKE insure_stream.update_info INCLUDING DEFAULTS INCLUDING IDENTITY);
SQL
reset_all() {
	psql_q -c "TRUNCATE bare_update_info, insure_stream.update_info, insure_stream.raw_info,
		insure_stream.premium_alert, insure_stream.premium_applied, insure_stream.alert_outbox" \
		-c "INSERT INTO insure_stream.raw_info SELECT g, '1000000000000000', 'key ' || g FROM generate_series(1, $KEYS) g" \
		-c "CHECKPOINT" >/dev/null
}
# the premium as raw_info holds it, a fifth lower for the alerting share
# (the bare statement reads raw_info the same way)
script() {	# table rate
	cat <<SQL
\set id random(1, $KEYS)
\set d random(1, 1000000)
INSERT INTO $1 (id, event, now_premium, now_info)
SELECT :id, 'saved', CASE WHEN :d <= $(awk -v r="$2" 'BEGIN {printf "%d", r * 1000000}') THEN round(r.raw_premium::numeric * 0.8)::text ELSE r.raw_premium END, 'x'
  FROM insure_stream.raw_info r WHERE r.id = :id;
SQL
}
MODES="bare commit deferred off"
declare -A r fwd
for run in $(seq 1 "$RUNS"); do
	for rate in $NOTIFY_RATES; do
		script bare_update_info "$rate" > "$T.bare.sql"
		script insure_stream.update_info "$rate" > "$T.ext.sql"
		for c in 1 8; do
			reset_all
			for mode in $MODES; do
				if [ $mode = bare ]; then
					r[$rate.$c.$mode]+=" $(tps "$c" "$T.bare.sql")"
					continue
				fi
				psql_q -c "SELECT insure_stream.configure('notify', '$mode')" >/dev/null
				r[$rate.$c.$mode]+=" $(tps "$c" "$T.ext.sql")"
			done
			queued=$(psql_q -Atc "SELECT count(*) FROM insure_stream.alert_outbox")
			ms=$(timed "SELECT insure_stream.forward_alerts($queued + 1)")
			[ "$queued" -gt 0 ] && fwd[$rate]+=" $(awk -v q="$queued" -v ms="$ms" 'BEGIN {printf "%.1f", ms * 1000 / q}')"
			echo "run $run, alert rate $rate, $c client(s):$(for mode in $MODES; do printf ' %s %s tps' $mode "${r[$rate.$c.$mode]##* }"; done); forward_alerts() of $queued: $ms ms"
		done
	done
done
psql_q -c "SELECT insure_stream.configure('notify', 'commit')" >/dev/null
psql_q -Atc "SELECT 'verify() differences: ' || count(*) FROM insure_stream.verify()"
echo
echo "| single-row INSERT into update_info ($RUNS runs, medians) | bare | notify = commit | deferred | off | forward_alerts(), ms per 1000 alerts |"
echo "|---|---|---|---|---|---|"
for rate in $NOTIFY_RATES; do
	for c in 1 8; do
		b=$(median ${r[$rate.$c.bare]})
		row="| alert rate $rate, $c client(s) | $b tps"
		for mode in commit deferred off; do
			e=$(median ${r[$rate.$c.$mode]})
			row+=" | $e tps ($(ratio "$e" "$b")x)"
		done
		echo "$row | $([ -n "${fwd[$rate]:-}" ] && median ${fwd[$rate]} || echo -) |"
	done
done
rm -f "$T".*.sql
