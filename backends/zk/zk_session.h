/*
 * The ZooKeeper driver's session layer (session.c): one zhandle_t per
 * connection, borrowed by every call, replaced after a session expiry.
 */
#ifndef DC_ZK_SESSION_H
#define DC_ZK_SESSION_H

#include "zk.h"
#include "zk_config.h"

/* The client handle behind a connection. Calls borrow it under a read lock
 * (zk_acquire); a rebuild after session expiry holds the lock for writing.
 * gen counts rebuilds. */
typedef struct zk_session {
    const dc_host *host;
    const zk_cfg *cfg; /* borrowed: outlives the session */
    pthread_rwlock_t hlock;
    zhandle_t *zh;
    uint64_t gen;
    pthread_mutex_t st_mu;
    pthread_cond_t st_cv;
    int zstate; /* last session state seen by the global watcher */
    int closing;
    /* idempotency tokens: random per connection + counter */
    unsigned char token_base[ZK_TOKEN_LEN];
    uint64_t token_seq;
} zk_session;

/* Create the handle and wait until it is connected (cfg->connect_timeout_ms).
 * On failure the session is closed already. */
int zk_session_open(zk_session *s, const dc_host *host, const zk_cfg *cfg, dc_drv_err *err);
void zk_session_close(zk_session *s);
/* Borrow the handle for one call; *gen identifies it for zk_rebuild. */
zhandle_t *zk_acquire(zk_session *s, uint64_t *gen);
void zk_release(zk_session *s);
/* After ZSESSIONEXPIRED/ZINVALIDSTATE on handle generation gen: replace the
 * handle (once, whoever comes first) and wait until it is connected. */
int zk_rebuild(zk_session *s, uint64_t gen, dc_drv_err *err);
/* Map a ZooKeeper error to a DC_E code (connection errors -> unavailable). */
int zk_map_rc(int zrc);
/* 1 for errors after which an idempotent read may simply be retried. */
int zk_retryable(int zrc);
/* A fresh idempotency token. */
void zk_new_token(zk_session *s, unsigned char tok[ZK_TOKEN_LEN]);
/* After a failed call on handle gen: 1 if it is worth retrying (a connection
 * error before the deadline); rebuilds an expired session or waits a little. */
int zk_recover(zk_session *s, uint64_t gen, int rc, int attempt, int64_t deadline);
/* Wait a little before retrying after a connection error (bounded by deadline). */
void zk_backoff(int attempt, int64_t deadline_ms);

#endif
