-- update_info events, single-row or a multi-row statement over several key
-- customers in either order; ids above :keys are no key customers.  Premiums
-- in several valid spellings (drops alert), some null (filtered), some
-- events not in saved_events (filtered).
\set k random(1, :keys + 4)
\set p random(100, 1500)
\set ev random(1, 20)
\set fmt random(1, 5)
\set multi random(1, 3)
\set n random(2, 8)
\set dir random(0, 1)
\if :multi = 1
INSERT INTO insure_stream.update_info (id, channel, open_id, event, now_premium, gmt_modified, now_info)
SELECT 1 + (:k + g * 3) % (:keys + 4), 'app', 'o' || g,
       CASE WHEN g % 7 = 0 THEN 'viewed' ELSE 'saved' END,
       CASE WHEN g % 9 = 0 THEN NULL ELSE (100 + (:p * g) % 1400)::text END,
       (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'multi ' || :p || '/' || g END
  FROM generate_series(1, :n) g
 ORDER BY CASE WHEN :dir = 1 THEN g ELSE -g END;
\else
INSERT INTO insure_stream.update_info (id, channel, open_id, event, now_premium, gmt_modified, now_info)
VALUES (:k, 'app', 'o' || :p,
        CASE WHEN :ev <= 15 THEN 'saved' WHEN :ev <= 19 THEN 'paid' ELSE 'viewed' END,
        CASE :fmt WHEN 1 THEN :p::text WHEN 2 THEN ' ' || :p || ' ' WHEN 3 THEN '+' || :p || '.50'
                  WHEN 4 THEN (:p / 100.0)::text || 'e2' ELSE CASE WHEN :ev = 1 THEN NULL ELSE :p::text END END,
        (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
        CASE WHEN :ev = 2 THEN NULL ELSE 'single ' || :p END);
\endif
