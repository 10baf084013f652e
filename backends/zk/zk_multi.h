/*
 * The ZooKeeper driver's commit of every write (multi.c).
 */
#ifndef DC_ZK_MULTI_H
#define DC_ZK_MULTI_H

#include "zk.h"
#include "zk_codec.h"
#include "zk_conn.h"
#include "zk_snap.h"

enum {
    ZK_ROLE_OTHER = 0,
    ZK_ROLE_PTR,
    ZK_ROLE_LEASE,
    ZK_ROLE_EVENT,
    ZK_ROLE_STRICT,
    ZK_ROLE_EPOCH
};
enum { ZK_COMMIT_OK = 0, ZK_COMMIT_RETRY = 1, ZK_COMMIT_PTR = 2 };

/* One multi being built: ops, what each op is for (to tell which condition
 * failed), and the strings the ops point to. */
typedef struct zk_plan {
    zoo_op_t *ops;
    zoo_op_result_t *res;
    int *role;
    int64_t *role_lease;
    size_t n, cap;
    char **owned; /* strings to free */
    size_t n_owned, cap_owned;
    struct Stat rev_stat;
    char evpath[600];
    int64_t bytes;
    int64_t bucket;
    int ptr_version;
} zk_plan;

void zk_plan_free(zk_plan *p);
/* Keep s alive as long as the plan (NULL if s is NULL or out of memory). */
char *zk_plan_own(zk_plan *p, char *s);
/* Append an op (NULL when out of memory); bytes estimates its request size. */
zoo_op_t *zk_plan_op(zk_plan *p, int role, int64_t lease, size_t bytes);
/* Append the event for entry e (borrowing its strings). 0 or -1. */
int zk_add_event(zk_ev **evs, size_t *n, const zk_entry *e);
/* Build the multi for the snapshot's written entries (strict: assert R/rev's
 * version instead of key-by-key stability). DC_ETOOBIG if it cannot be sent. */
int zk_plan_build(zk_conn *c, zhandle_t *zh, zk_snap *s, int strict, const zk_ev *evs, size_t nev,
                  const unsigned char token[ZK_TOKEN_LEN], zk_plan *p, dc_drv_err *err);
/* Send it; resolve an unknown outcome by token. ZK_COMMIT_* or a DC_E code. */
int zk_plan_commit(zk_conn *c, uint64_t gen, zk_snap *s, zk_plan *p,
                   const unsigned char token[ZK_TOKEN_LEN], int64_t deadline, int64_t *rev,
                   dc_drv_err *err);

#endif
