/*-------------------------------------------------------------------------
 *
 * arrival.c
 *		Arrival order on a Citus cluster: the shards of the event tables
 *		number and stamp their own rows.
 *
 * On one server ingest_seq is the event table's identity and ingested_at
 * its default, and a client cannot write either (no INSERT on those
 * columns).  Through Citus the coordinator evaluates both and sends them
 * to the shard as values, which the worker checks against the session's
 * role: an ingest role would need INSERT on them, and with it could set
 * its own.  So on a cluster the ingest roles get those two columns
 * (grant_ingest()), and a BEFORE INSERT row trigger on every event shard
 * overwrites whatever came: ingested_at becomes the start of the node's
 * transaction, ingest_seq the node's next arrival number,
 *
 *		node_arrival counter * 256 + the node's Citus group
 *
 * unique in the cluster (no two groups share the low byte), and
 * increasing on a node.  track_page() numbers its calls the same way.
 *
 * What orders events is their key's: a user's orders, a key customer's
 * policy changes, an account's page views all live in one shard.  So a
 * number must be greater than every number already in its shard, also
 * when the shard has just arrived on the node (distribute(), a move, a
 * split) from a node whose counter was ahead: the first time a backend
 * numbers rows of a shard table, it makes sure the node's counter is past
 * the greatest number held by that shard and the shards co-located with
 * it (the events and the states: a purge leaves state whose events are
 * gone).  node_arrival_checked remembers the shard tables already
 * checked on the node, so this scan runs once per placement, not per
 * backend.
 *
 * The counter moves forward with setval() under a ShareUpdateExclusive
 * lock on the sequence (bumpers wait for each other; nextval() takes
 * RowExclusive and does not wait), in a subtransaction rolled back at
 * once: the lock goes, the new value stays (sequences are not
 * transactional).  It jumps 2^32 past what is needed, so a nextval() of
 * another backend between the read and the setval() cannot be drawn
 * again.
 *
 * The trigger runs as the inserting role (no SECURITY DEFINER, whose SET
 * clause would save and restore the settings on every row): the first
 * row of a statement checks and sets up with the rights of the
 * extension's objects and a pinned search_path, the others only draw.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "arrival.h"
#include "shards.h"
#include "trigger.h"

#define GROUP_BITS 8
#define MAX_GROUP ((1 << GROUP_BITS) - 1)
#define COUNTER_JUMP (INT64CONST(1) << 32)

/* where a colocation group keeps arrival numbers: table and columns */
typedef struct NumberSource
{
	const char *table;
	const char *columns;		/* for GREATEST() */
} NumberSource;

static const NumberSource orders_sources[] = {
	{"user_order", "ingest_seq"},
	{"update_info", "ingest_seq"},
	{"order_state", "gmt_seq, order_no_seq, customer_tel_seq, account_payble_seq"},
	{"order_last_closed", "gmt_seq, order_no_seq, customer_tel_seq, account_payble_seq"},
	{"premium_applied", "applied_seq"},
};
static const NumberSource pages_sources[] = {
	{"user_log", "ingest_seq"},
	{"page_state", "log_seq, bury_point_type_seq, page_name_seq"},
};

static int	local_group = -1;
static Oid	last_checked = InvalidOid;
static HTAB *checked_shards = NULL;

static Oid
counter_oid(void)
{
	return get_relname_relid("node_arrival", get_namespace_oid("insure_stream", false));
}

/* this node's Citus group, which numbers carry in their low byte */
static int
node_group(void)
{
	bool		isnull;
	int64		group;

	if (local_group >= 0)
		return local_group;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT g.groupid::pg_catalog.int8 FROM pg_catalog.pg_dist_local_group g", true, 2)
		!= SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read this node's Citus group");
	group = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	if (isnull || group < 0 || group > MAX_GROUP)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("Citus group %lld of this node is out of the range of arrival numbers",
						isnull ? -1LL : (long long) group),
				 errdetail("Arrival numbers carry the node's group in 8 bits: groups 0 to %d.", MAX_GROUP)));
	local_group = (int) group;
	return local_group;
}

/* the greatest arrival number held by the shards co-located with the running statement's */
static int64
numbers_floor(IsxArrivalGroup group)
{
	const NumberSource *sources = group == ISX_ARRIVAL_ORDERS ? orders_sources : pages_sources;
	int			nsources = group == ISX_ARRIVAL_ORDERS ? lengthof(orders_sources) : lengthof(pages_sources);
	StringInfoData sql;
	bool		isnull;
	Datum		d;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT pg_catalog.max(n)::pg_catalog.int8 FROM (");
	for (int i = 0; i < nsources; i++)
		appendStringInfo(&sql, "%sSELECT pg_catalog.max(GREATEST(%s)) AS n FROM %s",
						 i > 0 ? " UNION ALL " : "", sources[i].columns,
						 isx_state_qualified_name(sources[i].table));
	appendStringInfoString(&sql, ") m");
	if (SPI_execute(sql.data, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the arrival numbers of a shard");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetInt64(d);
}

/* moves the node's counter past floor: its next number is greater than floor */
static void
raise_counter_past(Oid counter, int64 floor)
{
	/* the least counter whose number exceeds floor, whatever the group */
	int64		needed = floor / (MAX_GROUP + 1) + 1;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		isnull;
	int64		next;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	LockRelationOid(counter, ShareUpdateExclusiveLock);
	if (SPI_execute("SELECT CASE WHEN s.is_called THEN s.last_value OPERATOR(pg_catalog.+) 1 ELSE s.last_value END"
					"  FROM insure_stream.node_arrival s", true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the node's arrival counter");
	next = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (next < needed)
		DirectFunctionCall2(setval_oid, ObjectIdGetDatum(counter), Int64GetDatum(needed + COUNTER_JUMP));
	/* the lock goes with the subtransaction; the counter keeps its value */
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

/*
 * Makes sure the node's counter is past every number held by shard table
 * shard_relid and its co-located shards (the running statement's, see
 * isx_shard_enter), once per placement and node.  A placement is recorded
 * by the shard id of its group's first table (user_order, user_log),
 * whichever of its tables was numbered first: update_info's shard then
 * finds the scan done by user_order's, and page_state's (track_page()) by
 * user_log's.  Shard ids are never reused (a dropped shard's OID may be).
 * The backend's own memory of what it checked is keyed by the relation's
 * OID, known without a query: it would take an OID wraparound within one
 * backend's life to mistake a new shard for a checked one.
 */
static void
check_shard(Oid shard_relid, IsxArrivalGroup group, Oid counter)
{
	Oid			types[1] = {INT8OID};
	Datum		args[1];

	if (shard_relid == last_checked)
		return;
	if (checked_shards == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Oid);
		ctl.hcxt = TopMemoryContext;
		checked_shards = hash_create("insure_stream checked shards", 64, &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (hash_search(checked_shards, &shard_relid, HASH_FIND, NULL) == NULL)
	{
		args[0] = Int64GetDatum(isx_state_shardid(group == ISX_ARRIVAL_ORDERS ? orders_sources[0].table
												  : pages_sources[0].table));
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute_with_args("SELECT FROM insure_stream.node_arrival_checked c"
								  " WHERE c.shard OPERATOR(pg_catalog.=) $1 LIMIT 1",
								  1, types, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read node_arrival_checked");
		if (SPI_processed == 0)
		{
			raise_counter_past(counter, numbers_floor(group));
			/* no unique key: two first users of a shard never wait for each other */
			if (SPI_execute_with_args("INSERT INTO insure_stream.node_arrival_checked (shard) VALUES ($1)",
									  1, types, args, NULL, false, 0) != SPI_OK_INSERT)
				elog(ERROR, "could not write node_arrival_checked");
		}
		SPI_finish();
		(void) hash_search(checked_shards, &shard_relid, HASH_ENTER, NULL);
	}
	last_checked = shard_relid;
}

/*
 * The node's counter and group, the counter past every number of shard
 * table shard_relid (the event shard of the running statement).
 */
static void
ready_counter(Oid shard_relid, IsxArrivalGroup group, Oid *counter, int *node)
{
	*counter = counter_oid();
	*node = node_group();
	check_shard(shard_relid, group, *counter);
}

/*
 * The next arrival number on this node for a row of shard table
 * shard_relid, the event shard of the running statement (isx_shard_enter).
 */
int64
isx_node_arrival(Oid shard_relid, IsxArrivalGroup group)
{
	Oid			counter;
	int			node;

	ready_counter(shard_relid, group, &counter, &node);
	return nextval_internal(counter, false) * (MAX_GROUP + 1) + node;
}

/* the owner of the extension's objects (of its counter), whose rights the set-up runs with */
static Oid
objects_owner(Oid counter)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(counter));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", counter);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* what number_on_shard() needs per row, found once per statement */
typedef struct RowNumbering
{
	Oid			relid;			/* the shard table */
	Oid			tgoid;			/* the trigger */
	LocalTransactionId lxid;	/* of the statement it was found for */
	CommandId	cid;
	Oid			counter;
	int			group;
	int			seq_att;
	int			at_att;
} RowNumbering;

static RowNumbering numbering;

/*
 * The trigger's checks and what its rows need, with the rights of the
 * extension's objects and search_path pinned: the entry checks and the
 * first use of a shard run SQL.
 */
static void
set_up_numbering(FunctionCallInfo fcinfo, const IsxTriggerSpec *spec, RowNumbering *out)
{
	TriggerData *trigdata = isx_check_trigger(fcinfo, spec);
	Relation	rel = trigdata->tg_relation;
	TupleDesc	desc = RelationGetDescr(rel);
	const char *table = RelationGetRelationName(rel);
	IsxArrivalGroup group = ISX_ARRIVAL_ORDERS;
	int64		shard = 0;
	int64		outer;

	for (int t = ISX_TABLE_USER_ORDER; t <= ISX_TABLE_USER_LOG && shard == 0; t++)
	{
		shard = isx_shard_of(rel, isx_own_table_oid((IsxOwnTable) t));
		group = t == ISX_TABLE_USER_LOG ? ISX_ARRIVAL_PAGES : ISX_ARRIVAL_ORDERS;
	}
	if (shard == 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired for a Citus shard of an event table",
						spec->funcname),
				 errdetail("It was fired for table \"%s\".", table)));
	out->seq_att = isx_column_number(desc, table, "ingest_seq");
	out->at_att = isx_column_number(desc, table, "ingested_at");
	outer = isx_shard_enter(shard);
	ready_counter(RelationGetRelid(rel), group, &out->counter, &out->group);
	(void) isx_shard_enter(outer);
	out->relid = RelationGetRelid(rel);
}

/*
 * number_on_shard(): BEFORE INSERT FOR EACH ROW on the shards of the event
 * tables (distribute() creates it; Citus puts it on every shard).  The
 * row's ingest_seq and ingested_at are the node's, whatever the insert
 * brought.  It runs as the inserting role: the first row of a statement
 * sets up with the rights of the extension's objects (as SECURITY DEFINER
 * with a pinned search_path would, but not on every row: that costs a
 * GUC save and restore per row), and every row then draws from the
 * counter without a privilege check and runs no SQL.
 */
PG_FUNCTION_INFO_V1(insure_stream_number_on_shard);

Datum
insure_stream_number_on_shard(PG_FUNCTION_ARGS)
{
	static const IsxTriggerSpec spec = {
		.funcname = "number_on_shard",
		.timing = TRIGGER_EVENT_BEFORE,
		.for_row = true,
		.events = ISX_ON_INSERT,
		.new_table = false,
		.tables = ISX_TABLE(ISX_TABLE_USER_ORDER) | ISX_TABLE(ISX_TABLE_UPDATE_INFO) |
		ISX_TABLE(ISX_TABLE_USER_LOG),
	};
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	int			columns[2];
	Datum		values[2];
	bool		nulls[2] = {false, false};

	/* the same trigger in the same statement: checked and set up already */
	if (!CALLED_AS_TRIGGER(fcinfo) ||
		RelationGetRelid(trigdata->tg_relation) != numbering.relid ||
		trigdata->tg_trigger->tgoid != numbering.tgoid ||
		MyProc->lxid != numbering.lxid || GetCurrentCommandId(false) != numbering.cid)
	{
		Oid			save_userid;
		int			save_sec;
		int			nestlevel;
		RowNumbering found;

		numbering.relid = InvalidOid;
		GetUserIdAndSecContext(&save_userid, &save_sec);
		SetUserIdAndSecContext(objects_owner(counter_oid()),
							   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		set_up_numbering(fcinfo, &spec, &found);
		AtEOXact_GUC(true, nestlevel);
		SetUserIdAndSecContext(save_userid, save_sec);
		found.tgoid = trigdata->tg_trigger->tgoid;
		found.lxid = MyProc->lxid;
		found.cid = GetCurrentCommandId(false);
		numbering = found;
	}
	columns[0] = numbering.seq_att;
	values[0] = Int64GetDatum(nextval_internal(numbering.counter, false) * (MAX_GROUP + 1) + numbering.group);
	columns[1] = numbering.at_att;
	values[1] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	return PointerGetDatum(heap_modify_tuple_by_cols(trigdata->tg_trigtuple,
												 RelationGetDescr(trigdata->tg_relation),
												 2, columns, values, nulls));
}
