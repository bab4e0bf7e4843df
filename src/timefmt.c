/*-------------------------------------------------------------------------
 *
 * timefmt.c
 *		Flink/Hive time helpers, so that the seed jobs' queries run as
 *		written: from_unixtime(), unix_timestamp(), with Java date patterns
 *		(yyyy MM dd HH mm ss SSS, 'quoted text') in the configured time_zone.
 *
 * Times are epoch seconds, as in Hive and Flink.  Unlike Hive, text that
 * does not match its pattern is an error, not NULL.
 *
 * Also the local-time functions of the SQL side (zone_local, zone_instant,
 * order_in_window), which take zones from the tz database exactly as the
 * triggers do.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "config.h"

#define DEFAULT_PATTERN "yyyy-MM-dd HH:mm:ss"

/* one element of a pattern: a run of one letter, or literal text */
typedef struct PatternItem
{
	char		letter;			/* '\0' for literal text */
	int			count;			/* letters in the run */
	const char *literal;		/* literal text (not terminated) */
	int			literal_len;
} PatternItem;

static void
bad_pattern(const char *pattern, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
			 errmsg("invalid date pattern \"%s\"", pattern),
			 errdetail_internal("%s", detail),
			 errhint("Supported letters: yyyy, yy, MM, dd, HH, mm, ss, SSS; put other text in single quotes.")));
}

/*
 * Splits a Java SimpleDateFormat-style pattern into items; returns the
 * count.  Letters other than y M d H m s S are refused.
 */
static int
parse_pattern(const char *pattern, PatternItem *items, int max_items)
{
	const char *p = pattern;
	int			n = 0;

	while (*p)
	{
		PatternItem *item;

		if (n == max_items)
			bad_pattern(pattern, "The pattern is too long.");
		item = &items[n++];
		memset(item, 0, sizeof(*item));
		if (*p == '\'')
		{
			/* '' is a quote; 'text' is literal text */
			if (p[1] == '\'')
			{
				item->literal = p;
				item->literal_len = 1;
				p += 2;
				continue;
			}
			item->literal = ++p;
			while (*p && *p != '\'')
				p++;
			if (*p != '\'')
				bad_pattern(pattern, "A quoted text is not closed.");
			item->literal_len = p - item->literal;
			p++;
		}
		else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		{
			if (strchr("yMdHmsS", *p) == NULL)
			{
				char		detail[64];

				snprintf(detail, sizeof(detail), "The letter \"%c\" is not supported.", *p);
				bad_pattern(pattern, detail);
			}
			item->letter = *p;
			while (*p == item->letter)
			{
				item->count++;
				p++;
			}
		}
		else
		{
			item->literal = p;
			while (*p && *p != '\'' && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
				p++;
			item->literal_len = p - item->literal;
		}
	}
	return n;
}

/* the field of a pg_tm (plus milliseconds) that a letter stands for */
static int *
field_of(char letter, struct pg_tm *tm, int *millis)
{
	switch (letter)
	{
		case 'y':
			return &tm->tm_year;
		case 'M':
			return &tm->tm_mon;
		case 'd':
			return &tm->tm_mday;
		case 'H':
			return &tm->tm_hour;
		case 'm':
			return &tm->tm_min;
		case 's':
			return &tm->tm_sec;
		default:
			return millis;
	}
}

static text *
format_epoch_seconds(int64 seconds, const char *pattern)
{
	PatternItem items[64];
	int			nitems = parse_pattern(pattern, items, lengthof(items));
	struct pg_tm tm;
	int			millis = 0;
	StringInfoData buf;
	int64		ms;

	if (pg_mul_s64_overflow(seconds, 1000, &ms))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("epoch seconds %lld out of range", (long long) seconds)));
	isx_local_time(ms, isx_configured_zone(), &tm);
	tm.tm_year += 1900;
	tm.tm_mon += 1;
	initStringInfo(&buf);
	for (int i = 0; i < nitems; i++)
	{
		PatternItem *item = &items[i];
		int			value;

		if (item->letter == '\0')
		{
			appendBinaryStringInfo(&buf, item->literal, item->literal_len);
			continue;
		}
		value = *field_of(item->letter, &tm, &millis);
		if (item->letter == 'y' && item->count == 2)
			value %= 100;
		appendStringInfo(&buf, "%0*d", item->count, value);
	}
	return cstring_to_text_with_len(buf.data, buf.len);
}

static void
text_mismatch(const char *value, const char *pattern)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
			 errmsg("time \"%s\" does not match pattern \"%s\"", value, pattern)));
}

static void
time_out_of_range(const char *value, const char *pattern)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_FIELD_OVERFLOW),
			 errmsg("time \"%s\" is out of range for pattern \"%s\"", value, pattern)));
}

/* parses text in the configured zone; returns epoch seconds */
static int64
parse_epoch_seconds(const char *value, const char *pattern)
{
	PatternItem items[64];
	int			nitems = parse_pattern(pattern, items, lengthof(items));
	struct pg_tm tm;
	int			millis = 0;
	const char *v = value;
	int			offset;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = 1970;
	tm.tm_mon = 1;
	tm.tm_mday = 1;
	for (int i = 0; i < nitems; i++)
	{
		PatternItem *item = &items[i];
		int		   *field;
		int			width;
		int			digits = 0;
		int			number = 0;

		if (item->letter == '\0')
		{
			if (strncmp(v, item->literal, item->literal_len) != 0)
				text_mismatch(value, pattern);
			v += item->literal_len;
			continue;
		}
		/* runs of 2+ letters take exactly that many digits: yyyyMMdd works */
		width = item->count >= 2 ? item->count : (item->letter == 'y' ? 4 : 2);
		while (digits < width && *v >= '0' && *v <= '9')
		{
			if (number > (PG_INT32_MAX - 9) / 10)
				time_out_of_range(value, pattern);
			number = number * 10 + (*v++ - '0');
			digits++;
		}
		if (digits == 0 || (item->count >= 2 && digits != width))
			text_mismatch(value, pattern);
		if (item->letter == 'y' && item->count == 2)
			number += 2000;
		field = field_of(item->letter, &tm, &millis);
		*field = number;
	}
	if (*v != '\0')
		text_mismatch(value, pattern);
	/* IS_VALID_JULIAN: the years date2j() computes without overflow */
	if (tm.tm_mon < 1 || tm.tm_mon > 12 ||
		tm.tm_mday < 1 || tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59 ||
		!IS_VALID_JULIAN(tm.tm_year, tm.tm_mon, tm.tm_mday))
		time_out_of_range(value, pattern);
	tm.tm_isdst = -1;
	offset = DetermineTimeZoneOffset(&tm, isx_configured_zone());
	return (int64) (date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - UNIX_EPOCH_JDATE) * SECS_PER_DAY +
		tm.tm_hour * SECS_PER_HOUR + tm.tm_min * SECS_PER_MINUTE + tm.tm_sec + offset;
}

PG_FUNCTION_INFO_V1(insure_stream_from_unixtime);

/* from_unixtime(seconds bigint [, pattern text]) */
Datum
insure_stream_from_unixtime(PG_FUNCTION_ARGS)
{
	const char *pattern = PG_NARGS() > 1 ? text_to_cstring(PG_GETARG_TEXT_PP(1)) : DEFAULT_PATTERN;

	PG_RETURN_TEXT_P(format_epoch_seconds(PG_GETARG_INT64(0), pattern));
}

PG_FUNCTION_INFO_V1(insure_stream_unix_timestamp);

/* unix_timestamp() is now(); unix_timestamp(text [, pattern]) parses */
Datum
insure_stream_unix_timestamp(PG_FUNCTION_ARGS)
{
	const char *pattern;

	if (PG_NARGS() == 0)
	{
		int64		ms = isx_timestamptz_to_ms(GetCurrentTransactionStartTimestamp());

		PG_RETURN_INT64(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	}
	pattern = PG_NARGS() > 1 ? text_to_cstring(PG_GETARG_TEXT_PP(1)) : DEFAULT_PATTERN;
	PG_RETURN_INT64(parse_epoch_seconds(text_to_cstring(PG_GETARG_TEXT_PP(0)), pattern));
}

/*
 * Local time in a named zone, for the SQL side of the extension.
 *
 * pg_catalog.timezone(zone, ...) (AT TIME ZONE) first looks the name up as
 * a time zone abbreviation of the session's timezone_abbreviations, so
 * 'CET' there is a fixed +01 while the triggers (and the TimeZone setting)
 * take it from the tz database: CET in winter, CEST in summer.  These
 * functions take every zone from the tz database, through the same code as
 * the triggers, so that SQL re-derives file each event where the trigger
 * did, whatever the session's settings.
 */

/* the zone of a text argument, cached per call site */
typedef struct ZoneArg
{
	pg_tz	   *tz;
	int			len;
	char		name[TZ_STRLEN_MAX + 1];
} ZoneArg;

static pg_tz *
zone_arg(FunctionCallInfo fcinfo, int argno)
{
	text	   *arg = PG_GETARG_TEXT_PP(argno);
	int			len = VARSIZE_ANY_EXHDR(arg);
	ZoneArg    *cache = (ZoneArg *) fcinfo->flinfo->fn_extra;
	char	   *name;
	pg_tz	   *tz;

	if (cache != NULL && cache->len == len &&
		memcmp(cache->name, VARDATA_ANY(arg), len) == 0)
		return cache->tz;
	name = text_to_cstring(arg);
	tz = len <= TZ_STRLEN_MAX ? isx_lookup_zone(name) : NULL;
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name),
				 errhint("Use a name of the time zone database, as the TimeZone setting does.")));
	if (cache == NULL)
		cache = fcinfo->flinfo->fn_extra =
			MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(ZoneArg));
	cache->tz = tz;
	cache->len = len;
	memcpy(cache->name, name, len + 1);
	return tz;
}

PG_FUNCTION_INFO_V1(insure_stream_zone_local);

/* zone_local(ts timestamptz, zone text): the wall-clock time of ts in zone */
Datum
insure_stream_zone_local(PG_FUNCTION_ARGS)
{
	TimestampTz ts = PG_GETARG_TIMESTAMPTZ(0);
	pg_tz	   *tz = zone_arg(fcinfo, 1);
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	Timestamp	result;

	if (TIMESTAMP_NOT_FINITE(ts))
		PG_RETURN_TIMESTAMP(ts);
	if (timestamp2tm(ts, &offset, &tm, &fsec, NULL, tz) != 0 ||
		tm2timestamp(&tm, fsec, NULL, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	PG_RETURN_TIMESTAMP(result);
}

PG_FUNCTION_INFO_V1(insure_stream_zone_instant);

/*
 * zone_instant(local timestamp, zone text): the instant at which zone's
 * clocks show local.  A local time skipped by a change to summer time, or
 * shown twice by the change back, is taken as PostgreSQL's timestamptz
 * input takes it (and as the triggers find the start of a day).
 */
Datum
insure_stream_zone_instant(PG_FUNCTION_ARGS)
{
	Timestamp	local = PG_GETARG_TIMESTAMP(0);
	pg_tz	   *tz = zone_arg(fcinfo, 1);
	struct pg_tm tm;
	fsec_t		fsec;
	int			offset;
	TimestampTz result;

	if (TIMESTAMP_NOT_FINITE(local))
		PG_RETURN_TIMESTAMPTZ(local);
	if (timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	offset = DetermineTimeZoneOffset(&tm, tz);
	if (tm2timestamp(&tm, fsec, &offset, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	PG_RETURN_TIMESTAMPTZ(result);
}

PG_FUNCTION_INFO_V1(insure_stream_order_in_window);

/*
 * order_in_window(gmt_modified bigint, ingested_at timestamptz, zone text):
 * under order_window = day, whether an order with this gmt_modified counts
 * when ingested at ingested_at: gmt_modified is not before the start of
 * ingested_at's local day, computed as the trigger computes it.  An order
 * ingested at -infinity (before every day) always counts, one ingested at
 * infinity (after every day) never does.
 */
Datum
insure_stream_order_in_window(PG_FUNCTION_ARGS)
{
	int64		gmt = PG_GETARG_INT64(0);
	TimestampTz ingested_at = PG_GETARG_TIMESTAMPTZ(1);
	pg_tz	   *tz = zone_arg(fcinfo, 2);

	if (TIMESTAMP_IS_NOBEGIN(ingested_at))
		PG_RETURN_BOOL(true);
	if (TIMESTAMP_IS_NOEND(ingested_at))
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(gmt >= isx_day_start_ms(isx_timestamptz_to_ms(ingested_at), tz));
}
