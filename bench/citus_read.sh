#!/usr/bin/env bash
# Reading hs_order on a Citus coordinator against one server: one open day
# of USERS users (default 1000000) ingested into both, then the read of
# the whole day and of one hour (the view filtered, and hs_order_hours())
# timed RUNS times (medians).  Also the
# ingest time of the day, through the coordinator and into one server,
# and what verify() and rebuild() take over that day (on the cluster they
# copy the tables to the coordinator first).
# Usage: PLAIN="-h /tmp -p 5499" COORD="-h /tmp -p 5601" bash bench/citus_read.sh
# (both with insure_stream installed, the coordinator after distribute()).
set -euo pipefail
USERS=${USERS:-1000000}
RUNS=${RUNS:-3}
OPS=${OPS:-1}	# 0: skip verify() and rebuild()
q() { local conn=$1; shift; psql $conn -U "${PGUSER:-postgres}" -X -qAt -v ON_ERROR_STOP=1 "$@"; }
ms() { local conn=$1 sql=$2; q "$conn" -c '\timing on' -c "$sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }
identical() {
	diff <(q "$PLAIN" -c "SELECT * FROM insure_stream.hs_order ORDER BY 1") \
		<(q "$COORD" -c "SELECT * FROM insure_stream.hs_order ORDER BY 1") >/dev/null && echo yes || echo no
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
load="INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT g, 'PO' || (g % 700000), '139' || lpad((g % 300000)::text, 8, '0'),
		   (extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai') * 1000)::bigint
		   + (g::bigint * 7919) % 86000000, (g % 1000) / 10.0
	  FROM generate_series(1, $USERS) g"
echo "| | one server | Citus coordinator |"
echo "|---|---|---|"
declare -A load_ms
for side in PLAIN COORD; do
	conn=${!side}
	q "$conn" -c "TRUNCATE insure_stream.user_order, insure_stream.order_state" >/dev/null
	load_ms[$side]=$(ms "$conn" "$load")
	q "$conn" -c "ANALYZE insure_stream.order_state" >/dev/null
done
echo "| ingest of $USERS orders (INSERT ... SELECT), ms | ${load_ms[PLAIN]} | ${load_ms[COORD]} |"
hour=$(q "$PLAIN" -c "SELECT min(biz_date) FROM insure_stream.order_state")
for what in day hour hs_order_hours; do
	declare -A med
	for side in PLAIN COORD; do
		conn=${!side}
		t=()
		for run in $(seq 1 "$RUNS"); do
			if [ $what = day ]; then
				t+=("$(ms "$conn" "SELECT count(*) FROM (SELECT * FROM insure_stream.hs_order) h")")
			elif [ $what = hour ]; then
				t+=("$(ms "$conn" "SELECT * FROM insure_stream.hs_order WHERE biz_date = '$hour'")")
			else
				t+=("$(ms "$conn" "SELECT * FROM insure_stream.hs_order_hours('$hour')")")
			fi
		done
		med[$side]=$(median "${t[@]}")
	done
	echo "| read hs_order, $what, ms (median of $RUNS) | ${med[PLAIN]} | ${med[COORD]} |"
done
echo "| hs_order identical | $(identical) | |"
[ "$OPS" = 1 ] || exit 0
for op in "SELECT count(*) FROM insure_stream.verify()" "SELECT insure_stream.rebuild()"; do
	declare -A med
	for side in PLAIN COORD; do
		conn=${!side}
		t=()
		for run in $(seq 1 "$RUNS"); do
			t+=("$(ms "$conn" "$op")")
		done
		med[$side]=$(median "${t[@]}")
	done
	echo "| \`$op\`, ms (median of $RUNS) | ${med[PLAIN]} | ${med[COORD]} |"
done
echo "| hs_order identical after rebuild() | $(identical) | |"
