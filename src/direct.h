/*-------------------------------------------------------------------------
 *
 * direct.h
 *		Direct access to the extension's state tables (direct.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_DIRECT_H
#define INSURE_STREAM_DIRECT_H

#include "access/heapam.h"
#include "nodes/execnodes.h"

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
	int64		keys_seen;		/* keys passed to isx_state_merge_or_insert */
	int64		keys_stored;	/* of which already stored */
	uint32		spec_token;		/* speculative insertion token held, or 0 */
	BulkInsertState bulk;		/* once a statement inserts many rows, or NULL */
} IsxStateTable;

/* fills st->row for isx_state_merge_or_insert: the key only, or a whole new row */
typedef void (*IsxRowFill) (IsxStateTable *st, void *arg, bool whole);

extern EState *isx_direct_begin(void);
extern void isx_direct_end(EState *estate, IsxStateTable *const *tables, int ntables);
extern void isx_direct_next_command(EState *estate);
extern void isx_state_open(IsxStateTable *st, const char *name, EState *estate,
						   const char *const *columns, int ncolumns, int *positions);
extern TupleTableSlot *isx_state_new_row(IsxStateTable *st);
extern void isx_state_set(IsxStateTable *st, int column, Datum value, bool isnull);
extern bool isx_state_lock(IsxStateTable *st);
extern bool isx_state_fetch(IsxStateTable *st);
extern bool isx_state_update_latest(IsxStateTable *st,
									bool (*decide) (IsxStateTable *st, void *arg), void *arg);
extern void isx_state_merge_or_insert(IsxStateTable *st, IsxRowFill fill,
									  bool (*decide) (IsxStateTable *st, void *arg), void *arg);
extern void isx_state_write(IsxStateTable *st, ItemPointer tid);
extern void isx_state_set_ordering(IsxStateTable *st, int at_column, int seq_column, int64 at,
								   int64 seq, bool absent, bool shorten, int64 row_at, int64 row_seq);
extern void isx_stored_ordering(IsxStateTable *st, int at_column, int seq_column, int64 row_at,
								int64 row_seq, int64 *at, int64 *seq);
extern text *isx_stored_text(IsxStateTable *st, int column);

#endif							/* INSURE_STREAM_DIRECT_H */
