# With pg_cron preloaded and installed in the database, schedule_maintenance()
# registers the job, pg_cron runs it, and its effect is visible;
# unschedule_maintenance() removes it.  Skipped where pg_cron is not installed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('cron');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
# run jobs in background workers: the test cluster listens on a socket only
cron.use_background_workers = on
max_worker_processes = 16
});
$node->start;
my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION pg_cron');
plan skip_all => 'pg_cron is not installed' if $ret != 0;

$node->safe_psql('postgres', q{
	CREATE EXTENSION insure_stream;
	INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble, ingested_at)
		SELECT g % 10, 'o' || g, (extract(epoch FROM now() - interval '2 days') * 1000)::bigint + g, 1,
			   now() - interval '2 days'
		  FROM generate_series(1, 100) g;
});
is($node->safe_psql('postgres', q{SELECT count(*) FROM insure_stream.order_state}), '10',
	'states of a day before today are open until maintenance closes it');

my $job = $node->safe_psql('postgres', q{SELECT insure_stream.schedule_maintenance('* * * * *')});
like($job, qr/^\d+$/, 'schedule_maintenance() returns the job id');
is($node->safe_psql('postgres',
	q{SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'insure_stream_maintenance'}),
	'* * * * * SELECT insure_stream.maintenance()', 'the job is registered');
like($node->safe_psql('postgres', q{SELECT value FROM insure_stream.status() WHERE section = 'pg_cron'}),
	qr/insure_stream\.maintenance/, 'status() shows the job');

# pg_cron runs jobs on the minute
ok($node->poll_query_until('postgres',
	q{SELECT count(*) > 0 FROM cron.job_run_details d JOIN cron.job j USING (jobid)
	   WHERE j.jobname = 'insure_stream_maintenance' AND d.status = 'succeeded'}, 't'),
	'pg_cron ran the maintenance');
is($node->safe_psql('postgres', q{SELECT count(*) FROM insure_stream.order_state}), '0',
	'its effect is visible: the past day closed');
is($node->safe_psql('postgres', q{SELECT count(*) FROM insure_stream.order_last_closed}), '10',
	'each user keeps the latest closed state');
ok($node->safe_psql('postgres', q{SELECT count(*) FROM insure_stream.maintenance_state WHERE name = 'last_maintenance'}) == 1,
	'last maintenance recorded');
is($node->safe_psql('postgres', 'SELECT count(*) FROM insure_stream.verify()'), '0', 'still consistent');

is($node->safe_psql('postgres', 'SELECT insure_stream.unschedule_maintenance()'), 't', 'unscheduled');
is($node->safe_psql('postgres', q{SELECT count(*) FROM cron.job WHERE jobname = 'insure_stream_maintenance'}), '0',
	'the job is gone');
$node->stop;
done_testing();
