/* insure_stream--0.1.0.sql: install script */

\echo Use "CREATE EXTENSION insure_stream" to load this file. \quit

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

INSERT INTO insure_stream.config (name, value, is_default) VALUES
	('time_zone', pg_catalog.current_setting('TimeZone'), true),
	('drop_threshold', '0.15', true),
	('order_window', 'day', true),
	('saved_events', '', true),
	('max_future', '1 day', true),
	('on_bad_input', 'error', true);

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
	LANGUAGE plpgsql VOLATILE
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

/*
 * ======================================================================
 * Shared bookkeeping: bad input and event counters
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
 * One row per (event table, writer slot) so that concurrent sessions never
 * update the same counter row; status() folds them.
 */
CREATE TABLE insure_stream.event_counts (
	table_name	text NOT NULL,
	writer		integer NOT NULL,
	accepted	bigint NOT NULL DEFAULT 0,
	filtered	bigint NOT NULL DEFAULT 0,
	rejected	bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (table_name, writer)
);
COMMENT ON TABLE insure_stream.event_counts IS
	'events accepted, filtered and rejected, as partial rows per writer slot';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.event_counts', '');

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
	biz_date	varchar NOT NULL,
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
	biz_date	varchar NOT NULL,
	kind		"char" NOT NULL,
	value		varchar NOT NULL,
	refs		bigint NOT NULL,
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

CREATE FUNCTION insure_stream.user_order_apply() RETURNS trigger
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'insure_stream_user_order_apply';
COMMENT ON FUNCTION insure_stream.user_order_apply() IS
	'trigger: folds a statement''s orders into order_state and the hour figures';
REVOKE ALL ON FUNCTION insure_stream.user_order_apply() FROM PUBLIC;

CREATE TRIGGER user_order_apply AFTER INSERT ON insure_stream.user_order
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.user_order_apply();

/* Scenario 1 */
CREATE FUNCTION insure_stream.verify_orders(
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT NULL::text, NULL::text, NULL::text, NULL::text, NULL::text WHERE false $$;
COMMENT ON FUNCTION insure_stream.verify_orders() IS 'verify() for Scenario 1';

CREATE FUNCTION insure_stream.rebuild_orders() RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT $$;
COMMENT ON FUNCTION insure_stream.rebuild_orders() IS 'rebuild() for Scenario 1';

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

/* Scenario 2 */
CREATE FUNCTION insure_stream.verify_premium(
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT NULL::text, NULL::text, NULL::text, NULL::text, NULL::text WHERE false $$;
COMMENT ON FUNCTION insure_stream.verify_premium() IS 'verify() for Scenario 2';

CREATE FUNCTION insure_stream.rebuild_premium() RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT $$;
COMMENT ON FUNCTION insure_stream.rebuild_premium() IS 'rebuild() for Scenario 2';

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

/* Scenario 3 */
CREATE FUNCTION insure_stream.verify_pagelog(
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE sql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT NULL::text, NULL::text, NULL::text, NULL::text, NULL::text WHERE false $$;
COMMENT ON FUNCTION insure_stream.verify_pagelog() IS 'verify() for Scenario 3';

CREATE FUNCTION insure_stream.rebuild_pagelog() RETURNS void
	LANGUAGE sql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT $$;
COMMENT ON FUNCTION insure_stream.rebuild_pagelog() IS 'rebuild() for Scenario 3';

/* == end of Scenario 3 == */

/*
 * ======================================================================
 * SQL building blocks: last_value aggregates, time helpers
 * (src/lastvalue.c, src/timefmt.c)
 * ======================================================================
 */

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
	LANGUAGE sql STABLE
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
GRANT EXECUTE ON FUNCTION insure_stream.verify() TO @extowner@;

CREATE FUNCTION insure_stream.rebuild() RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM insure_stream.rebuild_orders();
	PERFORM insure_stream.rebuild_premium();
	PERFORM insure_stream.rebuild_pagelog();
END
$$;
COMMENT ON FUNCTION insure_stream.rebuild() IS 're-derives every result from the event tables';
REVOKE ALL ON FUNCTION insure_stream.rebuild() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.rebuild() TO @extowner@;
