# Helpers shared by the benchmarks (sourced; the scripts cd into bench/).
psql_q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
now_ns() { date +%s%N; }
# time one SQL command in ms; a failed command ends the benchmark (a
# figure of a statement that failed would be meaningless)
timed() {
	local t0 t1
	t0=$(now_ns)
	psql_q -c "$1" >/dev/null || { echo "benchmark statement failed: $1" >&2; kill -TERM $$; exit 1; }
	t1=$(now_ns)
	echo $(((t1 - t0) / 1000000))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# the median of the runs' own ratios: two lists of figures (space-separated),
# a run's at the same place in both; steadier than a ratio of medians on a
# shared machine, where a run's two figures share its load
pair_ratio() {
	paste -d' ' <(printf '%s\n' $1) <(printf '%s\n' $2) | awk '{printf "%.3f\n", $1 / $2}' |
		sort -g | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'
}
# timed_wal LABEL SQL ROWS: timed, prefixed by $AS (e.g. SET ROLE); the
# WAL bytes per row it wrote go to $T.wal, read back by wal_of LABEL
timed_wal() {
	local l0 ms
	l0=$(psql_q -Atc "SELECT pg_current_wal_insert_lsn()")
	ms=$(timed "${AS:-} $2")
	psql_q -Atc "SELECT '$1 ' || round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$l0') / $3)" >> "$T.wal"
	echo "$ms"
}
wal_of() { median $(awk -v l="$1" '$1 == l {print $2}' "$T.wal"); }

# table src: ROWS orders of USERS users over today's 24 hours (Asia/Shanghai),
# 10% nulls per column; the data of the Scenario 1 benchmarks
make_order_source() {	# rows users [table, default src]
	psql_q -v rows="$1" -v users="$2" -v tab="${3:-src}" <<'SQL'
SELECT (extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai') AT TIME ZONE 'Asia/Shanghai') * 1000)::bigint AS day0 \gset
CREATE TABLE :tab AS
SELECT u.id,
       CASE WHEN random() < 0.1 THEN NULL ELSE 'PO' || g END AS order_no,
       CASE WHEN random() < 0.1 THEN NULL ELSE '138' || lpad(u.id::text, 8, '0') END AS customer_tel,
       :day0 + (random() * 86399999)::bigint AS gmt_modified,
       CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 1000)::numeric, 2)::float8 END AS account_payble
  FROM generate_series(1, :rows) g,
       LATERAL (SELECT (random() * (:users - 1))::bigint + 1 + g * 0 AS id) u;
SQL
}

# Single-row floors (floor.sh, floor_events.sh): scripts $T.s_{bare,floor,ext}_<name>.sql
# run with 1 and 8 clients, each with pgbench's simple protocol (a statement
# parsed and planned every time, pgbench's default) and prepared statements
# (as drivers send repeated INSERTs).  SECS seconds each; tps in FLOOR_TPS.
declare -A FLOOR_TPS
single_row_runs() {	# name...
	local name c m s
	for name in "$@"; do
		for c in 1 8; do
			for m in simple prepared; do
				for s in bare floor ext; do
					FLOOR_TPS[$name.$c.$m.$s]+=" $(pgbench -n -M "$m" -c "$c" -j "$c" -T "$SECS" \
						-f "$T.s_${s}_$name.sql" 2>/dev/null | awk '/^tps/ {printf "%d", $3}')"
				done
			done
		done
	done
}
# table rows of the medians: label, name
single_row_table() {
	local c m b f e
	for c in 1 8; do
		for m in simple prepared; do
			b=$(median ${FLOOR_TPS[$2.$c.$m.bare]})
			f=$(median ${FLOOR_TPS[$2.$c.$m.floor]})
			e=$(median ${FLOOR_TPS[$2.$c.$m.ext]})
			echo "| $1, $c client(s), $m | $b tps | $f tps | $e tps | $(ratio "$f" "$b")x tps | $(ratio "$e" "$b")x tps |"
		done
	done
}

# The bulk loads of a floor benchmark, RUNS times: the source table
# BULK_SRC loaded by INSERT ... SELECT and from its file BULK_CSV by COPY
# (columns BULK_COLS), each into the bare table, into the floor's event
# table followed by the floor's FLOOR_STATE, and into the extension's
# table, after reset_all.  Times in ms go to BULK[insert|copy.bare|floor|ext].
declare -A BULK
bulk_load_sql() {	# insert|copy table
	if [ "$1" = insert ]; then
		echo "INSERT INTO $2 ($BULK_COLS) SELECT $BULK_COLS FROM $BULK_SRC"
	else
		echo "COPY $2 ($BULK_COLS) FROM '$BULK_CSV' WITH (FORMAT csv)"
	fi
}
bulk_floor_runs() {	# bare_table floor_event_table extension_table
	local run how
	psql_q -c "COPY $BULK_SRC ($BULK_COLS) TO '$BULK_CSV' WITH (FORMAT csv)"
	for run in $(seq 1 "$RUNS"); do
		for how in insert copy; do
			reset_all
			BULK[$how.bare]+=" $(timed "$(bulk_load_sql $how "$1")")"
			BULK[$how.floor]+=" $(timed "BEGIN; $(bulk_load_sql $how "$2"); $FLOOR_STATE COMMIT;")"
			BULK[$how.ext]+=" $(timed "$(bulk_load_sql $how "$3")")"
		done
		echo "run $run:$(for how in insert copy; do printf ' %s bare %s ms, floor %s ms, insure_stream %s ms;' \
			"$how" "${BULK[$how.bare]##* }" "${BULK[$how.floor]##* }" "${BULK[$how.ext]##* }"; done)"
	done
	rm -f "$BULK_CSV"
}
bulk_floor_table() {	# what was loaded, e.g. "1000000 orders": table rows of the medians
	local how b f e
	for how in insert copy; do
		b=$(median ${BULK[$how.bare]})
		f=$(median ${BULK[$how.floor]})
		e=$(median ${BULK[$how.ext]})
		echo "| $([ $how = insert ] && echo "INSERT ... SELECT" || echo COPY) of $1 | $b ms | $f ms | $e ms |" \
			"$(ratio "$f" "$b")x time | $(ratio "$e" "$b")x time |"
	done
}

# a fresh, empty benchmark database: $PGDATABASE
fresh_db() { dropdb --if-exists --force "$PGDATABASE" 2>/dev/null || true; createdb "$PGDATABASE"; }
# fresh_db with the extension (time zone Asia/Shanghai) and an ingest role
# named $1 (grant_ingest), as which the single-row statements run
fresh_db_with_ingest_role() {
	fresh_db
	psql_q -v role="$1" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
DROP ROLE IF EXISTS :"role";
CREATE ROLE :"role";
SELECT insure_stream.grant_ingest(:'role');
SQL
}
# pgbench_checked ROLE CLIENTS SCRIPT: pgbench's output, SECS seconds as
# ROLE; a run that failed or aborted a transaction ends the benchmark (a
# figure of statements that failed would be meaningless)
pgbench_checked() {
	local out
	out=$(PGOPTIONS="-c role=$1" pgbench -n -c "$2" -j "$2" -T "$SECS" -f "$3" 2>&1) || true
	if ! grep -q '^tps' <<<"$out" || grep -q 'aborted' <<<"$out"; then
		echo "pgbench failed on $3: $(grep -m3 -i 'error\|abort' <<<"$out")" >&2
		kill -TERM $$; exit 1
	fi
	printf '%s\n' "$out"
}
# pgbench tps: clients script [label] (SECS seconds); with a label, the WAL
# bytes per transaction go to $T.wal as for timed_wal
pgbench_tps() {
	local l0 out
	l0=$(psql_q -Atc "SELECT pg_current_wal_insert_lsn()")
	out=$(pgbench -n -c "$1" -j "$1" -T "$SECS" -f "$2" 2>&1) || true
	[ -n "${3:-}" ] && wal_per_txn "$3" "$l0" "$out"
	awk '/^tps/ {printf "%d", $3}' <<<"$out"
}
# wal_per_txn LABEL START-LSN PGBENCH-OUTPUT: WAL bytes per transaction since START-LSN
wal_per_txn() {
	local n
	n=$(awk '/number of transactions actually processed/ {split($NF, a, "/"); print a[1]}' <<<"$3")
	[ -n "$n" ] && [ "$n" -gt 0 ] &&
		psql_q -Atc "SELECT '$1 ' || round(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '$2') / $n)" >> "$T.wal"
	return 0
}
