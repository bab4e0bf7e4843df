# A database owner who is not a superuser creates the (trusted) extension
# and uses it; an ingest role (grant_ingest()) can ingest and nothing more;
# a reader (grant_read()) reads; a role without grants cannot run the admin
# functions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nonsuperuser');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE dbowner LOGIN;
	CREATE DATABASE owned OWNER dbowner;
	CREATE ROLE ingest LOGIN;
	CREATE ROLE stranger LOGIN;
	CREATE ROLE reader LOGIN;
});

sub as
{
	my ($role, $sql) = @_;
	return $node->psql('owned', $sql, extra_params => [ '-U', $role ], on_error_stop => 1);
}

is($node->safe_psql('owned', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'dbowner'}), 'f',
	'the owner is not a superuser');
# a schema of that name set up by another role is not taken over
$node->safe_psql('owned', 'GRANT CREATE ON DATABASE owned TO stranger');
$node->safe_psql('owned', 'CREATE SCHEMA insure_stream', extra_params => [ '-U', 'stranger' ]);
my ($ret, $out, $err) = $node->psql('owned', 'CREATE EXTENSION insure_stream',
	extra_params => [ '-U', 'dbowner' ]);
like($err, qr/schema "insure_stream" already exists and is not an empty schema of the installing role/,
	"another role's schema named insure_stream is refused");
$node->safe_psql('owned', 'DROP SCHEMA insure_stream; REVOKE CREATE ON DATABASE owned FROM stranger');

($ret, $out, $err) = $node->psql('owned', 'CREATE EXTENSION insure_stream',
	extra_params => [ '-U', 'dbowner' ]);
is($ret, 0, 'the database owner creates the extension') or diag($err);

($ret, $out, $err) = $node->psql('owned', q{
	SELECT insure_stream.configure('time_zone', 'UTC');
	SELECT insure_stream.configure('order_window', 'none');
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p');
	INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
		VALUES (1, 'o1', 1795572000000, 10);
	INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (1, '10', 'n');
	SELECT insure_stream.track_page('acc', 'dev', 'view', 'home', 1);
	SELECT insure_stream.grant_ingest('ingest');
	SELECT insure_stream.grant_read('reader');
	SELECT count(*) FROM insure_stream.verify();
	SELECT biz_date || ' ' || total_premium FROM insure_stream.hs_order;
}, extra_params => [ '-U', 'dbowner' ], on_error_stop => 1);
is($ret, 0, 'the owner configures, ingests and verifies') or diag($err);
like($out, qr/^0$/m, 'verify() finds no difference');
like($out, qr/^2026112502 10$/m, 'the owner sees the hour figures');

($ret, $out, $err) = $node->psql('owned', q{INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
	VALUES (2, 'o2', 1795572000000, 5)}, extra_params => [ '-U', 'ingest' ]);
is($ret, 0, 'the ingest role can insert events (the trigger runs as the owner)') or diag($err);
($ret, $out, $err) = $node->psql('owned', q{
	INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (1, '5', 'm');
	COPY insure_stream.user_log (log_time, device_id, account_id, page_name) FROM STDIN;
7	dev	acc	cart
\.
	SELECT insure_stream.track_page('acc2', 'dev', 'view', 'home', 1);
}, extra_params => [ '-U', 'ingest' ], on_error_stop => 1);
is($ret, 0, 'the ingest role ingests into every event table, by COPY too, and calls track_page()')
  or diag($err);
for my $forbidden (
	q{UPDATE insure_stream.order_hour_closed SET premium = 0},
	q{DELETE FROM insure_stream.order_state},
	q{UPDATE insure_stream.order_last_closed SET order_no = 'x'},
	q{DELETE FROM insure_stream.premium_alert},
	q{UPDATE insure_stream.raw_info SET raw_premium = '1'},
	q{DELETE FROM insure_stream.page_state},
	q{UPDATE insure_stream.page_state SET page_name = 'x'},
	q{DELETE FROM insure_stream.user_order},
	q{TRUNCATE insure_stream.user_log},
	q{INSERT INTO insure_stream.config VALUES ('drop_threshold', '0.5', false)},
	q{SELECT insure_stream.configure('drop_threshold', '0.5')},
	q{SELECT insure_stream.rebuild()},
	q{SELECT * FROM insure_stream.maintenance()},
	q{SELECT * FROM insure_stream.purge_events('1 day')})
{
	($ret, $out, $err) = $node->psql('owned', $forbidden, extra_params => [ '-U', 'ingest' ]);
	like($err, qr/permission denied/, "ingest role refused: $forbidden");
}
($ret, $out, $err) = $node->psql('owned', 'SELECT insure_stream.rebuild()',
	extra_params => [ '-U', 'stranger' ]);
like($err, qr/permission denied/, 'a role without grants cannot rebuild');
($ret, $out, $err) = $node->psql('owned', q{SELECT insure_stream.from_unixtime(0, 'yyyy-MM-dd HH')},
	extra_params => [ '-U', 'ingest' ]);
is($out, '1970-01-01 00', 'a role let into the schema can use the time helpers') or diag($err);

is($node->safe_psql('owned', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'consistent after the ingest role wrote');

($ret, $out, $err) = $node->psql('owned',
	'SELECT (SELECT count(*) FROM insure_stream.hs_order) + (SELECT count(*) FROM insure_stream.user_last_log)',
	extra_params => [ '-U', 'reader' ]);
is($out, '3', 'the reader reads the results') or diag($err);
($ret, $out, $err) = $node->psql('owned',
	q{INSERT INTO insure_stream.user_order (id, gmt_modified) VALUES (3, 1795572000000)},
	extra_params => [ '-U', 'reader' ]);
like($err, qr/permission denied/, 'the reader cannot ingest');

# what the functions granted, they take back; the schema stays open to a
# role that still has the other right
($ret, $out, $err) = $node->psql('owned', q{
	SELECT insure_stream.grant_read('ingest');
	SELECT insure_stream.revoke_ingest('ingest');
	SELECT has_column_privilege('ingest', 'insure_stream.user_log', 'log_time', 'INSERT'),
		   has_function_privilege('ingest', 'insure_stream.track_page(text, text, text, text, bigint)', 'EXECUTE'),
		   has_table_privilege('ingest', 'insure_stream.hs_order', 'SELECT'),
		   has_schema_privilege('ingest', 'insure_stream', 'USAGE');
	SELECT insure_stream.revoke_read('ingest');
	SELECT insure_stream.revoke_read('reader');
	SELECT has_table_privilege(r, 'insure_stream.hs_order', 'SELECT') OR has_schema_privilege(r, 'insure_stream', 'USAGE')
	  FROM (VALUES ('ingest'), ('reader')) AS v(r);
}, extra_params => [ '-U', 'dbowner' ], on_error_stop => 1);
is($ret, 0, 'the owner revokes ingest and reading') or diag($err);
is(join("\n", grep { $_ ne '' } split /\n/, $out), "f|f|t|t\nf\nf", 'revoke_ingest() and revoke_read() take back what was granted, the schema last');
$node->stop;
done_testing();
