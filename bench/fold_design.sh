#!/usr/bin/env bash
# The fold of a design not built (events as deltas, docs/design.md): what
# folding the tail in the ingest path, or beside it, costs single-row page
# views, when a session skips the fold while another one folds, and when
# the fold runs at the bulk path's speed.  Against the bare table, in one
# run:
#   bare     - a copy of user_log, no trigger, no index
#   trigger  - the copy with a BRIN index on ingest_seq and an AFTER INSERT
#              statement trigger with a transition table that does nothing
#              (PL/pgSQL): the least the validating trigger would add
#   sqlfold  - trigger, and one statement in FOLD_EVERY folds the tail
#              into a state table by one SQL statement (its pairs merged
#              by INSERT ... ON CONFLICT; ties and values' own times left
#              out), skipped when another session holds the fold's lock
#   bulkfold - trigger, and one statement in FOLD_EVERY folds the tail by
#              the extension's bulk path (INSERT ... SELECT of the tail into
#              insure_stream.user_log, whose triggers merge it into
#              page_state), skipped in the same way: what a C fold would
#              cost at most, since it also copies the events into user_log
#   bgfold   - trigger, and the same bulk fold run every 50 ms by another
#              session, as a background worker would (one the ingest path
#              starts needs no shared_preload_libraries): the fold off the
#              ingest path, on the same two cores
#   ours     - insure_stream.user_log with today's triggers, in a database
#              of its own (bulkfold and bgfold write the first database's
#              user_log)
# The folded tables start with PRELOAD_VIEWS folded views, so that the
# tail is found through the BRIN index of a long table and the fold
# merges into stored pairs.  Each fold here runs in its own transaction
# after the insert (pgbench's \if); in the design it would run in the
# ingesting statement's trigger.  The watermark takes the tail's greatest
# ingest_seq, which can pass over rows of transactions still in flight:
# good enough to measure the cost, not a correct fold.
# Uses the server in the PG* environment variables.
# Knobs: ACCOUNTS (500000), PRELOAD_VIEWS (1000000), FOLD_EVERY (1000),
#        PAGES_PER_RANGE (16, of the BRIN indexes),
#        RUNS (5), SECS (10), CLIENTS ("1 8")
set -euo pipefail
cd "$(dirname "$0")"
ACCOUNTS=${ACCOUNTS:-500000}
PRELOAD_VIEWS=${PRELOAD_VIEWS:-1000000}
FOLD_EVERY=${FOLD_EVERY:-1000}
PAGES_PER_RANGE=${PAGES_PER_RANGE:-16}
RUNS=${RUNS:-5}
SECS=${SECS:-10}
CLIENTS=${CLIENTS:-1 8}
DB=${BENCH_DB:-bench_fold}
T=/tmp/insure_stream_bench.$$
ROLE=bench_fold_ingest
. ./lib.sh
trap 'rm -f "$T".*' EXIT

PGDATABASE=${DB}_ours fresh_db_with_ingest_role "${ROLE}_ours"
export PGDATABASE=$DB
fresh_db_with_ingest_role "$ROLE"
psql_q -v role="$ROLE" -v ppr="$PAGES_PER_RANGE" <<'SQL'
CREATE TABLE bare_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE FUNCTION do_nothing() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
CREATE TABLE trigger_log (LIKE insure_stream.user_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE sqlfold_log (LIKE trigger_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE bulkfold_log (LIKE trigger_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE bgfold_log (LIKE trigger_log INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE INDEX ON trigger_log USING brin (ingest_seq) WITH (pages_per_range = :ppr);
CREATE INDEX sqlfold_tail ON sqlfold_log USING brin (ingest_seq) WITH (pages_per_range = :ppr);
CREATE INDEX bulkfold_tail ON bulkfold_log USING brin (ingest_seq) WITH (pages_per_range = :ppr);
CREATE INDEX bgfold_tail ON bgfold_log USING brin (ingest_seq) WITH (pages_per_range = :ppr);
CREATE TRIGGER do_nothing AFTER INSERT ON trigger_log REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION do_nothing();
CREATE TRIGGER do_nothing AFTER INSERT ON sqlfold_log REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION do_nothing();
CREATE TRIGGER do_nothing AFTER INSERT ON bulkfold_log REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION do_nothing();
CREATE TRIGGER do_nothing AFTER INSERT ON bgfold_log REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION do_nothing();
CREATE TABLE fold_state (account_id varchar, device_key varchar, device_id varchar, log_time bigint,
						 log_seq bigint, bury_point_type varchar, page_name varchar,
						 PRIMARY KEY (account_id, device_key)) WITH (fillfactor = 80);
-- w: the greatest ingest_seq folded; summarized: the BRIN ranges below
-- this block have their summary
CREATE TABLE watermark (tail regclass PRIMARY KEY, w bigint NOT NULL, summarized bigint NOT NULL);
INSERT INTO watermark VALUES ('sqlfold_log', 0, 0), ('bulkfold_log', 0, 0), ('bgfold_log', 0, 0);
GRANT INSERT ON bare_log, trigger_log, sqlfold_log, bulkfold_log, bgfold_log TO :"role";

-- The BRIN ranges the tail has filled since the last fold get their
-- summary, so that the next fold reads only the ranges past them: an
-- unsummarized range is read whole by every scan, and summarizing the
-- range being filled would make every insert into it update its summary.
-- Skipped while another session (autovacuum) summarizes.
CREATE FUNCTION summarize_full_ranges(tail regclass, tail_index regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	ppr int := (SELECT option_value::int FROM pg_class, pg_options_to_table(reloptions)
				 WHERE oid = tail_index AND option_name = 'pages_per_range');
	full_end bigint := pg_relation_size(tail) / current_setting('block_size')::int / ppr * ppr;
	b bigint;
BEGIN
	SELECT summarized INTO b FROM watermark WHERE watermark.tail = summarize_full_ranges.tail;
	IF b >= full_end THEN
		RETURN;
	END IF;
	BEGIN
		EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE NOWAIT', tail);
	EXCEPTION WHEN lock_not_available THEN
		RETURN;
	END;
	WHILE b < full_end LOOP
		PERFORM brin_summarize_range(tail_index, b);
		b := b + ppr;
	END LOOP;
	UPDATE watermark SET summarized = b WHERE watermark.tail = summarize_full_ranges.tail;
END
$$;

-- both folds: skipped while another session folds the same tail; the
-- tail found through the BRIN index, no JIT and no parallel workers for a
-- short statement; SECURITY DEFINER because summarizing a BRIN range
-- takes its owner (in the design, the extension's C code would)
--
-- tail_to_fold: the events of tail to fold now, (w0, w1] of ingest_seq;
-- w1 null when another session folds it or nothing is new
CREATE FUNCTION tail_to_fold(tail regclass, OUT w0 bigint, OUT w1 bigint) LANGUAGE plpgsql AS $$
BEGIN
	IF pg_try_advisory_xact_lock(tail::oid::bigint) THEN
		SELECT w INTO w0 FROM watermark WHERE watermark.tail = tail_to_fold.tail;
		EXECUTE format('SELECT max(ingest_seq) FROM %s WHERE ingest_seq > $1', tail) INTO w1 USING w0;
	END IF;
END
$$;
-- tail_folded: the events up to w1 are in the state
CREATE FUNCTION tail_folded(tail regclass, tail_index regclass, w1 bigint) RETURNS void LANGUAGE sql AS $$
UPDATE watermark SET w = w1 WHERE watermark.tail = tail_folded.tail;
SELECT summarize_full_ranges(tail, tail_index);
$$;
CREATE FUNCTION fold_sql() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = public, pg_temp SET enable_seqscan = off SET jit = off SET max_parallel_workers_per_gather = 0 AS $$
DECLARE
	w0 bigint;
	w1 bigint;
BEGIN
	SELECT * INTO w0, w1 FROM tail_to_fold('sqlfold_log');
	IF w1 IS NULL THEN
		RETURN;
	END IF;
	INSERT INTO fold_state AS s
	SELECT account_id, CASE WHEN device_id IS NULL THEN 'n' ELSE 'd' || device_id END,
		   max(device_id), max(log_time), max(ingest_seq),
		   insure_stream.last_value(bury_point_type, log_time),
		   insure_stream.last_value(page_name, log_time)
	  FROM sqlfold_log
	 WHERE ingest_seq > w0 AND ingest_seq <= w1
	   AND account_id IS NOT NULL AND log_time IS NOT NULL
	 GROUP BY 1, 2
	ON CONFLICT (account_id, device_key) DO UPDATE
	SET device_id = excluded.device_id, log_time = excluded.log_time, log_seq = excluded.log_seq,
		bury_point_type = coalesce(excluded.bury_point_type, s.bury_point_type),
		page_name = coalesce(excluded.page_name, s.page_name)
	WHERE s.log_time < excluded.log_time;
	PERFORM tail_folded('sqlfold_log', 'sqlfold_tail', w1);
END
$$;
CREATE FUNCTION fold_bulk(tail regclass, tail_index regclass) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = public, pg_temp SET enable_seqscan = off SET jit = off SET max_parallel_workers_per_gather = 0 AS $$
DECLARE
	w0 bigint;
	w1 bigint;
BEGIN
	SELECT * INTO w0, w1 FROM tail_to_fold(tail);
	IF w1 IS NULL THEN
		RETURN;
	END IF;
	EXECUTE format('INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
					SELECT log_time, device_id, account_id, bury_point_type, page_name
					  FROM %s WHERE ingest_seq > $1 AND ingest_seq <= $2', tail) USING w0, w1;
	PERFORM tail_folded(tail, tail_index, w1);
END
$$;
GRANT EXECUTE ON FUNCTION fold_sql(), fold_bulk(regclass, regclass) TO :"role";
-- the background fold: a fold every 50 ms for secs seconds, each
-- committed (run by the benchmark's own session, beside pgbench)
CREATE PROCEDURE fold_in_background(secs float8, tail regclass, tail_index regclass) LANGUAGE plpgsql AS $$
DECLARE
	done_at timestamptz := clock_timestamp() + secs * interval '1 second';
BEGIN
	WHILE clock_timestamp() < done_at LOOP
		PERFORM fold_bulk(tail, tail_index);
		COMMIT;
		PERFORM pg_sleep(0.05);
	END LOOP;
END
$$;
SQL
psql_q -v n="$PRELOAD_VIEWS" -v accounts="$ACCOUNTS" >/dev/null <<'SQL'
CREATE TABLE preload AS
SELECT 1795572000000 + abs(hashint4(g)) % 86400000 AS log_time, 'dev' || (abs(hashint4(g + 1)) % 3) AS device_id,
	   'acc' || (1 + abs(hashint4(g + 2)) % :accounts) AS account_id, 'view' AS bury_point_type, 'p' || g AS page_name
  FROM generate_series(1, :n) g;
INSERT INTO sqlfold_log (log_time, device_id, account_id, bury_point_type, page_name) SELECT * FROM preload;
INSERT INTO bulkfold_log (log_time, device_id, account_id, bury_point_type, page_name) SELECT * FROM preload;
INSERT INTO bgfold_log (log_time, device_id, account_id, bury_point_type, page_name) SELECT * FROM preload;
DROP TABLE preload;
VACUUM ANALYZE;
SELECT fold_sql();
SELECT fold_bulk('bulkfold_log', 'bulkfold_tail');
SELECT fold_bulk('bgfold_log', 'bgfold_tail');
VACUUM ANALYZE;
SQL

# pgbench scripts: one random account's view; the folding ones fold after
# one insert in FOLD_EVERY
script() {	# table [fold call]
	cat <<SQL
\\set a random(1, $ACCOUNTS)
\\set t random(1, 86400000)
\\set f random(1, $FOLD_EVERY)
INSERT INTO $1 (log_time, device_id, account_id, bury_point_type, page_name) VALUES (1795572000000 + :t, 'dev', 'acc' || :a, 'view', 'p' || :t);
SQL
	if [ -n "${2:-}" ]; then
		printf '\\if :f = 1\nSELECT %s;\n\\endif\n' "$2"
	fi
}
script bare_log > "$T.bare.sql"
script trigger_log > "$T.trigger.sql"
script sqlfold_log "fold_sql()" > "$T.sqlfold.sql"
script bulkfold_log "fold_bulk('bulkfold_log', 'bulkfold_tail')" > "$T.bulkfold.sql"
script bgfold_log > "$T.bgfold.sql"
script insure_stream.user_log > "$T.ours.sql"

declare -A r
variants="bare trigger sqlfold bulkfold bgfold ours"
for run in $(seq 1 "$RUNS"); do
	psql_q -c CHECKPOINT
	for c in $CLIENTS; do
		for v in $variants; do
			if [ $v = ours ]; then
				r[$v.$c]+=" $(PGDATABASE=${DB}_ours PGOPTIONS="-c role=${ROLE}_ours" pgbench_tps "$c" "$T.$v.sql" "$v.$c")"
			elif [ $v = bgfold ]; then
				psql_q -c "CALL fold_in_background($SECS, 'bgfold_log', 'bgfold_tail')" >/dev/null &
				r[$v.$c]+=" $(PGOPTIONS="-c role=$ROLE" pgbench_tps "$c" "$T.$v.sql" "$v.$c")"
				wait $!
			else
				r[$v.$c]+=" $(PGOPTIONS="-c role=$ROLE" pgbench_tps "$c" "$T.$v.sql" "$v.$c")"
			fi
		done
	done
	echo "run $run:$(for c in $CLIENTS; do for v in $variants; do printf ' %s/%s %s' "$v" "$c" "${r[$v.$c]##* }"; done; done)"
done

tail_left() {	# tail table: events past its watermark
	psql_q -Atc "SELECT count(*) FROM $1 WHERE ingest_seq > (SELECT w FROM watermark WHERE tail = '$1'::regclass)"
}
echo
echo "| single-row page views, $RUNS runs of ${SECS} s, medians of the runs' own ratios | clients | bare tps | trigger / bare | sqlfold / bare | bulkfold / bare | bgfold / bare | ours / bare | WAL bytes a statement, bare / trigger / sqlfold / bulkfold / bgfold / ours |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in $CLIENTS; do
	b=${r[bare.$c]}
	echo "| page views, fold every $FOLD_EVERY | $c | $(median $b) |$(for v in trigger sqlfold bulkfold bgfold ours; do printf ' %sx |' "$(pair_ratio "${r[$v.$c]}" "$b")"; done)" \
		"$(wal_of bare.$c) / $(wal_of trigger.$c) / $(wal_of sqlfold.$c) / $(wal_of bulkfold.$c) / $(wal_of bgfold.$c) / $(wal_of ours.$c) |"
done
echo
echo "events not folded at the end: sqlfold $(tail_left sqlfold_log), bulkfold $(tail_left bulkfold_log), bgfold $(tail_left bgfold_log)"
# one fold's cost, in one session (its first fold pays for loading the
# functions and caches, as a pgbench client's does once): a tail of
# FOLD_EVERY events folded by each fold, 4 times, the first left out
for i in 1 2 3 4; do
	for v in sql bulk; do
		[ $v = sql ] && call="fold_sql()" || call="fold_bulk('bulkfold_log', 'bulkfold_tail')"
		cat <<SQL
INSERT INTO ${v}fold_log (log_time, device_id, account_id, bury_point_type, page_name)
SELECT 1795572000000 + abs(hashint4(g)) % 86400000, 'dev', 'acc' || (1 + abs(hashint4(g + 2)) % $ACCOUNTS), 'view', 'p' || g
  FROM generate_series(1, $FOLD_EVERY) g;
SELECT clock_timestamp() AS t0 \\gset
SELECT $call;
SELECT '${v}fold ' || round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 1) WHERE $i > 1;
SQL
	done
done | psql_q -At > "$T.fold_ms"
echo "one fold of $FOLD_EVERY events, ms (median of 3):$(for v in sqlfold bulkfold; do
	printf ' %s %s' $v "$(median $(awk -v v=$v '$1 == v {print $2}' "$T.fold_ms"))"; done)"
