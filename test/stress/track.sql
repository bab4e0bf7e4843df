-- track_page() calls on accounts that partly overlap the logged ones
-- (accounts above 3/4 of the pool), so calls and log rows meet on a row.
\set a random(:accounts * 3 / 4, :accounts * 5 / 4)
\set d random(1, 3)
\set t random(0, :span)
SELECT insure_stream.track_page('acc' || :a, 'dev' || :d,
       CASE WHEN :t % 5 = 0 THEN NULL ELSE 'track' END, 'tpage' || :t % 20,
       LEAST(:day0 + :span, GREATEST(:day0, :day0 + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint - :start) * :speed - :t % 10800000)));
