# The upgrade path: an installation of the first version, and one of 0.1.3
# (the last before the trust model of 0.2.0), with data, updated by ALTER
# EXTENSION ... UPDATE, equal a fresh installation of the default version
# (objects, definitions, columns, privileges, dump registration), keep their
# events, results, state, alerts, rejections and settings unchanged, and go
# on ingesting with verify() clean.
# Today a fresh installation runs the same chain of scripts; the comparison
# starts to bite when a version ships its own full install script (do that
# with every release that changes objects).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE updated; CREATE DATABASE updated13; CREATE DATABASE fresh;');

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
my @kept = qw(user_order update_info user_log raw_info order_state order_hour_part order_hour_value
  page_state premium_alert premium_applied rejected_events maintenance_state hs_order last_order
  user_last_log);
my $snapshot = join("\nUNION ALL ", map {
	"SELECT '$_', count(*) || ' ' || coalesce(md5(string_agg(t::text, ';' ORDER BY t::text)), '') FROM insure_stream.$_ t"
} @kept) . "\nUNION ALL SELECT 'settings', string_agg(name || '=' || value, ',' ORDER BY name) FROM insure_stream.config WHERE NOT is_default";

$node->safe_psql('updated', qq{
	CREATE EXTENSION insure_stream VERSION '0.1.0';
	SELECT insure_stream.configure('order_window', 'none');
	SELECT insure_stream.configure('drop_threshold', '0.2');
	$orders_and_premiums
});
# 0.1.3 made user_last_log a view over page_state: this library no longer
# writes the table of earlier versions, and refuses to leave it behind
my ($ret, $out, $err) = $node->psql('updated', $page_views);
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

my $default = $node->safe_psql('updated',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'insure_stream'});
isnt($default, '0.1.0', 'the default version is a later one');

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

# what an installation is made of, as text that does not depend on OIDs
my $shape = q{
	WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'insure_stream')
	SELECT 'member ' || pg_describe_object(d.classid, d.objid, d.objsubid)
	  FROM pg_depend d, ext WHERE d.refobjid = ext.oid AND d.deptype = 'e'
	UNION ALL
	SELECT 'function ' || p.oid::regprocedure || ' ' || pg_get_functiondef(p.oid)
		   || coalesce(array_to_string(p.proacl, ','), '')
	  FROM pg_proc p WHERE p.pronamespace = 'insure_stream'::regnamespace AND p.prokind <> 'a'
	UNION ALL
	SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
		   || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
		   || ' ' || coalesce(array_to_string(c.relacl, ','), '')
	  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
	 WHERE c.relnamespace = 'insure_stream'::regnamespace
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid)
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE c.relnamespace = 'insure_stream'::regnamespace
	UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(t.oid)
	  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	 WHERE c.relnamespace = 'insure_stream'::regnamespace AND NOT t.tgisinternal
	UNION ALL
	SELECT 'dumped ' || cfg::regclass || ' ' || coalesce(cond, '')
	  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(cfg, cond)
	 WHERE e.extname = 'insure_stream'
	ORDER BY 1
};
$node->safe_psql('fresh', 'CREATE EXTENSION insure_stream');
my $updated_shape = $node->safe_psql('updated', $shape);
my $fresh_shape = $node->safe_psql('fresh', $shape);
cmp_ok(scalar(split /\n/, $fresh_shape), '>', 100, 'the installation has its objects');
is($updated_shape, $fresh_shape, 'an updated installation equals a fresh one');


# 0.1.3 with data of the three scenarios: late and out-of-order orders,
# alerts, a quarantined event, operator edits, page views by INSERT, COPY
# and track_page(), and purged events whose results stay
$node->safe_psql('updated13', q{
	CREATE EXTENSION insure_stream VERSION '0.1.3';
	SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
	SELECT insure_stream.configure('order_window', 'none');
	SELECT insure_stream.configure('on_bad_input', 'quarantine');
	SELECT insure_stream.configure('drop_threshold', '0.2');
	INSERT INTO insure_stream.raw_info VALUES (1, '100', 'p1'), (2, '100', 'p2'), (3, '100', 'p3');
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
is($node->safe_psql('updated13', $shape), $fresh_shape, 'an installation updated from 0.1.3 equals a fresh one');

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

$node->stop;
done_testing();
