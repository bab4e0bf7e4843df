-- creates the extension for the rest of the suite
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
RESET client_min_messages;
SELECT extname, extversion, extrelocatable, nspname
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'insure_stream';
-- settings used by the suite: a fixed zone
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai');
