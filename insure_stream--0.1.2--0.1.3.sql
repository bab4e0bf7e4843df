/* insure_stream--0.1.2--0.1.3.sql: update script */

/* complain if script is sourced in psql, rather than via ALTER EXTENSION */
\echo Use "ALTER EXTENSION insure_stream UPDATE TO '0.1.3'" to load this file. \quit

/*
 * user_last_log becomes a view over page_state, as last_order and
 * hs_order are views over their state.  Its rows were a copy of one pair
 * per account: keeping the copy cost every page view a second row write
 * and serialized the writers of an account's different devices on the
 * account's row.  What it shows is unchanged: per account the pair with
 * the greatest (log_time, ingest_seq).  DISTINCT ON keeps a filter on
 * account_id inside the view, so one account is one short index scan.
 */
ALTER EXTENSION insure_stream DROP TABLE insure_stream.user_last_log;
DROP TABLE insure_stream.user_last_log;

CREATE VIEW insure_stream.user_last_log AS
	SELECT DISTINCT ON (s.account_id) s.account_id, s.device_id, s.bury_point_type, s.page_name
	  FROM insure_stream.page_state s
	 ORDER BY s.account_id, s.log_time DESC, s.log_seq DESC;
COMMENT ON VIEW insure_stream.user_last_log IS
	'per account: the device with the latest page view and its last page type and name';
GRANT SELECT ON insure_stream.user_last_log TO @extowner@ WITH GRANT OPTION;

COMMENT ON FUNCTION insure_stream.user_log_apply() IS
	'trigger: folds a statement''s page views into page_state (user_last_log is a view over it)';
COMMENT ON FUNCTION insure_stream.verify_pagelog() IS
	'verify() for Scenario 3: page_state and the user_last_log view against user_log';
COMMENT ON FUNCTION insure_stream.rebuild_pagelog() IS
	'rebuild() for Scenario 3: re-derives page_state from user_log';

/*
 * rebuild(): pairs fed by the log alone are re-derived from it; pairs with
 * track_page() input or purged events keep what they have and get the log
 * merged in (merging is idempotent): per column the non-null value with
 * the greatest (time, seq), as the triggers merge.  EXCLUSIVE on
 * page_state holds off the writers of pairs (the triggers and
 * track_page()) meanwhile.
 */
CREATE OR REPLACE FUNCTION insure_stream.rebuild_pagelog() RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	parts CONSTANT integer := 10;
BEGIN
	LOCK TABLE insure_stream.user_log IN SHARE MODE;
	LOCK TABLE insure_stream.page_state IN EXCLUSIVE MODE;
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
			(log_time, log_seq) =
				(SELECT v.t, v.seq FROM (VALUES (s.log_time, s.log_seq), (excluded.log_time, excluded.log_seq)) AS v(t, seq)
				  ORDER BY v.t DESC, v.seq DESC LIMIT 1),
			(bury_point_type, bury_point_type_at, bury_point_type_seq) =
				(SELECT v.x, v.t, v.seq
				   FROM (VALUES (s.bury_point_type, s.bury_point_type_at, s.bury_point_type_seq),
								(excluded.bury_point_type, excluded.bury_point_type_at, excluded.bury_point_type_seq)) AS v(x, t, seq)
				  WHERE v.x IS NOT NULL ORDER BY v.t DESC, v.seq DESC LIMIT 1),
			(page_name, page_name_at, page_name_seq) =
				(SELECT v.x, v.t, v.seq
				   FROM (VALUES (s.page_name, s.page_name_at, s.page_name_seq),
								(excluded.page_name, excluded.page_name_at, excluded.page_name_seq)) AS v(x, t, seq)
				  WHERE v.x IS NOT NULL ORDER BY v.t DESC, v.seq DESC LIMIT 1);
		PERFORM insure_stream.rebuild_progress('user_log', part, parts);
	END LOOP;
END
$$;

/*
 * New entry points for the page-view code (the old ones refuse to run
 * against the objects of 0.1.2 and before).  The state is written directly,
 * with no SQL, so the planner settings of the other triggers are not set
 * (CREATE OR REPLACE sets the function's settings anew).
 */
CREATE OR REPLACE FUNCTION insure_stream.user_log_apply() RETURNS trigger
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'insure_stream_user_log_apply_v2';

CREATE OR REPLACE FUNCTION insure_stream.track_page(account_id text, device_id text,
													bury_point_type text, page_name text, log_time bigint)
	RETURNS void
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'insure_stream_track_page_v2';

/*
 * Every matched policy change rewrites its key customer's raw_info row and
 * premium_applied row, and an alert its premium_alert row.  Half-full pages
 * leave room for the new versions on the same page, so the updates stay
 * HOT and add no index entries.  A 1M-event COPY over 100k freshly loaded
 * key customers: HOT updates 0% -> 51% (raw_info) and 0% -> 100%
 * (premium_applied), and the COPY about an eighth faster.  Pages written
 * from now on use it.
 */
ALTER TABLE insure_stream.raw_info SET (fillfactor = 50);
ALTER TABLE insure_stream.premium_applied SET (fillfactor = 50);
ALTER TABLE insure_stream.premium_alert SET (fillfactor = 50);
