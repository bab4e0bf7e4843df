/*
 * ======================================================================
 * SQL building blocks: last_value aggregates, time helpers
 * (src/lastvalue.c, src/timefmt.c)
 * ======================================================================
 *
 * The SQL building blocks of the seed queries: pure functions of their
 * arguments and the configured time zone, so PUBLIC may run them (what a
 * reader legitimately calls).  An aggregate runs its support functions
 * with its owner's rights, so those need no grant to anyone.
 */

CREATE FUNCTION insure_stream.last_value_trans(anyelement, anyelement) RETURNS anyelement
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_trans';
COMMENT ON FUNCTION insure_stream.last_value_trans(anyelement, anyelement) IS
	'transition and combine function of last_value(anyelement)';

CREATE AGGREGATE insure_stream.last_value(anyelement) (
	SFUNC = insure_stream.last_value_trans,
	STYPE = anyelement,
	COMBINEFUNC = insure_stream.last_value_trans,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE insure_stream.last_value(anyelement) IS
	'last non-null input in input order (use ORDER BY inside the call for a defined order), as Flink''s LAST_VALUE';

CREATE FUNCTION insure_stream.last_value_ord_trans(internal, anyelement, anycompatible)
	RETURNS internal
	LANGUAGE C IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_trans';
COMMENT ON FUNCTION insure_stream.last_value_ord_trans(internal, anyelement, anycompatible) IS
	'transition function of last_value(anyelement, anycompatible)';
CREATE FUNCTION insure_stream.last_value_ord_combine(internal, internal) RETURNS internal
	LANGUAGE C IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_combine';
COMMENT ON FUNCTION insure_stream.last_value_ord_combine(internal, internal) IS
	'combine function of last_value(anyelement, anycompatible)';
CREATE FUNCTION insure_stream.last_value_ord_serial(internal) RETURNS bytea
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_serial';
COMMENT ON FUNCTION insure_stream.last_value_ord_serial(internal) IS
	'serialize function of last_value(anyelement, anycompatible)';
CREATE FUNCTION insure_stream.last_value_ord_deserial(bytea, internal) RETURNS internal
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_deserial';
COMMENT ON FUNCTION insure_stream.last_value_ord_deserial(bytea, internal) IS
	'deserialize function of last_value(anyelement, anycompatible)';
CREATE FUNCTION insure_stream.last_value_ord_final(internal, anyelement, anycompatible)
	RETURNS anyelement
	LANGUAGE C IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_last_value_ord_final';
COMMENT ON FUNCTION insure_stream.last_value_ord_final(internal, anyelement, anycompatible) IS
	'final function of last_value(anyelement, anycompatible)';

CREATE AGGREGATE insure_stream.last_value(value anyelement, ord anycompatible) (
	SFUNC = insure_stream.last_value_ord_trans,
	STYPE = internal,
	FINALFUNC = insure_stream.last_value_ord_final,
	FINALFUNC_EXTRA,
	COMBINEFUNC = insure_stream.last_value_ord_combine,
	SERIALFUNC = insure_stream.last_value_ord_serial,
	DESERIALFUNC = insure_stream.last_value_ord_deserial,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE insure_stream.last_value(anyelement, anycompatible) IS
	'the non-null value with the greatest ord (rows with a null value or ord are skipped; ties: the later input)';

REVOKE ALL ON FUNCTION insure_stream.last_value_trans(anyelement, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_trans(internal, anyelement, anycompatible) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_combine(internal, internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_serial(internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_deserial(bytea, internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_final(internal, anyelement, anycompatible) FROM PUBLIC;

/* Flink/Hive time helpers: epoch seconds, Java patterns, configured time_zone */
CREATE FUNCTION insure_stream.from_unixtime(bigint) RETURNS text
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_from_unixtime';
COMMENT ON FUNCTION insure_stream.from_unixtime(bigint) IS
	'epoch seconds as yyyy-MM-dd HH:mm:ss in the configured time_zone (Hive/Flink FROM_UNIXTIME)';
CREATE FUNCTION insure_stream.from_unixtime(bigint, text) RETURNS text
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_from_unixtime';
COMMENT ON FUNCTION insure_stream.from_unixtime(bigint, text) IS
	'epoch seconds formatted with a Java pattern (yyyy MM dd HH mm ss SSS) in the configured time_zone';
CREATE FUNCTION insure_stream.unix_timestamp() RETURNS bigint
	LANGUAGE C STABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_unix_timestamp';
COMMENT ON FUNCTION insure_stream.unix_timestamp() IS
	'now() (transaction start) as epoch seconds (Hive/Flink UNIX_TIMESTAMP)';
CREATE FUNCTION insure_stream.unix_timestamp(text) RETURNS bigint
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_unix_timestamp';
COMMENT ON FUNCTION insure_stream.unix_timestamp(text) IS
	'yyyy-MM-dd HH:mm:ss text in the configured time_zone as epoch seconds';
CREATE FUNCTION insure_stream.unix_timestamp(text, text) RETURNS bigint
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_unix_timestamp';
COMMENT ON FUNCTION insure_stream.unix_timestamp(text, text) IS
	'text parsed with a Java pattern in the configured time_zone, as epoch seconds';

/* so that the seed's cast(x as double) runs with insure_stream in search_path */
CREATE DOMAIN insure_stream.double AS double precision;
COMMENT ON DOMAIN insure_stream.double IS 'double precision under the name the Flink SQL of the seed jobs uses';

/* == end of SQL building blocks == */
