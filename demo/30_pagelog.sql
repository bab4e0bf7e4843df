-- Scenario 3: last page per account, from the log and from track_page().
\set QUIET on
\pset footer off
SELECT insure_stream.unix_timestamp(insure_stream.from_unixtime(insure_stream.unix_timestamp(), 'yyyy-MM-dd'),
                                    'yyyy-MM-dd') * 1000 AS day0 \gset
\echo 'three accounts browse on two devices this morning (demo_app); events arrive out of order'
SET ROLE demo_app;
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (:day0 + 32400000, 'phone-1', 'alice', 'view', 'home'),                 -- 09:00:00
  (:day0 + 32460000, 'phone-1', 'alice', 'view', 'product/term-life'),    -- 09:01:00
  (:day0 + 32700000, 'pad-1',   'alice', 'click', 'quote/term-life'),     -- 09:05:00
  (:day0 + 32520000, 'phone-1', 'alice', 'click', 'compare'),             -- 09:02, late: older than the pad event
  (:day0 + 32400000, 'phone-2', 'bob',   'view', 'home'),
  (:day0 + 32900000, 'phone-2', 'bob',   NULL,   'claims'),               -- null type: the last non-null stays
  (:day0 + 32500000, NULL,      'carol', 'view', 'promo/spring'),         -- no device: a device of its own
  (:day0 + 32400000, 'x',       NULL,    'view', 'anonymous');            -- no account: filtered
RESET ROLE;
\echo 'user_last_log, the last page per account, read as demo_monitor:'
SET ROLE demo_monitor;
SELECT account_id, device_id, bury_point_type, page_name FROM insure_stream.user_last_log ORDER BY account_id;
RESET ROLE;

\echo 'the app calls track_page() directly for carol (no log row)'
SET ROLE demo_app;
SELECT insure_stream.track_page('carol', 'watch-3', 'view', 'policy/overview', :day0 + 33300000);
RESET ROLE;
SET ROLE demo_monitor;
SELECT account_id, device_id, bury_point_type, page_name FROM insure_stream.user_last_log ORDER BY account_id;
RESET ROLE;
\echo 'per device state:'
SELECT account_id, device_id, insure_stream.from_unixtime(log_time / 1000, 'HH:mm:ss') AS local_time,
       bury_point_type, page_name, from_calls
  FROM insure_stream.page_state ORDER BY account_id, device_key;
