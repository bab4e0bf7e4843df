/*
 * ======================================================================
 * Scale out with Citus (src/shards.c; docs/citus.md)
 * ======================================================================
 *
 * distribute() turns the tables of insure_stream into Citus tables, on the
 * coordinator, once Citus and its workers are set up:
 *
 * - orders, policy changes and their state by user / key customer id, all
 *   in one colocation group: the trigger on a shard of an event table
 *   writes the state shards beside it (src/shards.c), and a shard moves
 *   with its state on a rebalance;
 * - page views and their state by account_id, in another group, and
 *   track_page() delegated to the node of its account;
 * - the settings, the maintenance watermarks and the closed hours as
 *   reference tables: every node reads them locally.
 *
 * Rows a shell table kept from before are removed once copied into the
 * shards.  The tables are the extension's: only a superuser may
 * distribute them, so the function runs with the extension's rights, for
 * its owner.  Citus needs its triggers allowed on distributed tables
 * (citus.enable_unsafe_triggers), set here for the calls that need it.
 */
/*
 * Has distribute() run?  (insure_stream.user_order is a Citus table.)  Read
 * through EXECUTE: the Citus catalogs exist only where Citus is installed.
 */
CREATE FUNCTION insure_stream.is_distributed() RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	found boolean;
BEGIN
	IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
		RETURN false;
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
							 WHERE p.logicalrelid OPERATOR(pg_catalog.=) ''insure_stream.user_order''::pg_catalog.regclass)'
		INTO found;
	RETURN found;
END
$$;
COMMENT ON FUNCTION insure_stream.is_distributed() IS
	'true once distribute() made the tables of insure_stream Citus tables';
REVOKE ALL ON FUNCTION insure_stream.is_distributed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.is_distributed() TO @extowner@ WITH GRANT OPTION;

/*
 * verify() and rebuild() on a cluster: the re-derives are plain SQL over
 * the log that Citus cannot plan as written (correlated subqueries beside
 * CTEs, joins with each node's local rejected_events), so they run on the
 * coordinator over copies of the tables in the session's temporary schema,
 * read once through Citus (rejected_events: every node's, rejections()).
 * Returns that schema, the source the re-derives then read.  The copies
 * are the extension's own (made with its rights); a temporary table of the
 * same name already there makes the call fail rather than be read.
 */
CREATE FUNCTION insure_stream.cluster_copies(tables text[]) RETURNS name
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY tables LOOP
		IF t OPERATOR(pg_catalog.=) 'rejected_events' THEN
			CREATE TEMPORARY TABLE rejected_events ON COMMIT DROP AS
				SELECT r.table_name, r.ingest_seq FROM insure_stream.rejections() r;
		ELSE
			/* the columns with their defaults: rebuild() inserts into the copies */
			EXECUTE pg_catalog.format('CREATE TEMPORARY TABLE %I (LIKE insure_stream.%I INCLUDING DEFAULTS) ON COMMIT DROP',
									  t, t);
			EXECUTE pg_catalog.format('INSERT INTO pg_temp.%I SELECT * FROM insure_stream.%I', t, t);
		END IF;
		EXECUTE pg_catalog.format('ANALYZE pg_temp.%I', t);
	END LOOP;
	RETURN (SELECT n.nspname FROM pg_catalog.pg_namespace n
			 WHERE n.oid OPERATOR(pg_catalog.=) pg_catalog.pg_my_temp_schema());
END
$$;
COMMENT ON FUNCTION insure_stream.cluster_copies(text[]) IS
	'internal: copies tables of insure_stream into the session''s temporary schema (verify() and rebuild() on Citus)';
REVOKE ALL ON FUNCTION insure_stream.cluster_copies(text[]) FROM PUBLIC;

CREATE FUNCTION insure_stream.drop_cluster_copies(tables text[]) RETURNS void
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY tables LOOP
		EXECUTE pg_catalog.format('DROP TABLE pg_temp.%I', t);
	END LOOP;
END
$$;
COMMENT ON FUNCTION insure_stream.drop_cluster_copies(text[]) IS
	'internal: drops the copies cluster_copies() made';
REVOKE ALL ON FUNCTION insure_stream.drop_cluster_copies(text[]) FROM PUBLIC;

/*
 * Arrival order on a cluster (src/arrival.c): the event shards number and
 * stamp their own rows, so what a client sends for ingest_seq and
 * ingested_at (the coordinator's defaults, or values of its own) never
 * counts.  node_arrival is each node's counter (a number is counter * 256
 * + the node's Citus group, so the counter stops at 2^55 - 1);
 * node_arrival_checked the placements of this node whose numbers the
 * counter is known to be past, each by the Citus shard id of its
 * user_order or user_log shard (never reused, unlike a dropped shard's OID).
 * Both are each node's own, unused on one server, and not dumped.
 */
CREATE SEQUENCE insure_stream.node_arrival AS bigint MAXVALUE 36028797018963967;
COMMENT ON SEQUENCE insure_stream.node_arrival IS
	'on a Citus node: the counter of the arrival numbers its event shards give (counter * 256 + group)';
CREATE TABLE insure_stream.node_arrival_checked (shard bigint NOT NULL);
CREATE INDEX ON insure_stream.node_arrival_checked (shard);
COMMENT ON TABLE insure_stream.node_arrival_checked IS
	'on a Citus node: placements (by the shard id of their user_order or user_log shard) whose arrival numbers node_arrival is past';

/*
 * Not SECURITY DEFINER: it runs as the inserting role, and takes the
 * rights of the extension's objects and a pinned search_path itself for
 * its checks and set-up (the first row of a statement), not on every row.
 */
CREATE FUNCTION insure_stream.number_on_shard() RETURNS trigger
	LANGUAGE C
	AS 'MODULE_PATHNAME', 'insure_stream_number_on_shard';
COMMENT ON FUNCTION insure_stream.number_on_shard() IS
	'trigger on the Citus shards of the event tables: the node assigns ingest_seq and ingested_at';
REVOKE ALL ON FUNCTION insure_stream.number_on_shard() FROM PUBLIC;

CREATE FUNCTION insure_stream.distribute(shard_count integer DEFAULT NULL)
	RETURNS TABLE (table_name text, distribution text)
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	t record;
	owner_name name := (SELECT r.rolname FROM pg_catalog.pg_extension e
						  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) e.extowner
						 WHERE e.extname OPERATOR(pg_catalog.=) 'insure_stream');
BEGIN
	IF shard_count IS NOT NULL AND (shard_count OPERATOR(pg_catalog.<) 1 OR shard_count OPERATOR(pg_catalog.>) 64000) THEN
		RAISE EXCEPTION 'invalid shard count "%"', shard_count
			USING ERRCODE = '22023', HINT = 'A shard count is between 1 and 64000.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'citus') THEN
		RAISE EXCEPTION 'Citus is not installed in this database'
			USING ERRCODE = '55000',
				  HINT = 'Run CREATE EXTENSION citus on the coordinator and add the workers first.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_node n WHERE n.groupid OPERATOR(pg_catalog.=) 0) THEN
		RAISE EXCEPTION 'the coordinator is not in the Citus metadata'
			USING ERRCODE = '55000',
				  DETAIL = 'The settings are a reference table, which every node, the coordinator too, reads locally.',
				  HINT = 'Run SELECT citus_set_coordinator_host(''<host>'', <port>); on the coordinator.';
	END IF;
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	/* the row whose lock orders compaction and late writers on every node (src/orders.c) */
	INSERT INTO insure_stream.maintenance_state (name, value) VALUES ('orders_closed_before', '-infinity')
		ON CONFLICT (name) DO NOTHING;
	FOR t IN
		SELECT v.name, v.key, v.colocate_with
		  FROM (VALUES (1, 'config', NULL, NULL),
					   (2, 'maintenance_state', NULL, NULL),
					   (3, 'order_hour_closed', NULL, NULL),
					   (4, 'user_order', 'id', 'none'),
					   (5, 'order_state', 'id', 'insure_stream.user_order'),
					   (6, 'order_last_closed', 'id', 'insure_stream.user_order'),
					   (7, 'update_info', 'id', 'insure_stream.user_order'),
					   (8, 'raw_info', 'id', 'insure_stream.user_order'),
					   (9, 'premium_alert', 'id', 'insure_stream.user_order'),
					   (10, 'premium_applied', 'id', 'insure_stream.user_order'),
					   (13, 'alert_outbox', 'id', 'insure_stream.user_order'),
					   (11, 'user_log', 'account_id', 'none'),
					   (12, 'page_state', 'account_id', 'insure_stream.user_log'))
				AS v(ord, name, key, colocate_with)
		 ORDER BY v.ord
	LOOP
		table_name := 'insure_stream.' OPERATOR(pg_catalog.||) t.name;
		IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
					WHERE p.logicalrelid OPERATOR(pg_catalog.=) table_name::pg_catalog.regclass) THEN
			distribution := 'already distributed';
		ELSE
			/*
			 * The rows copied into the shards were applied when they were
			 * ingested: no trigger of ours fires for the copy (the shards
			 * get the triggers as the table has them, disabled).
			 */
			EXECUTE pg_catalog.format('ALTER TABLE %s DISABLE TRIGGER USER', table_name);
			IF t.key IS NULL THEN
				PERFORM pg_catalog.create_reference_table(table_name::pg_catalog.regclass);
				distribution := 'reference';
			ELSE
				IF t.colocate_with OPERATOR(pg_catalog.=) 'none' THEN
					PERFORM pg_catalog.create_distributed_table(table_name::pg_catalog.regclass, t.key,
																colocate_with => 'none',
																shard_count => shard_count);
				ELSE
					PERFORM pg_catalog.create_distributed_table(table_name::pg_catalog.regclass, t.key,
																colocate_with => t.colocate_with);
				END IF;
				distribution := 'by ' OPERATOR(pg_catalog.||) t.key;
			END IF;
			PERFORM pg_catalog.truncate_local_data_after_distributing_table(table_name::pg_catalog.regclass);
			IF t.name OPERATOR(pg_catalog.=) ANY (ARRAY['user_order', 'update_info', 'user_log']) THEN
				/* the shards number their rows (src/arrival.c), so the owner may pass the columns on */
				EXECUTE pg_catalog.format('CREATE TRIGGER number_on_shard BEFORE INSERT ON %s'
										  ' FOR EACH ROW EXECUTE FUNCTION insure_stream.number_on_shard()', table_name);
				EXECUTE pg_catalog.format('GRANT INSERT (ingest_seq, ingested_at) ON %s TO %I WITH GRANT OPTION',
										  table_name, owner_name);
			END IF;
			EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE TRIGGER USER', table_name);
		END IF;
		RETURN NEXT;
	END LOOP;
	table_name := 'insure_stream.track_page';
	PERFORM pg_catalog.create_distributed_function(
		'insure_stream.track_page(text, text, text, text, bigint)'::pg_catalog.regprocedure,
		'account_id', colocate_with => 'insure_stream.user_log');
	distribution := 'delegated by account_id';
	RETURN NEXT;
END
$$;
COMMENT ON FUNCTION insure_stream.distribute(integer) IS
	'on a Citus coordinator: distributes the tables of insure_stream (events and state by user or account, settings as reference tables)';
REVOKE ALL ON FUNCTION insure_stream.distribute(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.distribute(integer) TO @extowner@;

/*
 * Before DROP EXTENSION on a cluster: drops the shards of the extension's
 * Citus tables on every node, with their data, and their Citus metadata,
 * leaving the coordinator's empty local tables.  DROP EXTENSION alone
 * leaves the shards behind (Citus's drop trigger takes a table dropped
 * through its extension for a partition dropped with its parent and
 * removes only the shards' metadata), and fails for an owner who is not a
 * superuser (the trigger drops the workers' tables as the session's role,
 * and they are the bootstrap superuser's); docs/citus.md.  Run by the
 * owner on the coordinator, right before DROP EXTENSION.
 */
CREATE FUNCTION insure_stream.drop_shards()
	RETURNS TABLE (table_name text, shards integer)
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	t record;
BEGIN
	IF NOT insure_stream.is_distributed() THEN
		RAISE EXCEPTION 'insure_stream is not distributed'
			USING ERRCODE = '55000',
				  HINT = 'On one server DROP EXTENSION removes everything; drop_shards() is for a Citus coordinator.';
	END IF;
	FOR t IN EXECUTE
		'SELECT c.oid, c.relname
		   FROM pg_catalog.pg_dist_partition p
		   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.logicalrelid
		   JOIN pg_catalog.pg_depend d ON d.classid OPERATOR(pg_catalog.=) ''pg_catalog.pg_class''::pg_catalog.regclass
								  AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) ''e''
		   JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
		  WHERE e.extname OPERATOR(pg_catalog.=) ''insure_stream''
		    AND c.relnamespace OPERATOR(pg_catalog.=) ''insure_stream''::pg_catalog.regnamespace
		  ORDER BY c.relname'
	LOOP
		/* what Citus's drop trigger does for a dropped table, as the tables' owner */
		table_name := 'insure_stream.' OPERATOR(pg_catalog.||) t.relname;
		EXECUTE 'SELECT pg_catalog.master_remove_distributed_table_metadata_from_workers($1, ''insure_stream'', $2)'
			USING t.oid::pg_catalog.regclass, t.relname::pg_catalog.text;
		EXECUTE 'SELECT pg_catalog.citus_drop_all_shards($1, ''insure_stream'', $2, false)'
			INTO shards USING t.oid::pg_catalog.regclass, t.relname::pg_catalog.text;
		EXECUTE 'SELECT pg_catalog.master_remove_partition_metadata($1, ''insure_stream'', $2)'
			USING t.oid::pg_catalog.regclass, t.relname::pg_catalog.text;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION insure_stream.drop_shards() IS
	'on a Citus coordinator, before DROP EXTENSION: drops the shards of the extension''s tables (and their data) on every node and their Citus metadata';
REVOKE ALL ON FUNCTION insure_stream.drop_shards() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.drop_shards() TO @extowner@;

/*
 * Sends the queued notifications of alerts (notify = deferred, or raised on
 * Citus workers) to the listeners of this server (on a cluster, the
 * coordinator's), oldest event first, at most max_alerts of them
 * (PostgreSQL keeps a transaction's notifications in memory until its
 * commit), and removes what it sent.  It sends only the rows its own
 * DELETE removed, so two callers at once never send one alert twice: the
 * second DELETE waits for the first and then finds the rows gone.  Run it
 * often: from pg_cron every few seconds, or in the listener's own loop.
 */
CREATE FUNCTION insure_stream.forward_alerts(max_alerts integer DEFAULT 10000) RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	ids bigint[];
	seqs bigint[];
	payloads text[];
BEGIN
	SELECT pg_catalog.array_agg(o.id), pg_catalog.array_agg(o.alert_seq)
	  INTO ids, seqs
	  FROM (SELECT a.id, a.alert_seq FROM insure_stream.alert_outbox a
			 ORDER BY a.alert_seq LIMIT max_alerts) o;
	IF ids IS NULL THEN
		RETURN 0;
	END IF;
	/* alert_seq is the event's arrival number: it alone names a row */
	WITH sent AS (
		DELETE FROM insure_stream.alert_outbox a
		 WHERE a.id OPERATOR(pg_catalog.=) ANY (ids)
		   AND a.alert_seq OPERATOR(pg_catalog.=) ANY (seqs)
		RETURNING a.alert_seq, a.payload)
	SELECT pg_catalog.array_agg(s.payload ORDER BY s.alert_seq) INTO payloads FROM sent s;
	IF payloads IS NULL THEN
		RETURN 0;
	END IF;
	FOR i IN 1 .. pg_catalog.array_length(payloads, 1) LOOP
		PERFORM pg_catalog.pg_notify('insure_stream_premium_drop', payloads[i]);
	END LOOP;
	RETURN pg_catalog.array_length(payloads, 1);
END
$$;
COMMENT ON FUNCTION insure_stream.forward_alerts(integer) IS
	'notifies the queued alerts (notify = deferred, or raised on Citus workers) on channel insure_stream_premium_drop; returns how many';
REVOKE ALL ON FUNCTION insure_stream.forward_alerts(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.forward_alerts(integer) TO @extowner@ WITH GRANT OPTION;

/*
 * purge_events() on a cluster: each shard of the event table purged on its
 * node (the event tables' guard lets only purge_event_rows() delete, and
 * only in the backend running it), each in a transaction of its own, as
 * Citus runs commands on shards.  A purge is idempotent: one that failed
 * half-way is finished by the next.
 */
CREATE FUNCTION insure_stream.purge_event_shards(table_name text, before_ms bigint, before_ts timestamptz)
	RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	removed bigint := 0;
	r record;
BEGIN
	FOR r IN EXECUTE
		'SELECT s.success, s.result FROM pg_catalog.run_command_on_shards($1, $2) s'
		USING 'insure_stream.' OPERATOR(pg_catalog.||) table_name,
			  pg_catalog.format('SELECT insure_stream.purge_event_rows(pg_catalog.substr(''%%s'', 15), %s, %L)',
								before_ms, before_ts)
	LOOP
		IF NOT r.success THEN
			RAISE EXCEPTION 'could not purge a shard of insure_stream.%: %', table_name, r.result
				USING ERRCODE = '55000';
		END IF;
		removed := removed OPERATOR(pg_catalog.+) r.result::pg_catalog.int8;
	END LOOP;
	RETURN removed;
END
$$;
COMMENT ON FUNCTION insure_stream.purge_event_shards(text, bigint, timestamptz) IS
	'internal: purge_event_rows() on every shard of an event table (Citus)';
REVOKE ALL ON FUNCTION insure_stream.purge_event_shards(text, bigint, timestamptz) FROM PUBLIC;
