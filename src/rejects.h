/*-------------------------------------------------------------------------
 *
 * rejects.h
 *		Bad input in an event row: an error, or the row quarantined
 *		(rejects.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_REJECTS_H
#define INSURE_STREAM_REJECTS_H

#include "executor/tuptable.h"
#include "utils/relcache.h"

/*
 * Text that becomes part of a result's btree key (order_no, customer_tel,
 * account_id, device_id) must fit a btree entry (2704 bytes, two such
 * values in page_state's key) whatever its compressibility: longer values
 * are bad input (SQLSTATE 22001).
 */
#define ISX_MAX_KEY_BYTES 1024
#define ISX_KEY_TOO_LONG "value too long for a key (more than " CppAsString2(ISX_MAX_KEY_BYTES) " bytes)"

extern void isx_reject_event(bool quarantine, Relation rel, TupleTableSlot *slot,
							 int64 ingest_seq, int sqlstate, const char *problem,
							 const char *column, const char *value,
							 const char *row_label);
extern bool isx_key_too_long(Datum value);
extern char *isx_text_start(Datum value, int bytes);
extern char *isx_row_label(TupleTableSlot *slot, int attnum, const char *column);

#endif							/* INSURE_STREAM_REJECTS_H */
