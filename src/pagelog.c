/*-------------------------------------------------------------------------
 *
 * pagelog.c
 *		Scenario 3: per (account, device) the last non-null page type and
 *		page name by log_time, and per account the device with the latest
 *		page view (user_last_log).
 *
 * The trigger on user_log and track_page() share one path: fold the rows
 * per (account, device) in memory, then per slice of accounts (ascending):
 * lock the accounts' user_last_log rows (creating them), read and merge the
 * page states, write the changed ones, and set each account's row from its
 * latest pair.  Holding the account row while reading its pairs is what
 * keeps two sessions writing different devices of one account exact.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "storage/itemptr.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

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
	PageState  *old;
	ItemPointerData tid;		/* where old is (locked, so it stays) */
} PageEntry;

typedef struct PageBatch
{
	IsSettings *settings;
	MemoryContext chunkcxt;
	MemoryContext slicecxt;
	HTAB	   *entries;
	int			rows;
	int64		pairs_written;	/* since the last look at statistics */
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
		memset(&entry->fold, 0, sizeof(entry->fold));
		entry->fold.log_time = PG_INT64_MIN;
		entry->fold.log_seq = PG_INT64_MIN;
		for (int c = 0; c < NUM_PAGE_COLS; c++)
			entry->fold.cols[c].isnull = true;
		entry->old = NULL;
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

/* the state a key has now: as loaded and merged, or (a new pair) as folded */
static inline PageState *
key_state(PageEntry *e)
{
	return e->old ? e->old : &e->fold;
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

/* byte order of account ids, the order keys are sorted and locked in */
static int
account_order(text *a, text *b)
{
	int			la = VARSIZE_ANY_EXHDR(a);
	int			lb = VARSIZE_ANY_EXHDR(b);
	int			r = memcmp(VARDATA_ANY(a), VARDATA_ANY(b), Min(la, lb));

	return r != 0 ? r : la - lb;
}

/* what user_last_log shows of an account: a device's latest values */
typedef struct LastPage
{
	int64		log_time;
	int64		log_seq;
	text	   *shown[3];		/* device_id, bury_point_type, page_name */
} LastPage;

/* an account of a slice: its keys, its locked user_last_log row */
typedef struct PageAccount
{
	text	   *account_id;
	int			first;			/* its keys are keys[first .. first + nkeys - 1] */
	int			nkeys;
	ItemPointerData tid;		/* where its row is */
	text	   *shown[3];		/* what the row shows now */
	bool		has_other;		/* a device the slice does not write */
	LastPage	other;			/* the latest of those */
} PageAccount;

/* the account's latest device: its keys' states and the other devices */
static void
latest_page(PageAccount *acc, PageEntry **keys, LastPage *latest)
{
	bool		found = acc->has_other;

	if (found)
		*latest = acc->other;
	for (int k = acc->first; k < acc->first + acc->nkeys; k++)
	{
		PageState  *st = key_state(keys[k]);

		if (found && !comes_after(st->log_time, st->log_seq, latest->log_time, latest->log_seq))
			continue;
		found = true;
		latest->log_time = st->log_time;
		latest->log_seq = st->log_seq;
		latest->shown[0] = keys[k]->device_id;
		for (int c = 0; c < NUM_PAGE_COLS; c++)
			latest->shown[1 + c] = st->cols[c].isnull ? NULL : st->cols[c].value;
	}
	Assert(found);
}

#define PAGE_STATE_COLUMNS \
	"account_id, device_key, device_id, log_time, log_seq," \
	" bury_point_type, bury_point_type_at, bury_point_type_seq," \
	" page_name, page_name_at, page_name_seq, from_calls"
#define NUM_PAGE_ARGS 12

#define PAGE_STATE_UNNEST \
	"ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[])," \
	" pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.int8[])," \
	" pg_catalog.unnest($5::pg_catalog.int8[]), pg_catalog.unnest($6::pg_catalog.text[])," \
	" pg_catalog.unnest($7::pg_catalog.int8[]), pg_catalog.unnest($8::pg_catalog.int8[])," \
	" pg_catalog.unnest($9::pg_catalog.text[]), pg_catalog.unnest($10::pg_catalog.int8[])," \
	" pg_catalog.unnest($11::pg_catalog.int8[]), pg_catalog.unnest($12::pg_catalog.bool[]))"

static Oid	page_arg_types[NUM_PAGE_ARGS] = {
	TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID, BOOLARRAYOID
};

static void
page_args(PageEntry **keys, int nkeys, bool use_fold, Datum *args)
{
	static const Oid elem[NUM_PAGE_ARGS] = {
		TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID, INT8OID, INT8OID,
		TEXTOID, INT8OID, INT8OID, BOOLOID
	};
	IsArray		arr[NUM_PAGE_ARGS];

	for (int i = 0; i < NUM_PAGE_ARGS; i++)
		is_array_init(&arr[i], elem[i]);
	for (int k = 0; k < nkeys; k++)
	{
		PageEntry  *e = keys[k];
		PageState  *st = use_fold ? &e->fold : e->old;

		is_array_push(&arr[0], PointerGetDatum(e->account_id), false);
		is_array_push(&arr[1], PointerGetDatum(e->device_key), false);
		is_array_push(&arr[2], PointerGetDatum(e->device_id), e->device_id == NULL);
		is_array_push(&arr[3], Int64GetDatum(st->log_time), false);
		is_array_push(&arr[4], Int64GetDatum(st->log_seq), false);
		for (int c = 0; c < NUM_PAGE_COLS; c++)
		{
			PageValue  *v = &st->cols[c];

			is_array_push(&arr[5 + 3 * c], PointerGetDatum(v->value), v->isnull);
			is_array_push(&arr[6 + 3 * c], Int64GetDatum(v->at), v->isnull);
			is_array_push(&arr[7 + 3 * c], Int64GetDatum(v->seq), v->isnull);
		}
		is_array_push(&arr[11], BoolGetDatum(st->from_calls), false);
	}
	for (int i = 0; i < NUM_PAGE_ARGS; i++)
		args[i] = is_array_datum(&arr[i]);
}

static void
exec_plan(SPIPlanPtr plan, Datum *args, int expected, const char *what)
{
	if (is_execute(plan, args, NULL, 0) != expected)
		elog(ERROR, "could not %s", what);
}


static text *
spi_text(HeapTuple tup, int attnum)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, attnum, &isnull);

	return isnull ? NULL : DatumGetTextPCopy(d);
}

static int64
spi_int64(HeapTuple tup, int attnum)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, attnum, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * Creates or locks the user_last_log rows of the slice's accounts, in byte
 * order.  A new row gets what the slice's own pairs show (there is no older
 * pair of an account without a row); an existing row is only locked, by an
 * update that changes nothing, which also makes a repeatable read writer
 * that missed a concurrent change fail rather than miss it.  Notes where
 * each row is and what it shows.
 */
static void
lock_accounts(PageAccount *accounts, int naccounts, PageEntry **keys)
{
	static IsBatchPlan plans;
	Oid			types[4] = {TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	IsArray		arr[4];
	Datum		args[4];

	for (int i = 0; i < 4; i++)
		is_array_init(&arr[i], TEXTOID);
	for (int a = 0; a < naccounts; a++)
	{
		LastPage	latest;

		latest_page(&accounts[a], keys, &latest);
		is_array_push(&arr[0], PointerGetDatum(accounts[a].account_id), false);
		for (int i = 0; i < 3; i++)
			is_array_push(&arr[1 + i], PointerGetDatum(latest.shown[i]), latest.shown[i] == NULL);
	}
	for (int i = 0; i < 4; i++)
		args[i] = is_array_datum(&arr[i]);
	exec_plan(is_batch_plan(&plans,
							"INSERT INTO insure_stream.user_last_log AS u"
							"   (account_id, device_id, bury_point_type, page_name)"
							" SELECT * FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]),"
							"   pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[]),"
							"   pg_catalog.unnest($4::pg_catalog.text[])) AS k(a, d, t, p)"
							" ORDER BY k.a COLLATE pg_catalog.\"C\""
							" ON CONFLICT (account_id) DO UPDATE SET account_id = excluded.account_id"
							" RETURNING u.account_id, u.ctid, u.device_id, u.bury_point_type, u.page_name",
							4, types, naccounts),
			  args, SPI_OK_INSERT_RETURNING, "lock accounts");
	if (SPI_processed != (uint64) naccounts)
		elog(ERROR, "locked %llu of %d accounts", (unsigned long long) SPI_processed, naccounts);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		text	   *id = spi_text(tup, 1);
		int			lo = 0;
		int			hi = naccounts - 1;
		PageAccount *acc = NULL;
		bool		isnull;

		while (lo <= hi && acc == NULL)
		{
			int			mid = (lo + hi) / 2;
			int			r = account_order(id, accounts[mid].account_id);

			if (r == 0)
				acc = &accounts[mid];
			else if (r < 0)
				hi = mid - 1;
			else
				lo = mid + 1;
		}
		if (acc == NULL)
			elog(ERROR, "locked an account that was not asked for");
		acc->tid = *((ItemPointer) DatumGetPointer(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull)));
		for (int c = 0; c < 3; c++)
			acc->shown[c] = spi_text(tup, 3 + c);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Reads every pair of the slice's accounts.  No row lock is needed: all
 * writers of an account's pairs hold its user_last_log row, as we do now,
 * and this statement's snapshot was taken after we got it.
 */
static void
load_page_states(PageAccount *accounts, int naccounts, PageEntry **keys)
{
	static IsBatchPlan plans;
	Oid			types[1] = {TEXTARRAYOID};
	IsArray		ids;
	Datum		args[1];

	is_array_init(&ids, TEXTOID);
	for (int a = 0; a < naccounts; a++)
		is_array_push(&ids, PointerGetDatum(accounts[a].account_id), false);
	args[0] = is_array_datum(&ids);
	exec_plan(is_batch_plan(&plans,
							"SELECT k.n, s.device_key, s.ctid, s.device_id, s.log_time, s.log_seq,"
							"       s.bury_point_type, s.bury_point_type_at, s.bury_point_type_seq,"
							"       s.page_name, s.page_name_at, s.page_name_seq, s.from_calls"
							"  FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS k(a, n),"
							"       LATERAL (SELECT *, s.ctid FROM insure_stream.page_state s"
							"                 WHERE s.account_id OPERATOR(pg_catalog.=) k.a) AS s",
							1, types, naccounts),
			  args, SPI_OK_SELECT, "read page states");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		PageAccount *acc = &accounts[spi_int64(tup, 1) - 1];
		text	   *device_key = spi_text(tup, 2);
		PageEntry  *e = NULL;
		PageState  *st = palloc0(sizeof(PageState));
		bool		isnull;

		st->log_time = spi_int64(tup, 5);
		st->log_seq = spi_int64(tup, 6);
		for (int c = 0; c < NUM_PAGE_COLS; c++)
		{
			PageValue  *v = &st->cols[c];

			v->value = spi_text(tup, 7 + 3 * c);
			v->isnull = v->value == NULL;
			v->at = spi_int64(tup, 8 + 3 * c);
			v->seq = spi_int64(tup, 9 + 3 * c);
		}
		st->from_calls = DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 13, &isnull));
		for (int k = acc->first; k < acc->first + acc->nkeys && e == NULL; k++)
			if (same_text(keys[k]->device_key, device_key))
				e = keys[k];
		if (e != NULL)
		{
			e->old = st;
			e->tid = *((ItemPointer) DatumGetPointer(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull)));
		}
		else if (!acc->has_other ||
				 comes_after(st->log_time, st->log_seq, acc->other.log_time, acc->other.log_seq))
		{
			acc->has_other = true;
			acc->other.log_time = st->log_time;
			acc->other.log_seq = st->log_seq;
			acc->other.shown[0] = spi_text(tup, 4);
			for (int c = 0; c < NUM_PAGE_COLS; c++)
				acc->other.shown[1 + c] = st->cols[c].value;
		}
	}
	SPI_freetuptable(SPI_tuptable);
}

/* new pairs; the account locks held keep anyone else from adding them */
static void
insert_page_states(PageEntry **keys, int nkeys)
{
	static IsBatchPlan plans;
	Datum		args[NUM_PAGE_ARGS];

	if (nkeys == 0)
		return;
	page_args(keys, nkeys, true, args);
	exec_plan(is_batch_plan(&plans,
							"INSERT INTO insure_stream.page_state (" PAGE_STATE_COLUMNS ")"
							" SELECT * FROM " PAGE_STATE_UNNEST,
							NUM_PAGE_ARGS, page_arg_types, nkeys),
			  args, SPI_OK_INSERT, "insert page states");
}

/* updates changed pairs, found by the tids their lock left them at */
static void
update_page_states(PageEntry **keys, int nkeys)
{
	static IsBatchPlan plans;
	Oid			types[NUM_PAGE_ARGS + 1];
	Datum		args[NUM_PAGE_ARGS + 1];
	IsArray		tids;

	if (nkeys == 0)
		return;
	memcpy(types, page_arg_types, sizeof(page_arg_types));
	types[NUM_PAGE_ARGS] = TIDARRAYOID;
	page_args(keys, nkeys, false, args);
	is_array_init(&tids, TIDOID);
	for (int k = 0; k < nkeys; k++)
		is_array_push(&tids, PointerGetDatum(&keys[k]->tid), false);
	args[NUM_PAGE_ARGS] = is_array_datum(&tids);
	exec_plan(is_batch_plan(&plans,
							"UPDATE insure_stream.page_state AS s"
							"   SET log_time = u.lt, log_seq = u.ls,"
							"       bury_point_type = u.t, bury_point_type_at = u.ta, bury_point_type_seq = u.ts,"
							"       page_name = u.p, page_name_at = u.pa, page_name_seq = u.ps,"
							"       from_calls = u.fc"
							"  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[]),"
							"       pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.int8[]),"
							"       pg_catalog.unnest($5::pg_catalog.int8[]), pg_catalog.unnest($6::pg_catalog.text[]),"
							"       pg_catalog.unnest($7::pg_catalog.int8[]), pg_catalog.unnest($8::pg_catalog.int8[]),"
							"       pg_catalog.unnest($9::pg_catalog.text[]), pg_catalog.unnest($10::pg_catalog.int8[]),"
							"       pg_catalog.unnest($11::pg_catalog.int8[]), pg_catalog.unnest($12::pg_catalog.bool[]),"
							"       pg_catalog.unnest($13::pg_catalog.tid[]))"
							"       AS u(a, d, di, lt, ls, t, ta, ts, p, pa, ps, fc, tid)"
							" WHERE s.ctid OPERATOR(pg_catalog.=) u.tid",
							NUM_PAGE_ARGS + 1, types, nkeys),
			  args, SPI_OK_UPDATE, "update page states");
}

/* sets the rows of accounts whose latest device or values changed */
static void
update_accounts(PageAccount *accounts, int naccounts, PageEntry **keys)
{
	static IsBatchPlan plans;
	Oid			types[4] = {TIDARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	IsArray		arr[4];
	Datum		args[4];

	is_array_init(&arr[0], TIDOID);
	for (int i = 1; i < 4; i++)
		is_array_init(&arr[i], TEXTOID);
	for (int a = 0; a < naccounts; a++)
	{
		LastPage	latest;
		bool		same = true;

		latest_page(&accounts[a], keys, &latest);
		for (int i = 0; i < 3; i++)
			same &= same_text(latest.shown[i], accounts[a].shown[i]);
		if (same)
			continue;
		is_array_push(&arr[0], PointerGetDatum(&accounts[a].tid), false);
		for (int i = 0; i < 3; i++)
			is_array_push(&arr[1 + i], PointerGetDatum(latest.shown[i]), latest.shown[i] == NULL);
	}
	if (arr[0].count == 0)
		return;
	for (int i = 0; i < 4; i++)
		args[i] = is_array_datum(&arr[i]);
	exec_plan(is_batch_plan(&plans,
							"UPDATE insure_stream.user_last_log AS u"
							"   SET device_id = v.d, bury_point_type = v.t, page_name = v.p"
							"  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.tid[]),"
							"       pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.text[]),"
							"       pg_catalog.unnest($4::pg_catalog.text[])) AS v(tid, d, t, p)"
							" WHERE u.ctid OPERATOR(pg_catalog.=) v.tid",
							4, types, arr[0].count),
			  args, SPI_OK_UPDATE, "update user_last_log");
	if (SPI_processed != (uint64) arr[0].count)
		elog(ERROR, "updated %llu of %d accounts", (unsigned long long) SPI_processed, arr[0].count);
}

/* writes a slice of keys (sorted; whole accounts) */
static void
flush_page_slice(PageBatch *batch, PageEntry **keys, int nkeys)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	PageAccount *accounts = palloc0(sizeof(PageAccount) * nkeys);
	PageEntry **added = palloc(sizeof(PageEntry *) * nkeys);
	PageEntry **changed = palloc(sizeof(PageEntry *) * nkeys);
	int			naccounts = 0;
	int			nadded = 0;
	int			nchanged = 0;

	for (int k = 0; k < nkeys; k++)
	{
		if (k == 0 || strcmp(keys[k]->key, keys[k - 1]->key) != 0)
		{
			accounts[naccounts].account_id = keys[k]->account_id;
			accounts[naccounts].first = k;
			naccounts++;
		}
		accounts[naccounts - 1].nkeys++;
	}
	CHECK_FOR_INTERRUPTS();
	lock_accounts(accounts, naccounts, keys);
	load_page_states(accounts, naccounts, keys);
	for (int k = 0; k < nkeys; k++)
	{
		PageEntry  *e = keys[k];
		PageState	merged;

		if (e->old == NULL)
		{
			added[nadded++] = e;
			continue;
		}
		merged = *e->old;
		merge_page_state(&merged, &e->fold);
		if (same_page_state(&merged, e->old))
			continue;
		*e->old = merged;
		changed[nchanged++] = e;
	}
	insert_page_states(added, nadded);
	update_page_states(changed, nchanged);
	update_accounts(accounts, naccounts, keys);
	batch->pairs_written += nadded + nchanged;
	is_analyze_if_grown("page_state", &batch->pairs_written);
	for (int k = 0; k < nkeys; k++)
		keys[k]->old = NULL;
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(batch->slicecxt);
}

/* writes the chunk in ascending key order, slices ending at account bounds */
static void
flush_page_chunk(PageBatch *batch)
{
	PageEntry **keys;
	int			nkeys = 0;
	HASH_SEQ_STATUS seq;
	PageEntry  *entry;
	int			first = 0;

	if (batch->rows == 0)
		return;
	keys = MemoryContextAlloc(batch->chunkcxt,
							  sizeof(PageEntry *) * hash_get_num_entries(batch->entries));
	hash_seq_init(&seq, batch->entries);
	while ((entry = hash_seq_search(&seq)) != NULL)
		keys[nkeys++] = entry;
	qsort(keys, nkeys, sizeof(PageEntry *), entry_order);
	while (first < nkeys)
	{
		int			last = Min(first + IS_FLUSH_SLICE, nkeys);

		while (last < nkeys && strcmp(keys[last]->key, keys[last - 1]->key) == 0)
			last++;
		flush_page_slice(batch, keys + first, last - first);
		first = last;
	}
	new_page_chunk(batch);
}

static void
start_batch(PageBatch *batch)
{
	batch->chunkcxt = AllocSetContextCreate(CurrentMemoryContext, "insure_stream page chunk",
											ALLOCSET_DEFAULT_SIZES);
	batch->slicecxt = AllocSetContextCreate(CurrentMemoryContext, "insure_stream page slice",
											ALLOCSET_DEFAULT_SIZES);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	batch->pairs_written = 0;
	/* outlives the chunks; goes with SPI_finish */
	batch->settings = is_settings_load(CurrentMemoryContext);
	new_page_chunk(batch);
}

static void
end_batch(PageBatch *batch)
{
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
	len = strlen(id);
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

PG_FUNCTION_INFO_V1(insure_stream_user_log_apply);

/* AFTER INSERT ON user_log REFERENCING NEW TABLE FOR EACH STATEMENT */
Datum
insure_stream_user_log_apply(PG_FUNCTION_ARGS)
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
		else if (account != NULL && has_time)
		{
			fold_page(&batch, account, slot_text(slot, att_device), slot_text(slot, att_type),
					  slot_text(slot, att_page), log_time, seq, false);
			if ((batch.rows % 1024) == 0 &&
				MemoryContextMemAllocated(batch.chunkcxt, true) > IS_CHUNK_BYTES)
				flush_page_chunk(&batch);
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	end_batch(&batch);
	MemoryContextDelete(rowcxt);
	ExecDropSingleTupleTableSlot(slot);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(insure_stream_track_page);

/*
 * track_page(account_id, device_id, bury_point_type, page_name, log_time):
 * the same upsert for callers that keep no log.  Its ordering key takes a
 * number from user_log's ingest sequence, so it is ordered with logged
 * events.  A null account_id or log_time does nothing, as in the log.
 */
Datum
insure_stream_track_page(PG_FUNCTION_ARGS)
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
