#!/usr/bin/env bash
# The write path of a design not built: events as insert-only deltas,
# merged into the state when read or by maintenance (issue "write what the
# work needs").  Measures what such a design would cost an ingesting
# statement at best, against the bare table and today's triggers, in one
# run, single-row and (page views) COPY:
#   bare   - a copy of the event table, no trigger, no index
#   index  - the copy with the btree index a reader would merge by
#            (orders: user and time; page views: account and time); no trigger
#   brin   - page views: the copy with a BRIN index on ingest_seq (a reader
#            scans the unmerged tail); no trigger
#   brin+trigger - brin with an AFTER INSERT statement trigger that has a
#            transition table and does nothing (PL/pgSQL): the least the
#            trigger that still validates every event would add
#   (the tail folded from the ingest path: fold_design.sh)
#   tail   - page views: the bare insert plus a copy of the event in a
#            separate tail table keyed by account (one statement, a CTE):
#            what a trigger writing small statements to a tail would add
#   ours   - the event table with insure_stream's triggers
# and the reads such a design would pay: one account's last page and all
# accounts' last pages merged from page_state and a tail of events
# (prototype query; ties and values' own times left out), and one
# account's events found in a BRIN-indexed tail.
# Uses the server in the PG* environment variables.
# Knobs: USERS (200000), ACCOUNTS (500000), RUNS (5), SECS (10), CLIENTS ("1 8"),
#        COPY_ROWS (1000000)
set -euo pipefail
cd "$(dirname "$0")"
USERS=${USERS:-200000}
ACCOUNTS=${ACCOUNTS:-500000}
RUNS=${RUNS:-5}
SECS=${SECS:-10}
CLIENTS=${CLIENTS:-1 8}
COPY_ROWS=${COPY_ROWS:-1000000}
DB=${BENCH_DB:-bench_delta}
T=/tmp/insure_stream_bench.$$
ROLE=bench_delta_ingest
export PGDATABASE=$DB
. ./lib.sh

fresh_db_with_ingest_role "$ROLE"
psql_q -v role="$ROLE" <<'SQL'
CREATE TABLE bare_order (LIKE insure_stream.user_order INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE delta_order (LIKE insure_stream.user_order INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON delta_order (id, gmt_modified, ingest_seq);
CREATE TABLE bare_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE delta_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON delta_log (account_id, log_time, ingest_seq);
CREATE TABLE brin_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON brin_log USING brin (ingest_seq);
CREATE TABLE brin_trig_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON brin_trig_log USING brin (ingest_seq);
CREATE FUNCTION do_nothing() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE TRIGGER do_nothing AFTER INSERT ON brin_trig_log REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION do_nothing();
CREATE TABLE tail_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE page_tail (account_id varchar, ingest_seq bigint, log_time bigint, device_id varchar,
						bury_point_type varchar, page_name varchar);
CREATE INDEX ON page_tail (account_id, ingest_seq);
GRANT INSERT ON bare_order, delta_order, bare_log, delta_log, brin_log, brin_trig_log, tail_log, page_tail TO :"role";
GRANT SELECT ON tail_log TO :"role";
SQL
hour0=$(psql_q -Atc "SELECT (extract(epoch FROM date_trunc('hour', now())) * 1000)::bigint")
for t in bare_order delta_order insure_stream.user_order; do
	cat > "$T.$t.sql" <<SQL
\set uid random(1, $USERS)
\set off random(0, 3599999)
\set amt random(1, 100000)
INSERT INTO $t (id, order_no, customer_tel, gmt_modified, account_payble) VALUES (:uid, 'PB' || :off, '139' || :uid, $hour0 + :off, :amt / 100.0);
SQL
done
for t in bare_log delta_log brin_log brin_trig_log insure_stream.user_log; do
	cat > "$T.$t.sql" <<SQL
\set a random(1, $ACCOUNTS)
\set t random(1, 86400000)
INSERT INTO $t (log_time, device_id, account_id, bury_point_type, page_name) VALUES (1795572000000 + :t, 'dev', 'acc' || :a, 'view', 'p' || :t);
SQL
done
cat > "$T.tail_log.sql" <<SQL
\set a random(1, $ACCOUNTS)
\set t random(1, 86400000)
WITH e AS (INSERT INTO tail_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES (1795572000000 + :t, 'dev', 'acc' || :a, 'view', 'p' || :t) RETURNING *)
INSERT INTO page_tail SELECT account_id, ingest_seq, log_time, device_id, bury_point_type, page_name FROM e;
SQL
tps() { PGOPTIONS="-c role=$ROLE" pgbench_tps "$@"; }
declare -A r
targets="bare_order delta_order insure_stream.user_order bare_log delta_log brin_log brin_trig_log tail_log insure_stream.user_log"
for run in $(seq 1 "$RUNS"); do
	psql_q -c CHECKPOINT
	for c in $CLIENTS; do
		for t in $targets; do
			r[$t.$c]+=" $(tps "$c" "$T.$t.sql" "$t.$c")"
		done
	done
	echo "run $run done"
done

echo
echo "| single-row, $RUNS runs of ${SECS} s, medians of the runs' own ratios | clients | bare tps | index / bare | brin / bare | brin+trigger / bare | tail / bare | ours / bare | WAL bytes a statement, bare / index / brin / tail / ours |"
echo "|---|---|---|---|---|---|---|---|---|"
for s in order log; do
	for c in $CLIENTS; do
		b=${r[bare_$s.$c]}
		if [ $s = order ]; then
			echo "| orders | $c | $(median $b) | $(pair_ratio "${r[delta_order.$c]}" "$b")x | | | | $(pair_ratio "${r[insure_stream.user_order.$c]}" "$b")x | $(wal_of bare_order.$c) / $(wal_of delta_order.$c) / / / $(wal_of insure_stream.user_order.$c) |"
		else
			echo "| page views | $c | $(median $b) | $(pair_ratio "${r[delta_log.$c]}" "$b")x | $(pair_ratio "${r[brin_log.$c]}" "$b")x | $(pair_ratio "${r[brin_trig_log.$c]}" "$b")x | $(pair_ratio "${r[tail_log.$c]}" "$b")x | $(pair_ratio "${r[insure_stream.user_log.$c]}" "$b")x | $(wal_of bare_log.$c) / $(wal_of delta_log.$c) / $(wal_of brin_log.$c) / $(wal_of tail_log.$c) / $(wal_of insure_stream.user_log.$c) |"
		fi
	done
done

# reads: page_state as maintenance would leave it (all of user_log folded),
# plus a tail of the delta table's events not folded yet
psql_q <<'SQL'
CREATE VIEW delta_last_log AS
SELECT DISTINCT ON (p.account_id) p.account_id, p.device_id, p.bury_point_type, p.page_name
  FROM (SELECT u.account_id, u.device_key, max(u.device_id) AS device_id, max(u.log_time) AS log_time,
			   insure_stream.last_value(u.bury_point_type, u.log_time) AS bury_point_type,
			   insure_stream.last_value(u.page_name, u.log_time) AS page_name
		  FROM (SELECT s.account_id, s.device_key, s.device_id, s.log_time, s.bury_point_type, s.page_name
				  FROM insure_stream.page_state s
				UNION ALL
				SELECT l.account_id, CASE WHEN l.device_id IS NULL THEN 'n' ELSE 'd' || l.device_id END,
					   l.device_id, l.log_time, l.bury_point_type, l.page_name
				  FROM delta_log l
				 WHERE l.account_id IS NOT NULL AND l.log_time IS NOT NULL) u
		 GROUP BY u.account_id, u.device_key) p
 ORDER BY p.account_id, p.log_time DESC;
VACUUM ANALYZE insure_stream.page_state, delta_log;
SQL
tail_rows=$(psql_q -Atc "SELECT count(*) FROM delta_log")
state_rows=$(psql_q -Atc "SELECT count(*) FROM insure_stream.page_state")
one() {	# view: median ms of 200 reads of one random account each
	local ms=()
	for i in 1 2 3; do
		ms+=("$(timed "SELECT count(*) FROM (SELECT (SELECT v.page_name FROM $1 v WHERE v.account_id = 'acc' || (1 + g * 7919 % $ACCOUNTS)) FROM generate_series(1, 200) g) x")")
	done
	awk -v m="$(median "${ms[@]}")" 'BEGIN {printf "%.3f", m / 200}'
}
all() { local ms=(); for i in 1 2 3; do ms+=("$(timed "SELECT count(*) FROM $1")"); done; median "${ms[@]}"; }
echo
echo "| read ($state_rows state rows, tail of $tail_rows events) | today's view | delta design (state + tail) |"
echo "|---|---|---|"
echo "| one account, ms | $(one insure_stream.user_last_log) | $(one delta_last_log) |"
echo "| all accounts, ms | $(all insure_stream.user_last_log) | $(all delta_last_log) |"
# COPY of page views into empty tables (ours: into an emptied user_log and
# page_state, after the reads above used what the single-row runs left)
psql_q -c "COPY (SELECT 1795572000000 + abs(hashint4(g)) % 86400000, 'dev' || (abs(hashint4(g + 1)) % 3),
				'acc' || (abs(hashint4(g + 2)) % $ACCOUNTS), 'view', 'p' || g
		   FROM generate_series(1, $COPY_ROWS) g) TO '$T.log.csv' WITH (FORMAT csv)"
psql_q <<'SQL'
CREATE TABLE copy_bare (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE copy_index (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON copy_index (account_id, log_time, ingest_seq);
CREATE TABLE copy_brin (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON copy_brin USING brin (ingest_seq);
SQL
declare -A cp
for run in 1 2 3; do
	for t in copy_bare copy_index copy_brin ours; do
		if [ $t = ours ]; then
			psql_q -c "TRUNCATE insure_stream.user_log, insure_stream.page_state" -c CHECKPOINT
			cp[$t]+=" $(timed "COPY insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) FROM '$T.log.csv' WITH (FORMAT csv)")"
		else
			psql_q -c "TRUNCATE $t" -c CHECKPOINT
			cp[$t]+=" $(timed "COPY $t (log_time, device_id, account_id, bury_point_type, page_name) FROM '$T.log.csv' WITH (FORMAT csv)")"
		fi
	done
done
echo
echo "| COPY of $COPY_ROWS page views into empty tables, 3 runs | bare | index | brin | ours |"
echo "|---|---|---|---|---|"
echo "| ms (medians) | $(median ${cp[copy_bare]}) | $(median ${cp[copy_index]}) | $(median ${cp[copy_brin]}) | $(median ${cp[ours]}) |"
echo "| ratio to bare (runs' own) | 1 | $(pair_ratio "${cp[copy_index]}" "${cp[copy_bare]}")x | $(pair_ratio "${cp[copy_brin]}" "${cp[copy_bare]}")x | $(pair_ratio "${cp[ours]}" "${cp[copy_bare]}")x |"

# one account's events in the last N events of a BRIN-indexed log (the
# copy_brin load above): what a read merging a tail without a btree scans
brin_max=$(psql_q -Atc "SELECT max(ingest_seq) FROM copy_brin")
psql_q -c "VACUUM ANALYZE copy_brin"
echo
echo "| one account's events in a BRIN-indexed tail of | 10,000 events | 100,000 events |"
echo "|---|---|---|"
brin_ms() {	# tail size: median of 3 batches of 20 one-account reads, ms a read
	local ms=()
	for i in 1 2 3; do
		ms+=("$(timed "SELECT sum(c) FROM (SELECT (SELECT count(*) FROM copy_brin WHERE ingest_seq > $brin_max - $1 AND account_id = 'acc' || (g * 7919 % $ACCOUNTS)) AS c FROM generate_series(1, 20) g) x")")
	done
	awk -v m="$(median "${ms[@]}")" 'BEGIN {printf "%.2f", m / 20}'
}
echo "| ms a read | $(brin_ms 10000) | $(brin_ms 100000) |"
rm -f "$T".*
