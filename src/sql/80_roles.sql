/*
 * ======================================================================
 * Roles: ingest, read, dump and restore
 * ======================================================================
 *
 * Who may do what (README "Roles and privileges"):
 *
 * - An ingest role writes the contract columns of the event tables and
 *   nothing else: the server assigns ingest_seq (identity) and ingested_at
 *   (default), and naming either in an INSERT or COPY column list is
 *   refused (42501).  grant_ingest() gives exactly that.
 * - A reading role selects the results; grant_read() gives exactly that.
 * - The extension's owner (the role that ran CREATE EXTENSION, normally
 *   the database owner) runs the operations and may grant them on; the
 *   triggers and the SECURITY DEFINER functions run with the rights of
 *   the extension's objects.  The owner dumps and restores the database
 *   as itself: pg_dump reads every relation registered with
 *   pg_extension_config_dump, and a restore (pg_restore, or psql -f of a
 *   plain dump) runs
 *       COPY insure_stream.<table> (<every column>) FROM stdin;
 *       SELECT pg_catalog.setval('insure_stream.<sequence>', n, true);
 *   for each of them, so the owner has SELECT and INSERT on every such
 *   table and SELECT and UPDATE on every such sequence.  No grant option:
 *   the owner has no reason to pass on the right to write state or
 *   arrival order.  So the owner can write state, results and settings
 *   directly; so could a restore of a hand-edited dump.  The config rows
 *   are validated by a trigger (config_check); the results are the
 *   owner's own data, which verify() checks and rebuild() re-derives.  A
 *   restore also replays GRANT/REVOKE statements for privileges changed
 *   since the install; the owner issues them with its grant options.
 * - PUBLIC runs only what a reader legitimately calls: the SQL building
 *   blocks (60_building_blocks.sql) and setting().  Every other function
 *   is revoked from PUBLIC where it is created: the trigger functions
 *   (CREATE TRIGGER needs EXECUTE; firing does not, so the extension's own
 *   triggers fire for every role), normalize_setting(), and the SQL
 *   helpers of the re-derives and checks, called only by the SECURITY
 *   DEFINER functions.  Every C trigger function checks, before it reads
 *   anything, that it is fired by the trigger manager at its own timing,
 *   level and events, for its own table of this extension (SQLSTATE 39P01
 *   otherwise).
 *
 * Each object's grants stand beside it, in the file that creates it.
 */

/*
 * The documented grants as functions.  They run as the caller (the owner,
 * or a role it gave EXECUTE and the grant options to), so the caller is
 * the grantor and can revoke what it granted.
 */
CREATE FUNCTION insure_stream.grant_ingest(role regrole) RETURNS void
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

CREATE FUNCTION insure_stream.revoke_ingest(role regrole) RETURNS void
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

CREATE FUNCTION insure_stream.grant_read(role regrole) RETURNS void
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

CREATE FUNCTION insure_stream.revoke_read(role regrole) RETURNS void
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

REVOKE ALL ON FUNCTION insure_stream.grant_ingest(regrole), insure_stream.revoke_ingest(regrole),
	insure_stream.grant_read(regrole), insure_stream.revoke_read(regrole) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.grant_ingest(regrole), insure_stream.revoke_ingest(regrole),
	insure_stream.grant_read(regrole), insure_stream.revoke_read(regrole) TO @extowner@ WITH GRANT OPTION;
