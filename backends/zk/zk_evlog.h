/*
 * The ZooKeeper driver's event log (evlog.c): the history ZooKeeper does not
 * keep, and compaction.
 */
#ifndef DC_ZK_EVLOG_H
#define DC_ZK_EVLOG_H

#include "zk.h"
#include "zk_codec.h"
#include "zk_conn.h"

/* Set up / tear down the connection's cached bucket pointer. */
void zk_evlog_init(zk_conn *c);
void zk_evlog_fini(zk_conn *c);
/* The bucket pointer (cached; refresh re-reads R/ev). */
int zk_ptr_get(zk_conn *c, zhandle_t *zh, int refresh, int64_t *bucket, int *version);
void zk_ptr_invalidate(zk_conn *c);
/* After a write whose event got sequence seq in bucket b: roll over when full. */
void zk_maybe_rollover(zk_conn *c, zhandle_t *zh, int64_t b, int64_t seq);
/* Read every event record with lo < rev <= hi, oldest first. DC_ECOMPACTED
 * if part of that range is gone. *recs is malloc'd (free with zk_recs_free). */
int zk_log_range(zk_conn *c, zhandle_t *zh, int64_t lo, int64_t hi, zk_rec **recs, size_t *n,
                 dc_drv_err *err);
/* Find a record by token among events newer than lo in bucket b (and the
 * bucket after it). 1 found (*rev set), 0 not there, <0 a DC_E code. */
int zk_log_find_token(zk_conn *c, zhandle_t *zh, int64_t b, int64_t lo,
                      const unsigned char token[ZK_TOKEN_LEN], int64_t *rev);
void zk_recs_free(zk_rec *recs, size_t n);
int zk_compact(void *conn, int64_t revision, dc_drv_err *err);
/* Read the compact revision. */
int zk_compact_rev(zk_conn *c, zhandle_t *zh, int64_t *rev, dc_drv_err *err);

#endif
