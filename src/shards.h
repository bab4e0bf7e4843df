/*-------------------------------------------------------------------------
 *
 * shards.h
 *		Where a statement keeps its state: the extension's own tables, or
 *		on a Citus worker the shards co-located with the event shard the
 *		trigger fired on (shards.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_SHARDS_H
#define INSURE_STREAM_SHARDS_H

#include "utils/relcache.h"

extern int64 isx_shard_of(Relation rel, Oid own);
extern Oid	isx_local_rows(Oid relid);
extern int64 isx_shard_of_key(const char *table, Datum key, Oid keytype);
extern int64 isx_shard_enter(int64 shard);
extern int64 isx_current_shard(void);
extern const char *isx_logical_name(Relation rel);
extern Oid	isx_state_relid(const char *name);
extern int64 isx_state_shardid(const char *name);
extern char *isx_state_qualified_name(const char *name);

#endif							/* INSURE_STREAM_SHARDS_H */
