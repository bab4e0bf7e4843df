/*-------------------------------------------------------------------------
 *
 * rejects.c
 *		Bad input in an event row: with on_bad_input = error the statement
 *		fails, with quarantine the row goes to rejected_events.  And the
 *		checks and excerpts of text values that bad-input messages share.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "rejects.h"
#include "shards.h"
#include "spi_plans.h"

/*
 * Bad input in an event row.  With on_bad_input = error the statement fails
 * (nothing it did survives); with quarantine the row is recorded in
 * rejected_events with its reason and a WARNING is raised.
 *
 * problem is the start of the message, e.g. "invalid premium"; row_label
 * identifies the row for people, e.g. "id 42".
 */
void
isx_reject_event(bool quarantine, Relation rel, TupleTableSlot *slot,
				 int64 ingest_seq, int sqlstate, const char *problem,
				 const char *column, const char *value, const char *row_label)
{
	static SPIPlanPtr plan = NULL;
	const char *table = isx_logical_name(rel);
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	if (!quarantine)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("%s \"%s\" in column \"%s\" of table \"%s\"",
						problem, value, column, table),
				 errdetail("The event with %s (ingest_seq %lld) was not applied; the statement changed nothing.",
						   row_label, (long long) ingest_seq),
				 errhint("Fix the event, or set on_bad_input to \"quarantine\" with insure_stream.configure() to keep loading.")));

	if (plan == NULL)
	{
		Oid			types[7] = {TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, JSONBOID};

		plan = isx_prepare_kept_plan("INSERT INTO insure_stream.rejected_events"
									 " (table_name, ingest_seq, column_name, bad_value, reason, sqlstate, event)"
									 " VALUES ($1, $2, $3, $4, $5, $6, $7)",
									 7, types);
	}
	args[0] = CStringGetTextDatum(table);
	args[1] = Int64GetDatum(ingest_seq);
	args[2] = CStringGetTextDatum(column);
	args[3] = CStringGetTextDatum(value);
	args[4] = CStringGetTextDatum(problem);
	args[5] = CStringGetTextDatum(unpack_sql_state(sqlstate));
	/* row_to_json reads the row type from the datum itself */
	args[6] = DirectFunctionCall1(jsonb_in,
								  CStringGetDatum(TextDatumGetCString(DirectFunctionCall1(row_to_json,
																						  ExecFetchSlotHeapTupleDatum(slot)))));
	if (isx_execute_plan(plan, args, nulls, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not record a rejected event");

	ereport(WARNING,
			(errcode(sqlstate),
			 errmsg("%s \"%s\" in column \"%s\" of table \"%s\"",
					problem, value, column, table),
			 errdetail("The event with %s (ingest_seq %lld) was quarantined in insure_stream.rejected_events.",
					   row_label, (long long) ingest_seq)));
}

/* a non-null text value too long to be part of a result's key */
bool
isx_key_too_long(Datum value)
{
	return toast_raw_datum_size(value) - VARHDRSZ > ISX_MAX_KEY_BYTES;
}

/*
 * The start of a string for messages, cut at a character boundary (a cut
 * inside a multibyte character would make the message invalid in the
 * server encoding, and its conversion to the client's would fail in place
 * of the message).
 */
static char *
string_start(const char *s, int bytes)
{
	int			len = (int) strlen(s);
	int			clip = pg_mbcliplen(s, len, bytes);

	return psprintf("%.*s%s", clip, s, clip < len ? "..." : "");
}

/* the start of a text value for messages */
char *
isx_text_start(Datum value, int bytes)
{
	return string_start(TextDatumGetCString(value), bytes);
}

/* "id 42", "account_id acc1": a row named by a column, for people */
char *
isx_row_label(TupleTableSlot *slot, int attnum, const char *column)
{
	bool		isnull;
	Datum		value = slot_getattr(slot, attnum, &isnull);
	Oid			output;
	bool		varlena;

	if (isnull)
		return psprintf("%s NULL", column);
	getTypeOutputInfo(TupleDescAttr(slot->tts_tupleDescriptor, attnum - 1)->atttypid,
					  &output, &varlena);
	return psprintf("%s %s", column, string_start(OidOutputFunctionCall(output, value), 64));
}
