/*-------------------------------------------------------------------------
 *
 * pagelog.c
 *		Scenario 3: per (account, device) the last non-null page type and
 *		page name by log_time.  user_last_log is a view over these pairs
 *		(per account the pair with the greatest log_time).
 *
 * The trigger on user_log and track_page() share one path: fold the rows
 * per (account, device) in memory, then pair by pair in ascending byte
 * order: lock the pair's page_state row and merge into it, or create it.
 * Pairs are independent of each other, so nothing is locked per account
 * and two sessions wait for each other only on the same pair.  The state
 * is read and written directly (index probes, heap inserts and updates,
 * speculative insertion for a new pair) at its latest committed version,
 * whatever the isolation level.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/stratnum.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "storage/itemptr.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "insure_stream.h"

enum
{
	COL_TYPE,					/* bury_point_type */
	COL_PAGE,					/* page_name */
	NUM_PAGE_COLS
};

/* a value and the (log_time, ingest_seq) of the event that set it */
typedef struct PageValue
{
	bool		isnull;
	text	   *value;
	int64		at;
	int64		seq;
} PageValue;

typedef struct PageState
{
	int64		log_time;
	int64		log_seq;
	PageValue	cols[NUM_PAGE_COLS];
	bool		from_calls;		/* has track_page() input */
} PageState;

/*
 * The hash key is the text "account \0 device-key": device-key is "n" for
 * a null device, "d<id>" otherwise ('' is a device like any other).
 */
typedef struct PageEntry
{
	char	   *key;			/* hash key (palloc'd) */
	text	   *account_id;
	text	   *device_id;		/* NULL for a null device */
	text	   *device_key;
	PageState	fold;
} PageEntry;

typedef struct PageBatch
{
	IsSettings *settings;
	MemoryContext cxt;			/* the statement's */
	IsSpill		spill;			/* folds that did not fit (sort NULL: none) */
	MemoryContext chunkcxt;
	MemoryContext slicecxt;
	HTAB	   *entries;
	int			rows;
} PageBatch;

static inline bool
comes_after(int64 a_at, int64 a_seq, int64 b_at, int64 b_seq)
{
	return a_at > b_at || (a_at == b_at && a_seq > b_seq);
}

static void
merge_page_state(PageState *into, const PageState *from)
{
	if (comes_after(from->log_time, from->log_seq, into->log_time, into->log_seq))
	{
		into->log_time = from->log_time;
		into->log_seq = from->log_seq;
	}
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		const PageValue *f = &from->cols[c];

		if (!f->isnull && (into->cols[c].isnull ||
						   comes_after(f->at, f->seq, into->cols[c].at, into->cols[c].seq)))
			into->cols[c] = *f;
	}
	into->from_calls |= from->from_calls;
}

/* a pair's state before any view: every value null, older than any time */
static void
empty_page_state(PageState *st)
{
	memset(st, 0, sizeof(*st));
	st->log_time = PG_INT64_MIN;
	st->log_seq = PG_INT64_MIN;
	for (int c = 0; c < NUM_PAGE_COLS; c++)
		st->cols[c].isnull = true;
}

static bool
same_page_state(const PageState *a, const PageState *b)
{
	if (a->log_time != b->log_time || a->log_seq != b->log_seq ||
		a->from_calls != b->from_calls)
		return false;
	for (int c = 0; c < NUM_PAGE_COLS; c++)
		if (a->cols[c].isnull != b->cols[c].isnull ||
			(!a->cols[c].isnull &&
			 (a->cols[c].at != b->cols[c].at || a->cols[c].seq != b->cols[c].seq)))
			return false;
	return true;
}

static uint32
key_hash(const void *key, Size keysize)
{
	const char *k = *(char *const *) key;
	Size		len = strlen(k);

	len += strlen(k + len + 1) + 1;
	return DatumGetUInt32(hash_any((const unsigned char *) k, len));
}

static int
key_compare(const void *a, const void *b, Size keysize)
{
	const char *ka = *(char *const *) a;
	const char *kb = *(char *const *) b;
	int			r = strcmp(ka, kb);

	return r != 0 ? r : strcmp(ka + strlen(ka) + 1, kb + strlen(kb) + 1);
}

static void
new_page_chunk(PageBatch *batch)
{
	HASHCTL		ctl;

	MemoryContextReset(batch->chunkcxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(PageEntry);
	ctl.hash = key_hash;
	ctl.match = key_compare;
	ctl.hcxt = batch->chunkcxt;
	batch->entries = hash_create("insure_stream pages", 1024, &ctl,
								 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	batch->rows = 0;
}

/* folds one accepted page view (values may be null) */
static void
fold_page(PageBatch *batch, text *account_id, text *device_id, text *type, text *page,
		  int64 log_time, int64 seq, bool from_calls)
{
	char	   *acc = text_to_cstring(account_id);	/* in the caller's (row) context */
	char	   *dev = device_id ? text_to_cstring(device_id) : NULL;
	Size		acclen = strlen(acc);
	Size		devlen = dev ? strlen(dev) + 1 : 1;
	char	   *key = palloc(acclen + 1 + devlen + 1);
	PageEntry  *entry;
	bool		found;
	PageState	row;
	text	   *values[NUM_PAGE_COLS] = {type, page};
	MemoryContext oldcxt;

	memcpy(key, acc, acclen + 1);
	key[acclen + 1] = dev ? 'd' : 'n';
	if (dev)
		memcpy(key + acclen + 2, dev, devlen);
	else
		key[acclen + 2] = '\0';
	entry = hash_search(batch->entries, &key, HASH_ENTER, &found);
	oldcxt = MemoryContextSwitchTo(batch->chunkcxt);
	if (!found)
	{
		/* the entry keeps copies; what the row brought goes with the row */
		Size		keylen = acclen + 1 + strlen(key + acclen + 1) + 1;

		entry->key = memcpy(palloc(keylen), key, keylen);
		entry->account_id = cstring_to_text(acc);
		entry->device_id = dev ? cstring_to_text(dev) : NULL;
		entry->device_key = cstring_to_text(entry->key + acclen + 1);
		empty_page_state(&entry->fold);
	}

	memset(&row, 0, sizeof(row));
	row.log_time = log_time;
	row.log_seq = seq;
	row.from_calls = from_calls;
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		row.cols[c].isnull = values[c] == NULL;
		row.cols[c].value = values[c];
		row.cols[c].at = log_time;
		row.cols[c].seq = seq;
	}
	/* copy only the values that win, so a long COPY does not pile them up */
	for (int c = 0; c < NUM_PAGE_COLS; c++)
		if (!row.cols[c].isnull &&
			(entry->fold.cols[c].isnull ||
			 comes_after(log_time, seq, entry->fold.cols[c].at, entry->fold.cols[c].seq)))
		{
			if (!entry->fold.cols[c].isnull)
				pfree(entry->fold.cols[c].value);
			row.cols[c].value = (text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(values[c]));
		}
	merge_page_state(&entry->fold, &row);
	batch->rows++;
	MemoryContextSwitchTo(oldcxt);
}

static int
entry_order(const void *a, const void *b)
{
	const PageEntry *ea = *(PageEntry *const *) a;
	const PageEntry *eb = *(PageEntry *const *) b;

	return key_compare(&ea->key, &eb->key, sizeof(char *));
}

/* equal texts, null being equal to null only */
static bool
same_text(text *a, text *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

/* the state tables of a slice and the columns we use */
enum
{
	PS_ACCOUNT, PS_DEVICE_KEY, PS_DEVICE, PS_TIME, PS_SEQ,
	PS_TYPE, PS_TYPE_AT, PS_TYPE_SEQ, PS_PAGE, PS_PAGE_AT, PS_PAGE_SEQ, PS_FROM_CALLS,
	NUM_PS_COLS
};
static const char *const ps_names[NUM_PS_COLS] = {
	"account_id", "device_key", "device_id", "log_time", "log_seq",
	"bury_point_type", "bury_point_type_at", "bury_point_type_seq",
	"page_name", "page_name_at", "page_name_seq", "from_calls"
};

typedef struct PageTables
{
	EState	   *estate;
	IsStateTable pairs;			/* page_state */
	int			ps[NUM_PS_COLS];
} PageTables;

static void
set_text(IsStateTable *st, int column, text *value)
{
	is_row_set(st, column, PointerGetDatum(value), value == NULL);
}

/* fills the rest of the pair's row from a state */
static void
pair_values(PageTables *t, PageEntry *e, const PageState *ps)
{
	IsStateTable *st = &t->pairs;
	const int  *att = t->ps;

	set_text(st, att[PS_DEVICE], e->device_id);
	is_row_set(st, att[PS_TIME], Int64GetDatum(ps->log_time), false);
	is_row_set(st, att[PS_SEQ], Int64GetDatum(ps->log_seq), false);
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		const PageValue *v = &ps->cols[c];

		set_text(st, att[PS_TYPE + 3 * c], v->isnull ? NULL : v->value);
		is_row_set(st, att[PS_TYPE_AT + 3 * c], Int64GetDatum(v->at), v->isnull);
		is_row_set(st, att[PS_TYPE_SEQ + 3 * c], Int64GetDatum(v->seq), v->isnull);
	}
	is_row_set(st, att[PS_FROM_CALLS], BoolGetDatum(ps->from_calls), false);
}

/* the state of the stored (locked) row of a pair, texts copied */
static void
stored_state(PageTables *t, PageState *ps)
{
	IsStateTable *st = &t->pairs;
	Datum	   *values = st->stored->tts_values;
	const int  *att = t->ps;

	memset(ps, 0, sizeof(*ps));
	ps->log_time = DatumGetInt64(values[att[PS_TIME]]);
	ps->log_seq = DatumGetInt64(values[att[PS_SEQ]]);
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		PageValue  *v = &ps->cols[c];

		v->value = is_stored_text(st, att[PS_TYPE + 3 * c]);
		v->isnull = v->value == NULL;
		if (!v->isnull)
		{
			v->at = DatumGetInt64(values[att[PS_TYPE_AT + 3 * c]]);
			v->seq = DatumGetInt64(values[att[PS_TYPE_SEQ + 3 * c]]);
		}
	}
	ps->from_calls = DatumGetBool(values[att[PS_FROM_CALLS]]);
}

/* what pair_row fills a page_state row with */
typedef struct PairRow
{
	PageTables *t;
	PageEntry  *e;
	const PageState *state;		/* the values of a whole row */
} PairRow;

/* fills the page_state row of a pair: its key, or (whole) its key and values */
static void
pair_row(IsStateTable *st, void *arg, bool whole)
{
	PairRow    *r = arg;

	is_state_row(st);
	set_text(st, r->t->ps[PS_ACCOUNT], r->e->account_id);
	set_text(st, r->t->ps[PS_DEVICE_KEY], r->e->device_key);
	if (whole)
		pair_values(r->t, r->e, r->state);
}

/*
 * One pair: lock its row and merge the fold into it (writing only a
 * change), or create it with the fold.  Pairs are independent, so two
 * sessions wait for each other only on the same (account, device).
 */
static void
flush_pair(PageTables *t, PageEntry *e)
{
	PairRow		r = {t, e, &e->fold};
	ItemPointerData tid;
	PageState	old;
	PageState	merged;

	if (!is_state_lock_or_insert(&t->pairs, pair_row, &r))
		return;					/* created with the fold */
	tid = t->pairs.stored->tts_tid;
	stored_state(t, &old);
	merged = old;
	merge_page_state(&merged, &e->fold);
	if (same_page_state(&merged, &old))
		return;
	r.state = &merged;
	pair_row(&t->pairs, &r, true);
	is_state_write(&t->pairs, &tid);
}

/* writes a slice of pairs, in ascending key order (the order every writer locks in) */
static void
flush_page_slice(PageBatch *batch, PageEntry **keys, int nkeys)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	PageTables	t;
	IsStateTable *const tables[] = {&t.pairs};

	t.estate = is_direct_begin();
	is_state_open(&t.pairs, "page_state", t.estate, ps_names, NUM_PS_COLS, t.ps);
	for (int k = 0; k < nkeys; k++)
	{
		CHECK_FOR_INTERRUPTS();
		flush_pair(&t, keys[k]);
	}
	is_direct_end(t.estate, tables, lengthof(tables));
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(batch->slicecxt);
}

/* writes the chunk in ascending key order, slice by slice */
static void
flush_page_chunk(PageBatch *batch)
{
	PageEntry **keys;
	int			nkeys;

	if (batch->rows == 0)
		return;
	keys = (PageEntry **) is_sorted_entries(batch->entries, batch->chunkcxt, entry_order, &nkeys);
	for (int first = 0; first < nkeys; first += IS_FLUSH_SLICE)
		flush_page_slice(batch, keys + first, Min(IS_FLUSH_SLICE, nkeys - first));
	new_page_chunk(batch);
}

/*
 * A statement whose pairs do not fit the fold spills it, folded, to a sort
 * (on disk past the same memory) and folds again from there: the sorted
 * states come out pair by pair, in the order we lock in, so every pair is
 * written once per statement however large the COPY.
 */
enum
{
	SP_ACCOUNT = 1, SP_DEVICE_KEY, SP_DEVICE, SP_TIME, SP_SEQ,
	SP_TYPE, SP_TYPE_AT, SP_TYPE_SEQ, SP_PAGE, SP_PAGE_AT, SP_PAGE_SEQ, SP_FROM_CALLS,
	NUM_SP_COLS = SP_FROM_CALLS
};

/* starts the sort that holds what did not fit the fold */
static void
begin_page_spill(PageBatch *batch)
{
	static const Oid types[NUM_SP_COLS] = {
		TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID,
		TEXTOID, INT8OID, INT8OID, TEXTOID, INT8OID, INT8OID, BOOLOID
	};
	static const Oid sort_ops[2] = {TextLessOperator, TextLessOperator};
	static const Oid collations[2] = {C_COLLATION_OID, C_COLLATION_OID};

	is_spill_begin(&batch->spill, batch->cxt, types, NUM_SP_COLS, sort_ops, collations, 2);
}

/* puts one pair's fold into the sort */
static void
spill_fold(PageBatch *batch, text *account_id, text *device_key, text *device_id,
		   const PageState *fold)
{
	TupleTableSlot *row = is_spill_row(&batch->spill);
	Datum	   *v = row->tts_values;
	bool	   *n = row->tts_isnull;

	v[SP_ACCOUNT - 1] = PointerGetDatum(account_id);
	v[SP_DEVICE_KEY - 1] = PointerGetDatum(device_key);
	v[SP_DEVICE - 1] = PointerGetDatum(device_id);
	n[SP_DEVICE - 1] = device_id == NULL;
	v[SP_TIME - 1] = Int64GetDatum(fold->log_time);
	v[SP_SEQ - 1] = Int64GetDatum(fold->log_seq);
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		const PageValue *pv = &fold->cols[c];

		v[SP_TYPE - 1 + 3 * c] = PointerGetDatum(pv->value);
		v[SP_TYPE_AT - 1 + 3 * c] = Int64GetDatum(pv->at);
		v[SP_TYPE_SEQ - 1 + 3 * c] = Int64GetDatum(pv->seq);
		n[SP_TYPE - 1 + 3 * c] = n[SP_TYPE_AT - 1 + 3 * c] = n[SP_TYPE_SEQ - 1 + 3 * c] = pv->isnull;
	}
	v[SP_FROM_CALLS - 1] = BoolGetDatum(fold->from_calls);
	is_spill_put(&batch->spill);
}

/* moves the folded pairs to the sort and starts an empty fold */
static void
spill_page_chunk(PageBatch *batch)
{
	HASH_SEQ_STATUS seq;
	PageEntry  *e;

	if (batch->spill.sort == NULL)
		begin_page_spill(batch);
	hash_seq_init(&seq, batch->entries);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		spill_fold(batch, e->account_id, e->device_key, e->device_id, &e->fold);
	}
	new_page_chunk(batch);
}

/*
 * Once a statement has spilled, its later page views go to the sort one
 * by one: a fold that does not fit memory saves little there (most pairs
 * of a chunk are seen once), and hashing them cost more than the sort of
 * the few extra rows.  Values are detoasted in the caller's (row) context;
 * the sort keeps its own copy.
 */
static void
spill_page(PageBatch *batch, text *account_id, text *device_id, text *type, text *page,
		   int64 log_time, int64 seq)
{
	text	   *values[NUM_PAGE_COLS] = {type, page};
	text	   *device_key;
	PageState	row;

	account_id = DatumGetTextPP(PointerGetDatum(account_id));
	if (device_id != NULL)
	{
		Size		len;

		device_id = DatumGetTextPP(PointerGetDatum(device_id));
		len = VARSIZE_ANY_EXHDR(device_id);
		device_key = palloc(VARHDRSZ + 1 + len);
		SET_VARSIZE(device_key, VARHDRSZ + 1 + len);
		VARDATA(device_key)[0] = 'd';
		memcpy(VARDATA(device_key) + 1, VARDATA_ANY(device_id), len);
	}
	else
		device_key = cstring_to_text("n");
	row.log_time = log_time;
	row.log_seq = seq;
	row.from_calls = false;
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		row.cols[c].isnull = values[c] == NULL;
		row.cols[c].value = values[c] ? DatumGetTextPP(PointerGetDatum(values[c])) : NULL;
		row.cols[c].at = log_time;
		row.cols[c].seq = seq;
	}
	spill_fold(batch, account_id, device_key, device_id, &row);
}

static text *
spilled_text(TupleTableSlot *slot, int attnum)
{
	return slot->tts_isnull[attnum - 1] ? NULL : DatumGetTextPCopy(slot->tts_values[attnum - 1]);
}

/* an entry of the current slice for a spilled pair, its fold empty (in chunkcxt) */
static PageEntry *
spilled_entry(PageBatch *batch, TupleTableSlot *slot)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(batch->chunkcxt);
	PageEntry  *e = palloc0(sizeof(PageEntry));
	char	   *acc = TextDatumGetCString(slot->tts_values[SP_ACCOUNT - 1]);
	char	   *dev = TextDatumGetCString(slot->tts_values[SP_DEVICE_KEY - 1]);
	Size		acclen = strlen(acc);

	e->key = palloc(acclen + strlen(dev) + 2);
	memcpy(e->key, acc, acclen + 1);
	memcpy(e->key + acclen + 1, dev, strlen(dev) + 1);
	e->account_id = spilled_text(slot, SP_ACCOUNT);
	e->device_key = spilled_text(slot, SP_DEVICE_KEY);
	e->device_id = spilled_text(slot, SP_DEVICE);
	empty_page_state(&e->fold);
	MemoryContextSwitchTo(oldcxt);
	return e;
}

/* merges a spilled fold into the entry of its pair */
static void
merge_spilled(PageBatch *batch, PageEntry *e, TupleTableSlot *slot)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(batch->chunkcxt);
	PageState	st;

	st.log_time = DatumGetInt64(slot->tts_values[SP_TIME - 1]);
	st.log_seq = DatumGetInt64(slot->tts_values[SP_SEQ - 1]);
	st.from_calls = DatumGetBool(slot->tts_values[SP_FROM_CALLS - 1]);
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		PageValue  *v = &st.cols[c];

		v->isnull = slot->tts_isnull[SP_TYPE - 1 + 3 * c];
		v->value = v->isnull ? NULL : spilled_text(slot, SP_TYPE + 3 * c);
		v->at = v->isnull ? 0 : DatumGetInt64(slot->tts_values[SP_TYPE_AT - 1 + 3 * c]);
		v->seq = v->isnull ? 0 : DatumGetInt64(slot->tts_values[SP_TYPE_SEQ - 1 + 3 * c]);
	}
	merge_page_state(&e->fold, &st);
	MemoryContextSwitchTo(oldcxt);
}

/* folds the sorted spill again, pair by pair, and writes it slice by slice */
static void
flush_spill(PageBatch *batch)
{
	PageEntry **keys = MemoryContextAlloc(batch->cxt, sizeof(PageEntry *) * IS_FLUSH_SLICE);
	int			nkeys = 0;
	TupleTableSlot *slot;

	spill_page_chunk(batch);
	while ((slot = is_spill_next(&batch->spill)) != NULL)
	{
		PageEntry  *last = nkeys > 0 ? keys[nkeys - 1] : NULL;

		if (last == NULL ||
			!same_text(last->account_id, DatumGetTextPP(slot->tts_values[SP_ACCOUNT - 1])) ||
			!same_text(last->device_key, DatumGetTextPP(slot->tts_values[SP_DEVICE_KEY - 1])))
		{
			/* a slice ends at a pair's end, once it has its share of keys */
			if (nkeys == IS_FLUSH_SLICE)
			{
				flush_page_slice(batch, keys, nkeys);
				MemoryContextReset(batch->chunkcxt);
				nkeys = 0;
			}
			last = spilled_entry(batch, slot);
			keys[nkeys++] = last;
		}
		merge_spilled(batch, last, slot);
	}
	if (nkeys > 0)
		flush_page_slice(batch, keys, nkeys);
	pfree(keys);
	is_spill_end(&batch->spill);
}

static void
start_batch(PageBatch *batch)
{
	batch->cxt = CurrentMemoryContext;
	batch->spill.sort = NULL;
	batch->chunkcxt = AllocSetContextCreate(CurrentMemoryContext, "insure_stream page chunk",
											ALLOCSET_DEFAULT_SIZES);
	batch->slicecxt = AllocSetContextCreate(CurrentMemoryContext, "insure_stream page slice",
											ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* outlives the chunks; goes with SPI_finish */
	batch->settings = is_settings_load(CurrentMemoryContext);
	new_page_chunk(batch);
}

static void
end_batch(PageBatch *batch)
{
	if (batch->spill.sort != NULL)
		flush_spill(batch);
	else
		flush_page_chunk(batch);
	SPI_finish();
	MemoryContextDelete(batch->chunkcxt);
	MemoryContextDelete(batch->slicecxt);
}

static text *
slot_text(TupleTableSlot *slot, int attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	return isnull ? NULL : (text *) DatumGetPointer(d);
}

/*
 * "account_id <id>" naming a row in messages.  A long id is cut at a
 * character boundary (a cut inside a multibyte character would make the
 * message invalid in the server encoding, and its conversion to the
 * client's encoding would fail in place of the message).
 */
static void
account_label(char *label, size_t size, text *account)
{
	char	   *id;
	int			len;
	int			clip;

	if (account == NULL)
	{
		snprintf(label, size, "account_id NULL");
		return;
	}
	id = text_to_cstring(account);
	len = (int) strlen(id);
	clip = pg_mbcliplen(id, len, 64);
	snprintf(label, size, "account_id %.*s%s", clip, id, clip < len ? "..." : "");
}

/* the first of account_id, device_id too long for a key, or NULL */
static const char *
long_key(TupleTableSlot *slot, int att_account, int att_device, Datum *value)
{
	static const char *const names[] = {"account_id", "device_id"};
	int			atts[2] = {att_account, att_device};

	for (int i = 0; i < 2; i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, atts[i], &isnull);

		if (!isnull && is_key_too_long(d))
		{
			*value = d;
			return names[i];
		}
	}
	return NULL;
}

/*
 * The entry points of 0.1.2 and before kept user_last_log as a table.
 * This library keeps page_state only, so with those SQL objects the table
 * would silently stop changing: refuse until the extension is updated.
 */
static void
objects_too_old(const char *function)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("function \"%s\" of insure_stream is older than its library", function),
			 errdetail("The library keeps user_last_log as a view over page_state (version 0.1.3)."),
			 errhint("Run ALTER EXTENSION insure_stream UPDATE.")));
}

PG_FUNCTION_INFO_V1(insure_stream_user_log_apply);

Datum
insure_stream_user_log_apply(PG_FUNCTION_ARGS)
{
	objects_too_old("user_log_apply");
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(insure_stream_track_page);

Datum
insure_stream_track_page(PG_FUNCTION_ARGS)
{
	objects_too_old("track_page");
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(insure_stream_user_log_apply_v2);

/* AFTER INSERT ON user_log REFERENCING NEW TABLE FOR EACH STATEMENT */
Datum
insure_stream_user_log_apply_v2(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel = is_check_statement_trigger(fcinfo, "user_log_apply");
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	int			att_time = is_column_number(desc, "user_log", "log_time");
	int			att_device = is_column_number(desc, "user_log", "device_id");
	int			att_account = is_column_number(desc, "user_log", "account_id");
	int			att_type = is_column_number(desc, "user_log", "bury_point_type");
	int			att_page = is_column_number(desc, "user_log", "page_name");
	int			att_seq = is_column_number(desc, "user_log", "ingest_seq");
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext, "insure_stream page row",
												 ALLOCSET_SMALL_SIZES);
	PageBatch	batch;

	start_batch(&batch);
	tuplestore_rescan(trigdata->tg_newtable);
	while (tuplestore_gettupleslot(trigdata->tg_newtable, true, false, slot))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
		int64		log_time;
		int64		seq;
		text	   *account = slot_text(slot, att_account);
		bool		has_time = is_slot_int64(slot, att_time, &log_time);
		const char *long_column;
		Datum		long_value;

		CHECK_FOR_INTERRUPTS();
		if (!is_slot_int64(slot, att_seq, &seq))
			elog(ERROR, "user_log row without ingest_seq");
		if (has_time && log_time > batch.settings->now_ms + batch.settings->max_future_ms)
		{
			char		value[32];
			char		label[128];

			snprintf(value, sizeof(value), "%lld", (long long) log_time);
			account_label(label, sizeof(label), account);
			is_reject_event(batch.settings, rel, slot, seq, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
							"event time too far in the future", "log_time", value, label);
		}
		else if ((long_column = long_key(slot, att_account, att_device, &long_value)) != NULL)
		{
			char		label[128];

			account_label(label, sizeof(label), account);
			is_reject_event(batch.settings, rel, slot, seq, ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
							IS_KEY_TOO_LONG, long_column, is_text_start(long_value, 32), label);
		}
		else if (account != NULL && has_time && batch.spill.sort != NULL)
			spill_page(&batch, account, slot_text(slot, att_device), slot_text(slot, att_type),
					   slot_text(slot, att_page), log_time, seq);
		else if (account != NULL && has_time)
		{
			fold_page(&batch, account, slot_text(slot, att_device), slot_text(slot, att_type),
					  slot_text(slot, att_page), log_time, seq, false);
			if ((batch.rows % 1024) == 0 &&
				MemoryContextMemAllocated(batch.chunkcxt, true) > is_fold_bytes())
				spill_page_chunk(&batch);
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	end_batch(&batch);
	MemoryContextDelete(rowcxt);
	ExecDropSingleTupleTableSlot(slot);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(insure_stream_track_page_v2);

/*
 * track_page(account_id, device_id, bury_point_type, page_name, log_time):
 * the same upsert for callers that keep no log.  Its ordering key takes a
 * number from user_log's ingest sequence, so it is ordered with logged
 * events.  A null account_id or log_time does nothing, as in the log.
 */
Datum
insure_stream_track_page_v2(PG_FUNCTION_ARGS)
{
	PageBatch	batch;
	int64		log_time;
	int64		seq;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(4))
		PG_RETURN_VOID();
	log_time = PG_GETARG_INT64(4);
	seq = DatumGetInt64(DirectFunctionCall1(nextval_oid,
											ObjectIdGetDatum(get_relname_relid("user_log_ingest_seq_seq",
																			   get_namespace_oid("insure_stream", false)))));
	start_batch(&batch);
	if (log_time > batch.settings->now_ms + batch.settings->max_future_ms)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time too far in the future \"%lld\" in argument \"%s\" of function \"%s\"",
						(long long) log_time, "log_time", "track_page"),
				 errdetail("It lies more than max_future after now().")));
	for (int i = 0; i < 2; i++)
		if (!PG_ARGISNULL(i) && is_key_too_long(PG_GETARG_DATUM(i)))
			ereport(ERROR,
					(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
					 errmsg("%s \"%s\" in argument \"%s\" of function \"%s\"", IS_KEY_TOO_LONG,
							is_text_start(PG_GETARG_DATUM(i), 32), i == 0 ? "account_id" : "device_id",
							"track_page")));
	fold_page(&batch, PG_GETARG_TEXT_PP(0), PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1),
			  PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2),
			  PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3), log_time, seq, true);
	end_batch(&batch);
	PG_RETURN_VOID();
}
