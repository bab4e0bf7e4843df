# Results survive a clean restart and a crash (immediate shutdown): after
# recovery the committed events are counted, an uncommitted transaction's
# are not, and verify() finds no difference.  No shared_preload_libraries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('restart');
$node->init;
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION insure_stream;
	SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
	SELECT insure_stream.configure('order_window', 'none');
	SELECT insure_stream.configure('drop_threshold', '0.2');
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p');
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
		SELECT g % 100, 'o' || g, 't' || (g % 7), 1795572000000 + g * 1000, g / 10.0
		  FROM generate_series(1, 5000) g;
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (1, 'saved', '50', 'drop');
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
		SELECT g, 'd' || (g % 3), 'a' || (g % 50), 'p' || g FROM generate_series(1, 1000) g;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'consistent before restart');

$node->restart;
is($node->safe_psql('postgres', q{SELECT insure_stream.setting('drop_threshold')}), '0.2',
	'settings survive a restart');
is($node->safe_psql('postgres', 'SELECT count(*) FROM insure_stream.user_order'), '5000',
	'events survive a restart');
is($node->safe_psql('postgres', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'consistent after restart');

# a transaction left open at the crash, and a committed one just before
my $open = $node->background_psql('postgres');
$open->query_safe(q{BEGIN; INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
	VALUES (7777, 'uncommitted', 1795572000000, 1)});
$node->safe_psql('postgres', q{INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
	VALUES (8888, 'committed', 1795572000000, 1)});
my $hours = $node->safe_psql('postgres', 'SELECT * FROM insure_stream.hs_order ORDER BY 1');
$node->stop('immediate');
$open->{run}->kill_kill;
$node->start;

is($node->safe_psql('postgres', q{SELECT count(*) FROM insure_stream.last_order WHERE id = 8888}), '1',
	'the committed order is counted after the crash');
is($node->safe_psql('postgres', q{SELECT count(*) FROM insure_stream.last_order WHERE id = 7777}), '0',
	'the uncommitted order is not');
is($node->safe_psql('postgres', 'SELECT * FROM insure_stream.hs_order ORDER BY 1'), $hours,
	'hour figures are as they were committed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'consistent after crash recovery');
is($node->safe_psql('postgres', q{SELECT now_premium FROM insure_stream.premium_alert WHERE id = 1}), '50',
	'the alert survived');

$node->stop;
done_testing();
