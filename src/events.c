/*-------------------------------------------------------------------------
 *
 * events.c
 *		What the three event-table triggers share: the trigger protocol
 *		checks, bad-input handling (error or quarantine), event counters
 *		and the log-only guard.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "nodes/parsenodes.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "utils/syscache.h"
#include "storage/backendid.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/rel.h"

#include "utils/tuplesort.h"

#include "insure_stream.h"

/* true while purge_events() deletes from an event table */
bool		isx_purge_in_progress = false;

/*
 * A plan kept for the session.  Like SPI_execute_plan, SPI_prepare returns
 * in SPI's procedure context; the caller gets its own context back.
 */
static SPIPlanPtr
prepare_kept(const char *query, int nargs, Oid *argtypes, int cursor_options)
{
	MemoryContext cxt = CurrentMemoryContext;
	SPIPlanPtr	plan = SPI_prepare_cursor(query, nargs, argtypes, cursor_options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare_cursor failed for \"%s\": %s",
			 query, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	MemoryContextSwitchTo(cxt);
	return plan;
}

SPIPlanPtr
isx_prepare_kept_plan(const char *query, int nargs, Oid *argtypes)
{
	return prepare_kept(query, nargs, argtypes, 0);
}

/*
 * A plan for a statement that takes arrays of a batch.  Small batches (most
 * single-row statements) use a generic plan made once: a custom plan would
 * be made again at every execution, since it looks cheaper for one-element
 * arrays, and planning would cost more than running.  Large batches get
 * custom plans, sized for their arrays.
 */
SPIPlanPtr
isx_plan_for_batch(IsxBatchPlans *plans, const char *query, int nargs, Oid *argtypes,
			  int batch_size)
{
	if (batch_size > ISX_SMALL_BATCH)
	{
		if (plans->large == NULL)
			plans->large = prepare_kept(query, nargs, argtypes, 0);
		return plans->large;
	}
	if (plans->small == NULL)
		plans->small = prepare_kept(query, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
	return plans->small;
}

/*
 * How much a statement folds in memory before it writes (or, for page
 * views, spills): 16 times work_mem, at most ISX_FOLD_MAX_BYTES (64 MB, reached
 * at the default work_mem of 4 MB).
 */
Size
isx_fold_budget(void)
{
	return Min(ISX_FOLD_MAX_BYTES, (Size) work_mem * 1024 * 16);
}

/*
 * A fold that did not fit memory, spilled to a sort (on disk past
 * isx_fold_budget()): rows of the given column types, sorted ascending on
 * the first nsort columns, read back in that order.  Made in cxt, which
 * must outlive it (the caller may be in a row's context).
 */
void
isx_spill_begin(IsxSpill *spill, MemoryContext cxt, const Oid *types, int ncols,
			   const Oid *sort_ops, const Oid *collations, int nsort)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	TupleDesc	desc = CreateTemplateTupleDesc(ncols);
	AttrNumber	sort_cols[INDEX_MAX_KEYS];
	bool		nulls_first[INDEX_MAX_KEYS];

	Assert(nsort <= INDEX_MAX_KEYS);
	for (int c = 0; c < ncols; c++)
		TupleDescInitEntry(desc, (AttrNumber) (c + 1), NULL, types[c], -1, 0);
	for (int k = 0; k < nsort; k++)
	{
		sort_cols[k] = (AttrNumber) (k + 1);
		nulls_first[k] = false;
	}
	spill->read = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	spill->row = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	spill->sort = tuplesort_begin_heap(desc, nsort, sort_cols, (Oid *) sort_ops,
									   (Oid *) collations, nulls_first,
									   (int) (isx_fold_budget() / 1024), NULL, TUPLESORT_NONE);
	spill->sorted = false;
	MemoryContextSwitchTo(oldcxt);
}

/* a row to write: every column not null until set so */
TupleTableSlot *
isx_spill_new_row(IsxSpill *spill)
{
	TupleTableSlot *row = spill->row;

	ExecClearTuple(row);
	memset(row->tts_isnull, false, sizeof(bool) * row->tts_tupleDescriptor->natts);
	return row;
}

void
isx_spill_write(IsxSpill *spill)
{
	ExecStoreVirtualTuple(spill->row);
	tuplesort_puttupleslot(spill->sort, spill->row);
}

/* the next row in sort order, all columns deformed, or NULL at the end */
TupleTableSlot *
isx_spill_read(IsxSpill *spill)
{
	if (!spill->sorted)
	{
		tuplesort_performsort(spill->sort);
		spill->sorted = true;
	}
	CHECK_FOR_INTERRUPTS();
	if (!tuplesort_gettupleslot(spill->sort, true, false, spill->read, NULL))
		return NULL;
	slot_getallattrs(spill->read);
	return spill->read;
}

void
isx_spill_end(IsxSpill *spill)
{
	ExecDropSingleTupleTableSlot(spill->read);
	ExecDropSingleTupleTableSlot(spill->row);
	tuplesort_end(spill->sort);
	spill->sort = NULL;
}

/*
 * SPI_execute_plan (read-write) that leaves the caller in its own memory
 * context.  SPI returns in its procedure context, which lives until
 * SPI_finish: what a chunk allocated after a query would otherwise pile up
 * for the whole statement.
 */
int
isx_execute_plan(SPIPlanPtr plan, Datum *args, const char *nulls, long count)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = SPI_execute_plan(plan, args, nulls, false, count);

	MemoryContextSwitchTo(cxt);
	return rc;
}

/* attribute number of a column the extension's own event table must have */
int
isx_column_number(TupleDesc desc, const char *table, const char *column)
{
	int			attnum = SPI_fnumber(desc, column);

	if (attnum <= 0)
		elog(ERROR, "column \"%s\" of table \"%s\" is missing", column, table);
	return attnum;
}

/* value of an int8 column of the slot; false when null */
bool
is_slot_int64(TupleTableSlot *slot, int attnum, int64 *value)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	if (!isnull)
		*value = DatumGetInt64(d);
	return !isnull;
}

/* errors out unless called by the trigger manager */
void
isx_check_trigger_call(FunctionCallInfo fcinfo, const char *funcname)
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
static bool own_tables_callback = false;

static void
own_tables_invalidate(Datum arg, Oid relid)
{
	for (int t = 0; t < ISX_NUM_OWN_TABLES; t++)
	{
		if (relid == InvalidOid || relid == own_table_oids[t])
		{
			memset(own_table_oids, 0, sizeof(own_table_oids));
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
static Oid
own_table_oid(IsxOwnTable table)
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

/* the same for the other files (config.c reads insure_stream.config) */
Oid
isx_own_table_oid(IsxOwnTable table)
{
	return own_table_oid(table);
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

	isx_check_trigger_call(fcinfo, spec->funcname);
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
		own = (spec->tables & ISX_TABLE(t)) && own_table_oid((IsxOwnTable) t) == relid;
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
int64
isx_last_seq_drawn(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	Oid			who = GetOuterUserId();
	AttrNumber	attnum;
	List	   *seqs;
	Oid			seqoid;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile int64 result = PG_INT64_MIN;

	attnum = (AttrNumber) isx_column_number(RelationGetDescr(rel), RelationGetRelationName(rel), "ingest_seq");
	if (pg_class_aclcheck(relid, who, ACL_INSERT) != ACLCHECK_OK &&
		pg_attribute_aclcheck(relid, attnum, who, ACL_INSERT) != ACLCHECK_OK)
		return PG_INT64_MAX;

	seqs = getOwnedSequences(relid);
	if (list_length(seqs) != 1)
		elog(ERROR, "table \"%s\" does not have one sequence for ingest_seq",
			 RelationGetRelationName(rel));
	seqoid = linitial_oid(seqs);
	list_free(seqs);

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
 * Bad input in an event row.  With on_bad_input = error the statement fails
 * (nothing it did survives); with quarantine the row is recorded in
 * rejected_events with its reason and a WARNING is raised.
 *
 * problem is the start of the message, e.g. "invalid premium"; row_label
 * identifies the row for people, e.g. "id 42".
 */
void
isx_reject_event(const IsxSettings *settings, Relation rel, TupleTableSlot *slot,
				int64 ingest_seq, int sqlstate, const char *problem,
				const char *column, const char *value, const char *row_label)
{
	static SPIPlanPtr plan = NULL;
	const char *table = RelationGetRelationName(rel);
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	if (!settings->quarantine)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("%s \"%s\" in column \"%s\" of table \"%s\"",
						problem, value, column, table),
				 errdetail("The event with %s (ingest_seq %lld) was not applied; the statement changed nothing.",
						   row_label, (long long) ingest_seq),
				 errhint("Fix the event, or set on_bad_input to \"quarantine\" with insure_stream.configure() to keep loading.")));

	if (plan == NULL)
	{
		Oid			types[7] = {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, JSONBOID};

		plan = isx_prepare_kept_plan("INSERT INTO insure_stream.rejected_events"
							   " (table_name, ingest_seq, column_name, bad_value, reason, sqlstate, event)"
							   " VALUES ($1, $2, $3, $4, $5, $6, $7)",
							   7, types);
	}
	args[0] = CStringGetTextDatum(table);
	args[1] = Int64GetDatum(ingest_seq);
	args[2] = CStringGetTextDatum(column);
	args[3] = CStringGetTextDatum(value);
	args[4] = CStringGetTextDatum(problem);
	args[5] = CStringGetTextDatum(unpack_sql_state(sqlstate));
	/* row_to_json reads the row type from the datum itself */
	args[6] = DirectFunctionCall1(jsonb_in,
								  CStringGetDatum(TextDatumGetCString(DirectFunctionCall1(row_to_json,
																						  ExecFetchSlotHeapTupleDatum(slot)))));
	if (isx_execute_plan(plan, args, nulls, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record a rejected event");

	ereport(WARNING,
			(errcode(sqlstate),
			 errmsg("%s \"%s\" in column \"%s\" of table \"%s\"",
					problem, value, column, table),
			 errdetail("The event with %s (ingest_seq %lld) was quarantined in insure_stream.rejected_events.",
					   row_label, (long long) ingest_seq)));
}

/* a non-null text value too long to be part of a result's key */
bool
isx_key_too_long(Datum value)
{
	return toast_raw_datum_size(value) - VARHDRSZ > ISX_MAX_KEY_BYTES;
}

/* the start of a text value for messages, cut at a character boundary */
char *
isx_text_start(Datum value, int bytes)
{
	char	   *s = TextDatumGetCString(value);
	int			len = (int) strlen(s);
	int			clip = pg_mbcliplen(s, len, bytes);

	return psprintf("%.*s%s", clip, s, clip < len ? "..." : "");
}

PG_FUNCTION_INFO_V1(insure_stream_refuse_event_change);

/* BEFORE UPDATE OR DELETE FOR EACH STATEMENT on the event tables */
Datum
insure_stream_refuse_event_change(PG_FUNCTION_ARGS)
{
	static const IsxTriggerSpec spec = {
		.funcname = "refuse_event_change",
		.timing = TRIGGER_EVENT_BEFORE,
		.for_row = false,
		.events = ISX_ON_UPDATE | ISX_ON_DELETE,
		.new_table = false,
		.tables = ISX_TABLE(ISX_TABLE_USER_ORDER) | ISX_TABLE(ISX_TABLE_UPDATE_INFO) |
		ISX_TABLE(ISX_TABLE_USER_LOG),
	};
	TriggerData *trigdata = isx_check_trigger(fcinfo, &spec);

	if (isx_purge_in_progress)
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot %s table \"%s\"",
					TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "update" : "delete from",
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("Event tables are append-only logs; results are derived from them."),
			 errhint("Use insure_stream.purge_events() to remove old events.")));
	PG_RETURN_NULL();
}
