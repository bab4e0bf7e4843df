/* insure_stream--0.1.1--0.1.2.sql: update script */

/* complain if script is sourced in psql, rather than via ALTER EXTENSION */
\echo Use "ALTER EXTENSION insure_stream UPDATE TO '0.1.2'" to load this file. \quit

/*
 * Scenario 3's state rows are rewritten in place many times (every page
 * view of an account updates its pair and may update its row).  Half-full
 * pages leave room for the new versions on the same page, so the updates
 * stay HOT and add no index entries (a 1M-row COPY runs about a fifth
 * faster).  Pages written from now on use it.
 */
ALTER TABLE insure_stream.page_state SET (fillfactor = 50);
ALTER TABLE insure_stream.user_last_log SET (fillfactor = 50);
