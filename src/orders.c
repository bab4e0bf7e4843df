/*-------------------------------------------------------------------------
 *
 * orders.c
 *		Scenario 1: per (user, day) the last non-null order values, and per
 *		hour the premium sum and the distinct policies and policy holders of
 *		the users whose last order of the day lies in that hour.
 *
 * A statement-level trigger folds the statement's rows per (user, day) in
 * memory, chunk by chunk, then per chunk: locks the existing states in key
 * order, inserts the new ones, updates the changed ones, and applies the
 * hour changes (retract the old contribution, add the new one) with one
 * set-based statement.  Hour figures go to this writer's own partial row of
 * order_hour_part, so concurrent sessions never wait for each other on an
 * hour; distinct counts come from reference counts per (hour, value).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "storage/itemptr.h"
#include "storage/lock.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "insure_stream.h"

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
	int32		pad;			/* zeroed: the key is hashed as bytes */
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
	OrderState *old;			/* stored state, read while flushing */
	ItemPointerData tid;		/* where old is (locked, so it stays) */
	bool		inserted;
} OrderEntry;

/* where the columns of user_order are */
typedef struct OrderColumns
{
	int			id;
	int			order_no;
	int			order_price;
	int			customer_tel;
	int			gmt_modified;
	int			account_payble;
	int			ingest_seq;
	int			ingested_at;
} OrderColumns;

typedef struct OrderBatch
{
	IsSettings *settings;
	Relation	rel;
	MemoryContext chunkcxt;		/* the folded entries */
	MemoryContext slicecxt;		/* one slice of a flush, reset after it */
	HTAB	   *entries;
	int			rows;			/* rows folded into entries */
	int64		states_written; /* since the last look at statistics */
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

static int32
local_day(int64 epoch_ms, pg_tz *tz)
{
	struct pg_tm tm;

	is_local_time(epoch_ms, tz, &tm);
	return date2j(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
}

/* biz_date, yyyymmddhh in the configured zone */
static Datum
biz_date(int64 epoch_ms, pg_tz *tz)
{
	struct pg_tm tm;
	char		buf[32];

	is_local_time(epoch_ms, tz, &tm);
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour);
	return CStringGetTextDatum(buf);
}

static void
find_columns(TupleDesc desc, OrderColumns *cols)
{
	cols->id = is_column_number(desc, "user_order", "id");
	cols->order_no = is_column_number(desc, "user_order", "order_no");
	cols->order_price = is_column_number(desc, "user_order", "order_price");
	cols->customer_tel = is_column_number(desc, "user_order", "customer_tel");
	cols->gmt_modified = is_column_number(desc, "user_order", "gmt_modified");
	cols->account_payble = is_column_number(desc, "user_order", "account_payble");
	cols->ingest_seq = is_column_number(desc, "user_order", "ingest_seq");
	cols->ingested_at = is_column_number(desc, "user_order", "ingested_at");
}

static void
new_chunk(OrderBatch *batch)
{
	HASHCTL		ctl;

	MemoryContextReset(batch->chunkcxt);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(OrderKey);
	ctl.entrysize = sizeof(OrderEntry);
	ctl.hcxt = batch->chunkcxt;
	batch->entries = hash_create("insure_stream orders", 1024, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	batch->rows = 0;
}

static char *
float_text(double d)
{
	return DatumGetCString(DirectFunctionCall1(float8out, Float8GetDatum(d)));
}

/*
 * Bad input of an order row: a non-finite amount, an event time before
 * the Unix epoch or beyond max_future, or an order_no or customer_tel too
 * long for a key.  Returns true when the row was rejected (quarantine mode;
 * error mode does not return).
 */
static bool
reject_bad_order(OrderBatch *batch, TupleTableSlot *slot, const OrderColumns *cols,
				 int64 seq)
{
	static const char *const amount_names[] = {"order_price", "account_payble"};
	int			amount_cols[2] = {cols->order_price, cols->account_payble};
	static const char *const key_names[] = {"order_no", "customer_tel"};
	int			key_cols[2] = {cols->order_no, cols->customer_tel};
	int64		id;
	char		label[64];
	int64		gmt;
	int			i;

	if (is_slot_int64(slot, cols->id, &id))
		snprintf(label, sizeof(label), "id %lld", (long long) id);
	else
		snprintf(label, sizeof(label), "id NULL");

	for (i = 0; i < 2; i++)
	{
		bool		isnull;
		double		amount = DatumGetFloat8(slot_getattr(slot, amount_cols[i], &isnull));

		if (!isnull && (isnan(amount) || isinf(amount)))
		{
			is_reject_event(batch->settings, batch->rel, slot, seq,
							ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "non-finite amount",
							amount_names[i], float_text(amount), label);
			return true;
		}
	}
	/*
	 * Before the Unix epoch there is no local day and hour that the SQL
	 * re-derive agrees on (BC years, or no timestamp at all), so verify()
	 * and rebuild() would fail on the row even where it is only filtered.
	 */
	if (is_slot_int64(slot, cols->gmt_modified, &gmt) &&
		(gmt < 0 || gmt > batch->settings->now_ms + batch->settings->max_future_ms))
	{
		char		value[32];

		snprintf(value, sizeof(value), "%lld", (long long) gmt);
		is_reject_event(batch->settings, batch->rel, slot, seq,
						ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
						gmt < 0 ? "event time before the Unix epoch" : "event time too far in the future",
						"gmt_modified", value, label);
		return true;
	}
	for (i = 0; i < 2; i++)
	{
		bool		isnull;
		Datum		text = slot_getattr(slot, key_cols[i], &isnull);

		if (!isnull && is_key_too_long(text))
		{
			is_reject_event(batch->settings, batch->rel, slot, seq,
							ERRCODE_STRING_DATA_RIGHT_TRUNCATION, IS_KEY_TOO_LONG,
							key_names[i], is_text_start(text, 32), label);
			return true;
		}
	}
	return false;
}

static void
fold_value(OrderValue *into, TupleTableSlot *slot, int attnum, bool byval,
		   int64 at, int64 seq)
{
	OrderValue	v;
	Datum		d = slot_getattr(slot, attnum, &v.isnull);

	if (v.isnull)
		return;
	v.value = d;
	v.at = at;
	v.seq = seq;
	merge_value(into, &v, byval, true);
}

/* folds one accepted row into its (user, day) entry */
static void
fold_row(OrderBatch *batch, TupleTableSlot *slot, const OrderColumns *cols,
		 int64 id, int64 gmt, int64 seq)
{
	OrderKey	key;
	OrderEntry *entry;
	bool		found;
	MemoryContext oldcxt;

	memset(&key, 0, sizeof(key));
	key.id = id;
	key.day = local_day(gmt, batch->settings->tz);
	entry = hash_search(batch->entries, &key, HASH_ENTER, &found);
	if (!found)
	{
		memset(&entry->fold, 0, sizeof(entry->fold));
		entry->fold.gmt = PG_INT64_MIN;
		entry->fold.gmt_seq = PG_INT64_MIN;
		for (int i = 0; i < NUM_COLS; i++)
			entry->fold.cols[i].isnull = true;
		entry->old = NULL;
		entry->inserted = false;
	}
	oldcxt = MemoryContextSwitchTo(batch->chunkcxt);
	if (comes_after(gmt, seq, entry->fold.gmt, entry->fold.gmt_seq))
	{
		entry->fold.gmt = gmt;
		entry->fold.gmt_seq = seq;
	}
	fold_value(&entry->fold.cols[COL_ORDER_NO], slot, cols->order_no, false, gmt, seq);
	fold_value(&entry->fold.cols[COL_TEL], slot, cols->customer_tel, false, gmt, seq);
	fold_value(&entry->fold.cols[COL_PAYBLE], slot, cols->account_payble, true, gmt, seq);
	MemoryContextSwitchTo(oldcxt);
}

static int
entry_cmp(const void *a, const void *b)
{
	const OrderEntry *ea = *(OrderEntry *const *) a;
	const OrderEntry *eb = *(OrderEntry *const *) b;

	if (ea->key.id != eb->key.id)
		return ea->key.id < eb->key.id ? -1 : 1;
	if (ea->key.day != eb->key.day)
		return ea->key.day < eb->key.day ? -1 : 1;
	return 0;
}

/* ---- state rows ---- */

#define STATE_COLUMNS \
	"id, day, gmt_modified, gmt_seq, order_no, order_no_at, order_no_seq," \
	" customer_tel, customer_tel_at, customer_tel_seq," \
	" account_payble, account_payble_at, account_payble_seq"

#define STATE_UNNEST \
	"ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.date[])," \
	" pg_catalog.unnest($3::pg_catalog.int8[]), pg_catalog.unnest($4::pg_catalog.int8[])," \
	" pg_catalog.unnest($5::pg_catalog.text[]), pg_catalog.unnest($6::pg_catalog.int8[])," \
	" pg_catalog.unnest($7::pg_catalog.int8[]), pg_catalog.unnest($8::pg_catalog.text[])," \
	" pg_catalog.unnest($9::pg_catalog.int8[]), pg_catalog.unnest($10::pg_catalog.int8[])," \
	" pg_catalog.unnest($11::pg_catalog.float8[]), pg_catalog.unnest($12::pg_catalog.int8[])," \
	" pg_catalog.unnest($13::pg_catalog.int8[]))"

#define NUM_STATE_ARGS 13

typedef struct StateArrays
{
	IsArray		arr[NUM_STATE_ARGS];
} StateArrays;

static const Oid state_arg_types[NUM_STATE_ARGS] = {
	INT8ARRAYOID, DATEARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
	FLOAT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID
};

static void
state_arrays_init(StateArrays *sa)
{
	static const Oid elem[NUM_STATE_ARGS] = {
		INT8OID, DATEOID, INT8OID, INT8OID, TEXTOID, INT8OID, INT8OID,
		TEXTOID, INT8OID, INT8OID, FLOAT8OID, INT8OID, INT8OID
	};

	for (int i = 0; i < NUM_STATE_ARGS; i++)
		is_array_init(&sa->arr[i], elem[i]);
}

static void
state_arrays_push(StateArrays *sa, const OrderKey *key, const OrderState *st)
{
	is_array_push(&sa->arr[0], Int64GetDatum(key->id), false);
	is_array_push(&sa->arr[1], DateADTGetDatum(key->day), false);
	is_array_push(&sa->arr[2], Int64GetDatum(st->gmt), false);
	is_array_push(&sa->arr[3], Int64GetDatum(st->gmt_seq), false);
	for (int i = 0; i < NUM_COLS; i++)
	{
		const OrderValue *v = &st->cols[i];

		is_array_push(&sa->arr[4 + 3 * i], v->value, v->isnull);
		is_array_push(&sa->arr[5 + 3 * i], Int64GetDatum(v->at), v->isnull);
		is_array_push(&sa->arr[6 + 3 * i], Int64GetDatum(v->seq), v->isnull);
	}
}

static void
state_arrays_datums(StateArrays *sa, Datum *args)
{
	for (int i = 0; i < NUM_STATE_ARGS; i++)
		args[i] = is_array_datum(&sa->arr[i]);
}

static OrderEntry *
lookup_entry(OrderBatch *batch, int64 id, int32 day)
{
	OrderKey	key;
	OrderEntry *entry;

	memset(&key, 0, sizeof(key));
	key.id = id;
	key.day = day;
	entry = hash_search(batch->entries, &key, HASH_FIND, NULL);
	if (entry == NULL)
		elog(ERROR, "order state (%lld, %d) was not asked for", (long long) id, day);
	return entry;
}

static int64
getint8(HeapTuple tup, TupleDesc desc, int attnum, bool *isnull)
{
	Datum		d = SPI_getbinval(tup, desc, attnum, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

/* locks and reads the stored states of the given keys (sorted by key) */
static void
load_states(OrderBatch *batch, OrderEntry **keys, int nkeys)
{
	static IsBatchPlan plans;
	Oid			types[2] = {INT8ARRAYOID, DATEARRAYOID};
	SPIPlanPtr	plan;
	IsArray		ids;
	IsArray		days;
	Datum		args[2];
	uint64		i;
	MemoryContext oldcxt;

	{
		/*
		 * One index probe per key, locking in key order, whatever the
		 * statistics say: a subquery with FOR UPDATE is not flattened.
		 */
		plan = is_batch_plan(&plans, "SELECT s.* FROM"
							   " ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]),"
							   "            pg_catalog.unnest($2::pg_catalog.date[])) AS k(id, day),"
							   " LATERAL (SELECT " STATE_COLUMNS ", s.ctid FROM insure_stream.order_state s"
							   "           WHERE s.id OPERATOR(pg_catalog.=) k.id"
							   "             AND s.day OPERATOR(pg_catalog.=) k.day FOR UPDATE) AS s",
							   2, types, nkeys);
	}
	oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	is_array_init(&ids, INT8OID);
	is_array_init(&days, DATEOID);
	for (int k = 0; k < nkeys; k++)
	{
		is_array_push(&ids, Int64GetDatum(keys[k]->key.id), false);
		is_array_push(&days, DateADTGetDatum(keys[k]->key.day), false);
	}
	args[0] = is_array_datum(&ids);
	args[1] = is_array_datum(&days);
	MemoryContextSwitchTo(oldcxt);

	if (is_execute(plan, args, NULL, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read order states");

	oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = getint8(tup, desc, 1, &isnull);
		int32		day = DatumGetDateADT(SPI_getbinval(tup, desc, 2, &isnull));
		OrderEntry *entry = lookup_entry(batch, id, day);
		OrderState *st = palloc(sizeof(OrderState));

		st->gmt = getint8(tup, desc, 3, &isnull);
		st->gmt_seq = getint8(tup, desc, 4, &isnull);
		for (int c = 0; c < NUM_COLS; c++)
		{
			OrderValue *v = &st->cols[c];
			Datum		d = SPI_getbinval(tup, desc, 5 + 3 * c, &v->isnull);

			v->value = v->isnull ? (Datum) 0 :
				(c == COL_PAYBLE ? d : datumCopy(d, false, -1));
			v->at = getint8(tup, desc, 6 + 3 * c, &isnull);
			v->seq = getint8(tup, desc, 7 + 3 * c, &isnull);
		}
		entry->old = st;
		entry->tid = *((ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 14, &isnull)));
	}
	MemoryContextSwitchTo(oldcxt);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * Inserts the states of keys that had none.  A concurrent session may have
 * inserted the same key meanwhile: those rows are skipped here (ON CONFLICT
 * DO NOTHING, after waiting for that session) and the caller loads them.
 */
static void
insert_states(OrderBatch *batch, OrderEntry **keys, int nkeys)
{
	static IsBatchPlan plans;
	SPIPlanPtr	plan;
	StateArrays sa;
	Datum		args[NUM_STATE_ARGS];
	uint64		i;
	MemoryContext oldcxt;

	plan = is_batch_plan(&plans, "INSERT INTO insure_stream.order_state AS s (" STATE_COLUMNS ")"
							   " SELECT * FROM " STATE_UNNEST
							   " ORDER BY 1, 2"
							   " ON CONFLICT (id, day) DO NOTHING"
							   " RETURNING s.id, s.day",
							   NUM_STATE_ARGS, (Oid *) state_arg_types, nkeys);
	oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	state_arrays_init(&sa);
	for (int k = 0; k < nkeys; k++)
		state_arrays_push(&sa, &keys[k]->key, &keys[k]->fold);
	state_arrays_datums(&sa, args);
	MemoryContextSwitchTo(oldcxt);

	if (is_execute(plan, args, NULL, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not insert order states");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		HeapTuple	tup = SPI_tuptable->vals[i];
		int64		id = getint8(tup, SPI_tuptable->tupdesc, 1, &isnull);
		int32		day = DatumGetDateADT(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));

		lookup_entry(batch, id, day)->inserted = true;
	}
	SPI_freetuptable(SPI_tuptable);
}

/* updates changed states, found by the tids their lock left them at */
static void
update_states(OrderBatch *batch, StateArrays *sa, IsArray *tids)
{
	static IsBatchPlan plans;
	Oid			types[NUM_STATE_ARGS + 1];
	Datum		args[NUM_STATE_ARGS + 1];
	SPIPlanPtr	plan;
	MemoryContext oldcxt;

	if (tids->count == 0)
		return;
	memcpy(types, state_arg_types, sizeof(state_arg_types));
	types[NUM_STATE_ARGS] = TIDARRAYOID;
	plan = is_batch_plan(&plans, "UPDATE insure_stream.order_state AS s"
						 "   SET gmt_modified = u.g, gmt_seq = u.gs,"
						 "       order_no = u.o, order_no_at = u.oa, order_no_seq = u.os,"
						 "       customer_tel = u.t, customer_tel_at = u.ta, customer_tel_seq = u.ts,"
						 "       account_payble = u.p, account_payble_at = u.pa, account_payble_seq = u.ps"
						 "  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.date[]),"
						 "       pg_catalog.unnest($3::pg_catalog.int8[]), pg_catalog.unnest($4::pg_catalog.int8[]),"
						 "       pg_catalog.unnest($5::pg_catalog.text[]), pg_catalog.unnest($6::pg_catalog.int8[]),"
						 "       pg_catalog.unnest($7::pg_catalog.int8[]), pg_catalog.unnest($8::pg_catalog.text[]),"
						 "       pg_catalog.unnest($9::pg_catalog.int8[]), pg_catalog.unnest($10::pg_catalog.int8[]),"
						 "       pg_catalog.unnest($11::pg_catalog.float8[]), pg_catalog.unnest($12::pg_catalog.int8[]),"
						 "       pg_catalog.unnest($13::pg_catalog.int8[]), pg_catalog.unnest($14::pg_catalog.tid[]))"
						 "       AS u(id, day, g, gs, o, oa, os, t, ta, ts, p, pa, ps, tid)"
						 " WHERE s.ctid OPERATOR(pg_catalog.=) u.tid",
						 NUM_STATE_ARGS + 1, types, tids->count);
	oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	state_arrays_datums(sa, args);
	args[NUM_STATE_ARGS] = is_array_datum(tids);
	MemoryContextSwitchTo(oldcxt);
	if (is_execute(plan, args, NULL, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update order states");
}

/* ---- hour figures ---- */

typedef struct HourChanges
{
	IsArray		hour_biz;		/* per contribution: biz_date */
	IsArray		hour_users;		/* +1 / -1 */
	IsArray		hour_premium;	/* signed amount */
	IsArray		value_biz;		/* per distinct value contribution */
	IsArray		value_kind;
	IsArray		value_text;
	IsArray		value_delta;
} HourChanges;

static void
hour_changes_init(HourChanges *hc)
{
	is_array_init(&hc->hour_biz, TEXTOID);
	is_array_init(&hc->hour_users, INT8OID);
	is_array_init(&hc->hour_premium, FLOAT8OID);
	is_array_init(&hc->value_biz, TEXTOID);
	is_array_init(&hc->value_kind, CHAROID);
	is_array_init(&hc->value_text, TEXTOID);
	is_array_init(&hc->value_delta, INT8OID);
}

/* adds (sign = 1) or retracts (sign = -1) a state's contribution to its hour */
static void
contribute(HourChanges *hc, const OrderState *st, int sign, pg_tz *tz)
{
	Datum		biz = biz_date(st->gmt, tz);
	double		premium = st->cols[COL_PAYBLE].isnull ? 0.0 :
		DatumGetFloat8(st->cols[COL_PAYBLE].value);
	static const char kinds[2] = {'p', 't'};

	is_array_push(&hc->hour_biz, biz, false);
	is_array_push(&hc->hour_users, Int64GetDatum(sign), false);
	/* negation is exact, and so is (-x)::numeric = -(x::numeric) */
	is_array_push(&hc->hour_premium, Float8GetDatum(sign > 0 ? premium : -premium), false);
	for (int c = COL_ORDER_NO; c <= COL_TEL; c++)
	{
		if (st->cols[c].isnull)
			continue;
		is_array_push(&hc->value_biz, biz, false);
		is_array_push(&hc->value_kind, CharGetDatum(kinds[c]), false);
		is_array_push(&hc->value_text, st->cols[c].value, false);
		is_array_push(&hc->value_delta, Int64GetDatum(sign), false);
	}
}

/*
 * One statement: reference counts first (locks in (biz_date, kind, value)
 * order), then this writer's partial hour rows with the user, premium and
 * distinct-count changes (a count changes when a reference count crosses 0).
 */
#define APPLY_HOURS_QUERY \
	"WITH d AS (" \
	"  SELECT v.biz_date COLLATE pg_catalog.\"C\" AS biz_date, v.kind," \
	"         v.value COLLATE pg_catalog.\"C\" AS value, pg_catalog.sum(v.delta)::pg_catalog.int8 AS delta" \
	"    FROM ROWS FROM (pg_catalog.unnest($4::pg_catalog.text[]), pg_catalog.unnest($5::pg_catalog.\"char\"[])," \
	"                    pg_catalog.unnest($6::pg_catalog.text[]), pg_catalog.unnest($7::pg_catalog.int8[]))" \
	"         AS v(biz_date, kind, value, delta)" \
	"   GROUP BY 1, 2, 3" \
	"  HAVING pg_catalog.sum(v.delta) OPERATOR(pg_catalog.<>) 0)," \
	" r AS (" \
	"  INSERT INTO insure_stream.order_hour_value AS hv (biz_date, kind, value, refs, last_delta)" \
	"  SELECT d.biz_date, d.kind, d.value, d.delta, d.delta FROM d ORDER BY 1, 2, 3" \
	"  ON CONFLICT (biz_date, kind, value)" \
	"  DO UPDATE SET refs = hv.refs OPERATOR(pg_catalog.+) excluded.refs, last_delta = excluded.refs" \
	"  RETURNING hv.biz_date, hv.kind, hv.refs, hv.last_delta)," \
	" t AS (" \
	"  SELECT r.biz_date," \
	"         pg_catalog.sum(CASE WHEN r.kind OPERATOR(pg_catalog.=) 'p' THEN" \
	"             (r.refs OPERATOR(pg_catalog.>) 0)::pg_catalog.int4 OPERATOR(pg_catalog.-)" \
	"             ((r.refs OPERATOR(pg_catalog.-) r.last_delta) OPERATOR(pg_catalog.>) 0)::pg_catalog.int4" \
	"             ELSE 0 END) AS policies," \
	"         pg_catalog.sum(CASE WHEN r.kind OPERATOR(pg_catalog.=) 't' THEN" \
	"             (r.refs OPERATOR(pg_catalog.>) 0)::pg_catalog.int4 OPERATOR(pg_catalog.-)" \
	"             ((r.refs OPERATOR(pg_catalog.-) r.last_delta) OPERATOR(pg_catalog.>) 0)::pg_catalog.int4" \
	"             ELSE 0 END) AS holders" \
	"    FROM r GROUP BY r.biz_date)," \
	" h AS (" \
	"  SELECT u.biz_date COLLATE pg_catalog.\"C\" AS biz_date, pg_catalog.sum(u.users) AS users," \
	"         pg_catalog.sum(u.premium::pg_catalog.numeric) AS premium" \
	"    FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.int8[])," \
	"                    pg_catalog.unnest($3::pg_catalog.float8[])) AS u(biz_date, users, premium)" \
	"   GROUP BY 1)" \
	"INSERT INTO insure_stream.order_hour_part AS p" \
	"       (biz_date, writer, users, premium, policies, holders)" \
	"SELECT COALESCE(h.biz_date, t.biz_date), $8," \
	"       COALESCE(h.users, 0), COALESCE(h.premium, 0)," \
	"       COALESCE(t.policies, 0), COALESCE(t.holders, 0)" \
	"  FROM h FULL JOIN t ON t.biz_date OPERATOR(pg_catalog.=) h.biz_date" \
	" ORDER BY 1 " \
	"ON CONFLICT (biz_date, writer) DO UPDATE" \
	"   SET users = p.users OPERATOR(pg_catalog.+) excluded.users," \
	"       premium = p.premium OPERATOR(pg_catalog.+) excluded.premium," \
	"       policies = p.policies OPERATOR(pg_catalog.+) excluded.policies," \
	"       holders = p.holders OPERATOR(pg_catalog.+) excluded.holders"

/*
 * The writer slot of this statement: the backend's number, unless that slot
 * is still held by a prepared transaction (which outlives the session that
 * had this number, and keeps its partial hour rows locked until COMMIT or
 * ROLLBACK PREPARED); then the first free slot above it, in steps of
 * MaxBackends.  A slot is held with a transaction-level advisory lock,
 * which PREPARE TRANSACTION hands over to the prepared transaction.  Slots
 * only spread the partial rows, so a transaction may use several.
 */
#define IS_SLOT_LOCK_CLASS 0x15517E0	/* first key of the slot advisory locks */

static int
writer_slot(void)
{
	for (int slot = IS_WRITER_SLOT();; slot += MaxBackends)
	{
		LOCKTAG		tag;

		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, IS_SLOT_LOCK_CLASS, (uint32) slot, 2);
		if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
			return slot;
		CHECK_FOR_INTERRUPTS();
	}
}

static void
apply_hours(OrderBatch *batch, HourChanges *hc)
{
	static IsBatchPlan plans;
	Oid			types[8] = {TEXTARRAYOID, INT8ARRAYOID, FLOAT8ARRAYOID,
		TEXTARRAYOID, CHARARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT4OID};
	SPIPlanPtr	plan;
	Datum		args[8];
	MemoryContext oldcxt;

	if (hc->hour_biz.count == 0)
		return;
	plan = is_batch_plan(&plans, APPLY_HOURS_QUERY, 8, types, hc->value_biz.count);
	oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	args[0] = is_array_datum(&hc->hour_biz);
	args[1] = is_array_datum(&hc->hour_users);
	args[2] = is_array_datum(&hc->hour_premium);
	args[3] = is_array_datum(&hc->value_biz);
	args[4] = is_array_datum(&hc->value_kind);
	args[5] = is_array_datum(&hc->value_text);
	args[6] = is_array_datum(&hc->value_delta);
	args[7] = Int32GetDatum(writer_slot());
	MemoryContextSwitchTo(oldcxt);
	if (is_execute(plan, args, NULL, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not update hour figures");
}

/*
 * Days before the order_state watermark were compacted by maintenance: their
 * hours are final and their per-user state is gone.  A transaction that
 * started before midnight may still carry rows for such a day; those are
 * filtered, under a shared lock that maintenance takes exclusively while it
 * moves the watermark, so no row slips in between.
 */
static void
drop_closed_days(OrderBatch *batch, OrderEntry **keys, int *nkeys)
{
	static SPIPlanPtr plan = NULL;
	int32		clock_day = local_day(is_timestamptz_to_ms(GetCurrentTimestamp()),
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
	if (plan == NULL)
		plan = is_prepare_kept("SELECT insure_stream.orders_closed_before_locked()", 0, NULL);
	if (is_execute(plan, NULL, NULL, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the closed-days watermark");
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
 * Writes one slice of a chunk's keys (sorted): locks what exists, inserts
 * what does not (retrying keys that others inserted meanwhile), updates the
 * changed states and applies their hour changes.  Everything it allocates
 * goes with the slice, so a flush needs little memory beyond the fold.
 */
static void
flush_slice(OrderBatch *batch, OrderEntry **keys, int nkeys)
{
	OrderEntry **pending;
	int			npending;
	StateArrays updates;
	IsArray		tids;
	HourChanges hc;
	MemoryContext oldcxt;

	drop_closed_days(batch, keys, &nkeys);

	oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	pending = palloc(sizeof(OrderEntry *) * Max(nkeys, 1));
	state_arrays_init(&updates);
	is_array_init(&tids, TIDOID);
	hour_changes_init(&hc);
	MemoryContextSwitchTo(oldcxt);

	npending = nkeys;
	memcpy(pending, keys, sizeof(OrderEntry *) * nkeys);
	while (npending > 0)
	{
		int			nmissing = 0;

		CHECK_FOR_INTERRUPTS();
		load_states(batch, pending, npending);
		for (int k = 0; k < npending; k++)
			if (pending[k]->old == NULL)
				pending[nmissing++] = pending[k];
		if (nmissing == 0)
			break;
		insert_states(batch, pending, nmissing);
		npending = 0;
		for (int k = 0; k < nmissing; k++)
			if (!pending[k]->inserted)
				pending[npending++] = pending[k];
	}

	oldcxt = MemoryContextSwitchTo(batch->slicecxt);
	for (int k = 0; k < nkeys; k++)
	{
		OrderEntry *e = keys[k];
		OrderState	merged;

		if (e->inserted)
		{
			contribute(&hc, &e->fold, 1, batch->settings->tz);
			continue;
		}
		merged = *e->old;
		merge_state(&merged, &e->fold);
		if (same_ordering(&merged, e->old))
			continue;
		state_arrays_push(&updates, &e->key, &merged);
		is_array_push(&tids, PointerGetDatum(&e->tid), false);
		contribute(&hc, e->old, -1, batch->settings->tz);
		contribute(&hc, &merged, 1, batch->settings->tz);
	}
	MemoryContextSwitchTo(oldcxt);

	update_states(batch, &updates, &tids);
	apply_hours(batch, &hc);
	batch->states_written += nkeys;
	is_analyze_if_grown("order_state", &batch->states_written);
	for (int k = 0; k < nkeys; k++)
		keys[k]->old = NULL;
	MemoryContextReset(batch->slicecxt);
}

/* writes the chunk's keys in ascending order, slice by slice */
static void
flush_chunk(OrderBatch *batch)
{
	OrderEntry **keys;
	int			nkeys = 0;
	HASH_SEQ_STATUS seq;
	OrderEntry *entry;

	if (batch->rows == 0)
		return;
	keys = MemoryContextAlloc(batch->chunkcxt,
							  sizeof(OrderEntry *) * hash_get_num_entries(batch->entries));
	hash_seq_init(&seq, batch->entries);
	while ((entry = hash_seq_search(&seq)) != NULL)
		keys[nkeys++] = entry;
	qsort(keys, nkeys, sizeof(OrderEntry *), entry_cmp);
	for (int first = 0; first < nkeys; first += IS_FLUSH_SLICE)
		flush_slice(batch, keys + first, Min(IS_FLUSH_SLICE, nkeys - first));
	new_chunk(batch);
}

/*
 * order_window = day: a row counts when its gmt_modified is not before the
 * start of the local day of its own ingest (ingested_at, normally now()), so
 * that a re-derive from the log decides exactly as the trigger did.
 */
static bool
before_window(OrderBatch *batch, TupleTableSlot *slot, const OrderColumns *cols,
			  int64 gmt)
{
	bool		isnull;
	TimestampTz ingested_at;

	if (!batch->settings->window_day)
		return false;
	ingested_at = DatumGetTimestampTz(slot_getattr(slot, cols->ingested_at, &isnull));
	if (isnull)
		ingested_at = GetCurrentTransactionStartTimestamp();
	if (ingested_at != batch->window_ingested_at)
	{
		batch->window_start_ms = is_day_start_ms(is_timestamptz_to_ms(ingested_at),
												 batch->settings->tz);
		batch->window_ingested_at = ingested_at;
	}
	return gmt < batch->window_start_ms;
}

/*
 * Processes the statement's rows: validates, filters, folds per (user, day)
 * and flushes when the chunk's memory reaches IS_CHUNK_BYTES, so memory
 * stays bounded whatever the size of the COPY.
 */
static void
process_rows(OrderBatch *batch, Tuplestorestate *rows)
{
	TupleTableSlot *slot = MakeSingleTupleTableSlot(RelationGetDescr(batch->rel),
													&TTSOpsMinimalTuple);
	OrderColumns cols;
	MemoryContext rowcxt = AllocSetContextCreate(CurrentMemoryContext,
												 "insure_stream order row",
												 ALLOCSET_SMALL_SIZES);

	find_columns(RelationGetDescr(batch->rel), &cols);
	tuplestore_rescan(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(rowcxt);
		int64		id;
		int64		gmt;
		int64		seq;

		CHECK_FOR_INTERRUPTS();
		if (!is_slot_int64(slot, cols.ingest_seq, &seq))
			elog(ERROR, "user_order row without ingest_seq");
		/* rows neither rejected nor accepted are filtered: kept, not counted */
		if (!reject_bad_order(batch, slot, &cols, seq) &&
			is_slot_int64(slot, cols.id, &id) &&
			is_slot_int64(slot, cols.gmt_modified, &gmt) &&
			!before_window(batch, slot, &cols, gmt))
		{
			fold_row(batch, slot, &cols, id, gmt, seq);
			/* fold as much as memory allows: each key is written once per chunk */
			if ((++batch->rows % 1024) == 0 &&
				MemoryContextMemAllocated(batch->chunkcxt, true) > IS_CHUNK_BYTES)
				flush_chunk(batch);
		}
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
	}
	flush_chunk(batch);
	MemoryContextDelete(rowcxt);
	ExecDropSingleTupleTableSlot(slot);
}

PG_FUNCTION_INFO_V1(insure_stream_user_order_apply);

/* AFTER INSERT ON user_order REFERENCING NEW TABLE FOR EACH STATEMENT */
Datum
insure_stream_user_order_apply(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	OrderBatch	batch;
	MemoryContext callcxt;

	batch.rel = is_check_statement_trigger(fcinfo, "user_order_apply");
	callcxt = CurrentMemoryContext;
	batch.chunkcxt = AllocSetContextCreate(callcxt, "insure_stream order chunk",
										   ALLOCSET_DEFAULT_SIZES);
	batch.slicecxt = AllocSetContextCreate(callcxt, "insure_stream order slice",
										   ALLOCSET_DEFAULT_SIZES);
	batch.window_ingested_at = DT_NOBEGIN;
	batch.states_written = 0;
	batch.window_start_ms = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	batch.settings = is_settings_load(callcxt);
	MemoryContextSwitchTo(callcxt);
	new_chunk(&batch);
	process_rows(&batch, trigdata->tg_newtable);
	SPI_finish();
	MemoryContextDelete(batch.chunkcxt);
	MemoryContextDelete(batch.slicecxt);
	return PointerGetDatum(NULL);
}
