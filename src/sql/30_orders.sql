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
GRANT SELECT, INSERT ON insure_stream.order_state TO @extowner@;

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
GRANT SELECT, INSERT ON insure_stream.order_hour_part TO @extowner@;

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
GRANT SELECT, INSERT ON insure_stream.order_hour_value TO @extowner@;

/*
 * Premium sums are exact numerics.  Shown as double precision, a sum
 * beyond the double range (one amount of 1.7976931348623157e308 does it:
 * its numeric has 15 digits, rounded up) would make hs_order and verify()
 * fail.  It rounds as IEEE 754 does: to the nearest double, and to an
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

CREATE VIEW insure_stream.hs_order AS
	SELECT p.biz_date,
		   insure_stream.exact_sum_to_double(pg_catalog.sum(p.premium)) AS total_premium,
		   pg_catalog.sum(p.policies)::bigint AS policy_cnt,
		   pg_catalog.sum(p.holders)::bigint AS policy_holder_cnt
	  FROM insure_stream.order_hour_part p
	 GROUP BY p.biz_date
	HAVING pg_catalog.sum(p.users) OPERATOR(pg_catalog.>) 0;
COMMENT ON VIEW insure_stream.hs_order IS
	'per hour (yyyymmddhh): premium sum, distinct policies and policy holders of the users whose last order of the day lies in it';
GRANT SELECT ON insure_stream.hs_order TO @extowner@ WITH GRANT OPTION;

CREATE VIEW insure_stream.last_order AS
	SELECT DISTINCT ON (s.id) s.id, s.order_no, s.customer_tel, s.gmt_modified, s.account_payble
	  FROM insure_stream.order_state s
	 ORDER BY s.id, s.day DESC;
COMMENT ON VIEW insure_stream.last_order IS
	'per user: last non-null order values of the user''s latest day';
GRANT SELECT ON insure_stream.last_order TO @extowner@ WITH GRANT OPTION;

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
	SELECT pg_catalog.to_char(insure_stream.zone_local(
		'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
		(epoch_ms::pg_catalog.float8 OPERATOR(pg_catalog.*) '1 millisecond'::pg_catalog.interval), zone),
		'YYYYMMDDHH24')::pg_catalog.varchar
	$$;
COMMENT ON FUNCTION insure_stream.order_biz_date(bigint, text) IS
	'hour key yyyymmddhh of an epoch-milliseconds time in a zone';
REVOKE ALL ON FUNCTION insure_stream.order_biz_date(bigint, text) FROM PUBLIC;

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
		   COALESCE(insure_stream.zone_local(
					'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
					(w.ms::pg_catalog.float8 OPERATOR(pg_catalog.*) '1 millisecond'::pg_catalog.interval),
					insure_stream.setting('time_zone'))::pg_catalog.date,
					'-infinity'::pg_catalog.date),
		   COALESCE(insure_stream.order_biz_date(w.ms, insure_stream.setting('time_zone')), '')
	  FROM (SELECT (SELECT m.value::pg_catalog.int8 FROM insure_stream.maintenance_state m
					 WHERE m.name OPERATOR(pg_catalog.=) 'events_purged_before_ms') AS ms) w
	$$;
COMMENT ON FUNCTION insure_stream.orders_purged_before() IS
	'first moment whose events are still all in the log (epoch ms, local day, biz_date)';
REVOKE ALL ON FUNCTION insure_stream.orders_purged_before() FROM PUBLIC;

/* order_window = day, computed as the trigger computes it */
CREATE FUNCTION insure_stream.order_in_window(gmt_modified bigint, ingested_at timestamptz, zone text)
	RETURNS boolean
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_order_in_window';
COMMENT ON FUNCTION insure_stream.order_in_window(bigint, timestamptz, text) IS
	'order_window = day: gmt_modified not before the start of the local day of ingested_at (-infinity: always, infinity: never)';
REVOKE ALL ON FUNCTION insure_stream.order_in_window(bigint, timestamptz, text) FROM PUBLIC;

/*
 * Is an order row accepted (under the given zone and window)?  The rule the
 * trigger applies, for re-derives and status(); quarantine is checked apart.
 * An ingested_at of -infinity or infinity (a client could store them before
 * 0.2.0, and a restore brings them back) is before or after every day, as
 * in the trigger.
 */
CREATE FUNCTION insure_stream.order_accepted(id bigint, gmt_modified bigint,
											 ingested_at timestamptz, zone text, window_day boolean)
	RETURNS boolean
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT id IS NOT NULL AND gmt_modified IS NOT NULL
	   AND (NOT window_day OR insure_stream.order_in_window(gmt_modified, ingested_at, zone))
	$$;
COMMENT ON FUNCTION insure_stream.order_accepted(bigint, bigint, timestamptz, text, boolean) IS
	'whether an order row counts: id and gmt_modified set, and inside the window of its ingest day';
REVOKE ALL ON FUNCTION insure_stream.order_accepted(bigint, bigint, timestamptz, text, boolean) FROM PUBLIC;

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
 *
 * The closed days' boundary is stored as an ISO date, which a session of
 * any DateStyle reads back right.
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
COMMENT ON FUNCTION insure_stream.compact_orders() IS
	'folds partial hour rows and drops the per-user state of closed days; returns the states removed';
REVOKE ALL ON FUNCTION insure_stream.compact_orders() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.compact_orders() TO @extowner@ WITH GRANT OPTION;

/* == end of Scenario 1 == */
