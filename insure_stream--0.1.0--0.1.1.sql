/* insure_stream--0.1.0--0.1.1.sql: update script */

/* complain if script is sourced in psql, rather than via ALTER EXTENSION */
\echo Use "ALTER EXTENSION insure_stream UPDATE TO '0.1.1'" to load this file. \quit

/*
 * 0.1.1 changes no object: it is the first step of the upgrade path, so
 * that later versions have a tested home (test/t/007_upgrade.pl checks that
 * an updated installation equals a fresh one).  Each later version adds a
 * script insure_stream--<from>--<to>.sql that changes objects in place
 * (ALTER, CREATE of new objects, never CREATE OR REPLACE over objects the
 * extension does not own) and keeps the user data tables registered with
 * pg_extension_config_dump.
 */
