/* insure_stream--0.2.0--0.2.1.sql: update script (hour figures read from the states) */

/* complain if script is sourced in psql, rather than via ALTER EXTENSION */
\echo Use "ALTER EXTENSION insure_stream UPDATE TO '0.2.1'" to load this file. \quit

/*
 * 0.2.1 writes what the work needs: the orders trigger writes only the
 * per-(user, day) states, each with its hour; hs_order computes the open
 * days' figures from them when read, and keeps the closed days' figures,
 * computed once by compact_orders().  The reference counts
 * (order_hour_value) and the writers' partial hour rows (order_hour_part)
 * go.  Results are unchanged.  See docs/design.md.  Functions and views
 * are replaced in place, which keeps the privileges granted on them.
 */

/* ======================================================================
 * 1. order_state carries its hour, with room for HOT updates
 * ====================================================================== */
ALTER TABLE insure_stream.order_state ADD COLUMN biz_date varchar COLLATE "C";
UPDATE insure_stream.order_state s
   SET biz_date = insure_stream.order_biz_date(s.gmt_modified, insure_stream.setting('time_zone'));
ALTER TABLE insure_stream.order_state ALTER COLUMN biz_date SET NOT NULL;
ALTER TABLE insure_stream.order_state SET (fillfactor = 80);
/* page pairs too (50 since 0.1.2): pages written from now on */
ALTER TABLE insure_stream.page_state SET (fillfactor = 80);
COMMENT ON TABLE insure_stream.order_state IS
	'per user and open day: last non-null order values with the (gmt_modified, ingest_seq) that set them, and their hour';

/* ======================================================================
 * 2. What the closed days keep
 * ====================================================================== */
/*
 * What compact_orders() keeps of the closed days: per user the state of
 * the latest closed day (for last_order), and per hour of a closed day its
 * figures, computed once from the states when the day closed.
 */
CREATE TABLE insure_stream.order_last_closed (
	id					bigint NOT NULL PRIMARY KEY,
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
	biz_date			varchar COLLATE "C" NOT NULL
);
COMMENT ON TABLE insure_stream.order_last_closed IS
	'per user: the order state of the latest closed day';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.order_last_closed', '');

CREATE TABLE insure_stream.order_hour_closed (
	biz_date	varchar COLLATE "C" NOT NULL PRIMARY KEY,
	users		bigint NOT NULL,
	premium		numeric NOT NULL,
	policies	bigint NOT NULL,
	holders		bigint NOT NULL
);
COMMENT ON TABLE insure_stream.order_hour_closed IS
	'hour figures of the closed days (users, exact premium sum, distinct policies and holders)';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.order_hour_closed', '');

/*
 * To the extension's owner, as the fresh install grants its data tables
 * (for pg_dump and restore): @extowner@ would be whoever runs the update.
 */
DO $$
DECLARE
	owner_name name;
BEGIN
	SELECT r.rolname INTO owner_name
	  FROM pg_catalog.pg_extension e
	  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) e.extowner
	 WHERE e.extname OPERATOR(pg_catalog.=) 'insure_stream';
	EXECUTE pg_catalog.format('GRANT SELECT, INSERT ON insure_stream.order_last_closed, '
							  'insure_stream.order_hour_closed TO %I', owner_name);
END
$$;

/*
 * Days closed by 0.2.0's compaction: their hours' figures were the folded
 * partial rows, and their states in order_state were each user's latest.
 */
INSERT INTO insure_stream.order_hour_closed (biz_date, users, premium, policies, holders)
SELECT p.biz_date, pg_catalog.sum(p.users), pg_catalog.sum(p.premium),
	   pg_catalog.sum(p.policies), pg_catalog.sum(p.holders)
  FROM insure_stream.order_hour_part p,
	   (SELECT m.value::pg_catalog.date AS before FROM insure_stream.maintenance_state m
		 WHERE m.name OPERATOR(pg_catalog.=) 'orders_closed_before') c
 WHERE p.biz_date OPERATOR(pg_catalog.<) pg_catalog.to_char(c.before, 'YYYYMMDD')
 GROUP BY p.biz_date
HAVING pg_catalog.sum(p.users) OPERATOR(pg_catalog.>) 0;

INSERT INTO insure_stream.order_last_closed
	(id, day, gmt_modified, gmt_seq, order_no, order_no_at, order_no_seq,
	 customer_tel, customer_tel_at, customer_tel_seq,
	 account_payble, account_payble_at, account_payble_seq, biz_date)
SELECT DISTINCT ON (s.id)
	   s.id, s.day, s.gmt_modified, s.gmt_seq, s.order_no, s.order_no_at, s.order_no_seq,
	   s.customer_tel, s.customer_tel_at, s.customer_tel_seq,
	   s.account_payble, s.account_payble_at, s.account_payble_seq, s.biz_date
  FROM insure_stream.order_state s,
	   (SELECT m.value::pg_catalog.date AS before FROM insure_stream.maintenance_state m
		 WHERE m.name OPERATOR(pg_catalog.=) 'orders_closed_before') c
 WHERE s.day OPERATOR(pg_catalog.<) c.before
 ORDER BY s.id, s.day DESC;

DELETE FROM insure_stream.order_state s
 USING (SELECT m.value::pg_catalog.date AS before FROM insure_stream.maintenance_state m
		 WHERE m.name OPERATOR(pg_catalog.=) 'orders_closed_before') c
 WHERE s.day OPERATOR(pg_catalog.<) c.before;

/* ======================================================================
 * 3. Results read from the states; the write-side tables go
 * ====================================================================== */
/*
 * The hours of closed days as compact_orders() stored them, and the hours
 * of the open days computed from their states: distinct counts exact by
 * construction, nothing to retract on the write path.  An hour is in one
 * branch only (a day closes whole, and no state enters a closed day).
 */
CREATE OR REPLACE VIEW insure_stream.hs_order AS
	SELECT c.biz_date,
		   insure_stream.exact_sum_to_double(c.premium) AS total_premium,
		   c.policies AS policy_cnt,
		   c.holders AS policy_holder_cnt
	  FROM insure_stream.order_hour_closed c
	UNION ALL
	SELECT s.biz_date,
		   insure_stream.exact_sum_to_double(
			   pg_catalog.sum(COALESCE(s.account_payble, 0)::pg_catalog.numeric)),
		   pg_catalog.count(DISTINCT s.order_no),
		   pg_catalog.count(DISTINCT s.customer_tel)
	  FROM insure_stream.order_state s
	 GROUP BY s.biz_date;
COMMENT ON VIEW insure_stream.hs_order IS
	'per hour (yyyymmddhh): premium sum, distinct policies and policy holders of the users whose last order of the day lies in it';

CREATE OR REPLACE VIEW insure_stream.last_order AS
	SELECT DISTINCT ON (s.id) s.id, s.order_no, s.customer_tel, s.gmt_modified, s.account_payble
	  FROM (SELECT o.id, o.day, o.order_no, o.customer_tel, o.gmt_modified, o.account_payble
			  FROM insure_stream.order_state o
			UNION ALL
			SELECT c.id, c.day, c.order_no, c.customer_tel, c.gmt_modified, c.account_payble
			  FROM insure_stream.order_last_closed c) s
	 ORDER BY s.id, s.day DESC;
COMMENT ON VIEW insure_stream.last_order IS
	'per user: last non-null order values of the user''s latest day';


/* out of the extension first: that also takes them off its dump list */
ALTER EXTENSION insure_stream DROP TABLE insure_stream.order_hour_part;
ALTER EXTENSION insure_stream DROP TABLE insure_stream.order_hour_value;
DROP TABLE insure_stream.order_hour_part;
DROP TABLE insure_stream.order_hour_value;

/* ======================================================================
 * 4. Verification, re-derive, maintenance and status of the new layout
 * ====================================================================== */
DROP FUNCTION insure_stream.verify_orders();
DROP FUNCTION insure_stream.derive_order_state(integer, integer);
CREATE FUNCTION insure_stream.derive_order_state(part integer DEFAULT 0, parts integer DEFAULT 1,
												 source name DEFAULT 'insure_stream')
	RETURNS TABLE (id bigint, day date, gmt_modified bigint, gmt_seq bigint,
				   order_no varchar, order_no_at bigint, order_no_seq bigint,
				   customer_tel varchar, customer_tel_at bigint, customer_tel_seq bigint,
				   account_payble double precision, account_payble_at bigint,
				   account_payble_seq bigint, biz_date varchar)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN QUERY EXECUTE pg_catalog.format($q$
		WITH cfg AS (
			SELECT insure_stream.setting('time_zone') AS tz,
				   insure_stream.setting('order_window') OPERATOR(pg_catalog.=) 'day' AS window_day
		), ev AS (
			SELECT e.id, e.gmt_modified AS g, e.ingest_seq AS q,
				   e.order_no AS o, e.customer_tel AS t, e.account_payble AS p,
				   insure_stream.zone_local('epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
					   (e.gmt_modified::pg_catalog.float8 OPERATOR(pg_catalog.*) '1 millisecond'::pg_catalog.interval),
					   cfg.tz)::pg_catalog.date AS day
			  FROM %1$I.user_order e, cfg
			 WHERE insure_stream.order_accepted(e.id, e.gmt_modified, e.ingested_at, cfg.tz, cfg.window_day)
			   AND ((e.id OPERATOR(pg_catalog.%%) $2) OPERATOR(pg_catalog.+) $2)
					OPERATOR(pg_catalog.%%) $2 OPERATOR(pg_catalog.=) $1
			   AND NOT EXISTS (SELECT 1 FROM %1$I.rejected_events r
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
		/* a value set by the state's latest order: NULL time and number (the row's) */
		SELECT s.id, s.day, s.g, s.gs,
			   s.o, CASE WHEN s.oa OPERATOR(pg_catalog.=) s.g AND s.os OPERATOR(pg_catalog.=) s.gs THEN NULL ELSE s.oa END,
			   CASE WHEN s.oa OPERATOR(pg_catalog.=) s.g AND s.os OPERATOR(pg_catalog.=) s.gs THEN NULL ELSE s.os END,
			   s.t, CASE WHEN s.ta OPERATOR(pg_catalog.=) s.g AND s.ts OPERATOR(pg_catalog.=) s.gs THEN NULL ELSE s.ta END,
			   CASE WHEN s.ta OPERATOR(pg_catalog.=) s.g AND s.ts OPERATOR(pg_catalog.=) s.gs THEN NULL ELSE s.ts END,
			   s.p, CASE WHEN s.pa OPERATOR(pg_catalog.=) s.g AND s.ps OPERATOR(pg_catalog.=) s.gs THEN NULL ELSE s.pa END,
			   CASE WHEN s.pa OPERATOR(pg_catalog.=) s.g AND s.ps OPERATOR(pg_catalog.=) s.gs THEN NULL ELSE s.ps END,
			   insure_stream.order_biz_date(s.g, cfg.tz)
		  FROM s, cfg
	$q$, source) USING part, parts;
END
$$;
COMMENT ON FUNCTION insure_stream.derive_order_state(integer, integer, name) IS
	'per (user, day) order state recomputed from user_order with plain SQL (the users of one part of several)';
REVOKE ALL ON FUNCTION insure_stream.derive_order_state(integer, integer, name) FROM PUBLIC;

/*
 * The rows of order_state or order_last_closed in schema source (the
 * extension's, or on a cluster the session's copies), each value's time
 * and number NULL where they are the row's own (gmt_modified, gmt_seq):
 * the short form the triggers write since 0.2.1, which rows written before
 * keep in full.  verify() compares in this form.
 */
CREATE FUNCTION insure_stream.order_state_short(source name, relation name)
	RETURNS TABLE (id bigint, day date, gmt_modified bigint, gmt_seq bigint,
				   order_no varchar, order_no_at bigint, order_no_seq bigint,
				   customer_tel varchar, customer_tel_at bigint, customer_tel_seq bigint,
				   account_payble double precision, account_payble_at bigint,
				   account_payble_seq bigint, biz_date varchar)
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF relation NOT IN ('order_state', 'order_last_closed') THEN
		RAISE EXCEPTION 'invalid relation "%" for order_state_short()', relation USING ERRCODE = '22023';
	END IF;
	RETURN QUERY EXECUTE pg_catalog.format($q$
		SELECT s.id, s.day, s.gmt_modified, s.gmt_seq,
			   s.order_no,
			   CASE WHEN s.order_no_at OPERATOR(pg_catalog.=) s.gmt_modified
						 AND s.order_no_seq OPERATOR(pg_catalog.=) s.gmt_seq THEN NULL ELSE s.order_no_at END,
			   CASE WHEN s.order_no_at OPERATOR(pg_catalog.=) s.gmt_modified
						 AND s.order_no_seq OPERATOR(pg_catalog.=) s.gmt_seq THEN NULL ELSE s.order_no_seq END,
			   s.customer_tel,
			   CASE WHEN s.customer_tel_at OPERATOR(pg_catalog.=) s.gmt_modified
						 AND s.customer_tel_seq OPERATOR(pg_catalog.=) s.gmt_seq THEN NULL ELSE s.customer_tel_at END,
			   CASE WHEN s.customer_tel_at OPERATOR(pg_catalog.=) s.gmt_modified
						 AND s.customer_tel_seq OPERATOR(pg_catalog.=) s.gmt_seq THEN NULL ELSE s.customer_tel_seq END,
			   s.account_payble,
			   CASE WHEN s.account_payble_at OPERATOR(pg_catalog.=) s.gmt_modified
						 AND s.account_payble_seq OPERATOR(pg_catalog.=) s.gmt_seq THEN NULL ELSE s.account_payble_at END,
			   CASE WHEN s.account_payble_at OPERATOR(pg_catalog.=) s.gmt_modified
						 AND s.account_payble_seq OPERATOR(pg_catalog.=) s.gmt_seq THEN NULL ELSE s.account_payble_seq END,
			   s.biz_date
		  FROM %I.%I s
	$q$, source, relation);
END
$$;
COMMENT ON FUNCTION insure_stream.order_state_short(name, name) IS
	'order_state or order_last_closed of a schema with each value''s own time and number NULL where they are the row''s (for verify())';
REVOKE ALL ON FUNCTION insure_stream.order_state_short(name, name) FROM PUBLIC;

CREATE FUNCTION insure_stream.verify_orders(source name,
	OUT relation text, OUT key text, OUT column_name text,
	OUT expected text, OUT actual text)
	RETURNS SETOF record
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RETURN QUERY EXECUTE pg_catalog.format($q$
		WITH d AS MATERIALIZED (
			SELECT * FROM insure_stream.derive_order_state(0, 1, %1$L)
		), closed AS (
			SELECT GREATEST(COALESCE((SELECT m.value::pg_catalog.date FROM %1$I.maintenance_state m
									   WHERE m.name OPERATOR(pg_catalog.=) 'orders_closed_before'),
									 '-infinity'::pg_catalog.date), p.day) AS before
			  FROM insure_stream.orders_purged_before() p
		), purged AS (
			SELECT * FROM insure_stream.orders_purged_before()
		), state_diff AS (
			/* every state of an open day; a state of a closed day is one too many */
			SELECT 'order_state'::text AS relation,
				   pg_catalog.format('id=%%s day=%%s', COALESCE(d.id, s.id), COALESCE(d.day, s.day)) AS key,
				   '*'::text AS column_name,
				   (d.id, d.day, d.gmt_modified, d.gmt_seq, d.order_no, d.order_no_at, d.order_no_seq,
					d.customer_tel, d.customer_tel_at, d.customer_tel_seq,
					d.account_payble, d.account_payble_at, d.account_payble_seq, d.biz_date)::text AS expected,
				   (s.id, s.day, s.gmt_modified, s.gmt_seq, s.order_no, s.order_no_at, s.order_no_seq,
					s.customer_tel, s.customer_tel_at, s.customer_tel_seq,
					s.account_payble, s.account_payble_at, s.account_payble_seq, s.biz_date)::text AS actual
			  FROM d FULL JOIN (SELECT * FROM insure_stream.order_state_short(%1$L, 'order_state')) s
				ON s.id OPERATOR(pg_catalog.=) d.id AND s.day OPERATOR(pg_catalog.=) d.day, closed, purged
			 WHERE (COALESCE(d.day, s.day) OPERATOR(pg_catalog.>=) closed.before OR s.id IS NOT NULL)
			   AND COALESCE(d.day, s.day) OPERATOR(pg_catalog.>=) purged.day
			   AND (d.id, d.day, d.gmt_modified, d.gmt_seq, d.order_no, d.order_no_at, d.order_no_seq,
					d.customer_tel, d.customer_tel_at, d.customer_tel_seq,
					d.account_payble, d.account_payble_at, d.account_payble_seq, d.biz_date)
				   IS DISTINCT FROM
				   (s.id, s.day, s.gmt_modified, s.gmt_seq, s.order_no, s.order_no_at, s.order_no_seq,
					s.customer_tel, s.customer_tel_at, s.customer_tel_seq,
					s.account_payble, s.account_payble_at, s.account_payble_seq, s.biz_date)
		), hours_expected AS (
			SELECT d.biz_date, pg_catalog.count(*) AS users,
				   insure_stream.exact_sum_to_double(pg_catalog.sum(COALESCE(d.account_payble, 0)::pg_catalog.numeric)) AS total_premium,
				   pg_catalog.count(DISTINCT d.order_no) AS policy_cnt,
				   pg_catalog.count(DISTINCT d.customer_tel) AS policy_holder_cnt
			  FROM d GROUP BY d.biz_date
		), hours_actual AS (
			SELECT h.biz_date, u.users, h.total_premium, h.policy_cnt, h.policy_holder_cnt
			  FROM %1$I.hs_order h
			  LEFT JOIN (SELECT c.biz_date, c.users FROM %1$I.order_hour_closed c
						 UNION ALL
						 SELECT o.biz_date, pg_catalog.count(*) FROM %1$I.order_state o
						  GROUP BY o.biz_date) u
				ON u.biz_date OPERATOR(pg_catalog.=) h.biz_date
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
		), closed_expected AS (
			SELECT DISTINCT ON (d.id) d.*
			  FROM d, closed WHERE d.day OPERATOR(pg_catalog.<) closed.before
			 ORDER BY d.id, d.day DESC
		), closed_diff AS (
			/*
			 * the latest closed day of each user, kept for last_order, which
			 * reads it only while the user has no open day (the compaction of
			 * 0.2.0 kept none for a user with an open day)
			 */
			SELECT 'order_last_closed'::text,
				   pg_catalog.format('id=%%s', COALESCE(e.id, c.id)), '*'::text,
				   (e.id, e.day, e.gmt_modified, e.gmt_seq, e.order_no, e.order_no_at, e.order_no_seq,
					e.customer_tel, e.customer_tel_at, e.customer_tel_seq,
					e.account_payble, e.account_payble_at, e.account_payble_seq, e.biz_date)::text,
				   (c.id, c.day, c.gmt_modified, c.gmt_seq, c.order_no, c.order_no_at, c.order_no_seq,
					c.customer_tel, c.customer_tel_at, c.customer_tel_seq,
					c.account_payble, c.account_payble_at, c.account_payble_seq, c.biz_date)::text
			  FROM closed_expected e
			  FULL JOIN (SELECT * FROM insure_stream.order_state_short(%1$L, 'order_last_closed')) c
				ON c.id OPERATOR(pg_catalog.=) e.id, purged
			 WHERE COALESCE(e.day, c.day) OPERATOR(pg_catalog.>=) purged.day
			   AND NOT EXISTS (SELECT FROM %1$I.order_state s
								WHERE s.id OPERATOR(pg_catalog.=) COALESCE(e.id, c.id))
			   AND (e.id, e.day, e.gmt_modified, e.gmt_seq, e.order_no, e.order_no_at, e.order_no_seq,
					e.customer_tel, e.customer_tel_at, e.customer_tel_seq,
					e.account_payble, e.account_payble_at, e.account_payble_seq, e.biz_date)
				   IS DISTINCT FROM
				   (c.id, c.day, c.gmt_modified, c.gmt_seq, c.order_no, c.order_no_at, c.order_no_seq,
					c.customer_tel, c.customer_tel_at, c.customer_tel_seq,
					c.account_payble, c.account_payble_at, c.account_payble_seq, c.biz_date)
		), last_expected AS (
			SELECT DISTINCT ON (d.id) d.id, d.order_no, d.customer_tel, d.gmt_modified, d.account_payble
			  FROM d ORDER BY d.id, d.day DESC
		), last_diff AS (
			SELECT 'last_order'::text, COALESCE(e.id, a.id)::text, c.name, c.e, c.a
			  FROM last_expected e FULL JOIN %1$I.last_order a ON a.id OPERATOR(pg_catalog.=) e.id
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
		UNION ALL SELECT * FROM closed_diff
		UNION ALL SELECT * FROM last_diff
	$q$, source);
END
$$;
COMMENT ON FUNCTION insure_stream.verify_orders(name) IS
	'verify() for Scenario 1: order_state, order_last_closed, hs_order and last_order against user_order';
REVOKE ALL ON FUNCTION insure_stream.verify_orders(name) FROM PUBLIC;


CREATE OR REPLACE FUNCTION insure_stream.rebuild_orders() RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	kept_day date;		/* days before it lost their events to purge_events() */
	kept_biz varchar;
	parts CONSTANT integer := 10;
	on_cluster CONSTANT boolean := insure_stream.is_distributed();
	source name := 'insure_stream';
BEGIN
	/* no ingest while the state is replaced; readers go on */
	LOCK TABLE insure_stream.user_order IN SHARE MODE;
	/* nor a compaction */
	PERFORM pg_catalog.pg_advisory_xact_lock(7370452871563915521);
	SELECT p.day, p.biz_date INTO kept_day, kept_biz FROM insure_stream.orders_purged_before() p;
	/* the days still in the log open again; the next compaction closes them */
	IF on_cluster THEN
		/*
		 * The watermark row stays (on a cluster, late writers and compaction
		 * order themselves by its lock on every node); updated on every
		 * placement, it holds off a compaction too.
		 */
		UPDATE insure_stream.maintenance_state SET value = '-infinity', updated_at = pg_catalog.now()
		 WHERE name OPERATOR(pg_catalog.=) 'orders_closed_before';
		source := insure_stream.cluster_copies(ARRAY['user_order', 'rejected_events']);
	ELSE
		DELETE FROM insure_stream.maintenance_state
		 WHERE name OPERATOR(pg_catalog.=) 'orders_closed_before';
	END IF;
	DELETE FROM insure_stream.order_state s WHERE s.day OPERATOR(pg_catalog.>=) kept_day;
	DELETE FROM insure_stream.order_last_closed c WHERE c.day OPERATOR(pg_catalog.>=) kept_day;
	DELETE FROM insure_stream.order_hour_closed c WHERE c.biz_date OPERATOR(pg_catalog.>=) kept_biz;

	FOR part IN 0 .. parts - 1 LOOP
		INSERT INTO insure_stream.order_state
			(id, day, gmt_modified, gmt_seq, order_no, order_no_at, order_no_seq,
			 customer_tel, customer_tel_at, customer_tel_seq,
			 account_payble, account_payble_at, account_payble_seq, biz_date)
		SELECT d.id, d.day, d.gmt_modified, d.gmt_seq, d.order_no, d.order_no_at, d.order_no_seq,
			   d.customer_tel, d.customer_tel_at, d.customer_tel_seq,
			   d.account_payble, d.account_payble_at, d.account_payble_seq, d.biz_date
		  FROM insure_stream.derive_order_state(part, parts, source) d
		 WHERE d.day OPERATOR(pg_catalog.>=) kept_day;
		PERFORM insure_stream.rebuild_progress('user_order', part, parts);
	END LOOP;
	IF on_cluster THEN
		PERFORM insure_stream.drop_cluster_copies(ARRAY['user_order', 'rejected_events']);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.rebuild_orders() IS
	'rebuild() for Scenario 1: re-derives order_state from user_order (the days still in the log open again)';
REVOKE ALL ON FUNCTION insure_stream.rebuild_orders() FROM PUBLIC;


/*
 * Maintenance of Scenario 1, safe while ingest runs: with order_window =
 * day closes the days before today.  Their hour figures are computed once
 * into order_hour_closed, each user's latest closed state goes to
 * order_last_closed (last_order shows it while the user has no open day),
 * and their states leave order_state, so reading hs_order costs about the
 * open days' states.  Returns the states that left order_state.
 *
 * The closed days' boundary is stored as an ISO date, which a session of
 * any DateStyle reads back right.
 */
CREATE OR REPLACE FUNCTION insure_stream.compact_orders() RETURNS bigint
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	today date := insure_stream.zone_local(pg_catalog.now(), insure_stream.setting('time_zone'))::pg_catalog.date;
	db oid := (SELECT d.oid FROM pg_catalog.pg_database d
				WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database());
	writers text[];
	/* on a Citus cluster only the coordinator's lock on user_order shows who writes */
	writers_of oid[] := ARRAY['insure_stream.order_state'::pg_catalog.regclass::pg_catalog.oid,
							  'insure_stream.user_order'::pg_catalog.regclass::pg_catalog.oid];
	give_up timestamptz := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) '30 seconds'::pg_catalog.interval;
	removed bigint;
BEGIN
	IF insure_stream.setting('order_window') OPERATOR(pg_catalog.<>) 'day'
	   OR COALESCE((SELECT m.value::pg_catalog.date FROM insure_stream.maintenance_state m
					 WHERE m.name OPERATOR(pg_catalog.=) 'orders_closed_before'),
				   '-infinity'::pg_catalog.date) OPERATOR(pg_catalog.>=) today THEN
		RETURN 0;
	END IF;
	/*
	 * A transaction that wrote a state of yesterday while it was yesterday
	 * took no lock, and may still be open: wait for every transaction
	 * writing order_state now to end (not holding anything, so nobody
	 * waits for us meanwhile).  One still open after 30 seconds (a long
	 * COPY, a prepared transaction) leaves the days open until the next
	 * call.
	 */
	writers := ARRAY(
		SELECT l.virtualtransaction FROM pg_catalog.pg_locks l
		 WHERE l.locktype OPERATOR(pg_catalog.=) 'relation'
		   AND l.database OPERATOR(pg_catalog.=) db
		   AND l.relation OPERATOR(pg_catalog.=) ANY (writers_of)
		   AND l.mode OPERATOR(pg_catalog.=) 'RowExclusiveLock'
		   AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid());
	WHILE EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
				   WHERE l.locktype OPERATOR(pg_catalog.=) 'relation'
					 AND l.database OPERATOR(pg_catalog.=) db
					 AND l.relation OPERATOR(pg_catalog.=) ANY (writers_of)
					 AND l.virtualtransaction OPERATOR(pg_catalog.=) ANY (writers)) LOOP
		IF pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>) give_up THEN
			RETURN 0;
		END IF;
		PERFORM pg_catalog.pg_sleep(0.01);
	END LOOP;
	/*
	 * Writers into past days take this lock shared and hold it to their
	 * commit: once we have it, no state of a day before today changes until
	 * we commit, and later writers see the new watermark and filter such
	 * rows.  Writers of today's and later days never touch what we read.
	 */
	PERFORM pg_catalog.pg_advisory_xact_lock(7370452871563915521);
	INSERT INTO insure_stream.maintenance_state AS m (name, value)
		VALUES ('orders_closed_before', pg_catalog.to_char(today, 'YYYY-MM-DD'))
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at;

	INSERT INTO insure_stream.order_hour_closed (biz_date, users, premium, policies, holders)
	SELECT s.biz_date, pg_catalog.count(*),
		   pg_catalog.sum(COALESCE(s.account_payble, 0)::pg_catalog.numeric),
		   pg_catalog.count(DISTINCT s.order_no), pg_catalog.count(DISTINCT s.customer_tel)
	  FROM insure_stream.order_state s
	 WHERE s.day OPERATOR(pg_catalog.<) today
	 GROUP BY s.biz_date;

	INSERT INTO insure_stream.order_last_closed AS c
		(id, day, gmt_modified, gmt_seq, order_no, order_no_at, order_no_seq,
		 customer_tel, customer_tel_at, customer_tel_seq,
		 account_payble, account_payble_at, account_payble_seq, biz_date)
	SELECT DISTINCT ON (s.id)
		   s.id, s.day, s.gmt_modified, s.gmt_seq, s.order_no, s.order_no_at, s.order_no_seq,
		   s.customer_tel, s.customer_tel_at, s.customer_tel_seq,
		   s.account_payble, s.account_payble_at, s.account_payble_seq, s.biz_date
	  FROM insure_stream.order_state s
	 WHERE s.day OPERATOR(pg_catalog.<) today
	 ORDER BY s.id, s.day DESC
	ON CONFLICT (id) DO UPDATE
	   SET day = excluded.day, gmt_modified = excluded.gmt_modified, gmt_seq = excluded.gmt_seq,
		   order_no = excluded.order_no, order_no_at = excluded.order_no_at,
		   order_no_seq = excluded.order_no_seq, customer_tel = excluded.customer_tel,
		   customer_tel_at = excluded.customer_tel_at, customer_tel_seq = excluded.customer_tel_seq,
		   account_payble = excluded.account_payble, account_payble_at = excluded.account_payble_at,
		   account_payble_seq = excluded.account_payble_seq, biz_date = excluded.biz_date
	 WHERE c.day OPERATOR(pg_catalog.<) excluded.day;

	DELETE FROM insure_stream.order_state s WHERE s.day OPERATOR(pg_catalog.<) today;
	GET DIAGNOSTICS removed = ROW_COUNT;
	RETURN removed;
END
$$;
COMMENT ON FUNCTION insure_stream.compact_orders() IS
	'closes the order days before today: stores their hour figures and each user''s latest state; returns the states closed';


CREATE OR REPLACE FUNCTION insure_stream.status() RETURNS TABLE (section text, name text, value text)
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

/* notify: commit (as before), deferred (alert_outbox, forward_alerts()) or off (10_settings.sql) */
INSERT INTO insure_stream.config (name, value, is_default) VALUES ('notify', 'commit', true);

/* Scale out with Citus: config_check accepts the settings' shard (10_settings.sql), the outbox of alerts (40_premium_alerts.sql), distribute() and forward_alerts() (90_citus.sql) */
/*
 * On a Citus node the settings are a reference table (distribute()), and
 * config_check fires on its shard there: insure_stream.config_<shardid>,
 * which pg_dist_shard lists for insure_stream.config.
 */
CREATE FUNCTION insure_stream.is_config_shard(rel regclass) RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	shard_name text;
	found boolean;
BEGIN
	/* the name as regclass prints it (Citus hides shards from pg_class queries) */
	shard_name := rel::text;
	IF shard_name OPERATOR(pg_catalog.!~) '^insure_stream\.config_[0-9]{1,18}$'
	   OR pg_catalog.to_regclass('pg_catalog.pg_dist_shard') IS NULL THEN
		RETURN false;
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_shard s
							 WHERE s.shardid OPERATOR(pg_catalog.=) $1
							   AND s.logicalrelid OPERATOR(pg_catalog.=) ''insure_stream.config''::pg_catalog.regclass)'
		INTO found USING pg_catalog.substr(shard_name, 22)::pg_catalog.int8;
	RETURN found;
END
$$;
COMMENT ON FUNCTION insure_stream.is_config_shard(regclass) IS
	'internal: is the relation the Citus shard of insure_stream.config on this node?';
REVOKE ALL ON FUNCTION insure_stream.is_config_shard(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION insure_stream.config_check() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_WHEN OPERATOR(pg_catalog.<>) 'BEFORE' OR TG_LEVEL OPERATOR(pg_catalog.<>) 'ROW'
	   OR TG_OP OPERATOR(pg_catalog.<>) ALL (ARRAY['INSERT', 'UPDATE']) THEN
		RAISE EXCEPTION 'function "config_check" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW'
			USING ERRCODE = 'trigger_protocol_violated';
	END IF;
	IF TG_RELID OPERATOR(pg_catalog.<>) 'insure_stream.config'::pg_catalog.regclass
	   AND NOT insure_stream.is_config_shard(TG_RELID) THEN
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

/* functions changed to run on a cluster too */
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

CREATE OR REPLACE FUNCTION insure_stream.event_classes()
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

CREATE OR REPLACE FUNCTION insure_stream.configure(setting_name text, setting_value text) RETURNS text
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
		DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at;
	IF setting_name IN ('time_zone', 'order_window')
	   AND previous IS DISTINCT FROM canonical THEN
		PERFORM insure_stream.rebuild();
	END IF;
	RETURN canonical;
END
$$;

CREATE OR REPLACE FUNCTION insure_stream.verify(
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

CREATE OR REPLACE FUNCTION insure_stream.rebuild() RETURNS void
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	PERFORM insure_stream.rebuild_orders();
	PERFORM insure_stream.rebuild_premium();
	PERFORM insure_stream.rebuild_pagelog();
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

CREATE OR REPLACE FUNCTION insure_stream.maintenance() RETURNS TABLE (task text, affected bigint)
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



/* ======================================================================
 * verify() and rebuild() read the tables of a source schema: insure_stream,
 * or on a Citus cluster the session's copies
 * ====================================================================== */
DROP FUNCTION insure_stream.verify_premium();
DROP FUNCTION insure_stream.verify_pagelog();
DROP FUNCTION insure_stream.derive_page_state(integer, integer);
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

CREATE OR REPLACE FUNCTION insure_stream.rebuild_pagelog() RETURNS void
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

/* ======================================================================
 * hs_order_hours(): hs_order of some hours, the range applied where the
 * states are read; grant_read() grants it (roles given grant_read()
 * before get it by grant_read() again); last_order_of() and
 * user_last_log_of() likewise for the other two views
 * ====================================================================== */
CREATE FUNCTION insure_stream.hs_order_hours(first_hour text, last_hour text DEFAULT NULL)
	RETURNS TABLE (biz_date varchar, total_premium double precision,
				   policy_cnt bigint, policy_holder_cnt bigint)
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	arg record;
BEGIN
	FOR arg IN SELECT * FROM (VALUES ('first_hour', first_hour), ('last_hour', COALESCE(last_hour, first_hour))) AS v(name, value) LOOP
		IF arg.value IS NULL THEN
			RAISE EXCEPTION 'null hour in argument "%" of function "hs_order_hours"', arg.name
				USING ERRCODE = 'null_value_not_allowed',
					  HINT = 'An hour is written yyyymmddhh, as biz_date of hs_order.';
		END IF;
		IF arg.value OPERATOR(pg_catalog.!~) '^[0-9]{10}$' THEN
			RAISE EXCEPTION 'invalid hour "%" in argument "%" of function "hs_order_hours"', arg.value, arg.name
				USING ERRCODE = 'invalid_datetime_format',
					  HINT = 'An hour is written yyyymmddhh, as biz_date of hs_order.';
		END IF;
	END LOOP;
	last_hour := COALESCE(last_hour, first_hour);
	RETURN QUERY
		SELECT c.biz_date, insure_stream.exact_sum_to_double(c.premium), c.policies, c.holders
		  FROM insure_stream.order_hour_closed c
		 WHERE c.biz_date OPERATOR(pg_catalog.>=) first_hour AND c.biz_date OPERATOR(pg_catalog.<=) last_hour
		UNION ALL
		SELECT s.biz_date,
			   insure_stream.exact_sum_to_double(
				   pg_catalog.sum(COALESCE(s.account_payble, 0)::pg_catalog.numeric)),
			   pg_catalog.count(DISTINCT s.order_no),
			   pg_catalog.count(DISTINCT s.customer_tel)
		  FROM insure_stream.order_state s
		 WHERE s.biz_date OPERATOR(pg_catalog.>=) first_hour AND s.biz_date OPERATOR(pg_catalog.<=) last_hour
		 GROUP BY s.biz_date;
END
$$;
COMMENT ON FUNCTION insure_stream.hs_order_hours(text, text) IS
	'the rows of hs_order from first_hour to last_hour (yyyymmddhh), the range applied where the states are read';
REVOKE ALL ON FUNCTION insure_stream.hs_order_hours(text, text) FROM PUBLIC;

/*
 * last_order of some users (all when user_ids is NULL), read with the
 * extension's rights.  On one server it is the view's rows; on a Citus
 * cluster it is how a grant_read() role reads them: Citus reads the
 * shards behind a view as the session's role (citus#1683), which has no
 * rights on the states (they hold more than the view shows: every open
 * day of a user).
 */
CREATE FUNCTION insure_stream.last_order_of(user_ids bigint[] DEFAULT NULL)
	RETURNS SETOF insure_stream.last_order
	LANGUAGE plpgsql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF user_ids IS NULL THEN
		RETURN QUERY SELECT o.* FROM insure_stream.last_order o;
	ELSE
		RETURN QUERY SELECT o.* FROM insure_stream.last_order o WHERE o.id OPERATOR(pg_catalog.=) ANY (user_ids);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.last_order_of(bigint[]) IS
	'the rows of last_order of the given users (all users when NULL), read with the extension''s rights';
REVOKE ALL ON FUNCTION insure_stream.last_order_of(bigint[]) FROM PUBLIC;

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

/* on a Citus cluster they grant and revoke the two server-assigned columns too (src/arrival.c) */
CREATE OR REPLACE FUNCTION insure_stream.grant_ingest(role regrole) RETURNS void
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
	/*
	 * On a Citus cluster the coordinator sends ingest_seq and ingested_at to
	 * the shards, which check them as the session's role and replace them
	 * (src/arrival.c): the role needs them, and cannot set them.
	 */
	IF insure_stream.is_distributed() THEN
		EXECUTE pg_catalog.format('GRANT INSERT (ingest_seq, ingested_at) ON TABLE insure_stream.user_order, '
								  'insure_stream.update_info, insure_stream.user_log TO %I', grantee);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.grant_ingest(regrole) IS
	'lets a role ingest: USAGE on the schema, INSERT on the contract columns of the event tables, track_page()';

CREATE OR REPLACE FUNCTION insure_stream.revoke_ingest(role regrole) RETURNS void
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
	IF insure_stream.is_distributed() THEN
		EXECUTE pg_catalog.format('REVOKE INSERT (ingest_seq, ingested_at) ON TABLE insure_stream.user_order, '
								  'insure_stream.update_info, insure_stream.user_log FROM %I', grantee);
	END IF;
	/* the schema stays open to a role that still reads */
	IF NOT pg_catalog.has_table_privilege(role, 'insure_stream.hs_order', 'SELECT') THEN
		EXECUTE pg_catalog.format('REVOKE USAGE ON SCHEMA insure_stream FROM %I', grantee);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.revoke_ingest(regrole) IS
	'takes back what grant_ingest() gave (USAGE on the schema only when the role does not read)';

CREATE OR REPLACE FUNCTION insure_stream.grant_read(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	grantee name := (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role);
BEGIN
	EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA insure_stream TO %I', grantee);
	EXECUTE pg_catalog.format('GRANT SELECT ON TABLE insure_stream.last_order, insure_stream.hs_order, '
							  'insure_stream.premium_alert, insure_stream.user_last_log TO %I', grantee);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.hs_order_hours(text, text), '
							  'insure_stream.last_order_of(bigint[]), insure_stream.user_last_log_of(text[]) TO %I', grantee);
END
$$;
COMMENT ON FUNCTION insure_stream.grant_read(regrole) IS
	'lets a role read the results: USAGE on the schema, SELECT on last_order, hs_order, premium_alert, user_last_log, EXECUTE on hs_order_hours(), last_order_of(), user_last_log_of()';

CREATE OR REPLACE FUNCTION insure_stream.revoke_read(role regrole) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	grantee name := (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) role);
BEGIN
	EXECUTE pg_catalog.format('REVOKE SELECT ON TABLE insure_stream.last_order, insure_stream.hs_order, '
							  'insure_stream.premium_alert, insure_stream.user_last_log FROM %I', grantee);
	EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION insure_stream.hs_order_hours(text, text), '
							  'insure_stream.last_order_of(bigint[]), insure_stream.user_last_log_of(text[]) FROM %I', grantee);
	/* the schema stays open to a role that still ingests */
	IF NOT pg_catalog.has_column_privilege(role, 'insure_stream.user_order', 'id', 'INSERT') THEN
		EXECUTE pg_catalog.format('REVOKE USAGE ON SCHEMA insure_stream FROM %I', grantee);
	END IF;
END
$$;
COMMENT ON FUNCTION insure_stream.revoke_read(regrole) IS
	'takes back what grant_read() gave (USAGE on the schema only when the role does not ingest)';

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

/* to the extension's owner, as a fresh install grants them (@extowner@ would be whoever updates) */
DO $$
DECLARE
	owner_name name;
BEGIN
	SELECT r.rolname INTO owner_name
	  FROM pg_catalog.pg_extension e
	  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) e.extowner
	 WHERE e.extname OPERATOR(pg_catalog.=) 'insure_stream';
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.is_distributed() TO %I WITH GRANT OPTION', owner_name);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.distribute(integer) TO %I', owner_name);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.drop_shards() TO %I', owner_name);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.forward_alerts(integer) TO %I WITH GRANT OPTION', owner_name);
	EXECUTE pg_catalog.format('GRANT SELECT, INSERT ON insure_stream.alert_outbox TO %I', owner_name);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.hs_order_hours(text, text) TO %I WITH GRANT OPTION', owner_name);
	EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION insure_stream.last_order_of(bigint[]), '
							  'insure_stream.user_last_log_of(text[]) TO %I WITH GRANT OPTION', owner_name);
END
$$;

/* ======================================================================
 * Settings: backends keep the settings of a settled config table and
 * trust config_changed to move its first page's LSN (src/config.c), so
 * the trigger fires for rows a subscription applies too
 * ====================================================================== */
ALTER TABLE insure_stream.config ENABLE ALWAYS TRIGGER config_changed;

/*
 * page_state: a value set by the pair's latest event is stored without a
 * time and number of its own (NULL _at/_seq), by the _v3 entry points
 * (_v2 still writes them out for the objects of 0.2.0, whose verify()
 * expects that).  Rows written before keep theirs: the triggers read both
 * forms, verify() compares them as one.
 */
CREATE OR REPLACE FUNCTION insure_stream.user_log_apply() RETURNS trigger
	LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'insure_stream_user_log_apply_v3';
CREATE OR REPLACE FUNCTION insure_stream.track_page(account_id text, device_id text,
													bury_point_type text, page_name text, log_time bigint)
	RETURNS void
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'insure_stream_track_page_v3';
COMMENT ON COLUMN insure_stream.page_state.bury_point_type_at IS
	'log_time of the event that set bury_point_type; NULL (with _seq) when that is the row''s latest event (log_time, log_seq)';
COMMENT ON COLUMN insure_stream.page_state.page_name_at IS
	'log_time of the event that set page_name; NULL (with _seq) when that is the row''s latest event (log_time, log_seq)';

/*
 * order_state: likewise, a value set by the state's latest order is stored
 * without a time and number of its own; rows kept from 0.2.0 (and the
 * order_last_closed rows made of them above) keep theirs: the trigger reads
 * both forms, verify() compares them as one (order_state_short()).
 */
COMMENT ON COLUMN insure_stream.order_state.order_no_at IS
	'gmt_modified of the order that set order_no (likewise customer_tel_at, account_payble_at, with _seq its ingest_seq); NULL when that is the row''s own (gmt_modified, gmt_seq)';
