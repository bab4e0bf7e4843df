-- Operations: maintenance, status and verification
\set QUIET on
\pset footer off
\echo 'maintenance(): fold the partial hour rows, drop zero reference counts (pg_cron can run it)'
SELECT task, affected FROM insure_stream.maintenance() ORDER BY task;
\echo 'status(): events, results, state, pending work'
SELECT section, name, value FROM insure_stream.status() ORDER BY section, name;
\echo 'verify(): every result recomputed from the event tables; no rows = no difference'
\pset footer on
SELECT * FROM insure_stream.verify();
