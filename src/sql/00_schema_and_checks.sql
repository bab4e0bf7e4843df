/*
 * insure_stream install script, built by the Makefile: the files of
 * src/sql/ in name order, one per concern (see DEVELOPER.md).  Edit those,
 * never the built insure_stream--<version>.sql.  Each file creates its
 * objects in their final form, with their comments, privileges and dump
 * registration.  The same objects reached by ALTER EXTENSION UPDATE from
 * an earlier version must come out identical: test/t/007_upgrade.pl
 * compares the two.
 */

\echo Use "CREATE EXTENSION insure_stream" to load this file. \quit

/*
 * ======================================================================
 * The schema
 * ======================================================================
 *
 * CREATE EXTENSION uses a schema named insure_stream if one is there.  Only
 * take it when it is empty and belongs to the installing role (or a
 * superuser): another role's schema would let that role add look-alike
 * functions or operators beside ours.  Objects of every kind a schema can
 * hold count, as the update to 0.2.0 counts them.
 */
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace n
				WHERE n.nspname OPERATOR(pg_catalog.=) 'insure_stream'
				  AND ((n.nspowner OPERATOR(pg_catalog.<>) '@extowner@'::pg_catalog.regrole
						AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r
								  WHERE r.oid OPERATOR(pg_catalog.=) n.nspowner))
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c
								   WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
								   WHERE p.pronamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_type t
								   WHERE t.typnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_operator o
								   WHERE o.oprnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_collation c
								   WHERE c.collnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_conversion c
								   WHERE c.connamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_opfamily f
								   WHERE f.opfnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_opclass c
								   WHERE c.opcnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_ts_config c
								   WHERE c.cfgnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_ts_dict d
								   WHERE d.dictnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_ts_parser p
								   WHERE p.prsnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_ts_template t
								   WHERE t.tmplnamespace OPERATOR(pg_catalog.=) n.oid)
					   OR EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext s
								   WHERE s.stxnamespace OPERATOR(pg_catalog.=) n.oid))) THEN
		RAISE EXCEPTION 'schema "insure_stream" already exists and is not an empty schema of the installing role'
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Drop or rename that schema, or have its owner run CREATE EXTENSION.';
	END IF;
END
$$;

/*
 * The schema belongs to the bootstrap superuser.  CREATE EXTENSION made it
 * (or found it) as the installing role's; that role could rename it, create
 * a new insure_stream and plant objects there that the SECURITY DEFINER
 * functions would then reach by name.  Handed to the bootstrap superuser,
 * with nobody else allowed to create in it, a name in it is the
 * extension's object.  Grants of USAGE that a schema found empty carried
 * stay.
 */
DO $$
DECLARE
	grantee name;
BEGIN
	EXECUTE pg_catalog.format('ALTER SCHEMA insure_stream OWNER TO %I',
							  (SELECT r.rolname FROM pg_catalog.pg_roles r
								WHERE r.oid OPERATOR(pg_catalog.=) 10));
	REVOKE CREATE ON SCHEMA insure_stream FROM PUBLIC CASCADE;
	FOR grantee IN
		SELECT DISTINCT r.rolname
		  FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a, pg_catalog.pg_roles r
		 WHERE n.nspname OPERATOR(pg_catalog.=) 'insure_stream'
		   AND r.oid OPERATOR(pg_catalog.=) a.grantee
		   AND a.grantee OPERATOR(pg_catalog.<>) 10
	LOOP
		EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA insure_stream FROM %I CASCADE', grantee);
	END LOOP;
END
$$;
/* the extension's owner uses it and lets others in (grant_ingest(), grant_read()) */
GRANT USAGE ON SCHEMA insure_stream TO @extowner@ WITH GRANT OPTION;
