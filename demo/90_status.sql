-- Operations: status and verification
\pset footer off
\echo 'status(): events, results, state, pending work'
SELECT section, name, value FROM insure_stream.status() ORDER BY section, name;
\echo 'verify(): every result recomputed from the event tables'
SELECT count(*) AS differences FROM insure_stream.verify();
