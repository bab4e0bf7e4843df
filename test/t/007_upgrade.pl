# The upgrade path.  A fresh installation runs the full script of the
# default version, built from src/sql/; an installation of 0.1.0 or 0.1.3
# reaches the same version through the chain of update scripts.  The two
# paths must give the same extension: the same objects with the same
# definitions, columns, constraints, indexes, triggers, comments,
# privileges (columns and initial privileges included), dump registration,
# storage options and sequences (catalog shape), and the same answers to
# the same events, settings, operations and roles (behaviour), a pg_dump
# included.  Any difference is printed.  Installations of 0.1.0 and 0.1.3
# with data keep their events, results, state, alerts, rejections and
# settings across ALTER EXTENSION ... UPDATE and go on ingesting with
# verify() clean.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;
# owner: a database owner who is no superuser (the trusted install)
$node->safe_psql('postgres', q{
	CREATE ROLE owner LOGIN;
	CREATE ROLE ingest LOGIN;
	CREATE ROLE reader LOGIN;
});
$node->safe_psql('postgres', "CREATE DATABASE $_") for qw(updated updated13 fresh);
$node->safe_psql('postgres', "CREATE DATABASE $_ OWNER owner")
  for qw(owner_fresh owner_updated owner_updated13 su_updated su_updated13);

my $default = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'insure_stream'});
isnt($default, '0.1.0', 'the default version is a later one');
my $sharedir = $node->config_data('--sharedir');
ok(-f "$sharedir/extension/insure_stream--$default.sql",
	'the default version has its own full install script (a fresh install does not run the chain)');

#
# Comparing two descriptions given as "key|value" lines: a value may span
# several lines, written as \n.  On a difference, every key found on one
# side only is printed, and for a key on both sides the lines of its value
# that differ.
#
sub described
{
	my ($text) = @_;
	my %by_key;
	for my $line (split /\n/, $text)
	{
		my ($key, $value) = split /\|/, $line, 2;
		$by_key{$key} .= (defined $by_key{$key} ? "\n" : '') . ($value // '');
	}
	return \%by_key;
}

sub lines_apart
{
	my ($expected, $got) = @_;
	my %count;
	$count{$_}++ for split /\\n|\n/, $expected;
	$count{$_}-- for split /\\n|\n/, $got;
	my @out = ((map { "    - $_" } grep { $count{$_} > 0 } sort keys %count),
		(map { "    + $_" } grep { $count{$_} < 0 } sort keys %count));
	return @out ? @out : ('    (the same lines in another order)');
}

sub same_description
{
	my ($got, $expected, $name) = @_;
	return pass($name) if $got eq $expected;
	fail($name);
	my ($e, $g) = (described($expected), described($got));
	my @report;
	for my $key (sort keys %{ { %$e, %$g } })
	{
		if (!exists $g->{$key})
		{
			push @report, "  missing: $key";
		}
		elsif (!exists $e->{$key})
		{
			push @report, "  extra: $key";
		}
		elsif ($g->{$key} ne $e->{$key})
		{
			push @report, "  differs: $key", lines_apart($e->{$key}, $g->{$key});
		}
	}
	diag(join("\n", "- expected (fresh installation), + got", @report));
	return;
}

sub same_output
{
	my ($got, $expected, $name) = @_;
	return pass($name) if $got eq $expected;
	fail($name);
	diag(join("\n", "- expected (fresh installation), + got", lines_apart($expected, $got)));
	return;
}

#
# The catalog shape of an installation, as "key|value" lines that name no
# OID.  Roles appear by their part (bootstrap, owner, PUBLIC), so that
# installations by different roles compare.  An ACL lists its items
# sorted; the grant options of an object's owner are left out, as the
# owner holds them all anyway.  Sequences: every parameter but where they
# start and stand.
#
my $shape = <<'SQL';
WITH ext AS (
	SELECT e.oid, e.extowner, e.extnamespace, e.extconfig, e.extcondition, e.extrelocatable
	  FROM pg_extension e WHERE e.extname = 'insure_stream'
), who AS (
	SELECT 0::oid AS oid, 'PUBLIC' AS name
	UNION ALL
	SELECT r.oid, CASE WHEN r.oid = 10 THEN 'bootstrap' WHEN r.oid = ext.extowner THEN 'owner' ELSE r.rolname END
	  FROM pg_roles r, ext
), owned AS (
	SELECT 'pg_namespace'::regclass AS classid, n.oid AS objid, n.nspowner AS owner
	  FROM pg_namespace n, ext WHERE n.oid = ext.extnamespace
	UNION ALL
	SELECT 'pg_class'::regclass, c.oid, c.relowner FROM pg_class c, ext WHERE c.relnamespace = ext.extnamespace
	UNION ALL
	SELECT 'pg_proc'::regclass, p.oid, p.proowner FROM pg_proc p, ext WHERE p.pronamespace = ext.extnamespace
	UNION ALL
	SELECT 'pg_type'::regclass, t.oid, t.typowner FROM pg_type t, ext WHERE t.typnamespace = ext.extnamespace
), acl AS (
	/* classid, objid, subid: the ACL (default when null) and the initial privileges */
	SELECT x.classid, x.objid, x.subid,
		   E'\nacl ' || coalesce((SELECT string_agg(i.item, ',' ORDER BY i.item)
								  FROM (SELECT g.name || '=' || a.privilege_type
											   || CASE WHEN a.is_grantable AND a.grantee <> o.owner THEN '*' ELSE '' END
											   || '/' || r.name AS item
										  FROM aclexplode(x.acl) a JOIN who g ON g.oid = a.grantee
										  JOIN who r ON r.oid = a.grantor) i), '-')
		   || E'\ninit ' || coalesce((SELECT string_agg(ip.privtype::text || ':' || coalesce(
										(SELECT string_agg(i.item, ',' ORDER BY i.item)
										   FROM (SELECT g.name || '=' || a.privilege_type
														|| CASE WHEN a.is_grantable AND a.grantee <> o.owner THEN '*' ELSE '' END
														|| '/' || r.name AS item
												   FROM aclexplode(CASE WHEN cardinality(ip.initprivs) > 0 THEN ip.initprivs END) a
												   JOIN who g ON g.oid = a.grantee JOIN who r ON r.oid = a.grantor) i), ''),
													   ' ' ORDER BY ip.privtype)
								  FROM pg_init_privs ip
								 WHERE ip.classoid = x.classid AND ip.objoid = x.objid AND ip.objsubid = x.subid), '-')
		   AS txt
	  FROM (SELECT o.classid, o.objid, 0 AS subid,
				   coalesce(n.nspacl, c.relacl, p.proacl, t.typacl,
							acldefault(CASE WHEN n.oid IS NOT NULL THEN 'n'
											WHEN c.relkind = 'S' THEN 's'
											WHEN c.oid IS NOT NULL THEN 'r'
											WHEN p.oid IS NOT NULL THEN 'f'
											ELSE 'T' END::"char", o.owner)) AS acl
			  FROM owned o
			  LEFT JOIN pg_namespace n ON o.classid = 'pg_namespace'::regclass AND n.oid = o.objid
			  LEFT JOIN pg_class c ON o.classid = 'pg_class'::regclass AND c.oid = o.objid
			  LEFT JOIN pg_proc p ON o.classid = 'pg_proc'::regclass AND p.oid = o.objid
			  LEFT JOIN pg_type t ON o.classid = 'pg_type'::regclass AND t.oid = o.objid
			UNION ALL
			SELECT 'pg_class'::regclass, a.attrelid, a.attnum, a.attacl
			  FROM pg_attribute a JOIN owned o ON o.classid = 'pg_class'::regclass AND o.objid = a.attrelid
			 WHERE a.attnum > 0 AND NOT a.attisdropped) x
	  JOIN owned o ON o.classid = x.classid AND o.objid = x.objid
), rel AS (
	SELECT c.* FROM pg_class c, ext WHERE c.relnamespace = ext.extnamespace
), item (key, value) AS (
	SELECT 'schema ' || n.nspname,
		   'relocatable ' || ext.extrelocatable || ' owner ' || (SELECT name FROM who WHERE oid = n.nspowner)
		   || (SELECT txt FROM acl WHERE classid = 'pg_namespace'::regclass AND objid = n.oid)
		   || E'\ncomment ' || coalesce(obj_description(n.oid, 'pg_namespace'), '-')
	  FROM ext JOIN pg_namespace n ON n.oid = ext.extnamespace
	UNION ALL
	SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid), ''
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
	UNION ALL
	SELECT 'dumped ' || u.cfg::regclass, coalesce(u.cond, '-')
	  FROM ext, unnest(ext.extconfig, ext.extcondition) AS u(cfg, cond)
	UNION ALL
	SELECT 'relation ' || c.relname,
		   'kind ' || c.relkind::text || ' persistence ' || c.relpersistence::text
		   || ' owner ' || (SELECT name FROM who WHERE oid = c.relowner)
		   || ' options ' || coalesce(array_to_string(c.reloptions, ','), '-')
		   || ' row security ' || c.relrowsecurity || ' ' || c.relforcerowsecurity
		   || ' replica identity ' || c.relreplident::text
		   || (SELECT txt FROM acl WHERE classid = 'pg_class'::regclass AND objid = c.oid AND subid = 0)
		   || E'\ncomment ' || coalesce(obj_description(c.oid, 'pg_class'), '-')
		   || CASE WHEN c.relkind IN ('v', 'm') THEN E'\n' || pg_get_viewdef(c.oid, true) ELSE '' END
		   || coalesce((SELECT ' sequence ' || format_type(s.seqtypid, NULL) || ' increment ' || s.seqincrement
							   || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache
							   || ' cycle ' || s.seqcycle
						  FROM pg_sequence s WHERE s.seqrelid = c.oid), '')
	  FROM rel c
	UNION ALL
	SELECT 'column ' || c.relname || '.' || a.attname,
		   'number ' || a.attnum || ' type ' || format_type(a.atttypid, a.atttypmod)
		   || ' not null ' || a.attnotnull || ' default ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '-')
		   || ' identity ' || coalesce(nullif(a.attidentity::text, ''), '-')
		   || ' generated ' || coalesce(nullif(a.attgenerated::text, ''), '-')
		   || ' collation ' || coalesce((SELECT co.collname FROM pg_collation co
										  WHERE co.oid = a.attcollation AND a.attcollation <> 0), '-')
		   || ' storage ' || a.attstorage::text || ' statistics ' || a.attstattarget
		   || ' options ' || coalesce(nullif(array_to_string(ARRAY(SELECT o FROM unnest(a.attoptions) o
																	 WHERE o NOT LIKE 'pg\_attver=%'), ','), ''), '-')
		   || (SELECT txt FROM acl WHERE classid = 'pg_class'::regclass AND objid = c.oid AND subid = a.attnum)
		   || E'\ncomment ' || coalesce(col_description(c.oid, a.attnum), '-')
	  FROM rel c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
	 WHERE c.relkind <> 'i'
	UNION ALL
	SELECT 'owned ' || pg_describe_object(d.classid, d.objid, d.objsubid),
		   'by ' || pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid) || ' ' || d.deptype::text
	  FROM pg_depend d JOIN rel c ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
	 WHERE c.relkind = 'S' AND d.refclassid = 'pg_class'::regclass
	UNION ALL
	SELECT 'constraint ' || coalesce(c.relname, t.typname) || '.' || k.conname,
		   k.contype::text || ' ' || pg_get_constraintdef(k.oid)
		   || ' deferrable ' || k.condeferrable || ' deferred ' || k.condeferred || ' valid ' || k.convalidated
		   || E'\ncomment ' || coalesce(obj_description(k.oid, 'pg_constraint'), '-')
	  FROM pg_constraint k LEFT JOIN pg_class c ON c.oid = k.conrelid LEFT JOIN pg_type t ON t.oid = k.contypid, ext
	 WHERE k.connamespace = ext.extnamespace
	UNION ALL
	SELECT 'index ' || c.relname,
		   pg_get_indexdef(i.indexrelid) || ' primary ' || i.indisprimary || ' unique ' || i.indisunique
	  FROM pg_index i JOIN rel c ON c.oid = i.indexrelid
	UNION ALL
	SELECT 'trigger ' || c.relname || '.' || t.tgname,
		   pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text
		   || E'\ncomment ' || coalesce(obj_description(t.oid, 'pg_trigger'), '-')
	  FROM pg_trigger t JOIN rel c ON c.oid = t.tgrelid
	 WHERE NOT t.tgisinternal
	UNION ALL
	SELECT 'rule ' || c.relname || '.' || r.rulename, r.ev_type::text || ' ' || r.ev_enabled::text
	  FROM pg_rewrite r JOIN rel c ON c.oid = r.ev_class
	UNION ALL
	SELECT 'policy ' || c.relname || '.' || p.polname, pg_get_expr(p.polqual, p.polrelid)
	  FROM pg_policy p JOIN rel c ON c.oid = p.polrelid
	UNION ALL
	SELECT 'function ' || p.oid::regprocedure,
		   'kind ' || p.prokind::text || ' owner ' || (SELECT name FROM who WHERE oid = p.proowner)
		   || (SELECT txt FROM acl WHERE classid = 'pg_proc'::regclass AND objid = p.oid)
		   || E'\ncomment ' || coalesce(obj_description(p.oid, 'pg_proc'), '-') || E'\n'
		   || CASE WHEN p.prokind = 'a'
				   THEN (SELECT 'aggregate ' || pg_get_function_arguments(p.oid) || ' returns '
								|| pg_get_function_result(p.oid) || ' kind ' || g.aggkind::text
								|| ' direct ' || g.aggnumdirectargs || ' trans ' || g.aggtransfn::regprocedure
								|| ' final ' || g.aggfinalfn || ' extra ' || g.aggfinalextra
								|| ' modify ' || g.aggfinalmodify::text || ' combine ' || g.aggcombinefn
								|| ' serial ' || g.aggserialfn || ' deserial ' || g.aggdeserialfn
								|| ' moving ' || g.aggmtransfn || ' sort ' || g.aggsortop
								|| ' state ' || format_type(g.aggtranstype, NULL) || ' space ' || g.aggtransspace
								|| ' initial ' || coalesce(g.agginitval, '-') || ' parallel ' || p.proparallel::text
						   FROM pg_aggregate g WHERE g.aggfnoid = p.oid)
				   ELSE pg_get_functiondef(p.oid) END
	  FROM pg_proc p, ext WHERE p.pronamespace = ext.extnamespace
	UNION ALL
	SELECT 'type ' || t.typname,
		   'kind ' || t.typtype::text || ' base ' || coalesce(format_type(nullif(t.typbasetype, 0), t.typtypmod), '-')
		   || ' not null ' || t.typnotnull || ' default ' || coalesce(t.typdefault, '-')
		   || ' owner ' || (SELECT name FROM who WHERE oid = t.typowner)
		   || (SELECT txt FROM acl WHERE classid = 'pg_type'::regclass AND objid = t.oid)
		   || E'\ncomment ' || coalesce(obj_description(t.oid, 'pg_type'), '-')
	  FROM pg_type t, ext WHERE t.typnamespace = ext.extnamespace
	UNION ALL
	SELECT 'operator ' || o.oid::regoperator, '' FROM pg_operator o, ext WHERE o.oprnamespace = ext.extnamespace
	UNION ALL
	SELECT 'setting ' || c.name, c.value FROM insure_stream.config c WHERE c.is_default
)
SELECT key || '|' || replace(value, E'\n', E'\\n') FROM item ORDER BY key
SQL

#
# Behaviour: the same session of an owner who is no superuser (settings,
# the three scenarios with late, bad and quarantined events, COPY,
# notifications, refusals, verify, rebuild, retention, maintenance,
# status, the building blocks, the roles' grants) and what it leaves in
# every relation, then what an ingest role and a reading role may do, and
# a pg_dump of the database as the owner.
#
# events of the three scenarios: late and out-of-order orders, old orders,
# a bad amount, alerts, a bad premium, an operator's edit, page views
# (the session below, and the data of 0.1.3 before its update)
my $events = q{
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT g % 40, 'o' || g, 't' || (g % 9), 1795572000000 - (g % 7) * 3600000 + g * 1000, g / 4.0
	  FROM generate_series(1, 1000) g;
INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT g % 20, 'old' || g, 't' || (g % 5), 1700000000000 + g * 1000, g
	  FROM generate_series(1, 200) g;
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
	VALUES (7, 'bad', 1795572000000, 'NaN');
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
	VALUES (1, 'saved', '50', 'a'), (2, 'saved', '90', 'b'), (3, 'saved', 'abc', 'x'), (9, 'saved', '1', 'none');
UPDATE insure_stream.raw_info SET raw_premium = '500' WHERE id = 2;
INSERT INTO insure_stream.update_info (id, event, now_premium, now_info) VALUES (2, 'saved', '60', 'c');
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
	SELECT 1795572000000 - g * 1000, 'd' || (g % 3), 'a' || (g % 20), 'p' || g FROM generate_series(1, 500) g;
INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
	SELECT 1700000000000 + g, 'd', 'old' || (g % 5), 'p' || g FROM generate_series(1, 50) g;
};

my $session = <<'SQL';
\set VERBOSITY verbose
SET TIME ZONE 'UTC';
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
SELECT insure_stream.configure('on_bad_input', 'quarantine');
SELECT insure_stream.configure('drop_threshold', '0.2');
SELECT insure_stream.configure('order_window', 'none');
SELECT insure_stream.configure('time_zone', 'Mars/Olympus');
INSERT INTO insure_stream.config (name, value) VALUES ('max_future', '48:00');
INSERT INTO insure_stream.config (name, value) VALUES ('no_such_setting', 'x');
SELECT name, value, is_default FROM insure_stream.settings ORDER BY name;
INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p1'), (2, '100', 'p2'), (3, '100', 'p3');
INSERT INTO insure_stream.raw_info VALUES (4, 'abc', 'x');
LISTEN insure_stream_premium_drop;
SQL
$session .= $events . <<'SQL';
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
	VALUES (8, 'late', 1795400000000, 5), (NULL, 'no id', 1795572000000, 1);
INSERT INTO insure_stream.user_order (id, ingest_seq) VALUES (1, 5);
INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
	VALUES (9, 'huge', 1795572000000, 1.7976931348623157e308), (10, 'huge', 1795572000000, 1.7976931348623157e308);
COPY insure_stream.user_log (log_time, device_id, account_id, bury_point_type, page_name) FROM STDIN;
1795572001000	d1	a1	click	copied
1795572002000	\N	a2	\N	copied
99999999999999	d1	a3	view	far future
\.
SELECT insure_stream.track_page('called', 'dev', 'view', 'home', 10);
UPDATE insure_stream.user_order SET id = 1;
DELETE FROM insure_stream.user_log;
TRUNCATE insure_stream.order_state;
SELECT insure_stream.user_order_apply();
SELECT * FROM insure_stream.verify();
SELECT * FROM insure_stream.hs_order ORDER BY biz_date;
SELECT * FROM insure_stream.last_order ORDER BY id;
SELECT * FROM insure_stream.premium_alert ORDER BY id;
SELECT * FROM insure_stream.user_last_log ORDER BY account_id;
SELECT table_name, ingest_seq, column_name, bad_value, reason, sqlstate FROM insure_stream.rejected_events
 ORDER BY table_name, ingest_seq;
SELECT insure_stream.configure('time_zone', 'Europe/Berlin');
SELECT insure_stream.configure('order_window', 'day');
SELECT * FROM insure_stream.verify();
SELECT insure_stream.rebuild();
SELECT * FROM insure_stream.purge_events('365 days') ORDER BY 1;
SELECT * FROM insure_stream.purge_events('-1 day');
SELECT * FROM insure_stream.maintenance() ORDER BY 1;
SELECT section, name, value FROM insure_stream.status WHERE section IN ('events', 'results', 'pending')
 ORDER BY section, name;
SELECT * FROM insure_stream.verify();
SELECT insure_stream.schedule_maintenance();
SELECT insure_stream.unschedule_maintenance();
SELECT insure_stream.from_unixtime(1700000000), insure_stream.from_unixtime(1700000000, 'yyyy/MM/dd HH:mm'),
	   insure_stream.unix_timestamp('2023-11-15 06:13:20'), insure_stream.unix_timestamp('15.11.2023', 'dd.MM.yyyy'),
	   insure_stream.zone_local('2026-03-29 01:30+00', 'CET'), insure_stream.zone_instant('2026-10-25 02:30', 'CET'),
	   cast(1 AS insure_stream.double) + 0.5;
SELECT insure_stream.last_value(x), insure_stream.last_value(x, -x) FROM unnest(ARRAY[3, 1, NULL, 2]) x;
SELECT insure_stream.setting('time_zone');
SELECT insure_stream.grant_ingest('ingest');
SELECT insure_stream.grant_read('reader');
SQL
my $as_ingest = <<'SQL';
\set VERBOSITY verbose
INSERT INTO insure_stream.user_log (log_time, account_id, page_name) VALUES (1795572009000, 'a1', 'by ingest');
INSERT INTO insure_stream.user_log (log_time, account_id, ingest_seq) VALUES (1, 'x', 1);
INSERT INTO insure_stream.user_log (log_time, account_id, ingested_at) VALUES (1, 'x', now());
SELECT insure_stream.track_page('a5', 'dev', 'view', 'by ingest', 1795572009000);
SELECT count(*) FROM insure_stream.hs_order;
SELECT count(*) FROM insure_stream.user_log;
SELECT insure_stream.verify();
SQL
my $as_reader = <<'SQL';
\set VERBOSITY verbose
SELECT account_id, device_id, page_name FROM insure_stream.user_last_log WHERE account_id IN ('a1', 'a5') ORDER BY 1;
SELECT count(*) FROM insure_stream.hs_order;
SELECT count(*) FROM insure_stream.page_state;
INSERT INTO insure_stream.user_log (log_time, account_id) VALUES (1, 'x');
SELECT insure_stream.configure('order_window', 'none');
SQL
my $session_end = <<'SQL';
SELECT * FROM insure_stream.verify();
SELECT insure_stream.revoke_ingest('ingest');
SELECT insure_stream.revoke_read('reader');
SELECT has_schema_privilege('ingest', 'insure_stream', 'USAGE'), has_schema_privilege('reader', 'insure_stream', 'USAGE');
SQL

# what a session printed, with what differs from one run to the next
# (times, backend PIDs, dump keys, the database's name) masked
sub masked
{
	my ($text, $db) = @_;
	$text =~ s/\Q$db\E/<database>/g if defined $db;
	$text =~ s/\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d(:\d\d)?)?/<time>/g;
	$text =~ s/server process with PID \d+/server process with PID <pid>/g;
	$text =~ s/^\\(un)?restrict .*$//mg;
	$text =~ s/^last_maintenance_ms\t\d+/last_maintenance_ms\t<ms>/mg;
	return $text;
}

# every relation of the extension, row by row, as JSON
sub contents
{
	my ($db) = @_;
	my @relations = split /\n/, $node->safe_psql($db, q{
		SELECT c.relname FROM pg_class c
		 WHERE c.relnamespace = 'insure_stream'::regnamespace AND c.relkind IN ('r', 'v')
		   AND c.relname <> 'status' ORDER BY 1});
	return masked($node->safe_psql($db, join("\nUNION ALL ", map {
		"SELECT '$_' || '|' || coalesce(string_agg(to_jsonb(x)::text, '\\n' ORDER BY to_jsonb(x)::text), '')
		   FROM insure_stream.$_ x WHERE to_jsonb(x)->>'name' IS DISTINCT FROM 'last_maintenance_ms'"
	} @relations)));
}

sub behaviour
{
	my ($db) = @_;
	my $out = '';
	for my $step ([ 'owner', $session ], [ 'ingest', $as_ingest ], [ 'reader', $as_reader ], [ 'owner', $session_end ])
	{
		my ($ret, $stdout, $stderr) = $node->psql($db, $step->[1], extra_params => [ '-U', $step->[0] ],
			on_error_stop => 0);
		$out .= "== as $step->[0]\n$stdout\n== errors\n$stderr\n";
	}
	my ($stdout, $stderr) = run_command([ 'pg_dump', '-d', $node->connstr($db), '-U', 'owner' ]);
	return (masked($out, $db), contents($db), masked("$stdout\n== errors\n$stderr", $db));
}

#
# 1. Installations of 0.1.0 and 0.1.3 made by a superuser, with data, updated
#
my $orders_and_premiums = q{
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p1') ON CONFLICT DO NOTHING;
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
		SELECT g % 40, 'o' || g, 't' || (g % 9), 1795572000000 + g * 1000, g / 4.0
		  FROM generate_series(1, 500) g;
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
		VALUES (1, 'saved', '50', 'a');
};
my $page_views = q{
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
		SELECT g, 'd' || (g % 3), 'a' || (g % 20), 'p' || g FROM generate_series(1, 200) g;
};
my $ingest = $orders_and_premiums . $page_views;

# everything an installation keeps, relation by relation, as text
# (order_state by the columns of 0.1.x: 0.2.1 added the hour; the
# reference counts and partial hour rows of 0.2.0 and before are gone,
# hs_order shows whether the figures are kept)
my @kept = qw(user_order update_info user_log raw_info order_state
  page_state premium_alert premium_applied rejected_events maintenance_state hs_order last_order
  user_last_log);
my %columns_of = (order_state => '(t.id, t.day, t.gmt_modified, t.gmt_seq, t.order_no, t.order_no_at,
	t.order_no_seq, t.customer_tel, t.customer_tel_at, t.customer_tel_seq, t.account_payble,
	t.account_payble_at, t.account_payble_seq)');
my $snapshot = join("\nUNION ALL ", map {
	my $row = $columns_of{$_} // 't';
	"SELECT '$_', count(*) || ' ' || coalesce(md5(string_agg($row" . "::text, ';' ORDER BY $row" . "::text)), '') FROM insure_stream.$_ t"
} @kept) . "\nUNION ALL SELECT 'settings', string_agg(name || '=' || value, ',' ORDER BY name) FROM insure_stream.config WHERE NOT is_default";

# 0.2.1 added the hour to order_state: this library refuses the orders of
# earlier objects (a package updated before ALTER EXTENSION ... UPDATE),
# so their orders come in as those versions' own rebuild_orders() derives
# them (plain SQL)
sub ingest_under_old_objects
{
	my ($db, $sql) = @_;
	$node->safe_psql($db, qq{
		ALTER TABLE insure_stream.user_order DISABLE TRIGGER user_order_apply;
		$sql
		ALTER TABLE insure_stream.user_order ENABLE TRIGGER user_order_apply;
		SELECT insure_stream.rebuild_orders();
	});
	return;
}

$node->safe_psql('updated', q{
	CREATE EXTENSION insure_stream VERSION '0.1.0';
	SELECT insure_stream.configure('order_window', 'none');
	SELECT insure_stream.configure('drop_threshold', '0.2');
});
my ($ret, $out, $err) = $node->psql('updated', $orders_and_premiums, on_error_stop => 1);
like($err, qr/table "insure_stream.order_state" has no column "biz_date".*HINT:  Run ALTER EXTENSION insure_stream UPDATE/s,
	'orders under the objects of 0.1.0 are refused with a hint to update');
is($node->safe_psql('updated', 'SELECT count(*) FROM insure_stream.user_order'), '0', 'the refused orders are not kept');
ingest_under_old_objects('updated', $orders_and_premiums);
# 0.1.3 made user_last_log a view over page_state: this library no longer
# writes the table of earlier versions, and refuses to leave it behind
($ret, $out, $err) = $node->psql('updated', $page_views);
like($err, qr/function "user_log_apply" of insure_stream is older than its library.*HINT:  Run ALTER EXTENSION insure_stream UPDATE/s,
	'page views under the objects of 0.1.0 are refused with a hint to update');
# so the page views of 0.1.0 come in as its own rebuild() derives them
$node->safe_psql('updated', qq{
	ALTER TABLE insure_stream.user_log DISABLE TRIGGER user_log_apply;
	$page_views
	ALTER TABLE insure_stream.user_log ENABLE TRIGGER user_log_apply;
	SELECT insure_stream.rebuild();
});
is($node->safe_psql('updated',
		q{SELECT extversion FROM pg_extension WHERE extname = 'insure_stream'}),
	'0.1.0', 'the first version installs');

my $before = $node->safe_psql('updated', q{
	SELECT (SELECT count(*) FROM insure_stream.hs_order) || ' ' ||
		   (SELECT sum(total_premium) FROM insure_stream.hs_order) || ' ' ||
		   (SELECT count(*) FROM insure_stream.premium_alert) || ' ' ||
		   (SELECT count(*) || ' ' || string_agg(account_id || ':' || device_id || ':' || page_name, ',' ORDER BY account_id)
			  FROM insure_stream.user_last_log)});
my $before_updated = $node->safe_psql('updated', $snapshot);
$node->safe_psql('updated', 'ALTER EXTENSION insure_stream UPDATE');
is($node->safe_psql('updated',
		q{SELECT extversion FROM pg_extension WHERE extname = 'insure_stream'}),
	$default, 'ALTER EXTENSION UPDATE reaches the default version');
is($node->safe_psql('updated', q{
	SELECT (SELECT count(*) FROM insure_stream.hs_order) || ' ' ||
		   (SELECT sum(total_premium) FROM insure_stream.hs_order) || ' ' ||
		   (SELECT count(*) FROM insure_stream.premium_alert) || ' ' ||
		   (SELECT count(*) || ' ' || string_agg(account_id || ':' || device_id || ':' || page_name, ',' ORDER BY account_id)
			  FROM insure_stream.user_last_log)}),
	$before, 'results are kept across the update');
is($node->safe_psql('updated',
		q{SELECT string_agg(name || '=' || value, ',' ORDER BY name) FROM insure_stream.settings
		   WHERE name IN ('order_window', 'drop_threshold')}),
	'drop_threshold=0.2,order_window=none', 'settings are kept across the update');

$node->safe_psql('fresh', 'CREATE EXTENSION insure_stream');
my $fresh_shape = $node->safe_psql('fresh', $shape);
cmp_ok(scalar(split /\n/, $fresh_shape), '>', 300, 'the fresh installation has its objects');
like($fresh_shape, qr/^function insure_stream\.verify\(\)\|.*SECURITY DEFINER/m, 'the shape holds definitions');
same_description($node->safe_psql('updated', $shape), $fresh_shape,
	'0.1.0 with data, updated by a superuser, has the shape of a fresh installation');

# 0.1.3 with data of the three scenarios: late and out-of-order orders,
# alerts, a quarantined event, operator edits, page views by INSERT, COPY
# and track_page(), and purged events whose results stay
$node->safe_psql('updated13', qq{
	CREATE EXTENSION insure_stream VERSION '0.1.3';
	SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
	SELECT insure_stream.configure('order_window', 'none');
	SELECT insure_stream.configure('on_bad_input', 'quarantine');
	SELECT insure_stream.configure('drop_threshold', '0.2');
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p1'), (2, '100', 'p2'), (3, '100', 'p3');
});
# the bad amount comes in through the trigger, which quarantines it
# before it would write any state
my ($bad_order) = $events =~ /(INSERT INTO insure_stream.user_order \(id, order_no, gmt_modified, account_payble\)\s+VALUES \(7, 'bad'[^;]*;)/;
ok(defined $bad_order, 'the events hold a bad amount');
(my $good_events = $events) =~ s/\Q$bad_order\E//;
ingest_under_old_objects('updated13', $good_events);
$node->safe_psql('updated13', $bad_order);
$node->safe_psql('updated13', q{
	SELECT insure_stream.track_page('called', 'dev', 'view', 'home', 10);
	SELECT * FROM insure_stream.purge_events('365 days');
});
my $before13 = $node->safe_psql('updated13', $snapshot);
like($before13, qr/^rejected_events\|2 /m, '0.1.3 quarantined two events');
like($before13, qr/^premium_alert\|2 /m, '0.1.3 raised two alerts');
is($node->safe_psql('updated13', 'SELECT count(*) FROM insure_stream.verify()'), '0', 'verify() is clean under 0.1.3');
$node->safe_psql('updated13', 'ALTER EXTENSION insure_stream UPDATE');
is($node->safe_psql('updated13', q{SELECT extversion FROM pg_extension WHERE extname = 'insure_stream'}),
	$default, 'ALTER EXTENSION UPDATE takes 0.1.3 to the default version');
my %b13 = map { split /\|/, $_, 2 } split /\n/, $before13;
my %a13 = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql('updated13', $snapshot);
for my $rel (@kept, 'settings')
{
	is($a13{$rel}, $b13{$rel}, "$rel unchanged by the update from 0.1.3");
}
is($node->safe_psql('updated13', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'verify() is clean after the update from 0.1.3');
same_description($node->safe_psql('updated13', $shape), $fresh_shape,
	'0.1.3 with data, updated by a superuser, has the shape of a fresh installation');

my %bu = map { split /\|/, $_, 2 } split /\n/, $before_updated;
my %au = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql('updated', $snapshot);
for my $rel (@kept, 'settings')
{
	is($au{$rel}, $bu{$rel}, "$rel unchanged by the update from 0.1.0");
}
is($node->safe_psql('updated', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'verify() is clean after the update from 0.1.0');

# ingest goes on after the update, numbered after the rows of before
for my $db ('updated', 'updated13')
{
	my $max = $node->safe_psql($db, 'SELECT max(ingest_seq) FROM insure_stream.user_order');
	$node->safe_psql($db, q{
		INSERT INTO insure_stream.user_order (id, order_no, gmt_modified, account_payble)
			VALUES (1, 'after update', 1795572000000, 1)});
	cmp_ok($node->safe_psql($db, q{SELECT ingest_seq FROM insure_stream.user_order WHERE order_no = 'after update'}),
		'>', $max, "$db numbers new orders after the ones of before");
}
$node->safe_psql('updated13', qq{
	$ingest
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
		VALUES (1, 'saved', '10', 'after');
});
is($node->safe_psql('updated13', 'SELECT count(*) FROM insure_stream.verify()'),
	'0', 'verify() is clean after ingesting on the installation updated from 0.1.3');
is($node->safe_psql('updated13', 'SELECT now_premium || now_info FROM insure_stream.premium_alert WHERE id = 1'),
	'10after', 'the triggers work after the update from 0.1.3');

$node->safe_psql('updated', qq{
	$ingest
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
		VALUES (1, 'saved', '10', 'b');
});
is($node->safe_psql('updated', 'SELECT count(*) FROM insure_stream.verify()'),
	'0', 'verify() is clean after ingesting on the updated installation');
is($node->safe_psql('updated',
		'SELECT now_premium FROM insure_stream.premium_alert WHERE id = 1'),
	'10', 'the trigger works after the update');

# 0.2.0 with closed days (order_window = day): compact_orders() of 0.2.0
# folded their hours into partial rows and kept each user's latest state;
# 0.2.1 moves them to order_hour_closed and order_last_closed, and every
# result stays as it was
$node->safe_psql('postgres', 'CREATE DATABASE updated20');
$node->safe_psql('updated20', q{
	CREATE EXTENSION insure_stream VERSION '0.1.3';
	ALTER EXTENSION insure_stream UPDATE TO '0.2.0';
	SELECT insure_stream.configure('time_zone', 'UTC');
});
ingest_under_old_objects('updated20', q{
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble, ingested_at)
	SELECT g % 40, 'o' || (g % 25), 't' || (g % 7),
		   (extract(epoch FROM date_trunc('day', now()) - (g % 3 + 1) * interval '1 day') * 1000)::bigint
			 + (g * 3600 * 1000) % 86400000, g % 11,
		   date_trunc('day', now()) - (g % 3 + 1) * interval '1 day'
	  FROM generate_series(1, 300) g;
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT g % 30, 'n' || (g % 9), 't' || (g % 7), (extract(epoch FROM now()) * 1000)::bigint - g, g
	  FROM generate_series(1, 100) g;
});
$node->safe_psql('updated20', 'SELECT insure_stream.compact_orders()');
my $before20 = $node->safe_psql('updated20', $snapshot);
cmp_ok($node->safe_psql('updated20', q{SELECT count(*) FROM insure_stream.order_state
	WHERE day < (now() AT TIME ZONE 'UTC')::date}), '>', 0, '0.2.0 kept latest states of closed days');
$node->safe_psql('updated20', 'ALTER EXTENSION insure_stream UPDATE');
my %b20 = map { split /\|/, $_, 2 } split /\n/, $before20;
my %a20 = map { split /\|/, $_, 2 } split /\n/, $node->safe_psql('updated20', $snapshot);
for my $rel (grep { $_ ne 'order_state' } @kept, 'settings')
{
	is($a20{$rel}, $b20{$rel}, "$rel unchanged by the update from 0.2.0 with closed days");
}
is($node->safe_psql('updated20', q{
	SELECT (SELECT count(*) FROM insure_stream.order_state WHERE day < (now() AT TIME ZONE 'UTC')::date)
		|| ' ' || (SELECT count(*) > 0 FROM insure_stream.order_last_closed)
		|| ' ' || (SELECT count(*) > 0 FROM insure_stream.order_hour_closed)}), '0 true true',
	'the closed days moved to order_last_closed and order_hour_closed');
is($node->safe_psql('updated20', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'verify() is clean after the update from 0.2.0 with closed days');
same_description($node->safe_psql('updated20', $shape), $fresh_shape,
	'0.2.0 with closed days, updated, has the shape of a fresh installation');
$node->safe_psql('updated20', q{
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT g, 'late' || g, 't1', (extract(epoch FROM now()) * 1000)::bigint, 1 FROM generate_series(1, 50) g;
});
is($node->safe_psql('updated20', 'SELECT count(*) FROM insure_stream.verify()'), '0',
	'verify() is clean after ingesting on the installation updated from 0.2.0');

#
# 2. Installations made by a database owner who is no superuser: a fresh
# one, and 0.1.0 and 0.1.3 updated, compared by shape, then by behaviour
#
sub as_owner
{
	my ($db, $sql) = @_;
	my ($ret, $stdout, $stderr) = $node->psql($db, $sql, extra_params => [ '-U', 'owner' ], on_error_stop => 1);
	is($ret, 0, "$db: $sql") or diag($stderr);
	return;
}
as_owner('owner_fresh', 'CREATE EXTENSION insure_stream');
as_owner('owner_updated', q{CREATE EXTENSION insure_stream VERSION '0.1.0'});
as_owner('owner_updated', 'ALTER EXTENSION insure_stream UPDATE');
as_owner('owner_updated13', q{CREATE EXTENSION insure_stream VERSION '0.1.3'});
as_owner('owner_updated13', 'ALTER EXTENSION insure_stream UPDATE');

my $owner_shape = $node->safe_psql('owner_fresh', $shape);
like($owner_shape, qr/^schema insure_stream\|.* owner bootstrap\\nacl .*owner=USAGE\*\/bootstrap/m,
	'the schema of a fresh installation belongs to the bootstrap superuser and lets the owner in');
same_description($node->safe_psql('owner_updated', $shape), $owner_shape,
	'0.1.0 installed and updated by the owner has the shape of a fresh installation by the owner');
same_description($node->safe_psql('owner_updated13', $shape), $owner_shape,
	'0.1.3 installed and updated by the owner has the shape of a fresh installation by the owner');

# installed by the owner, updated by a superuser (@extowner@ is then the
# superuser): the owner must end up with the same rights
as_owner('su_updated13', q{CREATE EXTENSION insure_stream VERSION '0.1.3'});
$node->safe_psql('su_updated13', 'ALTER EXTENSION insure_stream UPDATE');
same_description($node->safe_psql('su_updated13', $shape), $owner_shape,
	'0.1.3 installed by the owner and updated by a superuser has the shape of a fresh installation by the owner');
as_owner('su_updated', q{CREATE EXTENSION insure_stream VERSION '0.1.0'});
$node->safe_psql('su_updated', 'ALTER EXTENSION insure_stream UPDATE');
same_description($node->safe_psql('su_updated', $shape), $owner_shape,
	'0.1.0 installed by the owner and updated by a superuser has the shape of a fresh installation by the owner');

# installed and updated by a superuser that is not the bootstrap superuser:
# the update keeps the install's initial privileges (pg_dump then dumps the
# same grants on the extension's objects as after a fresh install by it)
$node->safe_psql('postgres', 'CREATE ROLE admin LOGIN SUPERUSER');
$node->safe_psql('postgres', "CREATE DATABASE $_") for qw(admin_updated admin_fresh);
$node->safe_psql('admin_updated', q{CREATE EXTENSION insure_stream VERSION '0.1.3'}, extra_params => [ '-U', 'admin' ]);
$node->safe_psql('admin_updated', 'ALTER EXTENSION insure_stream UPDATE', extra_params => [ '-U', 'admin' ]);
$node->safe_psql('admin_fresh', 'CREATE EXTENSION insure_stream', extra_params => [ '-U', 'admin' ]);
my %grant_lines;
for my $db ('admin_updated', 'admin_fresh')
{
	my ($dump) = run_command([ 'pg_dump', '-s', '-d', $node->connstr($db) ]);
	$grant_lines{$db} = join "\n", grep { /^(GRANT|REVOKE) .* insure_stream\./ } split /\n/, $dump;
}
is($grant_lines{admin_updated}, $grant_lines{admin_fresh},
	'installed and updated by another superuser: pg_dump dumps the same grants as after a fresh install');

my ($fresh_out, $fresh_contents, $fresh_dump) = behaviour('owner_fresh');
like($fresh_out, qr/Asynchronous notification "insure_stream_premium_drop" with payload "\{"id": 2\}"/,
	'the session gets an alert');
like($fresh_out, qr/ERROR:  428C9: cannot insert a non-DEFAULT value into column "ingest_seq"/,
	'the session meets refusals');
like($fresh_dump, qr/^COPY insure_stream\.user_order /m, 'the dump holds the events');
for my $db ('owner_updated', 'owner_updated13')
{
	my ($out, $contents, $dump) = behaviour($db);
	same_output($out, $fresh_out, "$db answers the session as a fresh installation does");
	same_description($contents, $fresh_contents, "$db holds what a fresh installation holds after the session");
	same_output($dump, $fresh_dump, "$db dumps as a fresh installation does");
}

$node->stop;
done_testing();
