-- Scenario 3: last page per account, from the log and from track_page().
\pset footer off
\echo 'three accounts browse on two devices; events arrive out of order'
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (1795572000000, 'phone-1', 'alice', 'view', 'home'),
  (1795572060000, 'phone-1', 'alice', 'view', 'product/term-life'),
  (1795572300000, 'pad-1',   'alice', 'click', 'quote/term-life'),
  (1795572120000, 'phone-1', 'alice', 'click', 'compare'),        -- late: older than the pad event
  (1795572000000, 'phone-2', 'bob',   'view', 'home'),
  (1795572500000, 'phone-2', 'bob',   NULL,   'claims'),          -- null type: the last non-null stays
  (1795572100000, NULL,      'carol', 'view', 'promo/spring'),    -- no device: a device of its own
  (1795572000000, 'x',       NULL,    'view', 'anonymous');       -- no account: filtered
SELECT account_id, device_id, bury_point_type, page_name FROM insure_stream.user_last_log ORDER BY account_id;

\echo 'the app calls track_page() directly for carol (no log row)'
SELECT insure_stream.track_page('carol', 'watch-3', 'view', 'policy/overview', 1795572900000);
SELECT account_id, device_id, bury_point_type, page_name FROM insure_stream.user_last_log ORDER BY account_id;
\echo 'per device state:'
SELECT account_id, device_id, log_time, bury_point_type, page_name, from_calls
  FROM insure_stream.page_state ORDER BY account_id, device_key;
