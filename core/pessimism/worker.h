/*
 * The worker's private state, shared by worker.c (the steps) and
 * worker_flow.c (the one-call helper).
 */
#ifndef DC_PESS_WORKER_H
#define DC_PESS_WORKER_H

#include "pess.h"

struct dc_worker {
    dc_store *store;
    char *ns, *task, *source;
    dc_step_fn on_step;
    void *step_ud;
    char *info_key, *op_key, *marker_key, *conflict_key;
    /* the current run */
    char *lock_id;
    char **ddls;
    size_t n_ddls;
    char *position;
    int64_t info_rev; /* W1 */
    dc_operation *op; /* the operation received (step 5) */
    int64_t op_rev;   /* its mod_revision */
    char conflict[512];
};

/* Report a worker step (log line + callback); DC_ECLOSED if told to stop. */
int worker_step(dc_worker *w, int step, int64_t rev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Forget the current run. */
void worker_forget(dc_worker *w);
/* One consistent read of keys. */
int worker_read(dc_worker *w, const char *const *keys, size_t n, dc_txn_result **res);
/* The kv of get i in res, or NULL. */
const dc_kv *worker_kv(const dc_txn_result *res, size_t i);
/* Watch keys (at most 4) from revision from until any changes or the watch
 * ends (DC_OK: re-read) or the deadline passes (DC_ETIMEDOUT). */
int worker_wait_change(dc_worker *w, const char *const *keys, size_t n, int64_t from,
                       int64_t deadline);
/* After a transient error: pause and return DC_OK to retry, or rc. */
int worker_pause(int rc, int64_t deadline);

#endif
