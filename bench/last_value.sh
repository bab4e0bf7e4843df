#!/usr/bin/env bash
# last_value benchmark: 1M rows in 200k groups, an int8 and a text value,
# medians of 5 runs, as ratios to first_last_agg's last(v ORDER BY t).
# Uses the server in the PG* environment variables (needs first_last_agg).
set -euo pipefail
ROWS=${ROWS:-1000000}
NGROUPS=${NGROUPS:-200000}
RUNS=${RUNS:-5}
DB=${BENCH_DB:-bench_last_value}
export PGDATABASE=$DB
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

dropdb --if-exists --force "$DB" 2>/dev/null || true
createdb "$DB"
psql_q -v rows="$ROWS" -v groups="$NGROUPS" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
CREATE EXTENSION first_last_agg;
CREATE TABLE lv AS
  SELECT (abs(hashint4(g)) % :groups) AS k, abs(hashint4(g + 7)) AS t, g::bigint AS v_int, md5(g::text) AS v_text
    FROM generate_series(1, :rows) g;
VACUUM ANALYZE lv;
SQL

# time a query in ms on the server side (EXPLAIN ANALYZE has overhead; use \timing)
timed() {
	psql -X -q -v ON_ERROR_STOP=1 -c "SET max_parallel_workers_per_gather = 0" -c "SET work_mem = '256MB'" \
		-c '\timing on' -c "SELECT count(x) FROM ($1) s(k, x)" 2>&1 | awk '/^Time:/ {print int($2)}'
}
declare -A q
q[ours_ord]="SELECT k, insure_stream.last_value(%s, t) FROM lv GROUP BY k"
q[ours_sorted]="SELECT k, insure_stream.last_value(%s ORDER BY t) FROM lv GROUP BY k"
q[last]="SELECT k, last(%s ORDER BY t) FROM lv GROUP BY k"
q[array_agg]="SELECT k, (array_agg(%s ORDER BY t DESC))[1] FROM lv GROUP BY k"
order=(ours_ord ours_sorted last array_agg)

echo "| query ($ROWS rows, $NGROUPS groups, median of $RUNS) | value | ms | ratio to last() |"
echo "|---|---|---|---|"
for col in v_int v_text; do
	declare -A med=()
	for name in "${order[@]}"; do
		sql=$(printf "${q[$name]}" "$col")
		timed "$sql" >/dev/null	# warm up
		times=()
		for _ in $(seq 1 "$RUNS"); do times+=("$(timed "$sql")"); done
		med[$name]=$(median "${times[@]}")
	done
	for name in "${order[@]}"; do
		sql=$(printf "${q[$name]}" "$col")
		echo "| \`${sql%% FROM*}\` | $col | ${med[$name]} | $(awk -v a="${med[$name]}" -v b="${med[last]}" 'BEGIN {printf "%.2f", a / b}') |"
	done
done
