/*
 * ======================================================================
 * Settings (src/config.c)
 * ======================================================================
 *
 * Rows with is_default = true come with the extension and are not dumped;
 * configure() writes rows with is_default = false, which pg_dump keeps.  The
 * effective value of a setting is its non-default row if there is one.
 */
CREATE TABLE insure_stream.config (
	name		text NOT NULL,
	value		text NOT NULL,
	is_default	boolean NOT NULL DEFAULT false,
	changed_at	timestamptz NOT NULL DEFAULT pg_catalog.now(),
	PRIMARY KEY (name, is_default)
);
COMMENT ON TABLE insure_stream.config IS
	'settings of insure_stream; change them with insure_stream.configure()';
SELECT pg_catalog.pg_extension_config_dump('insure_stream.config', 'WHERE NOT is_default');
/* dump and restore as the owner (80_roles.sql) */
GRANT SELECT, INSERT ON insure_stream.config TO @extowner@;
/* settings are no secret: any role the owner lets into the schema reads them (the time helpers need the zone) */
GRANT SELECT ON insure_stream.config TO PUBLIC;

/* backends cache the settings; any change to the table invalidates them */
CREATE FUNCTION insure_stream.settings_changed() RETURNS trigger
	LANGUAGE C
	AS 'MODULE_PATHNAME', 'insure_stream_settings_changed';
COMMENT ON FUNCTION insure_stream.settings_changed() IS
	'trigger: makes every backend read insure_stream.config again';
REVOKE ALL ON FUNCTION insure_stream.settings_changed() FROM PUBLIC;
CREATE TRIGGER config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
	ON insure_stream.config
	FOR EACH STATEMENT EXECUTE FUNCTION insure_stream.settings_changed();
/* rows a subscription applies (session_replication_role = replica) too: backends trust the trigger (src/config.c) */
ALTER TABLE insure_stream.config ENABLE ALWAYS TRIGGER config_changed;

/*
 * The defaults.  notify_payload: any role that can connect may LISTEN,
 * and NOTIFY has no access control, so by default an alert's notification
 * carries {"id": N} only, and listeners read premium_alert with their own
 * rights.  notify_payload = alert sends the alert's data (raw_info,
 * now_info, premiums) to every listener, a choice the operator makes
 * knowingly.  notify: commit (NOTIFY, delivered at the ingest's commit),
 * deferred (queued in alert_outbox; forward_alerts() sends them) or off.
 */
INSERT INTO insure_stream.config (name, value, is_default) VALUES
	('time_zone', pg_catalog.current_setting('TimeZone'), true),
	('drop_threshold', '0.15', true),
	('order_window', 'day', true),
	('saved_events', '', true),
	('max_future', '1 day', true),
	('on_bad_input', 'error', true),
	('retention', '', true),
	('notify_payload', 'id', true),
	('notify', 'commit', true);

CREATE VIEW insure_stream.settings AS
	SELECT DISTINCT ON (c.name) c.name, c.value, c.is_default, c.changed_at
	  FROM insure_stream.config c
	 ORDER BY c.name, c.is_default;
COMMENT ON VIEW insure_stream.settings IS 'effective value of every insure_stream setting';
GRANT SELECT ON insure_stream.settings TO @extowner@ WITH GRANT OPTION;
GRANT SELECT ON insure_stream.settings TO PUBLIC;

/* PUBLIC may run it: it reads what PUBLIC may read in config anyway */
CREATE FUNCTION insure_stream.setting(setting_name text) RETURNS text
	LANGUAGE sql STABLE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT c.value FROM insure_stream.config c
	 WHERE c.name OPERATOR(pg_catalog.=) setting_name
	 ORDER BY c.is_default LIMIT 1
	$$;
COMMENT ON FUNCTION insure_stream.setting(text) IS 'effective value of one insure_stream setting';

/* the validated, normalized form of a setting value; raises on bad values (configure() and config_check() call it) */
CREATE FUNCTION insure_stream.normalize_setting(setting_name text, setting_value text) RETURNS text
	LANGUAGE C STABLE
	AS 'MODULE_PATHNAME', 'insure_stream_normalize_setting';
COMMENT ON FUNCTION insure_stream.normalize_setting(text, text) IS
	'checks a setting value and returns it in canonical form (errors on bad values)';
REVOKE ALL ON FUNCTION insure_stream.normalize_setting(text, text) FROM PUBLIC;

CREATE FUNCTION insure_stream.configure(setting_name text, setting_value text) RETURNS text
	LANGUAGE plpgsql VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	canonical text;
	previous text;
BEGIN
	canonical := insure_stream.normalize_setting(setting_name, setting_value);
	previous := insure_stream.setting(setting_name);
	/* lock the setting first: the lock order is config, then results */
	INSERT INTO insure_stream.config AS c (name, value, is_default)
		VALUES (setting_name, canonical, false)
		ON CONFLICT (name, is_default)
		DO UPDATE SET value = excluded.value, changed_at = excluded.changed_at;
	IF setting_name IN ('time_zone', 'order_window')
	   AND previous IS DISTINCT FROM canonical THEN
		PERFORM insure_stream.rebuild();
	END IF;
	RETURN canonical;
END
$$;
COMMENT ON FUNCTION insure_stream.configure(text, text) IS
	'validates and changes a setting; a new time_zone or order_window re-derives the results';
REVOKE ALL ON FUNCTION insure_stream.configure(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.configure(text, text) TO @extowner@ WITH GRANT OPTION;

/*
 * configure() validates, but a restore, or the owner, writes config rows
 * directly.  Every row written is checked and put in canonical form by
 * the same function configure() uses, so a restored or hand-written
 * setting is as valid as one set by configure().  (A direct write does not
 * re-derive the results as configure() does: a restore must not, since it
 * restores the results too.)  normalize_setting() is not for the owner to
 * call, so the check runs with the extension's rights; it checks first
 * that it is fired as made for, on config (a name in the schema of the
 * bootstrap superuser).  The defaults above were written before it, as
 * they are in an installation updated from an earlier version.
 */
/*
 * On a Citus node the settings are a reference table (distribute()), and
 * config_check fires on its shard there: insure_stream.config_<shardid>,
 * which pg_dist_shard lists for insure_stream.config.
 */
CREATE FUNCTION insure_stream.is_config_shard(rel regclass) RETURNS boolean
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	shard_name text;
	found boolean;
BEGIN
	/* the name as regclass prints it (Citus hides shards from pg_class queries) */
	shard_name := rel::text;
	IF shard_name OPERATOR(pg_catalog.!~) '^insure_stream\.config_[0-9]{1,18}$'
	   OR pg_catalog.to_regclass('pg_catalog.pg_dist_shard') IS NULL THEN
		RETURN false;
	END IF;
	EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_shard s
							 WHERE s.shardid OPERATOR(pg_catalog.=) $1
							   AND s.logicalrelid OPERATOR(pg_catalog.=) ''insure_stream.config''::pg_catalog.regclass)'
		INTO found USING pg_catalog.substr(shard_name, 22)::pg_catalog.int8;
	RETURN found;
END
$$;
COMMENT ON FUNCTION insure_stream.is_config_shard(regclass) IS
	'internal: is the relation the Citus shard of insure_stream.config on this node?';
REVOKE ALL ON FUNCTION insure_stream.is_config_shard(regclass) FROM PUBLIC;

CREATE FUNCTION insure_stream.config_check() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF TG_WHEN OPERATOR(pg_catalog.<>) 'BEFORE' OR TG_LEVEL OPERATOR(pg_catalog.<>) 'ROW'
	   OR TG_OP OPERATOR(pg_catalog.<>) ALL (ARRAY['INSERT', 'UPDATE']) THEN
		RAISE EXCEPTION 'function "config_check" must be fired BEFORE INSERT OR UPDATE FOR EACH ROW'
			USING ERRCODE = 'trigger_protocol_violated';
	END IF;
	IF TG_RELID OPERATOR(pg_catalog.<>) 'insure_stream.config'::pg_catalog.regclass
	   AND NOT insure_stream.is_config_shard(TG_RELID) THEN
		RAISE EXCEPTION 'function "config_check" must be fired for table "config"'
			USING ERRCODE = 'trigger_protocol_violated',
				  DETAIL = pg_catalog.format('It was fired for table "%s".', TG_TABLE_NAME);
	END IF;
	NEW.value := insure_stream.normalize_setting(NEW.name, NEW.value);
	RETURN NEW;
END
$$;
COMMENT ON FUNCTION insure_stream.config_check() IS
	'trigger: checks a config row written directly (a restore) as configure() does, and stores its canonical form';
REVOKE ALL ON FUNCTION insure_stream.config_check() FROM PUBLIC;
CREATE TRIGGER config_check BEFORE INSERT OR UPDATE ON insure_stream.config
	FOR EACH ROW EXECUTE FUNCTION insure_stream.config_check();

/*
 * ======================================================================
 * Local time in the configured time_zone
 * ======================================================================
 *
 * time_zone is a name of the tz database, as the TimeZone setting takes it:
 * the triggers resolve it with pg_tzset(), so 'CET' follows CET and CEST.
 * pg_catalog.timezone() (AT TIME ZONE) looks a name up first as an
 * abbreviation of the session's timezone_abbreviations ('CET' = a fixed
 * +01), so SQL that used it filed summer orders an hour away from the
 * trigger.  Every local time the SQL side computes goes through these C
 * functions, which share the triggers' code and depend on no session
 * setting.  The owner may run (and grant) them.
 */
CREATE FUNCTION insure_stream.zone_local(ts timestamptz, zone text) RETURNS timestamp
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_zone_local';
COMMENT ON FUNCTION insure_stream.zone_local(timestamptz, text) IS
	'wall-clock time of an instant in a zone of the tz database (as the triggers and the TimeZone setting take it)';
REVOKE ALL ON FUNCTION insure_stream.zone_local(timestamptz, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.zone_local(timestamptz, text) TO @extowner@ WITH GRANT OPTION;

CREATE FUNCTION insure_stream.zone_instant(local_time timestamp, zone text) RETURNS timestamptz
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'insure_stream_zone_instant';
COMMENT ON FUNCTION insure_stream.zone_instant(timestamp, text) IS
	'instant at which the clocks of a zone of the tz database show a wall-clock time (inverse of zone_local)';
REVOKE ALL ON FUNCTION insure_stream.zone_instant(timestamp, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION insure_stream.zone_instant(timestamp, text) TO @extowner@ WITH GRANT OPTION;
