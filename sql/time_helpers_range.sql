-- Time helpers at the edges of their ranges (zone Asia/Shanghai, UTC+8):
-- an input out of range is an error 22008, never a wrapped-around value
\set VERBOSITY terse
-- the largest epoch seconds whose milliseconds fit in bigint still format
SELECT insure_stream.from_unixtime(9223372036854775, 'yyyy-MM-dd'),
       insure_stream.from_unixtime(-9223372036854775, 'yyyy');
-- one second more overflows the milliseconds
SELECT insure_stream.from_unixtime(9223372036854776);
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.from_unixtime(9223372036854775807);
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.from_unixtime(-9223372036854775807, 'yyyy');
\echo :LAST_ERROR_SQLSTATE
-- a wide field: nine digits fit, ten may not fit in an int
SELECT insure_stream.unix_timestamp('000000023', 'HHHHHHHHH') AS hour_23;
SELECT insure_stream.unix_timestamp('4294967295', 'HHHHHHHHHH');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unix_timestamp('2147483648', 'HHHHHHHHHH');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unix_timestamp('0000000001', 'yyyyyyyyyy') AS year_1;
-- years up to the last Julian year PostgreSQL computes with
SELECT insure_stream.unix_timestamp('5874897', 'yyyyyyy') AS year_5874897;
SELECT insure_stream.unix_timestamp('5874898-06-01', 'yyyyyyy-MM-dd');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unix_timestamp('99999999', 'yyyyyyyy');
\echo :LAST_ERROR_SQLSTATE
SELECT insure_stream.unix_timestamp('999999999', 'yyyyyyyyy');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
