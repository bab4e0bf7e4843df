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
