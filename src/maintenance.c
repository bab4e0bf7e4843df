/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *		Retention of event rows: the only way rows leave an event table,
 *		past the guard trigger that refuses UPDATE and DELETE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "insure_stream.h"

/* the event tables and the column holding their event time */
static const char *const event_tables[][2] = {
	{"user_order", "gmt_modified"},
	{"update_info", "gmt_modified"},
	{"user_log", "log_time"},
};

PG_FUNCTION_INFO_V1(insure_stream_purge_event_rows);

/*
 * purge_event_rows(table_name, before_ms, before_ts): deletes the rows of
 * one event table whose event time is before before_ms, or that have no
 * event time and were ingested before before_ts.  Returns the rows removed.
 */
Datum
insure_stream_purge_event_rows(PG_FUNCTION_ARGS)
{
	char	   *table = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		before_ms = PG_GETARG_INT64(1);
	TimestampTz before_ts = PG_GETARG_TIMESTAMPTZ(2);
	const char *time_column = NULL;
	StringInfoData query;
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		args[2];
	uint64		removed = 0;

	for (int i = 0; i < (int) lengthof(event_tables); i++)
		if (strcmp(table, event_tables[i][0]) == 0)
			time_column = event_tables[i][1];
	if (time_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not an event table of insure_stream", table)));

	initStringInfo(&query);
	appendStringInfo(&query,
					 "DELETE FROM insure_stream.%s"
					 " WHERE %s OPERATOR(pg_catalog.<) $1"
					 "    OR (%s IS NULL AND ingested_at OPERATOR(pg_catalog.<) $2)",
					 quote_identifier(table), quote_identifier(time_column),
					 quote_identifier(time_column));
	args[0] = Int64GetDatum(before_ms);
	args[1] = TimestampTzGetDatum(before_ts);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	isx_purge_in_progress = true;
	PG_TRY();
	{
		if (SPI_execute_with_args(query.data, 2, types, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not purge events of \"%s\"", table);
		removed = SPI_processed;
	}
	PG_FINALLY();
	{
		isx_purge_in_progress = false;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_INT64((int64) removed);
}
