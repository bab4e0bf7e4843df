-- insure_stream demo: create the extension in a fresh database
\pset footer off
SET client_min_messages = warning;
CREATE EXTENSION insure_stream;
RESET client_min_messages;
SELECT insure_stream.configure('time_zone', 'Asia/Shanghai') AS time_zone;
SELECT name, value FROM insure_stream.settings ORDER BY name;
