# Every C entry point called in a context it was not made for fails
# cleanly (issue 17, defect 3 and its class).
#
# (a) As a superuser, every trigger function of the extension is attached
#     in every way PostgreSQL allows (BEFORE, AFTER, INSTEAD OF on a view;
#     ROW, STATEMENT; INSERT, UPDATE, DELETE, TRUNCATE; with and without
#     transition tables) to tables that are not its own (a temp table, plain
#     tables with the same columns, one with a text id, partitioned tables)
#     and to the extension's own tables in every way but the one it was made
#     for, and fired: each time an ERROR with SQLSTATE 39P01.
# (b) The non-superuser database owner, an ingest role and a role that may
#     only connect cannot attach any of them (42501), and calling any C
#     function directly is refused or errors cleanly.
# (c) The C functions and aggregates, called directly by a superuser with
#     NULLs and extreme values (bigint limits, empty and huge text), error
#     cleanly or work.
# Throughout: the server never restarts, the same backend keeps answering,
# no message carries an address ("0x..." or a long number that is not in
# the statement), and nothing is left changed (verify() finds nothing).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('entry_points');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE dbowner LOGIN;
	CREATE ROLE ingest LOGIN;
	CREATE ROLE onlyconnect LOGIN;
	CREATE DATABASE shop OWNER dbowner;
});
is($node->safe_psql('shop', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'dbowner'}), 'f',
	'the database owner is not a superuser');
$node->safe_psql('shop', q{
	CREATE EXTENSION insure_stream;
	SELECT insure_stream.configure('time_zone', 'UTC');
	SELECT insure_stream.grant_ingest('ingest');
}, extra_params => [ '-U', 'dbowner' ]);

# one event in every event table, a key customer: rows for UPDATE and DELETE
$node->safe_psql('shop', q{
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p');
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
		VALUES (1, 'o1', 't1', 1795572000000, 10);
	INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (1, '90', 'n');
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
		VALUES (1795572000000, 'd', 'a', 'home');
});

# The attacker's tools, made by the superuser.  attack.try() runs the setup
# statements and the statement under test, and always rolls all of it back;
# it returns stage|sqlstate|address|message: the stage reached (setup, fire,
# or none when nothing failed), the error's SQLSTATE, whether its message,
# detail or hint show an address, and the start of the message.
$node->safe_psql('shop', q{
	CREATE SCHEMA attack;
	GRANT USAGE ON SCHEMA attack TO PUBLIC;
	CREATE FUNCTION attack.try(setup text[], fire text) RETURNS text
		LANGUAGE plpgsql AS $$
	DECLARE
		stage text := 'setup';
		s text;
		st text;
		msg text;
		det text;
		hin text;
		full_text text;
		address boolean;
	BEGIN
		BEGIN
			FOREACH s IN ARRAY setup LOOP
				EXECUTE s;
			END LOOP;
			stage := 'fire';
			EXECUTE fire;
			stage := 'none';
			RAISE EXCEPTION 'nothing failed';
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
				det = PG_EXCEPTION_DETAIL, hin = PG_EXCEPTION_HINT;
		END;
		full_text := concat_ws(' ', msg, nullif(det, ''), nullif(hin, ''));
		-- "0x", or a number of 9 digits or more that the statement does not hold
		address := full_text ~ '0x' OR EXISTS (
			SELECT FROM regexp_matches(full_text, '[0-9]{9,}', 'g') m
			 WHERE strpos(array_to_string(setup, ' ') || ' ' || fire, m[1]) = 0);
		RETURN concat_ws('|', stage, CASE WHEN stage <> 'none' THEN st ELSE '' END, address,
						 left(regexp_replace(full_text, '\s+', ' ', 'g'), 300));
	END
	$$;
	GRANT EXECUTE ON FUNCTION attack.try(text[], text) TO PUBLIC;

	-- plain tables with the columns of the extension's tables
	CREATE TABLE attack.config (name text, value text, is_default boolean, changed_at timestamptz);
	CREATE TABLE attack.user_order (id bigint, order_no varchar, order_type bigint, pay_time bigint,
		order_price double precision, customer_name varchar, customer_tel varchar,
		certificate_no varchar, gmt_created bigint, gmt_modified bigint,
		account_payble double precision, ingest_seq bigint, ingested_at timestamptz);
	CREATE TABLE attack.update_info (id bigint, channel varchar, open_id varchar, event varchar,
		now_premium varchar, creator varchar, modifier varchar, gmt_modified bigint,
		now_info varchar, ingest_seq bigint, ingested_at timestamptz);
	CREATE TABLE attack.user_log (log_time bigint, device_id varchar, account_id varchar,
		bury_point_type varchar, page_name varchar, ingest_seq bigint, ingested_at timestamptz);
	CREATE TABLE attack.raw_info (id bigint, raw_premium varchar, raw_info varchar);
	CREATE TABLE attack.raw_info_text (id text, raw_premium varchar, raw_info varchar);
	-- partitioned ones
	CREATE TABLE attack.part_user_order (LIKE attack.user_order) PARTITION BY HASH (id);
	CREATE TABLE attack.part_user_order_0 PARTITION OF attack.part_user_order
		FOR VALUES WITH (MODULUS 1, REMAINDER 0);
	CREATE TABLE attack.part_raw_info_text (LIKE attack.raw_info_text) PARTITION BY HASH (id);
	CREATE TABLE attack.part_raw_info_text_0 PARTITION OF attack.part_raw_info_text
		FOR VALUES WITH (MODULUS 1, REMAINDER 0);
	-- a view, for INSTEAD OF triggers
	CREATE VIEW attack.v_user_order AS SELECT * FROM attack.user_order;
});

# the statement that fires a trigger, per table shape and event
my %columns = (
	config => [ q{(name, value, is_default) VALUES ('attack', 'x', false)}, 'value' ],
	user_order => [ q{(id, order_no, gmt_modified, account_payble, ingest_seq) VALUES (2, 'o2', 1, 1, 2)}, 'order_no' ],
	update_info => [ q{(id, now_premium, now_info, ingest_seq) VALUES (2, '1', 'i', 2)}, 'now_info' ],
	user_log => [ q{(log_time, device_id, account_id, page_name, ingest_seq) VALUES (1, 'd', 'a', 'p', 2)}, 'page_name' ],
	raw_info => [ q{(id, raw_premium, raw_info) VALUES (9999, 'bad', 'r')}, 'raw_info' ],
	raw_info_text => [ q{(id, raw_premium, raw_info) VALUES ('9999', 'bad', 'r')}, 'raw_info' ]);
# own tables' ingest_seq and ingested_at are the server's: leave them out
my %own_insert = (
	user_order => q{(id, order_no, gmt_modified, account_payble) VALUES (2, 'o2', 1, 1)},
	update_info => q{(id, now_premium, now_info) VALUES (2, '1', 'i')},
	user_log => q{(log_time, device_id, account_id, page_name) VALUES (1, 'd', 'a', 'p')});

sub fire_sql
{
	my ($table, $shape, $event, $own) = @_;
	my ($insert, $column) = @{ $columns{$shape} };
	$insert = $own_insert{$shape} if $own && $own_insert{$shape};
	return "INSERT INTO $table $insert" if $event eq 'INSERT';
	return "UPDATE $table SET $column = $column" if $event eq 'UPDATE';
	return "DELETE FROM $table" if $event eq 'DELETE';
	return "TRUNCATE $table";
}

# the targets: [table, shape, kind]
my @targets = (
	(map { [ "insure_stream.$_", $_, 'own' ] } qw(config user_order update_info user_log raw_info)),
	(map { [ "attack.$_", $_, 'plain' ] } qw(config user_order update_info user_log raw_info raw_info_text)),
	[ 'pg_temp.raw_info', 'raw_info_text', 'temp' ],
	[ 'pg_temp.user_order', 'user_order', 'temp' ],
	[ 'attack.part_user_order', 'user_order', 'partitioned' ],
	[ 'attack.part_raw_info_text', 'raw_info_text', 'partitioned' ],
	[ 'attack.v_user_order', 'user_order', 'view' ]);

# every way PostgreSQL lets a trigger be attached to a target of a kind
sub modes
{
	my ($kind) = @_;
	my @modes;
	if ($kind eq 'view')
	{
		push @modes, map { { timing => 'INSTEAD OF', level => 'ROW', event => $_, refs => '' } }
		  qw(INSERT UPDATE DELETE);
		return @modes;
	}
	for my $timing ('BEFORE', 'AFTER')
	{
		for my $level ('ROW', 'STATEMENT')
		{
			for my $event (qw(INSERT UPDATE DELETE TRUNCATE))
			{
				next if $event eq 'TRUNCATE' && $level eq 'ROW';
				my @refs = ('');
				if ($timing eq 'AFTER' && $event ne 'TRUNCATE'
					&& !($kind eq 'partitioned' && $level eq 'ROW'))
				{
					push @refs, 'REFERENCING NEW TABLE AS nt' if $event ne 'DELETE';
					push @refs, 'REFERENCING OLD TABLE AS ot' if $event ne 'INSERT';
					push @refs, 'REFERENCING OLD TABLE AS ot NEW TABLE AS nt' if $event eq 'UPDATE';
				}
				push @modes, map { { timing => $timing, level => $level, event => $event, refs => $_ } } @refs;
			}
		}
	}
	return @modes;
}

# the one context each trigger function was made for (left out below)
my %made_for = (
	# made for the Citus shards of the event tables only (test/citus): on one
	# server it is refused even where it would run there, BEFORE INSERT FOR
	# EACH ROW on an event table
	number_on_shard => sub { return 0; },
	settings_changed => sub {
		my ($shape, $m) = @_;
		return $shape eq 'config' && $m->{timing} eq 'AFTER' && $m->{level} eq 'STATEMENT';
	},
	refuse_event_change => sub {
		my ($shape, $m) = @_;
		return $shape =~ /^(user_order|update_info|user_log)$/ && $m->{timing} eq 'BEFORE'
		  && $m->{level} eq 'STATEMENT' && $m->{event} =~ /^(UPDATE|DELETE)$/;
	},
	raw_info_check => sub {
		my ($shape, $m) = @_;
		return $shape eq 'raw_info' && $m->{timing} eq 'BEFORE' && $m->{level} eq 'ROW'
		  && $m->{event} =~ /^(INSERT|UPDATE)$/;
	},
	config_check => sub {
		my ($shape, $m) = @_;
		return $shape eq 'config' && $m->{timing} eq 'BEFORE' && $m->{level} eq 'ROW'
		  && $m->{event} =~ /^(INSERT|UPDATE)$/;
	});
for my $apply (qw(user_order update_info user_log))
{
	$made_for{"${apply}_apply"} = sub {
		my ($shape, $m) = @_;
		return $shape eq $apply && $m->{timing} eq 'AFTER' && $m->{level} eq 'STATEMENT'
		  && $m->{event} eq 'INSERT' && $m->{refs} =~ /NEW TABLE/;
	};
}

# every trigger function of the extension, from the catalog
my @trigger_functions = split /\n/, $node->safe_psql('shop', q{
	SELECT p.proname FROM pg_proc p JOIN pg_depend d
	    ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'insure_stream')
	   AND p.prorettype = 'trigger'::regtype
	 ORDER BY 1});
is_deeply([ sort @trigger_functions ], [ sort keys %made_for ],
	'the trigger functions of the extension are the ones this test knows');

sub q_dollar
{
	my ($text) = @_;
	die "text holds the quote" if $text =~ /\$q\$/;
	return "\$q\$$text\$q\$";
}

# a line of SQL: SELECT 'id|' || attack.try(setup, fire)
sub try_line
{
	my ($id, $setup, $fire) = @_;
	my $array = @$setup
	  ? 'ARRAY[' . join(', ', map { q_dollar($_) } @$setup) . ']'
	  : q{'{}'::text[]};
	return 'SELECT ' . q_dollar("$id|") . " || attack.try($array, " . q_dollar($fire) . ");\n";
}

# runs the lines in one session as a role; returns {id => [stage, sqlstate, address, message]}
sub run_tries
{
	my ($role, $prologue, $lines) = @_;
	my ($ret, $out, $err) = $node->psql('shop', $prologue . join('', @$lines),
		extra_params => [ '-U', $role ]);
	my %result;
	for my $line (split /\n/, $out)
	{
		my ($id, $stage, $sqlstate, $address, $message) = split /\|/, $line, 5;
		$result{$id} = [ $stage, $sqlstate // '', $address // '', $message // '' ];
	}
	diag("psql as $role: $err") if $err ne '';
	return \%result;
}

# the server and one session of it are watched throughout
my $started = $node->safe_psql('shop', 'SELECT pg_postmaster_start_time()');
my $watcher = $node->background_psql('shop');
my $watcher_pid = $watcher->query_safe('SELECT pg_backend_pid()');

# (a) every trigger function, every way, every target
my $temp_tables = q{
	CREATE TEMP TABLE raw_info (id text, raw_premium varchar, raw_info varchar);
	INSERT INTO pg_temp.raw_info VALUES ('1', '100', 'p');
	CREATE TEMP TABLE user_order (LIKE attack.user_order);
	INSERT INTO pg_temp.user_order (id, order_no, ingest_seq) VALUES (1, 'o1', 1);
	INSERT INTO attack.config VALUES ('time_zone', 'UTC', true, now());
	INSERT INTO attack.user_order (id, order_no, ingest_seq) VALUES (1, 'o1', 1);
	INSERT INTO attack.update_info (id, now_premium, ingest_seq) VALUES (1, '1', 1);
	INSERT INTO attack.user_log (log_time, account_id, ingest_seq) VALUES (1, 'a', 1);
	INSERT INTO attack.raw_info VALUES (1, '100', 'p');
	INSERT INTO attack.raw_info_text VALUES ('1', '100', 'p');
	INSERT INTO attack.part_user_order (id, order_no, ingest_seq) VALUES (1, 'o1', 1);
	INSERT INTO attack.part_raw_info_text VALUES ('1', '100', 'p');
};
my (@lines, %cases);
my $n = 0;
for my $function (@trigger_functions)
{
	for my $target (@targets)
	{
		my ($table, $shape, $kind) = @$target;
		for my $m (modes($kind))
		{
			next if $kind eq 'own' && $made_for{$function}->($shape, $m);
			my $id = 'a' . $n++;
			my $how = "$m->{timing} $m->{event} $m->{refs} FOR EACH $m->{level}";
			$how =~ s/  +/ /g;
			my @setup;
			# the extension's own triggers stay out of the way
			push @setup, "ALTER TABLE $table DISABLE TRIGGER USER" if $kind eq 'own';
			push @setup, "CREATE TRIGGER attack_trigger $m->{timing} $m->{event} ON $table"
			  . " $m->{refs} FOR EACH $m->{level} EXECUTE FUNCTION insure_stream.$function()";
			push @lines, try_line($id, \@setup, fire_sql($table, $shape, $m->{event}, $kind eq 'own'));
			push @{ $cases{"$function on $kind $table"} }, [ $id, $how ];
		}
	}
}
my $result = run_tries('postgres', $temp_tables, \@lines);
for my $group (sort keys %cases)
{
	my @bad;
	for my $case (@{ $cases{$group} })
	{
		my ($id, $how) = @$case;
		my $r = $result->{$id} // [ 'no answer', '', '', '' ];
		push @bad, "$how: " . join('|', @$r)
		  unless $r->[0] eq 'fire' && $r->[1] eq '39P01' && $r->[2] eq 'f';
	}
	is_deeply(\@bad, [], "$group: " . scalar(@{ $cases{$group} }) . ' ways, each SQLSTATE 39P01, no address');
}
like($result->{a0}[3] // '', qr/^function "\w+" must be fired/, 'the message says how the function must be fired');

# the text id that used to be printed as an address is not read
my $textid = run_tries('postgres', '', [
	try_line('t1', [ q{CREATE TRIGGER attack_trigger BEFORE INSERT ON attack.raw_info_text FOR EACH ROW EXECUTE FUNCTION insure_stream.raw_info_check()} ],
		q{INSERT INTO attack.raw_info_text VALUES ('8888', 'not a premium', 'r')}) ]);
like($textid->{t1}[3], qr/^function "raw_info_check" must be fired for table "insure_stream.raw_info" It was fired for table "raw_info_text"\.$/,
	'raw_info_check on a table with a text id: refused by name, no id read');

# (b) the owner, the ingest role and the connect-only role
my %public = map { $_ => 1 } qw(from_unixtime unix_timestamp);
my %granted = (dbowner => { track_page => 1, zone_local => 1, zone_instant => 1 },
	ingest => { track_page => 1 });	# grant_ingest() gives track_page()
my @c_functions = map { [ split /\|/ ] } split /\n/, $node->safe_psql('shop', q{
	SELECT p.proname, p.oid::regprocedure,
	       coalesce((SELECT string_agg(t::regtype::text, ',' ORDER BY o)
	                   FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, o)), ''),
	       p.prorettype = 'trigger'::regtype
	  FROM pg_proc p JOIN pg_depend d
	    ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
	 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'insure_stream')
	   AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
	 ORDER BY 2::text});
my %sample = (
	bigint => '0::bigint', text => q{'x'::text}, 'timestamp with time zone' => 'now()',
	'timestamp without time zone' => 'localtimestamp',
	anyelement => '1', anycompatible => '1', internal => 'NULL::internal', bytea => q{'\x00'::bytea});
for my $role (qw(dbowner ingest onlyconnect))
{
	my (@role_lines, %expect);
	for my $f (@trigger_functions)
	{
		for my $how ('AFTER INSERT ON victim FOR EACH STATEMENT', 'BEFORE INSERT ON victim FOR EACH ROW')
		{
			my $id = "b$role$f$how";
			$id =~ s/\W//g;
			push @role_lines, try_line($id, [], "CREATE TRIGGER attack_trigger $how EXECUTE FUNCTION insure_stream.$f()");
			$expect{$id} = [ "CREATE TRIGGER ... $how EXECUTE FUNCTION $f()", 'refused' ];
		}
	}
	for my $c (@c_functions)
	{
		my ($name, $signature, $types, $is_trigger) = @$c;
		my $args = join(', ', map { $sample{$_} // die "no sample for $_" } grep { $_ ne '' } split /,/, $types);
		my $id = "c$role$signature";
		$id =~ s/\W//g;
		push @role_lines, try_line($id, [], "SELECT insure_stream.$name($args)");
		my $allowed = $role ne 'onlyconnect' && ($public{$name} || $granted{$role}{$name});
		$expect{$id} = [ "$signature", $allowed ? 'clean' : 'refused', $types =~ /internal/ ];
	}
	my $r = run_tries($role, 'CREATE TEMP TABLE victim (id text, raw_premium text);', \@role_lines);
	my @bad;
	for my $id (sort keys %expect)
	{
		my ($what, $want, $internal) = @{ $expect{$id} };
		my $got = $r->{$id} // [ 'no answer', '', '', '' ];
		my $ok = $got->[2] eq 'f' && $got->[1] !~ /^XX/
		  && ($want eq 'clean'
			|| $got->[1] eq '42501'
			|| ($internal && $got->[1] eq '42846'));    # internal cannot be passed at all
		push @bad, "$what: " . join('|', @$got) unless $ok;
	}
	is_deeply(\@bad, [],
		"$role: attaching any trigger function is refused (42501), every C function called directly is refused or errors cleanly ("
		  . scalar(keys %expect) . ' calls)');
}

# the aggregates stay for everyone: their support functions run as their owner
my ($ret, $out, $err) = $node->psql('shop', q{
	SELECT insure_stream.last_value(v) || ' ' || insure_stream.last_value(v, o)
	  FROM (VALUES (1, 2), (3, 1)) s(v, o);
	SELECT insure_stream.from_unixtime(0, 'yyyy');
}, extra_params => [ '-U', 'ingest' ]);
is($out, "3 1\n1970", 'the ingest role uses the last_value aggregates and the time helpers') or diag($err);
# the triggers fire for roles that may not attach them
($ret, $out, $err) = $node->psql('shop', q{INSERT INTO insure_stream.raw_info VALUES (2, 'not a premium', 'p')},
	extra_params => [ '-U', 'dbowner' ]);
like($err, qr/invalid premium "not a premium" in column "raw_premium" of table "raw_info"\nDETAIL:  The key customer with id 2 was not written/,
	'raw_info_check still checks the owner\'s writes');

# (c) direct calls with NULLs and extreme values, as superuser
my %pool = (
	bigint => [ 'NULL::bigint', q{'-9223372036854775808'::bigint}, '9223372036854775807::bigint', '0::bigint', '(-1)::bigint' ],
	text => [ 'NULL::text', q{''::text}, q{pg_catalog.repeat('x', 1000000)}, q{'x'::text} ],
	timestamptz => [ 'NULL::timestamptz', q{'-infinity'::timestamptz}, q{'infinity'::timestamptz}, q{'2026-11-25 02:00:00+00'::timestamptz} ]);
my @patterns = (q{'yyyy-MM-dd HH:mm:ss.SSS'}, q{''''}, q{''''''}, q{'''x'}, q{'yyyyyyyyyyyyyyyyyyyy'},
	q{'Z'}, q{pg_catalog.repeat('y', 100000)}, q{pg_catalog.repeat('''''', 100)});
my %calls = (
	'normalize_setting' => [
		[ @{ $pool{text} }, map { "'$_'" } qw(time_zone drop_threshold order_window saved_events max_future on_bad_input retention) ],
		[ @{ $pool{text} }, q{'-1'}, q{'1e400'}, q{'NaN'}, q{'0.999999999999999999999'}, q{'9223372036854775807 days'},
		  q{'-178000000 years'}, q{'1 mon'}, q{'quarantine'}, q{','}, q{'UTC'} ] ],
	'purge_event_rows' => [
		[ @{ $pool{text} }, q{'user_order'}, q{'update_info'}, q{'user_log'}, q{'config'}, q{'user_order; DROP TABLE attack.config'} ],
		$pool{bigint}, $pool{timestamptz} ],
	'track_page' => [ $pool{text}, $pool{text}, $pool{text}, $pool{text}, $pool{bigint} ],
	'from_unixtime/1' => [ $pool{bigint} ],
	'from_unixtime/2' => [ $pool{bigint}, [ @{ $pool{text} }, @patterns ] ],
	'unix_timestamp/0' => [],
	'unix_timestamp/1' => [ [ @{ $pool{text} }, q{'9999-12-31 23:59:59'}, q{'0000-00-00 00:00:00'}, q{'99999999999999999999'} ] ],
	'unix_timestamp/2' => [ [ @{ $pool{text} }, q{'9999-12-31 23:59:59.999'}, q{'99999999999999999999'}, q{'-1'} ],
		[ @{ $pool{text} }, @patterns ] ],
	'last_value_trans' => [ $pool{bigint}, $pool{bigint} ],
	'zone_local' => [ [ @{ $pool{timestamptz} }, q{'4713-01-01 00:00:00+00 BC'::timestamptz}, q{'294276-12-31 23:59:59+00'::timestamptz} ],
		[ @{ $pool{text} }, q{'CET'}, q{'Pacific/Kiritimati'} ] ],
	'zone_instant' => [ [ 'NULL::timestamp', q{'-infinity'::timestamp}, q{'infinity'::timestamp},
		  q{'4713-01-01 00:00:00 BC'::timestamp}, q{'294276-12-31 23:59:59'::timestamp}, q{'2026-03-29 02:30:00'::timestamp} ],
		[ @{ $pool{text} }, q{'CET'}, q{'America/Adak'} ] ],
	'order_in_window' => [ $pool{bigint},
		[ @{ $pool{timestamptz} }, q{'4713-01-01 00:00:00+00 BC'::timestamptz}, q{'294276-12-31 23:59:59+00'::timestamptz} ],
		[ @{ $pool{text} }, q{'CET'}, q{'Pacific/Kiritimati'} ] ]);
# aggregates are called over one row of their arguments
my %aggregates = (
	'last_value/1' => [ [ @{ $pool{bigint} }, @{ $pool{text} } ] ],
	'last_value/2' => [ [ @{ $pool{bigint} }, @{ $pool{text} } ], [ @{ $pool{bigint} }, @{ $pool{text} } ] ]);

# the argument lists: every combination up to three arguments; beyond, each
# argument through its pool with the others at their last (ordinary) value
sub argument_lists
{
	my ($pools) = @_;
	return ([]) unless @$pools;
	if (@$pools > 3)
	{
		my @base = map { $_->[-1] } @$pools;
		my @lists = ([ map { $_->[0] } @$pools ], [ map { $_->[1] } @$pools ]);
		for my $i (0 .. $#$pools)
		{
			push @lists, map { my @l = @base; $l[$i] = $_; \@l } @{ $pools->[$i] };
		}
		return @lists;
	}
	my @lists = ([]);
	for my $pool (@$pools)
	{
		@lists = map { my $l = $_; map { [ @$l, $_ ] } @$pool } @lists;
	}
	return @lists;
}

my (@direct, %direct_cases);
$n = 0;
for my $call (sort(keys %calls), sort(keys %aggregates))
{
	my $aggregate = exists $aggregates{$call};
	my $pools = $aggregate ? $aggregates{$call} : $calls{$call};
	(my $name = $call) =~ s{/\d+$}{};
	for my $args (argument_lists($pools))
	{
		my $sql = $aggregate
		  ? "SELECT insure_stream.$name(" . join(', ', map { "s.a$_" } 0 .. $#$args) . ') FROM (SELECT '
		  . join(', ', map { "$args->[$_] AS a$_" } 0 .. $#$args) . ') s'
		  : "SELECT insure_stream.$name(" . join(', ', @$args) . ')';
		my $id = 'd' . $n++;
		push @direct, try_line($id, [], $sql);
		push @{ $direct_cases{$call} }, [ $id, $sql ];
	}
}
$result = run_tries('postgres', '', \@direct);
for my $call (sort keys %direct_cases)
{
	my @bad;
	for my $case (@{ $direct_cases{$call} })
	{
		my ($id, $sql) = @$case;
		my $r = $result->{$id} // [ 'no answer', '', '', '' ];
		push @bad, "$sql: " . join('|', @$r)
		  unless ($r->[0] eq 'none' || ($r->[0] eq 'fire' && $r->[1] !~ /^XX/)) && $r->[2] eq 'f';
	}
	is_deeply(\@bad, [], "$call: " . scalar(@{ $direct_cases{$call} })
		  . ' calls with NULLs and extreme values work or fail cleanly');
}
my ($not_null) = grep { $_->[1] !~ /NULL/ } @{ $direct_cases{last_value_trans} };
is($result->{ $not_null->[0] }[1], '0A000',
	'an aggregate support function called directly says it is not in an aggregate');

# nothing crashed, nothing changed
is($node->safe_psql('shop', 'SELECT pg_postmaster_start_time()'), $started, 'the server never restarted');
is($watcher->query_safe('SELECT pg_backend_pid()'), $watcher_pid, 'the same backend still answers');
$watcher->quit;
ok(!$node->log_contains('terminated by signal'), 'no backend was terminated by a signal');
is($node->safe_psql('shop', 'SELECT count(*) FROM insure_stream.verify()'), '0', 'verify() finds no difference');
is($node->safe_psql('shop', q{SELECT count(*) FROM pg_trigger WHERE tgname = 'attack_trigger'}), '0',
	'no attack trigger was left behind');
$node->stop;
done_testing();
