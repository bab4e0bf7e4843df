/*-------------------------------------------------------------------------
 *
 * config.h
 *		The settings of insure_stream as a statement sees them, and the
 *		local-time helpers that use the configured zone (config.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_CONFIG_H
#define INSURE_STREAM_CONFIG_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "pgtime.h"

/* notify: how an alert reaches listeners */
typedef enum IsxNotify
{
	ISX_NOTIFY_COMMIT,			/* NOTIFY, delivered at the ingest's commit */
	ISX_NOTIFY_DEFERRED,		/* queued in alert_outbox for forward_alerts() */
	ISX_NOTIFY_OFF				/* premium_alert only */
} IsxNotify;

/* the effective settings, read once per statement */
typedef struct IsxSettings
{
	char	   *time_zone;		/* name, as configured */
	pg_tz	   *tz;				/* resolved zone */
	char	   *drop_threshold; /* canonical numeric text */
	bool		window_day;		/* order_window = day */
	List	   *saved_events;	/* list of char *, empty = all */
	int64		max_future_ms;	/* how far past now() an event time may lie */
	bool		quarantine;		/* on_bad_input = quarantine */
	bool		notify_alert_data;	/* notify_payload = alert */
	IsxNotify	notify;			/* notify */
	int64		now_ms;			/* now() as epoch milliseconds */
	int64		today_start_ms; /* start of now()'s local day, epoch ms */
} IsxSettings;

extern IsxSettings *isx_load_settings(MemoryContext cxt);
extern void isx_register_settings_callbacks(void);
extern pg_tz *isx_configured_zone(void);
extern pg_tz *isx_lookup_zone(const char *name);
extern int64 isx_timestamptz_to_ms(TimestampTz ts);
extern int64 isx_day_start_ms(int64 epoch_ms, pg_tz *tz);
extern void isx_local_time(int64 epoch_ms, pg_tz *tz, struct pg_tm *tm);

#endif							/* INSURE_STREAM_CONFIG_H */
