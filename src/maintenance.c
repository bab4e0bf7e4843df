/*-------------------------------------------------------------------------
 *
 * maintenance.c
 *		Event tables are logs: a guard trigger refuses UPDATE and DELETE,
 *		and retention (purge_event_rows) is the only way rows leave them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "shards.h"
#include "trigger.h"

/* the event tables and the column holding their event time */
static const char *const event_tables[][2] = {
	{"user_order", "gmt_modified"},
	{"update_info", "gmt_modified"},
	{"user_log", "log_time"},
};

/* true while purge_event_rows() deletes from an event table */
static bool purge_in_progress = false;

/* is insure_stream.<name> a Citus shard of the event table? (purge_event_shards() on a worker) */
static bool
is_shard_of(const char *name, IsxOwnTable table)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("insure_stream", false));
	Relation	rel;
	bool		shard;

	if (!OidIsValid(relid))
		return false;
	rel = relation_open(relid, AccessShareLock);
	shard = isx_shard_of(rel, isx_own_table_oid(table)) != 0;
	relation_close(rel, AccessShareLock);
	return shard;
}

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
		if (strcmp(table, event_tables[i][0]) == 0 || is_shard_of(table, (IsxOwnTable) (ISX_TABLE_USER_ORDER + i)))
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
	purge_in_progress = true;
	PG_TRY();
	{
		if (SPI_execute_with_args(query.data, 2, types, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not purge events of \"%s\"", table);
		removed = SPI_processed;
	}
	PG_FINALLY();
	{
		purge_in_progress = false;
	}
	PG_END_TRY();
	SPI_finish();
	PG_RETURN_INT64((int64) removed);
}

PG_FUNCTION_INFO_V1(insure_stream_refuse_event_change);

/* BEFORE UPDATE OR DELETE FOR EACH STATEMENT on the event tables */
Datum
insure_stream_refuse_event_change(PG_FUNCTION_ARGS)
{
	static const IsxTriggerSpec spec = {
		.funcname = "refuse_event_change",
		.timing = TRIGGER_EVENT_BEFORE,
		.for_row = false,
		.events = ISX_ON_UPDATE | ISX_ON_DELETE,
		.new_table = false,
		.tables = ISX_TABLE(ISX_TABLE_USER_ORDER) | ISX_TABLE(ISX_TABLE_UPDATE_INFO) |
		ISX_TABLE(ISX_TABLE_USER_LOG),
	};
	TriggerData *trigdata = isx_check_trigger(fcinfo, &spec);

	if (purge_in_progress)
		return PointerGetDatum(NULL);
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot %s table \"%s\"",
					TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? "update" : "delete from",
					RelationGetRelationName(trigdata->tg_relation)),
			 errdetail("Event tables are append-only logs; results are derived from them."),
			 errhint("Use insure_stream.purge_events() to remove old events.")));
	PG_RETURN_NULL();
}
