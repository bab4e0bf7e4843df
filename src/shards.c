/*-------------------------------------------------------------------------
 *
 * shards.c
 *		Where a statement keeps its state.  On one server: the extension's
 *		own state tables.  On a Citus worker, after insure_stream.distribute():
 *		the trigger fires on a shard of an event table, and the state goes to
 *		the shards of the state tables co-located with it (same colocation
 *		group, same hash range), so it moves with its shard on a rebalance.
 *
 * Citus is never linked against nor called: its metadata tables in
 * pg_catalog (pg_dist_partition, pg_dist_shard), which only a superuser
 * writes, say which relation is which shard.  Shard relations are named
 * <table>_<shardid> in the table's schema, as Citus names them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "shards.h"

/* the event shard of the running statement, 0 on the extension's own tables */
static int64 current_shard = 0;

/* one relation checked: is it a shard of one of our tables? (forgotten on invalidation) */
static Oid	checked_relid = InvalidOid;
static Oid	checked_own = InvalidOid;
static int64 checked_shard = 0;

/* one reference table and the relation holding its rows on this node (forgotten on invalidation) */
static Oid	placed_relid = InvalidOid;
static Oid	placed_local = InvalidOid;

static void
shards_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == checked_relid)
		checked_relid = InvalidOid;
	if (relid == InvalidOid || relid == placed_relid || relid == placed_local)
		placed_relid = InvalidOid;
}

static void
register_invalidation(void)
{
	static bool registered = false;

	if (!registered)
	{
		CacheRegisterRelcacheCallback(shards_invalidate, (Datum) 0);
		registered = true;
	}
}

/* is Citus installed in this database?  (a syscache probe: cheap on every statement) */
static bool
citus_present(void)
{
	return OidIsValid(get_relname_relid("pg_dist_partition", PG_CATALOG_NAMESPACE));
}

/*
 * Runs a query on Citus's metadata that returns at most one int8; 0 when
 * it returns no row.  Connects SPI for itself.
 */
static int64
citus_metadata_int8(const char *query, int nargs, Oid *types, Datum *args)
{
	int64		result = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(query, nargs, types, args, NULL, true, 2) != SPI_OK_SELECT)
		elog(ERROR, "could not read the Citus metadata");
	if (SPI_processed > 1)
		elog(ERROR, "the Citus metadata is ambiguous");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = DatumGetInt64(d);
	}
	SPI_finish();
	return result;
}

/*
 * If rel is a Citus shard of table own (an OID of the extension's own
 * table), its shard id; else 0.  A shard is named <table>_<shardid>, lives
 * in the table's schema, and pg_dist_shard lists that shard id for that
 * table.
 */
int64
isx_shard_of(Relation rel, Oid own)
{
	const char *relname = RelationGetRelationName(rel);
	const char *ownname;
	size_t		len;
	const char *digits;
	int64		shardid;
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		args[2];

	/* the table itself (every statement on one server): no lookup */
	if (!OidIsValid(own) || RelationGetRelid(rel) == own ||
		RelationGetNamespace(rel) != get_rel_namespace(own))
		return 0;
	if (RelationGetRelid(rel) == checked_relid && own == checked_own)
		return checked_shard;
	ownname = get_rel_name(own);
	len = strlen(ownname);
	if (strncmp(relname, ownname, len) != 0 || relname[len] != '_')
		return 0;
	digits = relname + len + 1;
	if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits) || strlen(digits) > 18)
		return 0;
	if (!citus_present())
		return 0;
	shardid = pg_strtoint64(digits);
	args[0] = Int64GetDatum(shardid);
	args[1] = ObjectIdGetDatum(own);
	shardid = citus_metadata_int8("SELECT s.shardid FROM pg_catalog.pg_dist_shard s"
								  " WHERE s.shardid OPERATOR(pg_catalog.=) $1"
								  "   AND s.logicalrelid OPERATOR(pg_catalog.=) $2::pg_catalog.regclass",
								  2, types, args);
	register_invalidation();
	checked_relid = RelationGetRelid(rel);
	checked_own = own;
	checked_shard = shardid;
	return shardid;
}

/*
 * The relation holding the rows of one of the extension's tables on this
 * node: the table itself, or when Citus made it a reference table, its
 * shard here (distribute() needs every node, the coordinator too, to hold
 * one).
 */
Oid
isx_local_rows(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1];
	int64		shardid;
	Oid			local = relid;

	if (!citus_present())
		return relid;
	if (relid == placed_relid)
		return placed_local;
	args[0] = ObjectIdGetDatum(relid);
	shardid = citus_metadata_int8("SELECT s.shardid FROM pg_catalog.pg_dist_partition p"
								  "  JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) p.logicalrelid"
								  " WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
								  "   AND p.partmethod OPERATOR(pg_catalog.=) 'n'",
								  1, types, args);
	if (shardid != 0)
	{
		char	   *name = psprintf("%s_" INT64_FORMAT, get_rel_name(relid), shardid);

		local = get_relname_relid(name, get_rel_namespace(relid));
		if (!OidIsValid(local))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("reference table \"%s\" has no placement on this node", get_rel_name(relid))));
	}
	register_invalidation();
	placed_relid = relid;
	placed_local = local;
	return local;
}

/*
 * The local shard of insure_stream.<table> that holds distribution value
 * key (track_page() delegated by Citus to the node of the account); 0 when
 * Citus is absent or the table is not distributed.
 */
int64
isx_shard_of_key(const char *table, Datum key, Oid keytype)
{
	Oid			relid = get_relname_relid(table, get_namespace_oid("insure_stream", false));
	Oid			types[2] = {OIDOID, keytype};
	Datum		args[2];
	int64		shardid;

	if (!citus_present() || !OidIsValid(relid))
		return 0;
	args[0] = ObjectIdGetDatum(relid);
	args[1] = key;
	shardid = citus_metadata_int8("SELECT CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_dist_partition p"
							   "   WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
							   "     AND p.partmethod OPERATOR(pg_catalog.=) 'h')"
							   " THEN pg_catalog.get_shard_id_for_distribution_column($1::pg_catalog.regclass, $2) END",
							   2, types, args);
	if (shardid != 0 &&
		!OidIsValid(get_relname_relid(psprintf("%s_" INT64_FORMAT, table, shardid), get_rel_namespace(relid))))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the shard of table \"insure_stream.%s\" for this key is on another node", table),
				 errhint("Call insure_stream.track_page() as a statement of its own, SELECT insure_stream.track_page(...); Citus then runs it on the node of the account.")));
	return shardid;
}

/* the statement about to run keeps its state beside event shard shard (0: none); returns the previous one */
int64
isx_shard_enter(int64 shard)
{
	int64		previous = current_shard;

	current_shard = shard;
	return previous;
}

/*
 * The name of the extension's table a relation stands for: its own name,
 * or for the Citus shard the running statement fired on, the name without
 * the shard id (for messages and rejected_events.table_name).
 */
const char *
isx_logical_name(Relation rel)
{
	const char *name = RelationGetRelationName(rel);
	const char *sep = strrchr(name, '_');

	if (current_shard == 0 || sep == NULL)
		return name;
	return pnstrdup(name, sep - name);
}

/* the event shard of the running statement (0: the extension's own tables) */
int64
isx_current_shard(void)
{
	return current_shard;
}

/* the OID of the extension's table insure_stream.<name>, which must exist */
static Oid
own_table_relid(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("insure_stream", false));

	if (!OidIsValid(relid))
		elog(ERROR, "table insure_stream.%s is missing", name);
	return relid;
}

/*
 * The shard of insure_stream.<name> co-located with the running statement's
 * event shard (which must be set: isx_shard_enter); relid is <name>'s.
 */
static int64
colocated_shardid(const char *name, Oid relid)
{
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		args[2];
	int64		shardid;

	args[0] = Int64GetDatum(current_shard);
	args[1] = ObjectIdGetDatum(relid);
	shardid = citus_metadata_int8("SELECT s.shardid"
								  "  FROM pg_catalog.pg_dist_shard e"
								  "  JOIN pg_catalog.pg_dist_partition ep ON ep.logicalrelid OPERATOR(pg_catalog.=) e.logicalrelid"
								  "  JOIN pg_catalog.pg_dist_partition sp ON sp.colocationid OPERATOR(pg_catalog.=) ep.colocationid"
								  "  JOIN pg_catalog.pg_dist_shard s ON s.logicalrelid OPERATOR(pg_catalog.=) sp.logicalrelid"
								  "   AND s.shardminvalue OPERATOR(pg_catalog.=) e.shardminvalue"
								  " WHERE e.shardid OPERATOR(pg_catalog.=) $1"
								  "   AND sp.logicalrelid OPERATOR(pg_catalog.=) $2::pg_catalog.regclass",
								  2, types, args);
	if (shardid == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"insure_stream.%s\" is not co-located with the shard the trigger fired on", name),
				 errhint("Run SELECT insure_stream.distribute(); on the coordinator.")));
	return shardid;
}

/* the relation that keeps state table insure_stream.<name> for the running statement */
Oid
isx_state_relid(const char *name)
{
	Oid			relid = own_table_relid(name);
	Oid			types[1] = {OIDOID};
	Datum		args[1];
	char	   *shardname;
	Oid			shardrelid;

	if (current_shard == 0)
	{
		/* a distributed table keeps nothing on the coordinator: never write there */
		if (citus_present())
		{
			args[0] = ObjectIdGetDatum(relid);
			if (citus_metadata_int8("SELECT 1::pg_catalog.int8 FROM pg_catalog.pg_dist_partition p"
									" WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
									"   AND p.partmethod OPERATOR(pg_catalog.=) 'h'",
									1, types, args) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("table \"insure_stream.%s\" is distributed: its state is kept on the nodes that hold its shards", name),
						 errhint("Call insure_stream.track_page() as a statement of its own, which Citus runs on the node of the account.")));
		}
		return relid;
	}
	shardname = psprintf("%s_" INT64_FORMAT, name, colocated_shardid(name, relid));
	shardrelid = get_relname_relid(shardname, get_rel_namespace(relid));
	if (!OidIsValid(shardrelid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("shard \"insure_stream.%s\" is not on this node", shardname)));
	return shardrelid;
}

/*
 * The Citus shard id of insure_stream.<name> co-located with the running
 * statement's event shard: a placement's name that is never reused, as
 * relation OIDs can be.
 */
int64
isx_state_shardid(const char *name)
{
	if (current_shard == 0)
		elog(ERROR, "no shard is running for insure_stream.%s", name);
	return colocated_shardid(name, own_table_relid(name));
}

/* the qualified name of state table insure_stream.<name> for the running statement (for SQL) */
char *
isx_state_qualified_name(const char *name)
{
	Oid			relid = isx_state_relid(name);

	return quote_qualified_identifier("insure_stream", get_rel_name(relid));
}
