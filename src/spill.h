/*-------------------------------------------------------------------------
 *
 * spill.h
 *		A fold that outgrows its memory, spilled as sorted runs to
 *		temporary files and merged back in key order (spill.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_SPILL_H
#define INSURE_STREAM_SPILL_H

#include "lib/stringinfo.h"

/* how a scenario's folded records go to a run and come back */
typedef struct IsxSpillFormat
{
	const char *what;			/* for messages: "page views" */
	/* appends the record, packed, to buf */
	void		(*pack) (StringInfo buf, const void *rec);
	/* the record packed in raw, unpacked into *space (see isx_spill_room); NULL if malformed */
	void	   *(*unpack) (const char *raw, Size size, char **space, Size *space_size);
	/* key order of two records */
	int			(*compare) (const void *a, const void *b);
} IsxSpillFormat;

typedef struct IsxSpill IsxSpill;

extern IsxSpill *isx_spill_begin(const IsxSpillFormat *format);
extern void isx_spill_new_run(IsxSpill *spill);
extern void isx_spill_put(IsxSpill *spill, const void *rec);
extern void *isx_spill_next(IsxSpill *spill);
extern void isx_spill_end(IsxSpill *spill);
extern char *isx_spill_room(char **space, Size *space_size, Size needed);
extern Size isx_spill_varsize(const char *p);

#endif							/* INSURE_STREAM_SPILL_H */
