#!/usr/bin/env bash
# Single-row orders and page views in two shapes of key, against a bare
# copy of the event table (no trigger) in one run:
#   new      - every round starts on empty tables, as the single-row runs
#              of orders.sh and events.sh do: nearly every event creates
#              its key's state row (user and day; account and device)
#   existing - every key has its state first (PRELOAD_ORDERS orders of
#              USERS users today, PRELOAD_VIEWS views of ACCOUNTS accounts
#              on three devices, loaded into the bare tables too): every
#              event merges into a stored row, and changes it when it is
#              the key's latest
# 1 and 8 clients, each round after a CHECKPOINT by default (a state
# page's first write after it carries a full-page image; the bare tables
# only append).
# WAL bytes per statement beside each figure; for the last round's
# 1-client runs also the WAL records per statement (pg_waldump --stats),
# when the server's WAL directory can be read.
# Uses the server in the PG* environment variables.
# Knobs: USERS (200000), ACCOUNTS (500000), PRELOAD_ORDERS (1000000),
#        PRELOAD_VIEWS (3000000), RUNS (5), SECS (10), SHAPES ("new existing"),
#        CHECKPOINT_EACH_RUN (1; 0 leaves checkpoints to the server's
#        checkpoint_timeout and max_wal_size, so that a state page carries a
#        full-page image once per checkpoint, as in production, not once per run)
set -euo pipefail
cd "$(dirname "$0")"
USERS=${USERS:-200000}
ACCOUNTS=${ACCOUNTS:-500000}
PRELOAD_ORDERS=${PRELOAD_ORDERS:-1000000}
PRELOAD_VIEWS=${PRELOAD_VIEWS:-3000000}
RUNS=${RUNS:-5}
SECS=${SECS:-10}
SHAPES=${SHAPES:-new existing}
CHECKPOINT_EACH_RUN=${CHECKPOINT_EACH_RUN:-1}
DB=${BENCH_DB:-bench_shapes}
T=/tmp/insure_stream_bench.$$
ROLE=bench_shapes_ingest
export PGDATABASE=$DB
. ./lib.sh
trap 'rm -f "$T".*' EXIT

fresh_db_with_ingest_role "$ROLE"
psql_q -v role="$ROLE" <<'SQL'
CREATE TABLE bare_order (LIKE insure_stream.user_order INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE bare_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
GRANT INSERT ON bare_order, bare_log TO :"role";
SQL
make_order_source "$PRELOAD_ORDERS" "$USERS"

OCOLS="id, order_no, customer_tel, gmt_modified, account_payble"
LCOLS="log_time, device_id, account_id, bury_point_type, page_name"
hour0=$(psql_q -Atc "SELECT (extract(epoch FROM date_trunc('hour', now())) * 1000)::bigint")
order_script() {	# table
	cat <<SQL
\\set uid random(1, $USERS)
\\set off random(0, 3599999)
\\set amt random(1, 100000)
INSERT INTO $1 ($OCOLS) VALUES (:uid, 'PB' || :off, '139' || :uid, $hour0 + :off, :amt / 100.0);
SQL
}
log_script() {	# table
	cat <<SQL
\\set a random(1, $ACCOUNTS)
\\set d random(0, 2)
\\set t random(1, 86400000)
INSERT INTO $1 ($LCOLS) VALUES (1795572000000 + :t, 'dev' || :d, 'acc' || :a, 'view', 'p' || :t);
SQL
}
order_script bare_order > "$T.bare_order.sql"
order_script insure_stream.user_order > "$T.ext_order.sql"
log_script bare_log > "$T.bare_log.sql"
log_script insure_stream.user_log > "$T.ext_log.sql"

empty_all() {
	psql_q -c "TRUNCATE bare_order, bare_log, insure_stream.user_order, insure_stream.order_state,
		insure_stream.user_log, insure_stream.page_state" >/dev/null
}
preload() {
	empty_all
	psql_q >/dev/null <<SQL
INSERT INTO bare_order ($OCOLS) SELECT $OCOLS FROM src;
INSERT INTO insure_stream.user_order ($OCOLS) SELECT $OCOLS FROM src;
INSERT INTO bare_log ($LCOLS)
SELECT 1795572000000 + abs(hashint4(g)) % 86400000, 'dev' || (abs(hashint4(g + 1)) % 3),
       'acc' || (1 + abs(hashint4(g + 2)) % $ACCOUNTS),
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'view' END, 'page' || (g % 1000)
  FROM generate_series(1, $PRELOAD_VIEWS) g;
INSERT INTO insure_stream.user_log ($LCOLS) SELECT $LCOLS FROM bare_log;
VACUUM ANALYZE bare_order, bare_log, insure_stream.user_order, insure_stream.order_state,
	insure_stream.user_log, insure_stream.page_state;
SQL
}

PATH=$PATH:$(pg_config --bindir 2>/dev/null || true)	# pg_waldump
WALDIR=$(psql_q -Atc "SELECT setting || '/pg_wal' FROM pg_settings WHERE name = 'data_directory'" 2>/dev/null || true)
# records: label start-lsn statements: WAL records and bytes per statement by kind
records() {
	local end
	[ -n "$WALDIR" ] && [ -r "$WALDIR" ] && command -v pg_waldump >/dev/null || return 0
	end=$(psql_q -Atc "SELECT pg_current_wal_insert_lsn()")
	echo "-- $1: WAL records per statement (kind, records, bytes, of which full-page images)"
	pg_waldump -p "$WALDIR" -s "$2" -e "$end" --stats=record 2>/dev/null | sed 's/([^)]*)//g' |
		awk -v n="$3" 'NR > 2 && $1 != "Total" && $2 > 0 {printf "   %-22s %5.2f %7.1f B %7.1f B\n", $1, $2 / n, $5 / n, $4 / n}' |
		sort -k3 -nr | head -6
}
declare -A R
run_one() {	# shape clients side workload [last]
	local l0 out n
	l0=$(psql_q -Atc "SELECT pg_current_wal_insert_lsn()")
	out=$(pgbench_checked "$ROLE" "$2" "$T.$3_$4.sql")
	wal_per_txn "$1.$2.$3.$4" "$l0" "$out"
	R[$1.$2.$3.$4]+=" $(awk '/^tps/ {printf "%d", $3}' <<<"$out")"
	n=$(awk '/number of transactions actually processed/ {split($NF, a, "/"); print a[1]}' <<<"$out")
	[ -n "${5:-}" ] && [ "$2" = 1 ] && records "$4, $1 keys, $3, 1 client" "$l0" "$n" >> "$T.records"
	return 0
}

for shape in $SHAPES; do
	[ "$shape" = existing ] && preload
	for run in $(seq 1 "$RUNS"); do
		[ "$shape" = new ] && empty_all
		[ "$CHECKPOINT_EACH_RUN" = 1 ] && psql_q -c "CHECKPOINT" >/dev/null
		last=""; [ "$run" = "$RUNS" ] && last=1
		for w in order log; do
			for c in 1 8; do
				for side in bare ext; do run_one "$shape" "$c" "$side" "$w" "$last"; done
			done
		done
		echo "$shape keys, run $run:$(for w in order log; do for c in 1 8; do
			printf ' %s %s clients bare %s ext %s;' "$w" "$c" "${R[$shape.$c.bare.$w]##* }" "${R[$shape.$c.ext.$w]##* }"; done; done)"
	done
done
psql_q -Atc "SELECT 'verify() differences: ' || count(*) FROM insure_stream.verify()"

echo
echo "| single-row ($RUNS runs, medians) | keys | clients | bare tps | insure_stream tps | ratio (runs' own) | target | WAL bytes per statement, bare / insure_stream |"
echo "|---|---|---|---|---|---|---|---|"
for w in order log; do
	for shape in $SHAPES; do
		for c in 1 8; do
			b=${R[$shape.$c.bare.$w]} e=${R[$shape.$c.ext.$w]}
			case $w.$c in order.1) target=">= 0.85x" ;; order.8) target=">= 0.8x" ;; *) target=">= 0.85x" ;; esac
			echo "| $([ $w = order ] && echo orders || echo 'page views') | $shape | $c | $(median $b) | $(median $e) | $(ratio "$(median $e)" "$(median $b)")x ($(pair_ratio "$e" "$b")x) | $target | $(wal_of "$shape.$c.bare.$w") / $(wal_of "$shape.$c.ext.$w") |"
		done
	done
done
[ -s "$T.records" ] && { echo; cat "$T.records"; }
exit 0
