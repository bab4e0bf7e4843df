/*
 * ======================================================================
 * Operations: verify, rebuild (each scenario supplies verify_X,
 * rebuild_X), retention, maintenance, status, pg_cron (src/maintenance.c)
 * ======================================================================
 */

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

/*
 * On a Citus cluster the checks run on the coordinator over the session's
 * copies of the tables (cluster_copies()): the log and the state are read
 * once through the coordinator.
 */
CREATE FUNCTION insure_stream.verify(
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	copies CONSTANT text[] := ARRAY['user_order', 'update_info', 'user_log', 'rejected_events',
									'maintenance_state', 'order_state', 'order_hour_closed',
									'order_last_closed', 'hs_order', 'last_order', 'premium_alert',
									'premium_applied', 'page_state', 'user_last_log'];
	on_cluster CONSTANT boolean := insure_stream.is_distributed();
	source name := 'insure_stream';
BEGIN
	IF on_cluster THEN
		source := insure_stream.cluster_copies(copies);
	END IF;
	RETURN QUERY
		SELECT * FROM insure_stream.verify_orders(source)
		UNION ALL
		SELECT * FROM insure_stream.verify_premium(source)
		UNION ALL
		SELECT * FROM insure_stream.verify_pagelog(source);
	IF on_cluster THEN
		PERFORM insure_stream.drop_cluster_copies(copies);
	END IF;
END
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
REVOKE ALL ON FUNCTION insure_stream.rebuild() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.rebuild() TO @extowner@ WITH GRANT OPTION;

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
	cutoff := insure_stream.zone_instant(pg_catalog.date_trunc('day',
				insure_stream.zone_local(pg_catalog.now() OPERATOR(pg_catalog.-) older_than, zone)), zone);
	cutoff_ms := (pg_catalog.date_part('epoch', cutoff) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8;
	FOREACH table_name IN ARRAY ARRAY['user_order', 'update_info', 'user_log'] LOOP
		IF insure_stream.is_distributed() THEN
			events_removed := insure_stream.purge_event_shards(table_name, cutoff_ms, cutoff);
		ELSE
			events_removed := insure_stream.purge_event_rows(table_name, cutoff_ms, cutoff);
		END IF;
		INSERT INTO insure_stream.maintenance_state AS m (name, value)
			VALUES ('purged ' OPERATOR(pg_catalog.||) table_name, events_removed::text)
			ON CONFLICT (name) DO UPDATE
			SET value = (m.value::pg_catalog.int8 OPERATOR(pg_catalog.+) excluded.value::pg_catalog.int8)::text,
				updated_at = excluded.updated_at;
		RETURN NEXT;
	END LOOP;
	INSERT INTO insure_stream.maintenance_state AS m (name, value)
		VALUES ('events_purged_before_ms', cutoff_ms::text)
		ON CONFLICT (name) DO UPDATE
		SET value = GREATEST(m.value::pg_catalog.int8, excluded.value::pg_catalog.int8)::text,
			updated_at = excluded.updated_at;
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
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;
END
$$;
COMMENT ON FUNCTION insure_stream.maintenance() IS
	'compacts closed days and partial rows, then purges events past the retention setting';
REVOKE ALL ON FUNCTION insure_stream.maintenance() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.maintenance() TO @extowner@ WITH GRANT OPTION;

/*
 * The rejected events, as (event table, arrival number).  On a Citus
 * cluster every node keeps in its own rejected_events what the shards it
 * holds quarantined, so every node is read (run_command_on_all_nodes, a
 * fixed command; what other nodes committed).
 */
CREATE FUNCTION insure_stream.rejections() RETURNS TABLE (table_name text, ingest_seq bigint)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	node record;
BEGIN
	IF NOT insure_stream.is_distributed() THEN
		RETURN QUERY SELECT r.table_name, r.ingest_seq FROM insure_stream.rejected_events r;
		RETURN;
	END IF;
	FOR node IN
		SELECT n.success, n.result FROM pg_catalog.run_command_on_all_nodes(
			'SELECT COALESCE(pg_catalog.json_agg(pg_catalog.json_build_array(r.table_name, r.ingest_seq)), ''[]'')
			   FROM insure_stream.rejected_events r') n
	LOOP
		IF NOT node.success THEN
			RAISE EXCEPTION 'could not read the rejected events of a node: %', node.result
				USING ERRCODE = 'object_not_in_prerequisite_state';
		END IF;
		RETURN QUERY SELECT x OPERATOR(pg_catalog.->>) 0, (x OPERATOR(pg_catalog.->>) 1)::pg_catalog.int8
					   FROM pg_catalog.json_array_elements(node.result::pg_catalog.json) x;
	END LOOP;
END
$$;
COMMENT ON FUNCTION insure_stream.rejections() IS
	'internal: the rejected events (table, ingest_seq), of every node on a Citus cluster';
REVOKE ALL ON FUNCTION insure_stream.rejections() FROM PUBLIC;

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
		SELECT r.table_name, r.ingest_seq FROM insure_stream.rejections() r
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

/*
 * pg_cron is optional: used when its extension is in this database and
 * owns the schema cron (its script creates it), so every name under cron
 * is pg_cron's.  status() runs with the extension's rights: reading any
 * relation named cron.job would let the owner, in a database without
 * pg_cron, create a schema cron with a view job that runs their code as
 * the superuser.
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

CREATE FUNCTION insure_stream.status() RETURNS TABLE (section text, name text, value text)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	/* read once here: on a Citus cluster the queries below run on the shards */
	window_day boolean := insure_stream.setting('order_window') OPERATOR(pg_catalog.=) 'day';
	today date := insure_stream.zone_local(pg_catalog.now(), insure_stream.setting('time_zone'))::pg_catalog.date;
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
				   ('rejected_events', (SELECT pg_catalog.count(*) FROM insure_stream.rejections()))
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
			('order days open', (SELECT pg_catalog.count(DISTINCT s.day) FROM insure_stream.order_state s)),
			('order days to close', (SELECT pg_catalog.count(DISTINCT s.day) FROM insure_stream.order_state s
									  WHERE window_day AND s.day OPERATOR(pg_catalog.<) today))
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
COMMENT ON FUNCTION insure_stream.status() IS
	'events accepted, filtered and rejected; result rows; state size; pending work; maintenance; pg_cron jobs';
REVOKE ALL ON FUNCTION insure_stream.status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.status() TO @extowner@ WITH GRANT OPTION;

CREATE VIEW insure_stream.status AS SELECT * FROM insure_stream.status();
COMMENT ON VIEW insure_stream.status IS 'insure_stream.status() as a view';
REVOKE ALL ON insure_stream.status FROM PUBLIC;
GRANT SELECT ON insure_stream.status TO @extowner@ WITH GRANT OPTION;

CREATE FUNCTION insure_stream.schedule_maintenance(schedule text DEFAULT '*/10 * * * *')
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
	IF NOT insure_stream.pg_cron_present() THEN
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
