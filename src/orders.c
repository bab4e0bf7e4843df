/*-------------------------------------------------------------------------
 *
 * orders.c
 *		Scenario 1: per (user, day) the last non-null order values, and per
 *		hour the premium sum and the distinct policies and policy holders of
 *		the users whose last order of the day lies in that hour.
 *
 * A statement-level trigger folds the statement's rows per (user, day) in
 * memory (a fold too large for memory is spilled as sorted runs), then
 * slice by slice of keys in ascending order locks each stored state or
 * inserts it and updates the changed ones, written directly (direct.c).
 * That is all it writes: each state carries its hour (biz_date), and the
 * hour figures are computed from the open days' states when read (hs_order),
 * so sessions writing different users never share a row, and a retraction
 * is just the state moving.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "config.h"
#include "direct.h"
#include "rejects.h"
#include "shards.h"
#include "spi_plans.h"
#include "spill.h"
#include "trigger.h"

/* the three last-value columns of a state */
enum
{
	COL_ORDER_NO,
	COL_TEL,
	COL_PAYBLE,
	NUM_COLS
};

typedef struct OrderKey
{
	int64		id;
	int32		day;			/* DateADT of the local date of gmt_modified */
} OrderKey;

/* a value with the (gmt_modified, ingest_seq) ordering key that set it */
typedef struct OrderValue
{
	bool		isnull;
	Datum		value;			/* text (copied) or float8 */
	int64		at;
	int64		seq;
} OrderValue;

typedef struct OrderState
{
	int64		gmt;
	int64		gmt_seq;
	OrderValue	cols[NUM_COLS];
} OrderState;

typedef struct OrderEntry
{
	OrderKey	key;
	OrderState	fold;			/* this statement's rows */
} OrderEntry;

/*
 * A slot of the fold's hash table: the key and where its entry is.  The
 * entries live apart, in slabs, so the table (sized by the hash's growth,
 * often 2-3 times the keys) is 24 bytes a slot, not the entry's 128.
 */
typedef struct OrderSlot
{
	OrderKey	key;
	char		status;			/* simplehash's */
	uint32		entry;			/* index into OrderBatch.slabs */
} OrderSlot;

#define ENTRIES_PER_SLAB 256		/* 32 kB: a single-row statement takes one */

/*
 * A row on its way into the fold.  A fold of a large statement misses the
 * cache twice a row (the key's slot, then its entry), so rows go through a
 * short pipeline: the slot is prefetched when the row arrives, the entry
 * PIPE_DEPTH rows later, and the row is folded PIPE_DEPTH rows after that,
 * each miss overlapped with other rows' work.  The order rows are folded
 * in does not matter (a fold keeps the greatest ordering key).
 */
#define PIPE_DEPTH ISX_PREFETCH_AHEAD
#define PIPE_ROWS ((uint64) 2 * PIPE_DEPTH)
#define PIPE_TEXT_BYTES 48		/* a text this long or shorter is kept inline */

typedef struct PendingRow
{
	OrderKey	key;
	uint32		hash;
	uint32		entry;			/* index of its entry, once resolved */
	int64		gmt;
	int64		seq;
	bool		isnull[NUM_COLS];
	Datum		value[NUM_COLS];	/* texts point into text[] or are palloc'd */
	char		text[2][PIPE_TEXT_BYTES];
} PendingRow;

static inline uint32
order_key_hash(OrderKey key)
{
	return hash_combine(murmurhash32((uint32) key.id ^ (uint32) (key.id >> 32)),
						murmurhash32((uint32) key.day));
}

/*
 * The fold: open addressing keeps a key where its hash points (a dynahash
 * lookup followed three pointers).
 */
#define SH_PREFIX order_fold
#define SH_ELEMENT_TYPE OrderSlot
#define SH_KEY_TYPE OrderKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) order_key_hash(k)
#define SH_EQUAL(tb, a, b) ((a).id == (b).id && (a).day == (b).day)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* the columns of user_order the trigger reads (IsxStatement.att) */
enum
{
	UO_ID, UO_ORDER_NO, UO_ORDER_PRICE, UO_CUSTOMER_TEL, UO_GMT_MODIFIED,
	UO_ACCOUNT_PAYBLE, UO_INGESTED_AT, NUM_UO_COLS
};
static const char *const uo_names[NUM_UO_COLS] = {
	"id", "order_no", "order_price", "customer_tel", "gmt_modified",
	"account_payble", "ingested_at"
};

typedef struct OrderBatch
{
	IsxSettings *settings;
	const int  *att;			/* where the UO_* columns are */
	MemoryContext cxt;			/* the statement's */
	IsxSpill   *spill;			/* folds that did not fit, or NULL */
	MemoryContext chunkcxt;		/* the folded entries */
	MemoryContext slicecxt;		/* one slice of a flush, reset after it */
	order_fold_hash *slots;		/* key -> entry */
	OrderEntry **slabs;			/* the entries, ENTRIES_PER_SLAB a slab */
	uint32		nentries;
	uint32		maxslabs;
	PendingRow	pipe[PIPE_ROWS];
	uint64		piped;			/* rows that entered the pipeline */
	uint64		resolved;		/* rows whose entry is known */
	uint64		folded;			/* rows that left it */
	int			rows;			/* rows folded into entries */
	TimestampTz window_ingested_at; /* ingest time of window_start_ms */
	int64		window_start_ms;	/* start of that ingest time's local day */
} OrderBatch;

/* ordering keys (at, seq): does a come after b? */
static inline bool
comes_after(int64 a_at, int64 a_seq, int64 b_at, int64 b_seq)
{
	return a_at > b_at || (a_at == b_at && a_seq > b_seq);
}

/*
 * Keeps the later of two values.  free_old: the value replaced is a copy
 * owned by into alone (folding rows), so it can go at once.
 */
static void
merge_value(OrderValue *into, const OrderValue *from, bool byval, bool free_old)
{
	if (from->isnull)
		return;
	if (into->isnull || comes_after(from->at, from->seq, into->at, into->seq))
	{
		if (free_old && !byval && !into->isnull)
			pfree(DatumGetPointer(into->value));
		into->isnull = false;
		into->at = from->at;
		into->seq = from->seq;
		into->value = byval ? from->value : datumCopy(from->value, false, -1);
	}
}

static void
merge_state(OrderState *into, const OrderState *from)
{
	int			i;

	if (comes_after(from->gmt, from->gmt_seq, into->gmt, into->gmt_seq))
	{
		into->gmt = from->gmt;
		into->gmt_seq = from->gmt_seq;
	}
	for (i = 0; i < NUM_COLS; i++)
		merge_value(&into->cols[i], &from->cols[i], i == COL_PAYBLE, false);
}

static bool
same_ordering(const OrderState *a, const OrderState *b)
{
	int			i;

	if (a->gmt != b->gmt || a->gmt_seq != b->gmt_seq)
		return false;
	for (i = 0; i < NUM_COLS; i++)
	{
		if (a->cols[i].isnull != b->cols[i].isnull)
			return false;
		if (!a->cols[i].isnull &&
			(a->cols[i].at != b->cols[i].at || a->cols[i].seq != b->cols[i].seq))
			return false;
	}
	return true;
}

/* a state no row has contributed to yet: merging anything into it wins */
static void
empty_state(OrderState *st)
{
	memset(st, 0, sizeof(*st));
	st->gmt = PG_INT64_MIN;
	st->gmt_seq = PG_INT64_MIN;
	for (int c = 0; c < NUM_COLS; c++)
		st->cols[c].isnull = true;
}

static int32
local_day(int64 epoch_ms, pg_tz *tz)
{
	struct pg_tm tm;

	isx_local_time(epoch_ms, tz, &tm);
	return date2j(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
}

/* biz_date, yyyymmddhh in the configured zone */
static Datum
biz_date(int64 epoch_ms, pg_tz *tz)
{
	struct pg_tm tm;
	char		buf[32];

	isx_local_time(epoch_ms, tz, &tm);
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
	return CStringGetTextDatum(buf);
}

static void
new_chunk(OrderBatch *batch)
{
	MemoryContextReset(batch->chunkcxt);
	batch->slots = order_fold_create(batch->chunkcxt, 64, NULL);
	batch->maxslabs = 16;
	batch->slabs = MemoryContextAlloc(batch->chunkcxt, sizeof(OrderEntry *) * batch->maxslabs);
	batch->nentries = 0;
	batch->rows = 0;
}

static inline OrderEntry *
entry_at(OrderBatch *batch, uint32 i)
{
	return &batch->slabs[i / ENTRIES_PER_SLAB][i % ENTRIES_PER_SLAB];
}

/* a new entry of the chunk, with an empty state */
static uint32
add_entry(OrderBatch *batch, OrderKey key)
{
	uint32		i = batch->nentries++;
	OrderEntry *e;

	if (i % ENTRIES_PER_SLAB == 0)
	{
		uint32		slab = i / ENTRIES_PER_SLAB;

		if (slab == batch->maxslabs)
		{
			batch->maxslabs *= 2;
			batch->slabs = repalloc(batch->slabs, sizeof(OrderEntry *) * batch->maxslabs);
		}
		batch->slabs[slab] = MemoryContextAlloc(batch->chunkcxt,
												sizeof(OrderEntry) * ENTRIES_PER_SLAB);
	}
	e = entry_at(batch, i);
	e->key = key;
	empty_state(&e->fold);
	return i;
}

static char *
float_text(double d)
{
	return DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(d)));
}

/*
 * Bad input of an order row: a non-finite amount, an event time before
 * the Unix epoch or beyond max_future, or an order_no or customer_tel too
 * long for a key.
 */
static bool
validate_order(IsxStatement *stmt, TupleTableSlot *slot, IsxBadInput *bad)
{
	static const int amounts[] = {UO_ORDER_PRICE, UO_ACCOUNT_PAYBLE};
	static const int keys[] = {UO_ORDER_NO, UO_CUSTOMER_TEL};
	const IsxSettings *settings = stmt->settings;
	int64		gmt;

	for (int i = 0; i < (int) lengthof(amounts); i++)
	{
		bool		isnull;
		double		amount = DatumGetFloat8(slot_getattr(slot, stmt->att[amounts[i]], &isnull));

		if (!isnull && (isnan(amount) || isinf(amount)))
		{
			return isx_bad_input(bad, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "non-finite amount",
								 amounts[i], float_text(amount));
		}
	}

	/*
	 * Before the Unix epoch there is no local day and hour that the SQL
	 * re-derive agrees on (BC years, or no timestamp at all), so verify()
	 * and rebuild() would fail on the row even where it is only filtered.
	 */
	if (isx_slot_int64(slot, stmt->att[UO_GMT_MODIFIED], &gmt) &&
		(gmt < 0 || gmt > settings->now_ms + settings->max_future_ms))
	{
		return isx_bad_input(bad, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
							 gmt < 0 ? "event time before the Unix epoch" : "event time too far in the future",
							 UO_GMT_MODIFIED, psprintf(INT64_FORMAT, gmt));
	}
	for (int i = 0; i < (int) lengthof(keys); i++)
	{
		bool		isnull;
		Datum		text = slot_getattr(slot, stmt->att[keys[i]], &isnull);

		if (!isnull && isx_key_too_long(text))
		{
			return isx_bad_input(bad, ERRCODE_STRING_DATA_RIGHT_TRUNCATION, ISX_KEY_TOO_LONG,
								 keys[i], isx_text_start(text, 32));
		}
	}
	return true;
}

/* folds a pending row into its entry */
static void
fold_pending(OrderBatch *batch, PendingRow *row)
{
	OrderEntry *entry = entry_at(batch, row->entry);
	MemoryContext oldcxt = MemoryContextSwitchTo(batch->chunkcxt);

	if (comes_after(row->gmt, row->seq, entry->fold.gmt, entry->fold.gmt_seq))
	{
		entry->fold.gmt = row->gmt;
		entry->fold.gmt_seq = row->seq;
	}
	for (int c = 0; c < NUM_COLS; c++)
	{
		OrderValue	v;

		if (row->isnull[c])
			continue;
		v.isnull = false;
		v.value = row->value[c];
		v.at = row->gmt;
		v.seq = row->seq;
		merge_value(&entry->fold.cols[c], &v, c == COL_PAYBLE, true);
		if (c != COL_PAYBLE &&
			DatumGetPointer(row->value[c]) != row->text[c])
			pfree(DatumGetPointer(row->value[c]));
	}
	MemoryContextSwitchTo(oldcxt);
	batch->folded++;
}

/* finds or adds the entry of a pending row's key, and prefetches it */
static void
resolve_pending(OrderBatch *batch, PendingRow *row)
{
	bool		found;
	OrderSlot  *slot = order_fold_insert_hash(batch->slots, row->key, row->hash, &found);

	if (!found)
		slot->entry = add_entry(batch, row->key);
	row->entry = slot->entry;
	isx_prefetch(entry_at(batch, row->entry));
}

/* a text value of the row, copied inline when short (the slot's tuple goes with the next row) */
static Datum
pending_text(PendingRow *row, int c, Datum d)
{
	Size		size = VARSIZE_ANY(DatumGetPointer(d));

	if (size > PIPE_TEXT_BYTES)
		return datumCopy(d, false, -1);
	memcpy(row->text[c], DatumGetPointer(d), size);
	return PointerGetDatum(row->text[c]);
}

/* folds every row still in the pipeline */
static void
drain_pipeline(OrderBatch *batch)
{
	while (batch->resolved < batch->piped)
		resolve_pending(batch, &batch->pipe[batch->resolved++ % PIPE_ROWS]);
	while (batch->folded < batch->piped)
		fold_pending(batch, &batch->pipe[batch->folded % PIPE_ROWS]);
}

/*
 * Puts one accepted row into the pipeline: folds the row that entered
 * PIPE_ROWS rows ago, resolves the entry of the one PIPE_DEPTH rows ago.
 */
static void
fold_row(OrderBatch *batch, TupleTableSlot *slot, int64 id, int64 gmt, int64 seq)
{
	static const int text_cols[] = {COL_ORDER_NO, COL_TEL};
	static const int text_atts[] = {UO_ORDER_NO, UO_CUSTOMER_TEL};
	PendingRow *row = &batch->pipe[batch->piped % PIPE_ROWS];
	MemoryContext oldcxt;

	if (batch->piped - batch->folded == PIPE_ROWS)
		fold_pending(batch, row);
	row->key.id = id;
	row->key.day = local_day(gmt, batch->settings->tz);
	row->hash = order_key_hash(row->key);
	isx_prefetch(&batch->slots->data[row->hash & batch->slots->sizemask]);
	row->gmt = gmt;
	row->seq = seq;
	oldcxt = MemoryContextSwitchTo(batch->chunkcxt);
	for (int i = 0; i < (int) lengthof(text_cols); i++)
	{
		int			c = text_cols[i];
		Datum		d = slot_getattr(slot, batch->att[text_atts[i]], &row->isnull[c]);

		if (!row->isnull[c])
			row->value[c] = pending_text(row, c, d);
	}
	MemoryContextSwitchTo(oldcxt);
	row->value[COL_PAYBLE] = slot_getattr(slot, batch->att[UO_ACCOUNT_PAYBLE], &row->isnull[COL_PAYBLE]);
	batch->piped++;
	if (batch->piped - batch->resolved > PIPE_DEPTH)
		resolve_pending(batch, &batch->pipe[batch->resolved++ % PIPE_ROWS]);
}

/* an entry to sort, its key beside it */
typedef struct OrderItem
{
	int64		id;
	int32		day;
	OrderEntry *entry;
} OrderItem;

static inline int
order_item_cmp(const OrderItem *a, const OrderItem *b)
{
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return (a->day > b->day) - (a->day < b->day);
}

#define ST_SORT sort_order_items
#define ST_ELEMENT_TYPE OrderItem
#define ST_COMPARE(a, b) order_item_cmp(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* the fold's entries in ascending key order (the order every writer locks in) */
static OrderEntry **
sorted_entries(OrderBatch *batch, int *nentries)
{
	int			n;
	OrderItem  *items;
	OrderEntry **entries;
	int			i;

	drain_pipeline(batch);
	n = (int) batch->nentries;
	items = MemoryContextAllocHuge(batch->chunkcxt, sizeof(OrderItem) * Max(n, 1));
	entries = MemoryContextAllocHuge(batch->chunkcxt, sizeof(OrderEntry *) * Max(n, 1));

	for (i = 0; i < n; i++)
	{
		OrderEntry *e = entry_at(batch, i);

		items[i].id = e->key.id;
		items[i].day = e->key.day;
		items[i].entry = e;
	}
	sort_order_items(items, n);
	for (i = 0; i < n; i++)
		entries[i] = items[i].entry;
	pfree(items);
	*nentries = n;
	return entries;
}

/* ---- state rows, written directly (direct.c) ---- */

enum
{
	OS_ID, OS_DAY, OS_GMT, OS_GMT_SEQ,
	OS_ORDER_NO, OS_ORDER_NO_AT, OS_ORDER_NO_SEQ,
	OS_TEL, OS_TEL_AT, OS_TEL_SEQ,
	OS_PAYBLE, OS_PAYBLE_AT, OS_PAYBLE_SEQ, OS_BIZ,
	NUM_OS_COLS
};
static const char *const os_names[NUM_OS_COLS] = {
	"id", "day", "gmt_modified", "gmt_seq",
	"order_no", "order_no_at", "order_no_seq",
	"customer_tel", "customer_tel_at", "customer_tel_seq",
	"account_payble", "account_payble_at", "account_payble_seq", "biz_date"
};
typedef struct OrderTables
{
	EState	   *estate;
	IsxStateTable states;		/* order_state */
	int			os[NUM_OS_COLS];
	pg_tz	   *tz;				/* of biz_date */
} OrderTables;

static void
open_order_tables(OrderTables *t, pg_tz *tz)
{
	t->estate = isx_direct_begin();
	isx_state_open(&t->states, "order_state", t->estate, os_names, NUM_OS_COLS, t->os);
	t->tz = tz;
}

static void
close_order_tables(OrderTables *t)
{
	IsxStateTable *const tables[] = {&t->states};

	isx_direct_end(t->estate, tables, lengthof(tables));
}

/* an order_state row: the key, and the state unless st is NULL */
static void
state_row(OrderTables *t, const OrderKey *key, const OrderState *st)
{
	IsxStateTable *s = &t->states;

	isx_state_new_row(s);
	isx_state_set(s, t->os[OS_ID], Int64GetDatum(key->id), false);
	isx_state_set(s, t->os[OS_DAY], DateADTGetDatum(key->day), false);
	if (st == NULL)
		return;
	isx_state_set(s, t->os[OS_GMT], Int64GetDatum(st->gmt), false);
	isx_state_set(s, t->os[OS_GMT_SEQ], Int64GetDatum(st->gmt_seq), false);
	for (int c = 0; c < NUM_COLS; c++)
	{
		const OrderValue *v = &st->cols[c];

		isx_state_set(s, t->os[OS_ORDER_NO + 3 * c], v->value, v->isnull);
		isx_state_set_ordering(s, t->os[OS_ORDER_NO_AT + 3 * c], t->os[OS_ORDER_NO_SEQ + 3 * c],
							   v->at, v->seq, v->isnull, true, st->gmt, st->gmt_seq);
	}
	isx_state_set(s, t->os[OS_BIZ], biz_date(st->gmt, t->tz), false);
}

/* the state in t->states.stored, copied into the current context */
static OrderState *
stored_state(OrderTables *t)
{
	TupleTableSlot *slot = t->states.stored;
	OrderState *st = palloc(sizeof(OrderState));

	st->gmt = DatumGetInt64(slot->tts_values[t->os[OS_GMT]]);
	st->gmt_seq = DatumGetInt64(slot->tts_values[t->os[OS_GMT_SEQ]]);
	for (int c = 0; c < NUM_COLS; c++)
	{
		OrderValue *v = &st->cols[c];
		int			att = t->os[OS_ORDER_NO + 3 * c];

		v->isnull = slot->tts_isnull[att];
		v->value = v->isnull ? (Datum) 0 :
			(c == COL_PAYBLE ? slot->tts_values[att] : datumCopy(slot->tts_values[att], false, -1));
		if (v->isnull)
			v->at = v->seq = 0;
		else
			isx_stored_ordering(&t->states, t->os[OS_ORDER_NO_AT + 3 * c], t->os[OS_ORDER_NO_SEQ + 3 * c],
								st->gmt, st->gmt_seq, &v->at, &v->seq);
	}
	return st;
}

/* an entry whose state is being written, for decide_state */
typedef struct StateFill
{
	OrderTables *t;
	OrderEntry *e;
} StateFill;

/* the stored state (in st->stored) merged with the fold: false when that changes nothing */
static bool
decide_state(IsxStateTable *st, void *arg)
{
	StateFill  *f = arg;
	OrderState *old = stored_state(f->t);
	OrderState	merged = *old;

	merge_state(&merged, &f->e->fold);
	if (same_ordering(&merged, old))
		return false;
	state_row(f->t, &f->e->key, &merged);
	return true;
}

/* an order_state row of an entry for isx_state_merge_or_insert: the key, or its fold */
static void
fill_state(IsxStateTable *st, void *arg, bool whole)
{
	StateFill  *f = arg;

	state_row(f->t, &f->e->key, whole ? &f->e->fold : NULL);
}

/*
 * Writes the key's state: merges the fold into the stored state (no lock
 * record; merged again on a concurrent update), or inserts the fold.
 */
static void
write_state(OrderTables *t, OrderEntry *e)
{
	StateFill	f = {t, e};

	isx_state_merge_or_insert(&t->states, fill_state, decide_state, &f);
}

/*
 * Days before the order_state watermark were compacted by maintenance: their
 * hours are final and their per-user state is gone.  A transaction that
 * started before midnight may still carry rows for such a day; those are
 * filtered, under a shared lock that maintenance takes exclusively while it
 * moves the watermark, so no row slips in between.
 */
static void
watermark_on_cluster(void)
{
	/*
	 * On a Citus worker the watermark is this node's placement of the
	 * reference table maintenance_state, and the lock is a share lock on its
	 * row: compact_orders() on the coordinator updates the row on every
	 * node, so it waits for the writers of past days on all of them, and
	 * they for it (an advisory lock would hold on one node only).
	 * distribute() makes sure the row exists.
	 */
	MemoryContext cxt = CurrentMemoryContext;
	Oid			relid = isx_local_rows(get_relname_relid("maintenance_state",
														 get_namespace_oid("insure_stream", false)));

	if (SPI_execute(psprintf("SELECT m.value::pg_catalog.date FROM %s m"
							 " WHERE m.name OPERATOR(pg_catalog.=) 'orders_closed_before' FOR SHARE",
							 quote_qualified_identifier("insure_stream", get_rel_name(relid))),
					false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the closed-days watermark");
	MemoryContextSwitchTo(cxt);
}

static void
drop_closed_days(OrderBatch *batch, OrderEntry **keys, int *nkeys)
{
	int32		clock_day = local_day(isx_timestamptz_to_ms(GetCurrentTimestamp()),
									  batch->settings->tz);
	int32		closed_before;
	bool		isnull;
	int			k;
	int			kept = 0;
	bool		any_past = false;

	for (k = 0; k < *nkeys; k++)
		any_past |= keys[k]->key.day < clock_day;
	if (!any_past)
		return;
	if (isx_current_shard() != 0)
		watermark_on_cluster();
	else
	{
		static SPIPlanPtr plan = NULL;

		if (plan == NULL)
			plan = isx_prepare_kept_plan("SELECT insure_stream.orders_closed_before_locked()", 0, NULL);
		if (isx_execute_plan(plan, NULL, NULL, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "could not read the closed-days watermark");
	}
	closed_before = DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	if (isnull)
		return;
	for (k = 0; k < *nkeys; k++)
		if (keys[k]->key.day >= closed_before)
			keys[kept++] = keys[k];
	*nkeys = kept;
}

/*
 * Writes one slice of a chunk's keys (sorted): each state in key order,
 * the order every writer writes in, so writers cannot deadlock.  The hour
 * figures are read from the states (hs_order), so nothing else is written.
 * Everything it allocates goes with the slice, so a flush needs little
 * memory beyond the fold.
 */
static void
flush_slice(OrderBatch *batch, OrderEntry **keys, int nkeys)
{
	OrderTables t;
	MemoryContext oldcxt;

	drop_closed_days(batch, keys, &nkeys);
	if (nkeys == 0)
		return;
	oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	open_order_tables(&t, batch->settings->tz);
	for (int k = 0; k < nkeys; k++)
	{
		CHECK_FOR_INTERRUPTS();
		write_state(&t, keys[k]);
	}
	close_order_tables(&t);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(batch->slicecxt);
}

/* writes the chunk's keys in ascending order, slice by slice */
static void
flush_chunk(OrderBatch *batch)
{
	OrderEntry **keys;
	int			nkeys;

	if (batch->rows == 0)
		return;
	keys = sorted_entries(batch, &nkeys);
	for (int first = 0; first < nkeys; first += ISX_FLUSH_SLICE)
		flush_slice(batch, keys + first, Min(ISX_FLUSH_SLICE, nkeys - first));
	new_chunk(batch);
}

/*
 * A statement whose user-days do not fit the fold spills it, sorted, as a
 * run (spill.c) and folds again from the runs merged: the states come back
 * key by key, in the order we lock in, so every user-day is written once
 * per statement however large the COPY.
 *
 * A user-day in a run: int64 id; int32 day; int64 gmt_modified, gmt_seq;
 * uint8 a bit per null column; per other column int64 at, seq and the
 * value (a text's varlena, account_payble's float8).
 */
static void
pack_order_entry(StringInfo buf, const void *rec)
{
	const OrderEntry *e = rec;
	uint8		nulls = 0;

	for (int c = 0; c < NUM_COLS; c++)
		if (e->fold.cols[c].isnull)
			nulls |= 1 << c;
	appendBinaryStringInfo(buf, (const char *) &e->key.id, sizeof(int64));
	appendBinaryStringInfo(buf, (const char *) &e->key.day, sizeof(int32));
	appendBinaryStringInfo(buf, (const char *) &e->fold.gmt, sizeof(int64));
	appendBinaryStringInfo(buf, (const char *) &e->fold.gmt_seq, sizeof(int64));
	appendBinaryStringInfo(buf, (const char *) &nulls, sizeof(nulls));
	for (int c = 0; c < NUM_COLS; c++)
	{
		const OrderValue *v = &e->fold.cols[c];

		if (v->isnull)
			continue;
		appendBinaryStringInfo(buf, (const char *) &v->at, sizeof(int64));
		appendBinaryStringInfo(buf, (const char *) &v->seq, sizeof(int64));
		if (c == COL_PAYBLE)
		{
			double		d = DatumGetFloat8(v->value);

			appendBinaryStringInfo(buf, (const char *) &d, sizeof(d));
		}
		else
			appendBinaryStringInfo(buf, DatumGetPointer(v->value), VARSIZE_ANY(DatumGetPointer(v->value)));
	}
}

/* unpacks a user-day of a run (see pack_order_entry); NULL if malformed */
static void *
unpack_order_entry(const char *raw, Size size, char **space, Size *space_size)
{
	const char *p = raw;
	OrderEntry *e;
	char	   *value;
	uint8		nulls;

	/* unpacked, texts take at most their size plus alignment */
	e = (OrderEntry *) isx_spill_room(space, space_size,
									  MAXALIGN(sizeof(OrderEntry)) + size + (Size) NUM_COLS * MAXIMUM_ALIGNOF);
	memset(e, 0, sizeof(OrderEntry));
	value = (char *) e + MAXALIGN(sizeof(OrderEntry));
	memcpy(&e->key.id, p, sizeof(int64));
	p += sizeof(int64);
	memcpy(&e->key.day, p, sizeof(int32));
	p += sizeof(int32);
	memcpy(&e->fold.gmt, p, sizeof(int64));
	p += sizeof(int64);
	memcpy(&e->fold.gmt_seq, p, sizeof(int64));
	p += sizeof(int64);
	memcpy(&nulls, p, sizeof(nulls));
	p += sizeof(nulls);
	for (int c = 0; c < NUM_COLS; c++)
	{
		OrderValue *v = &e->fold.cols[c];

		v->isnull = (nulls & (1 << c)) != 0;
		if (v->isnull)
			continue;
		memcpy(&v->at, p, sizeof(int64));
		memcpy(&v->seq, p + sizeof(int64), sizeof(int64));
		p += 2 * sizeof(int64);
		if (c == COL_PAYBLE)
		{
			double		d;

			memcpy(&d, p, sizeof(d));
			v->value = Float8GetDatum(d);
			p += sizeof(d);
		}
		else
		{
			Size		bytes = isx_spill_varsize(p);

			memcpy(value, p, bytes);
			v->value = PointerGetDatum(value);
			value += MAXALIGN(bytes);
			p += bytes;
		}
	}
	return p == raw + size ? e : NULL;
}

static int
compare_order_entries(const void *a, const void *b)
{
	const OrderEntry *x = a;
	const OrderEntry *y = b;

	if (x->key.id != y->key.id)
		return x->key.id < y->key.id ? -1 : 1;
	return (x->key.day > y->key.day) - (x->key.day < y->key.day);
}

static const IsxSpillFormat order_runs = {
	.what = "orders",
	.pack = pack_order_entry,
	.unpack = unpack_order_entry,
	.compare = compare_order_entries,
};

/* writes the folded user-days as a run, in key order, and starts an empty fold */
static void
spill_chunk(OrderBatch *batch)
{
	OrderEntry **keys;
	int			nkeys;

	if (batch->spill == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(batch->cxt);

		batch->spill = isx_spill_begin(&order_runs);
		MemoryContextSwitchTo(oldcxt);
	}
	keys = sorted_entries(batch, &nkeys);
	isx_spill_new_run(batch->spill);
	for (int k = 0; k < nkeys; k++)
		isx_spill_put(batch->spill, keys[k]);
	new_chunk(batch);
}

/* folds the runs merged again, key by key, and writes them slice by slice */
static void
flush_spill(OrderBatch *batch)
{
	OrderEntry **keys = MemoryContextAlloc(batch->cxt, sizeof(OrderEntry *) * ISX_FLUSH_SLICE);
	int			nkeys = 0;
	OrderEntry *rec;

	spill_chunk(batch);
	while ((rec = isx_spill_next(batch->spill)) != NULL)
	{
		OrderEntry *last = nkeys > 0 ? keys[nkeys - 1] : NULL;
		MemoryContext oldcxt;

		if (last == NULL || compare_order_entries(last, rec) != 0)
		{
			if (nkeys == ISX_FLUSH_SLICE)
			{
				flush_slice(batch, keys, nkeys);
				MemoryContextReset(batch->chunkcxt);
				nkeys = 0;
			}
			last = MemoryContextAllocZero(batch->chunkcxt, sizeof(OrderEntry));
			last->key = rec->key;
			empty_state(&last->fold);
			keys[nkeys++] = last;
		}
		/* the winning texts are copied into the chunk */
		oldcxt = MemoryContextSwitchTo(batch->chunkcxt);
		merge_state(&last->fold, &rec->fold);
		MemoryContextSwitchTo(oldcxt);
	}
	if (nkeys > 0)
		flush_slice(batch, keys, nkeys);
	pfree(keys);
	isx_spill_end(batch->spill);
}

/*
 * order_window = day: a row counts when its gmt_modified is not before the
 * start of the local day of its own ingest (ingested_at, normally now()), so
 * that a re-derive from the log decides exactly as the trigger did.
 */
static bool
before_window(OrderBatch *batch, TupleTableSlot *slot, int64 gmt)
{
	bool		isnull;
	TimestampTz ingested_at;

	if (!batch->settings->window_day)
		return false;
	ingested_at = DatumGetTimestampTz(slot_getattr(slot, batch->att[UO_INGESTED_AT], &isnull));
	if (isnull)
		ingested_at = GetCurrentTransactionStartTimestamp();
	if (ingested_at != batch->window_ingested_at)
	{
		batch->window_start_ms = isx_day_start_ms(isx_timestamptz_to_ms(ingested_at),
												  batch->settings->tz);
		batch->window_ingested_at = ingested_at;
	}
	return gmt < batch->window_start_ms;
}

/* an empty fold for the statement's orders */
static void *
begin_orders(IsxStatement *stmt)
{
	OrderBatch *batch = palloc0(sizeof(OrderBatch));

	batch->settings = stmt->settings;
	batch->att = stmt->att;
	batch->cxt = stmt->cxt;
	batch->chunkcxt = AllocSetContextCreate(stmt->cxt, "insure_stream order chunk",
											ALLOCSET_DEFAULT_SIZES);
	batch->slicecxt = AllocSetContextCreate(stmt->cxt, "insure_stream order slice",
											ALLOCSET_DEFAULT_SIZES);
	batch->window_ingested_at = DT_NOBEGIN;
	batch->window_start_ms = 0;
	batch->spill = NULL;
	new_chunk(batch);
	return batch;
}

/*
 * Folds a valid row per (user, day), unless it is filtered (no id or time,
 * or before the window: kept, not counted); when the fold's memory reaches
 * isx_fold_budget(), spills it as a sorted run, so memory stays bounded
 * whatever the size of the COPY.
 */
static void
fold_order(IsxStatement *stmt, TupleTableSlot *slot, int64 seq)
{
	OrderBatch *batch = stmt->fold;
	int64		id;
	int64		gmt;

	if (!isx_slot_int64(slot, stmt->att[UO_ID], &id) ||
		!isx_slot_int64(slot, stmt->att[UO_GMT_MODIFIED], &gmt) ||
		before_window(batch, slot, gmt))
		return;
	fold_row(batch, slot, id, gmt, seq);
	if ((++batch->rows % 1024) == 0 &&
		MemoryContextMemAllocated(batch->chunkcxt, true) > isx_fold_budget())
		spill_chunk(batch);
}

/* writes the statement's user-days: from the spill if there is one */
static void
flush_orders(IsxStatement *stmt)
{
	OrderBatch *batch = stmt->fold;

	if (batch->spill != NULL)
		flush_spill(batch);
	else
		flush_chunk(batch);
}

static const IsxScenario orders = {
	.trigger = "user_order_apply",
	.table = ISX_TABLE_USER_ORDER,
	.columns = uo_names,
	.ncolumns = NUM_UO_COLS,
	.label_column = UO_ID,
	.begin = begin_orders,
	.validate = validate_order,
	.fold = fold_order,
	.flush = flush_orders,
};

PG_FUNCTION_INFO_V1(insure_stream_user_order_apply);

/* AFTER INSERT ON user_order REFERENCING NEW TABLE FOR EACH STATEMENT */
Datum
insure_stream_user_order_apply(PG_FUNCTION_ARGS)
{
	return isx_apply_statement(fcinfo, &orders);
}
