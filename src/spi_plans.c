/*-------------------------------------------------------------------------
 *
 * spi_plans.c
 *		SPI plans prepared once and kept for the session, by purpose, and
 *		run without leaving the caller in SPI's memory context.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"

#include "spi_plans.h"

/* batches up to this many keys run with a generic plan (see isx_plan_for_batch) */
#define SMALL_BATCH 64

/*
 * A plan kept for the session.  Like SPI_execute_plan, SPI_prepare returns
 * in SPI's procedure context; the caller gets its own context back.
 */
static SPIPlanPtr
prepare_kept(const char *query, int nargs, Oid *argtypes, int cursor_options)
{
	MemoryContext cxt = CurrentMemoryContext;
	SPIPlanPtr	plan = SPI_prepare_cursor(query, nargs, argtypes, cursor_options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare_cursor failed for \"%s\": %s",
			 query, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	MemoryContextSwitchTo(cxt);
	return plan;
}

SPIPlanPtr
isx_prepare_kept_plan(const char *query, int nargs, Oid *argtypes)
{
	return prepare_kept(query, nargs, argtypes, 0);
}

/*
 * A plan for a statement that takes arrays of a batch.  Small batches (most
 * single-row statements) use a generic plan made once: a custom plan would
 * be made again at every execution, since it looks cheaper for one-element
 * arrays, and planning would cost more than running.  Large batches get
 * custom plans, sized for their arrays.
 */
SPIPlanPtr
isx_plan_for_batch(IsxBatchPlans *plans, const char *query, int nargs, Oid *argtypes,
				   int batch_size)
{
	if (batch_size > SMALL_BATCH)
	{
		if (plans->large == NULL)
			plans->large = prepare_kept(query, nargs, argtypes, 0);
		return plans->large;
	}
	if (plans->small == NULL)
		plans->small = prepare_kept(query, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);
	return plans->small;
}

/*
 * SPI_execute_plan (read-write) that leaves the caller in its own memory
 * context.  SPI returns in its procedure context, which lives until
 * SPI_finish: what a chunk allocated after a query would otherwise pile up
 * for the whole statement.
 */
int
isx_execute_plan(SPIPlanPtr plan, Datum *args, const char *nulls, long count)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = SPI_execute_plan(plan, args, nulls, false, count);

	MemoryContextSwitchTo(cxt);
	return rc;
}
