/* insure_stream--0.1.3--0.2.0.sql: update script (the trust model) */

/* complain if script is sourced in psql, rather than via ALTER EXTENSION */
\echo Use "ALTER EXTENSION insure_stream UPDATE TO '0.2.0'" to load this file. \quit

/*
 * 0.2.0 makes the extension safe to offer as trusted: nothing that runs
 * with the extension's rights resolves a name a non-superuser controls,
 * every C entry point checks how it is called, notifications carry no data,
 * the server assigns arrival order and ingest time, and least privilege
 * works for ingest, reading, pg_dump and pg_restore.  See docs/security.md.
 * Each section below is one concern.
 */

/* ======================================================================
 * 1. The schema belongs to the bootstrap superuser
 * ====================================================================== */

/* ======================================================================
 * 2. C entry points: who may call them
 * ====================================================================== */

/* ======================================================================
 * 3. Time zones: SQL computes local times as the C code does
 * ====================================================================== */

/*
 * time_zone is a name of the tz database, as the TimeZone setting takes it:
 * the triggers resolve it with pg_tzset(), so 'CET' follows CET and CEST.
 * pg_catalog.timezone() (AT TIME ZONE) looks a name up first as an
 * abbreviation of the session's timezone_abbreviations ('CET' = a fixed
 * +01), so the SQL re-derives filed summer orders an hour away from the
 * trigger and verify() reported differences.  Every local time the SQL
 * side computes now goes through these C functions, which share the
 * triggers' code and depend on no session setting.
 */
CREATE FUNCTION insure_stream.zone_local(ts timestamptz, zone text) RETURNS timestamp
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_zone_local';
COMMENT ON FUNCTION insure_stream.zone_local(timestamptz, text) IS
	'wall-clock time of an instant in a zone of the tz database (as the triggers and the TimeZone setting take it)';

CREATE FUNCTION insure_stream.zone_instant(local_time timestamp, zone text) RETURNS timestamptz
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_zone_instant';
COMMENT ON FUNCTION insure_stream.zone_instant(timestamp, text) IS
	'instant at which the clocks of a zone of the tz database show a wall-clock time (inverse of zone_local)';

CREATE FUNCTION insure_stream.order_in_window(gmt_modified bigint, ingested_at timestamptz, zone text)
	RETURNS boolean
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_order_in_window';
COMMENT ON FUNCTION insure_stream.order_in_window(bigint, timestamptz, text) IS
	'order_window = day: gmt_modified not before the start of the local day of ingested_at (-infinity: always, infinity: never)';

/* yyyymmddhh of an epoch-milliseconds time in a zone */
CREATE OR REPLACE FUNCTION insure_stream.order_biz_date(epoch_ms bigint, zone text) RETURNS varchar
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT pg_catalog.to_char(insure_stream.zone_local(
		'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
		(epoch_ms::pg_catalog.float8 OPERATOR(pg_catalog.*) '1 millisecond'::pg_catalog.interval), zone),
		'YYYYMMDDHH24')::pg_catalog.varchar
	$$;

CREATE OR REPLACE FUNCTION insure_stream.orders_purged_before(
	OUT epoch_ms bigint, OUT day date, OUT biz_date varchar)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT COALESCE(w.ms, (-9223372036854775807)::pg_catalog.int8),
		   COALESCE(insure_stream.zone_local(
					'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
					(w.ms::pg_catalog.float8 OPERATOR(pg_catalog.*) '1 millisecond'::pg_catalog.interval),
					insure_stream.setting('time_zone'))::pg_catalog.date,
					'-infinity'::pg_catalog.date),
		   COALESCE(insure_stream.order_biz_date(w.ms, insure_stream.setting('time_zone')), '')
	  FROM (SELECT (SELECT m.value::pg_catalog.int8 FROM insure_stream.maintenance_state m
					 WHERE m.name OPERATOR(pg_catalog.=) 'events_purged_before_ms') AS ms) w
	$$;

/*
 * Also for any ingested_at a client could store before 0.2.0: -infinity and
 * infinity (which made verify(), status() and rebuild() fail with "bigint
 * out of range") are before and after every day, as in the trigger.
 */
CREATE OR REPLACE FUNCTION insure_stream.order_accepted(id bigint, gmt_modified bigint,
														ingested_at timestamptz, zone text, window_day boolean)
	RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT id IS NOT NULL AND gmt_modified IS NOT NULL
	   AND (NOT window_day OR insure_stream.order_in_window(gmt_modified, ingested_at, zone))
	$$;

CREATE OR REPLACE FUNCTION insure_stream.derive_order_state(part integer DEFAULT 0, parts integer DEFAULT 1)
	RETURNS TABLE (id bigint, day date, gmt_modified bigint, gmt_seq bigint,
				   order_no varchar, order_no_at bigint, order_no_seq bigint,
				   customer_tel varchar, customer_tel_at bigint, customer_tel_seq bigint,
				   account_payble double precision, account_payble_at bigint,
				   account_payble_seq bigint, biz_date varchar)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH cfg AS (
		SELECT insure_stream.setting('time_zone') AS tz,
			   insure_stream.setting('order_window') OPERATOR(pg_catalog.=) 'day' AS window_day
	), ev AS (
		SELECT e.id, e.gmt_modified AS g, e.ingest_seq AS q,
			   e.order_no AS o, e.customer_tel AS t, e.account_payble AS p,
			   insure_stream.zone_local('epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
				   (e.gmt_modified::pg_catalog.float8 OPERATOR(pg_catalog.*) '1 millisecond'::pg_catalog.interval),
				   cfg.tz)::pg_catalog.date AS day
		  FROM insure_stream.user_order e, cfg
		 WHERE insure_stream.order_accepted(e.id, e.gmt_modified, e.ingested_at, cfg.tz, cfg.window_day)
		   AND ((e.id OPERATOR(pg_catalog.%) parts) OPERATOR(pg_catalog.+) parts)
				OPERATOR(pg_catalog.%) parts OPERATOR(pg_catalog.=) part
		   AND NOT EXISTS (SELECT 1 FROM insure_stream.rejected_events r
							WHERE r.table_name OPERATOR(pg_catalog.=) 'user_order'
							  AND r.ingest_seq OPERATOR(pg_catalog.=) e.ingest_seq)
	), s AS (
		SELECT ev.id, ev.day,
			   pg_catalog.max(ev.g) AS g,
			   (pg_catalog.array_agg(ev.q ORDER BY ev.g DESC, ev.q DESC))[1] AS gs,
			   (pg_catalog.array_agg(ev.o ORDER BY ev.g DESC, ev.q DESC) FILTER (WHERE ev.o IS NOT NULL))[1] AS o,
			   (pg_catalog.array_agg(ev.g ORDER BY ev.g DESC, ev.q DESC) FILTER (WHERE ev.o IS NOT NULL))[1] AS oa,
			   (pg_catalog.array_agg(ev.q ORDER BY ev.g DESC, ev.q DESC) FILTER (WHERE ev.o IS NOT NULL))[1] AS os,
			   (pg_catalog.array_agg(ev.t ORDER BY ev.g DESC, ev.q DESC) FILTER (WHERE ev.t IS NOT NULL))[1] AS t,
			   (pg_catalog.array_agg(ev.g ORDER BY ev.g DESC, ev.q DESC) FILTER (WHERE ev.t IS NOT NULL))[1] AS ta,
			   (pg_catalog.array_agg(ev.q ORDER BY ev.g DESC, ev.q DESC) FILTER (WHERE ev.t IS NOT NULL))[1] AS ts,
			   (pg_catalog.array_agg(ev.p ORDER BY ev.g DESC, ev.q DESC) FILTER (WHERE ev.p IS NOT NULL))[1] AS p,
			   (pg_catalog.array_agg(ev.g ORDER BY ev.g DESC, ev.q DESC) FILTER (WHERE ev.p IS NOT NULL))[1] AS pa,
			   (pg_catalog.array_agg(ev.q ORDER BY ev.g DESC, ev.q DESC) FILTER (WHERE ev.p IS NOT NULL))[1] AS ps
		  FROM ev
		 GROUP BY ev.id, ev.day
	)
	SELECT s.id, s.day, s.g, s.gs, s.o, s.oa, s.os, s.t, s.ta, s.ts, s.p, s.pa, s.ps,
		   insure_stream.order_biz_date(s.g, cfg.tz)
	  FROM s, cfg
	$$;

/*
 * The closed days' boundary is stored as an ISO date (it was the session's
 * DateStyle, which another session's DateStyle may read back wrong).
 */
CREATE OR REPLACE FUNCTION insure_stream.compact_orders() RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	zone text := insure_stream.setting('time_zone');
	today date;
	removed bigint := 0;
	n bigint;
BEGIN
	/*
	 * Never wait for a writer's row lock while holding rows it may want
	 * next: a trigger locks reference counts, then its own partial hour rows
	 * (each in key order), and heap-order deletes of those deadlocked with
	 * it.  Rows a writer holds are skipped (folded or dropped next time);
	 * writers may wait for us, we never wait for them.  The day-closing
	 * lock comes first (it waits for writers into past days, which touch
	 * rows we delete below, before we hold any row) and also serializes
	 * concurrent compactions on the writer-0 rows.
	 */
	PERFORM pg_catalog.pg_advisory_xact_lock(7370452871563915521);
	WITH locked AS (
		SELECT q.biz_date, q.writer FROM insure_stream.order_hour_part q
		 WHERE q.writer OPERATOR(pg_catalog.<>) 0
		   FOR UPDATE SKIP LOCKED
	), moved AS (
		DELETE FROM insure_stream.order_hour_part p USING locked l
		 WHERE p.biz_date OPERATOR(pg_catalog.=) l.biz_date
		   AND p.writer OPERATOR(pg_catalog.=) l.writer
		RETURNING p.*
	)
	INSERT INTO insure_stream.order_hour_part AS p (biz_date, writer, users, premium, policies, holders)
	SELECT m.biz_date, 0, pg_catalog.sum(m.users), pg_catalog.sum(m.premium),
		   pg_catalog.sum(m.policies), pg_catalog.sum(m.holders)
	  FROM moved m GROUP BY m.biz_date
	ON CONFLICT (biz_date, writer) DO UPDATE
	   SET users = p.users OPERATOR(pg_catalog.+) excluded.users,
		   premium = p.premium OPERATOR(pg_catalog.+) excluded.premium,
		   policies = p.policies OPERATOR(pg_catalog.+) excluded.policies,
		   holders = p.holders OPERATOR(pg_catalog.+) excluded.holders;
	DELETE FROM insure_stream.order_hour_part p
	 WHERE p.writer OPERATOR(pg_catalog.=) 0 AND p.users OPERATOR(pg_catalog.=) 0
	   AND p.premium OPERATOR(pg_catalog.=) 0 AND p.policies OPERATOR(pg_catalog.=) 0
	   AND p.holders OPERATOR(pg_catalog.=) 0;
	WITH locked AS (
		SELECT q.biz_date, q.kind, q.value FROM insure_stream.order_hour_value q
		 WHERE q.refs OPERATOR(pg_catalog.=) 0
		   FOR UPDATE SKIP LOCKED
	)
	DELETE FROM insure_stream.order_hour_value v USING locked l
	 WHERE v.biz_date OPERATOR(pg_catalog.=) l.biz_date AND v.kind OPERATOR(pg_catalog.=) l.kind
	   AND v.value OPERATOR(pg_catalog.=) l.value AND v.refs OPERATOR(pg_catalog.=) 0;

	IF insure_stream.setting('order_window') OPERATOR(pg_catalog.<>) 'day' THEN
		RETURN removed;
	END IF;

	/* closing the days: writers into past days wait on the lock taken above */
	today := insure_stream.zone_local(pg_catalog.now(), zone)::pg_catalog.date;
	INSERT INTO insure_stream.maintenance_state AS m (name, value)
		VALUES ('orders_closed_before', pg_catalog.to_char(today, 'YYYY-MM-DD'))
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = pg_catalog.now();

	DELETE FROM insure_stream.order_state s
	 WHERE s.day OPERATOR(pg_catalog.<) today
	   AND EXISTS (SELECT 1 FROM insure_stream.order_state l
				    WHERE l.id OPERATOR(pg_catalog.=) s.id AND l.day OPERATOR(pg_catalog.>) s.day);
	GET DIAGNOSTICS n = ROW_COUNT;
	removed := removed OPERATOR(pg_catalog.+) n;
	DELETE FROM insure_stream.order_hour_value v
	 WHERE v.biz_date OPERATOR(pg_catalog.<) pg_catalog.to_char(today, 'YYYYMMDD');
	RETURN removed;
END
$$;

CREATE OR REPLACE FUNCTION insure_stream.purge_events(older_than interval)
	RETURNS TABLE (table_name text, events_removed bigint)
	LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	zone text := insure_stream.setting('time_zone');
	cutoff timestamptz;
	cutoff_ms bigint;
BEGIN
	IF older_than OPERATOR(pg_catalog.<) '0'::pg_catalog.interval THEN
		RAISE EXCEPTION 'retention interval must not be negative: %', older_than
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	cutoff := insure_stream.zone_instant(pg_catalog.date_trunc('day',
				insure_stream.zone_local(pg_catalog.now() OPERATOR(pg_catalog.-) older_than, zone)), zone);
	cutoff_ms := (pg_catalog.date_part('epoch', cutoff) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8;
	FOREACH table_name IN ARRAY ARRAY['user_order', 'update_info', 'user_log'] LOOP
		events_removed := insure_stream.purge_event_rows(table_name, cutoff_ms, cutoff);
		INSERT INTO insure_stream.maintenance_state AS m (name, value)
			VALUES ('purged ' OPERATOR(pg_catalog.||) table_name, events_removed::text)
			ON CONFLICT (name) DO UPDATE
			SET value = (m.value::pg_catalog.int8 OPERATOR(pg_catalog.+) excluded.value::pg_catalog.int8)::text,
				updated_at = pg_catalog.now();
		RETURN NEXT;
	END LOOP;
	INSERT INTO insure_stream.maintenance_state AS m (name, value)
		VALUES ('events_purged_before_ms', cutoff_ms::text)
		ON CONFLICT (name) DO UPDATE
		SET value = GREATEST(m.value::pg_catalog.int8, excluded.value::pg_catalog.int8)::text,
			updated_at = pg_catalog.now();
END
$$;

/* ======================================================================
 * 4. Server-assigned arrival order and ingest time
 * ====================================================================== */

/* ======================================================================
 * 5. Notifications carry the key only
 * ====================================================================== */

/* ======================================================================
 * 6. Reads never fail on legal amounts
 * ====================================================================== */

/* ======================================================================
 * 7. Optional integrations: pg_cron only when it is pg_cron's
 * ====================================================================== */

/* ======================================================================
 * 8. Roles: ingest, read, dump and restore
 * ====================================================================== */
