/*
 * The multi-mode writer's simulation (multi_sim.c), shared with txn_multi.c:
 * the keys an attempt has read (a uthash map of key -> state), the branch's
 * ops applied to that state in order, and the write commands and events
 * they produce for the MULTI … EXEC. Nothing here talks to the server.
 */
#ifndef DC_REDIS_MULTI_SIM_H
#define DC_REDIS_MULTI_SIM_H

/* A failed allocation inside uthash leaves the table as it was and the
 * item's hh.tbl NULL instead of exiting the host process: adds are checked. */
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#include "redis.h"

typedef struct mkey {
    char *key;
    size_t key_len;
    int exists;
    dc_kv kv; /* current simulated state (key unset; value owned) */
    UT_hash_handle hh;
} mkey;

typedef struct mevent {
    int put;
    mkey *k;
    char *value; /* put: borrowed from the request */
    size_t value_len;
    int64_t c, ver, lease;
    int has_prev;
    dc_kv prev; /* owned value */
} mevent;

typedef struct attempt {
    rd_store *s;
    mkey *keys;
    rd_cmd *cmds; /* the writes between MULTI and EXEC */
    size_t n_cmds, cap_cmds;
    mevent *evs;
    size_t n_evs, cap_evs;
    int oom;
} attempt;

void ms_free(attempt *a);
mkey *ms_find(attempt *a, const char *key, size_t len);
int ms_load(attempt *a, const char *key, size_t len, const redisReply *h, dc_drv_err *err);
void ms_hmget(rd_cmd *c, const rd_store *s, const char *key, size_t len);
rd_cmd *ms_new_cmd(attempt *a);
int ms_holds(const mkey *k, const dc_compare *c);
int ms_delete_key(attempt *a, mkey *k, dc_response *r, int want_prev);
int ms_put(attempt *a, const dc_op *op, int64_t rev, dc_response *r);
int ms_get(attempt *a, const dc_op *op, dc_response *r);
int ms_delete(attempt *a, const dc_op *op, dc_response *r);
void ms_xadd(attempt *a, size_t i, int64_t rev, const char *token, int branch);

#endif
