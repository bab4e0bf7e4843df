/*
 * ======================================================================
 * Event tables and what they share: append-only logs, bad input, the
 * bookkeeping of maintenance (src/trigger.c, src/rejects.c, src/maintenance.c)
 * ======================================================================
 */

/* event tables are append-only logs */
CREATE FUNCTION insure_stream.refuse_event_change() RETURNS trigger
	LANGUAGE C
	AS 'MODULE_PATHNAME', 'insure_stream_refuse_event_change';
COMMENT ON FUNCTION insure_stream.refuse_event_change() IS
	'trigger: refuses UPDATE and DELETE on event tables (they are logs)';
REVOKE ALL ON FUNCTION insure_stream.refuse_event_change() FROM PUBLIC;

/*
 * The event tables: the columns of the contract first, then ours.  The
 * server assigns both of ours.  ingest_seq is an identity column: the
 * server numbers every row, an INSERT cannot name it (GENERATED ALWAYS;
 * OVERRIDING SYSTEM VALUE needs INSERT on the column, which the owner
 * holds for restores and cannot pass on), and inserting needs no grant on
 * a sequence.  COPY, and so pg_restore, still writes the stored numbers.
 * ingested_at is the start of the ingesting transaction.  Events are
 * never updated or deleted: the tables are logs (purge_events() removes
 * whole days).
 *
 * Privileges: the owner reads the events and may let others read them;
 * it may INSERT into every column (a restore COPYs them all) but passes on
 * INSERT on the contract columns only, so whatever it grants leaves
 * ingest_seq and ingested_at to the server (grant_ingest() in
 * 80_roles.sql).  The table and its identity sequence are dumped (pg_dump
 * reads them as the owner; a restore writes them and setval()s the
 * sequence).
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
	ingest_seq		bigint GENERATED ALWAYS AS IDENTITY,
	ingested_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE insure_stream.user_order IS
	'order events (append-only); triggers keep last_order and hs_order';
COMMENT ON COLUMN insure_stream.user_order.ingest_seq IS 'arrival order of the event';
COMMENT ON COLUMN insure_stream.user_order.ingested_at IS 'start of the ingesting transaction';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.user_order', '');
SELECT pg_catalog.pg_extension_config_dump('insure_stream.user_order_ingest_seq_seq', '');
GRANT SELECT ON insure_stream.user_order TO @extowner@ WITH GRANT OPTION;
GRANT INSERT ON insure_stream.user_order TO @extowner@;
GRANT INSERT (id, order_no, order_type, pay_time, order_price, customer_name, customer_tel,
			  certificate_no, gmt_created, gmt_modified, account_payble)
	ON insure_stream.user_order TO @extowner@ WITH GRANT OPTION;
GRANT SELECT, UPDATE ON SEQUENCE insure_stream.user_order_ingest_seq_seq TO @extowner@;
CREATE TRIGGER user_order_is_a_log BEFORE UPDATE OR DELETE ON insure_stream.user_order
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.refuse_event_change();

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
	ingest_seq		bigint GENERATED ALWAYS AS IDENTITY,
	ingested_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE insure_stream.update_info IS
	'policy change events of key customers (append-only); triggers keep premium_alert and raw_info';
COMMENT ON COLUMN insure_stream.update_info.ingest_seq IS 'arrival order of the event';
COMMENT ON COLUMN insure_stream.update_info.ingested_at IS 'start of the ingesting transaction';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.update_info', '');
SELECT pg_catalog.pg_extension_config_dump('insure_stream.update_info_ingest_seq_seq', '');
GRANT SELECT ON insure_stream.update_info TO @extowner@ WITH GRANT OPTION;
GRANT INSERT ON insure_stream.update_info TO @extowner@;
GRANT INSERT (id, channel, open_id, event, now_premium, creator, modifier, gmt_modified, now_info)
	ON insure_stream.update_info TO @extowner@ WITH GRANT OPTION;
GRANT SELECT, UPDATE ON SEQUENCE insure_stream.update_info_ingest_seq_seq TO @extowner@;
CREATE TRIGGER update_info_is_a_log BEFORE UPDATE OR DELETE ON insure_stream.update_info
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.refuse_event_change();

CREATE TABLE insure_stream.user_log (
	log_time		bigint,
	device_id		varchar,
	account_id		varchar,
	bury_point_type	varchar,
	page_name		varchar,
	ingest_seq		bigint GENERATED ALWAYS AS IDENTITY,
	ingested_at		timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE insure_stream.user_log IS
	'page view events (append-only); triggers keep user_last_log';
COMMENT ON COLUMN insure_stream.user_log.ingest_seq IS 'arrival order of the event';
COMMENT ON COLUMN insure_stream.user_log.ingested_at IS 'start of the ingesting transaction';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.user_log', '');
SELECT pg_catalog.pg_extension_config_dump('insure_stream.user_log_ingest_seq_seq', '');
GRANT SELECT ON insure_stream.user_log TO @extowner@ WITH GRANT OPTION;
GRANT INSERT ON insure_stream.user_log TO @extowner@;
GRANT INSERT (log_time, device_id, account_id, bury_point_type, page_name)
	ON insure_stream.user_log TO @extowner@ WITH GRANT OPTION;
GRANT SELECT, UPDATE ON SEQUENCE insure_stream.user_log_ingest_seq_seq TO @extowner@;
CREATE TRIGGER user_log_is_a_log BEFORE UPDATE OR DELETE ON insure_stream.user_log
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.refuse_event_change();

/*
 * Bad input: with on_bad_input = quarantine, a bad event row stays in its
 * event table and is recorded here; the results leave it out.
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
GRANT SELECT ON insure_stream.rejected_events TO @extowner@ WITH GRANT OPTION;
GRANT INSERT ON insure_stream.rejected_events TO @extowner@;
GRANT SELECT, UPDATE ON SEQUENCE insure_stream.rejected_events_rejection_id_seq TO @extowner@;

/* bookkeeping of maintenance (watermarks, last runs); absent row = never */
CREATE TABLE insure_stream.maintenance_state (
	name		text PRIMARY KEY,
	value		text,
	updated_at	timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE insure_stream.maintenance_state IS
	'watermarks and last runs of maintenance (e.g. orders_closed_before)';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.maintenance_state', '');
GRANT SELECT, INSERT ON insure_stream.maintenance_state TO @extowner@;

/* event time before which purge_events() removed the events (none: minimum) */
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
REVOKE ALL ON FUNCTION insure_stream.events_purged_before_ms() FROM PUBLIC;
