/*-------------------------------------------------------------------------
 *
 * compat.h
 *		Differences between the PostgreSQL versions insure_stream builds on
 *		(14 to 17).  Version tests live here and nowhere else.
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_COMPAT_H
#define INSURE_STREAM_COMPAT_H

#if PG_VERSION_NUM < 140000
#error "insure_stream needs PostgreSQL 14 or later"
#endif

#if PG_VERSION_NUM < 150000
#include "utils/guc.h"
#define MarkGUCPrefixReserved(prefix) EmitWarningsOnPlaceholders(prefix)
#endif

/* the file number of a relation's storage (a type of its own since 16) */
#if PG_VERSION_NUM >= 160000
#define isx_rel_file_number(rel) ((rel)->rd_locator.relNumber)
#else
typedef Oid RelFileNumber;
#define isx_rel_file_number(rel) ((rel)->rd_node.relNode)
#endif

#endif							/* INSURE_STREAM_COMPAT_H */
