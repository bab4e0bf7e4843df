#!/usr/bin/env bash
# Scenario 2 and 3 benchmark: update_info and user_log with their triggers
# against bare copies of the tables (no triggers), in one run, as ratios of
# medians; plus track_page() against a hand-written INSERT ... ON CONFLICT.
# Uses the server in the PG* environment variables.
# Policy changes are shaped by ALERT_RATES (default "0.005 0 0.05 1"): the
# share of events whose premium drops by more than 15% (each key
# customer's premium falls by a fifth at such an event and stays the same
# at the others, so the rate is exact); the first rate is the one of the
# single-row runs.  WAL bytes per event (pg_stat_wal's insert position)
# are reported beside each bulk figure.
# Knobs: PREMIUM_ROWS (1000000), KEYS (10000), LOG_ROWS (5000000),
#        ACCOUNTS (500000), RUNS (3), SECS (10), ALERT_RATES
set -euo pipefail
PREMIUM_ROWS=${PREMIUM_ROWS:-1000000}
KEYS=${KEYS:-10000}
ALERT_RATES=${ALERT_RATES:-0.005 0 0.05 1}
ALERT_RATE=${ALERT_RATES%% *}
LOG_ROWS=${LOG_ROWS:-5000000}
ACCOUNTS=${ACCOUNTS:-500000}
RUNS=${RUNS:-3}
SECS=${SECS:-10}
DB=${BENCH_DB:-bench_events}
export PGDATABASE=$DB
. "$(dirname "$0")/lib.sh"
# single-row statements run as an ingest role (grant_ingest), as the app
# does and as bench/orders.sh does; bare and ours alike
ROLE=bench_event_ingest
tps() { PGOPTIONS="-c role=$ROLE" pgbench_tps "$@"; }

fresh_db
psql_q -c "DROP ROLE IF EXISTS $ROLE" -c "CREATE ROLE $ROLE"
T=/tmp/insure_stream_bench.$$	# per-run file prefix
psql_q -v keys="$KEYS" -v prows="$PREMIUM_ROWS" -v lrows="$LOG_ROWS" -v accounts="$ACCOUNTS" -v role="$ROLE" \
	-v lcsv="$T.log.csv" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
CREATE TABLE bare_update_info (LIKE insure_stream.update_info INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE bare_user_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE plain_last_page (account_id text PRIMARY KEY, device_id text, bury_point_type text,
                              page_name text, log_time bigint);
CREATE FUNCTION premium_events(rows integer, keys integer, rate float8)
	RETURNS TABLE (id bigint, channel text, open_id text, event text, now_premium text,
				   creator text, modifier text, gmt_modified bigint, now_info text)
	LANGUAGE sql AS $$
	SELECT e.id, 'app', 'o' || e.g, 'saved', round(1e15 * 0.8 ^ e.drops)::text, 'c', 'm',
		   1795572000000 + e.g, 'info ' || e.g
	  FROM (SELECT g, 1 + g % keys AS id,
				   sum((abs(hashint4(g)) % 1000000 < rate * 1000000)::int)
					   OVER (PARTITION BY g % keys ORDER BY g) AS drops
			  FROM generate_series(1, rows) g) e
	 ORDER BY e.g
	$$;
\o /dev/null
SELECT insure_stream.grant_ingest(:'role');
\o
GRANT INSERT ON bare_update_info, bare_user_log TO :"role";
GRANT SELECT, INSERT, UPDATE ON plain_last_page TO :"role";
GRANT SELECT ON insure_stream.raw_info TO :"role";
COPY (SELECT 1795572000000 + abs(hashint4(g)) % 86400000, 'dev' || (abs(hashint4(g + 1)) % 3),
             'acc' || (abs(hashint4(g + 2)) % :accounts),
             CASE WHEN g % 10 = 0 THEN NULL ELSE 'view' END, 'page' || (g % 1000)
        FROM generate_series(1, :lrows) g)
  TO :'lcsv' WITH (FORMAT csv);
SQL
for rate in $ALERT_RATES; do
	psql_q -c "COPY (SELECT * FROM premium_events($PREMIUM_ROWS, $KEYS, $rate)) TO '$T.premium.$rate.csv' WITH (FORMAT csv)"
done
PCOLS="id, channel, open_id, event, now_premium, creator, modifier, gmt_modified, now_info"
LCOLS="log_time, device_id, account_id, bury_point_type, page_name"
reset_all() {
	psql_q -c "TRUNCATE bare_update_info, bare_user_log, plain_last_page, insure_stream.update_info,
		insure_stream.user_log, insure_stream.raw_info, insure_stream.premium_alert,
		insure_stream.premium_applied, insure_stream.page_state" \
		-c "INSERT INTO insure_stream.raw_info SELECT g, '1000000000000000', 'key ' || g FROM generate_series(1, $KEYS) g" \
		-c "CHECKPOINT" >/dev/null
}
: > "$T.wal"
declare -A bp ep
declare -a bl el
for run in $(seq 1 "$RUNS"); do
	for rate in $ALERT_RATES; do
		reset_all
		bp[$rate]+=" $(timed_wal "bare$rate" "COPY bare_update_info ($PCOLS) FROM '$T.premium.$rate.csv' WITH (FORMAT csv)" "$PREMIUM_ROWS")"
		ep[$rate]+=" $(timed_wal "ext$rate" "COPY insure_stream.update_info ($PCOLS) FROM '$T.premium.$rate.csv' WITH (FORMAT csv)" "$PREMIUM_ROWS")"
		alerts=$(psql_q -Atc "SELECT count(*) FROM insure_stream.premium_alert")
		echo "run $run, alert rate $rate: update_info COPY bare ${bp[$rate]##* } ms, ext ${ep[$rate]##* } ms ($alerts key customers alerted)"
	done
	# a checkpoint before each: the premium COPYs' WAL would otherwise put
	# the checkpoint the log COPYs trigger (and its full-page images) on one side
	psql_q -c "CHECKPOINT" >/dev/null
	bl+=("$(timed_wal bare_log "COPY bare_user_log ($LCOLS) FROM '$T.log.csv' WITH (FORMAT csv)" "$LOG_ROWS")")
	psql_q -c "CHECKPOINT" >/dev/null
	el+=("$(timed_wal ext_log "COPY insure_stream.user_log ($LCOLS) FROM '$T.log.csv' WITH (FORMAT csv)" "$LOG_ROWS")")
	echo "run $run: user_log COPY bare ${bl[-1]} ms, ext ${el[-1]} ms"
done
psql_q -Atc "SELECT 'verify() differences after the COPYs: ' || count(*) FROM insure_stream.verify()"

# single-row statements
# single-row policy changes at ALERT_RATE: the premium of the key customer
# as raw_info holds it, a fifth lower for the alerting share (the bare
# statement reads raw_info the same way)
alert_per_million=$(awk -v r="$ALERT_RATE" 'BEGIN {printf "%d", r * 1000000}')
cat > $T.ib_bare_premium.sql <<SQL
\set id random(1, $KEYS)
\set d random(1, 1000000)
INSERT INTO bare_update_info (id, event, now_premium, now_info)
SELECT :id, 'saved', CASE WHEN :d <= $alert_per_million THEN round(r.raw_premium::numeric * 0.8)::text ELSE r.raw_premium END, 'x'
  FROM insure_stream.raw_info r WHERE r.id = :id;
SQL
sed 's/INSERT INTO bare_update_info/INSERT INTO insure_stream.update_info/' $T.ib_bare_premium.sql > $T.ib_ext_premium.sql
cat > $T.ib_bare_log.sql <<SQL
\set a random(1, $ACCOUNTS)
\set t random(1, 86400000)
INSERT INTO bare_user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES (1795572000000 + :t, 'dev', 'acc' || :a, 'view', 'p' || :t);
SQL
sed 's/bare_user_log/insure_stream.user_log/' $T.ib_bare_log.sql > $T.ib_ext_log.sql
cat > $T.ib_track.sql <<SQL
\set a random(1, $ACCOUNTS)
\set t random(1, 86400000)
SELECT insure_stream.track_page('acc' || :a, 'dev', 'view', 'p' || :t, 1795572000000 + :t);
SQL
cat > $T.ib_plain.sql <<SQL
\set a random(1, $ACCOUNTS)
\set t random(1, 86400000)
INSERT INTO plain_last_page VALUES ('acc' || :a, 'dev', 'view', 'p' || :t, 1795572000000 + :t)
ON CONFLICT (account_id) DO UPDATE SET device_id = excluded.device_id, bury_point_type = excluded.bury_point_type,
  page_name = excluded.page_name, log_time = excluded.log_time WHERE plain_last_page.log_time < excluded.log_time;
SQL
declare -A r
for c in 1 8; do
	for s in bare_premium ext_premium bare_log ext_log track plain; do r[$s$c]=""; done
done
for run in $(seq 1 "$RUNS"); do
	reset_all
	for c in 1 8; do
		for s in bare_premium ext_premium bare_log ext_log track plain; do
			r[$s$c]+=" $(tps "$c" "$T.ib_$s.sql" "$s$c")"
		done
	done
	echo "run $run done"
done
psql_q -Atc "SELECT 'verify() differences after pgbench: ' || count(*) FROM insure_stream.verify()"
m() { median ${r[$1]}; }
echo
echo "| workload ($RUNS runs, medians) | bare / baseline | insure_stream | ratio | target | WAL bytes per event, bare / insure_stream |"
echo "|---|---|---|---|---|---|"
for rate in $ALERT_RATES; do
	mb=$(median ${bp[$rate]}); me=$(median ${ep[$rate]})
	echo "| COPY of $PREMIUM_ROWS update_info rows over $KEYS key customers, alert rate $rate | $mb ms | $me ms | $(ratio "$me" "$mb")x time | <= 2.5x | $(wal_of "bare$rate") / $(wal_of "ext$rate") |"
done
echo "| COPY of $LOG_ROWS page views over $ACCOUNTS accounts | $(median "${bl[@]}") ms | $(median "${el[@]}") ms | $(ratio "$(median "${el[@]}")" "$(median "${bl[@]}")")x time | <= 3.0x | $(wal_of bare_log) / $(wal_of ext_log) |"
for c in 1 8; do
	echo "| single-row INSERT into update_info, alert rate $ALERT_RATE, $c client(s) | $(m bare_premium$c) tps | $(m ext_premium$c) tps | $(ratio "$(m ext_premium$c)" "$(m bare_premium$c)")x tps (runs' own: $(pair_ratio "${r[ext_premium$c]}" "${r[bare_premium$c]}")x) | >= $([ $c = 1 ] && echo 0.85 || echo 0.75)x | $(wal_of bare_premium$c) / $(wal_of ext_premium$c) per statement |"
	echo "| single-row INSERT into user_log, $c client(s) | $(m bare_log$c) tps | $(m ext_log$c) tps | $(ratio "$(m ext_log$c)" "$(m bare_log$c)")x tps (runs' own: $(pair_ratio "${r[ext_log$c]}" "${r[bare_log$c]}")x) | >= 0.85x | $(wal_of bare_log$c) / $(wal_of ext_log$c) per statement |"
done
echo "| track_page() at 8 clients vs hand-written INSERT ... ON CONFLICT | $(m plain8) tps | $(m track8) tps | $(ratio "$(m track8)" "$(m plain8)")x tps | reported | $(wal_of plain8) / $(wal_of track8) per statement |"
rm -f "$T".*.csv "$T".ib_*.sql
