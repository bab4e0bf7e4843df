/*-------------------------------------------------------------------------
 *
 * arrival.h
 *		Arrival numbers assigned on a Citus node (arrival.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef INSURE_STREAM_ARRIVAL_H
#define INSURE_STREAM_ARRIVAL_H

/* the colocation groups, by the tables that hold their arrival numbers */
typedef enum IsxArrivalGroup
{
	ISX_ARRIVAL_ORDERS,			/* orders and policy changes, by id */
	ISX_ARRIVAL_PAGES			/* page views, by account_id */
} IsxArrivalGroup;

extern int64 isx_node_arrival(Oid shard_relid, IsxArrivalGroup group);

#endif							/* INSURE_STREAM_ARRIVAL_H */
