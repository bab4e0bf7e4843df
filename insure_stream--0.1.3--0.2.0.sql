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

/*
 * CREATE EXTENSION made the schema insure_stream and gave it to the
 * installing role.  That role could rename it, create a new insure_stream
 * and plant objects there that the SECURITY DEFINER functions (owned by
 * the bootstrap superuser) would then reach by name.  From here on the
 * schema belongs to the bootstrap superuser and nobody else may create in
 * it, so a name in it is the extension's object.  Refuse to go on when the
 * schema was renamed or holds objects that are not the extension's: those
 * would stay reachable.  Objects that exist only as parts of the
 * extension's (indexes, row and array types, column sequences) are its
 * own.
 */
DO $$
DECLARE
	ext pg_catalog.pg_extension;
	schema_name name;
	strangers text;
	grantee name;
BEGIN
	SELECT e.* INTO ext FROM pg_catalog.pg_extension e
	 WHERE e.extname OPERATOR(pg_catalog.=) 'insure_stream';
	SELECT n.nspname INTO schema_name FROM pg_catalog.pg_namespace n
	 WHERE n.oid OPERATOR(pg_catalog.=) ext.extnamespace;
	IF schema_name OPERATOR(pg_catalog.<>) 'insure_stream' THEN
		RAISE EXCEPTION 'schema of extension "insure_stream" has been renamed to "%"', schema_name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Rename it back to insure_stream, then update the extension.';
	END IF;

	WITH RECURSIVE objects (classid, objid) AS (
		SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, c.oid FROM pg_catalog.pg_class c
		 WHERE c.relnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid FROM pg_catalog.pg_type t
		 WHERE t.typnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_operator'::pg_catalog.regclass, o.oid FROM pg_catalog.pg_operator o
		 WHERE o.oprnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_collation'::pg_catalog.regclass, c.oid FROM pg_catalog.pg_collation c
		 WHERE c.collnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_conversion'::pg_catalog.regclass, c.oid FROM pg_catalog.pg_conversion c
		 WHERE c.connamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_opfamily'::pg_catalog.regclass, f.oid FROM pg_catalog.pg_opfamily f
		 WHERE f.opfnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_opclass'::pg_catalog.regclass, c.oid FROM pg_catalog.pg_opclass c
		 WHERE c.opcnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_ts_config'::pg_catalog.regclass, c.oid FROM pg_catalog.pg_ts_config c
		 WHERE c.cfgnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_ts_dict'::pg_catalog.regclass, d.oid FROM pg_catalog.pg_ts_dict d
		 WHERE d.dictnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_ts_parser'::pg_catalog.regclass, p.oid FROM pg_catalog.pg_ts_parser p
		 WHERE p.prsnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_ts_template'::pg_catalog.regclass, t.oid FROM pg_catalog.pg_ts_template t
		 WHERE t.tmplnamespace OPERATOR(pg_catalog.=) ext.extnamespace
		UNION ALL
		SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, s.oid FROM pg_catalog.pg_statistic_ext s
		 WHERE s.stxnamespace OPERATOR(pg_catalog.=) ext.extnamespace
	), owned (classid, objid) AS (
		/* the members, and what depends on them as a part (a, i), recursively */
		SELECT d.classid, d.objid FROM pg_catalog.pg_depend d
		 WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
		   AND d.refobjid OPERATOR(pg_catalog.=) ext.oid
		   AND d.deptype OPERATOR(pg_catalog.=) 'e'
		UNION
		SELECT d.classid, d.objid FROM pg_catalog.pg_depend d JOIN owned w
			ON w.classid OPERATOR(pg_catalog.=) d.refclassid AND w.objid OPERATOR(pg_catalog.=) d.refobjid
		 WHERE d.deptype OPERATOR(pg_catalog.=) ANY ('{a,i}'::"char"[])
	)
	SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(o.classid, o.objid, 0), ', '
								 ORDER BY pg_catalog.pg_describe_object(o.classid, o.objid, 0))
	  INTO strangers
	  FROM objects o
	 WHERE NOT EXISTS (SELECT 1 FROM owned w
						WHERE w.classid OPERATOR(pg_catalog.=) o.classid
						  AND w.objid OPERATOR(pg_catalog.=) o.objid);
	IF strangers IS NOT NULL THEN
		RAISE EXCEPTION 'schema "insure_stream" holds objects that are not part of the extension'
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  DETAIL = pg_catalog.format('Objects: %s.', strangers),
				  HINT = 'Move or drop them, then update the extension.';
	END IF;

	EXECUTE pg_catalog.format('ALTER SCHEMA insure_stream OWNER TO %I',
							  (SELECT r.rolname FROM pg_catalog.pg_roles r
								WHERE r.oid OPERATOR(pg_catalog.=) 10));
	/* nobody creates in it; grants of USAGE made by the installer stay */
	REVOKE CREATE ON SCHEMA insure_stream FROM PUBLIC CASCADE;
	FOR grantee IN
		SELECT DISTINCT r.rolname
		  FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a, pg_catalog.pg_roles r
		 WHERE n.oid OPERATOR(pg_catalog.=) ext.extnamespace
		   AND r.oid OPERATOR(pg_catalog.=) a.grantee
		   AND a.grantee OPERATOR(pg_catalog.<>) 10
	LOOP
		EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA insure_stream FROM %I CASCADE', grantee);
	END LOOP;
	/* the extension's owner keeps using it and lets others in */
	EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA insure_stream TO %I WITH GRANT OPTION',
							  (SELECT r.rolname FROM pg_catalog.pg_roles r
								WHERE r.oid OPERATOR(pg_catalog.=) ext.extowner));
END
$$;

/* ======================================================================
 * 2. C entry points: who may call them
 * ====================================================================== */

/*
 * Every C trigger function now checks, before it reads anything, that it
 * is fired by the trigger manager at its own timing, level and events, for
 * its own table of this extension (SQLSTATE 39P01 otherwise); the library
 * does this for the objects of every version.  Beyond that, only what a
 * reader legitimately calls stays executable by PUBLIC:
 *   - the aggregates last_value(anyelement) and last_value(anyelement,
 *     anycompatible), and the time helpers from_unixtime() and
 *     unix_timestamp(): the SQL building blocks of the seed queries, pure
 *     functions of their arguments and the configured time zone;
 *   - setting(): the effective value of a setting, which PUBLIC may read in
 *     insure_stream.config anyway.
 * An aggregate runs its support functions with its owner's rights, so
 * they need no grant to anyone.  Every other function already was revoked
 * from PUBLIC, or is revoked here:
 *   - the trigger functions (CREATE TRIGGER needs EXECUTE; firing does not,
 *     so the extension's own triggers fire for every role as before);
 *   - normalize_setting(), called by configure() only;
 *   - the SQL helpers of the re-derives and checks (order_accepted(),
 *     order_biz_date(), orders_purged_before(), events_purged_before_ms(),
 *     rebuild_premium()), called only by the SECURITY DEFINER functions;
 *   - the aggregates' support functions.
 * Nothing here is granted to @extowner@: none of these is for calling
 * directly.
 */
REVOKE ALL ON FUNCTION insure_stream.settings_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.refuse_event_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.raw_info_check() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.normalize_setting(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.order_accepted(bigint, bigint, timestamptz, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.order_biz_date(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.orders_purged_before() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.events_purged_before_ms() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.rebuild_premium() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_trans(anyelement, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_trans(internal, anyelement, anycompatible) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_combine(internal, internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_serial(internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_deserial(bytea, internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_final(internal, anyelement, anycompatible) FROM PUBLIC;

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

/*
 * As section 2 has it, PUBLIC keeps only the seed's building blocks: the
 * owner may run (and grant) the zone functions; order_in_window() is a
 * helper of the re-derives, run by the SECURITY DEFINER functions only.
 */
REVOKE ALL ON FUNCTION insure_stream.zone_local(timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.zone_instant(timestamp, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.order_in_window(bigint, timestamptz, text) FROM PUBLIC;
/* to the extension's owner (@extowner@ would be whoever runs the update) */
DO $$
DECLARE
	owner_name name := (SELECT r.rolname FROM pg_catalog.pg_extension e
						  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) e.extowner
						 WHERE e.extname OPERATOR(pg_catalog.=) 'insure_stream');
BEGIN
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.zone_local(timestamptz, text) TO %I WITH GRANT OPTION', owner_name);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.zone_instant(timestamp, text) TO %I WITH GRANT OPTION', owner_name);
END
$$;

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

/*
 * ingest_seq becomes an identity column: the server numbers every row, an
 * INSERT cannot name it (GENERATED ALWAYS; OVERRIDING SYSTEM VALUE needs
 * the column privilege, see section 8), and inserting needs no grant on a
 * sequence.  COPY, and so pg_restore, still writes the stored numbers.
 * Numbering goes on after the greatest number in use: rows of 0.1.x whose
 * number a client chose above the sequence keep their place in arrival
 * order, and later rows come after them.
 */
DO $$
DECLARE
	event_table text;
	next_seq bigint;
BEGIN
	FOREACH event_table IN ARRAY ARRAY['user_order', 'update_info', 'user_log'] LOOP
		EXECUTE pg_catalog.format(
			'SELECT GREATEST((SELECT CASE WHEN s.is_called THEN s.last_value ELSE s.last_value OPERATOR(pg_catalog.-) 1 END
								FROM insure_stream.%I s),
							 (SELECT pg_catalog.max(e.ingest_seq) FROM insure_stream.%I e), 0)',
			event_table OPERATOR(pg_catalog.||) '_ingest_seq_seq', event_table)
			INTO next_seq;
		IF next_seq OPERATOR(pg_catalog.>=) 9223372036854775807 THEN
			RAISE EXCEPTION 'table "%" holds an ingest_seq of %, set by a client', event_table, next_seq
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  HINT = 'Have a superuser delete those rows (they are not in arrival order), then update the extension.';
		END IF;
		EXECUTE pg_catalog.format('ALTER TABLE insure_stream.%I ALTER COLUMN ingest_seq DROP DEFAULT', event_table);
		EXECUTE pg_catalog.format('ALTER EXTENSION insure_stream DROP SEQUENCE insure_stream.%I',
								  event_table OPERATOR(pg_catalog.||) '_ingest_seq_seq');
		EXECUTE pg_catalog.format('DROP SEQUENCE insure_stream.%I',
								  event_table OPERATOR(pg_catalog.||) '_ingest_seq_seq');
		EXECUTE pg_catalog.format(
			'ALTER TABLE insure_stream.%I ALTER COLUMN ingest_seq ADD GENERATED ALWAYS AS IDENTITY (START WITH %s)',
			event_table, next_seq OPERATOR(pg_catalog.+) 1);
		PERFORM pg_catalog.pg_extension_config_dump(
			pg_catalog.pg_get_serial_sequence(pg_catalog.format('insure_stream.%I', event_table), 'ingest_seq'), '');
	END LOOP;
END
$$;

/* ======================================================================
 * 5. Notifications carry the key only
 * ====================================================================== */

/*
 * Any role that can connect may LISTEN, and NOTIFY has no access control:
 * by default an alert's notification carries {"id": N} only, and
 * listeners read premium_alert with their own rights.  notify_payload =
 * alert sends the alert's data (raw_info, now_info, premiums) to every
 * listener, a choice the operator makes knowingly.
 */
INSERT INTO insure_stream.config (name, value, is_default) VALUES ('notify_payload', 'id', true);

/* ======================================================================
 * 6. Reads never fail on legal amounts
 * ====================================================================== */

/*
 * Premium sums are exact numerics.  Shown as double precision, a sum
 * beyond the double range (one amount of 1.7976931348623157e308 does it:
 * its numeric has 15 digits, rounded up) made hs_order and verify() fail.
 * It now rounds as IEEE 754 does: to the nearest double, and to an
 * infinity of its sign from 2^1024 - 2^970 on, where the cast would fail.
 * The SQL-standard body is bound when created.
 */
CREATE FUNCTION insure_stream.exact_sum_to_double(amount numeric) RETURNS double precision
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	BEGIN ATOMIC
	SELECT CASE
		WHEN pg_catalog.abs(amount) OPERATOR(pg_catalog.<) 179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792::pg_catalog.numeric
			THEN amount::pg_catalog.float8
		WHEN amount OPERATOR(pg_catalog.>) 0 THEN 'Infinity'::pg_catalog.float8
		ELSE '-Infinity'::pg_catalog.float8
	END;
	END;
COMMENT ON FUNCTION insure_stream.exact_sum_to_double(numeric) IS
	'an exact premium sum as double precision, rounded as IEEE 754 does (an infinity past the double range)';

CREATE OR REPLACE VIEW insure_stream.hs_order AS
	SELECT p.biz_date,
		   insure_stream.exact_sum_to_double(pg_catalog.sum(p.premium)) AS total_premium,
		   pg_catalog.sum(p.policies)::bigint AS policy_cnt,
		   pg_catalog.sum(p.holders)::bigint AS policy_holder_cnt
	  FROM insure_stream.order_hour_part p
	 GROUP BY p.biz_date
	HAVING pg_catalog.sum(p.users) OPERATOR(pg_catalog.>) 0;

CREATE OR REPLACE FUNCTION insure_stream.verify_orders(
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH d AS MATERIALIZED (
		SELECT * FROM insure_stream.derive_order_state()
	), closed AS (
		SELECT GREATEST(COALESCE((SELECT m.value::pg_catalog.date FROM insure_stream.maintenance_state m
								   WHERE m.name OPERATOR(pg_catalog.=) 'orders_closed_before'),
								 '-infinity'::pg_catalog.date), p.day) AS before
		  FROM insure_stream.orders_purged_before() p
	), purged AS (
		SELECT * FROM insure_stream.orders_purged_before()
	), state_diff AS (
		/* open days: every state; closed days: the states kept for last_order */
		SELECT 'order_state'::text AS relation,
			   pg_catalog.format('id=%s day=%s', COALESCE(d.id, s.id), COALESCE(d.day, s.day)) AS key,
			   '*'::text AS column_name,
			   (d.id, d.day, d.gmt_modified, d.gmt_seq, d.order_no, d.order_no_at, d.order_no_seq,
				d.customer_tel, d.customer_tel_at, d.customer_tel_seq,
				d.account_payble, d.account_payble_at, d.account_payble_seq)::text AS expected,
			   (s.id, s.day, s.gmt_modified, s.gmt_seq, s.order_no, s.order_no_at, s.order_no_seq,
				s.customer_tel, s.customer_tel_at, s.customer_tel_seq,
				s.account_payble, s.account_payble_at, s.account_payble_seq)::text AS actual
		  FROM d FULL JOIN insure_stream.order_state s
			ON s.id OPERATOR(pg_catalog.=) d.id AND s.day OPERATOR(pg_catalog.=) d.day, closed, purged
		 WHERE (COALESCE(d.day, s.day) OPERATOR(pg_catalog.>=) closed.before OR s.id IS NOT NULL)
		   AND COALESCE(d.day, s.day) OPERATOR(pg_catalog.>=) purged.day
		   AND (d.id, d.day, d.gmt_modified, d.gmt_seq, d.order_no, d.order_no_at, d.order_no_seq,
				d.customer_tel, d.customer_tel_at, d.customer_tel_seq,
				d.account_payble, d.account_payble_at, d.account_payble_seq)
			   IS DISTINCT FROM
			   (s.id, s.day, s.gmt_modified, s.gmt_seq, s.order_no, s.order_no_at, s.order_no_seq,
				s.customer_tel, s.customer_tel_at, s.customer_tel_seq,
				s.account_payble, s.account_payble_at, s.account_payble_seq)
	), hours_expected AS (
		SELECT d.biz_date, pg_catalog.count(*) AS users,
			   insure_stream.exact_sum_to_double(pg_catalog.sum(COALESCE(d.account_payble, 0)::pg_catalog.numeric)) AS total_premium,
			   pg_catalog.count(DISTINCT d.order_no) AS policy_cnt,
			   pg_catalog.count(DISTINCT d.customer_tel) AS policy_holder_cnt
		  FROM d GROUP BY d.biz_date
	), hours_actual AS (
		SELECT p.biz_date, pg_catalog.sum(p.users) AS users, h.total_premium,
			   h.policy_cnt, h.policy_holder_cnt
		  FROM insure_stream.order_hour_part p
		  LEFT JOIN insure_stream.hs_order h ON h.biz_date OPERATOR(pg_catalog.=) p.biz_date
		 GROUP BY p.biz_date, h.biz_date, h.total_premium, h.policy_cnt, h.policy_holder_cnt
		HAVING pg_catalog.sum(p.users) OPERATOR(pg_catalog.<>) 0
			OR h.biz_date IS NOT NULL
	), hour_diff AS (
		SELECT 'hs_order'::text, COALESCE(e.biz_date, a.biz_date)::text, c.name, c.e, c.a
		  FROM hours_expected e FULL JOIN hours_actual a ON a.biz_date OPERATOR(pg_catalog.=) e.biz_date,
			   LATERAL (VALUES ('users', e.users::text, a.users::text),
							   ('total_premium', e.total_premium::text, a.total_premium::text),
							   ('policy_cnt', e.policy_cnt::text, a.policy_cnt::text),
							   ('policy_holder_cnt', e.policy_holder_cnt::text, a.policy_holder_cnt::text)
					   ) AS c(name, e, a)
		 WHERE c.e IS DISTINCT FROM c.a
		   AND COALESCE(e.biz_date, a.biz_date) OPERATOR(pg_catalog.>=) (SELECT purged.biz_date FROM purged)
	), refs_expected AS (
		SELECT d.biz_date, v.kind, v.value, pg_catalog.count(*) AS refs
		  FROM d, LATERAL (VALUES ('p'::"char", d.order_no), ('t'::"char", d.customer_tel)) AS v(kind, value), closed
		 WHERE v.value IS NOT NULL AND d.day OPERATOR(pg_catalog.>=) closed.before
		 GROUP BY 1, 2, 3
	), refs_actual AS (
		SELECT hv.biz_date, hv.kind, hv.value, hv.refs
		  FROM insure_stream.order_hour_value hv, closed
		 WHERE hv.refs OPERATOR(pg_catalog.<>) 0
		   AND (closed.before OPERATOR(pg_catalog.=) '-infinity'::pg_catalog.date
				OR hv.biz_date OPERATOR(pg_catalog.>=) pg_catalog.to_char(closed.before, 'YYYYMMDD'))
	), refs_diff AS (
		SELECT 'order_hour_value'::text,
			   pg_catalog.format('%s %s %s', COALESCE(e.biz_date, a.biz_date),
								 COALESCE(e.kind, a.kind), COALESCE(e.value, a.value)),
			   'refs'::text, e.refs::text, a.refs::text
		  FROM refs_expected e FULL JOIN refs_actual a
			ON a.biz_date OPERATOR(pg_catalog.=) e.biz_date AND a.kind OPERATOR(pg_catalog.=) e.kind
		   AND a.value OPERATOR(pg_catalog.=) e.value
		 WHERE e.refs IS DISTINCT FROM a.refs
	), last_expected AS (
		SELECT DISTINCT ON (d.id) d.id, d.order_no, d.customer_tel, d.gmt_modified, d.account_payble
		  FROM d ORDER BY d.id, d.day DESC
	), last_diff AS (
		SELECT 'last_order'::text, COALESCE(e.id, a.id)::text, c.name, c.e, c.a
		  FROM last_expected e FULL JOIN insure_stream.last_order a ON a.id OPERATOR(pg_catalog.=) e.id
			   CROSS JOIN purged,
			   LATERAL (VALUES ('id', e.id::text, a.id::text),
							   ('order_no', e.order_no::text, a.order_no::text),
							   ('customer_tel', e.customer_tel::text, a.customer_tel::text),
							   ('gmt_modified', e.gmt_modified::text, a.gmt_modified::text),
							   ('account_payble', e.account_payble::text, a.account_payble::text)
					   ) AS c(name, e, a)
		 WHERE c.e IS DISTINCT FROM c.a
		   AND (e.id IS NOT NULL OR a.gmt_modified OPERATOR(pg_catalog.>=) purged.epoch_ms)
	)
	SELECT * FROM state_diff
	UNION ALL SELECT * FROM hour_diff
	UNION ALL SELECT * FROM refs_diff
	UNION ALL SELECT * FROM last_diff
	$$;

/* ======================================================================
 * 7. Optional integrations: pg_cron only when it is pg_cron's
 * ====================================================================== */

/*
 * status() runs with the extension's rights and read any relation named
 * cron.job: without pg_cron in the database, the owner could create a
 * schema cron with a view job that runs their code as the superuser.
 * pg_cron is used only when its extension is in this database and owns
 * the schema cron (its script creates it), so every name under cron is
 * pg_cron's.
 */
CREATE FUNCTION insure_stream.pg_cron_present() RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	BEGIN ATOMIC
	SELECT EXISTS (
		SELECT 1 FROM pg_catalog.pg_extension e
		  JOIN pg_catalog.pg_depend d
			ON d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
		   AND d.refobjid OPERATOR(pg_catalog.=) e.oid
		   AND d.deptype OPERATOR(pg_catalog.=) 'e'
		   AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
		  JOIN pg_catalog.pg_namespace n
			ON n.oid OPERATOR(pg_catalog.=) d.objid
		   AND n.nspname OPERATOR(pg_catalog.=) 'cron'
		 WHERE e.extname OPERATOR(pg_catalog.=) 'pg_cron');
	END;
COMMENT ON FUNCTION insure_stream.pg_cron_present() IS
	'true when pg_cron is installed in this database and owns the schema cron';

CREATE OR REPLACE FUNCTION insure_stream.status() RETURNS TABLE (section text, name text, value text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN QUERY
	SELECT 'events', c.table_name OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) k.kind, k.n::text
	  FROM insure_stream.event_classes() c,
		   LATERAL (VALUES ('accepted', c.accepted), ('filtered', c.filtered),
						   ('rejected', c.rejected), ('purged', c.purged)) AS k(kind, n);
	RETURN QUERY
	SELECT 'results', r.rel OPERATOR(pg_catalog.||) ' rows', r.n::text
	  FROM (VALUES ('hs_order', (SELECT pg_catalog.count(*) FROM insure_stream.hs_order)),
				   ('last_order', (SELECT pg_catalog.count(*) FROM insure_stream.last_order)),
				   ('premium_alert', (SELECT pg_catalog.count(*) FROM insure_stream.premium_alert)),
				   ('user_last_log', (SELECT pg_catalog.count(*) FROM insure_stream.user_last_log)),
				   ('rejected_events', (SELECT pg_catalog.count(*) FROM insure_stream.rejected_events))
		   ) AS r(rel, n);
	RETURN QUERY
	SELECT 'state', c.relname::text,
		   pg_catalog.format('~%s rows, %s', GREATEST(c.reltuples, 0)::pg_catalog.int8,
							 pg_catalog.pg_size_pretty(pg_catalog.pg_total_relation_size(c.oid)))
	  FROM pg_catalog.pg_class c
	 WHERE c.relnamespace OPERATOR(pg_catalog.=) 'insure_stream'::pg_catalog.regnamespace
	   AND c.relkind OPERATOR(pg_catalog.=) 'r'
	 ORDER BY c.relname;
	RETURN QUERY
	SELECT 'pending', p.what, p.n::text
	  FROM (VALUES
			('order hour rows to fold', (SELECT pg_catalog.count(*) FROM insure_stream.order_hour_part h
										  WHERE h.writer OPERATOR(pg_catalog.<>) 0)),
			('zero reference counts', (SELECT pg_catalog.count(*) FROM insure_stream.order_hour_value v
										WHERE v.refs OPERATOR(pg_catalog.=) 0)),
			('order days open', (SELECT pg_catalog.count(DISTINCT s.day) FROM insure_stream.order_state s
								  WHERE s.day OPERATOR(pg_catalog.>=) COALESCE(
									(SELECT m.value::pg_catalog.date FROM insure_stream.maintenance_state m
									  WHERE m.name OPERATOR(pg_catalog.=) 'orders_closed_before'),
									'-infinity'::pg_catalog.date)))
		   ) AS p(what, n);
	RETURN QUERY
	SELECT 'maintenance', m.name, m.value OPERATOR(pg_catalog.||) ' (set ' OPERATOR(pg_catalog.||)
		   m.updated_at::text OPERATOR(pg_catalog.||) ')'
	  FROM insure_stream.maintenance_state m ORDER BY m.name;
	IF insure_stream.pg_cron_present() THEN
		RETURN QUERY EXECUTE
			'SELECT ''pg_cron''::text, j.jobname::text, j.schedule OPERATOR(pg_catalog.||) '' '' OPERATOR(pg_catalog.||) j.command
			   FROM cron.job j WHERE j.command OPERATOR(pg_catalog.~~) ''%insure_stream%'' ORDER BY j.jobid';
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION insure_stream.schedule_maintenance(schedule text DEFAULT '*/10 * * * *')
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	job bigint;
BEGIN
	IF NOT insure_stream.pg_cron_present() THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"', pg_catalog.current_database()
			USING ERRCODE = 'feature_not_supported',
				  HINT = pg_catalog.format('Create extension pg_cron here, or run in the database of pg_cron: '
						 'SELECT cron.schedule_in_database(%L, %L, %L, %L);',
						 'insure_stream_maintenance', schedule,
						 'SELECT insure_stream.maintenance()', pg_catalog.current_database());
	END IF;
	EXECUTE 'SELECT cron.schedule_in_database($1, $2, $3, $4)'
		INTO job
		USING 'insure_stream_maintenance', schedule, 'SELECT insure_stream.maintenance()',
			  pg_catalog.current_database();
	RETURN job;
END
$$;

CREATE OR REPLACE FUNCTION insure_stream.unschedule_maintenance() RETURNS boolean
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	removed boolean;
BEGIN
	IF NOT insure_stream.pg_cron_present() THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"', pg_catalog.current_database()
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Run in the database of pg_cron: SELECT cron.unschedule(''insure_stream_maintenance'');';
	END IF;
	EXECUTE 'SELECT cron.unschedule($1)' INTO removed USING 'insure_stream_maintenance';
	RETURN removed;
END
$$;

/* ======================================================================
 * 8. Roles: ingest, read, dump and restore
 * ====================================================================== */

/*
 * Who may do what, from here on (README "Roles and privileges"):
 *
 * - An ingest role writes the contract columns of the event tables and
 *   nothing else: the server assigns ingest_seq (identity) and ingested_at
 *   (default), and naming either in an INSERT or COPY column list is
 *   refused (42501).  grant_ingest() gives exactly that.
 * - A reading role selects the results; grant_read() gives exactly that.
 * - The extension's owner (the role that ran CREATE EXTENSION, normally
 *   the database owner) dumps and restores the database as itself: pg_dump
 *   reads every relation registered with pg_extension_config_dump, and a
 *   restore (pg_restore, or psql -f of a plain dump) runs
 *       COPY insure_stream.<table> (<every column>) FROM stdin;
 *       SELECT pg_catalog.setval('insure_stream.<sequence>', n, true);
 *   for each of them, so the owner needs SELECT and INSERT on every such
 *   table and SELECT and UPDATE on every such sequence.  A restore also
 *   replays GRANT/REVOKE statements for privileges changed since the
 *   install; the owner issues them with its grant options.
 *
 * The grants go to the extension's owner as pg_extension records it, not
 * to @extowner@: in ALTER EXTENSION UPDATE that is whoever runs the
 * update, possibly a superuser other than the owner.
 */
DO $$
DECLARE
	ext pg_catalog.pg_extension;
	owner_name name;
	rel record;
	event_table text;
	contract text;
	grantee record;
	regrants text[] := '{}';
	regrant text;
BEGIN
	SELECT e.* INTO ext FROM pg_catalog.pg_extension e
	 WHERE e.extname OPERATOR(pg_catalog.=) 'insure_stream';
	SELECT r.rolname INTO owner_name FROM pg_catalog.pg_roles r
	 WHERE r.oid OPERATOR(pg_catalog.=) ext.extowner;

	/*
	 * Dump and restore: SELECT (pg_dump reads them) and INSERT (the restore
	 * COPYs into them, every column) on every registered table; SELECT
	 * (pg_dump reads last_value) and UPDATE (the restore's setval()) on
	 * every registered sequence.  No grant option: the owner has no reason
	 * to pass on the right to write state or arrival order.  So the owner
	 * can now write state, results and settings directly; so could a
	 * restore of a hand-edited dump.  The config rows are validated by a
	 * trigger (below); the results are the owner's own data, which verify()
	 * checks and rebuild() re-derives.
	 */
	FOR rel IN
		SELECT c.oid::pg_catalog.regclass AS name, c.relkind
		  FROM pg_catalog.unnest(ext.extconfig) AS x(oid)
		  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.oid
		 ORDER BY c.relname
	LOOP
		IF rel.relkind OPERATOR(pg_catalog.=) 'S' THEN
			EXECUTE pg_catalog.format('GRANT SELECT, UPDATE ON SEQUENCE %s TO %I', rel.name, owner_name);
		ELSE
			EXECUTE pg_catalog.format('GRANT SELECT, INSERT ON TABLE %s TO %I', rel.name, owner_name);
		END IF;
	END LOOP;

	/*
	 * Event tables: up to 0.1.3 the owner held INSERT on the whole table
	 * with the grant option, and ingest roles got INSERT on the whole table,
	 * ingest_seq and ingested_at included.  The owner keeps INSERT on every
	 * column without the grant option (restores need it), and gets the
	 * grant option on the contract columns only, so whatever it passes on
	 * leaves ingest_seq and ingested_at to the server.  Every role that held
	 * INSERT on a whole event table gets INSERT on its contract columns
	 * instead, granted by the owner (ingest goes on after the update; the
	 * owner can revoke it).
	 */
	FOREACH event_table IN ARRAY ARRAY['user_order', 'update_info', 'user_log'] LOOP
		contract := CASE event_table
			WHEN 'user_order' THEN 'id, order_no, order_type, pay_time, order_price, customer_name, '
								   'customer_tel, certificate_no, gmt_created, gmt_modified, account_payble'
			WHEN 'update_info' THEN 'id, channel, open_id, event, now_premium, creator, modifier, '
									'gmt_modified, now_info'
			ELSE 'log_time, device_id, account_id, bury_point_type, page_name'
		END;
		FOR grantee IN
			SELECT DISTINCT a.grantee, a.grantor
			  FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
			 WHERE c.oid OPERATOR(pg_catalog.=) pg_catalog.format('insure_stream.%I', event_table)::pg_catalog.regclass
			   AND a.privilege_type OPERATOR(pg_catalog.=) 'INSERT'
			   AND a.grantee OPERATOR(pg_catalog.<>) ALL (ARRAY[10, ext.extowner]::pg_catalog.oid[])
		LOOP
			regrants := regrants OPERATOR(pg_catalog.||) pg_catalog.format(
				'GRANT INSERT (%s) ON TABLE insure_stream.%I TO %s', contract, event_table,
				CASE WHEN grantee.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
					 ELSE pg_catalog.quote_ident((SELECT r.rolname FROM pg_catalog.pg_roles r
												   WHERE r.oid OPERATOR(pg_catalog.=) grantee.grantee)) END);
			IF grantee.grantor OPERATOR(pg_catalog.=) 10 THEN
				EXECUTE pg_catalog.format('REVOKE INSERT ON TABLE insure_stream.%I FROM %s CASCADE', event_table,
					CASE WHEN grantee.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
						 ELSE pg_catalog.quote_ident((SELECT r.rolname FROM pg_catalog.pg_roles r
													   WHERE r.oid OPERATOR(pg_catalog.=) grantee.grantee)) END);
			END IF;
		END LOOP;
		/* drops what the owner passed on of the whole table too */
		EXECUTE pg_catalog.format('REVOKE GRANT OPTION FOR INSERT ON TABLE insure_stream.%I FROM %I CASCADE',
								  event_table, owner_name);
		EXECUTE pg_catalog.format('GRANT INSERT ON TABLE insure_stream.%I TO %I', event_table, owner_name);
		EXECUTE pg_catalog.format('GRANT INSERT (%s) ON TABLE insure_stream.%I TO %I WITH GRANT OPTION',
								  contract, event_table, owner_name);
	END LOOP;

	/*
	 * The former whole-table ingest grants, now on the contract columns,
	 * granted by the owner: a function owned by the owner runs them as the
	 * owner (a script cannot SET ROLE), then goes.
	 */
	IF pg_catalog.cardinality(regrants) OPERATOR(pg_catalog.>) 0 THEN
		CREATE FUNCTION insure_stream.regrant_as_owner(statements text[]) RETURNS void
			LANGUAGE plpgsql VOLATILE SECURITY DEFINER
			SET search_path = pg_catalog, pg_temp
			AS $f$
		DECLARE
			statement text;
		BEGIN
			FOREACH statement IN ARRAY statements LOOP
				EXECUTE statement;
			END LOOP;
		END
		$f$;
		EXECUTE pg_catalog.format('ALTER FUNCTION insure_stream.regrant_as_owner(text[]) OWNER TO %I', owner_name);
		PERFORM insure_stream.regrant_as_owner(regrants);
		DROP FUNCTION insure_stream.regrant_as_owner(text[]);
		FOREACH regrant IN ARRAY regrants LOOP
			/* a WARNING: an extension script shows nothing less */
			RAISE WARNING '%', pg_catalog.format('insure_stream: %s (was INSERT on the whole table)', regrant);
		END LOOP;
	END IF;
END
$$;

/*
 * Settings: configure() validates, but a restore, or the owner, writes
 * config rows directly.  Every row written is checked and put in canonical
 * form by the same function configure() uses, so a restored or hand-written
 * setting is as valid as one set by configure().  (A direct write does not
 * re-derive the results as configure() does: a restore must not, since it
 * restores the results too.)  normalize_setting() is not for the owner to
 * call (section 2), so the check runs with the extension's rights; it
 * checks first that it is fired as made for, on config (a name in the
 * schema of the bootstrap superuser, section 1).
 */
CREATE FUNCTION insure_stream.config_check() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_WHEN OPERATOR(pg_catalog.<>) 'BEFORE' OR TG_LEVEL OPERATOR(pg_catalog.<>) 'ROW'
	   OR TG_OP OPERATOR(pg_catalog.<>) ALL (ARRAY['INSERT', 'UPDATE']) THEN
		RAISE EXCEPTION 'function "config_check" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW'
			USING ERRCODE = 'trigger_protocol_violated';
	END IF;
	IF TG_RELID OPERATOR(pg_catalog.<>) 'insure_stream.config'::pg_catalog.regclass THEN
		RAISE EXCEPTION 'function "config_check" must be fired for table "config"'
			USING ERRCODE = 'trigger_protocol_violated',
				  DETAIL = pg_catalog.format('It was fired for table "%s".', TG_TABLE_NAME);
	END IF;
	NEW.value := insure_stream.normalize_setting(NEW.name, NEW.value);
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION insure_stream.config_check() IS
	'trigger: checks a config row written directly (a restore) as configure() does, and stores its canonical form';
REVOKE ALL ON FUNCTION insure_stream.config_check() FROM PUBLIC;
CREATE TRIGGER config_check BEFORE INSERT OR UPDATE ON insure_stream.config
	FOR EACH ROW EXECUTE FUNCTION insure_stream.config_check();

/*
 * The documented grants as functions.  They run as the caller (the owner,
 * or a role it gave EXECUTE and the grant options to), so the caller is
 * the grantor and can revoke what it granted.
 */
CREATE FUNCTION insure_stream.grant_ingest(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	grantee name := (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role);
BEGIN
	EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA insure_stream TO %I', grantee);
	EXECUTE pg_catalog.format('GRANT INSERT (id, order_no, order_type, pay_time, order_price, customer_name, '
							  'customer_tel, certificate_no, gmt_created, gmt_modified, account_payble) '
							  'ON TABLE insure_stream.user_order TO %I', grantee);
	EXECUTE pg_catalog.format('GRANT INSERT (id, channel, open_id, event, now_premium, creator, modifier, '
							  'gmt_modified, now_info) ON TABLE insure_stream.update_info TO %I', grantee);
	EXECUTE pg_catalog.format('GRANT INSERT (log_time, device_id, account_id, bury_point_type, page_name) '
							  'ON TABLE insure_stream.user_log TO %I', grantee);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.track_page(text, text, text, text, bigint) TO %I',
							  grantee);
END
$$;
COMMENT ON FUNCTION insure_stream.grant_ingest(regrole) IS
	'lets a role ingest: USAGE on the schema, INSERT on the contract columns of the event tables, track_page()';

CREATE FUNCTION insure_stream.revoke_ingest(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	grantee name := (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role);
BEGIN
	EXECUTE pg_catalog.format('REVOKE INSERT (id, order_no, order_type, pay_time, order_price, customer_name, '
							  'customer_tel, certificate_no, gmt_created, gmt_modified, account_payble) '
							  'ON TABLE insure_stream.user_order FROM %I', grantee);
	EXECUTE pg_catalog.format('REVOKE INSERT (id, channel, open_id, event, now_premium, creator, modifier, '
							  'gmt_modified, now_info) ON TABLE insure_stream.update_info FROM %I', grantee);
	EXECUTE pg_catalog.format('REVOKE INSERT (log_time, device_id, account_id, bury_point_type, page_name) '
							  'ON TABLE insure_stream.user_log FROM %I', grantee);
	EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION insure_stream.track_page(text, text, text, text, bigint) FROM %I',
							  grantee);
	/* the schema stays open to a role that still reads */
	IF NOT pg_catalog.has_table_privilege(role, 'insure_stream.hs_order', 'SELECT') THEN
		EXECUTE pg_catalog.format('REVOKE USAGE ON SCHEMA insure_stream FROM %I', grantee);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.revoke_ingest(regrole) IS
	'takes back what grant_ingest() gave (USAGE on the schema only when the role does not read)';

CREATE FUNCTION insure_stream.grant_read(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	grantee name := (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role);
BEGIN
	EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA insure_stream TO %I', grantee);
	EXECUTE pg_catalog.format('GRANT SELECT ON TABLE insure_stream.last_order, insure_stream.hs_order, '
							  'insure_stream.premium_alert, insure_stream.user_last_log TO %I', grantee);
END
$$;
COMMENT ON FUNCTION insure_stream.grant_read(regrole) IS
	'lets a role read the results: USAGE on the schema, SELECT on last_order, hs_order, premium_alert, user_last_log';

CREATE FUNCTION insure_stream.revoke_read(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	grantee name := (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role);
BEGIN
	EXECUTE pg_catalog.format('REVOKE SELECT ON TABLE insure_stream.last_order, insure_stream.hs_order, '
							  'insure_stream.premium_alert, insure_stream.user_last_log FROM %I', grantee);
	/* the schema stays open to a role that still ingests */
	IF NOT pg_catalog.has_column_privilege(role, 'insure_stream.user_order', 'id', 'INSERT') THEN
		EXECUTE pg_catalog.format('REVOKE USAGE ON SCHEMA insure_stream FROM %I', grantee);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.revoke_read(regrole) IS
	'takes back what grant_read() gave (USAGE on the schema only when the role does not ingest)';

REVOKE ALL ON FUNCTION insure_stream.grant_ingest(regrole), insure_stream.revoke_ingest(regrole),
	insure_stream.grant_read(regrole), insure_stream.revoke_read(regrole) FROM PUBLIC;
DO $$
DECLARE
	owner_name name := (SELECT r.rolname FROM pg_catalog.pg_extension e
						  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) e.extowner
						 WHERE e.extname OPERATOR(pg_catalog.=) 'insure_stream');
BEGIN
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.grant_ingest(regrole), '
							  'insure_stream.revoke_ingest(regrole), insure_stream.grant_read(regrole), '
							  'insure_stream.revoke_read(regrole) TO %I WITH GRANT OPTION', owner_name);
END
$$;

/*
 * The update to 0.1.3 granted SELECT on the new user_last_log view to
 * @extowner@, the role running that update: when a superuser updated the
 * owner's installation, the owner could neither read the view nor pass it
 * on (grant_read()).  The owner gets it as on a fresh install.
 */
DO $$
BEGIN
	EXECUTE pg_catalog.format('GRANT SELECT ON insure_stream.user_last_log TO %I WITH GRANT OPTION',
							  (SELECT r.rolname FROM pg_catalog.pg_extension e
								 JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) e.extowner
								WHERE e.extname OPERATOR(pg_catalog.=) 'insure_stream'));
END
$$;

/*
 * Keep this last.  Every GRANT and REVOKE an extension script runs records
 * the object's whole ACL as its initial privileges (pg_init_privs), the
 * grants the owner made since the install included (here: on the schema,
 * the event tables and their columns).  pg_dump writes only what differs
 * from the initial privileges, so those grants would be missing from every
 * dump from now on, and from what it restores.  Initial privileges are
 * what an install gives: items granted by the superuser the install ran
 * as (the bootstrap superuser for a trusted install) to itself, to the
 * extension's owner or to PUBLIC.  Anything else goes back to being a
 * grant of the database's, which pg_dump dumps.
 */
DO $$
DECLARE
	ext pg_catalog.pg_extension;
	/* the superuser the install script ran as: the objects' owner */
	installer oid := (SELECT c.relowner FROM pg_catalog.pg_class c
					   WHERE c.oid OPERATOR(pg_catalog.=) 'insure_stream.config'::pg_catalog.regclass);
BEGIN
	SELECT e.* INTO ext FROM pg_catalog.pg_extension e
	 WHERE e.extname OPERATOR(pg_catalog.=) 'insure_stream';
	UPDATE pg_catalog.pg_init_privs ip
	   SET initprivs = (SELECT COALESCE(pg_catalog.array_agg(u.item ORDER BY u.ord), '{}')
						  FROM pg_catalog.unnest(ip.initprivs) WITH ORDINALITY AS u(item, ord)
						 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.aclexplode(ARRAY[u.item]) x
											WHERE x.grantor OPERATOR(pg_catalog.<>) ALL (ARRAY[10, installer]::pg_catalog.oid[])
											   OR x.grantee OPERATOR(pg_catalog.<>) ALL (ARRAY[0, 10, installer, ext.extowner]::pg_catalog.oid[])))
	 WHERE ip.privtype OPERATOR(pg_catalog.=) 'e'
	   AND ((ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass
			 AND ip.objoid OPERATOR(pg_catalog.=) ext.extnamespace)
			OR (ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
				AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c
							 WHERE c.oid OPERATOR(pg_catalog.=) ip.objoid
							   AND c.relnamespace OPERATOR(pg_catalog.=) ext.extnamespace))
			OR (ip.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
				AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
							 WHERE p.oid OPERATOR(pg_catalog.=) ip.objoid
							   AND p.pronamespace OPERATOR(pg_catalog.=) ext.extnamespace)))
	   AND EXISTS (SELECT 1 FROM pg_catalog.unnest(ip.initprivs) AS u(item), pg_catalog.aclexplode(ARRAY[u.item]) x
				   WHERE x.grantor OPERATOR(pg_catalog.<>) ALL (ARRAY[10, installer]::pg_catalog.oid[])
					  OR x.grantee OPERATOR(pg_catalog.<>) ALL (ARRAY[0, 10, installer, ext.extowner]::pg_catalog.oid[]));
END
$$;
