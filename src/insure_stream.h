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

/* The most a trigger folds in memory before it writes or spills (see isx_fold_budget) */
#define ISX_FOLD_MAX_BYTES ((Size) 64 * 1024 * 1024)
/* Keys written per slice when a fold is flushed (bounds a slice's memory) */
#define ISX_FLUSH_SLICE 16384

/* config.c: the effective settings, read once per statement */
typedef struct IsxSettings
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
} IsxSettings;

extern IsxSettings *isx_load_settings(MemoryContext cxt);
extern void isx_register_settings_callbacks(void);
extern pg_tz *isx_configured_zone(void);
extern pg_tz *isx_lookup_zone(const char *name);
extern char *isx_format_duration(int64 us);
extern int64 isx_timestamptz_to_ms(TimestampTz ts);
extern int64 isx_day_start_ms(int64 epoch_ms, pg_tz *tz);
extern void isx_local_time(int64 epoch_ms, pg_tz *tz, struct pg_tm *tm);

/* events.c: helpers shared by the event-table triggers */

/* the extension's own tables that its C triggers serve */
typedef enum IsxOwnTable
{
	ISX_TABLE_CONFIG,
	ISX_TABLE_USER_ORDER,
	ISX_TABLE_UPDATE_INFO,
	ISX_TABLE_USER_LOG,
	ISX_TABLE_RAW_INFO
} IsxOwnTable;
#define ISX_NUM_OWN_TABLES 5
#define ISX_TABLE(t) (1U << (t))

/* the operations a trigger serves, a bit per TRIGGER_EVENT_* operation */
#define ISX_ON_INSERT (1U << TRIGGER_EVENT_INSERT)
#define ISX_ON_DELETE (1U << TRIGGER_EVENT_DELETE)
#define ISX_ON_UPDATE (1U << TRIGGER_EVENT_UPDATE)
#define ISX_ON_TRUNCATE (1U << TRIGGER_EVENT_TRUNCATE)

/* how a C trigger function must be fired (see isx_check_trigger) */
typedef struct IsxTriggerSpec
{
	const char *funcname;		/* for messages */
	TriggerEvent timing;		/* TRIGGER_EVENT_BEFORE or TRIGGER_EVENT_AFTER */
	bool		for_row;		/* FOR EACH ROW, else FOR EACH STATEMENT */
	uint32		events;			/* ISX_ON_* */
	bool		new_table;		/* needs REFERENCING NEW TABLE */
	uint32		tables;			/* ISX_TABLE(IsxOwnTable) of the tables it serves */
} IsxTriggerSpec;

extern void isx_check_trigger_call(FunctionCallInfo fcinfo, const char *funcname);
extern Oid	isx_own_table_oid(IsxOwnTable table);
extern TriggerData *isx_check_trigger(FunctionCallInfo fcinfo, const IsxTriggerSpec *spec);
extern Relation isx_check_statement_trigger(FunctionCallInfo fcinfo, const char *funcname,
										   IsxOwnTable table);
extern int64 isx_last_seq_drawn(Relation rel);
extern void isx_reject_event(const IsxSettings *settings, Relation rel,
							TupleTableSlot *slot, int64 ingest_seq,
							int sqlstate, const char *problem,
							const char *column, const char *value,
							const char *row_label);
extern SPIPlanPtr isx_prepare_kept_plan(const char *query, int nargs, Oid *argtypes);

/*
 * Text that becomes part of a result's btree key (order_no, customer_tel,
 * account_id, device_id) must fit a btree entry (2704 bytes, two such
 * values in page_state's key) whatever its compressibility: longer values
 * are bad input (SQLSTATE 22001).
 */
#define ISX_MAX_KEY_BYTES 1024
#define ISX_KEY_TOO_LONG "value too long for a key (more than " CppAsString2(ISX_MAX_KEY_BYTES) " bytes)"
extern bool isx_key_too_long(Datum value);
extern char *isx_text_start(Datum value, int bytes);

/* fetch memory into the cache ahead of use; a no-op without the builtin */
#if defined(__GNUC__) || defined(__clang__)
#define prefetch(addr) __builtin_prefetch(addr)
#else
#define prefetch(addr) ((void) 0)
#endif

/* batches up to this many keys run with a generic plan (see isx_plan_for_batch) */
#define ISX_SMALL_BATCH 64
typedef struct IsxBatchPlans
{
	SPIPlanPtr	small;
	SPIPlanPtr	large;
} IsxBatchPlans;
extern SPIPlanPtr isx_plan_for_batch(IsxBatchPlans *plans, const char *query, int nargs,
								Oid *argtypes, int batch_size);
extern Size isx_fold_budget(void);

/* events.c: a fold spilled to a sort */
typedef struct IsxSpill
{
	Tuplesortstate *sort;		/* NULL: nothing spilled */
	TupleTableSlot *row;		/* to write */
	TupleTableSlot *read;		/* to read back */
	bool		sorted;
} IsxSpill;

extern void isx_spill_begin(IsxSpill *spill, MemoryContext cxt, const Oid *types, int ncols,
						   const Oid *sort_ops, const Oid *collations, int nsort);
extern TupleTableSlot *isx_spill_new_row(IsxSpill *spill);
extern void isx_spill_write(IsxSpill *spill);
extern TupleTableSlot *isx_spill_read(IsxSpill *spill);
extern void isx_spill_end(IsxSpill *spill);
extern int	isx_execute_plan(SPIPlanPtr plan, Datum *args, const char *nulls, long count);
extern int	isx_column_number(TupleDesc desc, const char *table, const char *column);
extern bool is_slot_int64(TupleTableSlot *slot, int attnum, int64 *value);
extern bool isx_purge_in_progress;

/* arrays.c: column arrays for set-based SQL */
typedef struct IsxArray
{
	Oid			elemtype;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			count;
	int			capacity;
	Datum	   *values;
	bool	   *nulls;
} IsxArray;

extern void isx_array_init(IsxArray *arr, Oid elemtype);
extern void isx_array_push(IsxArray *arr, Datum value, bool isnull);
extern Datum isx_array_to_datum(IsxArray *arr);

/* direct.c: direct access to the state tables */
typedef struct IsxStateTable
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
	int64		keys_seen;		/* keys passed to isx_state_lock_or_insert */
	int64		keys_stored;	/* of which already stored */
	uint32		spec_token;		/* speculative insertion token held, or 0 */
} IsxStateTable;

/* fills st->row for isx_state_lock_or_insert: the key only, or a whole new row */
typedef void (*IsxRowFill) (IsxStateTable *st, void *arg, bool whole);

extern EState *isx_direct_begin(void);
extern void isx_direct_end(EState *estate, IsxStateTable *const *tables, int ntables);
extern void isx_direct_next_command(EState *estate);
extern void isx_state_open(IsxStateTable *st, const char *name, EState *estate,
						  const char *const *columns, int ncolumns, int *positions);
extern TupleTableSlot *isx_state_new_row(IsxStateTable *st);
extern bool isx_state_lock(IsxStateTable *st);
extern bool isx_state_fetch(IsxStateTable *st);
extern bool isx_state_insert_new(IsxStateTable *st);
extern void isx_state_end_inserts(IsxStateTable *st);
extern bool isx_state_lock_or_insert(IsxStateTable *st, IsxRowFill fill, void *arg);
extern void isx_state_write(IsxStateTable *st, ItemPointer tid);
extern text *isx_stored_text(IsxStateTable *st, int column);
extern void isx_state_set(IsxStateTable *st, int column, Datum value, bool isnull);

#endif							/* INSURE_STREAM_H */
