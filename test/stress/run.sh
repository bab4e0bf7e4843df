#!/usr/bin/env bash
# Concurrency stress for insure_stream against the server in the PG*
# variables (a superuser):
#   test/stress/run.sh [DURATION_SECONDS]      (default 60)
# Creates a fresh database, seeds key customers, then runs pgbench with
# STRESS_CLIENTS (8) clients on a weighted mix of the scripts in this
# directory (orders single and multi-row, update_info, operators editing
# raw_info, page views, track_page(), transactions into all three tables)
# plus one client running maintenance() every second and verify() inside
# the load, and one running longer transactions of two order statements
# 300 ms apart and rebuild() now and then.  Afterwards verify() must return
# no row, and
# pgbench's output and log, the server log and pg_stat_database must show
# no deadlock (40P01), no serialization failure (40001), no duplicate key
# (23505) and no other error.  Exit 0 only then.  Last line:
#   STRESS PASS|FAIL seconds=.. transactions=.. tps=.. deadlock=.. ...
# Knobs: STRESS_CLIENTS (8), STRESS_DB (insure_stream_stress), STRESS_USERS
# (200), STRESS_KEYS (20), STRESS_ACCOUNTS (60), STRESS_ORDER_WINDOW (day;
# none: old orders count until maintenance purges them), STRESS_OUT (a directory
# for the logs, default a new one under /tmp), SERVER_LOG (the server's log
# file, default pg_current_logfile() if the collector runs), STRESS_KEEP_DB=1,
# STRESS_TIME_ZONE (Asia/Shanghai; midnight: a zone whose local midnight
# falls inside the run, if any), STRESS_ON_BAD_INPUT (error; quarantine: adds bad_input.sql, statements
# with bad rows that are quarantined), STRESS_EXTRA (more pgbench scripts
# as "file@weight").
set -uo pipefail
DURATION=${1:-60}
CLIENTS=${STRESS_CLIENTS:-8}
DB=${STRESS_DB:-insure_stream_stress}
USERS=${STRESS_USERS:-200}
KEYS=${STRESS_KEYS:-20}
ACCOUNTS=${STRESS_ACCOUNTS:-60}
WINDOW=${STRESS_ORDER_WINDOW:-day}
BAD=${STRESS_ON_BAD_INPUT:-error}
here=$(cd "$(dirname "$0")" && pwd)
out=${STRESS_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/insure_stream_stress.XXXXXX")}
mkdir -p "$out"
chmod a+rwx "$out" 2>/dev/null || true
psql_q() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
fail() { echo "stress: $*" >&2; echo "STRESS FAIL setup: $*"; exit 1; }

case "$DURATION" in '' | *[!0-9]*) fail "duration must be a number of seconds: $DURATION" ;; esac

# STRESS_TIME_ZONE=midnight: a zone whose local midnight falls in the
# middle half of the run, if there is one (days close during the load)
ZONE=${STRESS_TIME_ZONE:-Asia/Shanghai}
if [ "$ZONE" = midnight ]; then
	ZONE=$(psql -X -At -d postgres -c "SELECT name FROM pg_timezone_names n,
		LATERAL (SELECT (date_trunc('day', now() AT TIME ZONE n.name) + interval '1 day') AT TIME ZONE n.name AS m) x
		WHERE x.m BETWEEN now() + interval '$DURATION seconds' / 4 AND now() + interval '$DURATION seconds' * 3 / 4
		  AND n.name !~ '^(posix|right)/' ORDER BY abs(extract(epoch FROM x.m - now()) - $DURATION / 2.0), n.name LIMIT 1")
	[ -n "$ZONE" ] && echo "== time zone $ZONE: local midnight within the run" || ZONE=Asia/Shanghai
fi

dropdb --if-exists --force "$DB" >/dev/null 2>&1 || true
createdb "$DB" || fail "cannot create database $DB"
psql_q -v keys="$KEYS" -v window="$WINDOW" -v bad="$BAD" -v zone="$ZONE" >"$out/setup.out" 2>&1 <<'SQL' || { cat "$out/setup.out"; fail "setup"; }
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
SELECT insure_stream.configure('time_zone', :'zone');
SELECT insure_stream.configure('saved_events', 'saved, paid');
SELECT insure_stream.configure('retention', '2 days');
SELECT insure_stream.configure('order_window', :'window');
SELECT insure_stream.configure('on_bad_input', :'bad');
INSERT INTO insure_stream.raw_info
SELECT g, (500 + g * 37 % 1000)::text, 'key customer ' || g FROM generate_series(1, :keys) g;
CREATE TABLE stress_check (at timestamptz NOT NULL DEFAULT clock_timestamp(), differences bigint NOT NULL);
SQL

# times in epoch ms: day0 = start of today in the zone; orders and views
# fall in [day0, day0 + span], span ending 20 hours from now (max_future
# is 1 day), so they reach into tomorrow
read -r DAY0 SPAN < <(psql_q -Atc "SELECT d, (extract(epoch FROM now() + interval '20 hours') * 1000)::bigint - d
	FROM (SELECT (extract(epoch FROM date_trunc('day', now() AT TIME ZONE '$ZONE') AT TIME ZONE '$ZONE') * 1000)::bigint AS d) s" | tr '|' ' ')
[ -n "$SPAN" ] || fail "cannot compute the time range"

# where the server log is and how far it goes now
log_file=${SERVER_LOG:-}
if [ -z "$log_file" ]; then
	rel=$(psql_q -Atc "SELECT pg_current_logfile()" 2>/dev/null)
	if [ -n "$rel" ]; then
		case "$rel" in /*) log_file=$rel ;; *) log_file="$(psql_q -Atc 'SHOW data_directory')/$rel" ;; esac
	fi
fi
log_start=0
if [ -n "$log_file" ] && [ -r "$log_file" ]; then
	log_start=$(stat -c %s "$log_file")
else
	echo "stress: server log not readable (set SERVER_LOG); it is not checked" >&2
	log_file=""
fi
deadlocks0=$(psql_q -Atc "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")

# a virtual clock sweeps [day0, day0 + span] during the run, so the users'
# latest orders and the accounts' latest views keep moving between hours
START=$(psql_q -Atc "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
SPEED=$(( SPAN / (DURATION * 1000 + 1) + 1 ))
vars=(-D day0="$DAY0" -D span="$SPAN" -D start="$START" -D speed="$SPEED" -D users="$USERS" -D keys="$KEYS" -D accounts="$ACCOUNTS")
mix=(-f "$here/orders_single.sql@30" -f "$here/orders_multi.sql@15" -f "$here/premium.sql@15"
	-f "$here/operators.sql@4" -f "$here/pages.sql@20" -f "$here/track.sql@10" -f "$here/mixed.sql@6")
[ "$BAD" = quarantine ] && mix+=(-f "$here/bad_input.sql@3")
# STRESS_EXTRA: more "file@weight" scripts (e.g. one that must fail, to see it counted)
for extra in ${STRESS_EXTRA:-}; do mix+=(-f "$extra"); done
echo "== stress: $CLIENTS clients for ${DURATION}s on database $DB (logs in $out)"
(
	cd "$out" || exit 1
	# the 9th client: maintenance() every second, verify() within the load
	pgbench -n -c 1 -j 1 -T "$DURATION" "${vars[@]}" -f "$here/maintenance.sql" \
		--failures-detailed --verbose-errors --log --log-prefix=txlog_maint "$DB" \
		>maint.out 2>maint.err &
	mpid=$!
	# the 10th client: longer transactions, one after the other
	pgbench -n -c 1 -j 1 -T "$DURATION" "${vars[@]}" -f "$here/long.sql" \
		--failures-detailed --verbose-errors --log --log-prefix=txlog_long "$DB" \
		>long.out 2>long.err &
	lpid=$!
	pgbench -n -c "$CLIENTS" -j "$(( CLIENTS < 2 ? CLIENTS : 2 ))" -T "$DURATION" "${vars[@]}" "${mix[@]}" \
		-r --failures-detailed --verbose-errors --log --log-prefix=txlog_load "$DB" \
		>load.out 2>load.err
	echo $? >load.rc
	wait "$mpid"
	echo $? >maint.rc
	wait "$lpid"
	echo $? >long.rc
)

# counts from pgbench: failed transactions by kind (pgbench retries none:
# --max-tries is 1) and clients aborted by any other error
num() { grep -oE "$1" "$2" 2>/dev/null | grep -oE '[0-9]+' | head -1; }
load_rc=$(cat "$out/load.rc" 2>/dev/null || echo 99)
maint_rc=$(cat "$out/maint.rc" 2>/dev/null || echo 99)
long_rc=$(cat "$out/long.rc" 2>/dev/null || echo 99)
ltx=$(num 'number of transactions actually processed: [0-9]+' "$out/long.out"); ltx=${ltx:-0}
tx=$(num 'number of transactions actually processed: [0-9]+' "$out/load.out"); tx=${tx:-0}
mtx=$(num 'number of transactions actually processed: [0-9]+' "$out/maint.out"); mtx=${mtx:-0}
tps=$(grep -oE '^tps = [0-9.]+' "$out/load.out" | head -1 | awk '{printf "%.0f", $3}'); tps=${tps:-0}
pg_ser=0 pg_dl=0 pg_failed=0
for f in "$out/load.out" "$out/maint.out" "$out/long.out"; do
	pg_ser=$((pg_ser + $(num 'number of serialization failures: [0-9]+' "$f" || echo 0)))
	pg_dl=$((pg_dl + $(num 'number of deadlock failures: [0-9]+' "$f" || echo 0)))
	pg_failed=$((pg_failed + $(num 'number of failed transactions: [0-9]+' "$f" || echo 0)))
done
# the per-transaction logs mark failed transactions "failed"
log_failed=$(cat "$out"/txlog_* 2>/dev/null | grep -a -c ' failed ' || true)
aborted=$(cat "$out/load.err" "$out/maint.err" "$out/long.err" | grep -c 'aborted in command' || true)
err_dup=$(cat "$out/load.err" "$out/maint.err" "$out/long.err" | grep -c 'duplicate key value violates unique constraint' || true)
err_dl=$(cat "$out/load.err" "$out/maint.err" "$out/long.err" | grep -c 'deadlock detected' || true)
err_ser=$(cat "$out/load.err" "$out/maint.err" "$out/long.err" | grep -c 'could not serialize access' || true)

# counts from the server log (errors of this run only)
srv_dl=0 srv_ser=0 srv_dup=0 srv_other=0
if [ -n "$log_file" ]; then
	tail -c +"$((log_start + 1))" "$log_file" >"$out/server.log"
	srv_dl=$(grep -c -E 'ERROR: +(40P01: )?deadlock detected' "$out/server.log" || true)
	srv_ser=$(grep -c -E 'ERROR: +(40001: )?could not serialize access' "$out/server.log" || true)
	srv_dup=$(grep -c -E 'ERROR: +(23505: )?duplicate key value' "$out/server.log" || true)
	srv_other=$(grep -E 'ERROR:|FATAL:|PANIC:|TRAP:|terminated by signal' "$out/server.log" |
		grep -v -c -E 'deadlock detected|could not serialize access|duplicate key value' || true)
fi
stat_dl=$(( $(psql_q -Atc "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()") - deadlocks0 ))
max() { local m=0; for v in "$@"; do [ "${v:-0}" -gt "$m" ] && m=$v; done; echo "$m"; }
deadlock=$(max "$pg_dl" "$err_dl" "$srv_dl" "$stat_dl")
serialization=$(max "$pg_ser" "$err_ser" "$srv_ser")
duplicate=$(max "$err_dup" "$srv_dup")
other=$(max "$((aborted - err_dup - err_dl - err_ser))" "$srv_other")
failed=$(max "$pg_failed" "$log_failed")

# the results must match the event log, now and at every check in the load
verify_rows=$(psql_q -Atc "SELECT count(*) FROM insure_stream.verify()" 2>"$out/verify.err") || verify_rows=error
psql_q -c "SELECT * FROM insure_stream.verify() LIMIT 20" >"$out/verify.out" 2>&1 || true
mid=$(psql_q -Atc "SELECT count(*) || ' checks, ' || coalesce(sum(differences), 0) || ' differences' FROM stress_check")
mid_bad=$(psql_q -Atc "SELECT coalesce(sum(differences), 0) FROM stress_check")
psql_q -Atc "SELECT format('events: %s orders, %s update_info, %s user_log; %s alerts, %s key customers, %s hours, %s accounts',
	(SELECT count(*) FROM insure_stream.user_order), (SELECT count(*) FROM insure_stream.update_info),
	(SELECT count(*) FROM insure_stream.user_log), (SELECT count(*) FROM insure_stream.premium_alert),
	(SELECT count(*) FROM insure_stream.raw_info), (SELECT count(*) FROM insure_stream.hs_order),
	(SELECT count(*) FROM insure_stream.user_last_log))
	|| coalesce((SELECT format('; %s rows quarantined', count(*)) FROM insure_stream.rejected_events HAVING count(*) > 0), '')" >"$out/counts.txt" 2>&1

echo "-- pgbench (load):"
sed -n '/^transaction type/,$p' "$out/load.out" | grep -vE '^ +[0-9.]+ +[0-9]+ +[0-9]+ +\\' || true
echo "-- pgbench (maintenance client): $mtx runs, exit $maint_rc; long transactions client: $ltx, exit $long_rc; load exit $load_rc"
errs=$(grep -v -E '^pgbench: client .* executing script|^WARNING:  |^DETAIL:  .*quarantined' "$out/load.err" | head -20)
[ -n "$errs" ] && { echo "-- pgbench errors (first 20 lines):"; echo "$errs"; }
[ -s "$out/maint.err" ] && { echo "-- maintenance client errors:"; head -20 "$out/maint.err"; }
[ -s "$out/long.err" ] && { echo "-- long transactions client errors:"; head -20 "$out/long.err"; }
[ -s "$out/verify.out" ] && [ "$verify_rows" != 0 ] && { echo "-- verify():"; cat "$out/verify.out" "$out/verify.err"; }
echo "-- $(cat "$out/counts.txt")"
echo "-- verify() during the load: $mid"

status=PASS
[ "$load_rc" -eq 0 ] && [ "$maint_rc" -eq 0 ] && [ "$long_rc" -eq 0 ] || status=FAIL
[ "$deadlock" -eq 0 ] && [ "$serialization" -eq 0 ] && [ "$duplicate" -eq 0 ] && [ "$other" -eq 0 ] || status=FAIL
[ "$failed" -eq 0 ] && [ "$aborted" -eq 0 ] || status=FAIL
[ "$verify_rows" = 0 ] && [ "${mid_bad:-1}" = 0 ] || status=FAIL
[ "$tx" -gt 0 ] || status=FAIL
[ "${STRESS_KEEP_DB:-0}" = 1 ] || [ "$status" = FAIL ] || dropdb --force "$DB" >/dev/null 2>&1 || true
echo "STRESS $status seconds=$DURATION clients=$CLIENTS+2 transactions=$tx tps=$tps maintenance_runs=$mtx long_transactions=$ltx" \
	"deadlock=$deadlock serialization=$serialization duplicate_key=$duplicate other_errors=$other" \
	"failed_tx=$failed aborted_clients=$aborted verify_rows=$verify_rows verify_during_load=${mid_bad:-?}"
[ "$status" = PASS ]
