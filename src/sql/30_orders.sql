/*
 * ======================================================================
 * Scenario 1: hourly order figures (src/orders.c)
 * ======================================================================
 *
 * order_state is the per-(user, day) last-value state; every value carries
 * the ordering key (gmt_modified, ingest_seq) of the event that set it, so
 * states merge exactly whatever the arrival order.  A value set by the
 * state's latest order (most are) stores NULL there: the key is the row's
 * own (gmt_modified, gmt_seq), and the row a third shorter (0.2.1).
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
	biz_date			varchar COLLATE "C" NOT NULL,	/* hour of gmt_modified (0.2.1) */
	PRIMARY KEY (id, day)
) WITH (fillfactor = 80);	/* room for HOT updates: a state changes in place, its index stays */
COMMENT ON TABLE insure_stream.order_state IS
	'per user and open day: last non-null order values with the (gmt_modified, ingest_seq) that set them, and their hour';
COMMENT ON COLUMN insure_stream.order_state.order_no_at IS
	'gmt_modified of the order that set order_no (likewise customer_tel_at, account_payble_at, with _seq its ingest_seq); NULL when that is the row''s own (gmt_modified, gmt_seq)';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.order_state', '');
GRANT SELECT, INSERT ON insure_stream.order_state TO @extowner@;

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
GRANT SELECT, INSERT ON insure_stream.order_last_closed TO @extowner@;

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
GRANT SELECT, INSERT ON insure_stream.order_hour_closed TO @extowner@;

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

/*
 * The hours of closed days as compact_orders() stored them, and the hours
 * of the open days computed from their states: distinct counts exact by
 * construction, nothing to retract on the write path.  An hour is in one
 * branch only (a day closes whole, and no state enters a closed day).
 */
CREATE VIEW insure_stream.hs_order AS
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
GRANT SELECT ON insure_stream.hs_order TO @extowner@ WITH GRANT OPTION;

/*
 * hs_order of some hours: the view's rows with first_hour <= biz_date <=
 * last_hour (yyyymmddhh; last_hour defaults to first_hour).  The same
 * figures as the view, but the range reaches the scan of the states: on a
 * Citus cluster a read of the view filtered by hour sends the whole open
 * day's states to the coordinator (Citus plans the UNION ALL before the
 * filter), this sends only those of the hours asked.  It reads what
 * readers of hs_order may not read directly, hence SECURITY DEFINER and
 * EXECUTE for the owner and for grant_read()'s roles only.
 */
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
GRANT EXECUTE ON FUNCTION insure_stream.hs_order_hours(text, text) TO @extowner@ WITH GRANT OPTION;

CREATE VIEW insure_stream.last_order AS
	SELECT DISTINCT ON (s.id) s.id, s.order_no, s.customer_tel, s.gmt_modified, s.account_payble
	  FROM (SELECT o.id, o.day, o.order_no, o.customer_tel, o.gmt_modified, o.account_payble
			  FROM insure_stream.order_state o
			UNION ALL
			SELECT c.id, c.day, c.order_no, c.customer_tel, c.gmt_modified, c.account_payble
			  FROM insure_stream.order_last_closed c) s
	 ORDER BY s.id, s.day DESC;
COMMENT ON VIEW insure_stream.last_order IS
	'per user: last non-null order values of the user''s latest day';
GRANT SELECT ON insure_stream.last_order TO @extowner@ WITH GRANT OPTION;

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
GRANT EXECUTE ON FUNCTION insure_stream.last_order_of(bigint[]) TO @extowner@ WITH GRANT OPTION;

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
 * ingested when it really was, under the current settings.  It reads
 * user_order and rejected_events of the schema source: insure_stream, or
 * on a Citus cluster the session's copies of them (cluster_copies()).
 */
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

CREATE FUNCTION insure_stream.rebuild_orders() RETURNS void
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
CREATE FUNCTION insure_stream.compact_orders() RETURNS bigint
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
REVOKE ALL ON FUNCTION insure_stream.compact_orders() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.compact_orders() TO @extowner@ WITH GRANT OPTION;

/* == end of Scenario 1 == */
