-- Flink/Hive time helpers in the configured zone (Asia/Shanghai, UTC+8)
SET TimeZone = 'UTC';
-- 1795572000 = 2026-11-25 02:00:00 UTC = 10:00 in Shanghai
SELECT insure_stream.from_unixtime(1795572000);
SELECT insure_stream.from_unixtime(1795572000, 'yyyyMMddHH'),
       insure_stream.from_unixtime(1795572000, 'yyyyMMdd'),
       insure_stream.from_unixtime(1795572000, 'yyyy-MM-dd'),
       insure_stream.from_unixtime(1795572005, 'yyyy-MM-dd HH:mm:ss'),
       insure_stream.from_unixtime(1795572000, 'yy/M/d H''h'''),
       insure_stream.from_unixtime(1795572000, 'HH:mm:ss.SSS ''at'' yyyy');
SELECT insure_stream.unix_timestamp('2026-11-25 10:00:00'),
       insure_stream.unix_timestamp('2026112510', 'yyyyMMddHH'),
       insure_stream.unix_timestamp('2026-11-25', 'yyyy-MM-dd'),
       insure_stream.unix_timestamp('20261125', 'yyyyMMdd');
-- round trip
SELECT insure_stream.unix_timestamp(insure_stream.from_unixtime(1795572123)) = 1795572123 AS round_trip;
-- unix_timestamp() is now() in epoch seconds
SELECT insure_stream.unix_timestamp() = floor(extract(epoch FROM now()))::bigint AS is_now;

-- another zone, with daylight saving time
SELECT insure_stream.configure('time_zone', 'America/New_York');
SELECT insure_stream.from_unixtime(1795572000);          -- 21:00 the day before (EST, UTC-5)
SELECT insure_stream.from_unixtime(1783000000);          -- July: EDT, UTC-4
SELECT insure_stream.unix_timestamp('2026-07-02 09:46:40') AS july;
SELECT insure_stream.unix_timestamp('2026-03-08 02:30:00') AS missing_hour;  -- spring forward
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');

-- bad patterns and texts
\set VERBOSITY terse
SELECT insure_stream.from_unixtime(0, 'yyyy-MM-dd EEE');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.from_unixtime(0, 'yyyy ''unclosed');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unix_timestamp('2026-11-25', 'yyyyMMdd');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unix_timestamp('2026-11-25 10:00', 'yyyy-MM-dd');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unix_timestamp('2026-13-01', 'yyyy-MM-dd');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unix_timestamp('2026-02-30', 'yyyy-MM-dd');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unix_timestamp('not a time');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- cast(... as double) of the seed works with insure_stream in search_path
SET search_path = insure_stream, pg_catalog, public;
SELECT cast(0.1 + 0.2 as double) AS d, pg_typeof(cast(1 as double));
RESET search_path;
