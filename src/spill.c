/*-------------------------------------------------------------------------
 *
 * spill.c
 *		A fold that outgrows its memory (isx_fold_budget), spilled as sorted
 *		runs to temporary files and merged back in key order.
 *
 * Orders and page views fold a statement's rows by key in memory.  When
 * the fold is full, the scenario writes it, sorted and merged, as a run
 * (isx_spill_new_run, isx_spill_put) and empties it.  At the end the runs
 * are merged (isx_spill_next): records come back in key order, the records
 * of one key from several runs one after the other, so the scenario merges
 * them and writes every key once per statement, in the order every writer
 * locks in, within bounded memory however large the COPY.  The scenario
 * packs and unpacks its own records (IsxSpillFormat), so a run holds only
 * what its fold needs.  (Policy changes are not folded: they are applied
 * in arrival order, a chunk at a time.)
 *
 * A record in a run: uint32 size of the packed record, the packed record.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/binaryheap.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/buffile.h"

#include "spill.h"

/* a run being merged: its next record, read packed into raw and unpacked into space */
typedef struct SpillRun
{
	BufFile    *file;
	void	   *rec;			/* NULL once the run is exhausted */
	char	   *raw;
	Size		raw_size;
	char	   *space;
	Size		space_size;
} SpillRun;

struct IsxSpill
{
	const IsxSpillFormat *format;
	MemoryContext cxt;			/* where the spill lives */
	List	   *files;			/* BufFile * of the runs */
	StringInfoData buf;			/* a record being packed */
	/* while merging: */
	SpillRun   *runs;
	binaryheap *heap;
	SpillRun   *taken;			/* the run whose record was returned last */
};

/* an empty spill, in the current memory context (which must outlive it) */
IsxSpill *
isx_spill_begin(const IsxSpillFormat *format)
{
	IsxSpill   *spill = palloc0(sizeof(IsxSpill));

	spill->format = format;
	spill->cxt = CurrentMemoryContext;
	initStringInfo(&spill->buf);
	return spill;
}

/* starts a run: the records put from now on, in key order */
void
isx_spill_new_run(IsxSpill *spill)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(spill->cxt);

	spill->files = lappend(spill->files, BufFileCreateTemp(false));
	MemoryContextSwitchTo(oldcxt);
}

/* writes a record to the current run */
void
isx_spill_put(IsxSpill *spill, const void *rec)
{
	StringInfo	buf = &spill->buf;
	uint32		size = 0;

	CHECK_FOR_INTERRUPTS();
	resetStringInfo(buf);
	appendBinaryStringInfo(buf, (const char *) &size, sizeof(size));
	spill->format->pack(buf, rec);
	size = buf->len - sizeof(size);
	memcpy(buf->data, &size, sizeof(size));
	BufFileWrite(llast(spill->files), buf->data, buf->len);
}

/* room for needed bytes in a buffer that grows */
char *
isx_spill_room(char **space, Size *space_size, Size needed)
{
	if (needed > *space_size)
	{
		*space_size = Max(*space_size * 2, needed);
		*space = repalloc_huge(*space, *space_size);
	}
	return *space;
}

/* bytes of a packed varlena (which need not be aligned) */
Size
isx_spill_varsize(const char *p)
{
	union
	{
		uint32		word;
		varattrib_4b head;
	}			header = {0};

	if (VARATT_IS_SHORT(p))
		return VARSIZE_SHORT(p);
	memcpy(&header.word, p, sizeof(header.word));
	return VARSIZE(&header.head);
}

static void
read_failed(const IsxSpill *spill)
{
	ereport(ERROR,
			(errcode_for_file_access(),
			 errmsg("could not read temporary file of insure_stream %s: %m", spill->format->what)));
}

/* reads and unpacks the run's next record */
static void
read_next(const IsxSpill *spill, SpillRun *run)
{
	uint32		size;
	size_t		got = BufFileRead(run->file, &size, sizeof(size));

	run->rec = NULL;
	if (got == 0)
		return;
	if (got != sizeof(size) ||
		BufFileRead(run->file, isx_spill_room(&run->raw, &run->raw_size, size), size) != size)
		read_failed(spill);
	run->rec = spill->format->unpack(run->raw, size, &run->space, &run->space_size);
	if (run->rec == NULL)
		read_failed(spill);
}

/* binaryheap order: the run with the smallest key first */
static int
run_order(Datum a, Datum b, void *arg)
{
	const IsxSpill *spill = arg;

	return spill->format->compare(((SpillRun *) DatumGetPointer(b))->rec,
								  ((SpillRun *) DatumGetPointer(a))->rec);
}

/* rewinds the runs and reads the first record of each */
static void
start_merge(IsxSpill *spill)
{
	int			nruns = list_length(spill->files);
	MemoryContext oldcxt = MemoryContextSwitchTo(spill->cxt);
	ListCell   *lc;

	spill->runs = palloc(sizeof(SpillRun) * Max(nruns, 1));
	spill->heap = binaryheap_allocate(Max(nruns, 1), run_order, spill);
	foreach(lc, spill->files)
	{
		SpillRun   *run = &spill->runs[foreach_current_index(lc)];

		run->file = lfirst(lc);
		if (BufFileSeek(run->file, 0, 0, SEEK_SET) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not rewind temporary file of insure_stream %s: %m",
							spill->format->what)));
		run->raw_size = run->space_size = 1024;
		run->raw = palloc(run->raw_size);
		run->space = palloc(run->space_size);
		read_next(spill, run);
		if (run->rec != NULL)
			binaryheap_add_unordered(spill->heap, PointerGetDatum(run));
	}
	binaryheap_build(spill->heap);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The next record of the runs in key order, or NULL after the last; it
 * stays valid until the next call.
 */
void *
isx_spill_next(IsxSpill *spill)
{
	SpillRun   *run;

	CHECK_FOR_INTERRUPTS();
	if (spill->heap == NULL)
		start_merge(spill);
	else if (spill->taken != NULL)
	{
		read_next(spill, spill->taken);
		if (spill->taken->rec != NULL)
			binaryheap_replace_first(spill->heap, PointerGetDatum(spill->taken));
		else
			binaryheap_remove_first(spill->heap);
	}
	if (binaryheap_empty(spill->heap))
	{
		spill->taken = NULL;
		return NULL;
	}
	run = (SpillRun *) DatumGetPointer(binaryheap_first(spill->heap));
	spill->taken = run;
	return run->rec;
}

/* closes the runs' files and frees the spill */
void
isx_spill_end(IsxSpill *spill)
{
	ListCell   *lc;

	foreach(lc, spill->files)
		BufFileClose(lfirst(lc));
	if (spill->runs != NULL)
	{
		for (int i = 0; i < list_length(spill->files); i++)
		{
			pfree(spill->runs[i].raw);
			pfree(spill->runs[i].space);
		}
		pfree(spill->runs);
		binaryheap_free(spill->heap);
	}
	list_free(spill->files);
	pfree(spill->buf.data);
	pfree(spill);
}
