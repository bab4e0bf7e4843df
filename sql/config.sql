-- settings: defaults, validation, canonical forms, transactional changes
SET TimeZone = 'UTC';
SELECT name, value, is_default FROM insure_stream.settings ORDER BY name;

-- canonical forms
SELECT insure_stream.configure('drop_threshold', ' 0.2 ');
SELECT insure_stream.configure('order_window', ' NONE ');
SELECT insure_stream.configure('order_window', 'day');
SELECT insure_stream.configure('saved_events', ' saved , paid,, ');
SELECT insure_stream.configure('max_future', '36 hours');
SELECT insure_stream.configure('on_bad_input', 'Quarantine');
SELECT name, value, is_default FROM insure_stream.settings ORDER BY name;

-- bad values: a clear error with a SQLSTATE, nothing changes
\set VERBOSITY default
SELECT insure_stream.configure('colour', 'blue');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('time_zone', 'Mars/Olympus_Mons');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('drop_threshold', '1');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('drop_threshold', '-0.1');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('drop_threshold', 'NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('drop_threshold', 'abc');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('order_window', 'week');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('max_future', 'soon');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('max_future', '-1 hour');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('max_future', '1 month');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('on_bad_input', 'ignore');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure('on_bad_input', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.configure(NULL, 'x');
\echo :LAST_ERROR_SQLSTATE

-- a setting change is transactional
BEGIN;
SELECT insure_stream.configure('drop_threshold', '0.5');
SELECT insure_stream.setting('drop_threshold');
ROLLBACK;
SELECT insure_stream.setting('drop_threshold');

-- only operator rows are dumped
SELECT c.relname, x.cfg
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(oid, cfg)
  JOIN pg_class c ON c.oid = x.oid
 WHERE e.extname = 'insure_stream' AND c.relname = 'config';

-- back to the defaults the suite uses
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
SELECT name, value, is_default FROM insure_stream.settings ORDER BY name;
