/* insure_stream--0.1.3--0.2.0.sql: update script (the trust model) */

/* complain if script is sourced in psql, rather than via ALTER EXTENSION */
\echo Use "ALTER EXTENSION insure_stream UPDATE TO '0.2.0'" to load this file. \quit

/*
 * 0.2.0 makes the extension safe to offer as trusted: nothing that runs
 * with the extension's rights resolves a name a non-superuser controls,
 * every C entry point checks how it is called, notifications carry no data,
 * the server assigns arrival order and ingest time, and least privilege
 * works for ingest, reading, pg_dump and pg_restore.  See docs/security.md.
 * Each section below is one concern.
 */

/* ======================================================================
 * 1. The schema belongs to the bootstrap superuser
 * ====================================================================== */

/* ======================================================================
 * 2. C entry points: who may call them
 * ====================================================================== */

/*
 * Every C trigger function now checks, before it reads anything, that it
 * is fired by the trigger manager at its own timing, level and events, for
 * its own table of this extension (SQLSTATE 39P01 otherwise); the library
 * does this for the objects of every version.  Beyond that, only what a
 * reader legitimately calls stays executable by PUBLIC:
 *   - the aggregates last_value(anyelement) and last_value(anyelement,
 *     anycompatible), and the time helpers from_unixtime() and
 *     unix_timestamp(): the SQL building blocks of the seed queries, pure
 *     functions of their arguments and the configured time zone;
 *   - setting(): the effective value of a setting, which PUBLIC may read in
 *     insure_stream.config anyway.
 * An aggregate runs its support functions with its owner's rights, so
 * they need no grant to anyone.  Every other function already was revoked
 * from PUBLIC, or is revoked here:
 *   - the trigger functions (CREATE TRIGGER needs EXECUTE; firing does not,
 *     so the extension's own triggers fire for every role as before);
 *   - normalize_setting(), called by configure() only;
 *   - the SQL helpers of the re-derives and checks (order_accepted(),
 *     order_biz_date(), orders_purged_before(), events_purged_before_ms(),
 *     rebuild_premium()), called only by the SECURITY DEFINER functions;
 *   - the aggregates' support functions.
 * Nothing here is granted to @extowner@: none of these is for calling
 * directly.
 */
REVOKE ALL ON FUNCTION insure_stream.settings_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.refuse_event_change() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.raw_info_check() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.normalize_setting(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.order_accepted(bigint, bigint, timestamptz, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.order_biz_date(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.orders_purged_before() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.events_purged_before_ms() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.rebuild_premium() FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_trans(anyelement, anyelement) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_trans(internal, anyelement, anycompatible) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_combine(internal, internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_serial(internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_deserial(bytea, internal) FROM PUBLIC;
REVOKE ALL ON FUNCTION insure_stream.last_value_ord_final(internal, anyelement, anycompatible) FROM PUBLIC;

/* ======================================================================
 * 3. Time zones: SQL computes local times as the C code does
 * ====================================================================== */

/* ======================================================================
 * 4. Server-assigned arrival order and ingest time
 * ====================================================================== */

/* ======================================================================
 * 5. Notifications carry the key only
 * ====================================================================== */

/* ======================================================================
 * 6. Reads never fail on legal amounts
 * ====================================================================== */

/* ======================================================================
 * 7. Optional integrations: pg_cron only when it is pg_cron's
 * ====================================================================== */

/* ======================================================================
 * 8. Roles: ingest, read, dump and restore
 * ====================================================================== */
