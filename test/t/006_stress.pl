# Concurrency stress, short: test/stress/run.sh for STRESS_SECONDS (20)
# seconds on a fresh node: 8 pgbench clients on the mixed workload (orders
# single and multi-row over a shared user pool, update_info and operators
# on a few key customers, page views, track_page(), transactions into all
# three tables), a 9th client running maintenance() every second and a
# 10th running longer two-statement transactions.  No deadlock,
# serialization, duplicate-key or other error, no failed transaction or
# aborted client, and verify() finds no difference, neither at the end nor
# inside the running load.  The long run is scripts/test-long.sh.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $seconds = $ENV{STRESS_SECONDS} || 20;
my $driver = File::Spec->rel2abs(File::Spec->catfile(dirname(__FILE__), '..', 'stress', 'run.sh'));

my $node = PostgreSQL::Test::Cluster->new('stress');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 30\n");
$node->start;

my $out = PostgreSQL::Test::Utils::tempdir('stress');
local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
local $ENV{PGDATABASE} = 'postgres';
local $ENV{SERVER_LOG} = $node->logfile;
local $ENV{STRESS_OUT} = $out;
local $ENV{STRESS_KEEP_DB} = '1';
my ($stdout, $stderr);
my $ok = IPC::Run::run([ 'bash', $driver, $seconds ], '>', \$stdout, '2>', \$stderr);
note($stdout);
diag($stderr) if $stderr ne '';
ok($ok, "the stress driver passes ($seconds s)");

my ($line) = $stdout =~ /^(STRESS .*)$/m;
ok(defined $line, 'the driver printed its summary line');
$line //= '';
my %f = $line =~ /(\w+)=(\S+)/g;
like($line, qr/^STRESS PASS /, 'summary says PASS');
cmp_ok($f{transactions} // 0, '>', 1000, 'the load ran (more than 1000 transactions)');
cmp_ok($f{maintenance_runs} // 0, '>=', $seconds / 4, 'maintenance() ran concurrently (every second, or as fast as verify() lets it)');
is($f{$_} // 'missing', '0', "$_ = 0")
  for qw(deadlock serialization duplicate_key other_errors failed_tx aborted_clients
	verify_rows verify_during_load);

# the workload did what it is meant to (so the zeros above mean something)
my $db = 'insure_stream_stress';
cmp_ok($node->safe_psql($db, 'SELECT count(*) FROM insure_stream.premium_alert'), '>', 0,
	'premium drops raised alerts');
cmp_ok($node->safe_psql($db, q{SELECT count(DISTINCT gmt_modified / 3600000) FROM insure_stream.user_order
	WHERE gmt_modified >= (SELECT min(gmt_modified) FROM insure_stream.order_state)}), '>=', 6,
	'orders spread over many hours of today and tomorrow');
cmp_ok($node->safe_psql($db, q{SELECT value::bigint FROM insure_stream.status()
	WHERE name = 'user_order filtered'}), '>', 0, 'late orders were filtered');
cmp_ok($node->safe_psql($db, q{SELECT value::bigint FROM insure_stream.maintenance_state
	WHERE name = 'purged user_order'}), '>', 0, 'maintenance purged old orders during the load');
cmp_ok($node->safe_psql($db, 'SELECT count(*) FROM insure_stream.page_state WHERE from_calls'), '>', 0,
	'track_page() calls were mixed in');
is($node->safe_psql($db, 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'verify() is clean at the end');

# rebuild() and maintenance() at once, deterministically: rebuild() holds
# user_order in SHARE mode (as when it starts), maintenance() with
# retention starts; then rebuild() runs.  Before the fix, maintenance()
# folded partial hour rows and waited for the table, and rebuild() waited
# for those rows: a deadlock.  Now maintenance() waits holding nothing.
$node->safe_psql('postgres', 'CREATE DATABASE rebuild_case');
$node->safe_psql('rebuild_case', q{
	CREATE EXTENSION insure_stream;
	SELECT insure_stream.configure('order_window', 'none');
	SELECT insure_stream.configure('retention', '2 days');
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT g % 10, 'o' || g, 't' || g % 3,
		   (extract(epoch FROM now() - interval '3 hours') * 1000)::bigint + g * 60000, g
	  FROM generate_series(1, 100) g;
});
my $rebuilder = $node->background_psql('rebuild_case');
$rebuilder->query_safe('BEGIN; LOCK TABLE insure_stream.user_order IN SHARE MODE');
my $maint = $node->background_psql('rebuild_case');
$maint->query_until(qr/started/, "\\echo started\nSELECT count(*) FROM insure_stream.maintenance();\n");
$node->poll_query_until('rebuild_case', q{SELECT count(*) > 0 FROM pg_locks WHERE NOT granted})
  or die 'maintenance() did not wait';
$rebuilder->query('SELECT insure_stream.rebuild()');
is($rebuilder->{stderr}, '', 'rebuild() runs while maintenance() waits (no deadlock)');
$rebuilder->{stderr} = '';
$rebuilder->query('COMMIT');
$rebuilder->quit;
# (psql stops at an error: a deadlock victim's session is gone)
my $maint_out = eval { scalar $maint->query('SELECT 1') };
if (!defined $maint_out)
{
	eval { $maint->{run}->finish };
	$maint_out = "psql ended: $maint->{stderr}";
}
is($maint_out . $maint->{stderr}, "4\n1",
	'maintenance() then completes with its 4 rows (compaction, purge of 3 tables), no deadlock');
eval { $maint->quit };
is($node->safe_psql('rebuild_case', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'verify() is clean after both');

# Maintenance purges old views during the load; a pair whose current value
# came from a purged view keeps it: verify() does not report it and
# rebuild() does not drop it (both did before the fix)
$node->safe_psql('postgres', 'CREATE DATABASE purge_case');
$node->safe_psql('purge_case', q{
	CREATE EXTENSION insure_stream;
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
	VALUES ((extract(epoch FROM now() - interval '5 days') * 1000)::bigint, 'd1', 'a1', 'view', 'home');
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
	VALUES ((extract(epoch FROM now()) * 1000)::bigint, 'd1', 'a1', NULL, 'quote');
	SELECT insure_stream.purge_events('2 days');
});
is($node->safe_psql('purge_case', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'verify() is clean when a current value came from a purged view');
$node->safe_psql('purge_case', 'SELECT insure_stream.rebuild()');
is($node->safe_psql('purge_case', 'SELECT bury_point_type, page_name FROM insure_stream.user_last_log'),
	'view|quote', 'rebuild() keeps the value from the purged view');

$node->stop;
done_testing();
