/*
 * The ZooKeeper session behind a zk:// store: the handle, digest auth, and
 * the rebuild after session expiry.
 *
 * One zhandle_t serves every thread of a connection (the mt client is
 * thread-safe; its completion thread runs our callbacks). Calls borrow the
 * handle under a read lock. When the server expires the session the handle is
 * dead for good (every call answers ZINVALIDSTATE), so the first thread that
 * notices takes the write lock, closes it and opens a new one with the same
 * credentials; watches then resume from their cursors (cursor.c). Nothing the
 * API exposes is tied to the session (no ephemeral keys), so a new session
 * loses nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "zk.h"
#include "zk_config.h"
#include "zk_session.h"

static void global_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    zk_session *c = ctx;
    if (type != ZOO_SESSION_EVENT) return;
    pthread_mutex_lock(&c->st_mu);
    c->zstate = state;
    pthread_cond_broadcast(&c->st_cv);
    pthread_mutex_unlock(&c->st_mu);
}

/* The client library's own log lines (connection refused, reconnecting...)
 * are expected noise while the driver rides out an outage, which it reports
 * itself; they go to the ddlcoord log at debug level instead of stderr. */
static const dc_host *log_host;

static void client_log(const char *message)
{
    const dc_host *h = __atomic_load_n(&log_host, __ATOMIC_ACQUIRE);
    if (h) h->log(DC_LOG_DEBUG, "zk", "client: %s", message);
}

static void auth_done(int rc, const void *data)
{
    (void)rc;
    (void)data;
}

int zk_map_rc(int zrc)
{
    switch (zrc) {
    case ZOK:
        return DC_OK;
    case ZNONODE:
        return DC_ENOTFOUND;
    case ZNOAUTH:
    case ZAUTHFAILED:
        return DC_EAUTH;
    case ZOPERATIONTIMEOUT:
        return DC_ETIMEDOUT;
    case ZCONNECTIONLOSS:
    case ZSESSIONEXPIRED:
    case ZINVALIDSTATE:
    case ZSESSIONMOVED:
    case ZCLOSING:
        return DC_EUNAVAILABLE;
    case ZBADARGUMENTS:
        return DC_EINVAL;
    case ZSYSTEMERROR:
        return DC_ENOMEM;
    default:
        return DC_EINTERNAL;
    }
}

int zk_retryable(int zrc)
{
    return zrc == ZCONNECTIONLOSS || zrc == ZOPERATIONTIMEOUT || zrc == ZSESSIONEXPIRED ||
           zrc == ZINVALIDSTATE || zrc == ZSESSIONMOVED;
}

void zk_backoff(int attempt, int64_t deadline_ms)
{
    int64_t ms = attempt < 5 ? 20 : 100;
    int64_t left = deadline_ms - dc__now_ms();
    if (left <= 0) return;
    dc__sleep_ms(ms < left ? ms : left);
}

void zk_new_token(zk_session *c, unsigned char tok[ZK_TOKEN_LEN])
{
    uint64_t seq = __atomic_add_fetch(&c->token_seq, 1, __ATOMIC_RELAXED);
    memcpy(tok, c->token_base, ZK_TOKEN_LEN);
    for (int i = 0; i < 8; i++) tok[ZK_TOKEN_LEN - 1 - i] ^= (unsigned char)(seq >> (8 * i));
}

/* Create a new handle (hlock held for writing, or during open). */
static int handle_new(zk_session *c, dc_drv_err *err)
{
    __atomic_store_n(&log_host, c->host, __ATOMIC_RELEASE);
    zhandle_t *zh = zookeeper_init2(c->cfg->hosts, global_watcher, c->cfg->session_timeout_ms, NULL,
                                    c, 0, client_log);
    if (!zh)
        return ZKERR(err, DC_EUNAVAILABLE, "zk %s: cannot create a client handle: %s",
                     c->cfg->endpoint, strerror(errno));
    if (c->cfg->user) {
        dc_buf cred = DC_BUF_INIT;
        if (dc__buf_printf(&cred, "%s:%s", c->cfg->user,
                           c->cfg->password ? c->cfg->password : "")) {
            zookeeper_close(zh);
            return ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        int rc = zoo_add_auth(zh, "digest", cred.p, (int)cred.len, auth_done, NULL);
        dc__buf_free(&cred);
        if (rc != ZOK) {
            zookeeper_close(zh);
            return ZKERR(err, zk_map_rc(rc), "zk %s: add_auth failed: %s", c->cfg->endpoint,
                         zerror(rc));
        }
    }
    c->zh = zh;
    return DC_OK;
}

/* Wait until handle zh is connected, or the deadline. The session watcher
 * only wakes us up; the state is read from the handle itself, so an event of
 * an older handle cannot mislead us. */
static int wait_connected(zk_session *c, zhandle_t *zh, int64_t deadline, dc_drv_err *err)
{
    int st = zoo_state(zh);
    pthread_mutex_lock(&c->st_mu);
    while (st != ZOO_CONNECTED_STATE && st != ZOO_EXPIRED_SESSION_STATE &&
           st != ZOO_AUTH_FAILED_STATE && dc__now_ms() < deadline) {
        int64_t slice = dc__now_ms() + 50;
        dc__cond_wait_until(&c->st_cv, &c->st_mu, slice < deadline ? slice : deadline);
        st = zoo_state(zh);
    }
    pthread_mutex_unlock(&c->st_mu);
    if (st == ZOO_CONNECTED_STATE) return DC_OK;
    if (st == ZOO_AUTH_FAILED_STATE)
        return ZKERR(err, DC_EAUTH, "zk %s: authentication failed", c->cfg->endpoint);
    return ZKERR(err, DC_EUNAVAILABLE, "zk %s: not connected after %d ms", c->cfg->endpoint,
                 c->cfg->connect_timeout_ms);
}

zhandle_t *zk_acquire(zk_session *c, uint64_t *gen)
{
    pthread_rwlock_rdlock(&c->hlock);
    if (gen) *gen = c->gen;
    return c->zh;
}

void zk_release(zk_session *c)
{
    pthread_rwlock_unlock(&c->hlock);
}

int zk_rebuild(zk_session *c, uint64_t gen, dc_drv_err *err)
{
    pthread_rwlock_wrlock(&c->hlock);
    int rc = DC_OK;
    if (c->gen == gen && !c->closing) {
        c->host->log(DC_LOG_WARN, "zk", "zk %s: session expired; opening a new session",
                     c->cfg->endpoint);
        /* open the new handle first: if that fails the dead one stays (every
         * call on it fails cleanly) and the next caller tries again */
        zhandle_t *old = c->zh;
        rc = handle_new(c, err);
        if (rc == DC_OK) {
            zookeeper_close(old);
            c->gen++;
        } else {
            c->zh = old;
        }
    }
    pthread_rwlock_unlock(&c->hlock);
    if (rc != DC_OK) return rc;
    zhandle_t *cur = zk_acquire(c, NULL);
    rc = wait_connected(c, cur, dc__now_ms() + c->cfg->connect_timeout_ms, err);
    zk_release(c);
    return rc;
}

int zk_session_open(zk_session *c, const dc_host *host, const zk_cfg *cfg, dc_drv_err *err)
{
    memset(c, 0, sizeof *c);
    c->host = host;
    c->cfg = cfg;
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->hlock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&c->st_mu, NULL);
    dc__cond_init_monotonic(&c->st_cv);
    if (getrandom(c->token_base, sizeof c->token_base, 0) != (ssize_t)sizeof c->token_base) {
        uint64_t t = (uint64_t)dc__wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)c;
        memcpy(c->token_base, &t, sizeof t);
    }
    zoo_set_debug_level(getenv("DDLCOORD_ZK_DEBUG") ? ZOO_LOG_LEVEL_DEBUG : ZOO_LOG_LEVEL_ERROR);

    int rc = handle_new(c, err);
    if (!rc) rc = wait_connected(c, c->zh, dc__now_ms() + c->cfg->connect_timeout_ms, err);
    if (rc) zk_session_close(c);
    return rc;
}

void zk_session_close(zk_session *c)
{
    pthread_rwlock_wrlock(&c->hlock);
    c->closing = 1;
    if (c->zh) zookeeper_close(c->zh);
    c->zh = NULL;
    pthread_rwlock_unlock(&c->hlock);
    pthread_rwlock_destroy(&c->hlock);
    pthread_mutex_destroy(&c->st_mu);
    pthread_cond_destroy(&c->st_cv);
}

int zk_recover(zk_session *c, uint64_t gen, int rc, int attempt, int64_t deadline)
{
    if (rc != DC_EUNAVAILABLE && rc != DC_ETIMEDOUT) return 0;
    if (dc__now_ms() >= deadline) return 0;
    zhandle_t *zh = zk_acquire(c, NULL);
    int dead = zh && is_unrecoverable(zh) == ZINVALIDSTATE;
    zk_release(c);
    if (dead) {
        dc_drv_err e2 = {{0}, 0};
        zk_rebuild(c, gen, &e2);
    } else {
        zk_backoff(attempt, deadline);
    }
    return dc__now_ms() < deadline;
}
