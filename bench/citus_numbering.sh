#!/usr/bin/env bash
# What numbering rows on the shards costs (src/arrival.c): COPY of ROWS
# orders (default 500000, USERS users) through a Citus coordinator, RUNS
# times each (medians; ratios per run, against the run's own baseline), with number_on_shard() as installed (runs as the
# inserting role, sets up once per statement), as it would be SECURITY
# DEFINER with SET search_path (a GUC save and restore per row), and with
# the trigger disabled (the coordinator's numbers kept: the baseline).
# Usage: COORD="-h /tmp -p 5701 -d app" bash bench/citus_numbering.sh
# (insure_stream installed and distributed; run as a superuser).
set -euo pipefail
ROWS=${ROWS:-500000}
USERS=${USERS:-100000}
RUNS=${RUNS:-3}
CSV=${CSV:-/tmp/insure_stream_numbering.csv}
q() { psql $COORD -U "${PGUSER:-postgres}" -X -qAt -v ON_ERROR_STOP=1 "$@"; }
ms() { q -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
on_nodes() { q -c "SELECT count(*) FROM run_command_on_all_nodes(\$cmd\$$1\$cmd\$)" >/dev/null; }
q -c "COPY (SELECT g % $USERS, 'PO' || g, '139' || (g % 30000),
		(extract(epoch FROM now()) * 1000)::bigint - g % 3600000, (g % 1000) / 10.0
	  FROM generate_series(1, $ROWS) g) TO '$CSV' WITH (FORMAT csv)"
copy="COPY insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) FROM '$CSV' WITH (FORMAT csv)"
variant() {
	case $1 in
	invoker) on_nodes "ALTER FUNCTION insure_stream.number_on_shard() SECURITY INVOKER RESET ALL" ;;
	definer) on_nodes "ALTER FUNCTION insure_stream.number_on_shard() SECURITY DEFINER SET search_path = pg_catalog, pg_temp" ;;
	off) ;;
	esac
	[ "$1" = off ] && q -c "SET citus.enable_unsafe_triggers = on" -c "ALTER TABLE insure_stream.user_order DISABLE TRIGGER number_on_shard" >/dev/null
	q -c "TRUNCATE insure_stream.user_order, insure_stream.order_state" >/dev/null
	ms "$copy"
	[ "$1" = off ] && q -c "SET citus.enable_unsafe_triggers = on" -c "ALTER TABLE insure_stream.user_order ENABLE TRIGGER number_on_shard" >/dev/null
	return 0
}
declare -A t
declare -a r_inv r_def
for run in $(seq 1 "$RUNS"); do
	for v in off invoker definer; do
		t[$v]+=" $(variant $v)"
	done
	o=${t[off]##* } i=${t[invoker]##* } d=${t[definer]##* }
	r_inv+=("$(awk -v a="$i" -v b="$o" 'BEGIN {printf "%.3f", a / b}')")
	r_def+=("$(awk -v a="$d" -v b="$o" 'BEGIN {printf "%.3f", a / b}')")
	echo "run $run: off $o, as installed $i (${r_inv[-1]}x), SECURITY DEFINER $d (${r_def[-1]}x) ms"
done
on_nodes "ALTER FUNCTION insure_stream.number_on_shard() SECURITY INVOKER RESET ALL"
echo
echo "| COPY of $ROWS orders through the coordinator ($RUNS runs) | median ms | median of the runs' ratios to no numbering |"
echo "|---|---|---|"
echo "| number_on_shard() disabled (the coordinator's numbers) | $(median ${t[off]}) | 1.00x |"
echo "| number_on_shard() as installed | $(median ${t[invoker]}) | $(median "${r_inv[@]}")x |"
echo "| number_on_shard() SECURITY DEFINER with SET search_path | $(median ${t[definer]}) | $(median "${r_def[@]}")x |"
