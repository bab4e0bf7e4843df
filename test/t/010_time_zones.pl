# C against SQL in every time zone.  For each name of pg_timezone_names
# taken as time_zone, the triggers file orders placed around every change of
# the zone's UTC offset in 2025-2027 and around a winter and a summer local
# midnight (every 15 minutes, and 1 ms before each) in the day and hour that
# PostgreSQL's TimeZone setting (the tz database) gives them; verify() finds
# no difference; and the SQL side (order_biz_date, from_unixtime,
# unix_timestamp, zone_local, zone_instant, order_in_window) agrees instant
# by instant.  Zone names that are also abbreviations ('CET', 'EET', 'MET',
# 'WET') once made the SQL side use a fixed offset where the triggers
# followed summer time.
#
# Each zone runs in a subtransaction that is rolled back (only its counts
# are kept), zones in batches per transaction, in two databases at once.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('time_zones');
$node->init;
$node->start;

my $setup = <<'EOF';
CREATE EXTENSION insure_stream;
SELECT insure_stream.configure('order_window', 'none');
SELECT insure_stream.configure('max_future', '36500 days');
CREATE TABLE tz_result (zone text PRIMARY KEY, changes int, instants bigint,
	verify_rows bigint, trigger_wrong bigint, sql_wrong bigint, helper_wrong bigint,
	error text);
CREATE FUNCTION tz_check(zones text[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
	z text;
	r tz_result;
	hours timestamptz[];
BEGIN
	FOREACH z IN ARRAY zones LOOP
		r := ROW(z, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		BEGIN
			/* configure()'s write, without its re-derive of the empty tables */
			INSERT INTO insure_stream.config AS c (name, value, is_default)
				VALUES ('time_zone', insure_stream.normalize_setting('time_zone', z), false)
				ON CONFLICT (name, is_default) DO UPDATE SET value = excluded.value;
			/* the reference: PostgreSQL's TimeZone setting */
			PERFORM pg_catalog.set_config('TimeZone', z, true);
			/* the hours in which the zone's UTC offset changes */
			SELECT coalesce(array_agg(h), '{}') INTO hours
			  FROM (SELECT d FROM generate_series('2025-01-01 00:00+00'::timestamptz,
												  '2027-12-31 00:00+00', '24 hours') AS d
					 WHERE extract(timezone FROM d) <> extract(timezone FROM d + '24 hours')) AS days,
				   generate_series(d, d + '23 hours', '1 hour') AS h
			 WHERE extract(timezone FROM h) <> extract(timezone FROM h + '1 hour');
			r.changes := cardinality(hours);
			/* orders every 15 minutes from 2 hours before to 3 hours after
			 * each change and two local midnights, and 1 ms before each */
			INSERT INTO insure_stream.user_order (id, order_no, gmt_modified)
			SELECT row_number() OVER (ORDER BY i.ms), 'o' || i.ms, i.ms
			  FROM (SELECT DISTINCT (extract(epoch FROM c.h + s * interval '15 minutes') * 1000)::bigint - x.e AS ms
					  FROM (SELECT h FROM unnest(hours) AS h
							UNION ALL SELECT '2026-01-15'::date::timestamptz
							UNION ALL SELECT '2026-07-15'::date::timestamptz) AS c,
						   generate_series(-8, 12) AS s, (VALUES (0), (1)) AS x(e)) AS i;
			GET DIAGNOSTICS r.instants = ROW_COUNT;
			SELECT count(*) INTO r.verify_rows FROM insure_stream.verify();
			/* the day and the hour the trigger filed each order in */
			SELECT count(*) INTO r.trigger_wrong
			  FROM insure_stream.user_order e
			  LEFT JOIN insure_stream.order_state s ON s.id = e.id
			 CROSS JOIN LATERAL (SELECT to_timestamp(e.gmt_modified / 1000.0) AS t) x
			 WHERE s.day IS DISTINCT FROM x.t::date
				OR s.biz_date IS DISTINCT FROM to_char(x.t, 'YYYYMMDDHH24');
			/* the same hours in SQL and in the Flink helpers */
			SELECT count(*) INTO r.sql_wrong
			  FROM insure_stream.user_order e,
				   LATERAL (SELECT to_timestamp(e.gmt_modified / 1000.0) AS t) x
			 WHERE insure_stream.order_biz_date(e.gmt_modified, z) IS DISTINCT FROM to_char(x.t, 'YYYYMMDDHH24')
				OR insure_stream.from_unixtime(e.gmt_modified / 1000, 'yyyyMMddHH')
				   IS DISTINCT FROM to_char(x.t, 'YYYYMMDDHH24')
				OR insure_stream.unix_timestamp(to_char(x.t, 'YYYY-MM-DD HH24:MI:SS'))
				   IS DISTINCT FROM extract(epoch FROM to_char(x.t, 'YYYY-MM-DD HH24:MI:SS')::timestamp::timestamptz)::bigint;
			/* the local-time functions of the SQL side */
			SELECT count(*) INTO r.helper_wrong
			  FROM insure_stream.user_order e,
				   LATERAL (SELECT to_timestamp(e.gmt_modified / 1000.0) AS t) x,
				   LATERAL (SELECT (extract(epoch FROM x.t::date::timestamptz) * 1000)::bigint AS ms) day_start
			 WHERE insure_stream.zone_local(x.t, z) IS DISTINCT FROM x.t::timestamp
				OR insure_stream.zone_instant(date_trunc('hour', x.t::timestamp), z)
				   IS DISTINCT FROM date_trunc('hour', x.t::timestamp)::timestamptz
				OR NOT insure_stream.order_in_window(day_start.ms, x.t, z)
				OR insure_stream.order_in_window(day_start.ms - 1, x.t, z);
			RAISE EXCEPTION USING ERRCODE = 'IS999';	/* undo all but r */
		EXCEPTION
			WHEN SQLSTATE 'IS999' THEN
				NULL;
			WHEN OTHERS THEN
				r.error := SQLERRM;
		END;
		INSERT INTO tz_result SELECT r.*;
	END LOOP;
END
$fn$;
EOF

my @zones = split /\n/,
  $node->safe_psql('postgres', 'SELECT name FROM pg_timezone_names ORDER BY name');
cmp_ok(scalar @zones, '>', 300, 'pg_timezone_names lists the tz database');

# two databases, each checking every other batch of zones
my $batch = 50;
my @dbs = ('tz_even', 'tz_odd');
my (%script, %out, %err);
for my $db (@dbs)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, $setup);
}
for (my $b = 0; $b * $batch < @zones; $b++)
{
	my $offset = $b * $batch;
	$script{ $dbs[ $b % 2 ] } .=
	  "SELECT tz_check(ARRAY(SELECT name FROM pg_timezone_names ORDER BY name OFFSET $offset LIMIT $batch));\n"
	  . "VACUUM insure_stream.user_order, insure_stream.order_state, insure_stream.order_hour_closed,"
	  . " insure_stream.order_last_closed, insure_stream.config;\n";
}
my @runs;
my $t0 = time;
for my $db (@dbs)
{
	push @runs,
	  IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr($db) ],
		'<', \$script{$db}, '>', \$out{$db}, '2>', \$err{$db});
}
for my $i (0 .. $#runs)
{
	ok($runs[$i]->finish, "the zones of $dbs[$i] were checked")
	  or diag($err{ $dbs[$i] });
}

note('zones checked in ' . (time - $t0) . ' s');
$t0 = time;
my $results = join "\n", map {
	$node->safe_psql($_,
		q{SELECT zone, changes, instants, verify_rows, trigger_wrong, sql_wrong, helper_wrong,
				 coalesce(error, '') FROM tz_result})
} @dbs;
my %result;
for my $line (split /\n/, $results)
{
	my @f = split /\|/, $line, -1;
	$result{ $f[0] } = {
		changes => $f[1],
		instants => $f[2],
		verify => $f[3],
		trigger => $f[4],
		sql => $f[5],
		helpers => $f[6],
		error => $f[7]
	};
}

# the zones for which a check fails, with the count of failing rows
sub failing
{
	my ($check) = @_;
	my @bad;
	for my $zone (@zones)
	{
		my $r = $result{$zone};
		if (!defined $r)
		{
			push @bad, "$zone (not checked)";
		}
		elsif ($r->{error} ne '')
		{
			push @bad, "$zone ($r->{error})";
		}
		elsif ($r->{$check} ne '0')
		{
			push @bad, "$zone ($r->{$check})";
		}
	}
	return join ', ', @bad;
}

is(failing('verify'), '', 'verify() finds no difference in any zone');
is(failing('trigger'), '',
	'the triggers file every order in the day and hour of the TimeZone setting');
is(failing('sql'), '',
	'order_biz_date, from_unixtime and unix_timestamp agree with the TimeZone setting');
is(failing('helpers'), '',
	'zone_local, zone_instant and order_in_window agree with the TimeZone setting');

# the scan found the changes: Europe/Berlin and CET change twice a year
is($result{'Europe/Berlin'}{changes}, '6', 'six offset changes in Europe/Berlin, 2025-2027');
is($result{'CET'}{changes}, '6', 'six offset changes in CET, 2025-2027');
my ($instants, $changes) = (0, 0);
for my $r (values %result)
{
	$instants += $r->{instants} || 0;
	$changes += $r->{changes} || 0;
}
cmp_ok($changes, '>', 500, "offset changes found in all zones: $changes");
note("$instants orders in " . scalar(@zones) . " zones");

# the whole path for time_zone = 'CET': configure() re-derives, orders of a
# year (every 45 minutes), verify() and the hours of the summer
$node->safe_psql('postgres', $setup);
is( $node->safe_psql(
		'postgres', q{
	SELECT insure_stream.configure('time_zone', 'UTC');
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
	SELECT g % 500, 'o' || g, 't' || (g % 50), 1767225600000 + g * 2700000::bigint, g % 7
	  FROM generate_series(0, 11679) g;
	SELECT insure_stream.configure('time_zone', 'CET');
	SELECT count(*) FROM insure_stream.verify();
	}), "UTC\nCET\n0", 'time_zone CET: verify() after configure() finds no difference');
is( $node->safe_psql(
		'postgres', q{
	INSERT INTO insure_stream.user_order (id, order_no, gmt_modified)
		VALUES (1000, 'summer', 1782945000000);  -- 2026-07-01 22:30 UTC
	SELECT biz_date FROM insure_stream.order_state WHERE order_no = 'summer';
	SELECT count(*) FROM insure_stream.verify();
	}), "2026070200\n0", 'time_zone CET: a summer order is filed in its CEST hour');

note('CET path in ' . (time - $t0) . ' s');
$node->stop;
done_testing();
