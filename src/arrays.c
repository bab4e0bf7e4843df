/*-------------------------------------------------------------------------
 *
 * arrays.c
 *		Growing column arrays, passed to set-based SQL as parameters
 *		(unnest($1::int8[], $2::text[], ...)) so that a batch costs a few
 *		statements instead of one per row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/array.h"
#include "utils/lsyscache.h"

#include "arrays.h"

void
isx_array_init(IsxArray *arr, Oid elemtype)
{
	arr->elemtype = elemtype;
	get_typlenbyvalalign(elemtype, &arr->typlen, &arr->typbyval, &arr->typalign);
	arr->count = 0;
	arr->capacity = 64;
	arr->values = palloc(sizeof(Datum) * arr->capacity);
	arr->nulls = palloc(sizeof(bool) * arr->capacity);
}

void
isx_array_push(IsxArray *arr, Datum value, bool isnull)
{
	if (arr->count == arr->capacity)
	{
		arr->capacity *= 2;
		arr->values = repalloc(arr->values, sizeof(Datum) * arr->capacity);
		arr->nulls = repalloc(arr->nulls, sizeof(bool) * arr->capacity);
	}
	arr->values[arr->count] = isnull ? (Datum) 0 : value;
	arr->nulls[arr->count] = isnull;
	arr->count++;
}

/* the one-dimensional array of what was pushed (empty arrays included) */
Datum
isx_array_to_datum(IsxArray *arr)
{
	int			dims[1] = {arr->count};
	int			lbs[1] = {1};

	return PointerGetDatum(construct_md_array(arr->values, arr->nulls, 1, dims, lbs,
											  arr->elemtype, arr->typlen,
											  arr->typbyval, arr->typalign));
}
