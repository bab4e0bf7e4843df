/*-------------------------------------------------------------------------
 *
 * trigger.h
 *		How the extension's C triggers must be called, and the columns of
 *		its own tables (trigger.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_TRIGGER_H
#define INSURE_STREAM_TRIGGER_H

#include "commands/trigger.h"
#include "executor/tuptable.h"
#include "fmgr.h"

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
extern int64 isx_last_seq_drawn(Relation rel);

/* keys written per slice when a fold is flushed (bounds a slice's memory) */
#define ISX_FLUSH_SLICE 16384

extern Size isx_fold_budget(void);

#endif							/* INSURE_STREAM_TRIGGER_H */
