#!/usr/bin/env bash
# last_value benchmark: insure_stream's last_value against first_last_agg's
# last(v ORDER BY o) and (array_agg(v ORDER BY o DESC))[1], for an int8 and
# a text value, as ratios to last() measured in the same run.
# Uses the server in the PG* environment variables (needs first_last_agg).
#
# Each case is ROWS:MODULUS:NULLS:WORK_MEM:
#   ROWS rows whose group key is hash(g) % MODULUS (200k rows over 100000
#   give ~86k groups, 1M over 200000 ~199k), NULLS percent of the values
#   null (the same rows for both value columns), WORK_MEM "default" for the
#   server's setting (4MB unless changed) or a size.  Parallel query is left
#   at the server's settings unless PARALLEL=off.
# RUNS runs per case; in each run the queries are timed one after the other
# (interleaved, so drift hits all alike); medians of the runs and the
# median of the per-run ratios to last() are printed.
set -euo pipefail
CASES=${CASES:-"200000:100000:10:default 1000000:200000:10:default 1000000:200000:0:256MB"}
RUNS=${RUNS:-7}
PARALLEL=${PARALLEL:-default}
DB=${BENCH_DB:-bench_last_value}
export PGDATABASE=$DB
. "$(dirname "$0")/lib.sh"	# fresh_db; its own median below (sort -g: fractions)
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

fresh_db
psql_q -c "SET client_min_messages = warning" -c "CREATE EXTENSION insure_stream" -c "CREATE EXTENSION first_last_agg"

# server-side time of one query in ms (psql's \timing, the result is one row)
timed() {	# work_mem sql
	local set=()
	[ "$1" = default ] || set+=(-c "SET work_mem = '$1'")
	[ "$PARALLEL" = default ] || set+=(-c "SET max_parallel_workers_per_gather = 0")
	psql -X -q -v ON_ERROR_STOP=1 "${set[@]}" -c '\timing on' -c "$2" 2>&1 |
		awk '/^Time:/ {print $2}'
}
# the top aggregate node of the plan, e.g. "HashAggregate (batches 129)"
plan_of() {	# work_mem sql
	local set=()
	[ "$1" = default ] || set+=(-c "SET work_mem = '$1'")
	[ "$PARALLEL" = default ] || set+=(-c "SET max_parallel_workers_per_gather = 0")
	psql -X -q -At -v ON_ERROR_STOP=1 "${set[@]}" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $2" |
		awk '/(Group|Hash)Aggregate|Gather/ && !node {sub(/^ *(->)? */, ""); sub(/ *\(.*/, ""); node = $0}
		     /Batches:/ {match($0, /Batches: [0-9]+/); b = substr($0, RSTART + 9, RLENGTH - 9)}
		     /Sort Method/ && !sm {sub(/^ *Sort Method: */, ""); sub(/  .*/, ""); sm = $0}
		     END {printf "%s%s%s", node, (b ? ", " b " batches" : ""), (sm && node ~ /Group/ ? ", " sm : "")}'
}

declare -A q
q[ours_ord]="insure_stream.last_value(%s, o)"
q[ours_sorted]="insure_stream.last_value(%s ORDER BY o)"
q[last]="last(%s ORDER BY o)"
q[array_agg]="(array_agg(%s ORDER BY o DESC))[1]"
order=(ours_ord ours_sorted last array_agg)

for c in $CASES; do
	IFS=: read -r rows modulus nulls wm <<<"$c"
	psql_q -v rows="$rows" -v modulus="$modulus" -v nulls="$nulls" <<'SQL'
SET client_min_messages = warning;
DROP TABLE IF EXISTS lv;
CREATE TABLE lv AS
  SELECT abs(hashint4(g)) % :modulus AS k, abs(hashint4(g + 7)) AS o,
         CASE WHEN abs(hashint4(g + 13)) % 100 < :nulls THEN NULL ELSE g::bigint END AS v_int,
         CASE WHEN abs(hashint4(g + 13)) % 100 < :nulls THEN NULL ELSE md5(g::text) END AS v_text
    FROM generate_series(1, :rows) g;
VACUUM ANALYZE lv;
SQL
	groups=$(psql_q -At -c "SELECT count(DISTINCT k) FROM lv")
	echo
	echo "$rows rows, $groups groups, $nulls% null values, work_mem $wm, parallel $PARALLEL, median of $RUNS runs"
	echo
	echo "| query | value | plan | ms | ratio to last() |"
	echo "|---|---|---|---|---|"
	for col in v_int v_text; do
		declare -A ms=() ratios=() plan=()
		for name in "${order[@]}"; do
			sql="SELECT count(x) FROM (SELECT k, $(printf "${q[$name]}" "$col") FROM lv GROUP BY k) s(k, x)"
			plan[$name]=$(plan_of "$wm" "$sql")	# also warms up
		done
		for _ in $(seq 1 "$RUNS"); do
			declare -A t=()
			for name in "${order[@]}"; do
				sql="SELECT count(x) FROM (SELECT k, $(printf "${q[$name]}" "$col") FROM lv GROUP BY k) s(k, x)"
				t[$name]=$(timed "$wm" "$sql")
				ms[$name]+=" ${t[$name]}"
			done
			for name in "${order[@]}"; do
				ratios[$name]+=" $(awk -v a="${t[$name]}" -v b="${t[last]}" 'BEGIN {printf "%.3f", a / b}')"
			done
		done
		for name in "${order[@]}"; do
			# shellcheck disable=SC2086
			echo "| \`$(printf "${q[$name]}" v)\` | $col | ${plan[$name]} | $(median ${ms[$name]} | awk '{printf "%.0f", $1}') | $(median ${ratios[$name]} | awk '{printf "%.2f", $1}') |"
		done
	done
done
