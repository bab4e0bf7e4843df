-- The seed jobs' queries (SEED-JOBS.md) run as written in psql.
-- Orders are relative to now(); only now()-independent values are shown.
SET TimeZone = 'UTC';
TRUNCATE insure_stream.user_order, insure_stream.user_log;
SELECT insure_stream.configure('order_window', 'none');
SELECT insure_stream.unix_timestamp() * 1000 AS now_ms \gset
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES
  (1, 'Y1', 'tel-1', :now_ms - 2 * 86400000, 99),   -- an older day: not today
  (1, 'T1', 'tel-1', :now_ms, 100.5),
  (1, NULL, 'tel-1b', :now_ms, NULL),               -- last_value skips nulls
  (2, 'T2', 'tel-2', :now_ms, 0.1),
  (3, 'T3', 'tel-2', :now_ms, 0.2);
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES
  (1000, 'd1', 'acc1', 'view', 'home'),
  (2000, 'd1', 'acc1', NULL, 'detail'),
  (3000, 'd2', 'acc1', 'click', 'buy'),
  (4000, 'd9', NULL, 'view', 'lost');

SET search_path = insure_stream, pg_catalog, public;

-- Scenario 1: the last_order view's query, as written
select id as id
  ,last_value(order_no) as order_no
  ,last_value(customer_tel) as customer_tel
  ,last_value(account_payble) as account_payble
from user_order
where gmt_modified >= cast(UNIX_TIMESTAMP(FROM_UNIXTIME(UNIX_TIMESTAMP(), 'yyyy-MM-dd'), 'yyyy-MM-dd')*1000 as bigint)
group by id
order by id;

-- Scenario 1: the hourly aggregation over it, as written (one hour: now's)
select count(*) as hours, sum(total_premium) as total_premium,
       sum(policy_cnt) as policy_cnt, sum(policy_holder_cnt) as policy_holder_cnt
from (
select biz_date
  ,cast(total_premium as double) as total_premium
  ,cast(policy_cnt as bigint) as policy_cnt
  ,cast(policy_holder_cnt as bigint) as policy_holder_cnt
from (
  select from_unixtime(cast(gmt_modified/1000 as bigint),'yyyyMMddHH') as biz_date
    ,sum(coalesce(account_payble,0)) as total_premium
    ,count(distinct order_no) as policy_cnt
    ,count(distinct customer_tel) as policy_holder_cnt
  from (
    select id as id
      ,last_value(order_no) as order_no
      ,last_value(customer_tel) as customer_tel
      ,last_value(gmt_modified) as gmt_modified
      ,last_value(account_payble) as account_payble
    from user_order
    where gmt_modified >= cast(UNIX_TIMESTAMP(FROM_UNIXTIME(UNIX_TIMESTAMP(), 'yyyy-MM-dd'), 'yyyy-MM-dd')*1000 as bigint)
    group by id
  ) a
  group by from_unixtime(cast(gmt_modified/1000 as bigint),'yyyyMMddHH')
) a
) h;

-- Scenario 3, as written
select account_id, device_id,
       last_value(bury_point_type) as bury_point_type,
       last_value(page_name) as page_name
from user_log
where account_id is not null
group by account_id, device_id
order by account_id, device_id;

RESET search_path;
-- leave the tables as we found them
TRUNCATE insure_stream.user_order, insure_stream.user_log, insure_stream.order_state,
  insure_stream.order_hour_closed, insure_stream.order_last_closed;
DELETE FROM insure_stream.config WHERE NOT is_default AND name <> 'time_zone';
