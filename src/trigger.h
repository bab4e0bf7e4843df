/*-------------------------------------------------------------------------
 *
 * trigger.h
 *		How the extension's C triggers must be called, and the driver of
 *		the event tables' statement triggers (trigger.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_TRIGGER_H
#define INSURE_STREAM_TRIGGER_H

#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"

#include "config.h"

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

extern TriggerData *isx_check_trigger(FunctionCallInfo fcinfo, const IsxTriggerSpec *spec);
extern Relation isx_check_statement_trigger(FunctionCallInfo fcinfo, const char *funcname,
											IsxOwnTable table);
extern Oid	isx_own_table_oid(IsxOwnTable table);
extern int	isx_column_number(TupleDesc desc, const char *table, const char *column);
extern bool isx_slot_int64(TupleTableSlot *slot, int attnum, int64 *value);

/*
 * The statement-trigger driver.  The event tables' triggers (AFTER INSERT
 * ... REFERENCING NEW TABLE FOR EACH STATEMENT) all run one way: check how
 * they were fired, bind the columns they read, connect SPI, read the
 * settings, go through the transition table row by row (each row in a
 * context reset after it), set a row with bad input aside (an error, or
 * quarantine), fold the others, and write what they folded.  A scenario
 * gives its table, its columns and four callbacks.
 */
#define ISX_MAX_COLUMNS 8

/* what is wrong with a row (see IsxScenario.validate) */
typedef struct IsxBadInput
{
	int			sqlstate;		/* class 22 */
	const char *problem;		/* the message's start, e.g. "invalid premium" */
	int			column;			/* index of the column in IsxScenario.columns */
	const char *value;			/* the value as a person reads it */
} IsxBadInput;

/* sets *bad, for a validate callback: return isx_bad_input(bad, ...) */
static inline bool
isx_bad_input(IsxBadInput *bad, int sqlstate, const char *problem, int column,
			  const char *value)
{
	bad->sqlstate = sqlstate;
	bad->problem = problem;
	bad->column = column;
	bad->value = value;
	return false;
}

/* one statement of a trigger (or of a function that folds like one) */
typedef struct IsxStatement
{
	Relation	rel;			/* the event table; NULL outside a trigger */
	IsxSettings *settings;		/* as the statement's snapshot sees them */
	MemoryContext cxt;			/* the statement's, freed at its end */
	int			att[ISX_MAX_COLUMNS];	/* attribute numbers of the columns */
	void	   *fold;			/* the scenario's, from begin */
	int64		shard;			/* Citus shard of rel, 0 for the table itself */
	int64		outer_shard;	/* of the statement around it (shards.c) */
} IsxStatement;

typedef struct IsxScenario
{
	const char *trigger;		/* name of the trigger function, for messages */
	IsxOwnTable table;			/* the event table it is made for */
	const char *const *columns; /* the columns the callbacks read (bind) */
	int			ncolumns;
	int			label_column;	/* names a rejected row: "id 42" */
	/* sets up the statement's fold in stmt->cxt (the current context) */
	void	   *(*begin) (IsxStatement *stmt);
	/* false, with *bad filled in, for a row with bad input */
	bool		(*validate) (IsxStatement *stmt, TupleTableSlot *slot, IsxBadInput *bad);
	/* folds a valid row (it may filter it), right after its validate */
	void		(*fold) (IsxStatement *stmt, TupleTableSlot *slot, int64 ingest_seq);
	/* writes what the statement folded */
	void		(*flush) (IsxStatement *stmt);
} IsxScenario;

extern Datum isx_apply_statement(FunctionCallInfo fcinfo, const IsxScenario *scenario);
extern void isx_statement_begin(IsxStatement *stmt, Relation rel, int64 shard);
extern void isx_statement_end(IsxStatement *stmt);

/* keys written per slice when a fold is flushed (bounds a slice's memory) */
#define ISX_FLUSH_SLICE 16384

/*
 * Asks for addr to be brought into the cache: a fold of a large statement
 * reaches its memory at random, one cache miss a row unless the miss is
 * overlapped with other rows' work.
 */
#ifdef __GNUC__
#define isx_prefetch(addr) __builtin_prefetch(addr)
#else
#define isx_prefetch(addr) ((void) (addr))
#endif
/* how many rows ahead a fold prefetches */
#define ISX_PREFETCH_AHEAD 8

extern Size isx_fold_budget(void);

#endif							/* INSURE_STREAM_TRIGGER_H */
