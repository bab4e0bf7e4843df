/*-------------------------------------------------------------------------
 *
 * config.c
 *		Settings of insure_stream: validation for configure() and the
 *		per-statement snapshot the triggers work with.
 *
 * Settings are rows of insure_stream.config, so they are per database,
 * transactional and the same for every session.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "insure_stream.h"

#define MS_PER_DAY INT64CONST(86400000)
/* Unix epoch is 2000-01-01 minus this many milliseconds */
#define UNIX_TO_PG_EPOCH_MS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * MS_PER_DAY)

static const char *const setting_names[] = {
	"time_zone", "drop_threshold", "order_window", "saved_events",
	"max_future", "on_bad_input", "retention", "notify_payload", NULL
};

static void
invalid_setting(const char *name, const char *value, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for setting \"%s\": \"%s\"", name, value),
			 errdetail_internal("%s", detail)));
}

pg_tz *
is_zone_lookup(const char *name)
{
	pg_tz	   *tz = pg_tzset(name);

	if (tz == NULL || !pg_tz_acceptable(tz))
		return NULL;
	return tz;
}

/* cuts blanks off both ends of a writable string, in place */
static char *
trim_blanks(char *start)
{
	char	   *end;

	while (*start == ' ' || *start == '\t')
		start++;
	end = start + strlen(start);
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return start;
}

/* lower-cased, trimmed copy of a keyword value */
static char *
keyword(const char *value)
{
	char	   *start = trim_blanks(pstrdup(value));

	for (char *c = start; *c; c++)
		*c = pg_tolower((unsigned char) *c);
	return start;
}

/* split "a, b,,c" into a list of trimmed, non-empty names */
static List *
split_event_list(const char *value)
{
	List	   *result = NIL;
	char	   *copy = pstrdup(value);
	char	   *token;
	char	   *saveptr = NULL;

	for (token = strtok_r(copy, ",", &saveptr); token != NULL;
		 token = strtok_r(NULL, ",", &saveptr))
	{
		char	   *start = trim_blanks(token);

		if (*start != '\0')
			result = lappend(result, pstrdup(start));
	}
	return result;
}

static char *
normalize_drop_threshold(const char *value)
{
	char	   *end;
	double		d;
	Datum		num;

	errno = 0;
	d = strtod(value, &end);
	while (*end == ' ')
		end++;
	if (end == value || *end != '\0' || errno != 0 || isnan(d) || isinf(d))
		invalid_setting("drop_threshold", value,
						"The drop threshold must be a decimal number.");
	if (d < 0 || d >= 1)
		invalid_setting("drop_threshold", value,
						"The drop threshold must be at least 0 and less than 1.");
	num = DirectFunctionCall3(numeric_in, CStringGetDatum(value),
							  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	return DatumGetCString(DirectFunctionCall1(numeric_out, num));
}

/* "1 day 02:00:00" whatever the session's IntervalStyle */
char *
is_format_duration(int64 us)
{
	StringInfoData buf;
	int64		days = us / USECS_PER_DAY;
	int64		rest = us % USECS_PER_DAY;

	initStringInfo(&buf);
	if (days != 0)
		appendStringInfo(&buf, "%lld day%s", (long long) days, days == 1 ? "" : "s");
	if (rest != 0 || days == 0)
	{
		appendStringInfo(&buf, "%s%02d:%02d:%02d", days != 0 ? " " : "",
						 (int) (rest / USECS_PER_HOUR),
						 (int) (rest % USECS_PER_HOUR / USECS_PER_MINUTE),
						 (int) (rest % USECS_PER_MINUTE / USECS_PER_SEC));
		if (rest % USECS_PER_SEC != 0)
			appendStringInfo(&buf, ".%06d", (int) (rest % USECS_PER_SEC));
	}
	return buf.data;
}

/*
 * max_future and retention are at most about 100 years: now() plus or minus
 * them stays a timestamp (and event times a 4-digit year) that the triggers
 * and the SQL re-derives agree on.  Larger values used to overflow int64
 * microseconds here, or make every maintenance() or verify() fail.
 */
#define MAX_INTERVAL_DAYS 36500

static char *
normalize_interval(const char *name, const char *value)
{
	Interval   *iv;
	int64		us;

	/* interval_in reports malformed text itself (SQLSTATE 22007) */
	iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(value),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
	if (iv->month != 0)
		invalid_setting(name, value,
						"Use days, hours, minutes or seconds, not months or years.");
	if (pg_mul_s64_overflow((int64) iv->day, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, iv->time, &us))
		us = (iv->day < 0 || (iv->day == 0 && iv->time < 0)) ? -1 : PG_INT64_MAX;
	if (us < 0)
		invalid_setting(name, value, "The interval must not be negative.");
	if (us > (int64) MAX_INTERVAL_DAYS * USECS_PER_DAY)
		invalid_setting(name, value,
						"The interval must be at most " CppAsString2(MAX_INTERVAL_DAYS) " days (about 100 years).");
	return is_format_duration(us);
}

PG_FUNCTION_INFO_V1(insure_stream_normalize_setting);

/*
 * normalize_setting(name, value) returns the canonical text of a valid
 * setting value and raises an error for anything else.
 */
Datum
insure_stream_normalize_setting(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *value;
	char	   *result = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("setting name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("value for setting \"%s\" must not be null", name)));
	value = text_to_cstring(PG_GETARG_TEXT_PP(1));

	if (strcmp(name, "time_zone") == 0)
	{
		pg_tz	   *tz = is_zone_lookup(value);

		if (tz == NULL)
			invalid_setting(name, value,
							"The time zone must be a name known to PostgreSQL, such as \"Asia/Shanghai\" or \"UTC\".");
		result = pstrdup(value);
	}
	else if (strcmp(name, "drop_threshold") == 0)
		result = normalize_drop_threshold(value);
	else if (strcmp(name, "order_window") == 0)
	{
		result = keyword(value);
		if (strcmp(result, "day") != 0 && strcmp(result, "none") != 0)
			invalid_setting(name, value, "Valid values are \"day\" and \"none\".");
	}
	else if (strcmp(name, "saved_events") == 0)
	{
		StringInfoData buf;
		ListCell   *lc;

		initStringInfo(&buf);
		foreach(lc, split_event_list(value))
			appendStringInfo(&buf, "%s%s", buf.len > 0 ? "," : "",
							 (char *) lfirst(lc));
		result = buf.data;
	}
	else if (strcmp(name, "max_future") == 0)
		result = normalize_interval(name, value);
	else if (strcmp(name, "retention") == 0)
	{
		/* empty: events are kept forever */
		result = keyword(value);
		if (*result != '\0')
			result = normalize_interval(name, value);
	}
	else if (strcmp(name, "notify_payload") == 0)
	{
		result = keyword(value);
		if (strcmp(result, "id") != 0 && strcmp(result, "alert") != 0)
			invalid_setting(name, value, "Valid values are \"id\" and \"alert\".");
	}
	else if (strcmp(name, "on_bad_input") == 0)
	{
		result = keyword(value);
		if (strcmp(result, "error") != 0 && strcmp(result, "quarantine") != 0)
			invalid_setting(name, value, "Valid values are \"error\" and \"quarantine\".");
	}
	else
	{
		StringInfoData known;
		int			i;

		initStringInfo(&known);
		for (i = 0; setting_names[i] != NULL; i++)
			appendStringInfo(&known, "%s%s", i > 0 ? ", " : "", setting_names[i]);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("unrecognized setting \"%s\"", name),
				 errhint("Settings are: %s.", known.data)));
	}
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

int64
is_timestamptz_to_ms(TimestampTz ts)
{
	/* floor division: times before 2000 stay on the right millisecond */
	int64		ms = ts / 1000;

	if (ts < 0 && ts % 1000 != 0)
		ms--;
	return ms + UNIX_TO_PG_EPOCH_MS;
}

void
is_local_time(int64 epoch_ms, pg_tz *tz, struct pg_tm *tm)
{
	pg_time_t	secs = (pg_time_t) (epoch_ms / 1000);
	struct pg_tm *local;

	if (epoch_ms < 0 && epoch_ms % 1000 != 0)
		secs--;
	local = pg_localtime(&secs, tz);
	if (local == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("epoch milliseconds %lld out of range", (long long) epoch_ms)));
	*tm = *local;
}

/* epoch ms of local midnight starting the day that contains epoch_ms */
int64
is_day_start_ms(int64 epoch_ms, pg_tz *tz)
{
	struct pg_tm tm;
	int			offset;
	int64		local_days;

	is_local_time(epoch_ms, tz, &tm);
	tm.tm_year += 1900;
	tm.tm_mon += 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	offset = DetermineTimeZoneOffset(&tm, tz);	/* seconds west of UTC */
	local_days = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - UNIX_EPOCH_JDATE;
	return local_days * MS_PER_DAY + (int64) offset * 1000;
}

/* one row: the effective value of every setting */
#define SETTINGS_QUERY \
	"SELECT pg_catalog.max(value) FILTER (WHERE name OPERATOR(pg_catalog.=) 'time_zone')," \
	"       pg_catalog.max(value) FILTER (WHERE name OPERATOR(pg_catalog.=) 'drop_threshold')," \
	"       pg_catalog.max(value) FILTER (WHERE name OPERATOR(pg_catalog.=) 'order_window')," \
	"       pg_catalog.max(value) FILTER (WHERE name OPERATOR(pg_catalog.=) 'saved_events')," \
	"       pg_catalog.max(value) FILTER (WHERE name OPERATOR(pg_catalog.=) 'max_future')::pg_catalog.interval," \
	"       pg_catalog.max(value) FILTER (WHERE name OPERATOR(pg_catalog.=) 'on_bad_input')," \
	"       pg_catalog.max(value) FILTER (WHERE name OPERATOR(pg_catalog.=) 'notify_payload')" \
	"  FROM insure_stream.settings"

static char *
settings_text(HeapTuple tuple, TupleDesc desc, int attnum, const char *name)
{
	char	   *value = SPI_getvalue(tuple, desc, attnum);

	if (value == NULL)
		elog(ERROR, "setting \"%s\" is missing from insure_stream.config", name);
	return value;
}

/*
 * The settings are cached per backend until insure_stream.config changes:
 * every change (configure(), or any DML on the table) fires a statement
 * trigger that sends a relcache invalidation for the table, which all
 * backends process before their next statement sees the new rows.
 */
static MemoryContext settings_cxt = NULL;
static IsSettings *settings_cache = NULL;
static Oid	settings_relid = InvalidOid;	/* insure_stream.config */

static void
settings_invalidate(Datum arg, Oid relid)
{
	if (relid != InvalidOid && relid != settings_relid)
		return;
	settings_cache = NULL;
	if (settings_cxt != NULL)
		MemoryContextReset(settings_cxt);
}

void
is_settings_register_invalidation(void)
{
	CacheRegisterRelcacheCallback(settings_invalidate, (Datum) 0);
}

/* reads the settings through SPI (the caller is connected) */
static IsSettings *
settings_read(MemoryContext cxt)
{
	static SPIPlanPtr plan = NULL;
	IsSettings *s;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Interval   *future;
	char	   *payload;
	MemoryContext oldcxt;

	if (plan == NULL)
		plan = is_prepare_kept(SETTINGS_QUERY, 0, NULL);
	if (SPI_execute_plan(plan, NULL, NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read insure_stream settings");
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	oldcxt = MemoryContextSwitchTo(cxt);
	s = (IsSettings *) palloc(sizeof(IsSettings));
	s->time_zone = settings_text(tuple, desc, 1, "time_zone");
	s->tz = is_zone_lookup(s->time_zone);
	if (s->tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configured time zone \"%s\" is not known", s->time_zone),
				 errhint("Set it again with insure_stream.configure('time_zone', ...).")));
	s->drop_threshold = settings_text(tuple, desc, 2, "drop_threshold");
	s->window_day = strcmp(settings_text(tuple, desc, 3, "order_window"), "day") == 0;
	s->saved_events = split_event_list(settings_text(tuple, desc, 4, "saved_events"));
	future = DatumGetIntervalP(SPI_getbinval(tuple, desc, 5, &isnull));
	if (isnull)
		elog(ERROR, "setting \"max_future\" is missing from insure_stream.config");
	s->max_future_ms = (future->time + (int64) future->day * USECS_PER_DAY) / 1000;
	s->quarantine = strcmp(settings_text(tuple, desc, 6, "on_bad_input"), "quarantine") == 0;
	/* absent from the objects of 0.1.x: the id only */
	payload = SPI_getvalue(tuple, desc, 7);
	s->notify_alert_data = payload != NULL && strcmp(payload, "alert") == 0;
	MemoryContextSwitchTo(oldcxt);
	SPI_freetuptable(SPI_tuptable);
	return s;
}

/*
 * The settings for this statement, with now() in epoch milliseconds and the
 * start of its local day.  The result lives in cxt.
 */
/* fills the cache if needed; the caller is connected to SPI */
static IsSettings *
settings_cached(void)
{
	if (settings_cache == NULL)
	{
		if (settings_cxt == NULL)
			settings_cxt = AllocSetContextCreate(TopMemoryContext,
												 "insure_stream settings",
												 ALLOCSET_SMALL_SIZES);
		settings_relid = get_relname_relid("config",
										   get_namespace_oid("insure_stream", false));
		settings_cache = settings_read(settings_cxt);
	}
	return settings_cache;
}

/* the configured time zone, for callers not connected to SPI */
pg_tz *
is_configured_zone(void)
{
	pg_tz	   *tz;

	if (settings_cache != NULL)
		return settings_cache->tz;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	tz = settings_cached()->tz;	/* zones live in PostgreSQL's own cache */
	SPI_finish();
	return tz;
}

IsSettings *
is_settings_load(MemoryContext cxt)
{
	IsSettings *s;

	settings_cached();
	s = MemoryContextAlloc(cxt, sizeof(IsSettings));
	*s = *settings_cache;
	s->now_ms = is_timestamptz_to_ms(GetCurrentTransactionStartTimestamp());
	s->today_start_ms = is_day_start_ms(s->now_ms, s->tz);
	return s;
}

PG_FUNCTION_INFO_V1(insure_stream_settings_changed);

/*
 * AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON insure_stream.config
 * FOR EACH STATEMENT: tells every backend to read the settings again.
 */
Datum
insure_stream_settings_changed(PG_FUNCTION_ARGS)
{
	static const IsTriggerSpec spec = {
		.funcname = "settings_changed",
		.timing = TRIGGER_EVENT_AFTER,
		.for_row = false,
		.events = IS_ON_INSERT | IS_ON_UPDATE | IS_ON_DELETE | IS_ON_TRUNCATE,
		.new_table = false,
		.tables = IS_TABLE(IS_TABLE_CONFIG),
	};

	CacheInvalidateRelcache(is_check_trigger(fcinfo, &spec)->tg_relation);
	return PointerGetDatum(NULL);
}
