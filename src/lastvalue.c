/*-------------------------------------------------------------------------
 *
 * lastvalue.c
 *		The last_value aggregates: last non-null input in input order, and
 *		the non-null value with the greatest ordering key.
 *
 * last_value(value, ord) keeps the value and its key in the aggregate
 * context and copies a by-reference value only when it wins, freeing the
 * one it replaces, so memory does not grow with the rows.  It has combine,
 * serialize and deserialize functions for partial and parallel aggregation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"


typedef struct LastValueState
{
	Oid			value_type;
	int16		value_len;
	bool		value_byval;
	Oid			ord_type;
	int16		ord_len;
	bool		ord_byval;
	Oid			collation;
	FmgrInfo   *cmp;			/* btree comparison of ord_type */
	bool		has_value;
	Datum		value;
	Datum		ord;
} LastValueState;

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
 * aggregate machinery copies the new value and frees the old one.
 */
Datum
insure_stream_last_value_trans(PG_FUNCTION_ARGS)
{
	(void) aggregate_context(fcinfo, "last_value_trans");
	PG_RETURN_DATUM(PG_GETARG_DATUM(1));
}

/* the comparison function of a type's default btree operator class */
static FmgrInfo *
ordering_function(Oid type)
{
	TypeCacheEntry *entry = lookup_type_cache(type, TYPECACHE_CMP_PROC_FINFO);

	if (!OidIsValid(entry->cmp_proc_finfo.fn_oid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an ordering for type %s", format_type_be(type)),
				 errhint("The second argument of last_value must have a default btree operator class.")));
	return &entry->cmp_proc_finfo;
}

static LastValueState *
new_state(MemoryContext aggcxt, Oid value_type, Oid ord_type, Oid collation)
{
	LastValueState *state = MemoryContextAllocZero(aggcxt, sizeof(LastValueState));

	state->value_type = value_type;
	get_typlenbyval(value_type, &state->value_len, &state->value_byval);
	state->ord_type = ord_type;
	get_typlenbyval(ord_type, &state->ord_len, &state->ord_byval);
	state->collation = collation;
	state->cmp = ordering_function(ord_type);
	return state;
}

/* does key a come at or after key b (ties: the later input wins)? */
static bool
at_or_after(LastValueState *state, Datum a, Datum b)
{
	return DatumGetInt32(FunctionCall2Coll(state->cmp, state->collation, a, b)) >= 0;
}

/* replaces the state's value and key by copies of the given ones */
static void
keep(LastValueState *state, MemoryContext aggcxt, Datum value, Datum ord)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(aggcxt);

	if (state->has_value)
	{
		if (!state->value_byval)
			pfree(DatumGetPointer(state->value));
		if (!state->ord_byval)
			pfree(DatumGetPointer(state->ord));
	}
	state->value = datumCopy(value, state->value_byval, state->value_len);
	state->ord = datumCopy(ord, state->ord_byval, state->ord_len);
	state->has_value = true;
	MemoryContextSwitchTo(oldcxt);
}

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_trans);

/* last_value(value anyelement, ord anycompatible): transition function */
Datum
insure_stream_last_value_ord_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "last_value_ord_trans");
	LastValueState *state = PG_ARGISNULL(0) ? NULL : (LastValueState *) PG_GETARG_POINTER(0);

	if (state == NULL)
		state = new_state(aggcxt, get_fn_expr_argtype(fcinfo->flinfo, 1),
						  get_fn_expr_argtype(fcinfo->flinfo, 2), PG_GET_COLLATION());
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);	/* null values and keys are skipped */
	if (!state->has_value || at_or_after(state, PG_GETARG_DATUM(2), state->ord))
		keep(state, aggcxt, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2));
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_combine);

/* combines two partial states; on equal keys the second one wins */
Datum
insure_stream_last_value_ord_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "last_value_ord_combine");
	LastValueState *first = PG_ARGISNULL(0) ? NULL : (LastValueState *) PG_GETARG_POINTER(0);
	LastValueState *second = PG_ARGISNULL(1) ? NULL : (LastValueState *) PG_GETARG_POINTER(1);

	if (second == NULL || !second->has_value)
		PG_RETURN_POINTER(first);
	if (first == NULL)
		first = new_state(aggcxt, second->value_type, second->ord_type, second->collation);
	if (!first->has_value || at_or_after(first, second->ord, first->ord))
		keep(first, aggcxt, second->value, second->ord);
	PG_RETURN_POINTER(first);
}

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_final);

Datum
insure_stream_last_value_ord_final(PG_FUNCTION_ARGS)
{
	LastValueState *state;

	(void) aggregate_context(fcinfo, "last_value_ord_final");
	state = PG_ARGISNULL(0) ? NULL : (LastValueState *) PG_GETARG_POINTER(0);
	if (state == NULL || !state->has_value)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(state->value);
}

/* serialized: the types, the collation, has_value, then both datums */
typedef struct LastValueHeader
{
	Oid			value_type;
	Oid			ord_type;
	Oid			collation;
	bool		has_value;
} LastValueHeader;

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_serial);

Datum
insure_stream_last_value_ord_serial(PG_FUNCTION_ARGS)
{
	LastValueState *state = (LastValueState *) PG_GETARG_POINTER(0);
	LastValueHeader header;
	Size		size = VARHDRSZ + sizeof(LastValueHeader);
	bytea	   *result;
	char	   *ptr;

	(void) aggregate_context(fcinfo, "last_value_ord_serial");
	memset(&header, 0, sizeof(header));
	header.value_type = state->value_type;
	header.ord_type = state->ord_type;
	header.collation = state->collation;
	header.has_value = state->has_value;
	if (state->has_value)
		size += datumEstimateSpace(state->value, false, state->value_byval, state->value_len) +
			datumEstimateSpace(state->ord, false, state->ord_byval, state->ord_len);
	result = palloc(size);
	SET_VARSIZE(result, size);
	ptr = VARDATA(result);
	memcpy(ptr, &header, sizeof(header));
	ptr += sizeof(header);
	if (state->has_value)
	{
		datumSerialize(state->value, false, state->value_byval, state->value_len, &ptr);
		datumSerialize(state->ord, false, state->ord_byval, state->ord_len, &ptr);
	}
	PG_RETURN_BYTEA_P(result);
}

PG_FUNCTION_INFO_V1(insure_stream_last_value_ord_deserial);

Datum
insure_stream_last_value_ord_deserial(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = aggregate_context(fcinfo, "last_value_ord_deserial");
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	char	   *ptr = VARDATA_ANY(data);
	LastValueHeader header;
	LastValueState *state;

	/* only last_value_ord_serial's output reaches here; still, never overread */
	if (VARSIZE_ANY_EXHDR(data) < sizeof(header))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid serialized state of last_value")));
	memcpy(&header, ptr, sizeof(header));
	ptr += sizeof(header);
	state = new_state(aggcxt, header.value_type, header.ord_type, header.collation);
	if (header.has_value)
	{
		bool		isnull;
		MemoryContext oldcxt = MemoryContextSwitchTo(aggcxt);

		state->value = datumRestore(&ptr, &isnull);
		state->ord = datumRestore(&ptr, &isnull);
		state->has_value = true;
		MemoryContextSwitchTo(oldcxt);
	}
	PG_RETURN_POINTER(state);
}
