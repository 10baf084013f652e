/*
 * The ZooKeeper session behind a zk:// store: URI and configuration, the
 * handle, digest auth, the znode layout, and the rebuild after session expiry.
 *
 * One zhandle_t serves every thread of a connection (the mt client is
 * thread-safe; its completion thread runs our callbacks). Calls borrow the
 * handle under a read lock. When the server expires the session the handle is
 * dead for good (every call answers ZINVALIDSTATE), so the first thread that
 * notices takes the write lock, closes it and opens a new one with the same
 * credentials; watches then resume from their cursors (watch.c). Nothing the
 * API exposes is tied to the session (no ephemeral keys), so a new session
 * loses nothing.
 *
 * Digest auth never fails on the wire (a wrong password just yields an
 * identity that matches no ACL), so open() reads the revision node, which is
 * ACL-protected, and reports DC_EAUTH when that read is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "uri.h"
#include "zk.h"

static void global_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    zk_conn *c = ctx;
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

const struct ACL_vector *zk_acl(zk_conn *c)
{
    return c->user ? &ZOO_CREATOR_ALL_ACL : &ZOO_OPEN_ACL_UNSAFE;
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
    int64_t left = deadline_ms - dc_now_ms();
    if (left <= 0) return;
    dc_sleep_ms(ms < left ? ms : left);
}

void zk_new_token(zk_conn *c, unsigned char tok[ZK_TOKEN_LEN])
{
    uint64_t seq = __atomic_add_fetch(&c->token_seq, 1, __ATOMIC_RELAXED);
    memcpy(tok, c->token_base, ZK_TOKEN_LEN);
    for (int i = 0; i < 8; i++) tok[ZK_TOKEN_LEN - 1 - i] ^= (unsigned char)(seq >> (8 * i));
}

/* Create a new handle (hlock held for writing, or during open). */
static int handle_new(zk_conn *c, dc_drv_err *err)
{
    __atomic_store_n(&log_host, c->host, __ATOMIC_RELEASE);
    zhandle_t *zh =
        zookeeper_init2(c->hosts, global_watcher, c->session_timeout_ms, NULL, c, 0, client_log);
    if (!zh)
        return ZKERR(err, DC_EUNAVAILABLE, "zk %s: cannot create a client handle: %s", c->endpoint,
                     strerror(errno));
    if (c->user) {
        dc_buf cred = DC_BUF_INIT;
        if (dc_buf_printf(&cred, "%s:%s", c->user, c->password ? c->password : "")) {
            zookeeper_close(zh);
            return ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        int rc = zoo_add_auth(zh, "digest", cred.p, (int)cred.len, auth_done, NULL);
        dc_buf_free(&cred);
        if (rc != ZOK) {
            zookeeper_close(zh);
            return ZKERR(err, zk_map_rc(rc), "zk %s: add_auth failed: %s", c->endpoint, zerror(rc));
        }
    }
    c->zh = zh;
    return DC_OK;
}

/* Wait until handle zh is connected, or the deadline. The session watcher
 * only wakes us up; the state is read from the handle itself, so an event of
 * an older handle cannot mislead us. */
static int wait_connected(zk_conn *c, zhandle_t *zh, int64_t deadline, dc_drv_err *err)
{
    int st = zoo_state(zh);
    pthread_mutex_lock(&c->st_mu);
    while (st != ZOO_CONNECTED_STATE && st != ZOO_EXPIRED_SESSION_STATE &&
           st != ZOO_AUTH_FAILED_STATE && dc_now_ms() < deadline) {
        int64_t slice = dc_now_ms() + 50;
        dc_cond_wait_until(&c->st_cv, &c->st_mu, slice < deadline ? slice : deadline);
        st = zoo_state(zh);
    }
    pthread_mutex_unlock(&c->st_mu);
    if (st == ZOO_CONNECTED_STATE) return DC_OK;
    if (st == ZOO_AUTH_FAILED_STATE)
        return ZKERR(err, DC_EAUTH, "zk %s: authentication failed", c->endpoint);
    return ZKERR(err, DC_EUNAVAILABLE, "zk %s: not connected after %d ms", c->endpoint,
                 c->connect_timeout_ms);
}

zhandle_t *zk_acquire(zk_conn *c, uint64_t *gen)
{
    pthread_rwlock_rdlock(&c->hlock);
    if (gen) *gen = c->gen;
    return c->zh;
}

void zk_release(zk_conn *c)
{
    pthread_rwlock_unlock(&c->hlock);
}

int zk_rebuild(zk_conn *c, uint64_t gen, dc_drv_err *err)
{
    pthread_rwlock_wrlock(&c->hlock);
    int rc = DC_OK;
    if (c->gen == gen && !c->closing) {
        c->host->log(DC_LOG_WARN, "zk", "zk %s: session expired; opening a new session",
                     c->endpoint);
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
    rc = wait_connected(c, cur, dc_now_ms() + c->connect_timeout_ms, err);
    zk_release(c);
    return rc;
}

/* ------------------------------------------------------------ configuration */

static const char *cfg_str(const dc_host *h, const dc_config *cfg, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "zk.%s", key);
    const char *v = h->config_get(cfg, k);
    return v ? v : h->config_get(cfg, key);
}

static int cfg_int(const dc_host *h, const dc_config *cfg, const char *key, int64_t def, int64_t lo,
                   int64_t hi, int64_t *out, dc_drv_err *err)
{
    const char *v = cfg_str(h, cfg, key);
    *out = def;
    if (!v) return DC_OK;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return ZKERR(err, DC_EINVAL, "zk: %s=%s: expected an integer in [%lld, %lld]", key, v,
                     (long long)lo, (long long)hi);
    *out = x;
    return DC_OK;
}

static char *path_join(const char *a, const char *b)
{
    dc_buf p = DC_BUF_INIT;
    if (dc_buf_printf(&p, "%s%s", a, b)) return NULL;
    return dc_buf_steal(&p);
}

static int parse_config(zk_conn *c, const char *uri, const dc_config *cfg, dc_drv_err *err)
{
    const dc_host *h = c->host;
    dc_uri u;
    int prc = dc_uri_parse(uri, &u, err->msg, sizeof err->msg);
    if (prc) {
        dc_uri_free(&u);
        return prc == -2 ? DC_ENOMEM : DC_EINVAL;
    }
    int rc = DC_OK;
    if (strcmp(u.scheme, "zk") != 0 || u.n_hosts == 0) {
        char shown[256];
        rc = ZKERR(err, DC_EINVAL,
                   "zk: '%s': expected zk://[user:password@]host:port[,...][/chroot]",
                   dc__uri_redact(uri, shown, sizeof shown));
        goto out;
    }
    dc_buf hosts = DC_BUF_INIT;
    for (size_t i = 0; i < u.n_hosts; i++) {
        int v6 = strchr(u.hosts[i].host, ':') != NULL;
        if (dc_buf_printf(&hosts, "%s%s%s%s:%d", i ? "," : "", v6 ? "[" : "", u.hosts[i].host,
                          v6 ? "]" : "", u.hosts[i].port ? u.hosts[i].port : 2181)) {
            dc_buf_free(&hosts);
            rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            goto out;
        }
    }
    c->hosts = dc_buf_steal(&hosts);
    c->ensemble = u.n_hosts > 1;
    c->endpoint = c->hosts ? strdup(c->hosts) : NULL;
    const char *user = cfg_str(h, cfg, "username"), *pass = cfg_str(h, cfg, "password");
    if (!user) user = u.user;
    if (!pass) pass = u.password;
    if (user && *user && !(c->user = strdup(user))) rc = DC_ENOMEM;
    if (pass && !(c->password = strdup(pass))) rc = DC_ENOMEM;
    if (!c->hosts || !c->endpoint || rc) {
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        goto out;
    }
    int64_t v;
    if ((rc = cfg_int(h, cfg, "session_timeout_ms", 10000, 1000, 3600000, &v, err))) goto out;
    c->session_timeout_ms = (int)v;
    if ((rc = cfg_int(h, cfg, "connect_timeout_ms", 5000, 100, 3600000, &v, err))) goto out;
    c->connect_timeout_ms = (int)v;
    if ((rc = cfg_int(h, cfg, "request_timeout_ms", 10000, 100, 3600000, &v, err))) goto out;
    c->request_timeout_ms = (int)v;
    if ((rc = cfg_int(h, cfg, "bucket_size", ZK_DEFAULT_BUCKET, 2, 100000, &c->bucket_size, err)))
        goto out;
    if ((rc = cfg_int(h, cfg, "max_request_bytes", ZK_DEFAULT_MAX_REQUEST, 4096, INT32_MAX,
                      &c->max_request, err)))
        goto out;
    /* A put multi carries the value twice (kv znode and event) plus the
     * previous value in the event; 4 KiB covers paths and headers. */
    if ((rc = cfg_int(h, cfg, "max_value_bytes", (c->max_request - 4096) / 3, 0, INT32_MAX,
                      &c->max_value, err)))
        goto out;

    /* For tests: sleep between a write's reads and its commit, so that a test
     * can change the store inside that window (the ABA test does). */
    if ((rc =
             cfg_int(h, cfg, "debug_commit_delay_ms", 0, 0, 60000, &c->debug_commit_delay_ms, err)))
        goto out;
    if ((rc = cfg_int(h, cfg, "debug_watch_delay_ms", 0, 0, 60000, &c->debug_watch_delay_ms, err)))
        goto out;

    /* root: [/chroot]<root>, without a trailing slash */
    const char *root = cfg_str(h, cfg, "root");
    if (!root) root = ZK_DEFAULT_ROOT;
    if (root[0] != '/' || strlen(root) < 2 || root[strlen(root) - 1] == '/') {
        rc = ZKERR(err, DC_EINVAL, "zk: root '%s' must be an absolute znode path", root);
        goto out;
    }
    dc_buf r = DC_BUF_INIT;
    const char *chroot = u.path;
    size_t cl = strlen(chroot);
    while (cl && chroot[cl - 1] == '/') cl--;
    if ((cl && dc_buf_printf(&r, "/%.*s", (int)cl, chroot)) || dc_buf_puts(&r, root)) {
        dc_buf_free(&r);
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        goto out;
    }
    c->root = dc_buf_steal(&r);
    c->root_len = strlen(c->root);
    c->p_rev = path_join(c->root, "/rev");
    c->p_kv = path_join(c->root, "/kv");
    c->p_ev = path_join(c->root, "/ev");
    c->p_compact = path_join(c->root, "/compact");
    c->p_lease = path_join(c->root, "/lease");
    c->p_clock = path_join(c->root, "/clock");
    c->p_gen = path_join(c->root, "/gen");
    c->p_epoch = path_join(c->root, "/epoch");
    if (!c->p_rev || !c->p_kv || !c->p_ev || !c->p_compact || !c->p_lease || !c->p_clock ||
        !c->p_gen || !c->p_epoch)
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
out:
    dc_uri_free(&u);
    return rc;
}

/* ------------------------------------------------------------ layout */

/* Create every ancestor of the root that is missing (races are fine). */
static int ensure_parents(zk_conn *c, zhandle_t *zh, dc_drv_err *err)
{
    char *p = strdup(c->root);
    if (!p) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    int rc = DC_OK;
    for (char *s = strchr(p + 1, '/'); s && rc == DC_OK; s = strchr(s + 1, '/')) {
        *s = '\0';
        int zrc = zoo_create(zh, p, NULL, -1, zk_acl(c), ZOO_PERSISTENT, NULL, 0);
        if (zrc != ZOK && zrc != ZNODEEXISTS)
            rc = ZKERR(err, zk_map_rc(zrc), "zk %s: cannot create %s: %s", c->endpoint, p,
                       zerror(zrc));
        *s = '/';
    }
    free(p);
    return rc;
}

/* Create the whole layout in one multi if the root is missing. */
static int ensure_layout(zk_conn *c, zhandle_t *zh, dc_drv_err *err)
{
    struct Stat st;
    int zrc = zoo_exists(zh, c->root, 0, &st);
    if (zrc == ZOK) return DC_OK;
    if (zrc != ZNONODE)
        return ZKERR(err, zk_map_rc(zrc), "zk %s: exists %s: %s", c->endpoint, c->root,
                     zerror(zrc));
    int rc = ensure_parents(c, zh, err);
    if (rc) return rc;
    enum { NFIXED = 10 };
    zoo_op_t ops[NFIXED + ZK_GEN_SHARDS];
    zoo_op_result_t res[NFIXED + ZK_GEN_SHARDS];
    char b0[512], gens[ZK_GEN_SHARDS][512];
    zk_bucket_path(c, 0, b0, sizeof b0);
    const struct ACL_vector *acl = zk_acl(c);
    int n = 0;
    zoo_create_op_init(&ops[n++], c->root, NULL, -1, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_rev, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_kv, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_ev, "0", 1, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], b0, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_compact, "0", 1, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_lease, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_clock, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    zoo_create_op_init(&ops[n++], c->p_gen, "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    for (int i = 0; i < ZK_GEN_SHARDS; i++) {
        snprintf(gens[i], sizeof gens[i], "%s/%02d", c->p_gen, i);
        zoo_create_op_init(&ops[n++], gens[i], "", 0, acl, ZOO_PERSISTENT, NULL, 0);
    }
    zrc = zoo_multi(zh, n, ops, res);
    if (zrc != ZOK && zrc != ZNODEEXISTS)
        return ZKERR(err, zk_map_rc(zrc), "zk %s: cannot create the store layout under %s: %s",
                     c->endpoint, c->root, zerror(zrc));
    return DC_OK;
}

int zk_epoch_rc(zk_conn *c, int zrc, dc_drv_err *err)
{
    if (zrc == ZOK) return DC_OK;
    if (zrc == ZNONODE)
        return ZKERR(err, DC_ERESET,
                     "zk %s: the store's epoch %s is gone: the server lost its data (a wiped or "
                     "replaced data directory) and this is another history",
                     c->endpoint, c->epoch_path);
    return ZKERR(err, zk_map_rc(zrc), "zk %s: reading %s: %s", c->endpoint, c->epoch_path,
                 zerror(zrc));
}

/* Learn the store's epoch, R/epoch/<name>, creating it with a random name
 * for a store that has none yet (a new layout, or one made before epochs:
 * parent and child in one multi, so racing openers agree on one name). */
static int epoch_init(zk_conn *c, zhandle_t *zh, dc_drv_err *err)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        struct String_vector names = {0, NULL};
        int zrc = zoo_get_children(zh, c->p_epoch, 0, &names);
        if (zrc == ZOK && names.count > 0) {
            const char *first = names.data[0]; /* there is one; if more, the smallest */
            for (int i = 1; i < names.count; i++)
                if (strcmp(names.data[i], first) < 0) first = names.data[i];
            dc_buf p = DC_BUF_INIT;
            int bad = dc_buf_printf(&p, "%s/%s", c->p_epoch, first);
            deallocate_String_vector(&names);
            if (bad) {
                dc_buf_free(&p);
                return ZKERR(err, DC_ENOMEM, "zk: out of memory");
            }
            free(c->epoch_path);
            c->epoch_path = dc_buf_steal(&p);
            return c->epoch_path ? DC_OK : ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        if (zrc == ZOK) deallocate_String_vector(&names);
        if (zrc != ZOK && zrc != ZNONODE)
            return ZKERR(err, zk_map_rc(zrc), "zk %s: reading %s: %s", c->endpoint, c->p_epoch,
                         zerror(zrc));
        unsigned char b[16];
        if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
            uint64_t t[2] = {(uint64_t)dc_now_us(), (uint64_t)(uintptr_t)c ^ (uint64_t)getpid()};
            memcpy(b, t, sizeof b);
        }
        char name[64], hex[33];
        for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", b[i]);
        snprintf(name, sizeof name, "%s/e%s", c->p_epoch, hex);
        zoo_op_t ops[2];
        zoo_op_result_t res[2];
        int n = 0;
        if (zrc == ZNONODE)
            zoo_create_op_init(&ops[n++], c->p_epoch, "", 0, zk_acl(c), ZOO_PERSISTENT, NULL, 0);
        zoo_create_op_init(&ops[n++], name, "", 0, zk_acl(c), ZOO_PERSISTENT, NULL, 0);
        zrc = zoo_multi(zh, n, ops, res);
        if (zrc != ZOK && zrc != ZNODEEXISTS && zrc != ZNONODE)
            return ZKERR(err, zk_map_rc(zrc), "zk %s: creating the store's epoch: %s", c->endpoint,
                         zerror(zrc));
    }
    return ZKERR(err, DC_EUNAVAILABLE, "zk %s: %s keeps changing", c->endpoint, c->p_epoch);
}

/* Read the revision node (ACL-checked, unlike exists): the auth probe. */
static int probe(zk_conn *c, zhandle_t *zh, dc_drv_err *err)
{
    char buf[64];
    int len = sizeof buf;
    struct Stat st;
    int zrc = zoo_get(zh, c->p_ev, 0, buf, &len, &st);
    if (zrc == ZNOAUTH)
        return ZKERR(err, DC_EAUTH, "zk %s: access to %s denied: %s (wrong user name or password?)",
                     c->endpoint, c->root,
                     c->user ? "the credentials do not match the store's ACL"
                             : "the store is protected and no credentials were given");
    if (zrc == ZNONODE)
        return ZKERR(err, DC_ECORRUPT, "zk %s: %s exists but is not a ddlcoord store", c->endpoint,
                     c->root);
    if (zrc != ZOK)
        return ZKERR(err, zk_map_rc(zrc), "zk %s: reading %s: %s", c->endpoint, c->p_ev,
                     zerror(zrc));
    return DC_OK;
}

int zk_conn_open(zk_conn *c, dc_drv_err *err)
{
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&c->hlock, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&c->st_mu, NULL);
    dc_cond_init_monotonic(&c->st_cv);
    pthread_mutex_init(&c->ptr_mu, NULL);
    pthread_mutex_init(&c->reap_mu, NULL);
    dc_cond_init_monotonic(&c->reap_cv);
    c->ptr_version = -1;
    if (getrandom(c->token_base, sizeof c->token_base, 0) != (ssize_t)sizeof c->token_base) {
        uint64_t t = (uint64_t)dc_wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)c;
        memcpy(c->token_base, &t, sizeof t);
    }
    zoo_set_debug_level(getenv("DDLCOORD_ZK_DEBUG") ? ZOO_LOG_LEVEL_DEBUG : ZOO_LOG_LEVEL_ERROR);

    int rc = handle_new(c, err);
    if (rc) return rc;
    rc = wait_connected(c, c->zh, dc_now_ms() + c->connect_timeout_ms, err);
    if (!rc) rc = ensure_layout(c, c->zh, err);
    if (!rc) rc = probe(c, c->zh, err);
    if (!rc) rc = epoch_init(c, c->zh, err);
    return rc;
}

void zk_conn_close(zk_conn *c)
{
    pthread_rwlock_wrlock(&c->hlock);
    c->closing = 1;
    if (c->zh) zookeeper_close(c->zh);
    c->zh = NULL;
    pthread_rwlock_unlock(&c->hlock);
    pthread_rwlock_destroy(&c->hlock);
    pthread_mutex_destroy(&c->st_mu);
    pthread_cond_destroy(&c->st_cv);
    pthread_mutex_destroy(&c->ptr_mu);
    pthread_mutex_destroy(&c->reap_mu);
    pthread_cond_destroy(&c->reap_cv);
}

/* ------------------------------------------------------------ driver open/close */

int zk_parse_and_open(const dc_host *host, const char *uri, const dc_config *cfg, zk_conn **out,
                      dc_drv_err *err);
void zk_free(zk_conn *c);

void zk_free(zk_conn *c)
{
    if (!c) return;
    free(c->hosts);
    free(c->endpoint);
    free(c->user);
    free(c->password);
    free(c->root);
    free(c->p_rev);
    free(c->p_kv);
    free(c->p_ev);
    free(c->p_compact);
    free(c->p_lease);
    free(c->p_clock);
    free(c->p_gen);
    free(c->p_epoch);
    free(c->epoch_path);
    free(c);
}

int zk_parse_and_open(const dc_host *host, const char *uri, const dc_config *cfg, zk_conn **out,
                      dc_drv_err *err)
{
    zk_conn *c = calloc(1, sizeof *c);
    if (!c) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    c->host = host;
    int rc = parse_config(c, uri, cfg, err);
    if (rc) {
        zk_free(c);
        return rc;
    }
    rc = zk_conn_open(c, err);
    if (!rc && zk_reaper_start(c) != 0)
        rc = ZKERR(err, DC_ENOMEM, "zk: cannot start the lease reaper thread");
    if (rc) {
        zk_conn_close(c);
        zk_free(c);
        return rc;
    }
    *out = c;
    return DC_OK;
}

int zk_recover(zk_conn *c, uint64_t gen, int rc, int attempt, int64_t deadline)
{
    if (rc != DC_EUNAVAILABLE && rc != DC_ETIMEDOUT) return 0;
    if (dc_now_ms() >= deadline) return 0;
    zhandle_t *zh = zk_acquire(c, NULL);
    int dead = zh && is_unrecoverable(zh) == ZINVALIDSTATE;
    zk_release(c);
    if (dead) {
        dc_drv_err e2 = {{0}, 0};
        zk_rebuild(c, gen, &e2);
    } else {
        zk_backoff(attempt, deadline);
    }
    return dc_now_ms() < deadline;
}
