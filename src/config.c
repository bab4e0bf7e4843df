/*-------------------------------------------------------------------------
 *
 * config.c
 *		Settings of insure_stream: validation for configure() and the
 *		per-statement snapshot the triggers work with.
 *
 * Settings are rows of insure_stream.config, so they are per database,
 * transactional and the same for every session: every statement reads them
 * as its own snapshot sees the table (see "The settings cache" below).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/procarray.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "config.h"
#include "shards.h"
#include "trigger.h"

#define MS_PER_DAY INT64CONST(86400000)
/* Unix epoch is 2000-01-01 minus this many milliseconds */
#define UNIX_TO_PG_EPOCH_MS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * MS_PER_DAY)

static const char *const setting_names[] = {
	"time_zone", "drop_threshold", "order_window", "saved_events",
	"max_future", "on_bad_input", "retention", "notify_payload", "notify", NULL
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
isx_lookup_zone(const char *name)
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
static char *
format_duration(int64 us)
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
	return format_duration(us);
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
		pg_tz	   *tz = isx_lookup_zone(value);

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
	else if (strcmp(name, "notify") == 0)
	{
		result = keyword(value);
		if (strcmp(result, "commit") != 0 && strcmp(result, "deferred") != 0 &&
			strcmp(result, "off") != 0)
			invalid_setting(name, value, "Valid values are \"commit\", \"deferred\" and \"off\".");
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

/*
 * A timestamptz as epoch milliseconds; -infinity and infinity become the
 * least and greatest int64 (before and after every finite time).
 */
int64
isx_timestamptz_to_ms(TimestampTz ts)
{
	int64		ms;

	if (TIMESTAMP_IS_NOBEGIN(ts))
		return PG_INT64_MIN;
	if (TIMESTAMP_IS_NOEND(ts))
		return PG_INT64_MAX;
	/* floor division: times before 2000 stay on the right millisecond */
	ms = ts / 1000;
	if (ts < 0 && ts % 1000 != 0)
		ms--;
	return ms + UNIX_TO_PG_EPOCH_MS;
}

void
isx_local_time(int64 epoch_ms, pg_tz *tz, struct pg_tm *tm)
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

/*
 * epoch ms of local midnight starting the day that contains epoch_ms; the
 * least and greatest int64 (infinite times, see isx_timestamptz_to_ms) are
 * days of their own, starting at themselves.
 */
int64
isx_day_start_ms(int64 epoch_ms, pg_tz *tz)
{
	struct pg_tm tm;
	int			offset;
	int64		local_days;

	if (epoch_ms == PG_INT64_MIN || epoch_ms == PG_INT64_MAX)
		return epoch_ms;
	isx_local_time(epoch_ms, tz, &tm);
	tm.tm_year += 1900;
	tm.tm_mon += 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	offset = DetermineTimeZoneOffset(&tm, tz);	/* seconds west of UTC */
	local_days = date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - UNIX_EPOCH_JDATE;
	return local_days * MS_PER_DAY + (int64) offset * 1000;
}

/*
 * The settings cache.
 *
 * The effective settings are a function of the rows of insure_stream.config
 * that the caller's snapshot sees, nothing else: a REPEATABLE READ
 * transaction keeps the values of its snapshot to its end, and the next
 * transaction of the same session sees the values committed before it
 * started.  (A cache that trusted the relcache invalidation sent by the
 * config_changed trigger got this wrong: the invalidation is processed at
 * moments that belong to no snapshot, and a REPEATABLE READ transaction
 * that processed it read the old rows again and kept them for the
 * session's later transactions.)
 *
 * So every caller reads the rows with its own snapshot, directly (a heap
 * scan of a table of a few rows, no SPI, no view, no name resolved but the
 * extension's own table), and reuses the parsed settings when the effective
 * texts are those parsed last time.  Within one snapshot (same xmin, xmax,
 * running transactions and command id) not even the scan is repeated, which
 * keeps the per-row time helpers cheap; the end of a transaction and the
 * abort of a subtransaction (whose own rows may vanish) forget the
 * snapshot.
 *
 * Most of the time the table is settled: its one page holds only rows
 * every snapshot sees (inserted by a transaction older than any snapshot,
 * not deleted) and rows no snapshot sees.  Then every snapshot, present or
 * future, sees the same settings, and they stay right for as long as the
 * page is the same: its LSN is unchanged, and the table keeps its file
 * (TRUNCATE gives it a new one).  Every change to the table changes the
 * LSN of its first page: rows written there change it, and the
 * config_changed trigger logs the first page again (touch_first_page)
 * before the changing transaction can commit, for rows written to another
 * page.  Vacuum, pruning and hint bits change no row's visibility.  So a
 * statement of a settled table checks one page's LSN instead of scanning
 * (a single-row statement spent about a fifth of its trigger time there).
 * A Citus shard of the table (no such trigger there) is always scanned.
 */
enum
{
	SET_TIME_ZONE,
	SET_DROP_THRESHOLD,
	SET_ORDER_WINDOW,
	SET_SAVED_EVENTS,
	SET_MAX_FUTURE,
	SET_ON_BAD_INPUT,
	SET_NOTIFY_PAYLOAD,			/* optional: not in the objects of 0.1.x */
	SET_NOTIFY,					/* optional: not in the objects before 0.2.1 */
	NUM_CACHED_SETTINGS
};

static const char *const cached_names[NUM_CACHED_SETTINGS] = {
	"time_zone", "drop_threshold", "order_window", "saved_events",
	"max_future", "on_bad_input", "notify_payload", "notify"
};

/* equal texts of a setting, either null (an optional setting absent) */
static bool
same_text(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static MemoryContext settings_cxt = NULL;	/* the parsed settings */
static MemoryContext snapshot_cxt = NULL;	/* the snapshot they were read in */
static IsxSettings *settings_cache = NULL;
static char *settings_texts[NUM_CACHED_SETTINGS];	/* effective texts parsed */

/* the MVCC snapshot the cache was last checked against */
static bool snapshot_known = false;
static TransactionId snapshot_xmin;
static TransactionId snapshot_xmax;
static CommandId snapshot_curcid;
static bool snapshot_suboverflowed;
static bool snapshot_recovery;
static uint32 snapshot_xcnt;
static int32 snapshot_subxcnt;
static TransactionId *snapshot_xip;
static TransactionId *snapshot_subxip;

/* the settled table the cache holds the settings of (see above), if settled */
static bool settled = false;
static Oid	settled_relid;
static RelFileNumber settled_file;
static XLogRecPtr settled_lsn;

/*
 * A change to the table sends an invalidation at commit: the table is read
 * again, so that its first page is not looked for once vacuum may have cut
 * it off (rows are removed only after the change that deleted them
 * committed).
 */
static void
settled_table_invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == settled_relid)
		settled = false;
}

static void
settings_xact_end(XactEvent event, void *arg)
{
	snapshot_known = false;
}

static void
settings_subxact_end(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		snapshot_known = false;
}

/* at load: the ends of transactions and subtransactions forget the snapshot */
void
isx_register_settings_callbacks(void)
{
	RegisterXactCallback(settings_xact_end, NULL);
	RegisterSubXactCallback(settings_subxact_end, NULL);
	CacheRegisterRelcacheCallback(settled_table_invalidate, (Datum) 0);
}

/* the LSN of the first page of rel, which has one */
static XLogRecPtr
first_page_lsn(Relation rel)
{
	Buffer		buf = ReadBuffer(rel, 0);
	XLogRecPtr	lsn;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	lsn = PageGetLSN(BufferGetPage(buf));
	UnlockReleaseBuffer(buf);
	return lsn;
}

/* is the settled table the cache was filled from still the same? */
static bool
still_settled(Oid relid)
{
	Relation	rel;
	bool		same;

	if (!settled || relid != settled_relid)
		return false;
	/* the lock brings the invalidations in, see settled_table_invalidate */
	rel = table_open(relid, AccessShareLock);
	same = settled && isx_rel_file_number(rel) == settled_file &&
		first_page_lsn(rel) == settled_lsn;
	table_close(rel, AccessShareLock);
	return same;
}

/*
 * Is the first page of rel, still at LSN lsn, settled: every row on it
 * seen by every snapshot or by none?
 */
static bool
page_is_settled(Relation rel, XLogRecPtr lsn)
{
	TransactionId oldest = GetOldestNonRemovableTransactionId(rel);
	Buffer		buf = ReadBuffer(rel, 0);
	Page		page;
	bool		all = true;

	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (PageGetLSN(page) != lsn)
		all = false;
	for (OffsetNumber off = FirstOffsetNumber;
		 all && off <= PageGetMaxOffsetNumber(page); off = OffsetNumberNext(off))
	{
		ItemId		item = PageGetItemId(page, off);
		HeapTupleData tuple;

		if (!ItemIdIsNormal(item))
			continue;			/* unused, dead or a redirect: no row */
		tuple.t_data = (HeapTupleHeader) PageGetItem(page, item);
		tuple.t_len = ItemIdGetLength(item);
		tuple.t_tableOid = RelationGetRelid(rel);
		ItemPointerSet(&tuple.t_self, 0, off);
		switch (HeapTupleSatisfiesVacuum(&tuple, oldest, buf))
		{
			case HEAPTUPLE_DEAD:
				break;
			case HEAPTUPLE_LIVE:
				/* committed before any snapshot was taken */
				all = HeapTupleHeaderXminFrozen(tuple.t_data) ||
					TransactionIdPrecedes(HeapTupleHeaderGetXmin(tuple.t_data), oldest);
				break;
			default:
				all = false;
		}
	}
	UnlockReleaseBuffer(buf);
	return all;
}

/*
 * Logs the first page of rel again, which moves its LSN: readers that
 * found the table settled read it again.  Called by every statement that
 * changes the table, before its transaction can commit.
 */
static void
touch_first_page(Relation rel)
{
	Buffer		buf;

	if (!RelationNeedsWAL(rel) || RelationGetNumberOfBlocks(rel) == 0)
		return;					/* a new file: nobody has found it settled */
	buf = ReadBuffer(rel, 0);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	START_CRIT_SECTION();
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}

/* does snap see exactly what the snapshot the cache was checked in saw? */
static bool
snapshot_is_known(Snapshot snap)
{
	return snapshot_known &&
		snap->snapshot_type == SNAPSHOT_MVCC &&
		snap->xmin == snapshot_xmin &&
		snap->xmax == snapshot_xmax &&
		snap->curcid == snapshot_curcid &&
		snap->suboverflowed == snapshot_suboverflowed &&
		snap->takenDuringRecovery == snapshot_recovery &&
		snap->xcnt == snapshot_xcnt &&
		snap->subxcnt == snapshot_subxcnt &&
		(snap->xcnt == 0 ||
		 memcmp(snap->xip, snapshot_xip, snap->xcnt * sizeof(TransactionId)) == 0) &&
		(snap->subxcnt <= 0 ||
		 memcmp(snap->subxip, snapshot_subxip, snap->subxcnt * sizeof(TransactionId)) == 0);
}

static void
snapshot_remember(Snapshot snap)
{
	snapshot_known = false;
	if (snap->snapshot_type != SNAPSHOT_MVCC)
		return;
	if (snapshot_cxt == NULL)
		snapshot_cxt = AllocSetContextCreate(TopMemoryContext,
											 "insure_stream settings snapshot",
											 ALLOCSET_SMALL_SIZES);
	MemoryContextReset(snapshot_cxt);
	snapshot_xmin = snap->xmin;
	snapshot_xmax = snap->xmax;
	snapshot_curcid = snap->curcid;
	snapshot_suboverflowed = snap->suboverflowed;
	snapshot_recovery = snap->takenDuringRecovery;
	snapshot_xcnt = snap->xcnt;
	snapshot_subxcnt = snap->subxcnt;
	snapshot_xip = NULL;
	snapshot_subxip = NULL;
	if (snap->xcnt > 0)
	{
		snapshot_xip = MemoryContextAlloc(snapshot_cxt, snap->xcnt * sizeof(TransactionId));
		memcpy(snapshot_xip, snap->xip, snap->xcnt * sizeof(TransactionId));
	}
	if (snap->subxcnt > 0)
	{
		snapshot_subxip = MemoryContextAlloc(snapshot_cxt, snap->subxcnt * sizeof(TransactionId));
		memcpy(snapshot_subxip, snap->subxip, snap->subxcnt * sizeof(TransactionId));
	}
	snapshot_known = true;
}

/*
 * insure_stream.config, found as the extension's own member (a table of
 * that name that is not the extension's is never read); on a Citus node,
 * its reference shard there.
 */
static Oid
settings_table(void)
{
	Oid			relid = isx_own_table_oid(ISX_TABLE_CONFIG);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"insure_stream.config\" of extension \"insure_stream\" was not found")));
	return isx_local_rows(relid);
}

/*
 * Before a scan of the settings in rel: may the table be settled (one page,
 * ours, not a Citus shard)?  Then the LSN of its page.
 */
static bool
settled_candidate(Relation rel, XLogRecPtr *lsn)
{
	if (RelationGetRelid(rel) != isx_own_table_oid(ISX_TABLE_CONFIG) ||
		RelationGetNumberOfBlocks(rel) != 1)
		return false;
	*lsn = first_page_lsn(rel);
	return !XLogRecPtrIsInvalid(*lsn);
}

/*
 * The effective text of each setting as snap sees insure_stream.config:
 * the operator's row (is_default = false) if there is one, else the
 * default row.  Allocated in the current memory context.
 */
static void
settings_scan(Relation rel, Snapshot snap, char **texts)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TableScanDesc scan = table_beginscan(rel, snap, 0, NULL);
	int			name_att = isx_column_number(desc, "config", "name");
	int			value_att = isx_column_number(desc, "config", "value");
	int			default_att = isx_column_number(desc, "config", "is_default");
	bool		operator_row[NUM_CACHED_SETTINGS];

	for (int i = 0; i < NUM_CACHED_SETTINGS; i++)
	{
		texts[i] = NULL;
		operator_row[i] = false;
	}
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		name = slot_getattr(slot, name_att, &isnull);
		Datum		value;
		bool		is_default;
		char	   *name_text;
		int			i;

		if (isnull)
			continue;
		name_text = TextDatumGetCString(name);
		for (i = 0; i < NUM_CACHED_SETTINGS; i++)
			if (strcmp(name_text, cached_names[i]) == 0)
				break;
		pfree(name_text);
		if (i == NUM_CACHED_SETTINGS || operator_row[i])
			continue;
		value = slot_getattr(slot, value_att, &isnull);
		if (isnull)
			continue;
		is_default = DatumGetBool(slot_getattr(slot, default_att, &isnull));
		if (isnull)
			is_default = false;
		if (texts[i] != NULL && is_default)
			continue;
		texts[i] = TextDatumGetCString(value);
		operator_row[i] = !is_default;
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	for (int i = 0; i < NUM_CACHED_SETTINGS; i++)
		if (texts[i] == NULL && i != SET_NOTIFY_PAYLOAD && i != SET_NOTIFY)
			elog(ERROR, "setting \"%s\" is missing from insure_stream.config",
				 cached_names[i]);
}

/* parses the effective texts into settings, allocated in cxt */
static IsxSettings *
settings_parse(char **texts, MemoryContext cxt)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	IsxSettings *s = (IsxSettings *) palloc0(sizeof(IsxSettings));
	Interval   *future;

	s->time_zone = pstrdup(texts[SET_TIME_ZONE]);
	s->tz = isx_lookup_zone(s->time_zone);
	if (s->tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("configured time zone \"%s\" is not known", s->time_zone),
				 errhint("Set it again with insure_stream.configure('time_zone', ...).")));
	s->drop_threshold = pstrdup(texts[SET_DROP_THRESHOLD]);
	s->window_day = strcmp(texts[SET_ORDER_WINDOW], "day") == 0;
	s->saved_events = split_event_list(texts[SET_SAVED_EVENTS]);
	future = DatumGetIntervalP(DirectFunctionCall3(interval_in,
												   CStringGetDatum(texts[SET_MAX_FUTURE]),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	s->max_future_ms = (future->time + (int64) future->day * USECS_PER_DAY) / 1000;
	s->quarantine = strcmp(texts[SET_ON_BAD_INPUT], "quarantine") == 0;
	/* absent from the objects of 0.1.x: the id only */
	s->notify_alert_data = texts[SET_NOTIFY_PAYLOAD] != NULL &&
		strcmp(texts[SET_NOTIFY_PAYLOAD], "alert") == 0;
	/* absent before 0.2.1: at commit */
	if (texts[SET_NOTIFY] == NULL || strcmp(texts[SET_NOTIFY], "commit") == 0)
		s->notify = ISX_NOTIFY_COMMIT;
	else if (strcmp(texts[SET_NOTIFY], "deferred") == 0)
		s->notify = ISX_NOTIFY_DEFERRED;
	else
		s->notify = ISX_NOTIFY_OFF;
	MemoryContextSwitchTo(oldcxt);
	return s;
}

/*
 * The settings as the active snapshot (else the transaction's) sees them.
 * The result belongs to the cache: it stays valid until the next call.
 */
static IsxSettings *
settings_current(void)
{
	Snapshot	snap = ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot();
	MemoryContext scancxt;
	MemoryContext oldcxt;
	char	   *texts[NUM_CACHED_SETTINGS];
	bool		same = settings_cache != NULL;
	Oid			relid;
	Relation	rel;
	bool		candidate;
	XLogRecPtr	lsn = InvalidXLogRecPtr;

	if (settings_cache != NULL && snapshot_is_known(snap))
		return settings_cache;
	relid = settings_table();
	if (settings_cache != NULL && still_settled(relid))
		return settings_cache;

	settled = false;
	rel = table_open(relid, AccessShareLock);
	candidate = settled_candidate(rel, &lsn);
	scancxt = AllocSetContextCreate(CurrentMemoryContext, "insure_stream settings scan",
									ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(scancxt);
	settings_scan(rel, snap, texts);
	for (int i = 0; same && i < NUM_CACHED_SETTINGS; i++)
		same = same_text(texts[i], settings_texts[i]);
	if (!same)
	{
		/* parsed under the scan's context: an error leaves nothing behind */
		MemoryContext newcxt = AllocSetContextCreate(scancxt, "insure_stream settings",
													 ALLOCSET_SMALL_SIZES);
		IsxSettings *parsed = settings_parse(texts, newcxt);

		for (int i = 0; i < NUM_CACHED_SETTINGS; i++)
			settings_texts[i] = texts[i] ? MemoryContextStrdup(newcxt, texts[i]) : NULL;
		MemoryContextSetParent(newcxt, TopMemoryContext);
		if (settings_cxt != NULL)
			MemoryContextDelete(settings_cxt);
		settings_cxt = newcxt;
		settings_cache = parsed;
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(scancxt);
	snapshot_remember(snap);
	/* the lock kept TRUNCATE out: the file is the one the scan read */
	if (candidate && page_is_settled(rel, lsn))
	{
		settled_relid = relid;
		settled_file = isx_rel_file_number(rel);
		settled_lsn = lsn;
		settled = true;
	}
	table_close(rel, AccessShareLock);
	return settings_cache;
}

/* the configured time zone, as the caller's snapshot sees it */
pg_tz *
isx_configured_zone(void)
{
	/* zones live in PostgreSQL's own cache, for the life of the backend */
	return settings_current()->tz;
}

/*
 * The settings for this statement, with now() in epoch milliseconds and the
 * start of its local day: a copy in cxt, as the statement's snapshot sees
 * insure_stream.config.
 */
IsxSettings *
isx_load_settings(MemoryContext cxt)
{
	IsxSettings *cached = settings_current();
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	IsxSettings *s = palloc(sizeof(IsxSettings));
	ListCell   *lc;

	*s = *cached;
	s->time_zone = pstrdup(cached->time_zone);
	s->drop_threshold = pstrdup(cached->drop_threshold);
	s->saved_events = NIL;
	foreach(lc, cached->saved_events)
		s->saved_events = lappend(s->saved_events, pstrdup((char *) lfirst(lc)));
	MemoryContextSwitchTo(oldcxt);
	s->now_ms = isx_timestamptz_to_ms(GetCurrentTransactionStartTimestamp());
	s->today_start_ms = isx_day_start_ms(s->now_ms, s->tz);
	return s;
}

PG_FUNCTION_INFO_V1(insure_stream_settings_changed);

/*
 * AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON insure_stream.config
 * FOR EACH STATEMENT: tells every backend to read the settings again (the
 * first page's LSN now, for statements of this transaction's lifetime; an
 * invalidation at commit).
 */
Datum
insure_stream_settings_changed(PG_FUNCTION_ARGS)
{
	static const IsxTriggerSpec spec = {
		.funcname = "settings_changed",
		.timing = TRIGGER_EVENT_AFTER,
		.for_row = false,
		.events = ISX_ON_INSERT | ISX_ON_UPDATE | ISX_ON_DELETE | ISX_ON_TRUNCATE,
		.new_table = false,
		.tables = ISX_TABLE(ISX_TABLE_CONFIG),
	};

	Relation	rel = isx_check_trigger(fcinfo, &spec)->tg_relation;

	touch_first_page(rel);
	CacheInvalidateRelcache(rel);
	return PointerGetDatum(NULL);
}
