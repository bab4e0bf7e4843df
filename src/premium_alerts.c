/*-------------------------------------------------------------------------
 *
 * premium_alerts.c
 *		Scenario 2: an update_info event of a key customer (raw_info) whose
 *		premium drops by more than drop_threshold upserts premium_alert and
 *		notifies listeners; every matched event rewrites raw_info.
 *
 * Rows are processed in arrival order against raw_info as it is at that
 * moment.  Per chunk, the key customers are locked in ascending id order
 * first (so statements cannot deadlock; directly, or through SQL when the
 * transaction keeps one snapshot), the rows are applied to an in-memory
 * copy, raw_info is rewritten through SQL (operators' triggers on it run)
 * and premium_applied and premium_alert are written directly (direct.c).
 * premium_applied remembers the last event applied per key customer, so
 * replaying events (a restore) changes nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "arrays.h"
#include "config.h"
#include "direct.h"
#include "shards.h"
#include "spi_plans.h"
#include "trigger.h"

#define ALERT_CHANNEL "insure_stream_premium_drop"
/* NOTIFY payloads must be shorter than this (see async.c) */
#define MAX_PAYLOAD 8000
/* numeric_in refuses exponents beyond this */
#define MAX_EXPONENT 1000

/*
 * A decimal with at most 15 significant digits and 6 after the point, as
 * an integer and a scale: premiums and the keep factor usually are, and
 * then the drop test is exact in 128-bit integers (numeric_in and
 * numeric_mul on every event cost 7% of a bulk load).  Anything else
 * (exponents, more digits) goes through numeric.
 */
typedef struct SmallDecimal
{
	int64		mantissa;
	int			scale;			/* -1: not small */
} SmallDecimal;

/*
 * Is the text a finite decimal that numeric_in accepts?  Blanks around it,
 * a sign, ".5", "5." and exponents are fine; NaN, Infinity, thousands
 * separators and empty text are not.  Checked before numeric_in so that it
 * cannot throw in the middle of a statement.  When small is given, it is
 * set to the decimal as a SmallDecimal, or to scale -1 when the text is not
 * a small decimal (or not valid).
 */
static bool
parse_premium(const char *s, SmallDecimal *small)
{
	int			digits = 0;
	int			significant = 0;
	int			scale = 0;
	int64		mantissa = 0;
	bool		negative = false;
	bool		point = false;
	bool		has_exponent = false;
	long		exponent = 0;
	bool		valid;

	while (isspace((unsigned char) *s))
		s++;
	if (*s == '+' || *s == '-')
		negative = (*s++ == '-');
	for (;; s++)
	{
		if (isdigit((unsigned char) *s))
		{
			digits++;
			if (point)
				scale++;
			/* leading zeros are no significant digits */
			if ((mantissa != 0 || *s != '0') && ++significant <= 15)
				mantissa = mantissa * 10 + (*s - '0');
		}
		else if (*s == '.' && !point)
			point = true;
		else
			break;
	}
	if (digits == 0)
		valid = false;
	else
	{
		if (*s == 'e' || *s == 'E')
		{
			int			exp_digits = 0;

			has_exponent = true;
			s++;
			if (*s == '+' || *s == '-')
				s++;
			while (isdigit((unsigned char) *s))
			{
				if (exponent <= MAX_EXPONENT)
					exponent = exponent * 10 + (*s - '0');
				s++, exp_digits++;
			}
			if (exp_digits == 0)
				exponent = MAX_EXPONENT + 1;
		}
		while (isspace((unsigned char) *s))
			s++;
		valid = *s == '\0' && exponent <= MAX_EXPONENT && digits <= MAX_EXPONENT;
	}
	if (small != NULL)
	{
		bool		is_small = valid && !has_exponent && significant <= 15 && scale <= 6;

		small->mantissa = negative ? -mantissa : mantissa;
		small->scale = is_small ? scale : -1;
	}
	return valid;
}

static Datum
premium_numeric(const char *s)
{
	return DirectFunctionCall3(numeric_in, CStringGetDatum(s),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

/* a key customer as the statement sees it, rows applied so far included */
typedef struct KeyCustomer
{
	int64		id;				/* hash key */
	ItemPointerData tid;		/* its raw_info row, locked */
	bool		applied_found;	/* premium_applied has its row */
	ItemPointerData applied_tid;
	char	   *raw_premium;	/* NULL when null */
	char	   *raw_info;
	int64		applied_seq;	/* last event applied (replays are skipped) */
	bool		rewritten;
	bool		alerted;
	char	   *alert[4];		/* raw_info, now_info, raw_premium, now_premium */
	int64		alert_seq;		/* the alert's event, when its sending waits (else 0) */
} KeyCustomer;

typedef struct PendingEvent
{
	int64		id;
	int64		seq;
	char	   *now_premium;
	char	   *now_info;
} PendingEvent;

/* the columns of update_info the trigger reads (IsxStatement.att) */
enum
{
	UI_ID, UI_EVENT, UI_NOW_PREMIUM, UI_GMT_MODIFIED, UI_NOW_INFO, NUM_UI_COLS
};
static const char *const ui_names[NUM_UI_COLS] = {
	"id", "event", "now_premium", "gmt_modified", "now_info"
};

typedef struct PremiumBatch
{
	IsxSettings *settings;
	const int  *att;			/* where the UI_* columns are */
	char	   *row_premium;	/* the row's now_premium, left by validate */
	Datum		keep_factor;	/* 1 - drop_threshold, numeric */
	SmallDecimal keep_small;	/* the same, when small (scale -1 when not) */
	MemoryContext chunkcxt;
	MemoryContext eventcxt;		/* reset after each event */
	PendingEvent *events;
	int			nevents;
	int			maxevents;
	char	   *texts;			/* where the next kept text goes */
	Size		texts_free;		/* bytes left there */
	bool		defer_alerts;	/* apply_event leaves sending to its caller */
} PremiumBatch;

/*
 * A copy of an event's text that lives as long as the chunk.  Texts are
 * packed into 64 kB blocks, without a chunk header each, so that a chunk
 * holds about twice the events in the same memory: each key customer is
 * written once per chunk.
 */
static char *
keep_text(PremiumBatch *batch, const char *s)
{
	Size		len = strlen(s) + 1;
	char	   *copy;

	if (len > batch->texts_free)
	{
		Size		size = Max(len, (Size) 64 * 1024);

		batch->texts = MemoryContextAlloc(batch->chunkcxt, size);
		batch->texts_free = size;
	}
	copy = memcpy(batch->texts, s, len);
	batch->texts += len;
	batch->texts_free -= len;
	return copy;
}

/* an empty chunk: no events, no texts */
static void
new_premium_chunk(PremiumBatch *batch)
{
	MemoryContextReset(batch->chunkcxt);
	batch->maxevents = 1024;
	batch->events = MemoryContextAlloc(batch->chunkcxt, sizeof(PendingEvent) * batch->maxevents);
	batch->nevents = 0;
	batch->texts = NULL;
	batch->texts_free = 0;
}

/* true while this module rewrites raw_info: values were checked already */
static bool rewriting_raw_info = false;

/* appends the text as a JSON string, or null */
static void
append_json_text(StringInfo buf, const char *s)
{
	if (s == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, s);
}

/*
 * The payload: {"id": N} by default.  Any role that can connect may LISTEN,
 * so the alert's data goes out only when notify_payload = alert says the
 * operator accepts that; the id alone also when the data would not fit.
 */
static char *
alert_payload(KeyCustomer *kc, bool with_data)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (!with_data)
	{
		appendStringInfo(&buf, "{\"id\": " INT64_FORMAT "}", kc->id);
		return buf.data;
	}
	appendStringInfo(&buf, "{\"id\": " INT64_FORMAT ", \"raw_info\": ", kc->id);
	append_json_text(&buf, kc->alert[0]);
	appendStringInfoString(&buf, ", \"now_info\": ");
	append_json_text(&buf, kc->alert[1]);
	appendStringInfoString(&buf, ", \"raw_premium\": ");
	append_json_text(&buf, kc->alert[2]);
	appendStringInfoString(&buf, ", \"now_premium\": ");
	append_json_text(&buf, kc->alert[3]);
	appendStringInfoChar(&buf, '}');
	if (buf.len >= MAX_PAYLOAD)
	{
		resetStringInfo(&buf);
		appendStringInfo(&buf, "{\"id\": " INT64_FORMAT ", \"truncated\": true}", kc->id);
	}
	return buf.data;
}

/*
 * PostgreSQL keeps every NOTIFY of a transaction in the backend's memory
 * until commit, so a bulk load raising millions of alerts would grow
 * without bound.  A transaction notifies its first MAX_ALERT_NOTIFIES
 * alerts; after that it sends ALERTS_NOT_NOTIFIED, which PostgreSQL folds
 * into one notification (it drops duplicates within a transaction).
 */
#define MAX_ALERT_NOTIFIES 10000
#define ALERTS_NOT_NOTIFIED "{\"more_alerts\": true}"

static void
notify_alert(KeyCustomer *kc, bool with_data)
{
	static LocalTransactionId counted_lxid = InvalidLocalTransactionId;
	static int	notified = 0;

	if (MyProc->lxid != counted_lxid)
	{
		counted_lxid = MyProc->lxid;
		notified = 0;
	}
	if (notified < MAX_ALERT_NOTIFIES)
	{
		notified++;
		Async_Notify(ALERT_CHANNEL, alert_payload(kc, with_data));
	}
	else
		Async_Notify(ALERT_CHANNEL, ALERTS_NOT_NOTIFIED);
}

/*
 * The alert's notification queued in alert_outbox, for forward_alerts() to
 * send: with notify = deferred, and always on a Citus worker (a NOTIFY
 * there would make Citus's two-phase commit fail), where the outbox is the
 * shard beside the event shard.
 */
static void
outbox_alert(KeyCustomer *kc, int64 seq, bool with_data)
{
	static SPIPlanPtr plan = NULL;
	static const char *query = "INSERT INTO %s (id, alert_seq, payload) VALUES ($1, $2, $3)";
	Oid			types[3] = {INT8OID, INT8OID, TEXTOID};
	Datum		args[3];
	MemoryContext cxt = CurrentMemoryContext;
	int			rc;

	args[0] = Int64GetDatum(kc->id);
	args[1] = Int64GetDatum(seq);
	args[2] = CStringGetTextDatum(alert_payload(kc, with_data));
	if (isx_current_shard() == 0)
	{
		if (plan == NULL)
			plan = isx_prepare_kept_plan(psprintf(query, "insure_stream.alert_outbox"), 3, types);
		rc = isx_execute_plan(plan, args, NULL, 0);
	}
	else
		rc = SPI_execute_with_args(psprintf(query, isx_state_qualified_name("alert_outbox")),
								   3, types, args, NULL, false, 0);
	MemoryContextSwitchTo(cxt);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not queue the notification of an alert");
}

/* an alert to its listeners, as the notify setting says */
static void
send_alert(const IsxSettings *settings, KeyCustomer *kc, int64 seq)
{
	if (settings->notify == ISX_NOTIFY_OFF)
		return;
	if (settings->notify == ISX_NOTIFY_COMMIT && isx_current_shard() == 0)
		notify_alert(kc, settings->notify_alert_data);
	else
		outbox_alert(kc, seq, settings->notify_alert_data);
}

/* premium_applied and premium_alert, written directly (direct.c); raw_info */
typedef struct PremiumTables
{
	EState	   *estate;
	IsxStateTable applied;		/* premium_applied */
	IsxStateTable alerts;		/* premium_alert, opened at the first alert */
	bool		alerts_open;
	IsxStateTable raw;			/* raw_info: only looked up and locked here */
	int			rw[3];			/* id, raw_premium, raw_info */
	int			ap[2];			/* id, applied_seq */
	int			al[5];			/* id, raw_info, now_info, raw_premium, now_premium */
} PremiumTables;

static void
open_premium_tables(PremiumTables *t)
{
	static const char *const applied_columns[2] = {"id", "applied_seq"};
	static const char *const raw_columns[3] = {"id", "raw_premium", "raw_info"};

	t->estate = isx_direct_begin();
	isx_state_open(&t->applied, "premium_applied", t->estate, applied_columns, 2, t->ap);
	isx_state_open(&t->raw, "raw_info", t->estate, raw_columns, 3, t->rw);
	t->alerts_open = false;
}

/* premium_alert, when an alert is written: most statements raise none */
static IsxStateTable *
alert_table(PremiumTables *t)
{
	static const char *const alert_columns[5] = {
		"id", "raw_info", "now_info", "raw_premium", "now_premium"
	};

	if (!t->alerts_open)
	{
		isx_state_open(&t->alerts, "premium_alert", t->estate, alert_columns, 5, t->al);
		t->alerts_open = true;
	}
	return &t->alerts;
}

static void
close_premium_tables(PremiumTables *t)
{
	IsxStateTable *const tables[] = {&t->applied, &t->raw, &t->alerts};

	isx_direct_end(t->estate, tables, t->alerts_open ? 3 : 2);
}

/* an event of the chunk by key customer: sorted, it gives the distinct ids */
typedef struct EventRef
{
	int64		id;
	int			index;			/* in batch->events */
} EventRef;

#define ST_SORT sort_event_refs
#define ST_ELEMENT_TYPE EventRef
#define ST_COMPARE(a, b) (((a)->id > (b)->id) - ((a)->id < (b)->id))
#define ST_CHECK_FOR_INTERRUPTS
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/* a new hash entry for a key customer found and locked */
static KeyCustomer *
found_key_customer(HTAB *customers, int64 id)
{
	KeyCustomer *kc = hash_search(customers, &id, HASH_ENTER, NULL);

	memset(((char *) kc) + sizeof(int64), 0, sizeof(KeyCustomer) - sizeof(int64));
	kc->applied_seq = PG_INT64_MIN;
	return kc;
}

/*
 * Runs a statement on raw_info (query names it %s): on the table through a
 * kept plan, or on a Citus worker on the shard of raw_info beside the
 * event shard, planned for that once (no plan is kept per shard).  Leaves
 * the caller in its own memory context.
 */
static int
execute_on_raw_info(IsxBatchPlans *plans, const char *query, int nargs, Oid *types,
					int batch_size, Datum *args, const char *nulls)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc;

	if (isx_current_shard() == 0)
		return isx_execute_plan(isx_plan_for_batch(plans, psprintf(query, "insure_stream.raw_info"),
												   nargs, types, batch_size),
								args, nulls, 0);
	rc = SPI_execute_with_args(psprintf(query, isx_state_qualified_name("raw_info")),
							   nargs, types, args, nulls, false, 0);
	MemoryContextSwitchTo(cxt);
	return rc;
}

/*
 * Locks the key customers through SQL, for transactions that read one
 * snapshot throughout (REPEATABLE READ, SERIALIZABLE): SELECT ... FOR
 * UPDATE then fails with a serialization error when another transaction
 * changed a row after that snapshot, as PostgreSQL's own statements do.
 */
static void
lock_key_customers_sql(HTAB *customers, int64 *ids, int nids)
{
	static IsxBatchPlans plans;
	Oid			types[1] = {INT8ARRAYOID};
	IsxArray	arr;
	Datum		args[1];

	isx_array_init(&arr, INT8OID);
	for (int i = 0; i < nids; i++)
		isx_array_push(&arr, Int64GetDatum(ids[i]), false);
	args[0] = isx_array_to_datum(&arr);
	if (execute_on_raw_info(&plans,
							"SELECT r.id, r.raw_premium, r.raw_info, r.ctid"
							"  FROM %s r"
							" WHERE r.id OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.int8[])"
							" ORDER BY r.id FOR UPDATE OF r",
							1, types, nids, args, NULL) != SPI_OK_SELECT)
		elog(ERROR, "could not lock key customers");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		KeyCustomer *kc = found_key_customer(customers,
											 DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull)));

		kc->raw_premium = SPI_getvalue(tup, desc, 2);
		kc->raw_info = SPI_getvalue(tup, desc, 3);
		kc->tid = *((ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 4, &isnull)));
	}
	SPI_freetuptable(SPI_tuptable);
}

static char *
stored_cstring(IsxStateTable *st, int column)
{
	text	   *t = isx_stored_text(st, column);

	return t ? text_to_cstring(t) : NULL;
}

/*
 * Locks the key customers directly, ascending, for transactions that take
 * a snapshot per statement (READ COMMITTED): each row at its latest
 * version, after whoever writes it, which is what SELECT ... FOR UPDATE
 * does there, without starting a statement.
 */
static void
lock_key_customers_direct(PremiumTables *t, HTAB *customers, int64 *ids, int nids)
{
	IsxStateTable *raw = &t->raw;

	for (int i = 0; i < nids; i++)
	{
		KeyCustomer *kc;

		CHECK_FOR_INTERRUPTS();
		isx_state_new_row(raw);
		isx_state_set(raw, t->rw[0], Int64GetDatum(ids[i]), false);
		if (!isx_state_lock(raw))
			continue;
		kc = found_key_customer(customers, ids[i]);
		kc->raw_premium = stored_cstring(raw, t->rw[1]);
		kc->raw_info = stored_cstring(raw, t->rw[2]);
		kc->tid = raw->stored->tts_tid;
		/* no pin on the page the rewrite updates: it may prune it */
		ExecClearTuple(raw->stored);
	}
}

/* the last event applied to a key customer: read after its raw_info row is ours or read */
static void
fetch_applied(PremiumTables *t, KeyCustomer *kc)
{
	isx_state_new_row(&t->applied);
	isx_state_set(&t->applied, t->ap[0], Int64GetDatum(kc->id), false);
	if (isx_state_fetch(&t->applied))
	{
		kc->applied_found = true;
		kc->applied_tid = t->applied.stored->tts_tid;
		kc->applied_seq = DatumGetInt64(t->applied.stored->tts_values[t->ap[1]]);
	}
}

/*
 * Locks and reads the chunk's key customers, ascending, and the last event
 * applied to each.  raw_info is rewritten through SQL below (operators
 * write it too, and their triggers run); premium_applied is read directly,
 * after the lock: everyone who wrote it held that raw_info row.
 */
static HTAB *
lock_key_customers(PremiumBatch *batch, PremiumTables *t, EventRef *refs, int64 **ids_out,
				   int *nids_out)
{
	HASHCTL		ctl;
	HTAB	   *customers;
	int64	   *ids = palloc(sizeof(int64) * batch->nevents);
	int			nids = 0;

	for (int i = 0; i < batch->nevents; i++)
	{
		refs[i].id = batch->events[i].id;
		refs[i].index = i;
	}
	sort_event_refs(refs, batch->nevents);
	for (int i = 0; i < batch->nevents; i++)
		if (i == 0 || refs[i].id != ids[nids - 1])
			ids[nids++] = refs[i].id;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(KeyCustomer);
	ctl.hcxt = CurrentMemoryContext;
	customers = hash_create("insure_stream key customers", nids, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	if (IsolationUsesXactSnapshot())
		lock_key_customers_sql(customers, ids, nids);
	else
		lock_key_customers_direct(t, customers, ids, nids);
	for (int i = 0; i < nids; i++)
	{
		KeyCustomer *kc = hash_search(customers, &ids[i], HASH_FIND, NULL);

		if (kc != NULL)
			fetch_applied(t, kc);
	}
	*ids_out = ids;
	*nids_out = nids;
	return customers;
}

static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = s == NULL;
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * The raw_info row of one key customer, the one a single-row statement
 * rewrites: a plain UPDATE by id.  The row is the version we locked (we
 * hold its lock, and at REPEATABLE READ it was locked through the
 * snapshot), and a lookup by key costs a fraction of the batch form's
 * array unnesting, join and TID scan (which asks the kernel for the
 * table's size).
 */
static int
rewrite_one(KeyCustomer *kc)
{
	static IsxBatchPlans plans;
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;

	args[0] = Int64GetDatum(kc->id);
	args[1] = text_or_null(kc->raw_premium, &isnull);
	nulls[1] = isnull ? 'n' : ' ';
	args[2] = text_or_null(kc->raw_info, &isnull);
	nulls[2] = isnull ? 'n' : ' ';
	return execute_on_raw_info(&plans,
							   "UPDATE %s"
							   "   SET raw_premium = $2, raw_info = $3"
							   " WHERE id OPERATOR(pg_catalog.=) $1",
							   3, types, 1, args, nulls);
}

/* the key customer of id when the chunk rewrites it, else NULL */
static KeyCustomer *
rewritten_customer(HTAB *customers, int64 id)
{
	KeyCustomer *kc = hash_search(customers, &id, HASH_FIND, NULL);

	return kc != NULL && kc->rewritten ? kc : NULL;
}

/* is the trigger ours, raw_info_check (a C function only a superuser could fake)? */
static bool
is_raw_info_check(const Trigger *trigger)
{
	HeapTuple	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(trigger->tgfoid));
	bool		ours = false;

	if (HeapTupleIsValid(proc))
	{
		bool		isnull;
		Datum		src = SysCacheGetAttr(PROCOID, proc, Anum_pg_proc_prosrc, &isnull);

		ours = ((Form_pg_proc) GETSTRUCT(proc))->prolang == ClanguageId && !isnull &&
			strcmp(TextDatumGetCString(src), "insure_stream_raw_info_check") == 0;
		ReleaseSysCache(proc);
	}
	return ours;
}

/*
 * May raw_info be rewritten directly, as the other state is written?  Only
 * when an UPDATE would run or check nothing that a direct write skips: no
 * trigger but our raw_info_check (which lets the rewrite through: the
 * premiums were checked as events), no CHECK constraint, no row security,
 * no NOT NULL or length limit on the rewritten columns.  A trigger an
 * operator (a superuser) put on raw_info, an audit say, sends the rewrite
 * through SQL, where it runs.  On one server only, and where the rows were
 * locked directly (a snapshot per statement): at REPEATABLE READ the SQL
 * UPDATE is the one that reports a serialization failure.
 */
static bool
raw_info_direct(IsxStateTable *raw, const int *rw)
{
	Relation	rel = raw->rel;
	TriggerDesc *triggers = rel->trigdesc;
	TupleConstr *constr = RelationGetDescr(rel)->constr;

	if (isx_current_shard() != 0 || IsolationUsesXactSnapshot() || rel->rd_rel->relrowsecurity)
		return false;
	if (triggers != NULL &&
		(triggers->numtriggers > 1 ||
		 (triggers->numtriggers == 1 && !is_raw_info_check(&triggers->triggers[0]))))
		return false;
	if (constr != NULL && constr->num_check > 0)
		return false;
	for (int c = 1; c <= 2; c++)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), rw[c]);

		if (att->attnotnull || att->atttypmod >= 0)
			return false;
	}
	return true;
}

/* raw_info's row in raw->stored, with the key customer's texts: into raw->row */
static void
raw_info_new_version(PremiumTables *t, KeyCustomer *kc)
{
	IsxStateTable *raw = &t->raw;
	int			natts = RelationGetDescr(raw->rel)->natts;
	bool		isnull;
	Datum		d;

	slot_getallattrs(raw->stored);
	isx_state_new_row(raw);
	memcpy(raw->row->tts_values, raw->stored->tts_values, natts * sizeof(Datum));
	memcpy(raw->row->tts_isnull, raw->stored->tts_isnull, natts * sizeof(bool));
	d = text_or_null(kc->raw_premium, &isnull);
	isx_state_set(raw, t->rw[1], d, isnull);
	d = text_or_null(kc->raw_info, &isnull);
	isx_state_set(raw, t->rw[2], d, isnull);
}

/*
 * Calls write for each key customer the chunk rewrites, ascending, in a
 * command of its own (the rows it writes over were read in the last one)
 */
static void
for_each_rewritten(PremiumTables *t, HTAB *customers, int64 *ids, int nids,
				   void (*write) (PremiumTables *t, KeyCustomer *kc))
{
	isx_direct_next_command(t->estate);
	for (int i = 0; i < nids; i++)
	{
		KeyCustomer *kc = rewritten_customer(customers, ids[i]);

		if (kc == NULL)
			continue;
		CHECK_FOR_INTERRUPTS();
		write(t, kc);
	}
}

/* a key customer's raw_info row rewritten directly: the version we locked */
static void
rewrite_raw_info_row(PremiumTables *t, KeyCustomer *kc)
{
	IsxStateTable *raw = &t->raw;

	if (!table_tuple_fetch_row_version(raw->rel, &kc->tid, SnapshotAny, raw->stored))
		elog(ERROR, "could not find a locked row of insure_stream.raw_info");
	raw_info_new_version(t, kc);
	isx_state_write(raw, &kc->tid);
	ExecClearTuple(raw->stored);
}

/*
 * The raw_info rows: directly where nothing else would run (see
 * raw_info_direct), else through SQL, where their triggers run (ours lets
 * the rewrite through).
 */
static void
rewrite_raw_info(PremiumTables *t, HTAB *customers, int64 *ids, int nids)
{
	static IsxBatchPlans plans;
	Oid			types[3] = {TIDARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	IsxArray	rw[3];
	Datum		args[3];
	KeyCustomer *volatile one = NULL;	/* the last to rewrite */

	if (raw_info_direct(&t->raw, t->rw))
	{
		for_each_rewritten(t, customers, ids, nids, rewrite_raw_info_row);
		return;
	}
	isx_array_init(&rw[0], TIDOID);
	isx_array_init(&rw[1], TEXTOID);
	isx_array_init(&rw[2], TEXTOID);
	for (int i = 0; i < nids; i++)
	{
		KeyCustomer *kc = rewritten_customer(customers, ids[i]);
		bool		isnull;
		Datum		d;

		if (kc == NULL)
			continue;
		one = kc;
		isx_array_push(&rw[0], PointerGetDatum(&kc->tid), false);
		d = text_or_null(kc->raw_premium, &isnull);
		isx_array_push(&rw[1], d, isnull);
		d = text_or_null(kc->raw_info, &isnull);
		isx_array_push(&rw[2], d, isnull);
	}
	if (rw[0].count == 0)
		return;
	rewriting_raw_info = true;
	PG_TRY();
	{
		int			rc;

		if (rw[0].count == 1 && one != NULL)
			rc = rewrite_one(one);
		else
		{
			for (int c = 0; c < 3; c++)
				args[c] = isx_array_to_datum(&rw[c]);
			rc = execute_on_raw_info(&plans,
									 "UPDATE %s AS r"
									 "   SET raw_premium = u.premium, raw_info = u.info"
									 "  FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.tid[]),"
									 "       pg_catalog.unnest($2::pg_catalog.text[]),"
									 "       pg_catalog.unnest($3::pg_catalog.text[])) AS u(tid, premium, info)"
									 " WHERE r.ctid OPERATOR(pg_catalog.=) u.tid",
									 3, types, rw[0].count, args, NULL);
		}
		if (rc != SPI_OK_UPDATE || SPI_processed != (uint64) rw[0].count)
			elog(ERROR, "could not rewrite key customers");
	}
	PG_FINALLY();
	{
		rewriting_raw_info = false;
	}
	PG_END_TRY();
}

/*
 * premium_applied and premium_alert of a rewritten key customer (after
 * isx_direct_next_command): nobody else writes them while we hold its
 * raw_info row, so new rows are plain inserts.
 */
static void
write_key_customer(PremiumTables *t, KeyCustomer *kc)
{
	IsxStateTable *al;
	bool		isnull;
	bool		found;
	ItemPointerData tid;

	isx_state_new_row(&t->applied);
	isx_state_set(&t->applied, t->ap[0], Int64GetDatum(kc->id), false);
	isx_state_set(&t->applied, t->ap[1], Int64GetDatum(kc->applied_seq), false);
	isx_state_write(&t->applied, kc->applied_found ? &kc->applied_tid : NULL);
	if (!kc->alerted)
		return;
	al = alert_table(t);
	isx_state_new_row(al);
	isx_state_set(al, t->al[0], Int64GetDatum(kc->id), false);
	found = isx_state_fetch(al);
	if (found)
	{
		tid = al->stored->tts_tid;
		isx_state_new_row(al);
		isx_state_set(al, t->al[0], Int64GetDatum(kc->id), false);
	}
	for (int c = 0; c < 4; c++)
	{
		Datum		d = text_or_null(kc->alert[c], &isnull);

		isx_state_set(al, t->al[1 + c], d, isnull);
	}
	isx_state_write(al, found ? &tid : NULL);
}

static int128
times_ten_to(int128 v, int power)
{
	while (power-- > 0)
		v *= 10;
	return v;
}

/*
 * Does the premium drop: now < raw * keep_factor, exactly?  With n, r, k
 * the integers of scales sn, sr, sk: n * 10^(sr+sk) < r * k * 10^sn, at
 * most 10^36 in magnitude.
 */
static bool
premium_drops(const PremiumBatch *batch, const char *now_premium, const char *raw_premium)
{
	SmallDecimal now;
	SmallDecimal raw;
	const SmallDecimal *keep = &batch->keep_small;

	parse_premium(now_premium, &now);
	parse_premium(raw_premium, &raw);
	if (keep->scale >= 0 && now.scale >= 0 && raw.scale >= 0)
		return times_ten_to(now.mantissa, raw.scale + keep->scale) <
			times_ten_to((int128) raw.mantissa * keep->mantissa, now.scale);
	return DatumGetBool(DirectFunctionCall2(numeric_lt, premium_numeric(now_premium),
											DirectFunctionCall2(numeric_mul,
																premium_numeric(raw_premium),
																batch->keep_factor)));
}

/* one event against its key customer as it is now */
static void
apply_event(PremiumBatch *batch, KeyCustomer *kc, PendingEvent *ev)
{
	MemoryContext oldcxt;
	bool		drops;

	if (ev->seq <= kc->applied_seq)
		return;					/* already applied: a replay */
	/* the numerics and the payload die with the event */
	oldcxt = MemoryContextSwitchTo(batch->eventcxt);
	drops = kc->raw_premium != NULL && premium_drops(batch, ev->now_premium, kc->raw_premium);
	if (drops)
	{
		kc->alerted = true;
		kc->alert[0] = kc->raw_info;
		kc->alert[1] = ev->now_info;
		kc->alert[2] = kc->raw_premium;
		kc->alert[3] = ev->now_premium;
		if (batch->defer_alerts)
			kc->alert_seq = ev->seq;
		else
			send_alert(batch->settings, kc, ev->seq);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(batch->eventcxt);
	kc->raw_premium = ev->now_premium;
	kc->raw_info = ev->now_info;
	kc->applied_seq = ev->seq;
	kc->rewritten = true;
}

/*
 * Each event's key customer (NULL: none), from the events sorted by id:
 * one hash lookup per key customer instead of one per event.  Events are
 * applied in arrival order, their key customers all over the chunk, so the
 * loop fetches the key customer a few events ahead into the cache.
 */
#define PREFETCH_AHEAD 8

/* fetch memory into the cache ahead of use; a no-op without the builtin */
#if defined(__GNUC__) || defined(__clang__)
#define prefetch(addr) __builtin_prefetch(addr)
#else
#define prefetch(addr) ((void) 0)
#endif

static KeyCustomer **
event_customers(PremiumBatch *batch, HTAB *customers, const EventRef *refs)
{
	KeyCustomer **kcs = palloc(sizeof(KeyCustomer *) * batch->nevents);
	KeyCustomer *kc = NULL;

	for (int i = 0; i < batch->nevents; i++)
	{
		if (i == 0 || refs[i].id != refs[i - 1].id)
			kc = hash_search(customers, &refs[i].id, HASH_FIND, NULL);
		kcs[refs[i].index] = kc;
	}
	return kcs;
}

/*
 * A statement of one event (the stream of single-row INSERTs), where
 * raw_info is written directly: its row is updated at its latest version
 * without a lock first (isx_state_update_latest), which saves the lock's
 * WAL record.  The event is decided against that version and the last
 * event applied; when another session rewrote the row meanwhile, the
 * update reports it and the event is decided again against the new
 * version, so the alert is sent only once the update holds.  An event
 * that changes nothing (its key customer's later event was applied)
 * writes nothing and locks nothing: premium_applied only grows.
 */
typedef struct SingleEvent
{
	PremiumBatch *batch;
	PremiumTables *t;
	KeyCustomer kc;
} SingleEvent;

static bool
decide_single_event(IsxStateTable *raw, void *arg)
{
	SingleEvent *one = arg;
	KeyCustomer *kc = &one->kc;
	int64		id = kc->id;

	memset(kc, 0, sizeof(KeyCustomer));
	kc->id = id;
	kc->applied_seq = PG_INT64_MIN;
	kc->raw_premium = stored_cstring(raw, one->t->rw[1]);
	kc->raw_info = stored_cstring(raw, one->t->rw[2]);
	fetch_applied(one->t, kc);
	apply_event(one->batch, kc, &one->batch->events[0]);
	if (!kc->rewritten)
		return false;
	raw_info_new_version(one->t, kc);
	return true;
}

static void
apply_single_event(PremiumBatch *batch, PremiumTables *t)
{
	SingleEvent one = {.batch = batch, .t = t};
	bool		found;

	one.kc.id = batch->events[0].id;
	isx_direct_next_command(t->estate);
	isx_state_new_row(&t->raw);
	isx_state_set(&t->raw, t->rw[0], Int64GetDatum(one.kc.id), false);
	batch->defer_alerts = true;
	found = isx_state_update_latest(&t->raw, decide_single_event, &one);
	batch->defer_alerts = false;
	/* not a key customer (any more, after a retry), or nothing to apply */
	if (!found || !one.kc.rewritten)
		return;
	isx_direct_next_command(t->estate);
	write_key_customer(t, &one.kc);
	if (one.kc.alerted)
		send_alert(batch->settings, &one.kc, one.kc.alert_seq);
}

static void
flush_events(PremiumBatch *batch)
{
	MemoryContext oldcxt;
	PremiumTables tables;
	HTAB	   *customers;
	EventRef   *refs;
	KeyCustomer **kcs;
	int64	   *ids;
	int			nids;

	if (batch->nevents == 0)
		return;
	oldcxt = MemoryContextSwitchTo(batch->chunkcxt);
	open_premium_tables(&tables);
	if (batch->nevents == 1 && raw_info_direct(&tables.raw, tables.rw))
	{
		apply_single_event(batch, &tables);
		close_premium_tables(&tables);
		MemoryContextSwitchTo(oldcxt);
		new_premium_chunk(batch);
		return;
	}
	refs = palloc(sizeof(EventRef) * batch->nevents);
	customers = lock_key_customers(batch, &tables, refs, &ids, &nids);
	kcs = event_customers(batch, customers, refs);
	pfree(refs);
	for (int i = 0; i < batch->nevents; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (i + PREFETCH_AHEAD < batch->nevents && kcs[i + PREFETCH_AHEAD] != NULL)
			prefetch(kcs[i + PREFETCH_AHEAD]);
		if (kcs[i] != NULL)
			apply_event(batch, kcs[i], &batch->events[i]);
	}
	pfree(kcs);
	rewrite_raw_info(&tables, customers, ids, nids);
	for_each_rewritten(&tables, customers, ids, nids, write_key_customer);
	close_premium_tables(&tables);
	MemoryContextSwitchTo(oldcxt);
	new_premium_chunk(batch);
}

static char *
slot_cstring(TupleTableSlot *slot, int attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static bool
saved_event(IsxSettings *settings, const char *event)
{
	ListCell   *lc;

	if (settings->saved_events == NIL)
		return true;
	if (event == NULL)
		return false;
	foreach(lc, settings->saved_events)
		if (strcmp((char *) lfirst(lc), event) == 0)
			return true;
	return false;
}

/* an empty chunk of the statement's policy changes */
static void *
begin_premium(IsxStatement *stmt)
{
	PremiumBatch *batch = palloc0(sizeof(PremiumBatch));

	batch->settings = stmt->settings;
	batch->att = stmt->att;
	batch->chunkcxt = AllocSetContextCreate(stmt->cxt, "insure_stream premium chunk",
											ALLOCSET_DEFAULT_SIZES);
	batch->eventcxt = AllocSetContextCreate(stmt->cxt, "insure_stream premium event",
											ALLOCSET_SMALL_SIZES);
	new_premium_chunk(batch);
	batch->keep_factor = DirectFunctionCall2(numeric_sub, premium_numeric("1"),
											 premium_numeric(batch->settings->drop_threshold));
	parse_premium(DatumGetCString(DirectFunctionCall1(numeric_out, batch->keep_factor)),
				  &batch->keep_small);
	return batch;
}

/* bad input: a premium that is no decimal, an event time beyond max_future */
static bool
validate_premium(IsxStatement *stmt, TupleTableSlot *slot, IsxBadInput *bad)
{
	PremiumBatch *batch = stmt->fold;
	char	   *premium = slot_cstring(slot, stmt->att[UI_NOW_PREMIUM]);
	int64		gmt;

	batch->row_premium = premium;
	if (premium != NULL && !parse_premium(premium, NULL))
		return isx_bad_input(bad, ERRCODE_INVALID_TEXT_REPRESENTATION, "invalid premium",
							 UI_NOW_PREMIUM, premium);
	if (isx_slot_int64(slot, stmt->att[UI_GMT_MODIFIED], &gmt) &&
		gmt > stmt->settings->now_ms + stmt->settings->max_future_ms)
		return isx_bad_input(bad, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE,
							 "event time too far in the future", UI_GMT_MODIFIED,
							 psprintf(INT64_FORMAT, gmt));
	return true;
}

/*
 * Keeps a valid event of a key customer with a premium (and a saved event
 * type) for the chunk, in arrival order; a chunk past isx_fold_budget() is
 * applied at once (a round), and a new one begins.
 */
static void
fold_premium(IsxStatement *stmt, TupleTableSlot *slot, int64 seq)
{
	PremiumBatch *batch = stmt->fold;
	PendingEvent *ev;
	int64		id;

	if (!isx_slot_int64(slot, stmt->att[UI_ID], &id) || batch->row_premium == NULL ||
		!saved_event(batch->settings, slot_cstring(slot, stmt->att[UI_EVENT])))
		return;
	if (batch->nevents == batch->maxevents)
	{
		batch->maxevents *= 2;
		batch->events = repalloc(batch->events, sizeof(PendingEvent) * batch->maxevents);
	}
	ev = &batch->events[batch->nevents++];
	ev->id = id;
	ev->seq = seq;
	ev->now_premium = keep_text(batch, batch->row_premium);
	ev->now_info = slot_cstring(slot, stmt->att[UI_NOW_INFO]);
	if (ev->now_info)
		ev->now_info = keep_text(batch, ev->now_info);
	/* each key customer is written once per chunk: make chunks big */
	if ((batch->nevents % 1024) == 0 &&
		MemoryContextMemAllocated(batch->chunkcxt, true) > isx_fold_budget())
		flush_events(batch);
}

static void
flush_premium(IsxStatement *stmt)
{
	flush_events(stmt->fold);
}

static const IsxScenario premium_alerts = {
	.trigger = "update_info_apply",
	.table = ISX_TABLE_UPDATE_INFO,
	.columns = ui_names,
	.ncolumns = NUM_UI_COLS,
	.label_column = UI_ID,
	.begin = begin_premium,
	.validate = validate_premium,
	.fold = fold_premium,
	.flush = flush_premium,
};

PG_FUNCTION_INFO_V1(insure_stream_update_info_apply);

/* AFTER INSERT ON update_info REFERENCING NEW TABLE FOR EACH STATEMENT */
Datum
insure_stream_update_info_apply(PG_FUNCTION_ARGS)
{
	return isx_apply_statement(fcinfo, &premium_alerts);
}

PG_FUNCTION_INFO_V1(insure_stream_raw_info_check);

/* BEFORE INSERT OR UPDATE ON raw_info FOR EACH ROW: raw_premium is a decimal */
Datum
insure_stream_raw_info_check(PG_FUNCTION_ARGS)
{
	static const IsxTriggerSpec spec = {
		.funcname = "raw_info_check",
		.timing = TRIGGER_EVENT_BEFORE,
		.for_row = true,
		.events = ISX_ON_INSERT | ISX_ON_UPDATE,
		.new_table = false,
		.tables = ISX_TABLE(ISX_TABLE_RAW_INFO),
	};
	TriggerData *trigdata = isx_check_trigger(fcinfo, &spec);
	HeapTuple	tuple;
	TupleDesc	desc;
	char	   *premium;

	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	if (rewriting_raw_info)
		return PointerGetDatum(tuple);
	desc = RelationGetDescr(trigdata->tg_relation);
	premium = SPI_getvalue(tuple, desc, isx_column_number(desc, "raw_info", "raw_premium"));
	if (premium != NULL && !parse_premium(premium, NULL))
	{
		/* the id as its column's type prints it */
		char	   *id = SPI_getvalue(tuple, desc, isx_column_number(desc, "raw_info", "id"));

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid premium \"%s\" in column \"%s\" of table \"%s\"",
						premium, "raw_premium", "raw_info"),
				 errdetail("The key customer with id %s was not written.",
						   id != NULL ? id : "NULL"),
				 errhint("A premium is a finite decimal number such as \"1200.50\".")));
	}
	return PointerGetDatum(tuple);
}
