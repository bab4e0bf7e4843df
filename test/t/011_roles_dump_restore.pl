# Least privilege, as the three roles of the trust model (docs/security.md) meet it:
# A, the database owner (no superuser) that installs the extension; B, an
# ingest role; C, a role that may only connect.  B ingests with USAGE and
# INSERT on the contract columns (grant_ingest()) and cannot set what the
# server assigns; C reads results only with grant_read(), and never events
# or state.  A dumps the database as itself (pg_dump -Fc and plain) and
# restores it as itself (pg_restore and psql -f): events (arrival order and
# ingest time included), settings, raw_info, state, results, alerts and
# rejections come back identical, verify() is clean, and ingest goes on
# after the restored events.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('roles');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE a LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
	CREATE ROLE b LOGIN;
	CREATE ROLE c LOGIN;
	CREATE DATABASE src OWNER a;
});

# runs $sql as $role in $db; errors carry their SQLSTATE
sub as
{
	my ($role, $db, $sql, %opts) = @_;
	return $node->psql($db, "\\set VERBOSITY verbose\n" . $sql,
		extra_params => [ '-U', $role ], on_error_stop => 1, %opts);
}

sub ok_as
{
	my ($role, $db, $sql, $name) = @_;
	my ($ret, $out, $err) = as($role, $db, $sql);
	is($ret, 0, $name) or diag($err);
	return $out;
}

sub refused_as
{
	my ($role, $db, $sql, $sqlstate, $name) = @_;
	my ($ret, $out, $err) = as($role, $db, $sql);
	like($err, qr/ERROR:  $sqlstate:/, $name);
}

is($node->safe_psql('src', q{SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = 'a'}), 'f',
	'A is neither superuser nor allowed to create databases');

# C, connect-only, before anything is granted
ok_as('a', 'src', q{
	CREATE EXTENSION insure_stream;
	SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
	SELECT insure_stream.configure('order_window', 'none');
	SELECT insure_stream.configure('on_bad_input', 'quarantine');
	SELECT insure_stream.configure('drop_threshold', '0.2');
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p1'), (2, '100', 'p2'), (3, '100', 'p3');
}, 'A installs the extension, configures it and loads key customers');
is($node->safe_psql('src', q{SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'insure_stream'}),
	'postgres', 'the schema belongs to the bootstrap superuser');

for my $rel (qw(hs_order last_order premium_alert user_last_log))
{
	refused_as('c', 'src', "SELECT * FROM insure_stream.$rel", '42501',
		"C cannot read $rel before grant_read()");
}
for my $f (qw(hs_order_hours('2026120500') last_order_of() user_last_log_of()))
{
	refused_as('c', 'src', "SELECT * FROM insure_stream.$f", '42501',
		"C cannot call $f before grant_read()");
}
refused_as('b', 'src', q{INSERT INTO insure_stream.user_log (log_time, account_id) VALUES (1, 'x')},
	'42501', 'B cannot ingest before grant_ingest()');
refused_as('b', 'src', q{SELECT insure_stream.grant_ingest('b')}, '42501',
	'B cannot grant itself ingest');
refused_as('c', 'src', q{SELECT insure_stream.grant_read('c')}, '42501',
	'C cannot grant itself reading');

ok_as('a', 'src', q{
	SELECT insure_stream.grant_ingest('b');
	SELECT insure_stream.grant_read('c');
}, 'A grants ingest to B and reading to C');

# times relative to now (purge_events() works on event times): old events
# of 400 days ago, recent ones within the last two days.  The old ones start
# 10 minutes past a whole UTC hour so that their 5 minutes stay in one hour
# whatever the time of the run.
my $old = q{((floor(extract(epoch FROM now()) / 3600) * 3600 + 600)::bigint * 1000 - 400::bigint * 86400000)};
my $recent = q{((extract(epoch FROM now()) * 1000)::bigint - 86400000)};

# B ingests with nothing but USAGE and column INSERT
my $ingest = qq{
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
		SELECT g % 20, 'old' || g, 't' || (g % 7), $old + g * 1000, g / 8.0
		  FROM generate_series(1, 300) g;
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
		SELECT g % 40, 'o' || g, 't' || (g % 9), $recent + g * 60000, g / 4.0
		  FROM generate_series(1, 1500) g;
	INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
		VALUES (7, 'bad', $recent, 'NaN');
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified)
		VALUES (1, 'saved', '95', 'old', $old);
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info, gmt_modified)
		VALUES (1, 'saved', '50', 'a', $recent), (2, 'saved', '90', 'c', $recent),
			   (3, 'saved', 'abc', 'x', $recent), (5, 'saved', '10', 'z', $recent);
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
		SELECT $old + g, 'd' || (g % 3), 'a' || (g % 20), 'old' || g FROM generate_series(1, 200) g;
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
		SELECT $recent + g, 'd' || (g % 3), 'a' || (g % 25), 'p' || g FROM generate_series(1, 500) g;
};
ok_as('b', 'src', $ingest, 'B ingests orders, policy changes and page views with INSERT');
ok_as('b', 'src', q{
	INSERT INTO insure_stream.user_order VALUES (43, 'pos', 1, 1, 1.5, 'n', 'tp', 'c', 1, 1795572000000, 2.5);
	INSERT INTO insure_stream.user_log VALUES (1795572000000, 'dp', 'apos', 'view', 'list');
}, 'B inserts positionally without a column list (the contract columns come first)');
ok_as('b', 'src', q{
COPY insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble) FROM STDIN;
41	c1	tc	1795572000000	12.5
42	c2	tc	1795572060000	\N
\.
COPY insure_stream.update_info (id, event, now_premium, now_info) FROM STDIN;
2	saved	60	copied
\.
COPY insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) FROM STDIN;
1795572000000	dc	acopy	view	home
1795572000001	\N	acopy	\N	cart
\.
SELECT insure_stream.track_page('called', 'dev', 'view', 'home', 10);
}, 'B ingests with COPY and column lists, and calls track_page()');

# what the server assigns, B cannot set
my $orders = 'insure_stream.user_order (id, gmt_modified';
my @assigned = (
	[ "INSERT INTO $orders, ingested_at) VALUES (1, 1795572000000, '1970-01-01')",
	  'an INSERT naming ingested_at' ],
	[ "INSERT INTO $orders, ingested_at) VALUES (1, 1795572000000, DEFAULT)",
	  'an INSERT naming ingested_at, even with DEFAULT' ],
	[ "INSERT INTO $orders, ingest_seq) VALUES (1, 1795572000000, DEFAULT)",
	  'an INSERT naming ingest_seq with DEFAULT' ],
	[ "INSERT INTO $orders, ingest_seq) OVERRIDING SYSTEM VALUE VALUES (1, 1795572000000, 9223372036854775807)",
	  'an INSERT ... OVERRIDING SYSTEM VALUE naming ingest_seq' ],
	[ "INSERT INTO insure_stream.update_info (id, now_premium, ingested_at) VALUES (1, '1', 'infinity')",
	  'an INSERT into update_info naming ingested_at' ],
	[ "INSERT INTO insure_stream.user_log (log_time, account_id, ingest_seq) OVERRIDING SYSTEM VALUE VALUES (1, 'x', 1)",
	  'an INSERT into user_log naming ingest_seq' ],
	[ "COPY $orders, ingest_seq) FROM STDIN;\n1\t1795572000000\t9223372036854775807\n\\.",
	  'a COPY naming ingest_seq' ],
	[ "COPY $orders, ingested_at) FROM STDIN;\n1\t1795572000000\t1970-01-01\n\\.",
	  'a COPY naming ingested_at' ],
	[ "COPY insure_stream.user_log (log_time, account_id, ingest_seq, ingested_at) FROM STDIN;\n1\tx\t1\tinfinity\n\\.",
	  'a COPY into user_log naming both' ],
	[ "COPY insure_stream.user_log FROM STDIN;\n1\td\tx\tview\thome\t1\t1970-01-01\n\\.",
	  'a COPY without a column list (every column)' ],
	[ "INSERT INTO insure_stream.user_order VALUES (1, 'x', 1, 1, 1, 'x', 'x', 'x', 1, 1795572000000, 1, DEFAULT, DEFAULT)",
	  'an INSERT without a column list giving every column' ]);
for my $case (@assigned)
{
	refused_as('b', 'src', $case->[0], '42501', "B is refused $case->[1]");
}
my ($ret, $out, $err) = as('b', 'src',
	"INSERT INTO $orders, ingest_seq) VALUES (1, 1795572000000, 9223372036854775807)");
like($err, qr/ERROR:  (42501|428C9):/, 'B is refused an INSERT setting ingest_seq');

# B writes nothing but events
for my $forbidden (
	q{INSERT INTO insure_stream.order_state (id, day, gmt_modified, gmt_seq) VALUES (1, '2026-01-01', 1, 1)},
	q{UPDATE insure_stream.order_hour_closed SET premium = 0},
	q{INSERT INTO insure_stream.order_hour_closed VALUES ('2026010100', 1, 1, 1, 1)},
	q{DELETE FROM insure_stream.order_last_closed},
	q{DELETE FROM insure_stream.page_state},
	q{INSERT INTO insure_stream.premium_alert VALUES (9, 'x', 'y', '1', '2')},
	q{UPDATE insure_stream.premium_applied SET applied_seq = 0},
	q{INSERT INTO insure_stream.rejected_events (table_name, ingest_seq, reason, sqlstate, event) VALUES ('user_order', 1, 'x', 'x', '{}')},
	q{INSERT INTO insure_stream.maintenance_state (name, value) VALUES ('orders_closed_before', '2100-01-01')},
	q{INSERT INTO insure_stream.config (name, value) VALUES ('drop_threshold', '0.5')},
	q{UPDATE insure_stream.raw_info SET raw_premium = '1'},
	q{SELECT * FROM insure_stream.user_order},
	q{SELECT * FROM insure_stream.hs_order},
	q{SELECT insure_stream.configure('drop_threshold', '0.5')},
	q{SELECT insure_stream.grant_read('b')},
	q{SELECT setval('insure_stream.user_order_ingest_seq_seq', 1)})
{
	refused_as('b', 'src', $forbidden, '42501', "B is refused: $forbidden");
}
($ret, $out, $err) = as('b', 'src', q{
	GRANT INSERT (id) ON insure_stream.user_order TO c;
	SELECT has_column_privilege('c', 'insure_stream.user_order', 'id', 'INSERT');
});
like($err, qr/WARNING:  01007:/, 'B cannot pass ingest on (no grant option)');
is($out, 'f', 'C got nothing from B');

# C reads the results and nothing else
my $read = ok_as('c', 'src', q{
	SELECT (SELECT count(*) FROM insure_stream.hs_order) > 0,
		   (SELECT count(*) FROM insure_stream.last_order) > 0,
		   (SELECT count(*) FROM insure_stream.premium_alert) > 0,
		   (SELECT count(*) FROM insure_stream.user_last_log) > 0;
}, 'C reads the results after grant_read()');
is($read, 't|t|t|t', 'C sees every result');
is(ok_as('c', 'src', q{SELECT count(*) > 0 FROM insure_stream.hs_order_hours('2000010100', '2999123123')},
	'C reads hs_order_hours() after grant_read()'), 't', 'C sees hours through hs_order_hours()');
refused_as('b', 'src', q{SELECT * FROM insure_stream.hs_order_hours('2026120500')}, '42501',
	'B, which only ingests, cannot call hs_order_hours()');
is(ok_as('c', 'src', q{
	SELECT (SELECT count(*) FROM (SELECT * FROM insure_stream.last_order_of()
								  EXCEPT ALL SELECT * FROM insure_stream.last_order) d) = 0
	   AND (SELECT count(*) FROM insure_stream.last_order_of()) = (SELECT count(*) FROM insure_stream.last_order)
	   AND (SELECT count(*) FROM (SELECT * FROM insure_stream.user_last_log_of()
								  EXCEPT ALL SELECT * FROM insure_stream.user_last_log) d) = 0
	   AND (SELECT count(*) FROM insure_stream.user_last_log_of()) = (SELECT count(*) FROM insure_stream.user_last_log)
	   AND (SELECT count(*) FROM insure_stream.last_order) > 0 AND (SELECT count(*) FROM insure_stream.user_last_log) > 0},
	'C reads last_order_of() and user_last_log_of() after grant_read()'), 't',
	'C sees the rows of last_order and user_last_log through them');
for my $f (q{last_order_of('{1}')}, q{user_last_log_of()})
{
	refused_as('b', 'src', "SELECT * FROM insure_stream.$f", '42501',
		"B, which only ingests, cannot call $f");
}
for my $forbidden (
	q{SELECT * FROM insure_stream.user_order},
	q{SELECT * FROM insure_stream.update_info},
	q{SELECT * FROM insure_stream.user_log},
	q{SELECT * FROM insure_stream.order_state},
	q{SELECT * FROM insure_stream.order_hour_closed},
	q{SELECT * FROM insure_stream.order_last_closed},
	q{SELECT * FROM insure_stream.page_state},
	q{SELECT * FROM insure_stream.premium_applied},
	q{SELECT * FROM insure_stream.rejected_events},
	q{SELECT * FROM insure_stream.raw_info},
	q{SELECT * FROM insure_stream.maintenance_state},
	q{INSERT INTO insure_stream.user_log (log_time, account_id) VALUES (1, 'x')},
	q{DELETE FROM insure_stream.premium_alert},
	q{SELECT * FROM insure_stream.verify()},
	q{SELECT insure_stream.track_page('c', 'c', 'c', 'c', 1)})
{
	refused_as('c', 'src', $forbidden, '42501', "C is refused: $forbidden");
}

# A: operator edits, retention; a bad setting is refused however written
ok_as('a', 'src', q{
	UPDATE insure_stream.raw_info SET raw_premium = '500' WHERE id = 2;
	INSERT INTO insure_stream.raw_info VALUES (5, '100', 'p5');
	DELETE FROM insure_stream.raw_info WHERE id = 3;
	SELECT * FROM insure_stream.purge_events('30 days');
}, 'A edits raw_info and purges old events');
is($node->safe_psql('src', q{
	SELECT (SELECT count(*) FROM insure_stream.rejected_events) || ' ' ||
		   (SELECT count(*) FROM insure_stream.premium_alert) || ' ' ||
		   (SELECT count(*) FROM insure_stream.hs_order WHERE biz_date < to_char(now() - interval '300 days', 'YYYYMMDDHH24')) || ' ' ||
		   (SELECT count(*) FROM insure_stream.user_order WHERE gmt_modified < extract(epoch FROM now() - interval '300 days') * 1000)
}), '2 2 1 0', 'two events quarantined, two alerts, results of purged events kept');
refused_as('a', 'src', q{INSERT INTO insure_stream.config (name, value) VALUES ('drop_threshold', '2')},
	'22023', 'A writing a bad setting directly is refused as configure() refuses it');
refused_as('a', 'src', q{INSERT INTO insure_stream.config (name, value) VALUES ('no_such_setting', '1')},
	'42704', 'A writing an unknown setting directly is refused');
is(ok_as('a', 'src', q{
	BEGIN;
	INSERT INTO insure_stream.config (name, value) VALUES ('saved_events', ' saved ,  x ');
	SELECT value FROM insure_stream.config WHERE name = 'saved_events' AND NOT is_default;
	ROLLBACK;
}, 'A may write a valid setting directly'), 'saved,x', 'and it is stored in canonical form');
($ret, $out, $err) = as('a', 'src', q{
	GRANT INSERT ON insure_stream.user_order TO b;
	GRANT INSERT (ingest_seq, ingested_at) ON insure_stream.user_order TO b;
	SELECT has_column_privilege('b', 'insure_stream.user_order', 'ingest_seq', 'INSERT')
		OR has_column_privilege('b', 'insure_stream.user_order', 'ingested_at', 'INSERT');
});
like($err, qr/WARNING:  01007: no privileges were granted for "user_order".*WARNING:  01007: no privileges were granted for column "ingest_seq"/s,
	'A cannot pass on INSERT on a whole event table, nor on ingest_seq and ingested_at');
is($out, 'f', 'so B never gets to write ingest_seq or ingested_at');
is(ok_as('a', 'src', 'SELECT count(*) FROM insure_stream.verify()', 'A runs verify()'), '0',
	'verify() is clean at the source');

# everything the extension keeps, relation by relation, as text
my @kept = qw(user_order update_info user_log raw_info config order_state order_hour_closed
  order_last_closed page_state premium_alert premium_applied rejected_events maintenance_state
  hs_order last_order user_last_log settings);
# (the settings of the defaults change when the extension is created)
my %source = (
	config => '(SELECT * FROM insure_stream.config WHERE NOT is_default)',
	settings => '(SELECT name, value FROM insure_stream.settings)');
sub snapshot_of
{
	my ($source, @rels) = @_;
	return join("\nUNION ALL ", map {
		my $from = $source->{$_} // "insure_stream.$_";
		"SELECT '$_', count(*) || ' ' || coalesce(md5(string_agg(t::text, ';' ORDER BY t::text)), '') FROM $from t"
	} @rels) . "\nUNION ALL SELECT 'sequences', string_agg(s.relname || '=' || pg_sequence_last_value(s.oid::regclass), ' ' ORDER BY s.relname)"
	  . " FROM pg_class s WHERE s.relnamespace = 'insure_stream'::regnamespace AND s.relkind = 'S'";
}
my $snapshot = snapshot_of(\%source, @kept);
# across the update from 0.1.3: the relations of both versions, order_state
# by the columns of 0.1.3 (0.2.1 added the hour; with order_window none no
# day is closed, so order_hour_closed and order_last_closed stay empty)
my @kept_13 = grep { !/^order_(hour|last)_closed$/ } @kept;
my $snapshot_13 = snapshot_of({ %source, order_state => q{(SELECT id, day, gmt_modified, gmt_seq, order_no, order_no_at,
	order_no_seq, customer_tel, customer_tel_at, customer_tel_seq, account_payble, account_payble_at,
	account_payble_seq FROM insure_stream.order_state)} }, @kept_13);
my $before = $node->safe_psql('src', $snapshot);
like($before, qr/^rejected_events\|2 /m, 'the snapshot holds the rejections');

# runs a client program; returns its exit code and what it printed
sub run
{
	my ($cmd) = @_;
	my ($stdout, $stderr) = ('', '');
	IPC::Run::run($cmd, '>', \$stdout, '2>', \$stderr);
	return ($? >> 8, $stdout, $stderr);
}

my $dir = $node->basedir;
my @as_a = ('-U', 'a', '-h', $node->host, '-p', $node->port);

# A dumps $src in $format and restores it into a new database: everything
# comes back, the grants A made too, and ingest goes on after the restored
# events.  The schema belongs to the bootstrap superuser, and pg_dump
# writes its CREATE SCHEMA with an ALTER SCHEMA ... OWNER TO, which A
# cannot run: A dumps or restores with --no-owner (A owns everything else).
sub round_trip
{
	my ($src, $format, $parallel) = @_;
	my $file = "$dir/$src.$format";
	my $db = "${src}_restored_$format" . ($parallel ? '_parallel' : '');
	my $label = "$src, $format" . ($parallel ? ', -j 4' : '');
	my $before = $node->safe_psql($src, $snapshot);
	my @max_before = split / /, $node->safe_psql($src, q{
		SELECT (SELECT max(ingest_seq) FROM insure_stream.user_order) || ' ' ||
			   (SELECT max(ingest_seq) FROM insure_stream.update_info) || ' ' ||
			   (SELECT max(ingest_seq) FROM insure_stream.user_log)});
	my ($ret, $out, $err) = run([ 'pg_dump', @as_a, '-d', $src, '-F', substr($format, 0, 1),
		($format eq 'plain' ? ('--no-owner') : ()), '-f', $file ]);
	is($ret, 0, "A runs pg_dump ($label)") or diag($err);
	is($err, '', "pg_dump ($label) says nothing");
	$node->safe_psql('postgres', "CREATE DATABASE $db OWNER a");
	if ($format eq 'custom')
	{
		($ret, $out, $err) = run([ 'pg_restore', @as_a, '--no-owner', '--exit-on-error',
			($parallel ? ('-j', '4') : ()), '-d', $db, $file ]);
	}
	else
	{
		($ret, $out, $err) = run([ 'psql', @as_a, '-d', $db, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $file ]);
	}
	is($ret, 0, "A restores ($label)") or diag($err);
	unlike($err, qr/ERROR|WARNING|error|warning/, "the restore ($label) has no error or warning")
	  or diag($err);

	my $after = $node->safe_psql($db, $snapshot);
	my %b = map { split /\|/, $_, 2 } split /\n/, $before;
	my %a = map { split /\|/, $_, 2 } split /\n/, $after;
	for my $rel (@kept, 'sequences')
	{
		is($a{$rel}, $b{$rel}, "$rel restored identically ($label)");
	}
	is(ok_as('a', $db, 'SELECT count(*) FROM insure_stream.verify()', "A runs verify() ($label)"), '0',
		"verify() is clean after the restore ($label)");

	# the grants made by A come back with the dump
	is(ok_as('c', $db, 'SELECT count(*) > 0 FROM insure_stream.hs_order', "C reads ($label)"), 't',
		"C still reads after the restore ($label)");
	ok_as('b', $db, qq{
		INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
			VALUES (1, 'after', $recent, 1);
		INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
			VALUES (1, 'saved', '1', 'after');
		INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
			VALUES ($recent, 'd', 'a1', 'after');
	}, "B ingests into the restored database ($label)");
	my @new_seq = split / /, $node->safe_psql($db, q{
		SELECT (SELECT ingest_seq FROM insure_stream.user_order WHERE order_no = 'after') || ' ' ||
			   (SELECT ingest_seq FROM insure_stream.update_info WHERE now_info = 'after') || ' ' ||
			   (SELECT ingest_seq FROM insure_stream.user_log WHERE page_name = 'after')});
	for my $i (0 .. 2)
	{
		cmp_ok($new_seq[$i], '>', $max_before[$i],
			(qw(user_order update_info user_log))[$i]
			  . " numbers a new event after the restored ones ($label)");
	}
	is($node->safe_psql($db, q{SELECT now_premium || ' ' || now_info FROM insure_stream.premium_alert WHERE id = 1}),
		'1 after', "the triggers work in the restored database ($label)");
	is(ok_as('a', $db, 'SELECT count(*) FROM insure_stream.verify()', "A runs verify() ($label)"), '0',
		"verify() is clean after ingesting into the restored database ($label)");
}

round_trip('src', 'custom');
round_trip('src', 'plain');
# in parallel, a worker may set a sequence while another loads its table
round_trip('src', 'custom', 'parallel');

# An installation of 0.1.3 by A, with the grants its README documented
# (INSERT on the whole event tables and USAGE on their sequences), updated
# by A: B goes on ingesting, through column INSERT granted by A, and can
# no longer set what the server assigns; A's dump of the updated database
# keeps those grants.
$node->safe_psql('postgres', 'CREATE DATABASE old OWNER a');
ok_as('a', 'old', q{
	CREATE EXTENSION insure_stream VERSION '0.1.3';
	SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
	SELECT insure_stream.configure('order_window', 'none');
	SELECT insure_stream.configure('on_bad_input', 'quarantine');
	SELECT insure_stream.configure('drop_threshold', '0.2');
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p1'), (2, '100', 'p2'), (3, '100', 'p3');
	GRANT USAGE ON SCHEMA insure_stream TO b, c;
	GRANT INSERT ON insure_stream.user_order, insure_stream.update_info, insure_stream.user_log TO b;
	GRANT USAGE ON SEQUENCE insure_stream.user_order_ingest_seq_seq, insure_stream.update_info_ingest_seq_seq,
		insure_stream.user_log_ingest_seq_seq TO b;
	GRANT SELECT ON insure_stream.hs_order, insure_stream.last_order, insure_stream.premium_alert,
		insure_stream.user_last_log TO c;
}, 'A installs 0.1.3 and grants as its README said');
# this library writes the order state of 0.2.1 and refuses the objects of
# 0.1.3 (a package updated before ALTER EXTENSION ... UPDATE); the orders of
# 0.1.3 come in as that version's own rebuild() derives them
refused_as('b', 'old', $ingest, '55000', 'under the objects of 0.1.3, orders are refused until the update');
like((as('b', 'old', $ingest))[2], qr/has no column "biz_date".*HINT:  Run ALTER EXTENSION insure_stream UPDATE/s,
	'the refusal names the missing column and hints at the update');
is($node->safe_psql('old', 'SELECT count(*) FROM insure_stream.user_order'), '0', 'the refused orders are not kept');
$node->safe_psql('old', 'ALTER TABLE insure_stream.user_order DISABLE TRIGGER user_order_apply');
ok_as('b', 'old', $ingest, 'B ingests into 0.1.3');
$node->safe_psql('old', 'ALTER TABLE insure_stream.user_order ENABLE TRIGGER user_order_apply');
ok_as('a', 'old', 'SELECT insure_stream.rebuild()', 'A rebuilds under 0.1.3');
ok_as('a', 'old', q{SELECT * FROM insure_stream.purge_events('30 days')}, 'A purges old events under 0.1.3');
my $old_before = $node->safe_psql('old', $snapshot_13);
($ret, $out, $err) = as('a', 'old', 'ALTER EXTENSION insure_stream UPDATE');
is($ret, 0, 'A updates the extension') or diag($err);
like($err, qr/WARNING:  01000: insure_stream: GRANT INSERT \(id, order_no, .*\) ON TABLE insure_stream.user_order TO b \(was INSERT on the whole table\)/,
	"the update tells which whole-table grants became column grants");
my %ob = map { split /\|/, $_, 2 } split /\n/, $old_before;
my %oa = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql('old', $snapshot_13);
for my $rel (grep { $_ ne 'settings' } @kept_13)
{
	is($oa{$rel}, $ob{$rel}, "$rel unchanged by the update");
}
is(ok_as('a', 'old', 'SELECT count(*) FROM insure_stream.verify()', 'A runs verify() after the update'), '0',
	'verify() is clean after the update');
ok_as('b', 'old', $ingest, 'B goes on ingesting after the update');
for my $case (@assigned)
{
	refused_as('b', 'old', $case->[0], '42501', "after the update, B is refused $case->[1]");
}
is($node->safe_psql('old', q{
	SELECT string_agg(DISTINCT a.grantor::regrole || '>' || a.grantee::regrole || ' ' || a.privilege_type || ' ' || a.is_grantable, ', ')
	  FROM pg_attribute att, aclexplode(att.attacl) a
	 WHERE att.attrelid IN ('insure_stream.user_order'::regclass, 'insure_stream.update_info'::regclass,
						   'insure_stream.user_log'::regclass)}),
	'a>b INSERT false, postgres>a INSERT true', 'B holds column INSERT granted by A; A the grant option');
is($node->safe_psql('old', q{
	SELECT string_agg(DISTINCT a.grantee::regrole || ' ' || a.privilege_type || ' ' || a.is_grantable, ', ')
	  FROM pg_class c, aclexplode(c.relacl) a
	 WHERE c.oid IN ('insure_stream.user_order'::regclass, 'insure_stream.update_info'::regclass,
					'insure_stream.user_log'::regclass) AND a.grantee <> 10}),
	'a INSERT false, a SELECT true', 'on the whole event tables only A holds INSERT, without the grant option');
round_trip('old', 'custom');

# the same update run by a superuser: the grants still go to A, the
# extension's owner (@extowner@ would be the superuser running it)
$node->safe_psql('postgres', 'CREATE DATABASE old_su OWNER a');
ok_as('a', 'old_su', q{
	CREATE EXTENSION insure_stream VERSION '0.1.3';
	GRANT USAGE ON SCHEMA insure_stream TO b;
	GRANT INSERT ON insure_stream.user_order, insure_stream.update_info, insure_stream.user_log TO b;
}, 'A installs 0.1.3 again');
($ret, $out, $err) = $node->psql('old_su', 'ALTER EXTENSION insure_stream UPDATE');
is($ret, 0, 'a superuser updates the extension of A') or diag($err);
is($node->safe_psql('old_su', q{
	SELECT has_function_privilege('a', 'insure_stream.grant_ingest(regrole)', 'EXECUTE WITH GRANT OPTION')
	   AND has_table_privilege('a', 'insure_stream.rejected_events_rejection_id_seq', 'UPDATE')
	   AND has_table_privilege('a', 'insure_stream.order_state', 'INSERT')
	   AND has_column_privilege('a', 'insure_stream.user_log', 'page_name', 'INSERT WITH GRANT OPTION')
	   AND NOT has_table_privilege('a', 'insure_stream.user_log', 'INSERT WITH GRANT OPTION')}),
	't', 'A holds what it needs after an update run by a superuser');
ok_as('b', 'old_su', q{INSERT INTO insure_stream.user_log (log_time, account_id) VALUES (1, 'x')},
	'B goes on ingesting');
refused_as('b', 'old_su', q{INSERT INTO insure_stream.user_log (log_time, account_id, ingested_at) VALUES (1, 'x', 'infinity')},
	'42501', 'and cannot set ingested_at');
($ret, $out, $err) = run([ 'pg_dump', @as_a, '-d', 'old_su', '-Fc', '-f', "$dir/old_su.custom" ]);
is($ret, 0, 'A dumps it') or diag($err);

# what A granted, A takes back
ok_as('a', 'old', q{SELECT insure_stream.revoke_ingest('b'); SELECT insure_stream.revoke_read('c');},
	'A revokes ingest and reading');
refused_as('b', 'old', q{INSERT INTO insure_stream.user_log (log_time, account_id) VALUES (1, 'x')},
	'42501', 'B no longer ingests');
refused_as('c', 'old', q{SELECT * FROM insure_stream.hs_order}, '42501', 'C no longer reads');
for my $f (qw(hs_order_hours('2026120500') last_order_of() user_last_log_of()))
{
	refused_as('c', 'old', "SELECT * FROM insure_stream.$f", '42501', "C no longer calls $f");
}

$node->stop;
done_testing();
