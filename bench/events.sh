#!/usr/bin/env bash
# Scenario 2 and 3 benchmark: update_info and user_log with their triggers
# against bare copies of the tables (no triggers), in one run, as ratios of
# medians; plus track_page() against a hand-written INSERT ... ON CONFLICT.
# Uses the server in the PG* environment variables.
# Knobs: PREMIUM_ROWS (1000000), KEYS (100000), LOG_ROWS (5000000),
#        ACCOUNTS (500000), RUNS (3), SECS (10)
set -euo pipefail
PREMIUM_ROWS=${PREMIUM_ROWS:-1000000}
KEYS=${KEYS:-100000}
LOG_ROWS=${LOG_ROWS:-5000000}
ACCOUNTS=${ACCOUNTS:-500000}
RUNS=${RUNS:-3}
SECS=${SECS:-10}
DB=${BENCH_DB:-bench_events}
export PGDATABASE=$DB
. "$(dirname "$0")/lib.sh"
tps() { pgbench -n -c "$1" -j "$1" -T "$SECS" -f "$2" 2>/dev/null | awk '/^tps/ {printf "%d", $3}'; }

dropdb --if-exists --force "$DB" 2>/dev/null || true
createdb "$DB"
T=/tmp/insure_stream_bench.$$	# per-run file prefix
psql_q -v keys="$KEYS" -v prows="$PREMIUM_ROWS" -v lrows="$LOG_ROWS" -v accounts="$ACCOUNTS" \
	-v pcsv="$T.premium.csv" -v lcsv="$T.log.csv" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
CREATE TABLE bare_update_info (LIKE insure_stream.update_info INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE bare_user_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE plain_last_page (account_id text PRIMARY KEY, device_id text, bury_point_type text,
                              page_name text, log_time bigint);
COPY (SELECT 1 + abs(hashint4(g)) % :keys, 'app', 'o' || g, 'saved',
             (100 + abs(hashint4(g + 1)) % 900)::text, 'c', 'm', 1795572000000 + g, 'info ' || g
        FROM generate_series(1, :prows) g)
  TO :'pcsv' WITH (FORMAT csv);
COPY (SELECT 1795572000000 + abs(hashint4(g)) % 86400000, 'dev' || (abs(hashint4(g + 1)) % 3),
             'acc' || (abs(hashint4(g + 2)) % :accounts),
             CASE WHEN g % 10 = 0 THEN NULL ELSE 'view' END, 'page' || (g % 1000)
        FROM generate_series(1, :lrows) g)
  TO :'lcsv' WITH (FORMAT csv);
SQL
PCOLS="id, channel, open_id, event, now_premium, creator, modifier, gmt_modified, now_info"
LCOLS="log_time, device_id, account_id, bury_point_type, page_name"
reset_all() {
	psql_q -c "TRUNCATE bare_update_info, bare_user_log, plain_last_page, insure_stream.update_info,
		insure_stream.user_log, insure_stream.raw_info, insure_stream.premium_alert,
		insure_stream.premium_applied, insure_stream.page_state" \
		-c "INSERT INTO insure_stream.raw_info SELECT g, '1000', 'key ' || g FROM generate_series(1, $KEYS) g" \
		-c "CHECKPOINT" >/dev/null
}
declare -a bp ep bl el
for run in $(seq 1 "$RUNS"); do
	reset_all
	bp+=("$(timed "COPY bare_update_info ($PCOLS) FROM '$T.premium.csv' WITH (FORMAT csv)")")
	ep+=("$(timed "COPY insure_stream.update_info ($PCOLS) FROM '$T.premium.csv' WITH (FORMAT csv)")")
	bl+=("$(timed "COPY bare_user_log ($LCOLS) FROM '$T.log.csv' WITH (FORMAT csv)")")
	el+=("$(timed "COPY insure_stream.user_log ($LCOLS) FROM '$T.log.csv' WITH (FORMAT csv)")")
	echo "run $run: update_info COPY bare ${bp[-1]} ms, ext ${ep[-1]} ms; user_log COPY bare ${bl[-1]} ms, ext ${el[-1]} ms"
done
psql_q -Atc "SELECT 'verify() differences after the COPYs: ' || count(*) FROM insure_stream.verify()"

# single-row statements
cat > $T.ib_bare_premium.sql <<SQL
\set id random(1, $KEYS)
\set p random(100, 1000)
INSERT INTO bare_update_info (id, event, now_premium, now_info) VALUES (:id, 'saved', :p, 'x');
SQL
sed 's/bare_update_info/insure_stream.update_info/' $T.ib_bare_premium.sql > $T.ib_ext_premium.sql
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
			r[$s$c]+=" $(tps "$c" "$T.ib_$s.sql")"
		done
	done
	echo "run $run done"
done
psql_q -Atc "SELECT 'verify() differences after pgbench: ' || count(*) FROM insure_stream.verify()"
m() { median ${r[$1]}; }
echo
echo "| workload ($RUNS runs, medians) | bare / baseline | insure_stream | ratio | target |"
echo "|---|---|---|---|---|"
echo "| COPY of $PREMIUM_ROWS update_info rows over $KEYS key customers | $(median "${bp[@]}") ms | $(median "${ep[@]}") ms | $(ratio "$(median "${ep[@]}")" "$(median "${bp[@]}")")x time | <= 3x |"
echo "| COPY of $LOG_ROWS page views over $ACCOUNTS accounts | $(median "${bl[@]}") ms | $(median "${el[@]}") ms | $(ratio "$(median "${el[@]}")" "$(median "${bl[@]}")")x time | <= 2.5x |"
for c in 1 8; do
	echo "| single-row INSERT into update_info, $c client(s) | $(m bare_premium$c) tps | $(m ext_premium$c) tps | $(ratio "$(m ext_premium$c)" "$(m bare_premium$c)")x tps | >= 0.8x |"
	echo "| single-row INSERT into user_log, $c client(s) | $(m bare_log$c) tps | $(m ext_log$c) tps | $(ratio "$(m ext_log$c)" "$(m bare_log$c)")x tps | >= 0.85x |"
done
echo "| track_page() at 8 clients vs hand-written INSERT ... ON CONFLICT | $(m plain8) tps | $(m track8) tps | $(ratio "$(m track8)" "$(m plain8)")x tps | reported |"
rm -f "$T".*.csv "$T".ib_*.sql
