# insure_stream on a Citus cluster (a coordinator and two workers on local
# sockets) against one plain server: the same event stream into both, every
# result identical.  The stream has late events, users moving hours, order
# numbers and phones shared across shards, a bulk COPY, eight concurrent
# sessions, track_page() calls, key customers' premium drops, and a shard
# move in the middle.  Needs Citus 13.2 installed (scripts/test-citus.sh).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $tmp = PostgreSQL::Test::Utils::tempdir;

my $plain = PostgreSQL::Test::Cluster->new('plain');
$plain->init;
$plain->start;

my @citus;
for my $name (qw(coordinator worker1 worker2))
{
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init;
	$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'citus'
max_prepared_transactions = 100
wal_level = logical
max_connections = 100
citus.local_hostname = '} . $node->host . q{'
});
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	push @citus, $node;
}
my ($coord, $w1, $w2) = @citus;
$coord->safe_psql('postgres', sprintf(q{
	SELECT citus_set_coordinator_host('%s', %d);
	SELECT citus_add_node('%s', %d);
	SELECT citus_add_node('%s', %d);
}, $coord->host, $coord->port, $w1->host, $w1->port, $w2->host, $w2->port));

for my $node ($plain, $coord)
{
	$node->safe_psql('postgres', q{
		CREATE EXTENSION insure_stream;
		SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
	});
}

# distribute(): what it did, and that a second call changes nothing
my $distributed = $coord->safe_psql('postgres',
	'SELECT table_name || \' \' || distribution FROM insure_stream.distribute(8)');
like($distributed, qr/insure_stream.user_order by id/, 'distribute(): orders by user id');
like($distributed, qr/insure_stream.page_state by account_id/, 'distribute(): page state by account');
like($distributed, qr/insure_stream.config reference/, 'distribute(): settings as a reference table');
like($coord->safe_psql('postgres', 'SELECT count(*) FROM insure_stream.distribute()'),
	qr/^14$/, 'distribute() again: nothing left to do');
is($coord->safe_psql('postgres', q{
	SELECT count(*) FROM pg_dist_partition
	 WHERE logicalrelid::text LIKE 'insure_stream.%'}), '13', 'thirteen tables distributed');
is($w1->safe_psql('postgres', q{SELECT insure_stream.setting('time_zone')}), 'Asia/Shanghai',
	'a worker reads the settings configured on the coordinator');
both(q{SELECT insure_stream.configure('max_future', '2 days')});
is($w2->safe_psql('postgres', q{SELECT insure_stream.setting('max_future')}), '2 days',
	'configure() after distribute(): every node reads the new value');
# run a statement on both, which must both succeed
sub both
{
	my ($sql) = @_;
	$plain->safe_psql('postgres', $sql);
	$coord->safe_psql('postgres', $sql);
}

# every result, in a deterministic order
my %results = (
	hs_order => 'SELECT * FROM insure_stream.hs_order ORDER BY biz_date',
	hs_order_hours => q{SELECT * FROM insure_stream.hs_order_hours('0000000000', '9999999999') ORDER BY biz_date},
	last_order => 'SELECT * FROM insure_stream.last_order ORDER BY id',
	user_last_log => 'SELECT * FROM insure_stream.user_last_log ORDER BY account_id',
	premium_alert => 'SELECT * FROM insure_stream.premium_alert ORDER BY id',
	raw_info => 'SELECT * FROM insure_stream.raw_info ORDER BY id',
	event_counts => q{SELECT (SELECT count(*) FROM insure_stream.user_order),
		(SELECT count(*) FROM insure_stream.update_info),
		(SELECT count(*) FROM insure_stream.user_log)},
	order_state => q{SELECT id, day, gmt_modified, order_no, order_no_at, customer_tel,
		customer_tel_at, account_payble, account_payble_at, biz_date
		FROM insure_stream.order_state ORDER BY id, day},
	page_state => q{SELECT account_id, device_key, device_id, log_time, bury_point_type,
		bury_point_type_at, page_name, page_name_at, from_calls
		FROM insure_stream.page_state ORDER BY account_id, device_key});

sub compare_all
{
	my ($when) = @_;
	for my $name (sort keys %results)
	{
		my $want = $plain->safe_psql('postgres', $results{$name});
		my $got = $coord->safe_psql('postgres', $results{$name});
		my $rows = () = $want =~ /\n/g;
		ok($want eq $got, "$when: $name identical (" . ($want eq '' ? 0 : $rows + 1) . ' rows)')
		  or diag("plain:\n" . substr($want, 0, 2000) . "\ncluster:\n" . substr($got, 0, 2000));
	}
}

# today's start in Asia/Shanghai, epoch ms: every order falls in today
my $day0 = $plain->safe_psql('postgres', q{
	SELECT (extract(epoch FROM date_trunc('day', now() AT TIME ZONE 'Asia/Shanghai')
		AT TIME ZONE 'Asia/Shanghai') * 1000)::bigint});
my $hour = 3600000;

# 1. INSERT ... SELECT: 2000 users, 5 orders each over the day's hours;
# order numbers and phones shared by users of different shards
both(qq{
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT u, 'PO' || (u % 700), '138' || (u % 300),
		   $day0 + ((u * 7 + k * 5) % 22) * $hour + (u % 1000) * 1000 + k,
		   ((u * 13 + k) % 1000) / 4.0
	  FROM generate_series(1, 2000) u, generate_series(1, 5) k
	 ORDER BY k, u});
compare_all('after INSERT ... SELECT');

# 2. COPY of a file: late events (older than the users' last ones), users
# moving to a later hour, nulls that keep earlier values, ties on
# gmt_modified within the statement (row order decides)
my $orders_csv = "$tmp/orders.csv";
$plain->safe_psql('postgres', qq{
	COPY (SELECT u, CASE WHEN k = 2 THEN NULL ELSE 'PN' || (u % 500) END,
				 CASE WHEN k = 3 THEN NULL ELSE '139' || (u % 250) END,
				 CASE WHEN k = 1 THEN $day0 + (u % 3) * $hour
					  ELSE $day0 + (22 + (u % 2)) * $hour + (u % 100) END,
				 CASE WHEN k = 4 THEN NULL ELSE (u % 777) / 8.0 END
			FROM generate_series(1, 3000, 3) u, generate_series(1, 5) k
		   ORDER BY u, k)
	  TO '$orders_csv' WITH (FORMAT csv)});
both(qq{COPY insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
		FROM '$orders_csv' WITH (FORMAT csv)});
compare_all('after COPY');

# listeners of alerts: on the plain server the trigger notifies at commit;
# on the cluster the workers queue the notifications, and forward_alerts()
# on the coordinator sends them
my %listener;
for my $node ($plain, $coord)
{
	$listener{ $node->name } = $node->background_psql('postgres');
	$listener{ $node->name }->query_safe('LISTEN insure_stream_premium_drop');
}
my %heard = (plain => [], coordinator => []);

sub hear
{
	for my $name (keys %listener)
	{
		my $out = $listener{$name}->query_safe('SELECT 1');
		push @{ $heard{$name} }, $out =~ /notification "insure_stream_premium_drop" with payload "([^"]*)"/g;
	}
}

sub forward_and_compare_alerts
{
	my ($when) = @_;
	my $sent = $coord->safe_psql('postgres', 'SELECT insure_stream.forward_alerts()');
	hear();
	is($sent, scalar(@{ $heard{coordinator} }), "$when: forward_alerts() sent what the workers queued ($sent)");
	is_deeply([ sort @{ $heard{coordinator} } ], [ sort @{ $heard{plain} } ],
		"$when: a listener on the coordinator heard the alerts a listener on one server heard ("
		  . scalar(@{ $heard{plain} }) . ')');
	is($coord->safe_psql('postgres', 'SELECT count(*) FROM insure_stream.alert_outbox'), '0',
		"$when: nothing left in the outbox");
	%heard = (plain => [], coordinator => []);
}

# page views and key customers, then their events
both(q{
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
	SELECT 1700000000000 + (a * 37 + k * 11) % 5000,
		   CASE WHEN k % 4 = 0 THEN NULL ELSE 'dev' || (k % 3) END,
		   CASE WHEN a = 0 THEN '' ELSE 'acct' || a END,
		   CASE WHEN k % 5 = 0 THEN NULL ELSE 'type' || k END,
		   CASE WHEN k % 7 = 0 THEN NULL ELSE 'page' || (a + k) END
	  FROM generate_series(0, 800) a, generate_series(1, 6) k
	 ORDER BY k, a});
# track_page(): one call per statement, which Citus runs on the account's node
both(join('', map { "SELECT insure_stream.track_page('acct$_', 'phone', 'click', 'tracked$_', "
	  . (1700000004000 + $_) . ");\n" } 1 .. 40));
my ($rc, $out, $err) = $coord->psql('postgres', q{
	SELECT insure_stream.track_page('acct' || a, 'phone', 'x', 'y', 1700000004000) FROM generate_series(1, 40) a});
like($err, qr/on another node.*\n.*HINT:  Call insure_stream.track_page\(\) as a statement of its own/s,
	'track_page() inside a query: refused on the coordinator, with the way to call it');
both(q{
	INSERT INTO insure_stream.raw_info (id, raw_premium, raw_info)
	SELECT c, (1000 + c % 100)::text, 'policy ' || c FROM generate_series(1, 600) c});
both(q{
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified)
	SELECT c, 'update', (CASE WHEN (c + k) % 9 = 0 THEN 700 ELSE 990 END + c % 100)::text,
		   'change ' || k || ' of ' || c, 1700000000000 + k
	  FROM generate_series(1, 700) c, generate_series(1, 3) k
	 ORDER BY k, c});
compare_all('after page views and premium changes');
forward_and_compare_alerts('premium changes');

# 3a. before the move, worker1's arrival counter runs far ahead of
# worker2's: the users, key customers and accounts of the shards about to
# move get late events there, and only there, then a latest one.  After the move their new
# events are numbered by worker2, which must still number them after
# their old ones (src/arrival.c): a tie on the event time is won by the
# later event, and a policy change is not taken for a replay.
my ($moving_orders, $moving_pages) = split /\n/, $coord->safe_psql('postgres', sprintf(q{
	SELECT DISTINCT ON (s.logicalrelid) s.shardid
	  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
	 WHERE s.logicalrelid::text IN ('insure_stream.user_order', 'insure_stream.user_log') AND n.nodeport = %d
	 ORDER BY s.logicalrelid, s.shardid}, $w1->port));
my $moving_users = $coord->safe_psql('postgres', qq{SELECT string_agg(u::text, ',' ORDER BY u) FROM generate_series(1, 600) u
	WHERE get_shard_id_for_distribution_column('insure_stream.user_order', u) = $moving_orders});
my $moving_accounts = $coord->safe_psql('postgres', qq{SELECT string_agg(a::text, ',' ORDER BY a) FROM generate_series(1, 800) a
	WHERE get_shard_id_for_distribution_column('insure_stream.user_log', 'acct' || a) = $moving_pages});
ok($moving_users ne '' && $moving_accounts ne '', 'users, key customers and accounts in the shards that move');
both(qq{
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT u, 'LATE' || k, NULL, $day0 + k, NULL FROM unnest('{$moving_users}'::bigint[]) u, generate_series(1, 100) k
	 ORDER BY k, u});
both(qq{
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified)
	SELECT c, 'update', (1000 + c % 100)::text, 'steady ' || k, 1700000005000 + k
	  FROM unnest('{$moving_users}'::bigint[]) c, generate_series(1, 3) k ORDER BY k, c});
both(qq{
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
	SELECT 1699999000000 + k, 'dev1', 'acct' || a, 'late', 'late' || k
	  FROM unnest('{$moving_accounts}'::int[]) a, generate_series(1, 100) k ORDER BY k, a});
# and then their latest event, numbered last on worker1
both(qq{
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT u, 'LAST' || u, 'LASTT' || u, $day0 + 23 * $hour + 1000, 3 FROM unnest('{$moving_users}'::bigint[]) u});
both(qq{
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
	SELECT 1700000009900, 'dev1', 'acct' || a, 'last', 'last' || a FROM unnest('{$moving_accounts}'::int[]) a});
compare_all('after late events in the shards that move');
ok($w1->safe_psql('postgres', q{SELECT last_value FROM insure_stream.node_arrival})
	> $w2->safe_psql('postgres', q{SELECT last_value FROM insure_stream.node_arrival}) + 1000,
	"worker1's arrival counter is ahead of worker2's");

# 3. a shard move in the middle: the state moves with its shard (a
# colocation group moves together)
my $on_worker2 = sprintf(q{SELECT count(*) FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	 WHERE n.nodeport = %d}, $w2->port);
my $before = $coord->safe_psql('postgres', $on_worker2);
$coord->safe_psql('postgres', sprintf(q{
	SELECT citus_move_shard_placement(m.shardid, '%s', %d, '%s', %d, shard_transfer_mode => 'block_writes')
	  FROM (SELECT DISTINCT ON (s.logicalrelid) s.shardid
			  FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid)
			 WHERE s.logicalrelid::text IN ('insure_stream.user_order', 'insure_stream.user_log')
			   AND n.nodeport = %d
			 ORDER BY s.logicalrelid, s.shardid) m},
	$w1->host, $w1->port, $w2->host, $w2->port, $w1->port));
# user_order's group has 8 tables, user_log's 2: 10 placements moved
is($coord->safe_psql('postgres', $on_worker2) - $before, 10,
	'two shards moved from worker1 to worker2, with their co-located state');
compare_all('after the shard move');

# 3b. on worker2 now: ties with the moved users' latest orders and the
# moved accounts' latest page views, won on one server by the later
# event; a policy change of each moved key customer, applied
my $ties = $plain->safe_psql('postgres', qq{
	SELECT string_agg(format('(%s, %L, %L, %s, 7.5)', id, 'TIE' || id, 'TIET' || id, gmt_modified), ', ' ORDER BY id)
	  FROM insure_stream.last_order WHERE id = ANY ('{$moving_users}')});
both("INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) VALUES $ties");
my $page_ties = $plain->safe_psql('postgres', qq{
	SELECT string_agg(format('(%s, %L, %L, %L, %L)', log_time, device_id, account_id, 'tie', 'tie' || account_id), ', ' ORDER BY account_id, device_key)
	  FROM insure_stream.page_state WHERE account_id = ANY (SELECT 'acct' || a FROM unnest('{$moving_accounts}'::int[]) a)});
both("INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) VALUES $page_ties");
both(qq{
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified)
	SELECT c, 'update', '500', 'after the move ' || c, 1700000006000 FROM unnest('{$moving_users}'::bigint[]) c});
is($plain->safe_psql('postgres', qq{SELECT count(*) FROM insure_stream.last_order WHERE id = ANY ('{$moving_users}') AND order_no = 'TIE' || id})
	. ' ' . $plain->safe_psql('postgres', qq{SELECT count(*) FROM insure_stream.raw_info WHERE id = ANY ('{$moving_users}') AND raw_info LIKE 'after the move%'}),
	(scalar(split /,/, $moving_users)) . ' ' . (scalar(split /,/, $moving_users)),
	'on one server the later events win the ties and the policy changes are applied');
compare_all('after ties and policy changes in the moved shards');
forward_and_compare_alerts('policy changes in the moved shards');

# 4. after the move: the moved users go on (later orders, ties broken by
# arrival order), page views of moved accounts, another premium round
both(qq{
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT u, 'PM' || (u % 300), '137' || (u % 90), $day0 + 23 * $hour + 500, (u % 50) + k
	  FROM generate_series(1, 2000, 7) u, generate_series(1, 2) k
	 ORDER BY u, k});
both(q{
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name)
	SELECT 1700000009000 + a % 3, 'dev1', 'acct' || a, 'after', 'moved' || a
	  FROM generate_series(1, 800, 3) a});
both(q{
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified)
	SELECT c, 'update', (CASE WHEN c % 4 = 0 THEN 100 ELSE 900 END)::text, 'round 2 of ' || c, 1700000009000
	  FROM generate_series(1, 600, 2) c});
compare_all('after ingest following the move');
forward_and_compare_alerts('premium changes after the move');

# 5. eight concurrent sessions, each writing its own slice of users, four
# by COPY and four by INSERT ... SELECT; the slices share order numbers and
# phones (no ties across sessions, so the result does not depend on which
# commits first)
my @commands;
for my $s (0 .. 7)
{
	my $slice = qq{SELECT u, 'PS' || (u % 97), '136' || (u % 41),
					 $day0 + ((u + k) % 20) * $hour + k * 10, (u % 333) / 2.0
				FROM generate_series(1 + $s, 4000, 8) u, generate_series(1, 3) k
			   ORDER BY k, u};
	my $columns = 'insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)';
	if ($s % 2)
	{
		push @commands, "INSERT INTO $columns $slice";
		next;
	}
	my $f = "$tmp/slice$s.csv";
	$plain->safe_psql('postgres', "COPY ($slice) TO '$f' WITH (FORMAT csv)");
	push @commands, "COPY $columns FROM '$f' WITH (FORMAT csv)";
}
for my $node ($plain, $coord)
{
	my @runs;
	for my $command (@commands)
	{
		my ($out, $err) = ('', '');
		push @runs, [
			IPC::Run::start(
				[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
				  '-c', $command ],
				'>', \$out, '2>', \$err),
			\$err ];
	}
	my $failed = 0;
	for my $r (@runs)
	{
		$r->[0]->finish;
		if ($r->[0]->result != 0)
		{
			$failed++;
			diag(${ $r->[1] });
		}
	}
	is($failed, 0, $node->name . ': eight concurrent sessions (COPY and INSERT ... SELECT), no error (no distributed deadlock)');
}
compare_all('after eight concurrent sessions');

# results read on the coordinator: hs_order merges the shards' partials
is($coord->safe_psql('postgres', q{
	SELECT count(*) FROM insure_stream.hs_order h
	  JOIN (SELECT biz_date, count(DISTINCT customer_tel) n FROM insure_stream.order_state GROUP BY 1) s
	 USING (biz_date) WHERE h.policy_holder_cnt <> s.n}), '0',
	'distinct holders are counted over all shards, not added per shard');

# hs_order_hours() of one hour on the cluster: the row of the view
is($coord->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT max(biz_date) b FROM insure_stream.order_state) h
	 WHERE (SELECT array_agg(v::text) FROM insure_stream.hs_order v WHERE v.biz_date = h.b)
		   = (SELECT array_agg(f::text) FROM insure_stream.hs_order_hours(h.b) f)}), '1',
	'hs_order_hours() of one hour on the cluster: the row of hs_order');

# a null distribution key: Citus refuses the statement, nothing changes
($rc, $out, $err) = $coord->psql('postgres', q{
	INSERT INTO insure_stream.user_order (id, order_no, gmt_modified) VALUES (7, 'ok', 1), (NULL, 'x', 1)});
isnt($rc, 0, 'an order with a null id is refused on the cluster');
like($err, qr/null|NULL/, 'with an error about the null key');
compare_all('after the refused statement');

# 6. maintenance on both: compaction closes nothing of today, a purge of
# everything older than today removes the same events; results unchanged
for my $node ($plain, $coord)
{
	$node->safe_psql('postgres', q{
		INSERT INTO insure_stream.user_log (log_time, account_id, page_name)
		SELECT 1000000000000, 'old' || a, 'old page' FROM generate_series(1, 30) a});
}
my %maintained = map {
	$_->name => $_->safe_psql('postgres', q{
		SELECT insure_stream.configure('retention', '1 day');
		SELECT string_agg(task || '=' || affected, ' ' ORDER BY task) FROM insure_stream.maintenance()})
} ($plain, $coord);
is($maintained{coordinator}, $maintained{plain},
	"maintenance() on the cluster did what it did on one server ($maintained{plain})");
compare_all('after maintenance');
my %status = map {
	$_->name => $_->safe_psql('postgres', q{
		SELECT string_agg(name || '=' || value, ' ' ORDER BY name) FROM insure_stream.status()
		 WHERE section IN ('events', 'results', 'pending')})
} ($plain, $coord);
is($status{coordinator}, $status{plain}, 'status() on the cluster: the same counts as on one server');

# 7. bad input with on_bad_input = error: the statement fails on the
# cluster as on one server, with the same message, and nothing changes
my %bad = map {
	my ($rc, $out, $err) = $_->psql('postgres', q{
		INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
		VALUES (11, 'fine', 1790000000000, 1), (12, 'bad', 1790000000000, 'NaN')});
	$_->name => ($err =~ /(ERROR:  [^\n]*)/)[0] // ''
} ($plain, $coord);
like($bad{coordinator}, qr/non-finite amount "NaN" in column "account_payble" of table "user_order"/,
	'bad input on the cluster: a class-22 error naming table, column and value');
is($bad{coordinator}, $bad{plain}, 'the same error as on one server');
compare_all('after the refused bad input');

# 8. bad input with on_bad_input = quarantine: the rows quarantined on the
# workers are kept in each node's rejected_events; results as on one
# server, and status() counts every node's rejections
both(qq{
	SELECT insure_stream.configure('on_bad_input', 'quarantine');
	SET client_min_messages = error;
	INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
	SELECT u, 'Q' || u, $day0 + u * 1000, CASE WHEN u % 3 = 0 THEN 'NaN'::float8 ELSE u END
	  FROM generate_series(3001, 3060) u;
	INSERT INTO insure_stream.update_info (id, now_premium, now_info)
	SELECT k, CASE WHEN k % 4 = 0 THEN 'not a premium' ELSE '1' END, 'q' FROM generate_series(1, 40) k;
	INSERT INTO insure_stream.user_log (log_time, account_id, page_name)
	SELECT CASE WHEN a % 5 = 0 THEN 99999999999999 ELSE $day0 + a END, 'q' || a, 'p' FROM generate_series(1, 50) a;
	SELECT insure_stream.configure('on_bad_input', 'error');
});
compare_all('after quarantined bad input');
is($w1->safe_psql('postgres', 'SELECT count(*) > 0 FROM insure_stream.rejected_events')
	. $w2->safe_psql('postgres', 'SELECT count(*) > 0 FROM insure_stream.rejected_events'), 'tt',
	'both workers quarantined rows of their shards');
%status = map {
	$_->name => $_->safe_psql('postgres', q{
		SELECT string_agg(name || '=' || value, ' ' ORDER BY name) FROM insure_stream.status()
		 WHERE section IN ('events', 'results')})
} ($plain, $coord);
like($status{plain}, qr/rejected_events rows=40 .*update_info rejected=10 .*user_log rejected=10 .*user_order rejected=20/,
	'one server counts its rejections');
is($status{coordinator}, $status{plain}, 'status() on the cluster counts the rejections of every node');

# 9. verify() and rebuild() on the cluster (read through the coordinator,
# with every node's rejections): consistent; a damaged state is reported
# as on one server, and rebuild() repairs it; a new time_zone re-derives
# every shard's state
my $verify = q{SELECT relation, key, column_name, expected, actual FROM insure_stream.verify() ORDER BY 1, 2, 3};
is($coord->safe_psql('postgres', $verify), '', 'verify() on the cluster: no difference');
is($plain->safe_psql('postgres', $verify), '', 'verify() on one server: no difference');
both(qq{
	UPDATE insure_stream.order_state SET account_payble = account_payble + 1 WHERE id = 17;
	DELETE FROM insure_stream.order_state WHERE id = 18;
	DELETE FROM insure_stream.page_state WHERE account_id = 'q7';
});
my %damage = map { $_->name => $_->safe_psql('postgres', $verify) } ($plain, $coord);
like($damage{plain}, qr/order_state\|id=17 .*order_state\|id=18 .*page_state\|q7 n\|/s,
	'verify() on one server reports the damaged states');
# (arrival numbers drawn differ between the two: the state rows compared without them)
s/\(.*\)//g for values %damage;
is($damage{coordinator}, $damage{plain}, 'verify() on the cluster reports the same differences');
both('SELECT insure_stream.rebuild()');
compare_all('after rebuild()');
is($coord->safe_psql('postgres', $verify), '', 'after rebuild() on the cluster: no difference');
both(q{SELECT insure_stream.configure('time_zone', 'UTC')});
compare_all('after a new time_zone');
is($coord->safe_psql('postgres', q{SELECT insure_stream.setting('time_zone')}) . ' '
	. $coord->safe_psql('postgres', $verify), 'UTC ', 'time_zone changed on the cluster; no difference');
%status = map {
	$_->name => $_->safe_psql('postgres', q{
		SELECT string_agg(name || '=' || value, ' ' ORDER BY name) FROM insure_stream.status()
		 WHERE section IN ('events', 'results', 'pending')})
} ($plain, $coord);
is($status{coordinator}, $status{plain}, 'status() after the re-derive: the same on the cluster');

# 10. DROP EXTENSION on the coordinator alone leaves the shard tables on
# every node (Citus's drop trigger, docs/citus.md): drop_shards() first
# drops them everywhere, then DROP EXTENSION leaves nothing, and the
# extension installs again
$_->quit for values %listener;
is($coord->safe_psql('postgres', q{SELECT count(*), bool_and(shards > 0) FROM insure_stream.drop_shards()}),
	'13|t', 'drop_shards(): the shards of the 13 Citus tables dropped');
$coord->safe_psql('postgres', 'SET client_min_messages = warning; DROP EXTENSION insure_stream CASCADE');
is(join(',', map { $_->safe_psql('postgres', q{SELECT count(*) FROM pg_class WHERE relnamespace = 'insure_stream'::regnamespace}) } @citus),
	'0,0,0', 'after drop_shards() and DROP EXTENSION no relation is left on any node');
$coord->safe_psql('postgres', 'CREATE EXTENSION insure_stream');
is($w2->safe_psql('postgres', q{SELECT count(*) FROM pg_extension WHERE extname = 'insure_stream'}), '1',
	'the extension installs again on the cluster');
done_testing();
