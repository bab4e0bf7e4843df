# Crash safety: a backend killed with SIGKILL (the postmaster then kills
# every session and runs crash recovery) and an immediate shutdown, in the
# middle of a large COPY (while loading rows, and while the trigger writes
# the state), of a stream of single-row commits into all three event tables,
# and of maintenance() (while compacting, and while purging).  After each
# recovery: verify() finds no difference, every acknowledged commit is there
# and counted (results equal a plain-SQL recomputation), and what was not
# committed left nothing behind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
# the test framework turns this off; it is PostgreSQL's default
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;
my $tmp = PostgreSQL::Test::Utils::tempdir;

# every figure the test measured, printed at the end
my @figures;

for my $db (qw(copydb streamdb maintdb))
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{
		CREATE EXTENSION insure_stream;
		SELECT insure_stream.configure('time_zone', 'UTC');
	});
}

# every result and state relation, the event counts and the bookkeeping
my $snapshot_sql = q{
	SELECT r || ' ' || md5(coalesce(string_agg(t, '|' ORDER BY t), '')) FROM (
	  SELECT 'hs_order' r, x::text t FROM insure_stream.hs_order x
	  UNION ALL SELECT 'last_order', x::text FROM insure_stream.last_order x
	  UNION ALL SELECT 'order_state', x::text FROM insure_stream.order_state x
	  UNION ALL SELECT 'order_hour_closed', x::text FROM insure_stream.order_hour_closed x
	  UNION ALL SELECT 'order_last_closed', x::text FROM insure_stream.order_last_closed x
	  UNION ALL SELECT 'premium_alert', x::text FROM insure_stream.premium_alert x
	  UNION ALL SELECT 'premium_applied', x::text FROM insure_stream.premium_applied x
	  UNION ALL SELECT 'raw_info', x::text FROM insure_stream.raw_info x
	  UNION ALL SELECT 'user_last_log', x::text FROM insure_stream.user_last_log x
	  UNION ALL SELECT 'page_state', x::text FROM insure_stream.page_state x
	  UNION ALL SELECT 'maintenance_state', name || '=' || value FROM insure_stream.maintenance_state
	  UNION ALL SELECT 'events', (SELECT count(*) FROM insure_stream.user_order) || ' '
	     || (SELECT count(*) FROM insure_stream.update_info) || ' '
	     || (SELECT count(*) FROM insure_stream.user_log)) s
	GROUP BY r ORDER BY r
};

# Scenarios 1 and 3 recomputed from the log with plain SQL (order_window =
# none, zone UTC, no null values in the data): the number of result rows
# that differ.  Independent of verify(), which runs the extension's own SQL.
my $recompute_sql = q{
	WITH o AS (
	  SELECT o.*, (to_timestamp(gmt_modified / 1000.0) AT TIME ZONE 'UTC') AS local_time
	    FROM insure_stream.user_order o WHERE id IS NOT NULL AND gmt_modified IS NOT NULL),
	s AS (
	  SELECT DISTINCT ON (id, local_time::date) id, local_time, order_no, customer_tel, gmt_modified, account_payble
	    FROM o ORDER BY id, local_time::date, gmt_modified DESC, ingest_seq DESC),
	h AS (
	  SELECT to_char(local_time, 'YYYYMMDDHH24')::varchar AS biz_date,
	         sum(coalesce(account_payble, 0)::numeric)::float8 AS total_premium,
	         count(DISTINCT order_no) AS policy_cnt, count(DISTINCT customer_tel) AS policy_holder_cnt
	    FROM s GROUP BY 1),
	l AS (
	  SELECT DISTINCT ON (id) id, order_no, customer_tel, gmt_modified, account_payble
	    FROM s ORDER BY id, local_time::date DESC),
	p AS (
	  SELECT DISTINCT ON (account_id) account_id, device_id, bury_point_type, page_name
	    FROM insure_stream.user_log WHERE account_id IS NOT NULL AND log_time IS NOT NULL
	   ORDER BY account_id, log_time DESC, ingest_seq DESC)
	SELECT (SELECT count(*) FROM (SELECT * FROM h EXCEPT SELECT * FROM insure_stream.hs_order) a)
	     + (SELECT count(*) FROM (SELECT * FROM insure_stream.hs_order EXCEPT SELECT * FROM h) b)
	     + (SELECT count(*) FROM (SELECT * FROM l EXCEPT SELECT * FROM insure_stream.last_order) c)
	     + (SELECT count(*) FROM (SELECT * FROM insure_stream.last_order EXCEPT SELECT * FROM l) d)
	     + (SELECT count(*) FROM (SELECT * FROM p EXCEPT SELECT * FROM insure_stream.user_last_log) e)
	     + (SELECT count(*) FROM (SELECT * FROM insure_stream.user_last_log EXCEPT SELECT * FROM p) f)
};

sub verify_clean
{
	my ($db, $what) = @_;
	is($node->safe_psql($db, 'SELECT count(*) FROM insure_stream.verify()'), '0',
		"$what: verify() finds no difference");
}

# SIGKILL of one backend; returns once the cluster accepts connections again
sub crash_backend
{
	my ($pid, $what) = @_;
	my $offset = -s $node->logfile;
	my $start = time;
	kill('KILL', $pid) or die "could not kill backend $pid: $!";
	$node->wait_for_log(qr/database system is ready to accept connections/, $offset);
	$node->poll_query_until('postgres', 'SELECT 1', '1') or die 'no connection after recovery';
	my $secs = time - $start;
	ok($node->log_contains(qr/\(PID $pid\) was terminated by signal 9/, $offset)
		  && $node->log_contains(qr/automatic recovery in progress/, $offset),
		"$what: the killed backend made the postmaster run crash recovery");
	push @figures, sprintf('%s: back in %.2f s', $what, $secs);
	return $secs;
}

sub gone
{
	my ($bg) = @_;
	eval { $bg->{run}->kill_kill; };
}

sub backend_pid
{
	my ($bg) = @_;
	return $bg->query_safe('SELECT pg_backend_pid()');
}

# the relations a backend holds RowExclusiveLock on (what it has written)
sub written_by
{
	my ($db, $pid) = @_;
	return $node->safe_psql($db, qq{
		SELECT string_agg(c.relname, ',' ORDER BY c.relname)
		  FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		 WHERE l.pid = $pid AND l.mode = 'RowExclusiveLock' AND l.granted AND c.relkind = 'r'});
}

my $day_ms = 86_400_000;
my $yesterday_ms = (int(time / 86400) - 1) * $day_ms;

#
# 1. A COPY of 300000 orders (50000 users) killed while loading rows and
#    while its trigger writes the state; nothing of it remains.
#
my $copy_rows = 300_000;
my $gen = "$tmp/gen_orders.pl";
my $marker = "$tmp/go_on";
open(my $fh, '>', $gen) or die;
print $fh <<'EOF';
# rows for COPY: id, order_no, customer_tel, gmt_modified, account_payble;
# after $stall rows it waits until the marker file exists (at most 20 s)
my ($n, $stall, $marker, $base) = @ARGV;
for my $g (1 .. $n)
{
	if ($stall && $g == $stall + 1)
	{
		STDOUT->flush;
		for (1 .. 400) { last if -e $marker; select(undef, undef, undef, 0.05); }
	}
	printf "%d\tc%d\tt%d\t%d\t%.1f\n", $g % 50000 + 1, $g, $g % 977, $base + ($g % 3600) * 1000, ($g % 1000) / 10;
}
EOF
close $fh;
my $copy_base = $yesterday_ms + 10 * 3_600_000;
sub copy_sql
{
	my ($stall) = @_;
	return "COPY insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)"
	  . " FROM PROGRAM 'perl $gen $copy_rows $stall $marker $copy_base'";
}

$node->safe_psql('copydb', qq{
	SELECT insure_stream.configure('order_window', 'none');
	INSERT INTO insure_stream.raw_info SELECT g, '100', 'k' || g FROM generate_series(1, 10) g;
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
		SELECT g % 60000 + 1, 'p' || g, 't' || (g % 977), $copy_base + (g % 7200) * 1000, (g % 1000) / 10.0
		  FROM generate_series(1, 80000) g;
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
		SELECT g % 10 + 1, 'saved', (100 - g)::text, 'n' || g FROM generate_series(1, 40) g;
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
		SELECT $copy_base + g, 'd' || (g % 3), 'a' || (g % 500), 'view', 'p' || g FROM generate_series(1, 5000) g;
});
verify_clean('copydb', 'COPY: before the crashes');
my $copy_before = $node->safe_psql('copydb', $snapshot_sql);

# 1a. killed while loading: the generator stalls after 150000 rows
my $copy = $node->background_psql('copydb', on_error_stop => 0);
my $pid = backend_pid($copy);
$copy->query_until(qr/copying/, "\\echo copying\n" . copy_sql(150_000) . ";\n");
# (COPY reads the program's output in blocks of 64 kB: a little less)
ok($node->poll_query_until('copydb',
		"SELECT tuples_processed >= 100000 FROM pg_stat_progress_copy WHERE pid = $pid"),
	'COPY 1a: more than 100000 of 300000 rows loaded');
my $loaded = $node->safe_psql('copydb',
	"SELECT tuples_processed FROM pg_stat_progress_copy WHERE pid = $pid");
ok($loaded <= 150_000, "COPY 1a: the COPY waits for more rows after $loaded");
crash_backend($pid, "COPY killed while loading rows ($loaded of 300000 read)");
open($fh, '>', $marker) and close($fh);    # lets the orphaned generator end
gone($copy);
is($node->safe_psql('copydb', q{SELECT count(*) FROM insure_stream.user_order WHERE order_no LIKE 'c%'}),
	'0', 'COPY 1a: no row of the killed COPY is in user_order');
is($node->safe_psql('copydb', $snapshot_sql), $copy_before,
	'COPY 1a: results, state and counts are exactly as before the COPY');
verify_clean('copydb', 'COPY 1a');
unlink $marker;

# 1b. killed in the trigger: user 40000's state is being updated by another
# session, so the trigger has written two slices of 16384 users (sorted)
# and waits in the third for that writer (a state is written without a
# lock first: a writer whose merge changes nothing does not wait for a
# mere FOR UPDATE, but every writer waits for one that changes the row)
my $holder = $node->background_psql('copydb');
$holder->query_safe(q{BEGIN; UPDATE insure_stream.order_state SET gmt_seq = gmt_seq WHERE id = 40000});
$copy = $node->background_psql('copydb', on_error_stop => 0);
$pid = backend_pid($copy);
$copy->query_until(qr/copying/, "\\echo copying\n" . copy_sql(0) . ";\n");
ok($node->poll_query_until('copydb',
		"SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid", 'Lock'),
	'COPY 1b: the trigger waits on a locked user state');
like(written_by('copydb', $pid), qr/order_state/,
	'COPY 1b: the trigger had written states when killed');
crash_backend($pid, 'COPY killed in its trigger');
gone($copy);
gone($holder);
is($node->safe_psql('copydb', q{SELECT count(*) FROM insure_stream.user_order WHERE order_no LIKE 'c%'}),
	'0', 'COPY 1b: no row of the killed COPY is in user_order');
is($node->safe_psql('copydb', $snapshot_sql), $copy_before,
	'COPY 1b: results, state and counts are exactly as before the COPY');
verify_clean('copydb', 'COPY 1b');

# 1c. the same COPY after the crashes completes and counts everything
$node->safe_psql('copydb', copy_sql(0));
is($node->safe_psql('copydb', q{SELECT count(*) FROM insure_stream.user_order WHERE order_no LIKE 'c%'}),
	$copy_rows, 'COPY 1c: the COPY run again after recovery loads every row');
is($node->safe_psql('copydb', $recompute_sql), '0',
	'COPY 1c: results equal a plain-SQL recomputation from the log');
verify_clean('copydb', 'COPY 1c');

#
# 2. A stream of single-row commits (order, policy change, page view, one
#    statement and one transaction each), killed mid-way; then a second
#    stream ended by an immediate shutdown of the whole server.
#
my $stream_base = $yesterday_ms + 8 * 3_600_000;
$node->safe_psql('streamdb', q{
	SELECT insure_stream.configure('order_window', 'none');
	INSERT INTO insure_stream.raw_info SELECT g, '100', 'k' || g FROM generate_series(1, 5) g;
});

# each stream numbers its events i = 1, 2, ... (order_type, open_id,
# page_name); premiums of a key customer alternate 50, 100, 50, ... so that
# every second event is a drop (alert)
sub start_stream
{
	my ($tag, $n) = @_;
	my $script = "$tmp/stream_$tag.sql";
	open(my $out, '>', $script) or die;
	for my $i (1 .. $n)
	{
		my $t = $stream_base + $i * 100;
		my $premium = (int($i / 5) % 2 == 0) ? '50' : '100';
		printf $out "INSERT INTO insure_stream.user_order (id, order_no, order_type, customer_tel, gmt_modified, account_payble) VALUES (%d, '%s%d', %d, 't%d', %d, %s);\n",
		  $i % 200 + 1, $tag, $i, $i, $i % 37, $t, ($i % 100) / 4;
		printf $out "INSERT INTO insure_stream.update_info (id, channel, open_id, event, now_premium, gmt_modified, now_info) VALUES (%d, '%s', '%d', 'saved', '%s', %d, '%s%d');\n",
		  $i % 5 + 1, $tag, $i, $premium, $t, $tag, $i;
		printf $out "INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES (%d, 'd%d', 'a%d', '%s', '%d');\n",
		  $t, $i % 3, $i % 100, $tag, $i;
	}
	close $out;
	my $h = IPC::Run::start(
		[ $node->installed_command('psql'), '-X', '-v', 'ON_ERROR_STOP=1',
		  '-d', $node->connstr('streamdb') . " application_name=stream_$tag", '-f', $script ],
		'<', \undef, '>', "$tmp/stream_$tag.out", '2>', "$tmp/stream_$tag.err");
	return $h;
}

# acknowledged commits (psql printed "INSERT 0 1"), and per table the
# committed events of the stream: they must be 1..k without a gap
sub stream_figures
{
	my ($tag) = @_;
	my $acked = () = slurp_file("$tmp/stream_$tag.out") =~ /^INSERT 0 1$/mg;
	my @per_table = split /\|/, $node->safe_psql('streamdb', qq{
		SELECT (SELECT count(*) || ' ' || coalesce(min(order_type), 1) || ' ' || coalesce(max(order_type), 0)
		          FROM insure_stream.user_order WHERE order_no LIKE '$tag%'),
		       (SELECT count(*) || ' ' || coalesce(min(open_id::int), 1) || ' ' || coalesce(max(open_id::int), 0)
		          FROM insure_stream.update_info WHERE channel = '$tag'),
		       (SELECT count(*) || ' ' || coalesce(min(page_name::int), 1) || ' ' || coalesce(max(page_name::int), 0)
		          FROM insure_stream.user_log WHERE bury_point_type = '$tag')});
	my @counts;
	my $gapless = 1;
	for (@per_table)
	{
		my ($count, $min, $max) = split / /;
		$gapless = 0 unless $min == 1 && $max == $count;
		push @counts, $count;
	}
	return ($acked, $gapless, @counts);
}

sub check_stream
{
	my ($tag, $what) = @_;
	my ($acked, $gapless, $orders, $infos, $logs) = stream_figures($tag);
	my $committed = $orders + $infos + $logs;
	ok($acked > 300, "$what: the stream had committed $acked statements when it was stopped");
	ok($gapless, "$what: each table holds the stream's events 1..k without a gap");
	ok(($orders == $infos && $infos == $logs) || ($orders == $infos + 1 && $infos == $logs)
		  || ($orders == $infos && $infos == $logs + 1),
		"$what: the tables stop at the same event (order, policy change, page view)")
	  or diag("orders $orders, policy changes $infos, page views $logs");
	ok($committed == $acked || $committed == $acked + 1,
		"$what: every acknowledged commit survived (at most the one in flight more)")
	  or diag("acknowledged $acked, found $committed");
	push @figures, "$what: $acked commits acknowledged, $committed found after recovery"
	  . " ($orders orders, $infos policy changes, $logs page views)";
	is($node->safe_psql('streamdb', $recompute_sql), '0',
		"$what: orders and page results equal a plain-SQL recomputation");
	is($node->safe_psql('streamdb', q{
		SELECT count(*) FROM insure_stream.raw_info r
		 WHERE r.raw_premium IS DISTINCT FROM (SELECT u.now_premium FROM insure_stream.update_info u
		                                        WHERE u.id = r.id ORDER BY u.ingest_seq DESC LIMIT 1)
		    OR r.raw_info IS DISTINCT FROM (SELECT u.now_info FROM insure_stream.update_info u
		                                     WHERE u.id = r.id ORDER BY u.ingest_seq DESC LIMIT 1)
		    OR (SELECT a.now_info FROM insure_stream.premium_alert a WHERE a.id = r.id)
		       IS DISTINCT FROM (SELECT u.now_info FROM insure_stream.update_info u
		                          WHERE u.id = r.id AND u.now_premium = '50' ORDER BY u.ingest_seq DESC LIMIT 1)}),
		'0', "$what: key customers hold their last committed event, alerts their last committed drop");
	verify_clean('streamdb', $what);
}

# 2a. SIGKILL of the streaming backend after at least 1000 events per table
my $stream = start_stream('A', 40_000);
ok($node->poll_query_until('streamdb',
		q{SELECT count(*) >= 1000 FROM insure_stream.user_log WHERE bury_point_type = 'A'}),
	'stream 2a is running');
$pid = $node->safe_psql('streamdb',
	q{SELECT pid FROM pg_stat_activity WHERE application_name = 'stream_A'});
crash_backend($pid, 'single-row stream killed');
$stream->finish;
like(slurp_file("$tmp/stream_A.err"),
	qr/server closed the connection unexpectedly|connection to server was lost|terminating connection/,
	'stream 2a: the client lost its connection');
check_stream('A', 'stream 2a (backend SIGKILL)');

# 2b. immediate shutdown of the server while a second stream runs
$stream = start_stream('B', 40_000);
ok($node->poll_query_until('streamdb',
		q{SELECT count(*) >= 1000 FROM insure_stream.user_log WHERE bury_point_type = 'B'}),
	'stream 2b is running');
my $start = time;
$node->stop('immediate');
$node->start;
push @figures, sprintf('single-row stream, immediate shutdown: restarted in %.2f s', time - $start);
$stream->finish;
like(slurp_file("$tmp/stream_B.err"),
	qr/server closed the connection unexpectedly|connection to server was lost|terminating connection/,
	'stream 2b: the client lost its connection');
check_stream('B', 'stream 2b (immediate shutdown)');
check_stream('A', 'stream 2a after the second crash');

#
# 3. maintenance() killed while compacting and while purging.  Six days of
#    orders (10000 users a day, each ingested on its own day, so
#    order_window = day accepts them), policy changes and page views;
#    retention 2 days, so maintenance closes five days and purges three.
#
$node->safe_psql('maintdb', q{
	SELECT insure_stream.configure('retention', '2 days');
	INSERT INTO insure_stream.raw_info SELECT g, '100', 'k' || g FROM generate_series(1, 50) g;
	CREATE TEMP TABLE days AS
	  SELECT d, (extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'UTC') - d * interval '1 day') * 1000)::bigint AS ms,
	         CASE WHEN d = 0 THEN now()
	              ELSE (date_trunc('day', now() AT TIME ZONE 'UTC') - d * interval '1 day' + interval '12 hours') AT TIME ZONE 'UTC'
	         END AS ingested
	    FROM generate_series(0, 5) d;
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble, ingested_at)
		SELECT g, 'm' || d || '-' || g, 't' || (g % 997), ms + (g % 3600) * 1000, g % 100, ingested
		  FROM days, generate_series(1, 10000) g ORDER BY d DESC, g;
	INSERT INTO insure_stream.update_info (id, event, now_premium, gmt_modified, now_info, ingested_at)
		SELECT g, 'saved', CASE WHEN d % 2 = 0 THEN '50' ELSE '100' END, ms + g * 1000, 'i' || d || '-' || g, ingested
		  FROM days, generate_series(1, 50) g ORDER BY d DESC, g;
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name, ingested_at)
		SELECT ms + g * 1000, 'd' || (g % 3), 'a' || (g % 1000), 'view', 'p' || d || '-' || g, ingested
		  FROM days, generate_series(1, 5000) g ORDER BY d DESC, g;
});
is($node->safe_psql('maintdb', q{
	SELECT count(*) || ' ' || count(DISTINCT day) FROM insure_stream.order_state}),
	'60000 6', 'maintenance: six days of 10000 user states before maintenance');
verify_clean('maintdb', 'maintenance: before the crashes');
my $maint_before = $node->safe_psql('maintdb', $snapshot_sql);
my $results_sql = q{
	SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
	  SELECT 'h' || x::text t FROM insure_stream.hs_order x
	  UNION ALL SELECT 'l' || x::text FROM insure_stream.last_order x
	  UNION ALL SELECT 'a' || x::text FROM insure_stream.premium_alert x
	  UNION ALL SELECT 'r' || x::text FROM insure_stream.raw_info x
	  UNION ALL SELECT 'u' || x::text FROM insure_stream.user_last_log x) s};
my $results_before = $node->safe_psql('maintdb', $results_sql);

# 3a. killed while compacting: the partial hour rows are folded and the
# days closed, then compact_orders() waits to delete a closed day's user
# state, locked here
$holder = $node->background_psql('maintdb');
$holder->query_safe(q{BEGIN;
	SELECT 1 FROM insure_stream.order_state WHERE id = 5000 AND day = (now() AT TIME ZONE 'UTC')::date - 3 FOR UPDATE});
my $maint = $node->background_psql('maintdb', on_error_stop => 0);
$pid = backend_pid($maint);
$maint->query_until(qr/maintaining/, "\\echo maintaining\nSELECT * FROM insure_stream.maintenance();\n");
ok($node->poll_query_until('maintdb', "SELECT wait_event FROM pg_stat_activity WHERE pid = $pid",
		'transactionid'),
	'maintenance 3a: waiting on a locked user state of a closed day');
like(written_by('maintdb', $pid), qr/order_hour_closed,order_last_closed/,
	'maintenance 3a: the closed hours and latest states were stored when killed');
crash_backend($pid, 'maintenance() killed while compacting');
gone($maint);
gone($holder);
is($node->safe_psql('maintdb', $snapshot_sql), $maint_before,
	'maintenance 3a: state, results, events and bookkeeping exactly as before');
verify_clean('maintdb', 'maintenance 3a');

# 3b. killed while purging: days closed, user_order and update_info purged,
# then the purge of user_log waits on a row locked here
$holder = $node->background_psql('maintdb');
$holder->query_safe(q{BEGIN;
	SELECT 1 FROM insure_stream.user_log ORDER BY log_time LIMIT 1 FOR UPDATE});
$maint = $node->background_psql('maintdb', on_error_stop => 0);
$pid = backend_pid($maint);
$maint->query_until(qr/maintaining/, "\\echo maintaining\nSELECT * FROM insure_stream.maintenance();\n");
ok($node->poll_query_until('maintdb', "SELECT wait_event FROM pg_stat_activity WHERE pid = $pid",
		'transactionid'),
	'maintenance 3b: waiting on a locked user_log row');
like(written_by('maintdb', $pid),
	qr/maintenance_state,order_hour_closed,order_last_closed,order_state,update_info,user_log,user_order/,
	'maintenance 3b: days closed and two tables purged when killed');
crash_backend($pid, 'maintenance() killed while purging');
gone($maint);
gone($holder);
is($node->safe_psql('maintdb', $snapshot_sql), $maint_before,
	'maintenance 3b: state, results, events and bookkeeping exactly as before');
verify_clean('maintdb', 'maintenance 3b');

# 3c. maintenance after the crashes completes; results are kept
is($node->safe_psql('maintdb', q{
	SELECT string_agg(task || ' ' || affected, ', ' ORDER BY task) FROM insure_stream.maintenance()}),
	'compact_orders 50000, purge_events update_info 150, purge_events user_log 15000, purge_events user_order 30000',
	'maintenance 3c: runs to the end after recovery (5 days closed, 3 purged)');
is($node->safe_psql('maintdb', $results_sql), $results_before,
	'maintenance 3c: every result is as before maintenance');
is($node->safe_psql('maintdb', 'SELECT count(*) FROM insure_stream.order_state'), '10000',
	'maintenance 3c: one state per user is left');
verify_clean('maintdb', 'maintenance 3c');

note($_) for @figures;
$node->stop;
done_testing();
