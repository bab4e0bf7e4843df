-- The "written by hand" baseline of Scenario 1: a PL/pgSQL row trigger
-- keeping the same results (per (user, day) last values, hour figures with
-- exact premium and distinct counts by reference counting).  One hour row
-- per hour, updated by every order of that hour.
CREATE SCHEMA IF NOT EXISTS plpgsql_baseline;
SET search_path = plpgsql_baseline, public;

CREATE TABLE user_order (LIKE insure_stream.user_order INCLUDING DEFAULTS INCLUDING IDENTITY);
CREATE TABLE state (
	id bigint, day date, gmt_modified bigint,
	order_no varchar, order_no_at bigint,
	customer_tel varchar, customer_tel_at bigint,
	account_payble double precision, account_payble_at bigint,
	PRIMARY KEY (id, day));
CREATE TABLE hour_figures (biz_date varchar PRIMARY KEY, users bigint, premium numeric,
	policies bigint, holders bigint);
CREATE TABLE hour_value (biz_date varchar, kind "char", value varchar, refs bigint,
	PRIMARY KEY (biz_date, kind, value));

CREATE FUNCTION add_hour(s state, sign int) RETURNS void LANGUAGE plpgsql
	SET search_path = plpgsql_baseline, public AS $$
DECLARE
	biz varchar := to_char(to_timestamp(s.gmt_modified / 1000.0) AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDDHH24');
	dp int := 0; dt int := 0; r bigint;
BEGIN
	IF s.order_no IS NOT NULL THEN
		INSERT INTO hour_value VALUES (biz, 'p', s.order_no, sign)
		ON CONFLICT (biz_date, kind, value) DO UPDATE SET refs = hour_value.refs + sign
		RETURNING refs INTO r;
		dp := (r > 0)::int - (r - sign > 0)::int;
	END IF;
	IF s.customer_tel IS NOT NULL THEN
		INSERT INTO hour_value VALUES (biz, 't', s.customer_tel, sign)
		ON CONFLICT (biz_date, kind, value) DO UPDATE SET refs = hour_value.refs + sign
		RETURNING refs INTO r;
		dt := (r > 0)::int - (r - sign > 0)::int;
	END IF;
	INSERT INTO hour_figures VALUES (biz, sign, sign * coalesce(s.account_payble, 0)::numeric, dp, dt)
	ON CONFLICT (biz_date) DO UPDATE SET users = hour_figures.users + sign,
		premium = hour_figures.premium + excluded.premium,
		policies = hour_figures.policies + dp, holders = hour_figures.holders + dt;
END $$;

CREATE FUNCTION on_order() RETURNS trigger LANGUAGE plpgsql
	SET search_path = plpgsql_baseline, public AS $$
DECLARE
	d date;
	old_s state;
	new_s state;
BEGIN
	IF NEW.id IS NULL OR NEW.gmt_modified IS NULL THEN
		RETURN NULL;
	END IF;
	d := (to_timestamp(NEW.gmt_modified / 1000.0) AT TIME ZONE 'Asia/Shanghai')::date;
	SELECT * INTO old_s FROM state WHERE id = NEW.id AND day = d FOR UPDATE;
	IF NOT FOUND THEN
		new_s := ROW(NEW.id, d, NEW.gmt_modified, NEW.order_no, NEW.gmt_modified,
					 NEW.customer_tel, NEW.gmt_modified, NEW.account_payble, NEW.gmt_modified);
		INSERT INTO state VALUES (new_s.*);
		PERFORM add_hour(new_s, 1);
		RETURN NULL;
	END IF;
	new_s := old_s;
	IF NEW.gmt_modified >= old_s.gmt_modified THEN new_s.gmt_modified := NEW.gmt_modified; END IF;
	IF NEW.order_no IS NOT NULL AND NEW.gmt_modified >= coalesce(old_s.order_no_at, NEW.gmt_modified) THEN
		new_s.order_no := NEW.order_no; new_s.order_no_at := NEW.gmt_modified; END IF;
	IF NEW.customer_tel IS NOT NULL AND NEW.gmt_modified >= coalesce(old_s.customer_tel_at, NEW.gmt_modified) THEN
		new_s.customer_tel := NEW.customer_tel; new_s.customer_tel_at := NEW.gmt_modified; END IF;
	IF NEW.account_payble IS NOT NULL AND NEW.gmt_modified >= coalesce(old_s.account_payble_at, NEW.gmt_modified) THEN
		new_s.account_payble := NEW.account_payble; new_s.account_payble_at := NEW.gmt_modified; END IF;
	PERFORM add_hour(old_s, -1);
	UPDATE state SET gmt_modified = new_s.gmt_modified, order_no = new_s.order_no,
		order_no_at = new_s.order_no_at, customer_tel = new_s.customer_tel,
		customer_tel_at = new_s.customer_tel_at, account_payble = new_s.account_payble,
		account_payble_at = new_s.account_payble_at
	 WHERE id = NEW.id AND day = d;
	PERFORM add_hour(new_s, 1);
	RETURN NULL;
END $$;

CREATE TRIGGER on_order AFTER INSERT ON user_order FOR EACH ROW EXECUTE FUNCTION on_order();
