/*-------------------------------------------------------------------------
 *
 * orders.c
 *		Scenario 1: hourly order figures (work in progress).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "insure_stream.h"

PG_FUNCTION_INFO_V1(insure_stream_user_order_apply);

Datum
insure_stream_user_order_apply(PG_FUNCTION_ARGS)
{
	(void) is_check_statement_trigger(fcinfo, "user_order_apply");
	return PointerGetDatum(NULL);
}
