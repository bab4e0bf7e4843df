/*-------------------------------------------------------------------------
 *
 * lastvalue.c
 *		The last_value aggregates: last non-null input in input order, and
 *		the non-null value with the greatest ordering key.
 *
 * last_value(anyelement) works as first_last_agg's last(): a strict
 * transition function that returns its input, so that the executor skips
 * null inputs (before its per-group sort, with ORDER BY) and keeps a copy
 * of the latest one.  With ORDER BY nearly all of the cost is the
 * executor's sort of each group's rows, the same for both.
 *
 * last_value(value, ord) needs no sort.  What is the same for every group
 * of one call (types, collation, comparison) is looked up once per query
 * and kept in the support function's fn_extra; a group's state is one
 * palloc chunk in the aggregate context holding the kept value and key,
 * by-reference ones copied in behind the header and overwritten in place
 * when the next winner fits.  A group that has seen no usable row yet has
 * a null state.  Rows with a null value or a null key are skipped: a null
 * value never replaces the kept one, whatever its key.  Ties on the key:
 * in one process the later input wins; the combine function lets its
 * second state win, and the order in which parallel workers' partial
 * states reach it is not defined, so a tie between rows read by different
 * workers may come out either way.
 *
 * The aggregate declares no state size (SSPACE): the planner then assumes
 * 8 kB per group and hash aggregation splits its input into many small
 * batches, which measured faster than the few large ones a realistic size
 * gives, whose hash table misses the cache (docs/benchmarks.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/expandeddatum.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"


/* how keys are compared */
typedef enum OrdCompare
{
	ORD_CMP_FMGR,				/* the type's btree comparison function */
	ORD_CMP_INT16,				/* int2 */
	ORD_CMP_INT32,				/* int4, date */
	ORD_CMP_INT64				/* int8, timestamp, timestamptz */
} OrdCompare;

/* what is the same for all groups of one aggregate call, for one query */
typedef struct LastValueInfo
{
	Oid			value_type;
	Oid			ord_type;
	Oid			collation;
	int16		value_len;
	bool		value_byval;
	int16		ord_len;
	bool		ord_byval;
	OrdCompare	compare;
	FmgrInfo	cmp;			/* for ORD_CMP_FMGR */
} LastValueInfo;

/*
 * A group's state: the kept value and key.  By-reference ones are copied
 * behind the header, the value first.  'space' stays the last field: the
 * final function returns a pointer to the value's copy, and PostgreSQL 15's
 * MemoryContextContains() reads the word before it, which must then not
 * look like a memory context.
 */
typedef struct LastValueState
{
	LastValueInfo *info;
	Datum		value;
	Datum		ord;
	Size		space;			/* bytes for copies behind the header */
} LastValueState;

#define STATE_HEADER MAXALIGN(sizeof(LastValueState))

static MemoryContext
aggregate_context(FunctionCallInfo fcinfo, const char *funcname)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function \"%s\" called in non-aggregate context", funcname)));
	return aggcxt;
}

PG_FUNCTION_INFO_V1(insure_stream_last_value_trans);

/*
 * last_value(anyelement): strict transition (and combine) function.  The
 * first non-null input becomes the state; later ones replace it.  The
 * aggregate machinery copies the new value and frees the old one.  Called
 * once per row: the check that an aggregate calls it is done inline.
 */
Datum
insure_stream_last_value_trans(PG_FUNCTION_ARGS)
{
	if (fcinfo->context == NULL ||
		!(IsA(fcinfo->context, AggState) || IsA(fcinfo->context, WindowAggState)))
		(void) aggregate_context(fcinfo, "last_value_trans");
	PG_RETURN_DATUM(PG_GETARG_DATUM(1));
}

static LastValueInfo *
make_info(MemoryContext cxt, Oid value_type, Oid ord_type, Oid collation)
{
	LastValueInfo *info;
	TypeCacheEntry *entry;

	if (!OidIsValid(value_type) || !OidIsValid(ord_type))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not determine the argument types of last_value")));
	entry = lookup_type_cache(ord_type, TYPECACHE_CMP_PROC);
	if (!OidIsValid(entry->cmp_proc))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an ordering for type %s", format_type_be(ord_type)),
				 errhint("The second argument of last_value must have a default btree operator class.")));

	info = MemoryContextAllocZero(cxt, sizeof(LastValueInfo));
	info->value_type = value_type;
	info->ord_type = ord_type;
	info->collation = collation;
	get_typlenbyval(value_type, &info->value_len, &info->value_byval);
	get_typlenbyval(ord_type, &info->ord_len, &info->ord_byval);
	/* the usual keys compare as integers, as their btree functions do */
	switch (getBaseType(ord_type))
	{
		case INT2OID:
			info->compare = ORD_CMP_INT16;
			break;
		case INT4OID:
		case DATEOID:
			info->compare = ORD_CMP_INT32;
			break;
		case INT8OID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			info->compare = ORD_CMP_INT64;
			break;
		default:
			info->compare = ORD_CMP_FMGR;
			fmgr_info_cxt(entry->cmp_proc, &info->cmp, cxt);
			break;
	}
	return info;
}

/* the transition function's call information, looked up on its first call */
static LastValueInfo *
call_info(FunctionCallInfo fcinfo)
{
	LastValueInfo *info = (LastValueInfo *) fcinfo->flinfo->fn_extra;

	if (info == NULL)
	{
		info = make_info(fcinfo->flinfo->fn_mcxt,
						 get_fn_expr_argtype(fcinfo->flinfo, 1),
						 get_fn_expr_argtype(fcinfo->flinfo, 2),
						 PG_GET_COLLATION());
		fcinfo->flinfo->fn_extra = info;
	}
	return info;
}

/* <0, 0, >0 as key a comes before, with or after key b */
static inline int
compare_ords(LastValueInfo *info, Datum a, Datum b)
{
	switch (info->compare)
	{
		case ORD_CMP_INT16:
			return (DatumGetInt16(a) > DatumGetInt16(b)) - (DatumGetInt16(a) < DatumGetInt16(b));
		case ORD_CMP_INT32:
			return (DatumGetInt32(a) > DatumGetInt32(b)) - (DatumGetInt32(a) < DatumGetInt32(b));
		case ORD_CMP_INT64:
			return (DatumGetInt64(a) > DatumGetInt64(b)) - (DatumGetInt64(a) < DatumGetInt64(b));
		case ORD_CMP_FMGR:
			break;
	}
	return DatumGetInt32(FunctionCall2Coll(&info->cmp, info->collation, a, b));
}

/* bytes of a flat copy of a by-reference datum (expanded objects flattened) */
static inline Size
flat_size(Datum d, int16 len)
{
	if (len == -1 && VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
		return EOH_get_flat_size(DatumGetEOHP(d));
	return datumGetSize(d, false, len);
}

/* a flat copy of a by-reference datum at dest, size from flat_size() */
static inline Datum
flat_copy(char *dest, Datum d, int16 len, Size size)
{
	if (len == -1 && VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
		EOH_flatten_into(DatumGetEOHP(d), dest, size);
	else
		memcpy(dest, DatumGetPointer(d), size);
	return PointerGetDatum(dest);
}

/*
 * Makes value and ord the state's, copying by-reference ones into the
 * state's chunk, which grows when they do not fit (it then may move: use
 * the state returned).  A null state is allocated in cxt.  value and ord
 * must not point into the state.
 */
static LastValueState *
keep(LastValueState *state, LastValueInfo *info, MemoryContext cxt, Datum value, Datum ord)
{
	Size		value_size = info->value_byval ? 0 : flat_size(value, info->value_len);
	Size		ord_size = info->ord_byval ? 0 : flat_size(ord, info->ord_len);
	Size		space = MAXALIGN(value_size) + ord_size;
	char	   *data;

	if (state == NULL)
	{
		state = MemoryContextAllocExtended(cxt, STATE_HEADER + space, MCXT_ALLOC_HUGE);
		state->info = info;
		state->space = space;
	}
	else if (space > state->space)
	{
		state = repalloc_huge(state, STATE_HEADER + space);
		state->space = space;
	}
	data = (char *) state + STATE_HEADER;
	state->value = info->value_byval ? value : flat_copy(data, value, info->value_len, value_size);
	state->ord = info->ord_byval ? ord : flat_copy(data + MAXALIGN(value_size), ord, info->ord_len, ord_size);
	return state;
}

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_trans);

/* last_value(value anyelement, ord anycompatible): transition function */
Datum
insure_stream_last_value_ord_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "last_value_ord_trans");
	LastValueInfo *info = call_info(fcinfo);
	LastValueState *state = PG_ARGISNULL(0) ? NULL : (LastValueState *) PG_GETARG_POINTER(0);

	/* a null value never replaces the kept one, whatever its key */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
	{
		if (state == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(state);
	}
	/* on equal keys the later input wins */
	if (state == NULL || compare_ords(info, PG_GETARG_DATUM(2), state->ord) >= 0)
		state = keep(state, info, aggcxt, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2));
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_combine);

/*
 * Combines two partial states; on equal keys the second one wins.  The
 * second state is never kept itself (it may live in a shorter-lived
 * context): its value and key are copied into the first.
 */
Datum
insure_stream_last_value_ord_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "last_value_ord_combine");
	LastValueState *first = PG_ARGISNULL(0) ? NULL : (LastValueState *) PG_GETARG_POINTER(0);
	LastValueState *second = PG_ARGISNULL(1) ? NULL : (LastValueState *) PG_GETARG_POINTER(1);

	if (second == NULL)
	{
		if (first == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(first);
	}
	if (first == NULL || compare_ords(second->info, second->ord, first->ord) >= 0)
		first = keep(first, second->info, aggcxt, second->value, second->ord);
	PG_RETURN_POINTER(first);
}

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_final);

Datum
insure_stream_last_value_ord_final(PG_FUNCTION_ARGS)
{
	LastValueState *state;

	(void) aggregate_context(fcinfo, "last_value_ord_final");
	state = PG_ARGISNULL(0) ? NULL : (LastValueState *) PG_GETARG_POINTER(0);
	if (state == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(state->value);
}

/* serialized: the types and the collation, then the value and the key */
typedef struct LastValueHeader
{
	Oid			value_type;
	Oid			ord_type;
	Oid			collation;
} LastValueHeader;

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_serial);

/* strict: a null state (no usable row) stays null */
Datum
insure_stream_last_value_ord_serial(PG_FUNCTION_ARGS)
{
	LastValueState *state = (LastValueState *) PG_GETARG_POINTER(0);
	LastValueInfo *info = state->info;
	LastValueHeader header;
	Size		size;
	bytea	   *result;
	char	   *ptr;

	(void) aggregate_context(fcinfo, "last_value_ord_serial");
	memset(&header, 0, sizeof(header));
	header.value_type = info->value_type;
	header.ord_type = info->ord_type;
	header.collation = info->collation;
	size = VARHDRSZ + sizeof(LastValueHeader) +
		datumEstimateSpace(state->value, false, info->value_byval, info->value_len) +
		datumEstimateSpace(state->ord, false, info->ord_byval, info->ord_len);
	result = palloc(size);
	SET_VARSIZE(result, size);
	ptr = VARDATA(result);
	memcpy(ptr, &header, sizeof(header));
	ptr += sizeof(header);
	datumSerialize(state->value, false, info->value_byval, info->value_len, &ptr);
	datumSerialize(state->ord, false, info->ord_byval, info->ord_len, &ptr);
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_deserial);

/*
 * The state is made in the current (per-row) memory context: the combine
 * function copies what it keeps into the aggregate context.
 */
Datum
insure_stream_last_value_ord_deserial(PG_FUNCTION_ARGS)
{
	bytea	   *data;
	char	   *ptr;
	LastValueHeader header;
	LastValueInfo *info;
	Datum		value;
	Datum		ord;
	bool		isnull;

	(void) aggregate_context(fcinfo, "last_value_ord_deserial");
	data = PG_GETARG_BYTEA_PP(0);
	ptr = VARDATA_ANY(data);
	/* only last_value_ord_serial's output reaches here; still, never overread */
	if (VARSIZE_ANY_EXHDR(data) < sizeof(header) + 2 * sizeof(int))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid serialized state of last_value")));
	memcpy(&header, ptr, sizeof(header));
	ptr += sizeof(header);
	info = (LastValueInfo *) fcinfo->flinfo->fn_extra;
	if (info == NULL || info->value_type != header.value_type ||
		info->ord_type != header.ord_type || info->collation != header.collation)
	{
		info = make_info(fcinfo->flinfo->fn_mcxt, header.value_type, header.ord_type, header.collation);
		fcinfo->flinfo->fn_extra = info;
	}
	value = datumRestore(&ptr, &isnull);
	ord = datumRestore(&ptr, &isnull);
	PG_RETURN_POINTER(keep(NULL, info, CurrentMemoryContext, value, ord));
}
