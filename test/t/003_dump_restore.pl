# pg_dump of a database using the extension restores the settings,
# raw_info, the results and the state; verify() is clean after a restore
# with triggers (restored events are not applied again) and after one without.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE DATABASE source;
});
$node->safe_psql('source', q{
	CREATE EXTENSION insure_stream;
	SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
	SELECT insure_stream.configure('order_window', 'none');
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p1'), (2, '100', 'p2');
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
		SELECT g % 40, 'o' || g, 't' || (g % 9), 1795572000000 + g * 1000, g / 4.0
		  FROM generate_series(1, 2000) g;
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
		VALUES (1, 'saved', '50', 'a'), (1, 'saved', '60', 'b'), (2, 'saved', '90', 'c');
	UPDATE insure_stream.raw_info SET raw_premium = '500' WHERE id = 2;
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
		SELECT g, 'd' || (g % 3), 'a' || (g % 20), 'p' || g FROM generate_series(1, 500) g;
	SELECT insure_stream.track_page('called', 'dev', 'view', 'home', 10);
});
my $snapshot = q{
	SELECT (SELECT string_agg(format('%s %s %s %s', biz_date, total_premium, policy_cnt, policy_holder_cnt), ';' ORDER BY biz_date) FROM insure_stream.hs_order)
	    || '|' || (SELECT string_agg(format('%s %s', id, order_no), ';' ORDER BY id) FROM insure_stream.last_order)
	    || '|' || (SELECT string_agg(format('%s %s %s', id, raw_premium, raw_info), ';' ORDER BY id) FROM insure_stream.raw_info)
	    || '|' || (SELECT string_agg(format('%s %s %s', id, raw_premium, now_premium), ';' ORDER BY id) FROM insure_stream.premium_alert)
	    || '|' || (SELECT string_agg(format('%s %s %s', account_id, device_id, page_name), ';' ORDER BY account_id) FROM insure_stream.user_last_log)
	    || '|' || (SELECT string_agg(format('%s=%s', name, value), ';' ORDER BY name) FROM insure_stream.settings)
};
my $before = $node->safe_psql('source', $snapshot);

my $dump = $node->basedir . '/source.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('source'), '-f', $dump ], 'pg_dump');

for my $mode ('with triggers', 'replica')
{
	my $db = $mode eq 'replica' ? 'restored_replica' : 'restored';
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	my @env = $mode eq 'replica' ? (PGOPTIONS => '-c session_replication_role=replica') : ();
	local %ENV = (%ENV, @env);
	my ($ret, $out, $err) = $node->psql($db, undef, extra_params => [ '-f', $dump, '-v', 'ON_ERROR_STOP=1' ]);
	is($ret, 0, "restore ($mode)") or diag($err);
	delete $ENV{PGOPTIONS};
	is($node->safe_psql($db, $snapshot), $before, "results, raw_info and settings restored ($mode)");
	is($node->safe_psql($db, 'SELECT count(*) FROM insure_stream.verify()'), '0', "verify() clean ($mode)");
}
$node->stop;
done_testing();
