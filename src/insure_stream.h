/*-------------------------------------------------------------------------
 *
 * insure_stream.h
 *		Shared declarations of the insure_stream extension.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_H
#define INSURE_STREAM_H

#include "pgtime.h"
#include "access/tupdesc.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/tuplesort.h"
#include "utils/tuplestore.h"

#include "compat.h"

/* The most a trigger folds in memory before it writes or spills (see is_fold_bytes) */
#define IS_CHUNK_BYTES ((Size) 64 * 1024 * 1024)
/* Keys written per slice when a fold is flushed (bounds a slice's memory) */
#define IS_FLUSH_SLICE 16384

/* config.c: the effective settings, read once per statement */
typedef struct IsSettings
{
	char	   *time_zone;		/* name, as configured */
	pg_tz	   *tz;				/* resolved zone */
	char	   *drop_threshold; /* canonical numeric text */
	bool		window_day;		/* order_window = day */
	List	   *saved_events;	/* list of char *, empty = all */
	int64		max_future_ms;	/* how far past now() an event time may lie */
	bool		quarantine;		/* on_bad_input = quarantine */
	bool		notify_alert_data;	/* notify_payload = alert */
	int64		now_ms;			/* now() as epoch milliseconds */
	int64		today_start_ms; /* start of now()'s local day, epoch ms */
} IsSettings;

extern IsSettings *is_settings_load(MemoryContext cxt);
extern void is_settings_register_invalidation(void);
extern pg_tz *is_configured_zone(void);
extern pg_tz *is_zone_lookup(const char *name);
extern char *is_format_duration(int64 us);
extern int64 is_timestamptz_to_ms(TimestampTz ts);
extern int64 is_day_start_ms(int64 epoch_ms, pg_tz *tz);
extern void is_local_time(int64 epoch_ms, pg_tz *tz, struct pg_tm *tm);

/* events.c: helpers shared by the event-table triggers */

/* the extension's own tables that its C triggers serve */
typedef enum IsOwnTable
{
	IS_TABLE_CONFIG,
	IS_TABLE_USER_ORDER,
	IS_TABLE_UPDATE_INFO,
	IS_TABLE_USER_LOG,
	IS_TABLE_RAW_INFO
} IsOwnTable;
#define IS_NUM_OWN_TABLES 5
#define IS_TABLE(t) (1U << (t))

/* the operations a trigger serves, a bit per TRIGGER_EVENT_* operation */
#define IS_ON_INSERT (1U << TRIGGER_EVENT_INSERT)
#define IS_ON_DELETE (1U << TRIGGER_EVENT_DELETE)
#define IS_ON_UPDATE (1U << TRIGGER_EVENT_UPDATE)
#define IS_ON_TRUNCATE (1U << TRIGGER_EVENT_TRUNCATE)

/* how a C trigger function must be fired (see is_check_trigger) */
typedef struct IsTriggerSpec
{
	const char *funcname;		/* for messages */
	TriggerEvent timing;		/* TRIGGER_EVENT_BEFORE or TRIGGER_EVENT_AFTER */
	bool		for_row;		/* FOR EACH ROW, else FOR EACH STATEMENT */
	uint32		events;			/* IS_ON_* */
	bool		new_table;		/* needs REFERENCING NEW TABLE */
	uint32		tables;			/* IS_TABLE(IsOwnTable) of the tables it serves */
} IsTriggerSpec;

extern void is_check_trigger_call(FunctionCallInfo fcinfo, const char *funcname);
extern Oid	is_own_table_oid(IsOwnTable table);
extern TriggerData *is_check_trigger(FunctionCallInfo fcinfo, const IsTriggerSpec *spec);
extern Relation is_check_statement_trigger(FunctionCallInfo fcinfo, const char *funcname,
										   IsOwnTable table);
extern int64 is_seq_drawn_here(Relation rel);
extern void is_reject_event(const IsSettings *settings, Relation rel,
							TupleTableSlot *slot, int64 ingest_seq,
							int sqlstate, const char *problem,
							const char *column, const char *value,
							const char *row_label);
extern SPIPlanPtr is_prepare_kept(const char *query, int nargs, Oid *argtypes);

/*
 * Text that becomes part of a result's btree key (order_no, customer_tel,
 * account_id, device_id) must fit a btree entry (2704 bytes, two such
 * values in page_state's key) whatever its compressibility: longer values
 * are bad input (SQLSTATE 22001).
 */
#define IS_MAX_KEY_BYTES 1024
#define IS_KEY_TOO_LONG "value too long for a key (more than " CppAsString2(IS_MAX_KEY_BYTES) " bytes)"
extern bool is_key_too_long(Datum value);
extern char *is_text_start(Datum value, int bytes);

/* fetch memory into the cache ahead of use; a no-op without the builtin */
#if defined(__GNUC__) || defined(__clang__)
#define is_prefetch(addr) __builtin_prefetch(addr)
#else
#define is_prefetch(addr) ((void) 0)
#endif

/* batches up to this many keys run with a generic plan (see is_batch_plan) */
#define IS_SMALL_BATCH 64
typedef struct IsBatchPlan
{
	SPIPlanPtr	small;
	SPIPlanPtr	large;
} IsBatchPlan;
extern SPIPlanPtr is_batch_plan(IsBatchPlan *plans, const char *query, int nargs,
								Oid *argtypes, int batch_size);
extern Size is_fold_bytes(void);

/* events.c: a fold spilled to a sort */
typedef struct IsSpill
{
	Tuplesortstate *sort;		/* NULL: nothing spilled */
	TupleTableSlot *row;		/* to write */
	TupleTableSlot *read;		/* to read back */
	bool		sorted;
} IsSpill;

extern void is_spill_begin(IsSpill *spill, MemoryContext cxt, const Oid *types, int ncols,
						   const Oid *sort_ops, const Oid *collations, int nsort);
extern TupleTableSlot *is_spill_row(IsSpill *spill);
extern void is_spill_put(IsSpill *spill);
extern TupleTableSlot *is_spill_next(IsSpill *spill);
extern void is_spill_end(IsSpill *spill);
extern int	is_execute(SPIPlanPtr plan, Datum *args, const char *nulls, long count);
extern int	is_column_number(TupleDesc desc, const char *table, const char *column);
extern bool is_slot_int64(TupleTableSlot *slot, int attnum, int64 *value);
extern bool is_purge_in_progress;

/* arrays.c: column arrays for set-based SQL */
typedef struct IsArray
{
	Oid			elemtype;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			count;
	int			capacity;
	Datum	   *values;
	bool	   *nulls;
} IsArray;

extern void is_array_init(IsArray *arr, Oid elemtype);
extern void is_array_push(IsArray *arr, Datum value, bool isnull);
extern Datum is_array_datum(IsArray *arr);

/* direct.c: direct access to the state tables */
typedef struct IsStateTable
{
	const char *name;
	EState	   *estate;
	Relation	rel;
	ResultRelInfo *rri;
	Relation	pkey;			/* among rri's open indexes */
	int			nkeys;			/* its columns: */
	AttrNumber	key_atts[INDEX_MAX_KEYS];	/* in the table */
	RegProcedure key_procs[INDEX_MAX_KEYS]; /* equality */
	TupleTableSlot *stored;		/* a row as stored (found and locked) */
	TupleTableSlot *row;		/* a row to search for or to write */
	int64		keys_seen;		/* keys passed to is_state_lock_or_insert */
	int64		keys_stored;	/* of which already stored */
	uint32		spec_token;		/* speculative insertion token held, or 0 */
} IsStateTable;

/* fills st->row for is_state_lock_or_insert: the key only, or a whole new row */
typedef void (*IsRowFill) (IsStateTable *st, void *arg, bool whole);

extern EState *is_direct_begin(void);
extern void is_direct_end(EState *estate, IsStateTable *const *tables, int ntables);
extern void is_direct_next_command(EState *estate);
extern void is_state_open(IsStateTable *st, const char *name, EState *estate,
						  const char *const *columns, int ncolumns, int *positions);
extern TupleTableSlot *is_state_row(IsStateTable *st);
extern bool is_state_lock(IsStateTable *st);
extern bool is_state_fetch(IsStateTable *st);
extern bool is_state_insert_new(IsStateTable *st);
extern void is_state_end_inserts(IsStateTable *st);
extern bool is_state_lock_or_insert(IsStateTable *st, IsRowFill fill, void *arg);
extern void is_state_write(IsStateTable *st, ItemPointer tid);
extern text *is_stored_text(IsStateTable *st, int column);
extern void is_row_set(IsStateTable *st, int column, Datum value, bool isnull);

#endif							/* INSURE_STREAM_H */
