/*-------------------------------------------------------------------------
 *
 * arrays.h
 *		Growing column arrays for set-based SQL (arrays.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_ARRAYS_H
#define INSURE_STREAM_ARRAYS_H

typedef struct IsxArray
{
	Oid			elemtype;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			count;
	int			capacity;
	Datum	   *values;
	bool	   *nulls;
} IsxArray;

extern void isx_array_init(IsxArray *arr, Oid elemtype);
extern void isx_array_push(IsxArray *arr, Datum value, bool isnull);
extern Datum isx_array_to_datum(IsxArray *arr);

#endif							/* INSURE_STREAM_ARRAYS_H */
