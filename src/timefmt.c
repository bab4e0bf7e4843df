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
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "insure_stream.h"

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
	is_local_time(ms, is_configured_zone(), &tm);
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
	offset = DetermineTimeZoneOffset(&tm, is_configured_zone());
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
		int64		ms = is_timestamptz_to_ms(GetCurrentTransactionStartTimestamp());

		PG_RETURN_INT64(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	}
	pattern = PG_NARGS() > 1 ? text_to_cstring(PG_GETARG_TEXT_PP(1)) : DEFAULT_PATTERN;
	PG_RETURN_INT64(parse_epoch_seconds(text_to_cstring(PG_GETARG_TEXT_PP(0)), pattern));
}
