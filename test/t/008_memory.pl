# Bounded memory of large statements, in CI-sized runs (the 10M-row COPY is
# in scripts/test-long.sh): a COPY into each event table, in one statement,
# read its backend's peak memory (VmHWM, from /proc) right after.  The
# server runs with small shared buffers so that the peak is the backend's
# own memory.  Scenario 2's COPY raises an alert on every other row: each
# alert's NOTIFY is kept by PostgreSQL until commit, so a transaction sends
# only its first 10000 alerts and then one {"more_alerts": true}.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $rows = 300000;
my $limit_mb = 160;

my $node = PostgreSQL::Test::Cluster->new('memory');
$node->init;
$node->append_conf('postgresql.conf', "shared_buffers = 16MB\nwork_mem = 4MB");
$node->start;
my $tmp = PostgreSQL::Test::Utils::tempdir;
$node->safe_psql('postgres', q{
	CREATE EXTENSION insure_stream;
	SELECT insure_stream.configure('time_zone', 'UTC');
	INSERT INTO insure_stream.raw_info SELECT g, '1000', 'key ' || g FROM generate_series(1, 20000) g;
});

# the COPY's backend peak memory in MB, from its own session
sub copy_peak_mb
{
	my ($table, $columns, $csv) = @_;
	my $out = $node->safe_psql('postgres', qq{
SELECT pg_backend_pid() AS pid \\gset
COPY insure_stream.$table ($columns) FROM '$csv' WITH (FORMAT csv);
\\setenv COPY_PID :pid
\\! awk '/^VmHWM:/ {print \$2}' /proc/\$COPY_PID/status
});
	my ($kb) = $out =~ /(\d+)\s*$/;
	return int($kb / 1024);
}

my %copies = (
	user_order => [
		'id, order_no, customer_tel, gmt_modified, account_payble',
		"SELECT 1 + g % 50000, 'PO' || g, '138' || (g % 50000), 1700000000000 + g * 100,
		        round((g % 1000)::numeric / 7, 2)::float8 FROM generate_series(1, $rows) g"
	],
	update_info => [
		'id, event, now_premium, gmt_modified, now_info',
		"SELECT 1 + g % 20000, 'saved', CASE WHEN (g / 20000) % 2 = 0 THEN '1000' ELSE '100' END,
		        1700000000000 + g, 'info ' || g FROM generate_series(1, $rows) g"
	],
	user_log => [
		'log_time, device_id, account_id, bury_point_type, page_name',
		"SELECT 1700000000000 + g, 'dev' || g % 3, 'acc' || g % 50000, 'view', 'page' || g % 100
		   FROM generate_series(1, $rows) g"
	]);
for my $table (sort keys %copies)
{
	my ($columns, $source) = @{ $copies{$table} };
	my $csv = "$tmp/$table.csv";
	$node->safe_psql('postgres', "COPY ($source) TO '$csv' WITH (FORMAT csv)");
	my $peak = copy_peak_mb($table, $columns, $csv);
	cmp_ok($peak, '<=', $limit_mb, "COPY of $rows rows into $table: backend peak $peak MB");
	note("FIGURE copy_peak_mb $table $peak");
}
is($node->safe_psql('postgres', 'SELECT count(*) FROM insure_stream.verify()'),
	'0', 'verify() finds no difference after the COPYs');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM insure_stream.premium_alert'),
	'==', 20000, 'every key customer has its alert');

# one statement raising 10050 alerts: 10000 notifications, then one summary
# (with the alert's data in each)
$node->safe_psql('postgres', q{
	SELECT insure_stream.configure('notify_payload', 'alert');
	INSERT INTO insure_stream.raw_info SELECT g, '1000', 'many ' || g FROM generate_series(100001, 110050) g;
});
my $listened = $node->safe_psql('postgres', q{
LISTEN insure_stream_premium_drop;
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
SELECT g, 'saved', '10', 'dropped' FROM generate_series(100001, 110050) g;
SELECT 'done';
});
my @notes = $listened =~ /^Asynchronous notification "insure_stream_premium_drop" with payload "(.*)" received/mg;
is(scalar(@notes), 10001, '10050 alerts in one transaction send 10001 notifications');
is(scalar(grep { $_ eq '{"more_alerts": true}' } @notes), 1, 'the last says there were more alerts');
like($notes[0], qr/^\{"id": 100001, "raw_info": "many 100001", "now_info": "dropped", "raw_premium": "1000", "now_premium": "10"\}$/,
	'the first notifications carry their alert');
is($node->safe_psql('postgres', q{SELECT count(*) FROM insure_stream.premium_alert WHERE id > 100000}),
	'10050', 'every alert is in premium_alert');

# the next transaction has its own 10000
$listened = $node->safe_psql('postgres', q{
LISTEN insure_stream_premium_drop;
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (100001, 'saved', '1', 'again');
SELECT 'done';
});
like($listened, qr/payload "\{"id": 100001, "raw_info": "dropped", "now_info": "again"/,
	'a later transaction notifies again');

$node->stop;
done_testing();
