#!/usr/bin/env bash
# Scenario 1 benchmark: the C triggers against a bare copy of user_order
# (no triggers) and a hand-written PL/pgSQL row trigger, in one run, as
# ratios of medians.  Uses the server in the PG* environment variables.
#   bash bench/orders.sh            # bulk and pgbench workloads
#   bash bench/orders.sh --memory   # also peak backend memory of a 10M-row COPY
# Every load runs as an ingest role (grant_ingest), as an application would,
# and WAL bytes per event are printed beside the times.
# Knobs: ROWS (1000000), SMALL_ROWS (200000), USERS (200000), PLPGSQL_ROWS (20000), RUNS (3), SECS (10)
set -euo pipefail
cd "$(dirname "$0")"
ROWS=${ROWS:-1000000}
SMALL_ROWS=${SMALL_ROWS:-200000}
USERS=${USERS:-200000}
PLPGSQL_ROWS=${PLPGSQL_ROWS:-20000}
RUNS=${RUNS:-3}
SECS=${SECS:-10}
DB=${BENCH_DB:-bench_orders}
T=/tmp/insure_stream_bench.$$	# per-run file prefix
CSV=$T.orders.csv
export PGDATABASE=$DB

. ./lib.sh

fresh_db
psql_q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
CREATE TABLE bench_bare (LIKE insure_stream.user_order INCLUDING DEFAULTS INCLUDING IDENTITY);
DROP ROLE IF EXISTS bench_ingest;
CREATE ROLE bench_ingest;
SELECT insure_stream.grant_ingest('bench_ingest');
GRANT INSERT ON bench_bare TO bench_ingest;
GRANT pg_read_server_files TO bench_ingest;
SQL
grant_sources() { psql_q -c "GRANT SELECT ON src, src_small TO bench_ingest"; }
psql_q -f plpgsql_orders.sql >/dev/null

echo "== generating $ROWS orders of $USERS users (and $SMALL_ROWS of $((USERS * SMALL_ROWS / ROWS))) over today's 24 hours (Asia/Shanghai)"
make_order_source "$ROWS" "$USERS"
make_order_source "$SMALL_ROWS" "$((USERS * SMALL_ROWS / ROWS))" src_small	# 5 orders per user too
grant_sources
psql_q -c "COPY src TO '$CSV' WITH (FORMAT csv)"
COLS="id, order_no, customer_tel, gmt_modified, account_payble"

reset_all() {	# every table of Scenario 1 that exists (the layout changed in 0.2.1)
	psql_q -c "DO \$\$ DECLARE t text; BEGIN
		FOR t IN SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
				  WHERE schemaname IN ('insure_stream', 'plpgsql_baseline', 'public')
				    AND tablename IN ('bench_bare', 'user_order', 'order_state', 'order_hour_part',
									  'order_hour_value', 'order_hour_closed', 'order_user_last',
									  'state', 'hour_figures', 'hour_value')
		LOOP EXECUTE 'TRUNCATE ' || t; END LOOP; END \$\$" -c "CHECKPOINT" >/dev/null
}

AS="SET ROLE bench_ingest;"
declare -a bare_200 ext_200
declare -a bare_is ext_is bare_copy ext_copy bare_small plp_small
for run in $(seq 1 "$RUNS"); do
	reset_all
	bare_200+=("$(timed_wal bare200 "INSERT INTO bench_bare ($COLS) SELECT $COLS FROM src_small" "$SMALL_ROWS")")
	ext_200+=("$(timed_wal ext200 "INSERT INTO insure_stream.user_order ($COLS) SELECT $COLS FROM src_small" "$SMALL_ROWS")")
	reset_all
	bare_is+=("$(timed_wal bare_is "INSERT INTO bench_bare ($COLS) SELECT $COLS FROM src" "$ROWS")")
	ext_is+=("$(timed_wal ext_is "INSERT INTO insure_stream.user_order ($COLS) SELECT $COLS FROM src" "$ROWS")")
	[ "$run" -eq 1 ] && psql_q -Atc "SELECT 'verify() differences after INSERT ... SELECT: ' || count(*) FROM insure_stream.verify()"
	reset_all
	bare_copy+=("$(timed_wal bare_copy "COPY bench_bare ($COLS) FROM '$CSV' WITH (FORMAT csv)" "$ROWS")")
	ext_copy+=("$(timed_wal ext_copy "COPY insure_stream.user_order ($COLS) FROM '$CSV' WITH (FORMAT csv)" "$ROWS")")
	reset_all
	bare_small+=("$(timed "INSERT INTO bench_bare ($COLS) SELECT $COLS FROM src LIMIT $PLPGSQL_ROWS")")
	plp_small+=("$(timed "INSERT INTO plpgsql_baseline.user_order ($COLS) SELECT $COLS FROM src LIMIT $PLPGSQL_ROWS")")
	echo "run $run: $SMALL_ROWS insert-select bare ${bare_200[-1]} ms, ext ${ext_200[-1]} ms; insert-select bare ${bare_is[-1]} ms, ext ${ext_is[-1]} ms; copy bare ${bare_copy[-1]} ms, ext ${ext_copy[-1]} ms; $PLPGSQL_ROWS rows bare ${bare_small[-1]} ms, plpgsql ${plp_small[-1]} ms"
done

# pgbench: single-row INSERTs, every order in the current hour
hour0=$(psql_q -Atc "SELECT (extract(epoch FROM date_trunc('hour', now())) * 1000)::bigint")
for target in bench_bare insure_stream.user_order; do
	cat > "$T.$target.sql" <<SQL
\set uid random(1, $USERS)
\set off random(0, 3599999)
\set amt random(1, 100000)
INSERT INTO $target ($COLS) VALUES (:uid, 'PB' || :off, '139' || :uid, $hour0 + :off, :amt / 100.0);
SQL
done
tps() {	# clients target label: tps, or the benchmark ends if any transaction failed
	local out l0
	l0=$(psql_q -Atc "SELECT pg_current_wal_insert_lsn()")
	out=$(pgbench_checked bench_ingest "$1" "$T.$2.sql")
	wal_per_txn "$3" "$l0" "$out"
	awk '/^tps/ {printf "%d", $3}' <<<"$out"
}
declare -a tps_bare1 tps_ext1 tps_bare8 tps_ext8
for run in $(seq 1 "$RUNS"); do
	reset_all
	tps_bare1+=("$(tps 1 bench_bare bare_1)")
	tps_ext1+=("$(tps 1 insure_stream.user_order ext_1)")
	tps_bare8+=("$(tps 8 bench_bare bare_8)")
	tps_ext8+=("$(tps 8 insure_stream.user_order ext_8)")
	echo "run $run: tps 1 client bare ${tps_bare1[-1]}, ext ${tps_ext1[-1]}; 8 clients bare ${tps_bare8[-1]}, ext ${tps_ext8[-1]}"
done
psql_q -Atc "SELECT 'verify() differences after pgbench: ' || count(*) FROM insure_stream.verify()"

m_bis=$(median "${bare_is[@]}"); m_eis=$(median "${ext_is[@]}")
m_bc=$(median "${bare_copy[@]}"); m_ec=$(median "${ext_copy[@]}")
m_bs=$(median "${bare_small[@]}"); m_ps=$(median "${plp_small[@]}")
m_b1=$(median "${tps_bare1[@]}"); m_e1=$(median "${tps_ext1[@]}")
m_b8=$(median "${tps_bare8[@]}"); m_e8=$(median "${tps_ext8[@]}")
echo
echo "| workload ($RUNS runs, medians) | bare | insure_stream | ratio | target | WAL bytes per event, bare / insure_stream |"
echo "|---|---|---|---|---|---|"
wal() { echo "$(wal_of "bare$1") / $(wal_of "ext$1")"; }
echo "| INSERT ... SELECT of $SMALL_ROWS orders | $(median "${bare_200[@]}") ms | $(median "${ext_200[@]}") ms | $(ratio "$(median "${ext_200[@]}")" "$(median "${bare_200[@]}")")x time | <= 2x | $(wal 200) |"
echo "| INSERT ... SELECT of $ROWS orders | $m_bis ms | $m_eis ms | $(ratio "$m_eis" "$m_bis")x time | <= 2x | $(wal _is) |"
echo "| COPY of $ROWS orders | $m_bc ms | $m_ec ms | $(ratio "$m_ec" "$m_bc")x time | <= 2.5x | $(wal _copy) |"
echo "| PL/pgSQL row trigger, INSERT ... SELECT of $PLPGSQL_ROWS orders | $m_bs ms | $m_ps ms (PL/pgSQL) | $(ratio "$m_ps" "$m_bs")x time | baseline | |"
echo "| single-row INSERT, pgbench 1 client | $m_b1 tps | $m_e1 tps | $(ratio "$m_e1" "$m_b1")x tps (runs' own: $(pair_ratio "${tps_ext1[*]}" "${tps_bare1[*]}")x) | >= 0.85x | $(wal _1) per statement |"
echo "| single-row INSERT, pgbench 8 clients, one hour | $m_b8 tps | $m_e8 tps | $(ratio "$m_e8" "$m_b8")x tps (runs' own: $(pair_ratio "${tps_ext8[*]}" "${tps_bare8[*]}")x) | >= 0.8x | $(wal _8) per statement |"

# reading hs_order: the open day's hours are computed from the states
# (0.2.1), so time the read of one day at READ_USERS users, all of it and
# one hour of it
READ_USERS=${READ_USERS:-1000000}
reset_all
psql_q -c "$AS INSERT INTO insure_stream.user_order ($COLS)
	SELECT id, order_no, customer_tel, gmt_modified, account_payble FROM src
	UNION ALL
	SELECT g, 'R' || g, '139' || lpad((g % 700000)::text, 8, '0'),
		   (SELECT min(gmt_modified) FROM src) + (g::bigint * 7919) % 86000000, (g % 1000) / 10.0
	  FROM generate_series($USERS + 1, $READ_USERS) g" >/dev/null
psql_q -c "VACUUM ANALYZE insure_stream.order_state" >/dev/null
states=$(psql_q -Atc "SELECT count(*) FROM insure_stream.order_state")
hour=$(psql_q -Atc "SELECT min(biz_date) FROM insure_stream.order_state")
declare -a read_all read_hour
for run in $(seq 1 "$RUNS"); do
	read_all+=("$(timed "SELECT count(*) FROM (SELECT * FROM insure_stream.hs_order) h")")
	read_hour+=("$(timed "SELECT * FROM insure_stream.hs_order WHERE biz_date = '$hour'")")
done
echo
echo "| reading hs_order, one open day of $states user states ($RUNS runs, medians) | time |"
echo "|---|---|"
echo "| the whole day (24 hours) | $(median "${read_all[@]}") ms |"
echo "| one hour (WHERE biz_date = ...) | $(median "${read_hour[@]}") ms |"

if [ "${1:-}" = "--memory" ]; then
	BIG=${BIG_ROWS:-10000000}
	echo
	echo "== peak backend memory during a COPY of $BIG orders"
	reset_all
	psql_q -v rows="$BIG" -v users="$USERS" <<SQL
SELECT (extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai') * 1000)::bigint AS day0 \gset
COPY (SELECT (random() * (:users - 1))::bigint + 1, 'PO' || g, '138' || (g % :users),
             :day0 + (random() * 86399999)::bigint, round((random() * 1000)::numeric, 2)::float8
        FROM generate_series(1, :rows) g) TO '$T.big.csv' WITH (FORMAT csv);
SQL
	PGAPPNAME=insure_stream_big_copy psql_q -c "COPY insure_stream.user_order ($COLS) FROM '$T.big.csv' WITH (FORMAT csv)" &
	psql_pid=$!
	pid=""
	while [ -z "$pid" ] && kill -0 "$psql_pid" 2>/dev/null; do
		sleep 0.2
		pid=$(psql_q -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'insure_stream_big_copy'")
	done
	peak_anon=0
	peak_rss=0
	t0=$(now_ns)
	while kill -0 "$psql_pid" 2>/dev/null; do
		anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
		hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
		[ -n "$anon" ] && [ "$anon" -gt "$peak_anon" ] && peak_anon=$anon
		[ -n "$hwm" ] && [ "$hwm" -gt "$peak_rss" ] && peak_rss=$hwm
		sleep 0.2
	done
	wait "$psql_pid"
	t1=$(now_ns)
	echo "| COPY of $BIG orders with insure_stream | $(((t1 - t0) / 1000000)) ms | |"
	echo "| backend peak private memory (RssAnon) during a $BIG-row COPY | $((peak_anon / 1024)) MB | target <= 256 MB |"
	echo "| backend peak RSS incl. shared buffers touched (VmHWM) | $((peak_rss / 1024)) MB | |"
	psql_q -Atc "SELECT 'verify() differences after the big COPY: ' || count(*) FROM insure_stream.verify()"
	rm -f "$T.big.csv"
fi
rm -f "$CSV" "$T".*.sql "$T.wal"
