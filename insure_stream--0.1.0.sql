/* insure_stream--0.1.0.sql: install script */

\echo Use "CREATE EXTENSION insure_stream" to load this file. \quit

/*
 * CREATE EXTENSION uses a schema named insure_stream if one is there.  Only
 * take it when it is empty and belongs to the installing role (or a
 * superuser): another role's schema would let that role add look-alike
 * functions or operators beside ours.
 */
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
				WHERE n.nspname OPERATOR(pg_catalog.=) 'insure_stream'
				  AND ((n.nspowner OPERATOR(pg_catalog.<>) '@extowner@'::pg_catalog.regrole
						AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r
								  WHERE r.oid OPERATOR(pg_catalog.=) n.nspowner))
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c
								   WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
								   WHERE p.pronamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t
								   WHERE t.typnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_operator o
								   WHERE o.oprnamespace OPERATOR(pg_catalog.=) n.oid))) THEN
		RAISE EXCEPTION 'schema "insure_stream" already exists and is not an empty schema of the installing role'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Drop or rename that schema, or have its owner run CREATE EXTENSION.';
	END IF;
END
$$;

/*
 * ======================================================================
 * Settings
 * ======================================================================
 *
 * Rows with is_default = true come with the extension and are not dumped;
 * configure() writes rows with is_default = false, which pg_dump keeps.  The
 * effective value of a setting is its non-default row if there is one.
 */
CREATE TABLE insure_stream.config (
	name		text NOT NULL,
	value		text NOT NULL,
	is_default	boolean NOT NULL DEFAULT false,
	changed_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (name, is_default)
);
COMMENT ON TABLE insure_stream.config IS
	'settings of insure_stream; change them with insure_stream.configure()';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.config', 'WHERE NOT is_default');

/* backends cache the settings; any change to the table invalidates them */
CREATE FUNCTION insure_stream.settings_changed() RETURNS trigger
	LANGUAGE C
	AS 'MODULE_PATHNAME', 'insure_stream_settings_changed';
COMMENT ON FUNCTION insure_stream.settings_changed() IS
	'trigger: makes every backend read insure_stream.config again';
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON insure_stream.config
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.settings_changed();

INSERT INTO insure_stream.config (name, value, is_default) VALUES
	('time_zone', pg_catalog.current_setting('TimeZone'), true),
	('drop_threshold', '0.15', true),
	('order_window', 'day', true),
	('saved_events', '', true),
	('max_future', '1 day', true),
	('on_bad_input', 'error', true),
	('retention', '', true);

CREATE VIEW insure_stream.settings AS
	SELECT DISTINCT ON (c.name) c.name, c.value, c.is_default, c.changed_at
	  FROM insure_stream.config c
	 ORDER BY c.name, c.is_default;
COMMENT ON VIEW insure_stream.settings IS 'effective value of every insure_stream setting';

CREATE FUNCTION insure_stream.setting(setting_name text) RETURNS text
	LANGUAGE sql STABLE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT c.value FROM insure_stream.config c
	 WHERE c.name OPERATOR(pg_catalog.=) setting_name
	 ORDER BY c.is_default LIMIT 1
	$$;
COMMENT ON FUNCTION insure_stream.setting(text) IS 'effective value of one insure_stream setting';

/* the validated, normalized form of a setting value; raises on bad values */
CREATE FUNCTION insure_stream.normalize_setting(setting_name text, setting_value text) RETURNS text
	LANGUAGE C STABLE
	AS 'MODULE_PATHNAME', 'insure_stream_normalize_setting';
COMMENT ON FUNCTION insure_stream.normalize_setting(text, text) IS
	'checks a setting value and returns it in canonical form (errors on bad values)';

CREATE FUNCTION insure_stream.configure(setting_name text, setting_value text) RETURNS text
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	canonical text;
	previous text;
BEGIN
	canonical := insure_stream.normalize_setting(setting_name, setting_value);
	previous := insure_stream.setting(setting_name);
	/* lock the setting first: the lock order is config, then results */
	INSERT INTO insure_stream.config AS c (name, value, is_default)
		VALUES (setting_name, canonical, false)
		ON CONFLICT (name, is_default)
		DO UPDATE SET value = excluded.value, changed_at = pg_catalog.now();
	IF setting_name IN ('time_zone', 'order_window')
	   AND previous IS DISTINCT FROM canonical THEN
		PERFORM insure_stream.rebuild();
	END IF;
	RETURN canonical;
END
$$;
COMMENT ON FUNCTION insure_stream.configure(text, text) IS
	'validates and changes a setting; a new time_zone or order_window re-derives the results';
REVOKE ALL ON FUNCTION insure_stream.configure(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.configure(text, text) TO @extowner@ WITH GRANT OPTION;

/*
 * ======================================================================
 * Shared bookkeeping: bad input
 * ======================================================================
 */
CREATE TABLE insure_stream.rejected_events (
	rejection_id	bigserial PRIMARY KEY,
	table_name		text NOT NULL,
	ingest_seq		bigint NOT NULL,
	column_name		text,
	bad_value		text,
	reason			text NOT NULL,
	sqlstate		text NOT NULL,
	event			jsonb NOT NULL,
	rejected_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX ON insure_stream.rejected_events (table_name, ingest_seq);
COMMENT ON TABLE insure_stream.rejected_events IS
	'event rows kept in their event table but quarantined (on_bad_input = quarantine)';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.rejected_events', '');
SELECT pg_catalog.pg_extension_config_dump('insure_stream.rejected_events_rejection_id_seq', '');

/*
 * rebuild() re-derives in parts of the keys (a part holds every event of
 * its keys) and reports each part done when the event table is large
 * enough for a rebuild to take a while.
 */
CREATE FUNCTION insure_stream.rebuild_progress(table_name text, part integer, parts integer)
	RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF (SELECT c.reltuples FROM pg_catalog.pg_class c
		 WHERE c.oid OPERATOR(pg_catalog.=)
			   pg_catalog.format('insure_stream.%I', table_name)::pg_catalog.regclass)
		OPERATOR(pg_catalog.>=) 100000 THEN
		RAISE NOTICE '%', pg_catalog.format('rebuild of %s: %s%% done', table_name,
											(part OPERATOR(pg_catalog.+) 1) OPERATOR(pg_catalog.*) 100 OPERATOR(pg_catalog./) parts);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.rebuild_progress(text, integer, integer) IS
	'rebuild(): reports the share of an event table re-derived (tables of 100000 rows or more)';
REVOKE ALL ON FUNCTION insure_stream.rebuild_progress(text, integer, integer) FROM PUBLIC;

/* event tables are append-only logs */
CREATE FUNCTION insure_stream.refuse_event_change() RETURNS trigger
	LANGUAGE C
	AS 'MODULE_PATHNAME', 'insure_stream_refuse_event_change';
COMMENT ON FUNCTION insure_stream.refuse_event_change() IS
	'trigger: refuses UPDATE and DELETE on event tables (they are logs)';

/*
 * ======================================================================
 * Event tables (columns of SPEC.md first, then ours with defaults)
 * ======================================================================
 */
CREATE TABLE insure_stream.user_order (
	id				bigint,
	order_no		varchar,
	order_type		bigint,
	pay_time		bigint,
	order_price		double precision,
	customer_name	varchar,
	customer_tel	varchar,
	certificate_no	varchar,
	gmt_created		bigint,
	gmt_modified	bigint,
	account_payble	double precision,
	ingest_seq		bigserial NOT NULL,
	ingested_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE insure_stream.user_order IS
	'order events (append-only); triggers keep last_order and hs_order';
COMMENT ON COLUMN insure_stream.user_order.ingest_seq IS 'arrival order of the event';
COMMENT ON COLUMN insure_stream.user_order.ingested_at IS 'start of the ingesting transaction';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.user_order', '');
SELECT pg_catalog.pg_extension_config_dump('insure_stream.user_order_ingest_seq_seq', '');

CREATE TABLE insure_stream.update_info (
	id				bigint,
	channel			varchar,
	open_id			varchar,
	event			varchar,
	now_premium		varchar,
	creator			varchar,
	modifier		varchar,
	gmt_modified	bigint,
	now_info		varchar,
	ingest_seq		bigserial NOT NULL,
	ingested_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE insure_stream.update_info IS
	'policy change events of key customers (append-only); triggers keep premium_alert and raw_info';
COMMENT ON COLUMN insure_stream.update_info.ingest_seq IS 'arrival order of the event';
COMMENT ON COLUMN insure_stream.update_info.ingested_at IS 'start of the ingesting transaction';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.update_info', '');
SELECT pg_catalog.pg_extension_config_dump('insure_stream.update_info_ingest_seq_seq', '');

CREATE TABLE insure_stream.user_log (
	log_time		bigint,
	device_id		varchar,
	account_id		varchar,
	bury_point_type	varchar,
	page_name		varchar,
	ingest_seq		bigserial NOT NULL,
	ingested_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE insure_stream.user_log IS
	'page view events (append-only); triggers keep user_last_log';
COMMENT ON COLUMN insure_stream.user_log.ingest_seq IS 'arrival order of the event';
COMMENT ON COLUMN insure_stream.user_log.ingested_at IS 'start of the ingesting transaction';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.user_log', '');
SELECT pg_catalog.pg_extension_config_dump('insure_stream.user_log_ingest_seq_seq', '');

CREATE TRIGGER user_order_is_a_log BEFORE UPDATE OR DELETE ON insure_stream.user_order
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.refuse_event_change();
CREATE TRIGGER update_info_is_a_log BEFORE UPDATE OR DELETE ON insure_stream.update_info
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.refuse_event_change();
CREATE TRIGGER user_log_is_a_log BEFORE UPDATE OR DELETE ON insure_stream.user_log
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.refuse_event_change();

/* dimension: key customers, edited by operators */
CREATE TABLE insure_stream.raw_info (
	id			bigint PRIMARY KEY,
	raw_premium	varchar,
	raw_info	varchar
);
COMMENT ON TABLE insure_stream.raw_info IS
	'key customers and their previous premium; rewritten by update_info events';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.raw_info', '');

/*
 * ======================================================================
 * Scenario 1: hourly order figures (src/orders.c)
 * ======================================================================
 *
 * order_state is the per-(user, day) last-value state; every value carries
 * the ordering key (gmt_modified, ingest_seq) of the event that set it, so
 * states merge exactly whatever the arrival order.
 */
CREATE TABLE insure_stream.order_state (
	id					bigint NOT NULL,
	day					date NOT NULL,
	gmt_modified		bigint NOT NULL,
	gmt_seq				bigint NOT NULL,
	order_no			varchar,
	order_no_at			bigint,
	order_no_seq		bigint,
	customer_tel		varchar,
	customer_tel_at		bigint,
	customer_tel_seq	bigint,
	account_payble		double precision,
	account_payble_at	bigint,
	account_payble_seq	bigint,
	PRIMARY KEY (id, day)
);
COMMENT ON TABLE insure_stream.order_state IS
	'per user and day: last non-null order values with the (gmt_modified, ingest_seq) that set them';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.order_state', '');

/*
 * Hour figures as partial rows, one per (hour, writer slot): concurrent
 * sessions add to their own row and never wait for each other on an hour.
 * Writer 0 holds what maintenance folded.  premium is exact (numeric).
 */
CREATE TABLE insure_stream.order_hour_part (
	biz_date	varchar COLLATE "C" NOT NULL,
	writer		integer NOT NULL,
	users		bigint NOT NULL,
	premium		numeric NOT NULL,
	policies	bigint NOT NULL,
	holders		bigint NOT NULL,
	PRIMARY KEY (biz_date, writer)
);
COMMENT ON TABLE insure_stream.order_hour_part IS
	'partial hour figures per writer slot, folded by hs_order';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.order_hour_part', '');

/* reference counts of distinct values per hour: kind 'p' order_no, 't' customer_tel */
CREATE TABLE insure_stream.order_hour_value (
	biz_date	varchar COLLATE "C" NOT NULL,
	kind		"char" NOT NULL,
	value		varchar COLLATE "C" NOT NULL,	/* byte order: fast, and equality is exact anyway */
	refs		bigint NOT NULL,
	last_delta	bigint NOT NULL DEFAULT 0,	/* change made by the latest upsert */
	PRIMARY KEY (biz_date, kind, value)
);
COMMENT ON TABLE insure_stream.order_hour_value IS
	'how many user-day states of an hour hold each order_no (p) and customer_tel (t)';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.order_hour_value', '');

CREATE VIEW insure_stream.hs_order AS
	SELECT p.biz_date,
		   pg_catalog.sum(p.premium)::double precision AS total_premium,
		   pg_catalog.sum(p.policies)::bigint AS policy_cnt,
		   pg_catalog.sum(p.holders)::bigint AS policy_holder_cnt
	  FROM insure_stream.order_hour_part p
	 GROUP BY p.biz_date
	HAVING pg_catalog.sum(p.users) OPERATOR(pg_catalog.>) 0;
COMMENT ON VIEW insure_stream.hs_order IS
	'per hour (yyyymmddhh): premium sum, distinct policies and policy holders of the users whose last order of the day lies in it';

CREATE VIEW insure_stream.last_order AS
	SELECT DISTINCT ON (s.id) s.id, s.order_no, s.customer_tel, s.gmt_modified, s.account_payble
	  FROM insure_stream.order_state s
	 ORDER BY s.id, s.day DESC;
COMMENT ON VIEW insure_stream.last_order IS
	'per user: last non-null order values of the user''s latest day';

/*
 * The trigger's statements touch a few keys of large tables; plans cached
 * while a table was small must not become sequential scans as it grows,
 * hence enable_seqscan = off inside the trigger.  JIT is off there too:
 * the per-chunk statements are short, compiling them costs more time than
 * it saves, and loading LLVM adds about 50 MB to the backend.
 */
CREATE FUNCTION insure_stream.user_order_apply() RETURNS trigger
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	AS 'MODULE_PATHNAME', 'insure_stream_user_order_apply';
COMMENT ON FUNCTION insure_stream.user_order_apply() IS
	'trigger: folds a statement''s orders into order_state and the hour figures';
REVOKE ALL ON FUNCTION insure_stream.user_order_apply() FROM PUBLIC;

CREATE TRIGGER user_order_apply AFTER INSERT ON insure_stream.user_order
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.user_order_apply();

/* bookkeeping of maintenance (watermarks, last runs); absent row = never */
CREATE TABLE insure_stream.maintenance_state (
	name		text PRIMARY KEY,
	value		text,
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE insure_stream.maintenance_state IS
	'watermarks and last runs of maintenance (e.g. orders_closed_before)';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.maintenance_state', '');

/*
 * Called by the trigger only for rows of a day before today's (clock) date:
 * waits while maintenance is closing days, then returns the first day still
 * open (null = none closed).
 */
CREATE FUNCTION insure_stream.orders_closed_before_locked() RETURNS date
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT pg_catalog.pg_advisory_xact_lock_shared(7370452871563915521);
	SELECT m.value::pg_catalog.date FROM insure_stream.maintenance_state m
	 WHERE m.name OPERATOR(pg_catalog.=) 'orders_closed_before';
	$$;
COMMENT ON FUNCTION insure_stream.orders_closed_before_locked() IS
	'internal: first order day still open, read under the day-closing lock';
REVOKE ALL ON FUNCTION insure_stream.orders_closed_before_locked() FROM PUBLIC;

/* yyyymmddhh of an epoch-milliseconds time in a zone */
CREATE FUNCTION insure_stream.order_biz_date(epoch_ms bigint, zone text) RETURNS varchar
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT pg_catalog.to_char(pg_catalog.timezone(zone,
		'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
		(epoch_ms::pg_catalog.float8 OPERATOR(pg_catalog.*) '1 millisecond'::pg_catalog.interval)),
		'YYYYMMDDHH24')::pg_catalog.varchar
	$$;
COMMENT ON FUNCTION insure_stream.order_biz_date(bigint, text) IS
	'hour key yyyymmddhh of an epoch-milliseconds time in a zone';

/*
 * purge_events() removes whole local days of events and records where it
 * stopped; results of the days before stay as they are through re-derives.
 * Without a purge: -infinity.
 */
CREATE FUNCTION insure_stream.orders_purged_before(
	OUT epoch_ms bigint, OUT day date, OUT biz_date varchar)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT COALESCE(w.ms, (-9223372036854775807)::pg_catalog.int8),
		   COALESCE(pg_catalog.timezone(insure_stream.setting('time_zone'),
					'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
					(w.ms::pg_catalog.float8 OPERATOR(pg_catalog.*) '1 millisecond'::pg_catalog.interval))::pg_catalog.date,
					'-infinity'::pg_catalog.date),
		   COALESCE(insure_stream.order_biz_date(w.ms, insure_stream.setting('time_zone')), '')
	  FROM (SELECT (SELECT m.value::pg_catalog.int8 FROM insure_stream.maintenance_state m
					 WHERE m.name OPERATOR(pg_catalog.=) 'events_purged_before_ms') AS ms) w
	$$;
COMMENT ON FUNCTION insure_stream.orders_purged_before() IS
	'first moment whose events are still all in the log (epoch ms, local day, biz_date)';

/*
 * Is an order row accepted (under the given zone and window)?  The rule the
 * trigger applies, for re-derives and status(); quarantine is checked apart.
 */
CREATE FUNCTION insure_stream.order_accepted(id bigint, gmt_modified bigint,
											 ingested_at timestamptz, zone text, window_day boolean)
	RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT id IS NOT NULL AND gmt_modified IS NOT NULL
	   AND (NOT window_day OR gmt_modified OPERATOR(pg_catalog.>=)
			(pg_catalog.date_part('epoch', pg_catalog.timezone(zone,
				pg_catalog.date_trunc('day', pg_catalog.timezone(zone, ingested_at))))
			 OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8)
	$$;
COMMENT ON FUNCTION insure_stream.order_accepted(bigint, bigint, timestamptz, text, boolean) IS
	'whether an order row counts: id and gmt_modified set, and inside the window of its ingest day';

/*
 * The per-(user, day) state recomputed from user_order with plain SQL: what
 * the trigger must have produced if every non-quarantined event had been
 * ingested when it really was, under the current settings.
 */
CREATE FUNCTION insure_stream.derive_order_state(part integer DEFAULT 0, parts integer DEFAULT 1)
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
			   pg_catalog.timezone(cfg.tz, 'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
				   (e.gmt_modified::pg_catalog.float8 OPERATOR(pg_catalog.*) '1 millisecond'::pg_catalog.interval))::pg_catalog.date AS day
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
COMMENT ON FUNCTION insure_stream.derive_order_state(integer, integer) IS
	'per (user, day) order state recomputed from user_order with plain SQL (the users of one part of several)';
REVOKE ALL ON FUNCTION insure_stream.derive_order_state(integer, integer) FROM PUBLIC;

CREATE FUNCTION insure_stream.verify_orders(
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
			   pg_catalog.sum(COALESCE(d.account_payble, 0)::pg_catalog.numeric)::pg_catalog.float8 AS total_premium,
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
COMMENT ON FUNCTION insure_stream.verify_orders() IS
	'verify() for Scenario 1: order_state, hs_order, reference counts and last_order against user_order';
REVOKE ALL ON FUNCTION insure_stream.verify_orders() FROM PUBLIC;

CREATE FUNCTION insure_stream.rebuild_orders() RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	zone text := insure_stream.setting('time_zone');
	kept_day date;		/* days before it lost their events to purge_events() */
	kept_biz varchar;
	parts CONSTANT integer := 10;
BEGIN
	/* no ingest while the state is replaced; readers go on */
	LOCK TABLE insure_stream.user_order IN SHARE MODE;
	/* nor a compaction (it would hold hour rows we delete, and we its) */
	PERFORM pg_catalog.pg_advisory_xact_lock(7370452871563915521);
	SELECT p.day, p.biz_date INTO kept_day, kept_biz FROM insure_stream.orders_purged_before() p;
	DELETE FROM insure_stream.order_state s WHERE s.day OPERATOR(pg_catalog.>=) kept_day;
	DELETE FROM insure_stream.order_hour_value v WHERE v.biz_date OPERATOR(pg_catalog.>=) kept_biz;
	DELETE FROM insure_stream.order_hour_part p WHERE p.biz_date OPERATOR(pg_catalog.>=) kept_biz;
	DELETE FROM insure_stream.maintenance_state
	 WHERE name OPERATOR(pg_catalog.=) 'orders_closed_before';

	FOR part IN 0 .. parts - 1 LOOP
		INSERT INTO insure_stream.order_state
			(id, day, gmt_modified, gmt_seq, order_no, order_no_at, order_no_seq,
			 customer_tel, customer_tel_at, customer_tel_seq,
			 account_payble, account_payble_at, account_payble_seq)
		SELECT d.id, d.day, d.gmt_modified, d.gmt_seq, d.order_no, d.order_no_at, d.order_no_seq,
			   d.customer_tel, d.customer_tel_at, d.customer_tel_seq,
			   d.account_payble, d.account_payble_at, d.account_payble_seq
		  FROM insure_stream.derive_order_state(part, parts) d
		 WHERE d.day OPERATOR(pg_catalog.>=) kept_day;
		PERFORM insure_stream.rebuild_progress('user_order', part, parts);
	END LOOP;

	INSERT INTO insure_stream.order_hour_value (biz_date, kind, value, refs)
	SELECT insure_stream.order_biz_date(s.gmt_modified, zone), v.kind, v.value, pg_catalog.count(*)
	  FROM insure_stream.order_state s,
		   LATERAL (VALUES ('p'::"char", s.order_no), ('t'::"char", s.customer_tel)) AS v(kind, value)
	 WHERE v.value IS NOT NULL AND s.day OPERATOR(pg_catalog.>=) kept_day
	 GROUP BY 1, 2, 3;

	INSERT INTO insure_stream.order_hour_part (biz_date, writer, users, premium, policies, holders)
	SELECT insure_stream.order_biz_date(s.gmt_modified, zone), 0, pg_catalog.count(*),
		   pg_catalog.sum(COALESCE(s.account_payble, 0)::pg_catalog.numeric),
		   pg_catalog.count(DISTINCT s.order_no), pg_catalog.count(DISTINCT s.customer_tel)
	  FROM insure_stream.order_state s
	 WHERE s.day OPERATOR(pg_catalog.>=) kept_day
	 GROUP BY 1;
END
$$;
COMMENT ON FUNCTION insure_stream.rebuild_orders() IS
	'rebuild() for Scenario 1: re-derives order_state and the hour figures from user_order';
REVOKE ALL ON FUNCTION insure_stream.rebuild_orders() FROM PUBLIC;

/*
 * Maintenance of Scenario 1, safe while ingest runs: folds the writers'
 * partial hour rows into writer 0, drops zero reference counts, and with
 * order_window = day closes the days before today: their per-user state
 * goes (but each user's latest day, which last_order shows) and so do their
 * reference counts; their hour figures stay.
 */
CREATE FUNCTION insure_stream.compact_orders() RETURNS bigint
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
	today := pg_catalog.timezone(zone, pg_catalog.now())::pg_catalog.date;
	INSERT INTO insure_stream.maintenance_state AS m (name, value)
		VALUES ('orders_closed_before', today::text)
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
COMMENT ON FUNCTION insure_stream.compact_orders() IS
	'folds partial hour rows and drops the per-user state of closed days; returns the states removed';
REVOKE ALL ON FUNCTION insure_stream.compact_orders() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.compact_orders() TO @extowner@ WITH GRANT OPTION;

/* == end of Scenario 1 == */

/*
 * ======================================================================
 * Scenario 2: premium-drop monitoring (src/premium.c)
 * ======================================================================
 */
CREATE TABLE insure_stream.premium_alert (
	id			bigint PRIMARY KEY,
	raw_info	varchar,
	now_info	varchar,
	raw_premium	varchar,
	now_premium	varchar
);
COMMENT ON TABLE insure_stream.premium_alert IS
	'latest premium-drop alert per key customer';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.premium_alert', '');

/* the last update_info event applied per key customer: replays are skipped */
CREATE TABLE insure_stream.premium_applied (
	id			bigint PRIMARY KEY,
	applied_seq	bigint NOT NULL
);
COMMENT ON TABLE insure_stream.premium_applied IS
	'per key customer, the ingest_seq of the last update_info event applied to raw_info';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.premium_applied', '');

CREATE FUNCTION insure_stream.update_info_apply() RETURNS trigger
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	AS 'MODULE_PATHNAME', 'insure_stream_update_info_apply';
COMMENT ON FUNCTION insure_stream.update_info_apply() IS
	'trigger: applies policy changes to raw_info in arrival order, upserting and notifying premium-drop alerts';
REVOKE ALL ON FUNCTION insure_stream.update_info_apply() FROM PUBLIC;

CREATE TRIGGER update_info_apply AFTER INSERT ON insure_stream.update_info
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.update_info_apply();

CREATE FUNCTION insure_stream.raw_info_check() RETURNS trigger
	LANGUAGE C
	AS 'MODULE_PATHNAME', 'insure_stream_raw_info_check';
COMMENT ON FUNCTION insure_stream.raw_info_check() IS
	'trigger: refuses a raw_info.raw_premium that is not a finite decimal';

CREATE TRIGGER raw_info_check BEFORE INSERT OR UPDATE ON insure_stream.raw_info
	FOR EACH ROW EXECUTE FUNCTION insure_stream.raw_info_check();

/*
 * verify(): raw_info's history is rewritten as events arrive, so alerts
 * cannot be replayed; what can be checked is that every alert comes from
 * an accepted event of its key customer and really is a drop beyond the
 * threshold, and that the last applied event of each key customer exists.
 */
CREATE FUNCTION insure_stream.verify_premium(
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH cfg AS (
		SELECT 1 OPERATOR(pg_catalog.-) insure_stream.setting('drop_threshold')::pg_catalog.numeric AS keep,
			   COALESCE((SELECT m.value::pg_catalog.int8 FROM insure_stream.maintenance_state m
						  WHERE m.name OPERATOR(pg_catalog.=) 'purged update_info'), 0) AS purged
	), accepted AS (
		SELECT e.* FROM insure_stream.update_info e
		 WHERE e.id IS NOT NULL AND e.now_premium IS NOT NULL
		   AND NOT EXISTS (SELECT 1 FROM insure_stream.rejected_events r
							WHERE r.table_name OPERATOR(pg_catalog.=) 'update_info'
							  AND r.ingest_seq OPERATOR(pg_catalog.=) e.ingest_seq)
	)
	SELECT 'premium_alert'::text, a.id::text, 'now_premium'::text,
		   'an accepted update_info event with this now_premium and now_info'::text,
		   pg_catalog.format('%s / %s', a.now_premium, a.now_info)
	  FROM insure_stream.premium_alert a, cfg
	 WHERE cfg.purged OPERATOR(pg_catalog.=) 0
	   AND NOT EXISTS (SELECT 1 FROM accepted e
						WHERE e.id OPERATOR(pg_catalog.=) a.id
						  AND e.now_premium IS NOT DISTINCT FROM a.now_premium
						  AND e.now_info IS NOT DISTINCT FROM a.now_info)
	UNION ALL
	SELECT 'premium_alert', a.id::text, 'raw_premium',
		   pg_catalog.format('more than %s above now_premium', a.now_premium),
		   a.raw_premium::text
	  FROM insure_stream.premium_alert a, cfg
	 WHERE NOT (a.now_premium::pg_catalog.numeric OPERATOR(pg_catalog.<)
				(a.raw_premium::pg_catalog.numeric OPERATOR(pg_catalog.*) cfg.keep)) IS NOT FALSE
	UNION ALL
	SELECT 'premium_applied', p.id::text, 'applied_seq',
		   'an accepted update_info event of this key customer', p.applied_seq::text
	  FROM insure_stream.premium_applied p, cfg
	 WHERE cfg.purged OPERATOR(pg_catalog.=) 0
	   AND NOT EXISTS (SELECT 1 FROM accepted e
						WHERE e.ingest_seq OPERATOR(pg_catalog.=) p.applied_seq
						  AND e.id OPERATOR(pg_catalog.=) p.id)
	$$;
COMMENT ON FUNCTION insure_stream.verify_premium() IS
	'verify() for Scenario 2: alerts and applied events are consistent with update_info';
REVOKE ALL ON FUNCTION insure_stream.verify_premium() FROM PUBLIC;

/*
 * rebuild(): raw_info is the dimension as events rewrote it and operators
 * edited it; its earlier states are gone, so neither it nor the alerts can
 * be re-derived from the log.  They are kept as they are.
 */
CREATE FUNCTION insure_stream.rebuild_premium() RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT $$;
COMMENT ON FUNCTION insure_stream.rebuild_premium() IS
	'rebuild() for Scenario 2: keeps raw_info and premium_alert (they cannot be re-derived from the log)';

/* == end of Scenario 2 == */

/*
 * ======================================================================
 * Scenario 3: last page per account (src/pagelog.c)
 * ======================================================================
 */
CREATE TABLE insure_stream.user_last_log (
	account_id		varchar PRIMARY KEY,
	device_id		varchar,
	bury_point_type	varchar,
	page_name		varchar
);
COMMENT ON TABLE insure_stream.user_last_log IS
	'per account: the device with the latest page view and its last page type and name';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.user_last_log', '');

/*
 * Per (account, device) the last non-null page type and name, each with the
 * (log_time, ingest_seq) of the event that set it.  device_key is 'n' for a
 * null device and 'd' || device_id otherwise ('' is a device).
 */
CREATE TABLE insure_stream.page_state (
	account_id			varchar NOT NULL,
	device_key			varchar NOT NULL,
	device_id			varchar,
	log_time			bigint NOT NULL,
	log_seq				bigint NOT NULL,
	bury_point_type		varchar,
	bury_point_type_at	bigint,
	bury_point_type_seq	bigint,
	page_name			varchar,
	page_name_at		bigint,
	page_name_seq		bigint,
	from_calls			boolean NOT NULL DEFAULT false,
	PRIMARY KEY (account_id, device_key)
);
COMMENT ON TABLE insure_stream.page_state IS
	'per account and device: last non-null page values with the (log_time, ingest_seq) that set them';
COMMENT ON COLUMN insure_stream.page_state.from_calls IS
	'true when track_page() calls (which leave no log row) contributed';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.page_state', '');

CREATE FUNCTION insure_stream.user_log_apply() RETURNS trigger
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	AS 'MODULE_PATHNAME', 'insure_stream_user_log_apply';
COMMENT ON FUNCTION insure_stream.user_log_apply() IS
	'trigger: folds a statement''s page views into page_state and user_last_log';
REVOKE ALL ON FUNCTION insure_stream.user_log_apply() FROM PUBLIC;

CREATE TRIGGER user_log_apply AFTER INSERT ON insure_stream.user_log
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.user_log_apply();

CREATE FUNCTION insure_stream.track_page(account_id text, device_id text,
										 bury_point_type text, page_name text, log_time bigint)
	RETURNS void
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	SET enable_seqscan = off
	SET jit = off
	AS 'MODULE_PATHNAME', 'insure_stream_track_page';
COMMENT ON FUNCTION insure_stream.track_page(text, text, text, text, bigint) IS
	'records a page view without a log row: same state and semantics as inserting into user_log';
REVOKE ALL ON FUNCTION insure_stream.track_page(text, text, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.track_page(text, text, text, text, bigint) TO @extowner@ WITH GRANT OPTION;

/* page_state recomputed from user_log with plain SQL */
CREATE FUNCTION insure_stream.derive_page_state(part integer DEFAULT 0, parts integer DEFAULT 1)
	RETURNS TABLE (account_id varchar, device_key varchar, device_id varchar,
				   log_time bigint, log_seq bigint,
				   bury_point_type varchar, bury_point_type_at bigint, bury_point_type_seq bigint,
				   page_name varchar, page_name_at bigint, page_name_seq bigint)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT e.account_id,
		   (CASE WHEN e.device_id IS NULL THEN 'n' ELSE 'd' OPERATOR(pg_catalog.||) e.device_id END)::pg_catalog.varchar,
		   e.device_id,
		   pg_catalog.max(e.log_time),
		   (pg_catalog.array_agg(e.ingest_seq ORDER BY e.log_time DESC, e.ingest_seq DESC))[1],
		   (pg_catalog.array_agg(e.bury_point_type ORDER BY e.log_time DESC, e.ingest_seq DESC) FILTER (WHERE e.bury_point_type IS NOT NULL))[1],
		   (pg_catalog.array_agg(e.log_time ORDER BY e.log_time DESC, e.ingest_seq DESC) FILTER (WHERE e.bury_point_type IS NOT NULL))[1],
		   (pg_catalog.array_agg(e.ingest_seq ORDER BY e.log_time DESC, e.ingest_seq DESC) FILTER (WHERE e.bury_point_type IS NOT NULL))[1],
		   (pg_catalog.array_agg(e.page_name ORDER BY e.log_time DESC, e.ingest_seq DESC) FILTER (WHERE e.page_name IS NOT NULL))[1],
		   (pg_catalog.array_agg(e.log_time ORDER BY e.log_time DESC, e.ingest_seq DESC) FILTER (WHERE e.page_name IS NOT NULL))[1],
		   (pg_catalog.array_agg(e.ingest_seq ORDER BY e.log_time DESC, e.ingest_seq DESC) FILTER (WHERE e.page_name IS NOT NULL))[1]
	  FROM insure_stream.user_log e
	 WHERE e.account_id IS NOT NULL AND e.log_time IS NOT NULL
	   AND ((pg_catalog.hashtext(e.account_id) OPERATOR(pg_catalog.%) parts) OPERATOR(pg_catalog.+) parts)
			OPERATOR(pg_catalog.%) parts OPERATOR(pg_catalog.=) part
	   AND NOT EXISTS (SELECT 1 FROM insure_stream.rejected_events r
						WHERE r.table_name OPERATOR(pg_catalog.=) 'user_log'
						  AND r.ingest_seq OPERATOR(pg_catalog.=) e.ingest_seq)
	 GROUP BY e.account_id, e.device_id
	$$;
COMMENT ON FUNCTION insure_stream.derive_page_state(integer, integer) IS
	'per (account, device) page state recomputed from user_log with plain SQL (the accounts of one part of several)';
REVOKE ALL ON FUNCTION insure_stream.derive_page_state(integer, integer) FROM PUBLIC;

/* log_time before which user_log rows were purged (none: minimum) */
CREATE FUNCTION insure_stream.events_purged_before_ms() RETURNS bigint
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT COALESCE((SELECT m.value::pg_catalog.int8 FROM insure_stream.maintenance_state m
					  WHERE m.name OPERATOR(pg_catalog.=) 'events_purged_before_ms'),
					(-9223372036854775807)::pg_catalog.int8)
	$$;
COMMENT ON FUNCTION insure_stream.events_purged_before_ms() IS
	'event time (epoch ms) before which purge_events() removed events';

/*
 * verify(): pairs and accounts fed by the log alone are compared with the
 * log; accounts with a pair fed by track_page(), or whose time or a value
 * came from purged events, cannot be recomputed and are left out.
 */
CREATE FUNCTION insure_stream.verify_pagelog(
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH d AS MATERIALIZED (
		SELECT * FROM insure_stream.derive_page_state()
	), skipped AS (
		SELECT DISTINCT s.account_id FROM insure_stream.page_state s
		 WHERE s.from_calls OR s.log_time OPERATOR(pg_catalog.<) insure_stream.events_purged_before_ms()
			OR s.bury_point_type_at OPERATOR(pg_catalog.<) insure_stream.events_purged_before_ms()
			OR s.page_name_at OPERATOR(pg_catalog.<) insure_stream.events_purged_before_ms()
	), pairs AS (
		SELECT 'page_state'::text,
			   pg_catalog.format('%s %s', COALESCE(d.account_id, s.account_id), COALESCE(d.device_key, s.device_key)),
			   '*'::text,
			   (d.device_id, d.log_time, d.log_seq, d.bury_point_type, d.bury_point_type_at,
				d.bury_point_type_seq, d.page_name, d.page_name_at, d.page_name_seq)::text,
			   (s.device_id, s.log_time, s.log_seq, s.bury_point_type, s.bury_point_type_at,
				s.bury_point_type_seq, s.page_name, s.page_name_at, s.page_name_seq)::text
		  FROM d FULL JOIN insure_stream.page_state s
			ON s.account_id OPERATOR(pg_catalog.=) d.account_id
		   AND s.device_key OPERATOR(pg_catalog.=) d.device_key
		 WHERE COALESCE(d.account_id, s.account_id) NOT IN (SELECT skipped.account_id FROM skipped)
		   AND (d.device_id, d.log_time, d.log_seq, d.bury_point_type, d.bury_point_type_at,
				d.bury_point_type_seq, d.page_name, d.page_name_at, d.page_name_seq)
			   IS DISTINCT FROM
			   (s.device_id, s.log_time, s.log_seq, s.bury_point_type, s.bury_point_type_at,
				s.bury_point_type_seq, s.page_name, s.page_name_at, s.page_name_seq)
	), last_expected AS (
		SELECT DISTINCT ON (d.account_id) d.account_id, d.device_id, d.bury_point_type, d.page_name
		  FROM d ORDER BY d.account_id, d.log_time DESC, d.log_seq DESC
	), accounts AS (
		SELECT 'user_last_log'::text, COALESCE(e.account_id, a.account_id)::text, c.name, c.e, c.a
		  FROM last_expected e FULL JOIN insure_stream.user_last_log a
			ON a.account_id OPERATOR(pg_catalog.=) e.account_id,
			   LATERAL (VALUES ('account_id', e.account_id::text, a.account_id::text),
							   ('device_id', e.device_id::text, a.device_id::text),
							   ('bury_point_type', e.bury_point_type::text, a.bury_point_type::text),
							   ('page_name', e.page_name::text, a.page_name::text)) AS c(name, e, a)
		 WHERE COALESCE(e.account_id, a.account_id) NOT IN (SELECT skipped.account_id FROM skipped)
		   AND c.e IS DISTINCT FROM c.a
	)
	SELECT * FROM pairs
	UNION ALL
	SELECT * FROM accounts
	$$;
COMMENT ON FUNCTION insure_stream.verify_pagelog() IS
	'verify() for Scenario 3: page_state and user_last_log against user_log';
REVOKE ALL ON FUNCTION insure_stream.verify_pagelog() FROM PUBLIC;

/*
 * rebuild(): pairs fed by the log alone are re-derived from it; pairs with
 * track_page() input or purged events keep what they have and get the log
 * merged in (merging is idempotent).  Then every account's row is set again.
 */
CREATE FUNCTION insure_stream.rebuild_pagelog() RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	parts CONSTANT integer := 10;
BEGIN
	LOCK TABLE insure_stream.user_log IN SHARE MODE;
	LOCK TABLE insure_stream.user_last_log IN EXCLUSIVE MODE;
	DELETE FROM insure_stream.page_state s
	 WHERE NOT s.from_calls
	   AND s.log_time OPERATOR(pg_catalog.>=) insure_stream.events_purged_before_ms()
	   AND (s.bury_point_type_at IS NULL
			OR s.bury_point_type_at OPERATOR(pg_catalog.>=) insure_stream.events_purged_before_ms())
	   AND (s.page_name_at IS NULL
			OR s.page_name_at OPERATOR(pg_catalog.>=) insure_stream.events_purged_before_ms());
	FOR part IN 0 .. parts - 1 LOOP
		INSERT INTO insure_stream.page_state AS s
			(account_id, device_key, device_id, log_time, log_seq,
			 bury_point_type, bury_point_type_at, bury_point_type_seq,
			 page_name, page_name_at, page_name_seq)
		SELECT * FROM insure_stream.derive_page_state(part, parts)
		ON CONFLICT (account_id, device_key) DO UPDATE SET
			log_time = CASE WHEN (excluded.log_time, excluded.log_seq) OPERATOR(pg_catalog.>) (s.log_time, s.log_seq)
							THEN excluded.log_time ELSE s.log_time END,
			log_seq = CASE WHEN (excluded.log_time, excluded.log_seq) OPERATOR(pg_catalog.>) (s.log_time, s.log_seq)
						   THEN excluded.log_seq ELSE s.log_seq END,
			bury_point_type = CASE WHEN excluded.bury_point_type IS NOT NULL AND (s.bury_point_type IS NULL OR (excluded.bury_point_type_at, excluded.bury_point_type_seq) OPERATOR(pg_catalog.>) (s.bury_point_type_at, s.bury_point_type_seq))
				THEN excluded.bury_point_type ELSE s.bury_point_type END,
			bury_point_type_at = CASE WHEN excluded.bury_point_type IS NOT NULL AND (s.bury_point_type IS NULL OR (excluded.bury_point_type_at, excluded.bury_point_type_seq) OPERATOR(pg_catalog.>) (s.bury_point_type_at, s.bury_point_type_seq))
				THEN excluded.bury_point_type_at ELSE s.bury_point_type_at END,
			bury_point_type_seq = CASE WHEN excluded.bury_point_type IS NOT NULL AND (s.bury_point_type IS NULL OR (excluded.bury_point_type_at, excluded.bury_point_type_seq) OPERATOR(pg_catalog.>) (s.bury_point_type_at, s.bury_point_type_seq))
				THEN excluded.bury_point_type_seq ELSE s.bury_point_type_seq END,
			page_name = CASE WHEN excluded.page_name IS NOT NULL AND (s.page_name IS NULL OR (excluded.page_name_at, excluded.page_name_seq) OPERATOR(pg_catalog.>) (s.page_name_at, s.page_name_seq))
				THEN excluded.page_name ELSE s.page_name END,
			page_name_at = CASE WHEN excluded.page_name IS NOT NULL AND (s.page_name IS NULL OR (excluded.page_name_at, excluded.page_name_seq) OPERATOR(pg_catalog.>) (s.page_name_at, s.page_name_seq))
				THEN excluded.page_name_at ELSE s.page_name_at END,
			page_name_seq = CASE WHEN excluded.page_name IS NOT NULL AND (s.page_name IS NULL OR (excluded.page_name_at, excluded.page_name_seq) OPERATOR(pg_catalog.>) (s.page_name_at, s.page_name_seq))
				THEN excluded.page_name_seq ELSE s.page_name_seq END;
		PERFORM insure_stream.rebuild_progress('user_log', part, parts);
	END LOOP;
	DELETE FROM insure_stream.user_last_log;
	INSERT INTO insure_stream.user_last_log (account_id, device_id, bury_point_type, page_name)
	SELECT DISTINCT ON (s.account_id) s.account_id, s.device_id, s.bury_point_type, s.page_name
	  FROM insure_stream.page_state s
	 ORDER BY s.account_id, s.log_time DESC, s.log_seq DESC;
END
$$;
COMMENT ON FUNCTION insure_stream.rebuild_pagelog() IS
	'rebuild() for Scenario 3: re-derives page_state and user_last_log from user_log';
REVOKE ALL ON FUNCTION insure_stream.rebuild_pagelog() FROM PUBLIC;

/* == end of Scenario 3 == */

/*
 * ======================================================================
 * SQL building blocks: last_value aggregates, time helpers
 * (src/lastvalue.c, src/timefmt.c)
 * ======================================================================
 */

CREATE FUNCTION insure_stream.last_value_trans(anyelement, anyelement) RETURNS anyelement
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_trans';
COMMENT ON FUNCTION insure_stream.last_value_trans(anyelement, anyelement) IS
	'transition and combine function of last_value(anyelement)';

CREATE AGGREGATE insure_stream.last_value(anyelement) (
	SFUNC = insure_stream.last_value_trans,
	STYPE = anyelement,
	COMBINEFUNC = insure_stream.last_value_trans,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE insure_stream.last_value(anyelement) IS
	'last non-null input in input order (use ORDER BY inside the call for a defined order), as Flink''s LAST_VALUE';

CREATE FUNCTION insure_stream.last_value_ord_trans(internal, anyelement, anycompatible)
	RETURNS internal
	LANGUAGE C IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_trans';
COMMENT ON FUNCTION insure_stream.last_value_ord_trans(internal, anyelement, anycompatible) IS
	'transition function of last_value(anyelement, anycompatible)';
CREATE FUNCTION insure_stream.last_value_ord_combine(internal, internal) RETURNS internal
	LANGUAGE C IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_combine';
COMMENT ON FUNCTION insure_stream.last_value_ord_combine(internal, internal) IS
	'combine function of last_value(anyelement, anycompatible)';
CREATE FUNCTION insure_stream.last_value_ord_serial(internal) RETURNS bytea
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_serial';
COMMENT ON FUNCTION insure_stream.last_value_ord_serial(internal) IS
	'serialize function of last_value(anyelement, anycompatible)';
CREATE FUNCTION insure_stream.last_value_ord_deserial(bytea, internal) RETURNS internal
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_deserial';
COMMENT ON FUNCTION insure_stream.last_value_ord_deserial(bytea, internal) IS
	'deserialize function of last_value(anyelement, anycompatible)';
CREATE FUNCTION insure_stream.last_value_ord_final(internal, anyelement, anycompatible)
	RETURNS anyelement
	LANGUAGE C IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_final';
COMMENT ON FUNCTION insure_stream.last_value_ord_final(internal, anyelement, anycompatible) IS
	'final function of last_value(anyelement, anycompatible)';

CREATE AGGREGATE insure_stream.last_value(value anyelement, ord anycompatible) (
	SFUNC = insure_stream.last_value_ord_trans,
	STYPE = internal,
	FINALFUNC = insure_stream.last_value_ord_final,
	FINALFUNC_EXTRA,
	COMBINEFUNC = insure_stream.last_value_ord_combine,
	SERIALFUNC = insure_stream.last_value_ord_serial,
	DESERIALFUNC = insure_stream.last_value_ord_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE insure_stream.last_value(anyelement, anycompatible) IS
	'the non-null value with the greatest ord (rows with a null value or ord are skipped; ties: the later input)';

/* Flink/Hive time helpers: epoch seconds, Java patterns, configured time_zone */
CREATE FUNCTION insure_stream.from_unixtime(bigint) RETURNS text
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_from_unixtime';
COMMENT ON FUNCTION insure_stream.from_unixtime(bigint) IS
	'epoch seconds as yyyy-MM-dd HH:mm:ss in the configured time_zone (Hive/Flink FROM_UNIXTIME)';
CREATE FUNCTION insure_stream.from_unixtime(bigint, text) RETURNS text
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_from_unixtime';
COMMENT ON FUNCTION insure_stream.from_unixtime(bigint, text) IS
	'epoch seconds formatted with a Java pattern (yyyy MM dd HH mm ss SSS) in the configured time_zone';
CREATE FUNCTION insure_stream.unix_timestamp() RETURNS bigint
	LANGUAGE C STABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_unix_timestamp';
COMMENT ON FUNCTION insure_stream.unix_timestamp() IS
	'now() (transaction start) as epoch seconds (Hive/Flink UNIX_TIMESTAMP)';
CREATE FUNCTION insure_stream.unix_timestamp(text) RETURNS bigint
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_unix_timestamp';
COMMENT ON FUNCTION insure_stream.unix_timestamp(text) IS
	'yyyy-MM-dd HH:mm:ss text in the configured time_zone as epoch seconds';
CREATE FUNCTION insure_stream.unix_timestamp(text, text) RETURNS bigint
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_unix_timestamp';
COMMENT ON FUNCTION insure_stream.unix_timestamp(text, text) IS
	'text parsed with a Java pattern in the configured time_zone, as epoch seconds';

/* so that the seed's cast(x as double) runs with insure_stream in search_path */
CREATE DOMAIN insure_stream.double AS double precision;
COMMENT ON DOMAIN insure_stream.double IS 'double precision under the name the Flink SQL of the seed jobs uses';

/* == end of SQL building blocks == */

/*
 * ======================================================================
 * Operations: verify, rebuild (each scenario supplies verify_X, rebuild_X)
 * ======================================================================
 */
CREATE FUNCTION insure_stream.verify(
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT * FROM insure_stream.verify_orders()
	UNION ALL
	SELECT * FROM insure_stream.verify_premium()
	UNION ALL
	SELECT * FROM insure_stream.verify_pagelog()
	$$;
COMMENT ON FUNCTION insure_stream.verify() IS
	'recomputes every result from the event tables; returns the differences (no rows = consistent)';
REVOKE ALL ON FUNCTION insure_stream.verify() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.verify() TO @extowner@ WITH GRANT OPTION;

CREATE FUNCTION insure_stream.rebuild() RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM insure_stream.rebuild_orders();
	PERFORM insure_stream.rebuild_premium();
	PERFORM insure_stream.rebuild_pagelog();
END
$$;
COMMENT ON FUNCTION insure_stream.rebuild() IS 're-derives every result from the event tables';

CREATE FUNCTION insure_stream.purge_event_rows(table_name text, before_ms bigint, before_ts timestamptz)
	RETURNS bigint
	LANGUAGE C VOLATILE STRICT
	AS 'MODULE_PATHNAME', 'insure_stream_purge_event_rows';
COMMENT ON FUNCTION insure_stream.purge_event_rows(text, bigint, timestamptz) IS
	'internal: deletes the events of one event table before an event time';
REVOKE ALL ON FUNCTION insure_stream.purge_event_rows(text, bigint, timestamptz) FROM PUBLIC;

/*
 * Retention: events whose local day (in time_zone) ends more than
 * older_than ago go, whole days at a time; rows without an event time go
 * by ingested_at.  Results stay; re-derives keep the purged days' results.
 */
CREATE FUNCTION insure_stream.purge_events(older_than interval)
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
	cutoff := pg_catalog.timezone(zone, pg_catalog.date_trunc('day',
				pg_catalog.timezone(zone, pg_catalog.now() OPERATOR(pg_catalog.-) older_than)));
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
COMMENT ON FUNCTION insure_stream.purge_events(interval) IS
	'deletes event rows of the days older than the interval; results are kept';
REVOKE ALL ON FUNCTION insure_stream.purge_events(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.purge_events(interval) TO @extowner@ WITH GRANT OPTION;

/* periodic work, safe while ingest runs: compaction, then retention */
CREATE FUNCTION insure_stream.maintenance() RETURNS TABLE (task text, affected bigint)
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	keep text := insure_stream.setting('retention');
BEGIN
	/*
	 * Purging needs the event tables in ROW EXCLUSIVE mode, which a running
	 * rebuild() (SHARE) blocks: take them before compaction holds any row
	 * that rebuild() deletes, so one of the two waits holding nothing.
	 */
	IF keep OPERATOR(pg_catalog.<>) '' THEN
		LOCK TABLE insure_stream.user_order, insure_stream.update_info, insure_stream.user_log
			IN ROW EXCLUSIVE MODE;
	END IF;
	task := 'compact_orders';
	affected := insure_stream.compact_orders();
	RETURN NEXT;
	IF keep OPERATOR(pg_catalog.<>) '' THEN
		RETURN QUERY SELECT 'purge_events ' OPERATOR(pg_catalog.||) p.table_name, p.events_removed
					   FROM insure_stream.purge_events(keep::pg_catalog.interval) p;
	END IF;
	INSERT INTO insure_stream.maintenance_state AS m (name, value)
		VALUES ('last_maintenance', started::text),
			   ('last_maintenance_ms',
				pg_catalog.round(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()
					OPERATOR(pg_catalog.-) started) OPERATOR(pg_catalog.*) 1000)::text)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = pg_catalog.now();
END
$$;
COMMENT ON FUNCTION insure_stream.maintenance() IS
	'compacts closed days and partial rows, then purges events past the retention setting';
REVOKE ALL ON FUNCTION insure_stream.maintenance() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.maintenance() TO @extowner@ WITH GRANT OPTION;

/*
 * Events per table as the current settings classify the log (the rule that
 * rebuild() applies): no counter is written while ingesting, so counting
 * costs nothing there and cannot become a hot row.  Purged rows are counted
 * by purge_events().
 */
CREATE FUNCTION insure_stream.event_classes()
	RETURNS TABLE (table_name text, accepted bigint, filtered bigint, rejected bigint, purged bigint)
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH cfg AS (
		SELECT insure_stream.setting('time_zone') AS tz,
			   insure_stream.setting('order_window') OPERATOR(pg_catalog.=) 'day' AS window_day,
			   pg_catalog.string_to_array(NULLIF(insure_stream.setting('saved_events'), ''), ',') AS saved
	), q AS (
		SELECT r.table_name, r.ingest_seq FROM insure_stream.rejected_events r
	), classified AS (
		SELECT 'user_order' AS table_name,
			   CASE WHEN EXISTS (SELECT 1 FROM q WHERE q.table_name OPERATOR(pg_catalog.=) 'user_order'
								   AND q.ingest_seq OPERATOR(pg_catalog.=) e.ingest_seq) THEN 'r'
					WHEN insure_stream.order_accepted(e.id, e.gmt_modified, e.ingested_at, cfg.tz, cfg.window_day)
					THEN 'a' ELSE 'f' END AS class
		  FROM insure_stream.user_order e, cfg
		UNION ALL
		SELECT 'update_info',
			   CASE WHEN EXISTS (SELECT 1 FROM q WHERE q.table_name OPERATOR(pg_catalog.=) 'update_info'
								   AND q.ingest_seq OPERATOR(pg_catalog.=) e.ingest_seq) THEN 'r'
					WHEN e.id IS NOT NULL AND e.now_premium IS NOT NULL
						 AND (cfg.saved IS NULL OR e.event OPERATOR(pg_catalog.=) ANY (cfg.saved))
					THEN 'a' ELSE 'f' END
		  FROM insure_stream.update_info e, cfg
		UNION ALL
		SELECT 'user_log',
			   CASE WHEN EXISTS (SELECT 1 FROM q WHERE q.table_name OPERATOR(pg_catalog.=) 'user_log'
								   AND q.ingest_seq OPERATOR(pg_catalog.=) e.ingest_seq) THEN 'r'
					WHEN e.account_id IS NOT NULL AND e.log_time IS NOT NULL
					THEN 'a' ELSE 'f' END
		  FROM insure_stream.user_log e
	)
	SELECT t.table_name,
		   pg_catalog.count(c.class) FILTER (WHERE c.class OPERATOR(pg_catalog.=) 'a'),
		   pg_catalog.count(c.class) FILTER (WHERE c.class OPERATOR(pg_catalog.=) 'f'),
		   pg_catalog.count(c.class) FILTER (WHERE c.class OPERATOR(pg_catalog.=) 'r'),
		   COALESCE((SELECT m.value::pg_catalog.int8 FROM insure_stream.maintenance_state m
					  WHERE m.name OPERATOR(pg_catalog.=) ('purged ' OPERATOR(pg_catalog.||) t.table_name)), 0)
	  FROM (VALUES ('user_order'), ('update_info'), ('user_log')) AS t(table_name)
	  LEFT JOIN classified c ON c.table_name OPERATOR(pg_catalog.=) t.table_name
	 GROUP BY t.table_name
	$$;
COMMENT ON FUNCTION insure_stream.event_classes() IS
	'events accepted, filtered (not counted by the rules), rejected (quarantined) and purged, per event table';
REVOKE ALL ON FUNCTION insure_stream.event_classes() FROM PUBLIC;

CREATE FUNCTION insure_stream.status() RETURNS TABLE (section text, name text, value text)
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
	IF pg_catalog.to_regclass('cron.job') IS NOT NULL THEN
		RETURN QUERY EXECUTE
			'SELECT ''pg_cron''::text, j.jobname::text, j.schedule OPERATOR(pg_catalog.||) '' '' OPERATOR(pg_catalog.||) j.command
			   FROM cron.job j WHERE j.command OPERATOR(pg_catalog.~~) ''%insure_stream%'' ORDER BY j.jobid';
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.status() IS
	'events accepted, filtered and rejected; result rows; state size; pending work; maintenance; pg_cron jobs';
REVOKE ALL ON FUNCTION insure_stream.status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.status() TO @extowner@ WITH GRANT OPTION;

CREATE VIEW insure_stream.status AS SELECT * FROM insure_stream.status();
COMMENT ON VIEW insure_stream.status IS 'insure_stream.status() as a view';
REVOKE ALL ON insure_stream.status FROM PUBLIC;
GRANT SELECT ON insure_stream.status TO @extowner@ WITH GRANT OPTION;

/* pg_cron is optional: used when installed in this database */
CREATE FUNCTION insure_stream.schedule_maintenance(schedule text DEFAULT '*/10 * * * *')
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	job bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e
				    WHERE e.extname OPERATOR(pg_catalog.=) 'pg_cron') THEN
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
COMMENT ON FUNCTION insure_stream.schedule_maintenance(text) IS
	'registers insure_stream.maintenance() with pg_cron (job insure_stream_maintenance)';
REVOKE ALL ON FUNCTION insure_stream.schedule_maintenance(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.schedule_maintenance(text) TO @extowner@ WITH GRANT OPTION;

CREATE FUNCTION insure_stream.unschedule_maintenance() RETURNS boolean
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	removed boolean;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e
				    WHERE e.extname OPERATOR(pg_catalog.=) 'pg_cron') THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"', pg_catalog.current_database()
			USING ERRCODE = 'feature_not_supported',
				  HINT = 'Run in the database of pg_cron: SELECT cron.unschedule(''insure_stream_maintenance'');';
	END IF;
	EXECUTE 'SELECT cron.unschedule($1)' INTO removed USING 'insure_stream_maintenance';
	RETURN removed;
END
$$;
COMMENT ON FUNCTION insure_stream.unschedule_maintenance() IS
	'removes the pg_cron job of insure_stream.maintenance()';
REVOKE ALL ON FUNCTION insure_stream.unschedule_maintenance() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.unschedule_maintenance() TO @extowner@ WITH GRANT OPTION;
REVOKE ALL ON FUNCTION insure_stream.rebuild() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.rebuild() TO @extowner@ WITH GRANT OPTION;

/*
 * ======================================================================
 * Privileges: the installing role (a database owner, not necessarily a
 * superuser) runs everything and may grant on; triggers and admin
 * functions run as the extension's owner, so ingest roles need only INSERT
 * on the event tables (and USAGE on their sequences).
 * ======================================================================
 */
GRANT USAGE ON SCHEMA insure_stream TO @extowner@ WITH GRANT OPTION;
GRANT SELECT, INSERT ON insure_stream.user_order, insure_stream.update_info, insure_stream.user_log
	TO @extowner@ WITH GRANT OPTION;
GRANT USAGE, SELECT ON SEQUENCE insure_stream.user_order_ingest_seq_seq,
	insure_stream.update_info_ingest_seq_seq, insure_stream.user_log_ingest_seq_seq
	TO @extowner@ WITH GRANT OPTION;
GRANT SELECT, INSERT, UPDATE, DELETE ON insure_stream.raw_info TO @extowner@ WITH GRANT OPTION;
GRANT SELECT ON insure_stream.hs_order, insure_stream.last_order, insure_stream.premium_alert,
	insure_stream.user_last_log, insure_stream.settings, insure_stream.rejected_events
	TO @extowner@ WITH GRANT OPTION;
GRANT SELECT ON insure_stream.config, insure_stream.order_state, insure_stream.order_hour_part,
	insure_stream.order_hour_value, insure_stream.page_state, insure_stream.premium_applied,
	insure_stream.maintenance_state
	TO @extowner@;
/* settings are no secret: any role the owner lets into the schema reads them (the time helpers need the zone) */
GRANT SELECT ON insure_stream.config, insure_stream.settings TO PUBLIC;
