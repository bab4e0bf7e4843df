/*-------------------------------------------------------------------------
 *
 * direct.c
 *		Direct access to the extension's own state tables: find a row by
 *		its primary key and lock it, insert a new one with speculative
 *		insertion (as INSERT ... ON CONFLICT does), insert or update a row
 *		we hold, keeping the indexes.  This is what logical replication's
 *		apply does; a state change then costs a few index probes and tuple
 *		writes instead of starting up SQL statements.
 *
 * Only for tables that nobody else writes with triggers, constraints or
 * generated columns in mind: neither triggers nor CHECK constraints run.
 * Rows are read and locked at their latest committed version whatever the
 * isolation level, which is what keeping running state exact needs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
#include "utils/snapshot.h"

#include "direct.h"
#include "shards.h"
#include "trigger.h"

/* an executor state to write with; ends with isx_direct_end */
EState *
isx_direct_begin(void)
{
	EState	   *estate = CreateExecutorState();

	estate->es_snapshot = RegisterSnapshot(GetLatestSnapshot());
	estate->es_output_cid = GetCurrentCommandId(true);
	return estate;
}

/*
 * Ends the speculative insertions of st: whoever found one of its rows
 * while it was being inserted waited for this.  One token serves all the
 * rows a table inserts between two calls (rows are written in the order
 * every writer locks in, so a longer wait cannot close a cycle that row
 * locks would not); a token per row cost two lock-manager calls per new
 * row.
 */
static void
state_end_inserts(IsxStateTable *st)
{
	LOCKTAG		tag;

	if (st->spec_token == 0)
		return;
	SET_LOCKTAG_SPECULATIVE_INSERTION(tag, GetCurrentTransactionId(), st->spec_token);
	LockRelease(&tag, ExclusiveLock, false);
	st->spec_token = 0;
}

/* closes the tables, frees the executor state; what was written is visible from now on */
void
isx_direct_end(EState *estate, IsxStateTable *const *tables, int ntables)
{
	for (int i = 0; i < ntables; i++)
	{
		state_end_inserts(tables[i]);
		if (tables[i]->bulk != NULL)
			FreeBulkInsertState(tables[i]->bulk);
		ExecDropSingleTupleTableSlot(tables[i]->stored);
		ExecDropSingleTupleTableSlot(tables[i]->row);
		ExecCloseIndices(tables[i]->rri);
		table_close(tables[i]->rel, NoLock);
	}
	UnregisterSnapshot(estate->es_snapshot);
	FreeExecutorState(estate);
	CommandCounterIncrement();
}

/*
 * A row this command inserted is not visible to the command itself: before
 * writing over such a row, move to the next command.
 */
void
isx_direct_next_command(EState *estate)
{
	CommandCounterIncrement();
	estate->es_output_cid = GetCurrentCommandId(true);
}

/*
 * Opens insure_stream.<name> (or its Citus shard, see shards.c) and its indexes, locked as DML locks them, and
 * finds the 0-based positions of the named columns.
 */
void
isx_state_open(IsxStateTable *st, const char *name, EState *estate,
			   const char *const *columns, int ncolumns, int *positions)
{
	Oid			relid = isx_state_relid(name);
	Oid			pkey;

	st->name = name;
	st->estate = estate;
	st->rel = table_open(relid, RowExclusiveLock);
	st->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(st->rri, st->rel, 0, NULL, 0);
	ExecOpenIndices(st->rri, true);
	pkey = RelationGetPrimaryKeyIndex(st->rel);
	st->pkey = NULL;
	for (int i = 0; i < st->rri->ri_NumIndices; i++)
		if (RelationGetRelid(st->rri->ri_IndexRelationDescs[i]) == pkey)
			st->pkey = st->rri->ri_IndexRelationDescs[i];
	if (st->pkey == NULL)
		elog(ERROR, "table insure_stream.%s has no primary key", name);
	st->nkeys = IndexRelationGetNumberOfKeyAttributes(st->pkey);
	for (int i = 0; i < st->nkeys; i++)
	{
		Oid			type = st->pkey->rd_opcintype[i];
		Oid			eq = get_opfamily_member(st->pkey->rd_opfamily[i], type, type,
											 BTEqualStrategyNumber);

		if (!OidIsValid(eq))
			elog(ERROR, "no equality operator for the primary key of insure_stream.%s", name);
		st->key_atts[i] = st->pkey->rd_index->indkey.values[i];
		st->key_procs[i] = get_opcode(eq);
	}
	st->stored = table_slot_create(st->rel, NULL);
	st->row = MakeSingleTupleTableSlot(RelationGetDescr(st->rel), &TTSOpsVirtual);
	st->keys_seen = 0;
	st->keys_stored = 0;
	st->spec_token = 0;
	st->bulk = NULL;
	for (int c = 0; c < ncolumns; c++)
		positions[c] = isx_column_number(RelationGetDescr(st->rel), name, columns[c]) - 1;
}

/* starts a row to search for or to write: every column null */
TupleTableSlot *
isx_state_new_row(IsxStateTable *st)
{
	ExecClearTuple(st->row);
	memset(st->row->tts_isnull, true, sizeof(bool) * st->row->tts_tupleDescriptor->natts);
	return st->row;
}

/* scan keys for the primary key columns of st->row */
static void
primary_key(IsxStateTable *st, ScanKey keys)
{
	for (int i = 0; i < st->nkeys; i++)
		ScanKeyEntryInitialize(&keys[i], 0, (AttrNumber) (i + 1), BTEqualStrategyNumber, InvalidOid,
							   st->pkey->rd_indcollation[i], st->key_procs[i],
							   st->row->tts_values[st->key_atts[i] - 1]);
}

/*
 * A scan of st's primary key for the key in st->row that sees rows being
 * inserted, updated or locked by others (a dirty snapshot), for one
 * lookup.  (A scan kept for every lookup of a statement saved nothing
 * measurable, and three alive at once made glibc give back and take again
 * memory per single-row statement, which slowed concurrent sessions.)
 */
static IndexScanDesc
begin_key_scan(IsxStateTable *st, ScanKey keys, Snapshot dirty)
{
	ExecStoreVirtualTuple(st->row);
	primary_key(st, keys);
	InitDirtySnapshot(*dirty);
	return index_beginscan(st->rel, st->pkey, dirty, st->nkeys, 0);
}

/*
 * Finds the row with the key at its latest version, after whoever is
 * writing or locking it (we wait for them and look again): true with the
 * row in st->stored.
 */
static bool
find_latest(IsxStateTable *st, IndexScanDesc scan, Snapshot dirty, ScanKey keys)
{
	for (;;)
	{
		TransactionId busy;

		CHECK_FOR_INTERRUPTS();
		index_rescan(scan, keys, st->nkeys, NULL, 0);
		if (!index_getnext_slot(scan, ForwardScanDirection, st->stored))
			return false;
		busy = TransactionIdIsValid(dirty->xmin) ? dirty->xmin : dirty->xmax;
		if (!TransactionIdIsValid(busy))
			return true;
		XactLockTableWait(busy, NULL, NULL, XLTW_None);
	}
}

static bool
end_key_scan(IsxStateTable *st, IndexScanDesc scan, bool found)
{
	index_endscan(scan);
	if (found)
		slot_getallattrs(st->stored);
	return found;
}

/*
 * Finds the row whose primary key columns equal those of st->row and locks
 * it FOR UPDATE: true with the row in st->stored, or false when there is
 * none.  When the row changes between finding and locking it, we look
 * again.
 */
bool
isx_state_lock(IsxStateTable *st)
{
	ScanKeyData keys[INDEX_MAX_KEYS];
	SnapshotData dirty;
	IndexScanDesc scan;
	bool		found;

	scan = begin_key_scan(st, keys, &dirty);
	while ((found = find_latest(st, scan, &dirty, keys)))
	{
		TM_FailureData tmfd;
		TM_Result	result;

		/* the heap ignores the snapshot here: it locks the version found */
		result = table_tuple_lock(st->rel, &st->stored->tts_tid, st->estate->es_snapshot, st->stored,
								  GetCurrentCommandId(false), LockTupleExclusive, LockWaitBlock,
								  0, &tmfd);
		if (result == TM_Ok)
			break;
		if (result != TM_Updated && result != TM_Deleted)
			elog(ERROR, "unexpected result %d locking a row of insure_stream.%s", (int) result, st->name);
	}
	return end_key_scan(st, scan, found);
}

/*
 * Reads the row whose primary key columns equal those of st->row at its
 * latest version, without locking it: for rows whose writers all hold a
 * lock the caller holds now.  True with the row in st->stored.
 */
bool
isx_state_fetch(IsxStateTable *st)
{
	ScanKeyData keys[INDEX_MAX_KEYS];
	SnapshotData dirty;
	IndexScanDesc scan;

	scan = begin_key_scan(st, keys, &dirty);
	return end_key_scan(st, scan, find_latest(st, scan, &dirty, keys));
}

/*
 * Inserts st->row unless a row with its primary key exists or is being
 * inserted (then false, after that inserter finished): speculative
 * insertion, as INSERT ... ON CONFLICT does.  There is no pre-check:
 * callers have just looked for the row or expect it to be new.  The new row's tid is in st->row.
 */
static bool
state_insert_new(IsxStateTable *st)
{
	EState	   *estate = st->estate;
	List	   *arbiters = list_make1_oid(RelationGetRelid(st->pkey));
	bool		conflict = false;

	ExecStoreVirtualTuple(st->row);
	if (st->spec_token == 0)
		st->spec_token = SpeculativeInsertionLockAcquire(GetCurrentTransactionId());
	table_tuple_insert_speculative(st->rel, st->row, estate->es_output_cid, 0, st->bulk, st->spec_token);
	ExecInsertIndexTuples(st->rri, st->row, estate, false, true, &conflict, arbiters);
	table_tuple_complete_speculative(st->rel, st->row, st->spec_token, !conflict);
	ResetPerTupleExprContext(estate);
	list_free(arbiters);
	return !conflict;
}

/*
 * Writes the row of a key without locking it first: finds its latest
 * version (after whoever is writing it), asks decide() for the row to
 * write in its place (decide fills st->row from st->stored and returns
 * false when nothing changes), and updates that version.  When another
 * session updated it in between, the update reports it and we look again,
 * as the executor does for UPDATE.  A row written this way costs one
 * update; locking it first cost a lock record more.  Only for states whose
 * merge is a join (the order of merging does not matter, and merging what
 * is already there changes nothing): then skipping the write when nothing
 * changes is right whatever concurrent writers commit.  False when there
 * is no row for the key (st->row holds the key on entry).
 */
bool
isx_state_update_latest(IsxStateTable *st, bool (*decide) (IsxStateTable *st, void *arg), void *arg)
{
	ScanKeyData keys[INDEX_MAX_KEYS];
	SnapshotData dirty;
	IndexScanDesc scan;

	scan = begin_key_scan(st, keys, &dirty);
	for (;;)
	{
		TM_FailureData tmfd;
		TM_Result	result;
		LockTupleMode lockmode;
		bool		update_indexes;
		ItemPointerData tid;

		if (!find_latest(st, scan, &dirty, keys))
		{
			index_endscan(scan);
			return false;
		}
		slot_getallattrs(st->stored);
		tid = st->stored->tts_tid;
		if (!decide(st, arg))
			break;
		ExecStoreVirtualTuple(st->row);
		result = table_tuple_update(st->rel, &tid, st->row, st->estate->es_output_cid,
									st->estate->es_snapshot, InvalidSnapshot, true,
									&tmfd, &lockmode, &update_indexes);
		if (result == TM_Ok)
		{
			if (update_indexes && st->rri->ri_NumIndices > 0)
				ExecInsertIndexTuples(st->rri, st->row, st->estate, true, false, NULL, NIL);
			ResetPerTupleExprContext(st->estate);
			break;
		}
		if (result != TM_Updated && result != TM_Deleted)
			elog(ERROR, "unexpected result %d updating a row of insure_stream.%s", (int) result, st->name);
		/* someone else's version came first: merge into theirs */
		CHECK_FOR_INTERRUPTS();
		ExecStoreVirtualTuple(st->row);
		primary_key(st, keys);
	}
	index_endscan(scan);
	return true;
}

/*
 * Writes the state of a key, whichever way applies however other sessions
 * race for it: merges into the stored row (isx_state_update_latest with
 * decide), or inserts the new row when there is none (if another session
 * inserted one meanwhile, merges into that).  fill() puts the key, or the
 * whole new row, into st->row.
 *
 * Looking first costs an index probe per key; when most keys of a large
 * statement turn out to be new (a bulk load), trying the insertion first
 * saves that probe, and a key that exists after all costs one speculative
 * heap tuple, killed at once.  Until 32 keys are seen, or while more than
 * an eighth of them exist, keys are looked for first.
 */
/*
 * A statement that inserts this many new keys keeps the page it inserts
 * into pinned, and fills new pages through a ring of buffers as COPY does
 * (a bulk load does not push the rest of shared buffers out).
 */
#define BULK_INSERT_KEYS 1024

void
isx_state_merge_or_insert(IsxStateTable *st, IsxRowFill fill,
						  bool (*decide) (IsxStateTable *st, void *arg), void *arg)
{
	bool		insert_first = st->keys_seen >= 32 && st->keys_stored * 8 < st->keys_seen;

	st->keys_seen++;
	if (insert_first && st->bulk == NULL && st->keys_seen >= BULK_INSERT_KEYS)
		st->bulk = GetBulkInsertState();
	for (;;)
	{
		if (!insert_first)
		{
			fill(st, arg, false);
			if (isx_state_update_latest(st, decide, arg))
			{
				st->keys_stored++;
				return;
			}
		}
		fill(st, arg, true);
		if (state_insert_new(st))
			return;
		insert_first = false;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Writes st->row: a new row (tid NULL; its key must be ours alone) or over
 * the row at tid, which we hold.
 */
void
isx_state_write(IsxStateTable *st, ItemPointer tid)
{
	bool		update_indexes = true;

	ExecStoreVirtualTuple(st->row);
	if (tid == NULL)
		simple_table_tuple_insert(st->rel, st->row);
	else
		simple_table_tuple_update(st->rel, tid, st->row, st->estate->es_snapshot, &update_indexes);
	if (update_indexes && st->rri->ri_NumIndices > 0)
		ExecInsertIndexTuples(st->rri, st->row, st->estate, tid != NULL, false, NULL, NIL);
	ResetPerTupleExprContext(st->estate);
}

/*
 * A value's ordering key (time, seq) in the state row: NULL in both columns
 * when the value is absent, or when shorten and the key is the row's own
 * (row_at, row_seq): the value came with the row's latest event, as most
 * do, and the row is shorter by both columns (0.2.1).
 */
void
isx_state_set_ordering(IsxStateTable *st, int at_column, int seq_column, int64 at, int64 seq,
					   bool absent, bool shorten, int64 row_at, int64 row_seq)
{
	bool		omit = absent || (shorten && at == row_at && seq == row_seq);

	isx_state_set(st, at_column, Int64GetDatum(at), omit);
	isx_state_set(st, seq_column, Int64GetDatum(seq), omit);
}

/* a present value's ordering key in st->stored: written out, or the row's own */
void
isx_stored_ordering(IsxStateTable *st, int at_column, int seq_column, int64 row_at, int64 row_seq,
					int64 *at, int64 *seq)
{
	TupleTableSlot *slot = st->stored;

	*at = slot->tts_isnull[at_column] ? row_at : DatumGetInt64(slot->tts_values[at_column]);
	*seq = slot->tts_isnull[at_column] ? row_seq : DatumGetInt64(slot->tts_values[seq_column]);
}

/* a text column of the row in st->stored, copied; NULL when null */
text *
isx_stored_text(IsxStateTable *st, int column)
{
	return st->stored->tts_isnull[column] ? NULL :
		DatumGetTextPCopy(st->stored->tts_values[column]);
}

/* sets a column of st->row; isnull for a null */
void
isx_state_set(IsxStateTable *st, int column, Datum value, bool isnull)
{
	st->row->tts_values[column] = value;
	st->row->tts_isnull[column] = isnull;
}
