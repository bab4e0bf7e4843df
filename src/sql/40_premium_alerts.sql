/*
 * ======================================================================
 * Scenario 2: premium-drop alerts (src/premium_alerts.c)
 * ======================================================================
 *
 * Every matched policy change rewrites its key customer's raw_info row and
 * premium_applied row, and an alert its premium_alert row.  Half-full pages
 * leave room for the new versions on the same page, so the updates stay
 * HOT and add no index entries.  A 1M-event COPY over 100k freshly loaded
 * key customers: HOT updates 0% -> 51% (raw_info) and 0% -> 100%
 * (premium_applied), and the COPY about an eighth faster.
 */

/* dimension: key customers, edited by operators */
CREATE TABLE insure_stream.raw_info (
	id			bigint PRIMARY KEY,
	raw_premium	varchar,
	raw_info	varchar
) WITH (fillfactor = 50);
COMMENT ON TABLE insure_stream.raw_info IS
	'key customers and their previous premium; rewritten by update_info events';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.raw_info', '');
GRANT SELECT, INSERT, UPDATE, DELETE ON insure_stream.raw_info TO @extowner@ WITH GRANT OPTION;

CREATE TABLE insure_stream.premium_alert (
	id			bigint PRIMARY KEY,
	raw_info	varchar,
	now_info	varchar,
	raw_premium	varchar,
	now_premium	varchar
) WITH (fillfactor = 50);
COMMENT ON TABLE insure_stream.premium_alert IS
	'latest premium-drop alert per key customer';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.premium_alert', '');
GRANT SELECT ON insure_stream.premium_alert TO @extowner@ WITH GRANT OPTION;
GRANT INSERT ON insure_stream.premium_alert TO @extowner@;

/* the last update_info event applied per key customer: replays are skipped */
CREATE TABLE insure_stream.premium_applied (
	id			bigint PRIMARY KEY,
	applied_seq	bigint NOT NULL
) WITH (fillfactor = 50);
COMMENT ON TABLE insure_stream.premium_applied IS
	'per key customer, the ingest_seq of the last update_info event applied to raw_info';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.premium_applied', '');
GRANT SELECT, INSERT ON insure_stream.premium_applied TO @extowner@;

/*
 * Notifications of alerts waiting for forward_alerts() (90_citus.sql):
 * with notify = deferred, and always on a Citus worker (NOTIFY cannot run
 * in a transaction that Citus commits in two phases).
 */
CREATE TABLE insure_stream.alert_outbox (
	id			bigint NOT NULL,
	alert_seq	bigint NOT NULL,
	payload		text NOT NULL,
	PRIMARY KEY (id, alert_seq)
);
COMMENT ON TABLE insure_stream.alert_outbox IS
	'notifications of alerts (notify = deferred, or raised on a Citus worker) until forward_alerts() sends them';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.alert_outbox', '');
GRANT SELECT, INSERT ON insure_stream.alert_outbox TO @extowner@;

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
REVOKE ALL ON FUNCTION insure_stream.raw_info_check() FROM PUBLIC;

CREATE TRIGGER raw_info_check BEFORE INSERT OR UPDATE ON insure_stream.raw_info
	FOR EACH ROW EXECUTE FUNCTION insure_stream.raw_info_check();

/*
 * verify(): raw_info's history is rewritten as events arrive, so alerts
 * cannot be replayed; what can be checked is that every alert comes from
 * an accepted event of its key customer and really is a drop beyond the
 * threshold, and that the last applied event of each key customer exists.
 */
CREATE FUNCTION insure_stream.verify_premium(source name,
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN QUERY EXECUTE pg_catalog.format($q$
		WITH cfg AS (
			SELECT 1 OPERATOR(pg_catalog.-) insure_stream.setting('drop_threshold')::pg_catalog.numeric AS keep,
				   COALESCE((SELECT m.value::pg_catalog.int8 FROM %1$I.maintenance_state m
							  WHERE m.name OPERATOR(pg_catalog.=) 'purged update_info'), 0) AS purged
		), accepted AS (
			SELECT e.* FROM %1$I.update_info e
			 WHERE e.id IS NOT NULL AND e.now_premium IS NOT NULL
			   AND NOT EXISTS (SELECT 1 FROM %1$I.rejected_events r
								WHERE r.table_name OPERATOR(pg_catalog.=) 'update_info'
								  AND r.ingest_seq OPERATOR(pg_catalog.=) e.ingest_seq)
		)
		SELECT 'premium_alert'::text, a.id::text, 'now_premium'::text,
			   'an accepted update_info event with this now_premium and now_info'::text,
			   pg_catalog.format('%%s / %%s', a.now_premium, a.now_info)
		  FROM %1$I.premium_alert a, cfg
		 WHERE cfg.purged OPERATOR(pg_catalog.=) 0
		   AND NOT EXISTS (SELECT 1 FROM accepted e
							WHERE e.id OPERATOR(pg_catalog.=) a.id
							  AND e.now_premium IS NOT DISTINCT FROM a.now_premium
							  AND e.now_info IS NOT DISTINCT FROM a.now_info)
		UNION ALL
		SELECT 'premium_alert', a.id::text, 'raw_premium',
			   pg_catalog.format('more than %%s above now_premium', a.now_premium),
			   a.raw_premium::text
		  FROM %1$I.premium_alert a, cfg
		 WHERE NOT (a.now_premium::pg_catalog.numeric OPERATOR(pg_catalog.<)
					(a.raw_premium::pg_catalog.numeric OPERATOR(pg_catalog.*) cfg.keep)) IS NOT FALSE
		UNION ALL
		SELECT 'premium_applied', p.id::text, 'applied_seq',
			   'an accepted update_info event of this key customer', p.applied_seq::text
		  FROM %1$I.premium_applied p, cfg
		 WHERE cfg.purged OPERATOR(pg_catalog.=) 0
		   AND NOT EXISTS (SELECT 1 FROM accepted e
							WHERE e.ingest_seq OPERATOR(pg_catalog.=) p.applied_seq
							  AND e.id OPERATOR(pg_catalog.=) p.id)
	$q$, source);
END
$$;
COMMENT ON FUNCTION insure_stream.verify_premium(name) IS
	'verify() for Scenario 2: alerts and applied events are consistent with update_info';
REVOKE ALL ON FUNCTION insure_stream.verify_premium(name) FROM PUBLIC;

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
REVOKE ALL ON FUNCTION insure_stream.rebuild_premium() FROM PUBLIC;

/* == end of Scenario 2 == */
