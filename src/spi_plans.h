/*-------------------------------------------------------------------------
 *
 * spi_plans.h
 *		SPI plans kept for the session, and running them without leaving
 *		the caller in SPI's memory context (spi_plans.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_SPI_PLANS_H
#define INSURE_STREAM_SPI_PLANS_H

#include "executor/spi.h"

/* the plans of one statement taking a batch's arrays (see isx_plan_for_batch) */
typedef struct IsxBatchPlans
{
	SPIPlanPtr	small;			/* generic, for small batches */
	SPIPlanPtr	large;			/* custom, for large ones */
} IsxBatchPlans;

extern SPIPlanPtr isx_prepare_kept_plan(const char *query, int nargs, Oid *argtypes);
extern SPIPlanPtr isx_plan_for_batch(IsxBatchPlans *plans, const char *query, int nargs,
									 Oid *argtypes, int batch_size);
extern int	isx_execute_plan(SPIPlanPtr plan, Datum *args, const char *nulls, long count);

#endif							/* INSURE_STREAM_SPI_PLANS_H */
