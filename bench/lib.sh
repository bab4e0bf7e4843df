# Helpers shared by the benchmarks (sourced; the scripts cd into bench/).
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
now_ns() { date +%s%N; }
# time one SQL command in ms
timed() {
	local t0 t1
	t0=$(now_ns)
	psql_q -c "$1" >/dev/null
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
