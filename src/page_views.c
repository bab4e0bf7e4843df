/*-------------------------------------------------------------------------
 *
 * page_views.c
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

#include "catalog/namespace.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "arrival.h"
#include "config.h"
#include "direct.h"
#include "rejects.h"
#include "shards.h"
#include "spill.h"
#include "trigger.h"

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
 * One page view, or the fold of a pair's views, as a record of a chunk:
 * its key "account \0 device-key \0" (device-key is "n" for a null
 * device, "d<id>" otherwise: '' is a device like any other) and its state,
 * whose values point into the chunk.  Keys compare as bytes, which is the
 * order of (account_id, device_key) as C strings: the order every writer
 * locks pairs in.
 */
typedef struct PageRec
{
	PageState	fold;
	uint32		keylen;			/* bytes of key, both terminators included */
	uint32		acclen;			/* bytes of the account */
	char		key[FLEXIBLE_ARRAY_MEMBER];
} PageRec;

/* a record to sort: the first key bytes past the chunk's common prefix, big-endian */
typedef struct PageItem
{
	uint64		abbrev;
	PageRec    *rec;
} PageItem;

/*
 * A statement's page views.  Rows are appended to the chunk as they come;
 * when the statement ends the chunk is sorted and each pair's records are
 * merged, then written pair by pair.  A chunk that outgrows isx_fold_budget()
 * is sorted, merged and written to a temporary file as a run, and the runs
 * are merged pair by pair at the end: every pair is written once per
 * statement, in the order every writer locks in, within bounded memory
 * however large the COPY.
 */
typedef struct PageBatch
{
	MemoryContext cxt;			/* the statement's */
	MemoryContext chunkcxt;		/* large records and merged values of the chunk */
	MemoryContext slicecxt;		/* one slice of a flush, reset after it */
	List	   *blocks;			/* where records go, kept from chunk to chunk */
	int			block_index;	/* of the block being filled, -1 before the first */
	char	   *block;			/* its free space */
	Size		block_free;
	Size		used;			/* bytes the chunk holds */
	PageItem   *items;			/* kept from chunk to chunk */
	int			nitems;
	int			maxitems;
	IsxSpill   *spill;			/* the chunks written as runs, or NULL */
	bool		short_times;	/* write values' own times as NULL (see below) */
} PageBatch;

/*
 * Whether the statement's entry point is one of the objects of 0.2.1 and
 * later (_v3), whose page_state stores the (time, seq) of a value set by
 * the row's latest event as NULL, or of 0.1.3 to 0.2.0 (_v2), whose SQL
 * (verify(), rebuild()) expects them written out.  Read when a statement
 * begins.
 */
static bool entry_short_times = true;

/*
 * Blocks of records grow from 8 kB to 1 MB (a single-row statement needs
 * one small block).  They are reused by the next chunk: memory given back
 * and taken again costs a page fault per page.
 */
#define PAGE_BLOCK_SIZE(index) ((Size) 8192 << Min((index), 7))

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

/* compares two keys as bytes (neither is a prefix of the other unless equal) */
static inline int
key_cmp(const PageRec *a, const PageRec *b)
{
	int			r = memcmp(a->key, b->key, Min(a->keylen, b->keylen));

	return r != 0 ? r : (a->keylen > b->keylen) - (a->keylen < b->keylen);
}

static inline int
item_cmp(const PageItem *a, const PageItem *b)
{
	if (a->abbrev != b->abbrev)
		return a->abbrev < b->abbrev ? -1 : 1;
	return key_cmp(a->rec, b->rec);
}

#define ST_SORT sort_page_items
#define ST_ELEMENT_TYPE PageItem
#define ST_COMPARE(a, b) item_cmp(a, b)
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* the 8 key bytes from offset on, big-endian, zero past the key's end */
static uint64
key_abbrev(const PageRec *rec, uint32 offset)
{
	uint64		v = 0;

	for (uint32 i = offset; i < offset + 8; i++)
		v = (v << 8) | (i < rec->keylen ? (uint8) rec->key[i] : 0);
	return v;
}

/* empties the chunk, keeping its blocks */
static void
new_page_chunk(PageBatch *batch)
{
	MemoryContextReset(batch->chunkcxt);
	batch->block_index = -1;
	batch->block = NULL;
	batch->block_free = 0;
	batch->used = sizeof(PageItem) * batch->maxitems;
	batch->nitems = 0;
}

/* room for a record in the chunk (records are never freed one by one) */
static void *
chunk_alloc(PageBatch *batch, Size size)
{
	void	   *p;

	size = MAXALIGN(size);
	if (size > PAGE_BLOCK_SIZE(0) / 4)
	{
		/* a long value: a block of its own, not kept */
		batch->used += size;
		return MemoryContextAllocHuge(batch->chunkcxt, size);
	}
	if (size > batch->block_free)
	{
		int			next = batch->block_index + 1;

		if (next == list_length(batch->blocks))
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(batch->cxt);

			batch->blocks = lappend(batch->blocks, palloc(PAGE_BLOCK_SIZE(next)));
			MemoryContextSwitchTo(oldcxt);
		}
		batch->block_index = next;
		batch->block = list_nth(batch->blocks, next);
		batch->block_free = PAGE_BLOCK_SIZE(next);
		batch->used += batch->block_free;
	}
	p = batch->block;
	batch->block += size;
	batch->block_free -= size;
	return p;
}

/* bytes a value takes in a record; null values take none */
static Size
value_bytes(const text *value)
{
	return value == NULL ? 0 : MAXALIGN(VARSIZE_ANY(value));
}

/* a record of the chunk for key and state; values are copied after the key */
static PageRec *
new_page_rec(PageBatch *batch, const char *account, uint32 acclen, const char *devkey,
			 uint32 devkeylen, const PageState *state)
{
	uint32		keylen = acclen + 1 + devkeylen + 1;
	Size		head = MAXALIGN(offsetof(PageRec, key) + keylen);
	Size		size = head;
	PageRec    *rec;
	char	   *p;

	for (int c = 0; c < NUM_PAGE_COLS; c++)
		size += value_bytes(state->cols[c].isnull ? NULL : state->cols[c].value);
	rec = chunk_alloc(batch, size);
	rec->fold = *state;
	rec->keylen = keylen;
	rec->acclen = acclen;
	memcpy(rec->key, account, acclen);
	rec->key[acclen] = '\0';
	memcpy(rec->key + acclen + 1, devkey, devkeylen);
	rec->key[keylen - 1] = '\0';
	p = (char *) rec + head;
	for (int c = 0; c < NUM_PAGE_COLS; c++)
		if (!state->cols[c].isnull)
		{
			memcpy(p, state->cols[c].value, VARSIZE_ANY(state->cols[c].value));
			rec->fold.cols[c].value = (text *) p;
			p += value_bytes(state->cols[c].value);
		}
	if (batch->nitems == batch->maxitems)
	{
		batch->used += sizeof(PageItem) * batch->maxitems;
		batch->maxitems *= 2;
		batch->items = repalloc_huge(batch->items, sizeof(PageItem) * batch->maxitems);
	}
	batch->items[batch->nitems++].rec = rec;
	return rec;
}

/*
 * Sorts the chunk's records by key and merges each pair's records into
 * its first: the chunk's items are then its pairs, in key order.
 */
static void
sort_page_chunk(PageBatch *batch)
{
	PageItem   *items = batch->items;
	uint32		common;
	int			n = 0;

	if (batch->nitems == 0)
		return;
	/* abbreviate past the prefix all keys share (say "acc" of "acc123") */
	common = items[0].rec->keylen;
	for (int i = 1; i < batch->nitems && common > 0; i++)
	{
		const PageRec *r = items[i].rec;
		uint32		j = 0;

		while (j < common && j < r->keylen && r->key[j] == items[0].rec->key[j])
			j++;
		common = j;
	}
	for (int i = 0; i < batch->nitems; i++)
		items[i].abbrev = key_abbrev(items[i].rec, common);
	sort_page_items(items, batch->nitems);
	for (int i = 0; i < batch->nitems; i++)
	{
		if (n > 0 && item_cmp(&items[n - 1], &items[i]) == 0)
			merge_page_state(&items[n - 1].rec->fold, &items[i].rec->fold);
		else
			items[n++] = items[i];
	}
	batch->nitems = n;
}

/*
 * A record in a run, packed (most page views set both values at their own
 * time, which is then not repeated):
 *	uint8 flags; uint16 acclen, keylen; int64 log_time, log_seq; with
 *	RUN_OWN_TIMES the at, seq of each value; the key; the non-null values
 *	as varlenas.
 */
#define RUN_NULL(c)		(1 << (c))
#define RUN_FROM_CALLS	(1 << NUM_PAGE_COLS)
#define RUN_OWN_TIMES	(1 << (NUM_PAGE_COLS + 1))

static inline void
pack(StringInfo buf, const void *data, Size bytes)
{
	appendBinaryStringInfo(buf, (const char *) data, (int) bytes);
}

static void
pack_page_rec(StringInfo buf, const void *record)
{
	const PageRec *rec = record;
	const PageState *st = &rec->fold;
	uint8		flags = st->from_calls ? RUN_FROM_CALLS : 0;
	uint16		lens[2] = {(uint16) rec->acclen, (uint16) rec->keylen};

	for (int c = 0; c < NUM_PAGE_COLS; c++)
		if (st->cols[c].isnull)
			flags |= RUN_NULL(c);
		else if (st->cols[c].at != st->log_time || st->cols[c].seq != st->log_seq)
			flags |= RUN_OWN_TIMES;
	pack(buf, &flags, sizeof(flags));
	pack(buf, lens, sizeof(lens));
	pack(buf, &st->log_time, sizeof(int64));
	pack(buf, &st->log_seq, sizeof(int64));
	if (flags & RUN_OWN_TIMES)
		for (int c = 0; c < NUM_PAGE_COLS; c++)
		{
			pack(buf, &st->cols[c].at, sizeof(int64));
			pack(buf, &st->cols[c].seq, sizeof(int64));
		}
	pack(buf, rec->key, rec->keylen);
	for (int c = 0; c < NUM_PAGE_COLS; c++)
		if (!st->cols[c].isnull)
			pack(buf, st->cols[c].value, VARSIZE_ANY(st->cols[c].value));
}

/* unpacks a record of a run (see pack_page_rec); NULL if malformed */
static void *
unpack_page_rec(const char *raw, Size size, char **space, Size *space_size)
{
	const char *p = raw;
	uint8		flags;
	uint16		lens[2];
	PageRec    *rec;
	char	   *value;

	memcpy(&flags, p, sizeof(flags));
	p += sizeof(flags);
	memcpy(lens, p, sizeof(lens));
	p += sizeof(lens);
	/* unpacked, values take at most their size plus alignment */
	rec = (PageRec *) isx_spill_room(space, space_size,
									 offsetof(PageRec, key) + size + (Size) (NUM_PAGE_COLS + 1) * MAXIMUM_ALIGNOF);
	rec->acclen = lens[0];
	rec->keylen = lens[1];
	memcpy(&rec->fold.log_time, p, sizeof(int64));
	memcpy(&rec->fold.log_seq, p + sizeof(int64), sizeof(int64));
	p += 2 * sizeof(int64);
	rec->fold.from_calls = (flags & RUN_FROM_CALLS) != 0;
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		PageValue  *v = &rec->fold.cols[c];

		v->isnull = (flags & RUN_NULL(c)) != 0;
		v->at = rec->fold.log_time;
		v->seq = rec->fold.log_seq;
		if (flags & RUN_OWN_TIMES)
		{
			memcpy(&v->at, p, sizeof(int64));
			memcpy(&v->seq, p + sizeof(int64), sizeof(int64));
			p += 2 * sizeof(int64);
		}
	}
	memcpy(rec->key, p, rec->keylen);
	p += rec->keylen;
	value = (char *) rec + MAXALIGN(offsetof(PageRec, key) + rec->keylen);
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		Size		bytes;

		if (rec->fold.cols[c].isnull)
			continue;
		bytes = isx_spill_varsize(p);
		memcpy(value, p, bytes);
		rec->fold.cols[c].value = (text *) value;
		value += MAXALIGN(bytes);
		p += bytes;
	}
	return p == raw + size ? rec : NULL;
}

static int
compare_page_recs(const void *a, const void *b)
{
	return key_cmp(a, b);
}

static const IsxSpillFormat page_runs = {
	.what = "page views",
	.pack = pack_page_rec,
	.unpack = unpack_page_rec,
	.compare = compare_page_recs,
};

/* the cache lines of a record: its state, key and short values (records lie in arrival order, read in key order) */
static inline void
prefetch_rec(const PageRec *rec)
{
	isx_prefetch(rec);
	isx_prefetch((const char *) rec + 64);
	isx_prefetch((const char *) rec + 128);
}

/* writes the chunk, sorted and merged, as a run of the spill, and empties it */
static void
write_page_run(PageBatch *batch)
{
	if (batch->spill == NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(batch->cxt);

		batch->spill = isx_spill_begin(&page_runs);
		MemoryContextSwitchTo(oldcxt);
	}
	isx_spill_new_run(batch->spill);
	sort_page_chunk(batch);
	for (int i = 0; i < batch->nitems; i++)
	{
		if (i + ISX_PREFETCH_AHEAD < batch->nitems)
			prefetch_rec(batch->items[i + ISX_PREFETCH_AHEAD].rec);
		isx_spill_put(batch->spill, batch->items[i].rec);
	}
	new_page_chunk(batch);
}

/* folds one accepted page view (values may be null) */
static void
fold_page(PageBatch *batch, text *account_id, text *device_id, text *type, text *page,
		  int64 log_time, int64 seq, bool from_calls)
{
	text	   *values[NUM_PAGE_COLS] = {type, page};
	char		nulldev = 'n';
	char	   *devkey = &nulldev;
	uint32		devkeylen = 1;
	PageState	row;

	account_id = DatumGetTextPP(PointerGetDatum(account_id));
	if (device_id != NULL)
	{
		device_id = DatumGetTextPP(PointerGetDatum(device_id));
		devkeylen = 1 + VARSIZE_ANY_EXHDR(device_id);
		devkey = palloc(devkeylen); /* in the caller's (row) context */
		devkey[0] = 'd';
		memcpy(devkey + 1, VARDATA_ANY(device_id), devkeylen - 1);
	}
	row.log_time = log_time;
	row.log_seq = seq;
	row.from_calls = from_calls;
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		row.cols[c].isnull = values[c] == NULL;
		row.cols[c].value = values[c] ? DatumGetTextPP(PointerGetDatum(values[c])) : NULL;
		row.cols[c].at = log_time;
		row.cols[c].seq = seq;
	}
	new_page_rec(batch, VARDATA_ANY(account_id), VARSIZE_ANY_EXHDR(account_id), devkey, devkeylen, &row);
	if (batch->used > isx_fold_budget())
		write_page_run(batch);
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
	IsxStateTable pairs;			/* page_state */
	int			ps[NUM_PS_COLS];
	bool		short_times;	/* PageBatch.short_times */
	char	   *key_space;		/* the key texts of the pair being written */
	Size		key_space_size;
} PageTables;

static void
set_text(IsxStateTable *st, int column, text *value)
{
	isx_state_set(st, column, PointerGetDatum(value), value == NULL);
}

/* the key columns of a pair as text; device_id NULL for a null device */
typedef struct PairKey
{
	text	   *account_id;
	text	   *device_key;
	text	   *device_id;
} PairKey;

/* fills the rest of the pair's row from a state */
static void
pair_values(PageTables *t, const PairKey *k, const PageState *ps)
{
	IsxStateTable *st = &t->pairs;
	const int  *att = t->ps;

	set_text(st, att[PS_DEVICE], k->device_id);
	isx_state_set(st, att[PS_TIME], Int64GetDatum(ps->log_time), false);
	isx_state_set(st, att[PS_SEQ], Int64GetDatum(ps->log_seq), false);
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		const PageValue *v = &ps->cols[c];

		set_text(st, att[PS_TYPE + 3 * c], v->isnull ? NULL : v->value);
		isx_state_set_ordering(st, att[PS_TYPE_AT + 3 * c], att[PS_TYPE_SEQ + 3 * c], v->at, v->seq,
							   v->isnull, t->short_times, ps->log_time, ps->log_seq);
	}
	isx_state_set(st, att[PS_FROM_CALLS], BoolGetDatum(ps->from_calls), false);
}

/* the state of the stored row of a pair (as found), texts copied */
static void
stored_state(PageTables *t, PageState *ps)
{
	IsxStateTable *st = &t->pairs;
	Datum	   *values = st->stored->tts_values;
	const int  *att = t->ps;

	memset(ps, 0, sizeof(*ps));
	ps->log_time = DatumGetInt64(values[att[PS_TIME]]);
	ps->log_seq = DatumGetInt64(values[att[PS_SEQ]]);
	for (int c = 0; c < NUM_PAGE_COLS; c++)
	{
		PageValue  *v = &ps->cols[c];

		v->value = isx_stored_text(st, att[PS_TYPE + 3 * c]);
		v->isnull = v->value == NULL;
		if (!v->isnull)
			isx_stored_ordering(st, att[PS_TYPE_AT + 3 * c], att[PS_TYPE_SEQ + 3 * c],
								ps->log_time, ps->log_seq, &v->at, &v->seq);
	}
	ps->from_calls = DatumGetBool(values[att[PS_FROM_CALLS]]);
}

/* what pair_row fills a page_state row with */
typedef struct PairRow
{
	PageTables *t;
	PairKey		key;
	const PageState *fold;		/* the statement's values of the pair */
	const PageState *state;		/* the values of a whole row */
} PairRow;

/* fills the page_state row of a pair: its key, or (whole) its key and values */
static void
pair_row(IsxStateTable *st, void *arg, bool whole)
{
	PairRow    *r = arg;

	isx_state_new_row(st);
	set_text(st, r->t->ps[PS_ACCOUNT], r->key.account_id);
	set_text(st, r->t->ps[PS_DEVICE_KEY], r->key.device_key);
	if (whole)
		pair_values(r->t, &r->key, r->state);
}

/* the stored pair (in st->stored) merged with the fold: false when that changes nothing */
static bool
decide_pair(IsxStateTable *st, void *arg)
{
	PairRow    *r = arg;
	PageState	old;
	PageState	merged;

	stored_state(r->t, &old);
	merged = old;
	merge_page_state(&merged, r->fold);
	if (same_page_state(&merged, &old))
		return false;
	r->state = &merged;
	pair_row(st, r, true);
	r->state = r->fold;
	return true;
}

/* a text of the len bytes at bytes, built at *space, which moves past it */
static text *
key_text(char **space, const char *bytes, Size len)
{
	text	   *value = (text *) *space;

	SET_VARSIZE(value, VARHDRSZ + len);
	memcpy(VARDATA(value), bytes, len);
	*space += MAXALIGN(VARHDRSZ + len);
	return value;
}

/*
 * One pair: merge the fold into its row (writing only a change, without a
 * lock record: merged again on a concurrent update), or create it with
 * the fold.  Pairs are independent, so two sessions wait for each other
 * only on the same (account, device).
 */
static void
flush_pair(PageTables *t, const PageRec *rec)
{
	PairRow		r = {t, {NULL, NULL, NULL}, &rec->fold, &rec->fold};
	const char *devkey = rec->key + rec->acclen + 1;
	Size		devkeylen = rec->keylen - rec->acclen - 2;
	Size		need = 3 * MAXALIGN(VARHDRSZ) + rec->keylen + devkeylen + (Size) 3 * MAXIMUM_ALIGNOF;
	char	   *space;

	/* the texts live until the pair is written: one space, reused pair after pair */
	if (need > t->key_space_size)
	{
		t->key_space_size = Max(need, 2 * t->key_space_size);
		t->key_space = MemoryContextAllocHuge(CurrentMemoryContext, t->key_space_size);
	}
	space = t->key_space;
	r.key.account_id = key_text(&space, rec->key, rec->acclen);
	r.key.device_key = key_text(&space, devkey, devkeylen);
	r.key.device_id = devkey[0] == 'd' ? key_text(&space, devkey + 1, devkeylen - 1) : NULL;
	isx_state_merge_or_insert(&t->pairs, pair_row, decide_pair, &r);
}

/* writes a slice of pairs, in ascending key order (the order every writer writes in) */
static void
flush_page_slice(PageBatch *batch, const PageItem *items, int nitems)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	PageTables	t;
	IsxStateTable *const tables[] = {&t.pairs};

	t.estate = isx_direct_begin();
	t.short_times = batch->short_times;
	t.key_space = NULL;
	t.key_space_size = 0;
	isx_state_open(&t.pairs, "page_state", t.estate, ps_names, NUM_PS_COLS, t.ps);
	for (int i = 0; i < nitems; i++)
	{
		CHECK_FOR_INTERRUPTS();
		flush_pair(&t, items[i].rec);
	}
	isx_direct_end(t.estate, tables, lengthof(tables));
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(batch->slicecxt);
}

/*
 * Merges the runs pair by pair and writes the pairs slice by slice.  A
 * pair's record is copied into the chunk from its first run; records of
 * later runs are merged into it, their winning values copied.
 */
static void
flush_page_runs(PageBatch *batch)
{
	PageRec    *rec;

	while ((rec = isx_spill_next(batch->spill)) != NULL)
	{
		PageRec    *last = batch->nitems > 0 ? batch->items[batch->nitems - 1].rec : NULL;

		if (last != NULL && key_cmp(last, rec) == 0)
		{
			PageState	before = last->fold;

			merge_page_state(&last->fold, &rec->fold);
			for (int c = 0; c < NUM_PAGE_COLS; c++)
				if (!last->fold.cols[c].isnull && last->fold.cols[c].value != before.cols[c].value)
				{
					MemoryContext oldcxt = MemoryContextSwitchTo(batch->chunkcxt);

					last->fold.cols[c].value = (text *) datumCopy(PointerGetDatum(last->fold.cols[c].value),
																  false, -1);
					MemoryContextSwitchTo(oldcxt);
				}
		}
		else
		{
			/* a slice ends at a pair's end, once it has its share of pairs */
			if (batch->nitems == ISX_FLUSH_SLICE)
			{
				flush_page_slice(batch, batch->items, batch->nitems);
				new_page_chunk(batch);
			}
			new_page_rec(batch, rec->key, rec->acclen, rec->key + rec->acclen + 1,
						 rec->keylen - rec->acclen - 2, &rec->fold);
		}
	}
	if (batch->nitems > 0)
		flush_page_slice(batch, batch->items, batch->nitems);
	isx_spill_end(batch->spill);
}

/* an empty fold for the statement's page views */
static void *
begin_page_views(IsxStatement *stmt)
{
	PageBatch  *batch = palloc0(sizeof(PageBatch));

	batch->cxt = stmt->cxt;
	batch->spill = NULL;
	batch->short_times = entry_short_times;
	batch->blocks = NIL;
	batch->maxitems = 64;
	batch->items = palloc(sizeof(PageItem) * batch->maxitems);
	batch->chunkcxt = AllocSetContextCreate(stmt->cxt, "insure_stream page chunk",
											ALLOCSET_DEFAULT_SIZES);
	batch->slicecxt = AllocSetContextCreate(stmt->cxt, "insure_stream page slice",
											ALLOCSET_DEFAULT_SIZES);
	new_page_chunk(batch);
	return batch;
}

/* writes what the statement folded, pair by pair in key order */
static void
flush_page_views(IsxStatement *stmt)
{
	PageBatch  *batch = stmt->fold;

	if (batch->spill != NULL)
	{
		if (batch->nitems > 0)
			write_page_run(batch);
		flush_page_runs(batch);
	}
	else
	{
		sort_page_chunk(batch);
		for (int first = 0; first < batch->nitems; first += ISX_FLUSH_SLICE)
			flush_page_slice(batch, batch->items + first, Min(ISX_FLUSH_SLICE, batch->nitems - first));
	}
}

/* the columns of user_log the trigger reads (IsxStatement.att) */
enum
{
	UL_LOG_TIME, UL_DEVICE_ID, UL_ACCOUNT_ID, UL_BURY_POINT_TYPE, UL_PAGE_NAME, NUM_UL_COLS
};
static const char *const ul_names[NUM_UL_COLS] = {
	"log_time", "device_id", "account_id", "bury_point_type", "page_name"
};

static text *
slot_text(TupleTableSlot *slot, int attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	return isnull ? NULL : (text *) DatumGetPointer(d);
}

/* bad input: an event time beyond max_future, an account or device too long for a key */
static bool
validate_page_view(IsxStatement *stmt, TupleTableSlot *slot, IsxBadInput *bad)
{
	static const int keys[] = {UL_ACCOUNT_ID, UL_DEVICE_ID};
	int64		log_time;

	if (isx_slot_int64(slot, stmt->att[UL_LOG_TIME], &log_time) &&
		log_time > stmt->settings->now_ms + stmt->settings->max_future_ms)
		return isx_bad_input(bad, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
							 "event time too far in the future", UL_LOG_TIME,
							 psprintf(INT64_FORMAT, log_time));
	for (int i = 0; i < (int) lengthof(keys); i++)
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, stmt->att[keys[i]], &isnull);

		if (!isnull && isx_key_too_long(d))
			return isx_bad_input(bad, ERRCODE_STRING_DATA_RIGHT_TRUNCATION, ISX_KEY_TOO_LONG,
								 keys[i], isx_text_start(d, 32));
	}
	return true;
}

/* folds a valid page view with an account and a time */
static void
fold_page_view(IsxStatement *stmt, TupleTableSlot *slot, int64 seq)
{
	text	   *account = slot_text(slot, stmt->att[UL_ACCOUNT_ID]);
	int64		log_time;

	if (account != NULL && isx_slot_int64(slot, stmt->att[UL_LOG_TIME], &log_time))
		fold_page(stmt->fold, account, slot_text(slot, stmt->att[UL_DEVICE_ID]),
				  slot_text(slot, stmt->att[UL_BURY_POINT_TYPE]),
				  slot_text(slot, stmt->att[UL_PAGE_NAME]), log_time, seq, false);
}

static const IsxScenario page_views = {
	.trigger = "user_log_apply",
	.table = ISX_TABLE_USER_LOG,
	.columns = ul_names,
	.ncolumns = NUM_UL_COLS,
	.label_column = UL_ACCOUNT_ID,
	.begin = begin_page_views,
	.validate = validate_page_view,
	.fold = fold_page_view,
	.flush = flush_page_views,
};

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
	(void) isx_check_statement_trigger(fcinfo, "user_log_apply", ISX_TABLE_USER_LOG);
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
PG_FUNCTION_INFO_V1(insure_stream_user_log_apply_v3);

/* AFTER INSERT ON user_log REFERENCING NEW TABLE FOR EACH STATEMENT */
Datum
insure_stream_user_log_apply_v2(PG_FUNCTION_ARGS)
{
	entry_short_times = false;
	return isx_apply_statement(fcinfo, &page_views);
}

Datum
insure_stream_user_log_apply_v3(PG_FUNCTION_ARGS)
{
	entry_short_times = true;
	return isx_apply_statement(fcinfo, &page_views);
}

static Datum track_page(FunctionCallInfo fcinfo);

PG_FUNCTION_INFO_V1(insure_stream_track_page_v2);
PG_FUNCTION_INFO_V1(insure_stream_track_page_v3);

Datum
insure_stream_track_page_v2(PG_FUNCTION_ARGS)
{
	entry_short_times = false;
	return track_page(fcinfo);
}

Datum
insure_stream_track_page_v3(PG_FUNCTION_ARGS)
{
	entry_short_times = true;
	return track_page(fcinfo);
}

/*
 * track_page(account_id, device_id, bury_point_type, page_name, log_time):
 * the same upsert for callers that keep no log.  Its ordering key takes a
 * number from user_log's ingest sequence (on a Citus node, the node's
 * arrival number, as the log's rows there), so it is ordered with logged
 * events.  A null account_id or log_time does nothing, as in the log.
 */
static Datum
track_page(FunctionCallInfo fcinfo)
{
	IsxStatement stmt;
	int64		log_time;
	int64		seq;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(4))
		PG_RETURN_VOID();
	log_time = PG_GETARG_INT64(4);
	/* delegated by Citus to the account's node: its shard of page_state */
	isx_statement_begin(&stmt, NULL, isx_shard_of_key("page_state", PG_GETARG_DATUM(0), TEXTOID));
	if (stmt.shard != 0)
		seq = isx_node_arrival(isx_state_relid("page_state"), ISX_ARRIVAL_PAGES);
	else
		seq = DatumGetInt64(DirectFunctionCall1(nextval_oid,
												ObjectIdGetDatum(get_relname_relid("user_log_ingest_seq_seq",
																				   get_namespace_oid("insure_stream", false)))));
	stmt.fold = begin_page_views(&stmt);
	if (log_time > stmt.settings->now_ms + stmt.settings->max_future_ms)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time too far in the future \"%lld\" in argument \"%s\" of function \"%s\"",
						(long long) log_time, "log_time", "track_page"),
				 errdetail("It lies more than max_future after now().")));
	for (int i = 0; i < 2; i++)
		if (!PG_ARGISNULL(i) && isx_key_too_long(PG_GETARG_DATUM(i)))
			ereport(ERROR,
					(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
					 errmsg("%s \"%s\" in argument \"%s\" of function \"%s\"", ISX_KEY_TOO_LONG,
							isx_text_start(PG_GETARG_DATUM(i), 32), i == 0 ? "account_id" : "device_id",
							"track_page")));
	fold_page(stmt.fold, PG_GETARG_TEXT_PP(0), PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1),
			  PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2),
			  PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3), log_time, seq, true);
	flush_page_views(&stmt);
	isx_statement_end(&stmt);
	PG_RETURN_VOID();
}
