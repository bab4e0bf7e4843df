# The trust model, attacked: the non-superuser database owner who created
# the extension, an ingest role and a connect-only role try to run their
# code with the extension's rights (schema rename and swap, planted
# functions, operators and relations in every schema a function may look
# in, a fake cron.job), read alerts they may not read, and set what the
# server assigns.  Planted code records who ran it and tries to make the
# owner a superuser; at the end nobody planted anything that ran as a
# superuser, and the owner is still no superuser.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('attacks');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE ROLE owner LOGIN;
	CREATE ROLE ingest LOGIN;
	CREATE ROLE stranger LOGIN;
	CREATE DATABASE shop OWNER owner;
	CREATE DATABASE fresh OWNER owner;
});

# runs SQL as a role; returns (exit code, stdout, stderr)
sub as
{
	my ($role, $db, $sql, $stop) = @_;
	my ($ret, $out, $err) = $node->psql($db, $sql, extra_params => [ '-U', $role ],
		on_error_stop => $stop // 1);
	return ($ret, $out, $err);
}

sub owner_is_superuser
{
	return $node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'owner'});
}

# the owner's traps: record who ran them, then try to make the owner a superuser
my $traps = q{
	CREATE TABLE public.canary (who text, super boolean, what text);
	GRANT INSERT, SELECT ON public.canary TO PUBLIC;
	CREATE FUNCTION public.spring(what text) RETURNS text LANGUAGE plpgsql AS $t$
	BEGIN
		INSERT INTO public.canary SELECT current_user, r.rolsuper, what
		  FROM pg_catalog.pg_roles r WHERE r.rolname = current_user;
		BEGIN
			EXECUTE 'ALTER ROLE owner SUPERUSER';
		EXCEPTION WHEN OTHERS THEN NULL;
		END;
		RETURN 'trap';
	END $t$;
	GRANT EXECUTE ON FUNCTION public.spring(text) TO PUBLIC;
};

#
# 1. An installation of 0.1.3, where the owner owns the schema, is updated
#
as('owner', 'shop', $traps);
my ($ret, $out, $err) = as('owner', 'shop', q{
	CREATE EXTENSION insure_stream VERSION '0.1.3';
	GRANT USAGE ON SCHEMA insure_stream TO ingest;
	ALTER SCHEMA insure_stream RENAME TO moved;
	CREATE SCHEMA insure_stream;
	CREATE FUNCTION insure_stream.rebuild_orders() RETURNS void LANGUAGE sql
		AS $$ SELECT public.spring('swapped rebuild_orders') $$;
});
is($ret, 0, '0.1.3: the owner renames the schema and plants a look-alike') or diag($err);
($ret, $out, $err) = as('owner', 'shop', 'ALTER EXTENSION insure_stream UPDATE');
like($err, qr/schema of extension "insure_stream" has been renamed to "moved"/,
	'the update refuses a renamed schema');
as('owner', 'shop', 'DROP SCHEMA insure_stream CASCADE; ALTER SCHEMA moved RENAME TO insure_stream;
	CREATE FUNCTION insure_stream.planted() RETURNS text LANGUAGE sql AS $$ SELECT public.spring($x$planted$x$) $$;
	CREATE VIEW insure_stream.planted_view AS SELECT public.spring($x$view$x$)');
($ret, $out, $err) = as('owner', 'shop', 'ALTER EXTENSION insure_stream UPDATE');
like($err, qr/schema "insure_stream" holds objects that are not part of the extension/,
	'the update refuses a schema holding foreign objects');
like($err, qr/function planted\(\).* view planted_view/, 'and names them');
as('owner', 'shop', 'DROP FUNCTION insure_stream.planted(); DROP VIEW insure_stream.planted_view');
($ret, $out, $err) = as('owner', 'shop', 'ALTER EXTENSION insure_stream UPDATE');
is($ret, 0, 'the owner updates to the current version') or diag($err);
is($node->safe_psql('shop', q{SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'insure_stream'}),
	$node->safe_psql('shop', q{SELECT rolname FROM pg_roles WHERE oid = 10}),
	'the schema belongs to the bootstrap superuser');
is($node->safe_psql('shop', q{
	SELECT has_schema_privilege('ingest', 'insure_stream', 'USAGE')
	   AND has_schema_privilege('owner', 'insure_stream', 'USAGE WITH GRANT OPTION')
	   AND NOT has_schema_privilege('owner', 'insure_stream', 'CREATE')}),
	't', 'usage granted before the update stays; nobody may create in the schema');

#
# 2. What the owner can no longer do to the schema
#
for my $attempt (
	'ALTER SCHEMA insure_stream RENAME TO moved',
	'ALTER SCHEMA insure_stream OWNER TO owner',
	'DROP SCHEMA insure_stream CASCADE',
	'CREATE FUNCTION insure_stream.rebuild_orders(integer) RETURNS void LANGUAGE sql AS $$ SELECT 1 $$',
	'CREATE TABLE insure_stream.t (x int)',
	'CREATE VIEW insure_stream.v AS SELECT 1',
	'ALTER FUNCTION insure_stream.rebuild() SECURITY INVOKER',
	'ALTER FUNCTION insure_stream.setting(text) RENAME TO x',
	'ALTER VIEW insure_stream.hs_order RENAME TO x',
	'CREATE TRIGGER t AFTER UPDATE ON insure_stream.raw_info FOR EACH ROW EXECUTE FUNCTION insure_stream.raw_info_check()',
	'CREATE RULE r AS ON INSERT TO insure_stream.premium_alert DO ALSO SELECT public.spring($x$rule$x$)',
	'CREATE INDEX ON insure_stream.raw_info ((public.spring(raw_info)))',
	'ALTER TABLE insure_stream.raw_info ADD CHECK (public.spring(raw_info) IS NOT NULL)',
	'ALTER TABLE insure_stream.order_state ENABLE ROW LEVEL SECURITY',
	'CREATE POLICY p ON insure_stream.premium_alert USING (public.spring(raw_info) IS NOT NULL)',
	'ALTER TABLE insure_stream.config ALTER COLUMN value SET DEFAULT public.spring($x$default$x$)',
	'ALTER EXTENSION insure_stream DROP FUNCTION insure_stream.rebuild_orders()')
{
	($ret, $out, $err) = as('owner', 'shop', $attempt);
	isnt($ret, 0, "the owner may not: $attempt");
}

#
# 3. Planted functions, operators and relations in every schema a
#    function might look in, then every function the owner may run, by the
#    owner and by a superuser (as a pg_cron job of a superuser would)
#
as('owner', 'fresh', $traps);
($ret, $out, $err) = as('owner', 'fresh', q{
	CREATE EXTENSION insure_stream;
	CREATE SCHEMA trap;
	GRANT USAGE ON SCHEMA trap TO PUBLIC;
	CREATE SCHEMA cron;
	GRANT USAGE ON SCHEMA cron TO PUBLIC;
	CREATE VIEW cron.job AS SELECT 1::bigint AS jobid, public.spring('cron.job') AS jobname,
		'* * * * *'::text AS schedule, 'insure_stream'::text AS command;
	GRANT SELECT ON cron.job TO PUBLIC;
	CREATE FUNCTION cron.schedule_in_database(text, text, text, text) RETURNS bigint LANGUAGE sql
		AS $$ SELECT length(public.spring('cron.schedule_in_database'))::bigint $$;
	CREATE FUNCTION cron.unschedule(text) RETURNS boolean LANGUAGE sql
		AS $$ SELECT public.spring('cron.unschedule') IS NOT NULL $$;
});
is($ret, 0, 'a fresh install; a fake pg_cron schema') or diag($err);

# every name the extension's functions call, planted in trap and public
# with the argument types they are likely called with
my @names = split /\n/, $node->safe_psql('fresh', q{
	SELECT DISTINCT m[1]
	  FROM pg_proc p
	  JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
	  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'insure_stream',
		   regexp_matches(coalesce(p.prosrc, '') || ' ' || coalesce(pg_get_functiondef(p.oid), ''),
						  '([a-z_][a-z0-9_]*)\s*\(', 'g') AS m
	 WHERE p.prokind = 'f'
	   AND m[1] NOT IN ('select', 'values', 'in', 'and', 'or', 'not', 'as', 'on', 'exists', 'any',
						'all', 'coalesce', 'greatest', 'least', 'nullif', 'case', 'when', 'then',
						'filter', 'over', 'from', 'where', 'using', 'returns', 'table', 'cast',
						'lateral', 'row', 'array', 'with', 'if', 'is', 'function', 'trigger',
						'insert', 'into', 'update', 'set', 'join', 'union', 'by', 'order',
						'partition', 'language', 'begin', 'end', 'create', 'replace', 'perform',
						'execute', 'raise', 'return', 'declare', 'loop', 'for', 'while', 'else',
						'elsif', 'null', 'true', 'false', 'distinct', 'limit', 'group', 'having',
						'window', 'range', 'rows', 'preceding', 'following', 'extract',
						'position', 'substring', 'trim', 'overlay', 'interval', 'varchar',
						'numeric', 'timestamp', 'char', 'character', 'decimal', 'do', 'materialized')
	 ORDER BY 1});
ok(@names > 20, 'found the names the extension calls (' . scalar(@names) . ')');
my $plant = '';
for my $schema ('trap', 'public')
{
	for my $name (@names)
	{
		for my $args ('text', 'bigint', 'numeric', 'integer', 'timestamptz', 'timestamp', 'date',
			'double precision', 'interval', 'regclass', 'anyelement', 'text, text', 'bigint, bigint',
			'text, bigint', 'anyelement, anyelement', 'anyarray', 'text, text, text, text')
		{
			my @a = split /, /, $args;
			my $poly = ($args =~ /any/);
			my $ret = $poly ? 'anyelement' : 'text';
			$ret = 'anyelement' if $args eq 'anyarray';
			my $body = $poly ? "SELECT \$1 FROM (SELECT public.spring('$schema.$name')) s"
			  : "SELECT public.spring('$schema.$name')";
			$body = "SELECT \$1[1] FROM (SELECT public.spring('$schema.$name')) s" if $args eq 'anyarray';
			$plant .= "CREATE FUNCTION $schema.\"$name\"($args) RETURNS $ret LANGUAGE sql AS \$p\$ $body \$p\$;\n";
		}
	}
	my @ops = ('=', '<>', '<', '>', '<=', '>=', '+', '-', '*', '/', '||', '~~', '@>', '&&');
	for my $i (0 .. $#ops)
	{
		my $op = $ops[$i];
		for my $type ('text', 'bigint', 'numeric', 'varchar', 'integer', 'timestamptz', 'date')
		{
			my $fname = "op_${type}_$i";
			$plant .= "CREATE FUNCTION $schema.$fname($type, $type) RETURNS boolean LANGUAGE sql"
			  . " AS \$p\$ SELECT public.spring('$schema.operator $op $type') IS NOT NULL \$p\$;\n"
			  . "CREATE OPERATOR $schema.$op (LEFTARG = $type, RIGHTARG = $type, FUNCTION = $schema.$fname);\n";
		}
	}
}
# some look-alikes cannot be made (a name PostgreSQL reserves, an operator
# it refuses for a type): plant what can be planted
($ret, $out, $err) = as('owner', 'fresh', "SET client_min_messages = error;\n$plant", 0);
cmp_ok($node->safe_psql('fresh', q{SELECT count(*) FROM pg_proc WHERE pronamespace = 'trap'::regnamespace}),
	'>', 15 * scalar(@names), 'look-alike functions and operators planted in trap and public')
  or diag(substr($err, 0, 2000));

# temporary look-alikes of every relation of the extension, made in the
# session that then calls the functions
my $temp = join '', map { "CREATE TEMP VIEW \"$_\" AS SELECT public.spring('pg_temp.$_') AS x;\n" }
  split /\n/, $node->safe_psql('fresh',
	q{SELECT relname FROM pg_class WHERE relnamespace = 'insure_stream'::regnamespace ORDER BY 1});

my $calls = q{
	SET search_path = trap, public, pg_temp, pg_catalog, insure_stream;
	SELECT insure_stream.configure('time_zone', 'UTC');
	SELECT insure_stream.configure('order_window', 'none');
	SELECT insure_stream.configure('drop_threshold', '0.2');
	SELECT insure_stream.configure('saved_events', 'saved, paid');
	SELECT insure_stream.configure('saved_events', '');
	SELECT insure_stream.setting('time_zone');
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'secret-info'), (2, '100', 'b');
	UPDATE insure_stream.raw_info SET raw_premium = '120' WHERE id = 2;
	INSERT INTO insure_stream.user_order (id, order_no, customer_tel, gmt_modified, account_payble)
		VALUES (1, 'o1', 't1', 1795572000000, 10), (2, 'o2', 't1', 1795572000000, 5);
	INSERT INTO insure_stream.update_info (id, event, now_premium, now_info)
		VALUES (1, 'saved', '10', 'drop'), (2, 'paid', '119', 'no drop');
	INSERT INTO insure_stream.user_log (log_time, device_id, account_id, page_name)
		VALUES (1, 'd', 'a', 'home');
	SELECT insure_stream.track_page('b', 'd', 'view', 'page', 2);
	SELECT count(*) FROM insure_stream.hs_order;
	SELECT count(*) FROM insure_stream.last_order;
	SELECT count(*) FROM insure_stream.user_last_log;
	SELECT count(*) FROM insure_stream.premium_alert;
	SELECT count(*) FROM insure_stream.settings;
	SELECT count(*) FROM insure_stream.verify();
	SELECT count(*) FROM insure_stream.status();
	SELECT count(*) FROM insure_stream.status;
	SELECT insure_stream.rebuild();
	SELECT count(*) FROM insure_stream.maintenance();
	SELECT insure_stream.compact_orders();
	SELECT count(*) FROM insure_stream.purge_events('100 years');
	SELECT insure_stream.schedule_maintenance();
	SELECT insure_stream.unschedule_maintenance();
	SELECT insure_stream.from_unixtime(1795572000, 'yyyyMMddHH'), insure_stream.from_unixtime(1795572000);
	SELECT insure_stream.unix_timestamp('2026-11-25 10:00:00'), insure_stream.unix_timestamp('20261125', 'yyyyMMdd');
	SELECT insure_stream.last_value(x ORDER BY x), insure_stream.last_value(x, x) FROM generate_series(1, 3) x;
	SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
	SELECT insure_stream.configure('order_window', 'day');
};
for my $role ('owner', 'postgres')
{
	($ret, $out, $err) = as($role, 'fresh', "SET client_min_messages = error;\n$temp$calls", 0);
	unlike($err, qr/server closed the connection|terminating connection/, "$role: every function runs, no crash");
	is($node->safe_psql('fresh', q{SELECT count(*) FROM public.canary WHERE super}), '0',
		"$role: no planted object ran as a superuser");
	is(owner_is_superuser(), 'f', "$role: the owner is still no superuser");
}
# the superuser's own session runs the traps it asks for; nothing else did
is($node->safe_psql('fresh', q{
	SELECT coalesce(string_agg(DISTINCT who || ':' || what, ', '), '') FROM public.canary}), '',
	'no planted object ran at all');
is($node->safe_psql('fresh', 'SELECT count(*) FROM insure_stream.verify()'), '0', 'results stay consistent');
# the re-derives read the schema they are given (on Citus, the copies of
# cluster_copies()): internal, nobody points them at tables of their own
for my $internal (
	q{SELECT count(*) FROM insure_stream.derive_order_state(0, 1, 'pg_temp')},
	q{SELECT count(*) FROM insure_stream.derive_page_state(0, 1, 'public')},
	q{SELECT count(*) FROM insure_stream.verify_orders('public')},
	q{SELECT count(*) FROM insure_stream.order_state_short('public', 'order_state')},
	q{SELECT count(*) FROM insure_stream.verify_premium('public')},
	q{SELECT count(*) FROM insure_stream.verify_pagelog('public')},
	q{SELECT insure_stream.cluster_copies(ARRAY['user_order'])},
	q{SELECT insure_stream.drop_cluster_copies(ARRAY['canary'])})
{
	for my $role ('owner', 'ingest', 'stranger')
	{
		($ret, $out, $err) = as($role, 'fresh', $internal);
		like($err, qr/permission denied for (function|schema)/, "$role may not: $internal");
	}
}

#
# 4. Notifications: a role that may only connect listens
#
as('owner', 'fresh', q{SELECT insure_stream.grant_ingest('ingest')});
my $insert = $node->connstr('fresh') . ' user=ingest';
($ret, $out, $err) = as('stranger', 'fresh', qq{
	LISTEN insure_stream_premium_drop;
	\\! psql -X -q -d "$insert" -c "INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (1, '1', 'secret-now')"
	SELECT 1;
});
like($out . $err, qr/payload "\{"id": 1\}"/, 'a listener gets the key customer id');
unlike($out . $err, qr/secret/, 'and no alert data');
($ret, $out, $err) = as('stranger', 'fresh', 'SELECT * FROM insure_stream.premium_alert');
like($err, qr/permission denied/, 'the connect-only role cannot read the alert');

# notify = deferred: the queue holds alert data (notify_payload = alert);
# only the owner reads it or sends it, nobody else can forge an alert
as('owner', 'fresh', q{SELECT insure_stream.configure('notify', 'deferred'), insure_stream.configure('notify_payload', 'alert')});
($ret, $out, $err) = as('ingest', 'fresh',
	q{INSERT INTO insure_stream.update_info (id, now_premium, now_info) VALUES (1, '0.5', 'queued-secret')});
is($ret, 0, 'deferred: the ingest role ingests an alerting change') or diag($err);
for my $role ('ingest', 'stranger')
{
	for my $attempt (
		'SELECT payload FROM insure_stream.alert_outbox',
		q{INSERT INTO insure_stream.alert_outbox VALUES (1, 1, '{"id": 99}')},
		'DELETE FROM insure_stream.alert_outbox',
		'SELECT insure_stream.forward_alerts()')
	{
		($ret, $out, $err) = as($role, 'fresh', $attempt);
		like($err, qr/permission denied/, "$role may not: $attempt");
	}
}
($ret, $out, $err) = as('stranger', 'fresh', qq{
	LISTEN insure_stream_premium_drop;
	\\! psql -X -q -d "@{[ $node->connstr('fresh') ]} user=owner" -c "SELECT insure_stream.forward_alerts()"
	SELECT 1;
});
like($out . $err, qr/payload "\{"id": 1, .*queued-secret/, 'the owner forwards the queued alert, as notify_payload says');
is($node->safe_psql('fresh', 'SELECT count(*) FROM insure_stream.alert_outbox'), '0', 'and the queue is empty');
as('owner', 'fresh', q{SELECT insure_stream.configure('notify', 'commit'), insure_stream.configure('notify_payload', 'id')});

#
# 5. The ingest role cannot set what the server assigns
#
for my $attempt (
	q{INSERT INTO insure_stream.update_info (id, now_premium, ingest_seq) VALUES (1, '5', 9223372036854775807)},
	q{INSERT INTO insure_stream.update_info (id, now_premium, ingest_seq) OVERRIDING SYSTEM VALUE VALUES (1, '5', 9223372036854775807)},
	q{COPY insure_stream.update_info (id, now_premium, ingest_seq) FROM STDIN})
{
	($ret, $out, $err) = as('ingest', 'fresh', $attempt);
	isnt($ret, 0, "the ingest role may not: $attempt");
}
is($node->safe_psql('fresh', 'SELECT max(ingest_seq) < 1000 FROM insure_stream.update_info'), 't',
	'arrival order stays the server\'s');

is(owner_is_superuser(), 'f', 'in the end, the owner is no superuser');
$node->stop;
done_testing();
