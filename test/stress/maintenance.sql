-- The 9th client: maintenance() every second while the others ingest, and
-- every fifth time a verify() inside the running load, whose count is kept
-- (a snapshot sees whole transactions, so it must be 0 at any moment), or
-- a look at status().
SELECT * FROM insure_stream.maintenance();
\set v random(1, 5)
\if :v = 1
INSERT INTO stress_check (differences) SELECT count(*) FROM insure_stream.verify();
\elif :v = 2
SELECT count(*) FROM insure_stream.status();
\endif
\sleep 1 s
