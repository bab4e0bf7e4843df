# insure_stream on a Citus cluster run by a database owner who is not a
# superuser, as on a managed service: the owner installs the extension,
# distributes it, ingests and reads; roles it did not empower cannot
# distribute, and an ingest role ingests but cannot set arrival order or
# ingest time, through the coordinator or on a shard.  Needs Citus 13.2 installed (scripts/test-citus.sh).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @nodes;
for my $name (qw(coordinator worker1 worker2))
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'citus'
max_prepared_transactions = 100
citus.local_hostname = '} . $node->host . q{'
});
	$node->start;
	# the owner and the database exist on every node, made by the superuser
	$node->safe_psql('postgres', q{
		SET citus.enable_ddl_propagation = off;
		CREATE ROLE app_owner LOGIN;
		CREATE ROLE app_ingest LOGIN;
		CREATE ROLE app_reader LOGIN;
		CREATE DATABASE app OWNER app_owner;
	});
	$node->safe_psql('app', 'CREATE EXTENSION citus');
	push @nodes, $node;
}
my ($coord, $w1, $w2) = @nodes;
$coord->safe_psql('app', sprintf(q{
	SELECT citus_set_coordinator_host('%s', %d);
	SELECT citus_add_node('%s', %d);
	SELECT citus_add_node('%s', %d);
}, $coord->host, $coord->port, $w1->host, $w1->port, $w2->host, $w2->port));

# everything from here as the owner, who is no superuser
my $owner = sub { $coord->safe_psql('app', "SET ROLE app_owner; $_[0]") };
is($coord->safe_psql('app', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'app_owner'}), 'f',
	'the database owner is not a superuser');
$owner->(q{CREATE EXTENSION insure_stream; SELECT insure_stream.configure('time_zone', 'UTC')});
is($w1->safe_psql('app', q{SELECT extversion FROM pg_extension WHERE extname = 'insure_stream'}),
	$coord->safe_psql('app', q{SELECT extversion FROM pg_extension WHERE extname = 'insure_stream'}),
	'the owner\'s CREATE EXTENSION reached the workers');

# an ingest role may not distribute
$owner->(q{SELECT insure_stream.grant_ingest('app_ingest')});
my ($rc, $out, $err) = $coord->psql('app', 'SET ROLE app_ingest; SELECT insure_stream.distribute()');
like($err, qr/permission denied for function distribute/, 'an ingest role cannot call distribute()');

like($owner->(q{SELECT string_agg(table_name || ' ' || distribution, ', ') FROM insure_stream.distribute(4)}),
	qr/insure_stream.user_order by id/, 'the owner distributes the tables');

# the owner ingests and reads on the cluster
my $now = $coord->safe_psql('app', q{SELECT (extract(epoch FROM now()) * 1000)::bigint});
$owner->(qq{
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT u % 300, 'P' || (u % 50), 'T' || (u % 20), $now - u, 1.5 FROM generate_series(1, 1000) u;
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'a'), (2, '100', 'b');
	INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (1, '50', 'drop'), (2, '99', 'keep');
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
	SELECT 1700000000000 + a, 'd', 'acct' || (a % 30), 'p' || a FROM generate_series(1, 300) a;
});
is($owner->(q{SELECT count(*) FROM insure_stream.last_order}), '300', 'the owner reads last_order (300 users)');
is($owner->(q{SELECT sum(policy_cnt) >= 1 AND sum(total_premium) = 450 FROM insure_stream.hs_order}), 't',
	'the owner reads hs_order (300 users of 1.5)');
is($owner->(q{SELECT string_agg(id::text, ',') FROM insure_stream.premium_alert}), '1',
	'the owner reads the alert');
is($owner->(q{SELECT count(*) FROM insure_stream.user_last_log}), '30', 'the owner reads user_last_log');
is($owner->(q{SELECT task FROM insure_stream.maintenance() ORDER BY 1 LIMIT 1}), 'compact_orders',
	'the owner runs maintenance()');
is($owner->(q{SELECT insure_stream.forward_alerts()}), '1', 'the owner forwards the queued alert');

# verify() and rebuild() on the cluster, as the owner; a temporary table of
# the owner's named as a table they copy makes them fail, never read it
is($owner->(q{SELECT count(*) FROM insure_stream.verify()}), '0', 'the owner verifies the cluster: no difference');
my $results = q{SELECT (SELECT string_agg(h::text, ';' ORDER BY biz_date) FROM insure_stream.hs_order h),
	(SELECT string_agg(l::text, ';' ORDER BY id) FROM insure_stream.last_order l),
	(SELECT string_agg(u::text, ';' ORDER BY account_id) FROM insure_stream.user_last_log u)};
my $before = $owner->($results);
$owner->(q{SELECT insure_stream.rebuild()});
is($owner->($results), $before, 'the owner rebuilds on the cluster: the same results');
is($owner->(q{SELECT count(*) FROM insure_stream.verify()}), '0', 'after rebuild(): no difference');
($rc, $out, $err) = $coord->psql('app', q{SET ROLE app_owner;
	CREATE TEMPORARY TABLE user_order (id bigint);
	INSERT INTO pg_temp.user_order VALUES (-1);
	SELECT count(*) FROM insure_stream.verify()});
like($err, qr/relation "user_order" already exists/, 'verify() refuses to run over the owner\'s temporary user_order');
($rc, $out, $err) = $coord->psql('app', q{SET ROLE app_owner;
	SELECT * FROM insure_stream.cluster_copies(ARRAY['user_order'])});
like($err, qr/permission denied for function cluster_copies/, 'the owner cannot call cluster_copies()');

# a reading role: Citus reads the shards behind a view as the session's
# role (citus#1683), which has no rights on the states, so the views are
# refused; the reader reads the same rows through last_order_of(),
# user_last_log_of() and hs_order_hours(), which read as the extension,
# and premium_alert, a table, directly (its grant reaches the shards)
$owner->(q{SELECT insure_stream.grant_read('app_reader')});
for my $view (qw(hs_order last_order user_last_log))
{
	($rc, $out, $err) = $coord->psql('app', "SET ROLE app_reader; SELECT count(*) FROM insure_stream.$view");
	like($err, qr/permission denied for table (order_state|page_state)_\d+/,
		"a reader cannot read the $view view on the cluster (citus#1683)");
}
is($coord->safe_psql('app', q{SET ROLE app_reader;
	SELECT sum(total_premium) FROM insure_stream.hs_order_hours('1970010100', '2999123123')}), '450',
	'a reader reads hs_order_hours() on the cluster');
my $as_owner = $owner->(q{SELECT (SELECT string_agg(l::text, ';' ORDER BY id) FROM insure_stream.last_order l),
	(SELECT string_agg(l::text, ';' ORDER BY id) FROM insure_stream.last_order l WHERE id IN (7, 299)),
	(SELECT string_agg(u::text, ';' ORDER BY account_id) FROM insure_stream.user_last_log u),
	(SELECT string_agg(u::text, ';' ORDER BY account_id) FROM insure_stream.user_last_log u WHERE account_id IN ('acct3', 'acct29')),
	(SELECT string_agg(a::text, ';' ORDER BY id) FROM insure_stream.premium_alert a)});
is($coord->safe_psql('app', q{SET ROLE app_reader;
	SELECT (SELECT string_agg(l::text, ';' ORDER BY id) FROM insure_stream.last_order_of() l),
	(SELECT string_agg(l::text, ';' ORDER BY id) FROM insure_stream.last_order_of('{7,299,-5}') l),
	(SELECT string_agg(u::text, ';' ORDER BY account_id) FROM insure_stream.user_last_log_of() u),
	(SELECT string_agg(u::text, ';' ORDER BY account_id) FROM insure_stream.user_last_log_of('{acct3,acct29,none}') u),
	(SELECT string_agg(a::text, ';' ORDER BY id) FROM insure_stream.premium_alert a)}), $as_owner,
	'a reader reads last_order_of(), user_last_log_of() and premium_alert on the cluster: the owner\'s rows');
like($as_owner, qr/^[^|]+;[^|]+\|[^|;]+;[^|;]+\|[^|]+;[^|]+\|[^|;]+;[^|;]+\|[^|]+$/,
	'all users, two users, all accounts, two accounts, the alert');
for my $f (q{hs_order_hours('1970010100', '2999123123')}, q{last_order_of()}, q{user_last_log_of()})
{
	($rc, $out, $err) = $coord->psql('app', "SET ROLE app_ingest; SELECT * FROM insure_stream.$f");
	like($err, qr/permission denied for function/, "an ingest role cannot call $f");
}

# an ingest role on the cluster: grant_ingest() after distribute() adds
# the two columns the coordinator sends to the shards, which number and
# stamp every row themselves (src/arrival.c): what the role ingests is
# applied, and what it says of arrival order or ingest time is replaced,
# through the coordinator as directly on a shard
$owner->(q{SELECT insure_stream.grant_ingest('app_ingest')});
my $ingest = sub { $coord->safe_psql('app', "SET ROLE app_ingest; $_[0]") };
$ingest->(qq{
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT 1000 + u, 'Q' || u, 'R' || u, $now - u, 2 FROM generate_series(1, 50) u;
	INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (2, '10', 'ingested drop');
});
($rc, $out, $err) = $coord->psql('app', "SET ROLE app_ingest;\nCOPY insure_stream.user_log (log_time, device_id, account_id, page_name) FROM STDIN;\n"
	. join('', map { "17000000010$_\tpad\tcopied$_\tp$_\n" } 10 .. 29) . "\\.\n");
is($rc, 0, 'an ingest role COPYs page views on the cluster') or diag($err);
is($owner->(q{SELECT count(*) || ' ' || sum(account_payble) FROM insure_stream.last_order WHERE id > 1000}), '50 100',
	'an ingest role\'s orders are applied on the cluster');
is($owner->(q{SELECT now_info FROM insure_stream.premium_alert WHERE id = 2}), 'ingested drop',
	'an ingest role\'s policy change raises its alert on the cluster');
is($owner->(q{SELECT count(*) FROM insure_stream.user_last_log WHERE account_id LIKE 'copied%'}), '20',
	'an ingest role\'s copied page views are applied on the cluster');
my $groups = $coord->safe_psql('app', q{SELECT string_agg(groupid::text, ',' ORDER BY groupid) FROM pg_dist_node WHERE groupid > 0});
is($owner->(q{
	SELECT string_agg(DISTINCT (ingest_seq % 256)::text, ',' ORDER BY (ingest_seq % 256)::text)
	  FROM (SELECT ingest_seq FROM insure_stream.user_order WHERE id > 1000
			UNION ALL SELECT ingest_seq FROM insure_stream.user_log WHERE account_id LIKE 'copied%') e}), $groups,
	'each row is numbered by its node: the low byte is the node\'s group');
is($owner->(q{SELECT count(DISTINCT ingest_seq) FROM insure_stream.user_order}), '1050',
	'arrival numbers are unique across the nodes');
$ingest->(qq{
	INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, ingest_seq, ingested_at) OVERRIDING SYSTEM VALUE
	VALUES (2001, 'forged', $now, 9223372036854775000, '2000-01-01 00:00:00+00')});
is($owner->(q{SELECT ingest_seq < 9223372036854775000 AND ingested_at > now() - interval '1 hour'
	FROM insure_stream.user_order WHERE id = 2001}), 't',
	'an arrival number and ingest time sent through the coordinator are replaced by the node\'s');
# directly on the worker that holds the shard of user 2002
my $shard = $coord->safe_psql('app', q{SELECT get_shard_id_for_distribution_column('insure_stream.user_order', 2002)});
my $port = $coord->safe_psql('app', qq{SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid) WHERE p.shardid = $shard});
my ($holder) = grep { $_->port == $port } ($w1, $w2);
($rc, $out, $err) = $holder->psql('app', qq{SET ROLE app_ingest; SET citus.enable_manual_changes_to_shards = on;
	INSERT INTO insure_stream.user_order_$shard (id, order_no, gmt_modified, ingest_seq, ingested_at)
	VALUES (2002, 'forged on the shard', $now, 9223372036854775000, '2000-01-01 00:00:00+00')});
is($rc, 0, 'an ingest role writes a shard directly on its worker') or diag($err);
is($owner->(q{SELECT ingest_seq < 9223372036854775000 AND ingested_at > now() - interval '1 hour'
	FROM insure_stream.user_order WHERE id = 2002}), 't',
	'an arrival number and ingest time written on the shard are replaced by the node\'s');
is($owner->(q{SELECT order_no FROM insure_stream.last_order WHERE id = 2002}), 'forged on the shard',
	'and the row is applied as any other');
is($owner->(q{SELECT count(*) FROM insure_stream.verify()}), '0', 'verify(): no difference after the ingest role\'s events');
# a placement's floor is scanned once, recorded by its user_order or
# user_log shard, whichever of its tables (update_info's policy changes
# above) was numbered first, by its shard id
is(join(';', map { $_->safe_psql('app', q{SELECT count(*) > 0
	AND bool_and(s.logicalrelid IN ('insure_stream.user_order'::regclass, 'insure_stream.user_log'::regclass))
	FROM insure_stream.node_arrival_checked c LEFT JOIN pg_dist_shard s ON s.shardid = c.shard}) } ($w1, $w2)), 't;t',
	'each worker records its checked placements by their user_order or user_log shard only');
# the node's counter and its bookkeeping are the extension's own: neither
# the ingest role nor the owner can draw from it, move it back, read or
# write what it has checked, or fire the trigger by hand
for my $role (qw(app_ingest app_owner))
{
	for my $sql (q{SELECT nextval('insure_stream.node_arrival')},
		q{SELECT setval('insure_stream.node_arrival', 1)},
		q{SELECT * FROM insure_stream.node_arrival_checked},
		q{INSERT INTO insure_stream.node_arrival_checked VALUES (0)},
		q{SELECT insure_stream.number_on_shard()})
	{
		($rc, $out, $err) = $holder->psql('app', "SET ROLE $role; $sql");
		like($err, qr/permission denied/, "on a worker $role is refused: $sql");
	}
}
($rc, $out, $err) = $coord->psql('app', q{SET ROLE app_ingest; SELECT * FROM insure_stream.drop_shards()});
like($err, qr/permission denied for function drop_shards/, 'an ingest role cannot call drop_shards()');
$owner->(q{SELECT insure_stream.revoke_ingest('app_ingest')});
($rc, $out, $err) = $coord->psql('app', q{SET ROLE app_ingest;
	INSERT INTO insure_stream.user_order (id, gmt_modified) VALUES (5, 1)});
like($err, qr/permission denied/, 'after revoke_ingest() the role ingests nothing');
is($coord->safe_psql('app', q{SELECT has_column_privilege('app_ingest', 'insure_stream.user_order', 'ingest_seq', 'INSERT')}), 'f',
	'revoke_ingest() takes the two columns back');

# the owner removes the extension from the cluster: drop_shards(), which
# others may not call, then DROP EXTENSION leaves no shard on any node
is($owner->(q{SELECT count(*) FROM insure_stream.drop_shards()}), '13', 'the owner drops the shards of the 13 tables');
$owner->(q{SET client_min_messages = warning; DROP EXTENSION insure_stream CASCADE});
is(join(',', map { $_->safe_psql('app', q{SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'insure_stream'}) } @nodes), '0,0,0', 'then DROP EXTENSION by the owner leaves no relation on any node');

done_testing();
