#!/usr/bin/env bash
# The long part of the reliability suite (the fast part is scripts/test.sh):
#  1. the concurrency stress, test/stress/run.sh, for STRESS_SECONDS (300):
#     8 pgbench clients on the mixed workload plus maintenance(); no
#     deadlock, serialization, duplicate-key or other error, verify() clean;
#     then a fifth as long with order_window = none and on_bad_input =
#     quarantine (statements with bad rows mixed in);
#  2. a COPY of BIG_ROWS (10000000) orders into user_order in one statement,
#     with the COPY backend's peak memory read from /proc/<pid>/status:
#     VmHWM (peak resident set, shared buffers it touched included) must not
#     exceed MEM_LIMIT_MB (256); RssAnon (private memory) is sampled and
#     reported; then verify() must return no row.
# Installs what is missing, builds and installs like scripts/test.sh, and
# runs on a throwaway pg_virtualenv cluster as the postgres user.
# Usage (root on Debian 12, or a user with sudo): bash scripts/test-long.sh
# Last line: "N passed, M failed".
set -uo pipefail
STRESS_SECONDS=${STRESS_SECONDS:-300}
BIG_ROWS=${BIG_ROWS:-10000000}
MEM_LIMIT_MB=${MEM_LIMIT_MB:-256}
export STRESS_SECONDS BIG_ROWS MEM_LIMIT_MB

# ---------------------------------------------------------------------------
# inside the cluster (PG* variables set by pg_virtualenv)
if [ "${1:-}" = "--inside" ]; then
	cd "$(dirname "$0")/.."
	passed=0 failed=0
	check() { if [ "$1" = ok ]; then passed=$((passed + 1)); echo "ok - $2"; else failed=$((failed + 1)); echo "not ok - $2"; fi; }
	psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

	# pg_virtualenv's server log: <workdir>/log/postgresql-<v>-regress.log
	if [ -z "${SERVER_LOG:-}" ]; then
		data=$(psql_q -Atc 'SHOW data_directory')
		SERVER_LOG="$(cd "$data/../../.." 2>/dev/null && pwd)/log/postgresql-${PGVERSION:-15}-regress.log"
		[ -r "$SERVER_LOG" ] || SERVER_LOG=""
	fi
	export SERVER_LOG
	tmp=$(mktemp -d /tmp/insure_stream_long.XXXXXX)
	chmod a+rwx "$tmp"

	echo "== 1. concurrency stress, $STRESS_SECONDS s (order_window day)"
	STRESS_OUT="$tmp/stress" bash test/stress/run.sh "$STRESS_SECONDS" | tee "$tmp/stress.out"
	stress_line=$(grep -E '^STRESS ' "$tmp/stress.out" | tail -1)
	case "$stress_line" in "STRESS PASS "*) check ok "stress: $stress_line" ;; *) check fail "stress: $stress_line" ;; esac
	none_seconds=$(( STRESS_SECONDS / 5 > 10 ? STRESS_SECONDS / 5 : 10 ))
	echo "== 1b. concurrency stress, $none_seconds s (order_window none: old orders count until purged; on_bad_input quarantine: bad rows mixed in)"
	STRESS_ORDER_WINDOW=none STRESS_ON_BAD_INPUT=quarantine STRESS_OUT="$tmp/stress-none" bash test/stress/run.sh "$none_seconds" | tee "$tmp/stress-none.out"
	none_line=$(grep -E '^STRESS ' "$tmp/stress-none.out" | tail -1)
	case "$none_line" in "STRESS PASS "*) check ok "stress (order_window none, quarantine): $none_line" ;; *) check fail "stress (order_window none, quarantine): $none_line" ;; esac

	echo "== 2. COPY of $BIG_ROWS orders: backend peak memory (limit VmHWM <= $MEM_LIMIT_MB MB), then verify()"
	db=insure_stream_long_copy
	csv="$tmp/orders.csv"	# written and read by the server
	dropdb --if-exists --force "$db" >/dev/null 2>&1
	createdb "$db"
	# 200k users over today's 24 hours, 10% nulls per column (as bench/orders.sh)
	psql_q -d "$db" -v rows="$BIG_ROWS" -v csv="$csv" >"$tmp/generate.out" 2>&1 <<'SQL' || { cat "$tmp/generate.out"; check fail "generating $BIG_ROWS orders"; }
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
SELECT (extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai') * 1000)::bigint AS day0 \gset
COPY (SELECT 1 + (random() * 199999)::bigint,
             CASE WHEN random() < 0.1 THEN NULL ELSE 'PO' || g END,
             CASE WHEN random() < 0.1 THEN NULL ELSE '138' || lpad((g % 200000)::text, 8, '0') END,
             :day0 + (random() * 86399999)::bigint,
             CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 1000)::numeric, 2)::float8 END
        FROM generate_series(1, :rows) g) TO :'csv' WITH (FORMAT csv);
SQL
	echo "   generated $(du -m "$csv" 2>/dev/null | cut -f1) MB of CSV"
	# the COPY runs in a session that reports its backend pid first and
	# reads its own VmHWM (a high-water mark, exact) right after the COPY
	fifo="$tmp/copy.pid"
	mkfifo "$fifo"
	t0=$(date +%s%N)
	psql_q -d "$db" -At -v csv="$csv" -v fifo="$fifo" >"$tmp/copy.out" 2>&1 <<'SQL' &
SELECT pg_backend_pid() AS pid \gset
\o :fifo
SELECT :pid;
\o
COPY insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) FROM :'csv' WITH (FORMAT csv);
\setenv COPY_PID :pid
\! awk '/^(VmHWM|VmRSS|RssAnon|RssFile|RssShmem):/ {print $1, $2}' /proc/$COPY_PID/status
SQL
	copy_psql=$!
	pid=$(timeout 120 cat "$fifo")
	rm -f "$fifo"
	peak_anon=0
	while kill -0 "$copy_psql" 2>/dev/null; do
		anon=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
		[ -n "$anon" ] && [ "$anon" -gt "$peak_anon" ] && peak_anon=$anon
		sleep 0.2
	done
	wait "$copy_psql"
	copy_rc=$?
	t1=$(date +%s%N)
	copy_ms=$(((t1 - t0) / 1000000))
	rm -f "$csv"
	cat "$tmp/copy.out"
	hwm=$(awk '/^VmHWM:/ {print $2}' "$tmp/copy.out")
	end_anon=$(awk '/^RssAnon:/ {print $2}' "$tmp/copy.out")
	[ -n "$end_anon" ] && [ "$end_anon" -gt "$peak_anon" ] && peak_anon=$end_anon
	counted=$(psql_q -d "$db" -Atc "SELECT count(*) FROM insure_stream.user_order")
	if [ "$copy_rc" -eq 0 ] && [ "$counted" = "$BIG_ROWS" ]; then
		check ok "COPY of $BIG_ROWS orders in $copy_ms ms"
	else
		check fail "COPY of $BIG_ROWS orders (exit $copy_rc, $counted rows)"
	fi
	hwm_mb=$(( ${hwm:-999999999} / 1024 ))
	anon_mb=$((peak_anon / 1024))
	if [ "$copy_rc" -eq 0 ] && [ -n "$hwm" ] && [ "$hwm_mb" -le "$MEM_LIMIT_MB" ]; then
		check ok "COPY backend peak memory: VmHWM $hwm_mb MB <= $MEM_LIMIT_MB MB (RssAnon peak $anon_mb MB)"
	else
		check fail "COPY backend peak memory: VmHWM ${hwm:-unknown} kB, limit $MEM_LIMIT_MB MB (RssAnon peak $anon_mb MB)"
	fi
	v0=$(date +%s%N)
	vrows=$(psql_q -d "$db" -Atc "SELECT count(*) FROM insure_stream.verify()")
	v_ms=$((($(date +%s%N) - v0) / 1000000))
	psql_q -d "$db" -Atc "SELECT format('   %s hours, %s users, total premium %s', count(*), (SELECT count(*) FROM insure_stream.last_order), sum(total_premium)) FROM insure_stream.hs_order"
	[ "$vrows" = 0 ] && check ok "verify() after the COPY: 0 rows ($v_ms ms)" || check fail "verify() after the COPY: ${vrows:-error} rows"
	dropdb --force "$db" >/dev/null 2>&1

	echo
	echo "LONG stress_seconds=$STRESS_SECONDS $(echo "$stress_line" | cut -d' ' -f4-)"
	echo "LONG stress_none_seconds=$none_seconds $(echo "$none_line" | cut -d' ' -f4-)"
	echo "LONG copy_rows=$BIG_ROWS copy_ms=$copy_ms vmhwm_mb=$hwm_mb rssanon_peak_mb=$anon_mb limit_mb=$MEM_LIMIT_MB verify_rows_after_copy=${vrows:-error}"
	echo "SUITE long $passed passed $failed failed"
	[ "$failed" -eq 0 ] && rm -rf "$tmp"
	[ "$failed" -eq 0 ]
	exit
fi

# ---------------------------------------------------------------------------
# outside: dependencies, build, install, throwaway cluster (as scripts/test.sh)
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
PGVER=${PGVER:-15}
bash scripts/setup-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

. scripts/cluster-lib.sh
run_in_cluster insure_stream_long test-long-output.log bash scripts/test-long.sh --inside
summarize '^(SUITE|LONG) '
