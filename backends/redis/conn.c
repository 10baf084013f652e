/*
 * Connections: hiredis contexts are not thread-safe, so the driver keeps a
 * pool of them; a call borrows one for its whole exchange and gives it back.
 * Each context gets a socket timeout (redisSetTimeout: hiredis' connect
 * timeout does not cover commands), is authenticated (AUTH [user] password;
 * hiredis 0.14 has no AUTH helper) and switched to the configured database.
 * A context that saw an I/O or protocol error is unusable, so it is freed
 * instead of pooled; the next borrow connects afresh, which is also how the
 * driver recovers after a server restart.
 *
 * Error replies are mapped to DC_E codes here, in one place.
 */
#include "redis.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

#include "clock.h"
#include "hex.h"

int rd_err(dc_drv_err *err, int code, const rd_store *s, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err->msg, sizeof err->msg, "%s: ", s->endpoint);
    if (n < 0 || (size_t)n >= sizeof err->msg) n = 0;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

void rd_note_rev(rd_store *s, int64_t rev)
{
    int64_t cur = atomic_load(&s->last_rev);
    while (rev > cur && !atomic_compare_exchange_weak(&s->last_rev, &cur, rev)) {
    }
}

/* 16 random hex digits per process (or per fork) and a counter: unique
 * without a system call per write. */
void rd_token(char out[33])
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static char prefix[17];
    static pid_t pid;
    static uint64_t counter;
    pthread_mutex_lock(&mu);
    if (pid != getpid()) {
        unsigned char b[8];
        if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
            /* no entropy source: time and pid still make a collision unlikely */
            uint64_t t = (uint64_t)dc__now_us() ^ ((uint64_t)getpid() << 40);
            memcpy(b, &t, sizeof b);
        }
        dc__hex_encode(b, sizeof b, prefix);
        pid = getpid();
    }
    uint64_t n = ++counter;
    pthread_mutex_unlock(&mu);
    snprintf(out, 33, "%s%016llx", prefix, (unsigned long long)n);
}

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

int rd_reply_retryable(rd_store *s, const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ERROR) return 0;
    /* a replica refuses writes (-READONLY; inside a script Redis 7 keeps the
     * code): the master moved under this connection. Nothing ran; the next
     * attempt connects to the master Sentinel names now. */
    if (strncmp(r->str, "READONLY", 8) == 0 || strstr(r->str, "READONLY You can't write")) {
        if (!atomic_exchange(&s->stale, 1))
            s->host->log(DC_LOG_WARN, "redis", "%s: the server is a read-only replica now%s",
                         s->endpoint,
                         s->sentinel ? ": asking the sentinels for the master again" : "");
        return 1;
    }
    return strncmp(r->str, "LOADING", 7) == 0 || strncmp(r->str, "BUSY", 4) == 0 ||
           strncmp(r->str, "TRYAGAIN", 8) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0;
}

int rd_reply_error(rd_store *s, const redisReply *r, const char *what, dc_drv_err *err)
{
    const char *m = r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply";
    int code = DC_EUNAVAILABLE;
    if (strstr(m, "DCNOTFOUND"))
        code = DC_ENOTFOUND;
    else if (strstr(m, "DCRESET"))
        code = DC_ERESET;
    else if (strstr(m, "DCCORRUPT"))
        code = DC_ECORRUPT;
    else if (strstr(m, "DCUNKNOWN"))
        code = DC_EUNKNOWN;
    else if (strstr(m, "DCTOOBIG"))
        code = DC_ETOOBIG;
    else if (!strncmp(m, "NOPERM", 6) || !strncmp(m, "WRONGPASS", 9) || !strncmp(m, "NOAUTH", 6))
        code = DC_EAUTH;
    else if (!strncmp(m, "WRONGTYPE", 9))
        code = DC_ECORRUPT;
    else if (!strncmp(m, "OOM", 3))
        code = DC_ETOOBIG;
    else if (r && r->type != REDIS_REPLY_ERROR)
        code = DC_ECORRUPT;
    /* the Lua layer's own codes are "DCxxx message": show the message */
    const char *show = m;
    if (!strncmp(show, "DC", 2) && strchr(show, ' ')) show = strchr(show, ' ') + 1;
    return rd_err(err, code, s, "%s: %s", what, show);
}

int rd_io_error(rd_store *s, redisContext *ctx, int code, const char *what, dc_drv_err *err)
{
    const char *m = ctx && ctx->err ? ctx->errstr : "connection lost";
    if (ctx && ctx->err == REDIS_ERR_IO && (errno == EAGAIN || strstr(m, "temporarily")))
        m = "no answer within the request timeout";
    return rd_err(err, code, s, "%s: %s", what, m);
}

/* Send one command and check for +OK-like success (not an error reply). */
static int setup_cmd(rd_store *s, redisContext *ctx, int argc, const char **argv, const char *what,
                     dc_drv_err *err)
{
    size_t lens[4];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    redisReply *r = redisCommandArgv(ctx, argc, argv, lens);
    if (!r) return rd_io_error(s, ctx, DC_EUNAVAILABLE, what, err);
    int rc = DC_OK;
    if (r->type == REDIS_REPLY_ERROR) {
        rc = rd_reply_error(s, r, what, err);
        if (!strncmp(r->str, "WRONGPASS", 9) || !strncmp(r->str, "ERR AUTH", 8) ||
            strstr(r->str, "invalid username-password") || strstr(r->str, "invalid password"))
            rc = DC_EAUTH;
    }
    freeReplyObject(r);
    return rc;
}

int rd_connect(rd_store *s, redisContext **out, int timeout_ms, dc_drv_err *err)
{
    if (s->sentinel) return rd_sentinel_connect(s, out, timeout_ms, err);
    return rd_connect_to(s, s->hostname, s->port, out, timeout_ms, err);
}

int rd_connect_to(rd_store *s, const char *host, int port, redisContext **out, int timeout_ms,
                  dc_drv_err *err)
{
    *out = NULL;
    redisContext *ctx = redisConnectWithTimeout(host, port, tv_ms(s->connect_timeout_ms));
    if (!ctx) return rd_err(err, DC_ENOMEM, s, "out of memory connecting");
    if (ctx->err) {
        int rc = rd_err(err, DC_EUNAVAILABLE, s, "connect to %s:%d: %s", host, port, ctx->errstr);
        redisFree(ctx);
        return rc;
    }
    if (redisSetTimeout(ctx, tv_ms(timeout_ms)) != REDIS_OK) {
        int rc = rd_err(err, DC_EUNAVAILABLE, s, "setting the socket timeout failed");
        redisFree(ctx);
        return rc;
    }
    int rc = DC_OK;
    if (s->password) {
        const char *a3[] = {"AUTH", s->user ? s->user : "default", s->password};
        rc = setup_cmd(s, ctx, 3, a3, "AUTH", err);
        if (rc == DC_EUNAVAILABLE && !s->user && strstr(err->msg, "wrong number")) {
            /* Redis < 6 knows only AUTH <password> */
            const char *a2[] = {"AUTH", s->password};
            rc = setup_cmd(s, ctx, 2, a2, "AUTH", err);
        }
    }
    if (rc == DC_OK && s->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", s->db);
        const char *a[] = {"SELECT", db};
        rc = setup_cmd(s, ctx, 2, a, "SELECT", err);
    }
    if (rc != DC_OK) {
        redisFree(ctx);
        return rc;
    }
    *out = ctx;
    return DC_OK;
}

/* hiredis writes with write(2), which raises SIGPIPE when the server has
 * gone; a library must not kill its host for that. The caller's thread
 * blocks SIGPIPE while it holds a connection, and a SIGPIPE raised meanwhile
 * is consumed before the old mask comes back. The driver's own threads
 * block it for good (rd_block_sigpipe). */
static __thread int sp_depth, sp_was_pending;
static __thread sigset_t sp_old;

static void sigpipe_enter(void)
{
    if (sp_depth++) return;
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&pend);
    sigpending(&pend);
    sp_was_pending = sigismember(&pend, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &sp_old);
}

static void sigpipe_leave(void)
{
    if (sp_depth == 0 || --sp_depth) return;
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigemptyset(&pend);
    sigpending(&pend);
    if (!sp_was_pending && sigismember(&pend, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &sp_old, NULL);
}

void rd_block_sigpipe(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int rd_borrow(rd_store *s, redisContext **out, dc_drv_err *err)
{
    sigpipe_enter();
    /* a -READONLY reply: every pooled connection may reach the old master */
    if (atomic_exchange(&s->stale, 0)) rd_pool_drain(s);
    pthread_mutex_lock(&s->pool_mu);
    while (s->sentinel && s->n_pool && !rd_sentinel_current(s, s->pool[s->n_pool - 1]))
        redisFree(s->pool[--s->n_pool]);
    if (s->n_pool) {
        *out = s->pool[--s->n_pool];
        pthread_mutex_unlock(&s->pool_mu);
        return DC_OK;
    }
    pthread_mutex_unlock(&s->pool_mu);
    int rc = rd_connect(s, out, s->request_timeout_ms, err);
    if (rc != DC_OK) sigpipe_leave();
    return rc;
}

void rd_return(rd_store *s, redisContext *ctx, int broken)
{
    if (!ctx) return;
    sigpipe_leave();
    if (broken || ctx->err || atomic_load(&s->stale) ||
        (s->sentinel && !rd_sentinel_current(s, ctx))) {
        redisFree(ctx);
        return;
    }
    pthread_mutex_lock(&s->pool_mu);
    if (s->n_pool == s->cap_pool) {
        size_t cap = s->cap_pool ? s->cap_pool * 2 : 8;
        redisContext **p = realloc(s->pool, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&s->pool_mu);
            redisFree(ctx);
            return;
        }
        s->pool = p;
        s->cap_pool = cap;
    }
    s->pool[s->n_pool++] = ctx;
    pthread_mutex_unlock(&s->pool_mu);
}

void rd_pool_drain(rd_store *s)
{
    pthread_mutex_lock(&s->pool_mu);
    for (size_t i = 0; i < s->n_pool; i++) redisFree(s->pool[i]);
    s->n_pool = 0;
    pthread_mutex_unlock(&s->pool_mu);
}

void rd_pool_free(rd_store *s)
{
    for (size_t i = 0; i < s->n_pool; i++) redisFree(s->pool[i]);
    free(s->pool);
    s->pool = NULL;
    s->n_pool = s->cap_pool = 0;
}

void rd_replies_free(redisReply **r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i]) freeReplyObject(r[i]);
        r[i] = NULL;
    }
}

int rd_pipeline(rd_store *s, redisContext *ctx, rd_cmd *cmds, size_t n, redisReply **replies,
                dc_drv_err *err)
{
    for (size_t i = 0; i < n; i++) {
        replies[i] = NULL;
        if (cmds[i].oom) return rd_err(err, DC_ENOMEM, s, "out of memory building a command");
    }
    for (size_t i = 0; i < n; i++)
        if (redisAppendCommandArgv(ctx, (int)cmds[i].n, (const char **)cmds[i].v, cmds[i].len) !=
            REDIS_OK)
            return rd_err(err, DC_ENOMEM, s, "out of memory queueing a command");
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(ctx, &r) != REDIS_OK || !r) {
            rd_replies_free(replies, i);
            rd_io_error(s, ctx, RD_IO, "request", err);
            return RD_IO;
        }
        replies[i] = r;
    }
    return DC_OK;
}

static int retrying(rd_store *s, rd_fn fn, void *arg, int write, dc_drv_err *err)
{
    int64_t deadline = dc__now_ms() + s->request_timeout_ms;
    for (int attempt = 0;; attempt++) {
        redisContext *ctx;
        int rc = rd_borrow(s, &ctx, err);
        if (rc == DC_OK) {
            rc = fn(s, ctx, arg, err);
            /* applied: a failed WAIT is an unknown outcome, never retried */
            if (rc == DC_OK && write) rc = rd_wait_acks(s, ctx, err);
            rd_return(s, ctx, rc == RD_IO || (rc != DC_OK && rc != RD_AGAIN && ctx->err));
        } else if (rc == DC_EUNAVAILABLE) {
            rc = RD_AGAIN; /* cannot connect (yet): the server may be restarting */
        }
        if (rc != RD_IO && rc != RD_AGAIN) return rc;
        if (rc == RD_IO) rd_pool_drain(s); /* one dead connection: the rest are likely dead too */
        if (dc__now_ms() >= deadline) {
            if (!err->msg[0]) rd_err(err, 0, s, "server unavailable");
            return DC_EUNAVAILABLE;
        }
        /* a dead pooled connection is retried at once; anything else waits a little */
        if (attempt > 0 || rc == RD_AGAIN) dc__sleep_ms(attempt < 5 ? 20 : 100);
    }
}

int rd_retrying(rd_store *s, rd_fn fn, void *arg, dc_drv_err *err)
{
    return retrying(s, fn, arg, 0, err);
}

int rd_retrying_write(rd_store *s, rd_fn fn, void *arg, dc_drv_err *err)
{
    return retrying(s, fn, arg, 1, err);
}

/* min_replicas_ack (docs/backends/redis.md, "Sentinel and durability"): Redis replicates
 * asynchronously, so a fail-over to a replica that had not received a write loses it although its
 * client was told it committed. WAIT blocks until N replicas acknowledge
 * everything this connection wrote, or the timeout passes; then the write is
 * on the master but maybe on fewer replicas, which is DC_EUNKNOWN: it may
 * survive a fail-over or not. */
int rd_wait_acks(rd_store *s, redisContext *ctx, dc_drv_err *err)
{
    if (s->min_acks <= 0) return DC_OK;
    redisReply *r =
        redisCommand(ctx, "WAIT %lld %lld", (long long)s->min_acks, (long long)s->wait_ms);
    if (!r) {
        rd_io_error(s, ctx, DC_EUNKNOWN, "WAIT", err);
        return rd_err(err, DC_EUNKNOWN, s,
                      "the write applied on the master, but the connection broke while "
                      "waiting for %lld replica(s) to have it",
                      (long long)s->min_acks);
    }
    int64_t n = -1;
    if (r->type == REDIS_REPLY_INTEGER) n = r->integer;
    int rc = DC_OK;
    if (n < 0)
        rc = rd_err(err, DC_EUNKNOWN, s, "the write applied on the master, but WAIT failed: %.200s",
                    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    else if (n < s->min_acks)
        rc = rd_err(err, DC_EUNKNOWN, s,
                    "the write applied on the master, but only %lld of the %lld replica(s) "
                    "min_replicas_ack asks for had it within %lld ms: a fail-over may lose it",
                    (long long)n, (long long)s->min_acks, (long long)s->wait_ms);
    freeReplyObject(r);
    return rc;
}

int rd_bounds(const char *p, size_t n, dc_buf *lo, dc_buf *hi)
{
    if (n == 0) return dc__buf_puts(lo, "-") || dc__buf_puts(hi, "+");
    size_t e = n;
    while (e > 0 && (unsigned char)p[e - 1] == 0xff) e--;
    if (dc__buf_puts(lo, "[") || dc__buf_append(lo, p, n)) return -1;
    if (e == 0) return dc__buf_puts(hi, "+");
    char last = (char)((unsigned char)p[e - 1] + 1);
    return dc__buf_puts(hi, "(") || dc__buf_append(hi, p, e - 1) || dc__buf_append(hi, &last, 1);
}
