-- One order per statement.  Users come from a small pool shared by every
-- client (they collide); order times follow a virtual clock that sweeps
-- today and tomorrow during the run, up to 3 hours late (16% anywhere
-- between midnight and the clock), so users' latest orders move between
-- hours; phones and order numbers are shared between users, every column
-- is sometimes null, and a few orders are from yesterday (filtered) or four
-- days ago (filtered, then purged by maintenance).
\set uid random(1, :users)
\set t random(0, :span)
\set kind random(1, 100)
\set nulls random(0, 31)
\set po random(1, :users * 2)
\set amt random(-1000, 1000000)
\set back case when :kind <= 16 then :t else :t % 10800000 end
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble, order_price)
VALUES (CASE WHEN :nulls = 31 THEN NULL ELSE :uid END,
        CASE WHEN :nulls & 1 = 1 THEN NULL ELSE 'PO' || :po END,
        CASE WHEN :nulls & 6 = 6 THEN NULL WHEN :nulls & 6 = 4 THEN '' ELSE '138' || (:uid % 40) END,
        CASE WHEN :nulls = 30 THEN NULL WHEN :kind <= 2 THEN :day0 - 4 * 86400000 - :t % 86400000
             WHEN :kind <= 6 THEN :day0 - 1 - :t % 86400000
             ELSE LEAST(:day0 + :span, GREATEST(:day0, :day0 + ((extract(epoch FROM clock_timestamp()) * 1000)::bigint - :start) * :speed - :back)) END,
        CASE WHEN :nulls & 8 = 8 THEN NULL ELSE :amt / 100.0 END,
        CASE WHEN :nulls & 16 = 16 THEN NULL ELSE :amt / 7.0 END);
