/*
 * ======================================================================
 * Scenario 3: last page per account (src/page_views.c)
 * ======================================================================
 */

/*
 * Per (account, device) the last non-null page type and name, each with the
 * (log_time, ingest_seq) of the event that set it.  device_key is 'n' for a
 * null device and 'd' || device_id otherwise ('' is a device).
 *
 * A value set by the pair's latest event (most are) is stored without a
 * time and number of its own: they are the row's log_time and log_seq, and
 * NULL there saves a quarter of the row (0.2.1).
 *
 * The rows are rewritten in place many times (every page view of an
 * account updates its pair).  Half-full pages leave room for the new
 * versions on the same page, so the updates stay HOT and add no index
 * entries (a 1M-row COPY runs about a fifth faster).
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
) WITH (fillfactor = 80);	/* a fifth of each page for HOT updates; a bulk load writes 3/8 fewer pages than at 50 */
COMMENT ON TABLE insure_stream.page_state IS
	'per account and device: last non-null page values with the (log_time, ingest_seq) that set them';
COMMENT ON COLUMN insure_stream.page_state.from_calls IS
	'true when track_page() calls (which leave no log row) contributed';
COMMENT ON COLUMN insure_stream.page_state.bury_point_type_at IS
	'log_time of the event that set bury_point_type; NULL (with _seq) when that is the row''s latest event (log_time, log_seq)';
COMMENT ON COLUMN insure_stream.page_state.page_name_at IS
	'log_time of the event that set page_name; NULL (with _seq) when that is the row''s latest event (log_time, log_seq)';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.page_state', '');
GRANT SELECT, INSERT ON insure_stream.page_state TO @extowner@;

/*
 * user_last_log is a view over page_state, as last_order and hs_order are
 * views over their state (up to 0.1.2 it was a table holding a copy of one
 * pair per account: keeping the copy cost every page view a second row
 * write and serialized the writers of an account's different devices on
 * the account's row).  Per account it shows the pair with the greatest
 * (log_time, ingest_seq).  DISTINCT ON keeps a filter on account_id inside
 * the view, so one account is one short index scan.
 */
CREATE VIEW insure_stream.user_last_log AS
	SELECT DISTINCT ON (s.account_id) s.account_id, s.device_id, s.bury_point_type, s.page_name
	  FROM insure_stream.page_state s
	 ORDER BY s.account_id, s.log_time DESC, s.log_seq DESC;
COMMENT ON VIEW insure_stream.user_last_log IS
	'per account: the device with the latest page view and its last page type and name';
GRANT SELECT ON insure_stream.user_last_log TO @extowner@ WITH GRANT OPTION;

/* user_last_log of some accounts, as last_order_of() is of last_order */
CREATE FUNCTION insure_stream.user_last_log_of(account_ids text[] DEFAULT NULL)
	RETURNS SETOF insure_stream.user_last_log
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF account_ids IS NULL THEN
		RETURN QUERY SELECT l.* FROM insure_stream.user_last_log l;
	ELSE
		RETURN QUERY SELECT l.* FROM insure_stream.user_last_log l
					  WHERE l.account_id OPERATOR(pg_catalog.=) ANY (account_ids);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.user_last_log_of(text[]) IS
	'the rows of user_last_log of the given accounts (all accounts when NULL), read with the extension''s rights';
REVOKE ALL ON FUNCTION insure_stream.user_last_log_of(text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.user_last_log_of(text[]) TO @extowner@ WITH GRANT OPTION;

/*
 * The state is written directly, with no SQL, so the planner settings of
 * the other triggers are not set.  (The _v3 entry points store a value's
 * own time as NULL, see page_state; _v2 writes it out for the objects of
 * 0.1.3 to 0.2.0; the first ones refuse to run against those of 0.1.2.)
 */
CREATE FUNCTION insure_stream.user_log_apply() RETURNS trigger
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'insure_stream_user_log_apply_v3';
COMMENT ON FUNCTION insure_stream.user_log_apply() IS
	'trigger: folds a statement''s page views into page_state (user_last_log is a view over it)';
REVOKE ALL ON FUNCTION insure_stream.user_log_apply() FROM PUBLIC;

CREATE TRIGGER user_log_apply AFTER INSERT ON insure_stream.user_log
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.user_log_apply();

CREATE FUNCTION insure_stream.track_page(account_id text, device_id text,
										 bury_point_type text, page_name text, log_time bigint)
	RETURNS void
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'insure_stream_track_page_v3';
COMMENT ON FUNCTION insure_stream.track_page(text, text, text, text, bigint) IS
	'records a page view without a log row: same state and semantics as inserting into user_log';
REVOKE ALL ON FUNCTION insure_stream.track_page(text, text, text, text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.track_page(text, text, text, text, bigint) TO @extowner@ WITH GRANT OPTION;

/*
 * page_state recomputed from user_log with plain SQL, from the tables of the
 * schema source (insure_stream, or on a cluster the session's copies)
 */
CREATE FUNCTION insure_stream.derive_page_state(part integer DEFAULT 0, parts integer DEFAULT 1,
												source name DEFAULT 'insure_stream')
	RETURNS TABLE (account_id varchar, device_key varchar, device_id varchar,
				   log_time bigint, log_seq bigint,
				   bury_point_type varchar, bury_point_type_at bigint, bury_point_type_seq bigint,
				   page_name varchar, page_name_at bigint, page_name_seq bigint)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN QUERY EXECUTE pg_catalog.format($q$
		SELECT d.account_id, d.device_key, d.device_id, d.log_time, d.log_seq,
			   d.bury_point_type,
			   CASE WHEN d.bury_point_type_at OPERATOR(pg_catalog.=) d.log_time AND d.bury_point_type_seq OPERATOR(pg_catalog.=) d.log_seq
					THEN NULL ELSE d.bury_point_type_at END,
			   CASE WHEN d.bury_point_type_at OPERATOR(pg_catalog.=) d.log_time AND d.bury_point_type_seq OPERATOR(pg_catalog.=) d.log_seq
					THEN NULL ELSE d.bury_point_type_seq END,
			   d.page_name,
			   CASE WHEN d.page_name_at OPERATOR(pg_catalog.=) d.log_time AND d.page_name_seq OPERATOR(pg_catalog.=) d.log_seq
					THEN NULL ELSE d.page_name_at END,
			   CASE WHEN d.page_name_at OPERATOR(pg_catalog.=) d.log_time AND d.page_name_seq OPERATOR(pg_catalog.=) d.log_seq
					THEN NULL ELSE d.page_name_seq END
		  FROM (
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
			  FROM %1$I.user_log e
			 WHERE e.account_id IS NOT NULL AND e.log_time IS NOT NULL
			   AND ((pg_catalog.hashtext(e.account_id) OPERATOR(pg_catalog.%%) $2) OPERATOR(pg_catalog.+) $2)
					OPERATOR(pg_catalog.%%) $2 OPERATOR(pg_catalog.=) $1
			   AND NOT EXISTS (SELECT 1 FROM %1$I.rejected_events r
								WHERE r.table_name OPERATOR(pg_catalog.=) 'user_log'
								  AND r.ingest_seq OPERATOR(pg_catalog.=) e.ingest_seq)
			 GROUP BY e.account_id, e.device_id
		  ) AS d (account_id, device_key, device_id, log_time, log_seq,
				  bury_point_type, bury_point_type_at, bury_point_type_seq,
				  page_name, page_name_at, page_name_seq)
	$q$, source) USING part, parts;
END
$$;
COMMENT ON FUNCTION insure_stream.derive_page_state(integer, integer, name) IS
	'per (account, device) page state recomputed from user_log with plain SQL (the accounts of one part of several)';
REVOKE ALL ON FUNCTION insure_stream.derive_page_state(integer, integer, name) FROM PUBLIC;

/*
 * verify(): pairs and accounts fed by the log alone are compared with the
 * log; accounts with a pair fed by track_page(), or whose time or a value
 * came from purged events, cannot be recomputed and are left out.
 */
CREATE FUNCTION insure_stream.verify_pagelog(source name,
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN QUERY EXECUTE pg_catalog.format($q$
		WITH d AS MATERIALIZED (
			SELECT * FROM insure_stream.derive_page_state(0, 1, %1$L)
		), skipped AS (
			SELECT DISTINCT s.account_id FROM %1$I.page_state s
			 WHERE s.from_calls OR s.log_time OPERATOR(pg_catalog.<) insure_stream.events_purged_before_ms()
				OR s.bury_point_type_at OPERATOR(pg_catalog.<) insure_stream.events_purged_before_ms()
				OR s.page_name_at OPERATOR(pg_catalog.<) insure_stream.events_purged_before_ms()
		), stored AS (
			SELECT s.account_id, s.device_key, s.device_id, s.log_time, s.log_seq,
				   s.bury_point_type,
				   CASE WHEN s.bury_point_type_at OPERATOR(pg_catalog.=) s.log_time
							 AND s.bury_point_type_seq OPERATOR(pg_catalog.=) s.log_seq
						THEN NULL ELSE s.bury_point_type_at END AS bury_point_type_at,
				   CASE WHEN s.bury_point_type_at OPERATOR(pg_catalog.=) s.log_time
							 AND s.bury_point_type_seq OPERATOR(pg_catalog.=) s.log_seq
						THEN NULL ELSE s.bury_point_type_seq END AS bury_point_type_seq,
				   s.page_name,
				   CASE WHEN s.page_name_at OPERATOR(pg_catalog.=) s.log_time
							 AND s.page_name_seq OPERATOR(pg_catalog.=) s.log_seq
						THEN NULL ELSE s.page_name_at END AS page_name_at,
				   CASE WHEN s.page_name_at OPERATOR(pg_catalog.=) s.log_time
							 AND s.page_name_seq OPERATOR(pg_catalog.=) s.log_seq
						THEN NULL ELSE s.page_name_seq END AS page_name_seq
			  FROM %1$I.page_state s
		), pairs AS (
			SELECT 'page_state'::text,
				   pg_catalog.format('%%s %%s', COALESCE(d.account_id, s.account_id), COALESCE(d.device_key, s.device_key)),
				   '*'::text,
				   (d.device_id, d.log_time, d.log_seq, d.bury_point_type, d.bury_point_type_at,
					d.bury_point_type_seq, d.page_name, d.page_name_at, d.page_name_seq)::text,
				   (s.device_id, s.log_time, s.log_seq, s.bury_point_type, s.bury_point_type_at,
					s.bury_point_type_seq, s.page_name, s.page_name_at, s.page_name_seq)::text
			  FROM d FULL JOIN stored s
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
			  FROM last_expected e FULL JOIN %1$I.user_last_log a
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
	$q$, source);
END
$$;
COMMENT ON FUNCTION insure_stream.verify_pagelog(name) IS
	'verify() for Scenario 3: page_state and the user_last_log view against user_log';
REVOKE ALL ON FUNCTION insure_stream.verify_pagelog(name) FROM PUBLIC;

/*
 * rebuild(): pairs fed by the log alone are re-derived from it; pairs with
 * track_page() input or purged events keep what they have and get the log
 * merged in (merging is idempotent): per column the non-null value with
 * the greatest (time, seq), as the triggers merge (a NULL _at/_seq is the
 * row's own log_time and log_seq, and is written so again).  EXCLUSIVE on
 * page_state holds off the writers of pairs (the triggers and
 * track_page()) meanwhile on one server.  On a Citus cluster the log is
 * read from the session's copy (cluster_copies()) and track_page(), run on
 * the workers, is not held off: a pair it writes meanwhile is kept (it is
 * a pair with calls then, or is merged into by the insert below), as the
 * merge loses nothing either writes.
 */
CREATE FUNCTION insure_stream.rebuild_pagelog() RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	parts CONSTANT integer := 10;
	on_cluster CONSTANT boolean := insure_stream.is_distributed();
	source name := 'insure_stream';
	purged_before bigint;
BEGIN
	LOCK TABLE insure_stream.user_log IN SHARE MODE;
	LOCK TABLE insure_stream.page_state IN EXCLUSIVE MODE;
	purged_before := insure_stream.events_purged_before_ms();
	IF on_cluster THEN
		source := insure_stream.cluster_copies(ARRAY['user_log', 'rejected_events']);
	END IF;
	DELETE FROM insure_stream.page_state s
	 WHERE NOT s.from_calls
	   AND s.log_time OPERATOR(pg_catalog.>=) purged_before
	   AND (s.bury_point_type_at IS NULL OR s.bury_point_type_at OPERATOR(pg_catalog.>=) purged_before)
	   AND (s.page_name_at IS NULL OR s.page_name_at OPERATOR(pg_catalog.>=) purged_before);
	FOR part IN 0 .. parts - 1 LOOP
		INSERT INTO insure_stream.page_state AS s
			(account_id, device_key, device_id, log_time, log_seq,
			 bury_point_type, bury_point_type_at, bury_point_type_seq,
			 page_name, page_name_at, page_name_seq)
		SELECT * FROM insure_stream.derive_page_state(part, parts, source)
		ON CONFLICT (account_id, device_key) DO UPDATE SET
			(log_time, log_seq, bury_point_type, bury_point_type_at, bury_point_type_seq,
			 page_name, page_name_at, page_name_seq) =
				(SELECT r.t, r.seq,
						y.x, CASE WHEN y.t OPERATOR(pg_catalog.=) r.t AND y.seq OPERATOR(pg_catalog.=) r.seq
						THEN NULL ELSE y.t END,
						CASE WHEN y.t OPERATOR(pg_catalog.=) r.t AND y.seq OPERATOR(pg_catalog.=) r.seq
						THEN NULL ELSE y.seq END,
						p.x, CASE WHEN p.t OPERATOR(pg_catalog.=) r.t AND p.seq OPERATOR(pg_catalog.=) r.seq
						THEN NULL ELSE p.t END,
						CASE WHEN p.t OPERATOR(pg_catalog.=) r.t AND p.seq OPERATOR(pg_catalog.=) r.seq
						THEN NULL ELSE p.seq END
				   FROM (SELECT v.t, v.seq FROM (VALUES (s.log_time, s.log_seq), (excluded.log_time, excluded.log_seq)) AS v(t, seq)
						  ORDER BY v.t DESC, v.seq DESC LIMIT 1) AS r
				   LEFT JOIN (SELECT v.x, v.t, v.seq
					   FROM (VALUES (s.bury_point_type, COALESCE(s.bury_point_type_at, s.log_time), COALESCE(s.bury_point_type_seq, s.log_seq)),
									(excluded.bury_point_type, COALESCE(excluded.bury_point_type_at, excluded.log_time),
									 COALESCE(excluded.bury_point_type_seq, excluded.log_seq))) AS v(x, t, seq)
					  WHERE v.x IS NOT NULL ORDER BY v.t DESC, v.seq DESC LIMIT 1) AS y ON true
				   LEFT JOIN (SELECT v.x, v.t, v.seq
					   FROM (VALUES (s.page_name, COALESCE(s.page_name_at, s.log_time), COALESCE(s.page_name_seq, s.log_seq)),
									(excluded.page_name, COALESCE(excluded.page_name_at, excluded.log_time),
									 COALESCE(excluded.page_name_seq, excluded.log_seq))) AS v(x, t, seq)
					  WHERE v.x IS NOT NULL ORDER BY v.t DESC, v.seq DESC LIMIT 1) AS p ON true);
		PERFORM insure_stream.rebuild_progress('user_log', part, parts);
	END LOOP;
	IF on_cluster THEN
		PERFORM insure_stream.drop_cluster_copies(ARRAY['user_log', 'rejected_events']);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.rebuild_pagelog() IS
	'rebuild() for Scenario 3: re-derives page_state from user_log';
REVOKE ALL ON FUNCTION insure_stream.rebuild_pagelog() FROM PUBLIC;

/* == end of Scenario 3 == */
