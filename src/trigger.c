/*-------------------------------------------------------------------------
 *
 * trigger.c
 *		How the extension's C triggers must be called (one check for all of
 *		them, before they read anything), the extension's own tables, and
 *		the driver of the event tables' statement triggers: columns bound,
 *		rows this session numbered, the row loop, bad input set aside, the
 *		memory a statement may fold in.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "rejects.h"
#include "shards.h"
#include "trigger.h"

/* the most a trigger folds in memory before it writes or spills (see isx_fold_budget) */
#define FOLD_MAX_BYTES ((Size) 64 * 1024 * 1024)

/*
 * How much a statement folds in memory before it writes (or, for page
 * views, spills): 16 times work_mem, at most FOLD_MAX_BYTES (64 MB, reached
 * at the default work_mem of 4 MB).
 */
Size
isx_fold_budget(void)
{
	return Min(FOLD_MAX_BYTES, (Size) work_mem * 1024 * 16);
}

/*
 * Attribute number of a column the extension's own table must have.  A
 * column missing means SQL objects older than this library (the package
 * was updated, ALTER EXTENSION ... UPDATE not yet run) or altered by hand:
 * refuse, never write a partial row.
 */
int
isx_column_number(TupleDesc desc, const char *table, const char *column)
{
	int			attnum = SPI_fnumber(desc, column);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"insure_stream.%s\" has no column \"%s\"", table, column),
				 errdetail("The objects of the extension are older than its library, or were altered."),
				 errhint("Run ALTER EXTENSION insure_stream UPDATE.")));
	return attnum;
}

/* value of an int8 column of the slot; false when null */
bool
isx_slot_int64(TupleTableSlot *slot, int attnum, int64 *value)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	if (!isnull)
		*value = DatumGetInt64(d);
	return !isnull;
}

/* errors out unless called by the trigger manager */
static void
check_trigger_call(FunctionCallInfo fcinfo, const char *funcname)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", funcname)));
}

/*
 * The extension's own tables that its C triggers serve, by IsxOwnTable, and
 * their OIDs once verified: the relation of that name in the extension's
 * schema, and a member of the extension.  The OIDs are kept for the session
 * and forgotten on any relcache invalidation of one of them (a rename, a
 * drop, DROP EXTENSION) or of all relations, so in steady state a trigger's
 * check reads no catalog.
 */
static const char *const own_table_names[ISX_NUM_OWN_TABLES] = {
	"config", "user_order", "update_info", "user_log", "raw_info"
};
static Oid	own_table_oids[ISX_NUM_OWN_TABLES];	/* InvalidOid: not verified */
static Oid	own_table_seqs[ISX_NUM_OWN_TABLES]; /* their ingest_seq sequences, once looked up */
static bool own_tables_callback = false;

static void
own_tables_invalidate(Datum arg, Oid relid)
{
	for (int t = 0; t < ISX_NUM_OWN_TABLES; t++)
	{
		if (relid == InvalidOid || relid == own_table_oids[t] || relid == own_table_seqs[t])
		{
			memset(own_table_oids, 0, sizeof(own_table_oids));
			memset(own_table_seqs, 0, sizeof(own_table_seqs));
			return;
		}
	}
}

/* the schema of an extension (get_extension_schema is static before 16) */
static Oid
extension_schema(Oid extoid)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			schema = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		schema = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return schema;
}

/* the OID of one of the extension's own tables, or InvalidOid if it has none */
Oid
isx_own_table_oid(IsxOwnTable table)
{
	Oid			extoid;
	Oid			schema;
	Oid			relid;

	if (OidIsValid(own_table_oids[table]))
		return own_table_oids[table];
	if (!own_tables_callback)
	{
		CacheRegisterRelcacheCallback(own_tables_invalidate, (Datum) 0);
		own_tables_callback = true;
	}
	extoid = get_extension_oid("insure_stream", true);
	if (!OidIsValid(extoid))
		return InvalidOid;
	schema = extension_schema(extoid);
	if (!OidIsValid(schema))
		return InvalidOid;
	relid = get_relname_relid(own_table_names[table], schema);
	if (!OidIsValid(relid) || getExtensionOfObject(RelationRelationId, relid) != extoid)
		return InvalidOid;
	own_table_oids[table] = relid;
	return relid;
}

/* "AFTER INSERT OR UPDATE FOR EACH STATEMENT": how a trigger must be fired */
static char *
firing_text(const IsxTriggerSpec *spec)
{
	static const struct
	{
		uint32		event;
		const char *name;
	}			ops[] = {
		{ISX_ON_INSERT, "INSERT"}, {ISX_ON_UPDATE, "UPDATE"},
		{ISX_ON_DELETE, "DELETE"}, {ISX_ON_TRUNCATE, "TRUNCATE"}
	};
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoString(&buf, spec->timing == TRIGGER_EVENT_BEFORE ? "BEFORE" : "AFTER");
	for (int op = 0; op < (int) lengthof(ops); op++)
	{
		if (spec->events & ops[op].event)
		{
			appendStringInfo(&buf, "%s%s", first ? " " : " OR ", ops[op].name);
			first = false;
		}
	}
	appendStringInfoString(&buf, spec->for_row ? " FOR EACH ROW" : " FOR EACH STATEMENT");
	return buf.data;
}

/* "\"insure_stream.a\", \"insure_stream.b\" or \"insure_stream.c\"" */
static char *
tables_text(uint32 tables)
{
	StringInfoData buf;
	int			left = 0;

	for (int t = 0; t < ISX_NUM_OWN_TABLES; t++)
		if (tables & ISX_TABLE(t))
			left++;
	initStringInfo(&buf);
	for (int t = 0; t < ISX_NUM_OWN_TABLES; t++)
	{
		if (!(tables & ISX_TABLE(t)))
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, left == 1 ? " or " : ", ");
		appendStringInfo(&buf, "\"insure_stream.%s\"", own_table_names[t]);
		left--;
	}
	return buf.data;
}

/*
 * Checks that a C trigger function runs in the one context it was made
 * for: called by the trigger manager, fired at the spec's timing, level
 * and events (with a transition table of new rows if the spec needs one),
 * for one of the spec's tables of the extension.  Anything else (the
 * function attached to another table, or to its own table another way)
 * is an error before the trigger reads anything of the relation or its
 * rows.  Returns the trigger data.
 */
TriggerData *
isx_check_trigger(FunctionCallInfo fcinfo, const IsxTriggerSpec *spec)
{
	TriggerData *trigdata;
	TriggerEvent event;
	Oid			relid;
	bool		own = false;

	check_trigger_call(fcinfo, spec->funcname);
	trigdata = (TriggerData *) fcinfo->context;
	event = trigdata->tg_event;
	if ((event & TRIGGER_EVENT_TIMINGMASK) != spec->timing ||
		(TRIGGER_FIRED_FOR_ROW(event) != 0) != spec->for_row ||
		!(spec->events & (1U << (event & TRIGGER_EVENT_OPMASK))))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired %s", spec->funcname, firing_text(spec))));
	relid = RelationGetRelid(trigdata->tg_relation);
	for (int t = 0; t < ISX_NUM_OWN_TABLES && !own; t++)
		own = (spec->tables & ISX_TABLE(t)) && isx_own_table_oid((IsxOwnTable) t) == relid;
	/* on a Citus worker: a shard of one of them */
	for (int t = 0; t < ISX_NUM_OWN_TABLES && !own; t++)
		own = (spec->tables & ISX_TABLE(t)) &&
			isx_shard_of(trigdata->tg_relation, isx_own_table_oid((IsxOwnTable) t)) != 0;
	if (!own)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired for table %s",
						spec->funcname, tables_text(spec->tables)),
				 errdetail("It was fired for table \"%s\".",
						   RelationGetRelationName(trigdata->tg_relation))));
	if (spec->new_table && trigdata->tg_newtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" needs a transition table", spec->funcname),
				 errhint("Create the trigger with REFERENCING NEW TABLE AS new_rows.")));
	return trigdata;
}

/*
 * The event tables' statement triggers: AFTER INSERT ... REFERENCING NEW
 * TABLE FOR EACH STATEMENT on their own table.  Returns the relation.
 */
Relation
isx_check_statement_trigger(FunctionCallInfo fcinfo, const char *funcname, IsxOwnTable table)
{
	IsxTriggerSpec spec = {
		.funcname = funcname,
		.timing = TRIGGER_EVENT_AFTER,
		.for_row = false,
		.events = ISX_ON_INSERT,
		.new_table = true,
		.tables = ISX_TABLE(table),
	};

	return isx_check_trigger(fcinfo, &spec)->tg_relation;
}

/*
 * The greatest ingest_seq this backend has drawn from an event table's
 * sequence (identity, or serial before 0.2.0): currval(), PG_INT64_MIN when
 * this backend has drawn none, PG_INT64_MAX when the statement's role
 * cannot have brought numbers of its own.
 *
 * Every row the server numbered in this statement drew its number here, so
 * it is at most that.  A row beyond it brought its own number: only a COPY
 * or INSERT ... OVERRIDING SYSTEM VALUE naming ingest_seq does that, which
 * needs INSERT on that column, and that only the extension's owner has,
 * for restoring.  The event rows of a restore are such rows (pg_dump sets
 * the sequence in a statement of its own: after the data over one
 * connection, and with pg_restore -j in another worker or after the
 * worker's COPY); their effects come back with the state and results
 * restored beside them, and applying them again would quarantine them
 * twice, or apply them under settings, a raw_info or a clock that are not
 * those of their ingest.  The triggers leave them alone (rebuild() derives
 * from them as from any other row).
 *
 * currval() raises an error when the backend has not drawn from the
 * sequence: it is called in a subtransaction, which then rolls back.  The
 * triggers run with the rights of the extension's owner, who may read the
 * sequence.  A role that may not write ingest_seq (an ingest role: the
 * role of the statement, not the trigger's) brought no number of its own:
 * its rows need no look, and the stream of small statements of ingest
 * roles pays no subtransaction (a few microseconds a statement).
 */
static int64
last_seq_drawn(Relation rel, IsxOwnTable table, AttrNumber seq_att)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			who = GetOuterUserId();
	Oid			seqoid;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile int64 result = PG_INT64_MIN;

	if (pg_class_aclcheck(relid, who, ACL_INSERT) != ACLCHECK_OK &&
		pg_attribute_aclcheck(relid, seq_att, who, ACL_INSERT) != ACLCHECK_OK)
		return PG_INT64_MAX;

	/* kept beside the table's OID, and forgotten with it (own_tables_invalidate) */
	seqoid = own_table_seqs[table];
	if (!OidIsValid(seqoid) || relid != own_table_oids[table])
	{
		List	   *seqs = getOwnedSequences(relid);

		if (list_length(seqs) != 1)
			elog(ERROR, "table \"%s\" does not have one sequence for ingest_seq",
				 RelationGetRelationName(rel));
		seqoid = linitial_oid(seqs);
		list_free(seqs);
		if (relid == own_table_oids[table])
			own_table_seqs[table] = seqoid;
	}

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		result = DatumGetInt64(DirectFunctionCall1(currval_oid, ObjectIdGetDatum(seqoid)));
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		/* not drawn yet in this backend; anything else is an error */
		if (edata->sqlerrcode != ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE)
			ReThrowError(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return result;
}

/*
 * Starts a statement's work: a memory context of its own (the current one
 * from now on), SPI connected, the settings read, its state kept beside
 * Citus shard shard (0: in the extension's own tables).
 */
void
isx_statement_begin(IsxStatement *stmt, Relation rel, int64 shard)
{
	stmt->rel = rel;
	stmt->shard = shard;
	stmt->outer_shard = isx_shard_enter(shard);
	stmt->cxt = AllocSetContextCreate(CurrentMemoryContext, "insure_stream statement",
									  ALLOCSET_DEFAULT_SIZES);
	stmt->fold = NULL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	stmt->settings = isx_load_settings(stmt->cxt);
	MemoryContextSwitchTo(stmt->cxt);
}

/* ends it: SPI finished, and all the statement allocated freed */
void
isx_statement_end(IsxStatement *stmt)
{
	SPI_finish();
	MemoryContextDelete(stmt->cxt);
	(void) isx_shard_enter(stmt->outer_shard);
}

/* bad input in a row: an error, or the row quarantined (rejects.c) */
static void
reject_row(IsxStatement *stmt, const IsxScenario *scenario, TupleTableSlot *slot,
		   int64 ingest_seq, const IsxBadInput *bad)
{
	int			label = scenario->label_column;

	isx_reject_event(stmt->settings->quarantine, stmt->rel, slot, ingest_seq,
					 bad->sqlstate, bad->problem, scenario->columns[bad->column], bad->value,
					 isx_row_label(slot, stmt->att[label], scenario->columns[label]));
}

/*
 * Runs the statement trigger of a scenario (see IsxScenario), for its entry
 * point to return.  Rows whose ingest_seq this session did not draw are
 * left alone (see last_seq_drawn); the others are rejected (validate) or
 * folded (fold), and the fold is written at the end (flush).
 */
Datum
isx_apply_statement(FunctionCallInfo fcinfo, const IsxScenario *scenario)
{
	Relation	rel = isx_check_statement_trigger(fcinfo, scenario->trigger, scenario->table);
	Tuplestorestate *rows = ((TriggerData *) fcinfo->context)->tg_newtable;
	TupleDesc	desc = RelationGetDescr(rel);
	const char *table = RelationGetRelationName(rel);
	IsxStatement stmt;
	int			seq_att;
	int64		drawn_here;
	TupleTableSlot *slot;
	MemoryContext rowcxt;

	Assert(scenario->ncolumns <= ISX_MAX_COLUMNS);
	for (int c = 0; c < scenario->ncolumns; c++)
		stmt.att[c] = isx_column_number(desc, table, scenario->columns[c]);
	seq_att = isx_column_number(desc, table, "ingest_seq");
	isx_statement_begin(&stmt, rel, isx_shard_of(rel, isx_own_table_oid(scenario->table)));
	/* a shard's rows were numbered by the coordinator: all of them are new */
	drawn_here = stmt.shard != 0 ? PG_INT64_MAX : last_seq_drawn(rel, scenario->table, (AttrNumber) seq_att);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	rowcxt = AllocSetContextCreate(stmt.cxt, "insure_stream row", ALLOCSET_SMALL_SIZES);
	stmt.fold = scenario->begin(&stmt);

	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		int64		seq;
		IsxBadInput bad;

		MemoryContextSwitchTo(rowcxt);
		CHECK_FOR_INTERRUPTS();
		if (!isx_slot_int64(slot, seq_att, &seq))
			elog(ERROR, "%s row without ingest_seq", table);
		if (seq > drawn_here)
		{
			/* a restored row: its effects were restored with the state */
		}
		else if (!scenario->validate(&stmt, slot, &bad))
			reject_row(&stmt, scenario, slot, seq, &bad);
		else
			scenario->fold(&stmt, slot, seq);
		MemoryContextSwitchTo(stmt.cxt);
		MemoryContextReset(rowcxt);
	}
	scenario->flush(&stmt);
	ExecDropSingleTupleTableSlot(slot);
	isx_statement_end(&stmt);
	return PointerGetDatum(NULL);
}
