/*
 * Redis-specific tests of ddlcoord-redis.so, each against its own throwaway
 * redis-server (tests/fixtures/redis.sh, appendonly yes + appendfsync
 * always), so that a test may kill, restart or reconfigure its server:
 *  - a kill -9 and a restart on the same AOF during a watch lose no
 *    acknowledged write and no event, and repeat none;
 *  - compaction under a watch ends the watch with DC_ECOMPACTED when it
 *    removed history the watch still needed, and disturbs nothing else;
 *  - AUTH with an ACL user, right and wrong password; the database number;
 *  - a user without +@scripting: mode=multi works, mode=lua refuses to open
 *    and says why;
 *  - revisions past 10^14 stay exact (Lua formats them with %d);
 *  - both write modes share one layout;
 *  - a write whose reply is lost and which is sent again is applied once;
 *  - corrupt data in Redis gives DC_ECORRUPT and a write on it changes nothing;
 *  - a restart without persistence and a FLUSHALL are resets: old handles
 *    answer DC_ERESET, their watches end, their prepared writes do not apply;
 *  - a server that can lose acknowledged writes is refused unless
 *    allow_unsafe_durability=1; integer options are range-checked;
 *  - a password never appears in a log line or an error detail.
 * The environment gives DC_REDIS_FIXTURE (the script) and DC_REDIS_STATE (a
 * directory for this test's server). Raw hiredis is used only to set the
 * server up (ACL users, a revision key) and to compact behind a watch.
 */
#include <check.h>
#include <ddlcoord/ddlcoord.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char base_uri[256];
static int port;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run the fixture script: start, restart, kill or stop this test's server. */
static int server(const char *cmd)
{
    const char *script = getenv("DC_REDIS_FIXTURE"), *dir = getenv("DC_REDIS_STATE");
    if (!script || !dir) {
        fprintf(stderr, "DC_REDIS_FIXTURE and DC_REDIS_STATE must be set\n");
        return -1;
    }
    char line[2048];
    snprintf(line, sizeof line, "'%s' %s '%s'", script, cmd, dir);
    if (system(line) != 0) return -1;
    if (strcmp(cmd, "start") && strcmp(cmd, "restart")) return 0;
    snprintf(line, sizeof line, "%s/uri", dir);
    FILE *f = fopen(line, "r");
    if (!f) return -1;
    int ok = fgets(base_uri, sizeof base_uri, f) != NULL;
    fclose(f);
    base_uri[strcspn(base_uri, "\n")] = '\0';
    return ok && sscanf(base_uri, "redis://127.0.0.1:%d", &port) == 1 ? 0 : -1;
}

static void setup(void)
{
    if (server("start") != 0) {
        fprintf(stderr, "cannot start redis-server\n");
        exit(1);
    }
}

static void teardown(void)
{
    server("stop");
}

/* One raw command (printf format as redisCommand); the reply must not be an error. */
static redisReply *raw(const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    ck_assert_msg(c && !c->err, "raw connect failed");
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r != NULL, "raw command failed: %s", c->errstr);
    ck_assert_msg(r->type != REDIS_REPLY_ERROR, "raw command: %s", r->str);
    redisFree(c);
    return r;
}

static void raw_ok(const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    ck_assert_msg(c && !c->err, "raw connect failed");
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r && r->type != REDIS_REPLY_ERROR, "raw command: %s", r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
}

static dc_store *open_store(const char *query)
{
    char uri[512];
    snprintf(uri, sizeof uri, "%s%s", base_uri, query);
    dc_store *s = NULL;
    int rc = dc_store_open(uri, &s);
    ck_assert_msg(rc == DC_OK, "open %s: %s: %s", uri, dc_errname(rc), dc_last_error());
    return s;
}

#define OK(expr)                                                                            \
    do {                                                                                    \
        int rc_ = (expr);                                                                   \
        ck_assert_msg(rc_ == DC_OK, "%s: %s: %s", #expr, dc_errname(rc_), dc_last_error()); \
    } while (0)

/* ------------------------------------------------------------ kill -9 and restart */

#define MAX_WRITES 4000

typedef struct writer {
    dc_store *s;
    volatile int stop;
    int n;                   /* writes attempted */
    int acked;               /* acknowledged */
    int unknown;             /* DC_EUNKNOWN / unavailable outcomes */
    int64_t rev[MAX_WRITES]; /* revision of write i if acknowledged, else 0 */
    pthread_mutex_t mu;
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < MAX_WRITES && !w->stop; i++) {
        char key[32], val[32];
        snprintf(key, sizeof key, "k/%02d", i % 20);
        snprintf(val, sizeof val, "v%d", i);
        int64_t rev = 0;
        int rc = dc_put(w->s, key, strlen(key), val, strlen(val), 0, &rev);
        pthread_mutex_lock(&w->mu);
        w->rev[i] = rc == DC_OK ? rev : 0;
        w->n = i + 1;
        if (rc == DC_OK)
            w->acked++;
        else
            w->unknown++;
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

static int acked(writer *w)
{
    pthread_mutex_lock(&w->mu);
    int a = w->acked;
    pthread_mutex_unlock(&w->mu);
    return a;
}

static void wait_acked(writer *w, int n)
{
    while (acked(w) < n) sleep_ms(5);
}

static void kill_and_restart_during_a_watch(const char *mode)
{
    char q[128];
    snprintf(q, sizeof q, "?mode=%s&request_timeout_ms=4000", mode);
    dc_store *s = open_store(q);
    int64_t start;
    OK(dc_revision(s, &start));
    dc_watch *wt;
    OK(dc_watch_open(s, "k/", 2, start + 1, DC_PREFIX, &wt));

    static writer w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    w.s = s;
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, write_loop, &w), 0);
    wait_acked(&w, 150);
    ck_assert_int_eq(server("kill"), 0);
    sleep_ms(300);
    ck_assert_int_eq(server("restart"), 0);
    int before = acked(&w);
    wait_acked(&w, before + 150);
    w.stop = 1;
    pthread_join(th, NULL);

    int64_t end;
    OK(dc_revision(s, &end));
    ck_assert_int_gt(end, start);
    /* every revision start+1 … end, each once, in order (one writer, one
     * event per revision on this layout) */
    int64_t next = start + 1;
    char **vals = calloc((size_t)(end - start + 1), sizeof *vals);
    ck_assert_ptr_nonnull(vals);
    while (next <= end) {
        dc_events *ev = NULL;
        int rc = dc_watch_next(wt, 20000, &ev);
        ck_assert_msg(rc == DC_OK, "watch after restart: %s: %s (waiting for %lld of %lld)",
                      dc_errname(rc), dc_last_error(), (long long)next, (long long)end);
        for (size_t i = 0; i < ev->n; i++) {
            int64_t r = ev->events[i].kv.mod_revision;
            ck_assert_msg(r == next, "event at revision %lld, expected %lld (lost or repeated)",
                          (long long)r, (long long)next);
            vals[r - start] = strdup(ev->events[i].kv.value);
            next++;
        }
        dc_events_free(ev);
    }
    /* every acknowledged write is there, with its value */
    for (int i = 0; i < w.n; i++) {
        if (!w.rev[i]) continue;
        char val[32];
        snprintf(val, sizeof val, "v%d", i);
        ck_assert_msg(w.rev[i] > start && w.rev[i] <= end, "write %d acknowledged at %lld", i,
                      (long long)w.rev[i]);
        ck_assert_msg(vals[w.rev[i] - start] && !strcmp(vals[w.rev[i] - start], val),
                      "acknowledged write %d (revision %lld) is not in the watch", i,
                      (long long)w.rev[i]);
    }
    /* and the store agrees with the last event of each key */
    dc_kvs *kvs;
    OK(dc_get(s, "k/", 2, DC_PREFIX, 0, &kvs));
    for (size_t i = 0; i < kvs->n; i++)
        ck_assert_str_eq(kvs->kvs[i].value, vals[kvs->kvs[i].mod_revision - start]);
    dc_kvs_free(kvs);
    fprintf(stderr, "%s: %d writes, %d acknowledged, %d unknown or failed, revisions %lld..%lld\n",
            mode, w.n, w.acked, w.unknown, (long long)start + 1, (long long)end);
    for (int64_t i = 0; i <= end - start; i++) free(vals[i]);
    free(vals);
    dc_watch_close(wt);
    dc_store_close(s);
}

START_TEST(watch_survives_kill9_and_restart_lua)
{
    kill_and_restart_during_a_watch("lua");
}
END_TEST

START_TEST(watch_survives_kill9_and_restart_multi)
{
    kill_and_restart_during_a_watch("multi");
}
END_TEST

/* ------------------------------------------------------------ compaction */

static void expect_events(dc_watch *w, const char *const *keys, int n)
{
    int got = 0;
    while (got < n) {
        dc_events *ev;
        int rc = dc_watch_next(w, 10000, &ev);
        ck_assert_msg(rc == DC_OK, "watch: %s: %s", dc_errname(rc), dc_last_error());
        for (size_t i = 0; i < ev->n; i++, got++) {
            ck_assert_int_lt(got, n);
            ck_assert_str_eq(ev->events[i].kv.key, keys[got]);
        }
        dc_events_free(ev);
    }
}

START_TEST(compaction_under_a_live_watch_loses_nothing)
{
    dc_store *s = open_store("?mode=lua");
    int64_t r0;
    OK(dc_revision(s, &r0));
    dc_watch *w;
    OK(dc_watch_open(s, "c/", 2, r0 + 1, DC_PREFIX, &w));
    const char *keys[] = {"c/1", "c/2", "c/3", "c/4"};
    int64_t rev;
    OK(dc_put(s, "c/1", 3, "a", 1, 0, NULL));
    OK(dc_put(s, "c/2", 3, "b", 1, 0, &rev));
    expect_events(w, keys, 2);
    OK(dc_compact(s, rev));
    OK(dc_put(s, "c/3", 3, "c", 1, 0, NULL));
    OK(dc_put(s, "c/4", 3, "d", 1, 0, NULL));
    expect_events(w, keys + 2, 2);
    /* below the compact revision: ended at once; at it: fine */
    dc_watch *old;
    OK(dc_watch_open(s, "c/", 2, rev - 1, DC_PREFIX, &old));
    dc_events *ev;
    ck_assert_int_eq(dc_watch_next(old, 5000, &ev), DC_ECOMPACTED);
    ck_assert_int_eq(dc_watch_compact_revision(old), rev);
    dc_watch_close(old);
    dc_watch *at;
    OK(dc_watch_open(s, "c/", 2, rev, DC_PREFIX, &at));
    expect_events(at, keys + 1, 3);
    dc_watch_close(at);
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

/* The log is trimmed past revisions the watch has not read yet: two writes
 * and the compaction land in one MULTI, so the watch's pump cannot read the
 * first write before it is gone. */
START_TEST(compaction_past_an_unread_revision_ends_the_watch_with_compacted)
{
    dc_store *s = open_store("?mode=lua");
    int64_t p;
    OK(dc_put(s, "c/x", 3, "x", 1, 0, &p));
    dc_watch *w;
    OK(dc_watch_open(s, "c/", 2, p, DC_PREFIX, &w));
    const char *kx[] = {"c/x"};
    expect_events(w, kx, 1);

    redisContext *c = redisConnect("127.0.0.1", port);
    ck_assert(c && !c->err);
    char compact[32], minid[40];
    snprintf(compact, sizeof compact, "%lld", (long long)p + 2);
    snprintf(minid, sizeof minid, "%lld-0", (long long)p + 2);
    redisReply *e = raw("GET {ddlcoord}epoch"); /* every call carries it, and a floor (0) */
    ck_assert_int_eq(e->type, REDIS_REPLY_STRING);
    redisAppendCommand(c, "MULTI");
    redisAppendCommand(c, "FCALL ddlcoord2_txn 1 {ddlcoord} %s 0 %s 0 0 1 p 0 c/a va 0 0 0", e->str,
                       "0123456789abcdef0123456789abcdef");
    redisAppendCommand(c, "FCALL ddlcoord2_txn 1 {ddlcoord} %s 0 %s 0 0 1 p 0 c/b vb 0 0 0", e->str,
                       "fedcba9876543210fedcba9876543210");
    freeReplyObject(e);
    redisAppendCommand(c, "SET {ddlcoord}compact %s", compact);
    redisAppendCommand(c, "XTRIM {ddlcoord}log MINID %s", minid);
    redisAppendCommand(c, "EXEC");
    for (int i = 0; i < 6; i++) {
        redisReply *r;
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        ck_assert_msg(r->type != REDIS_REPLY_ERROR, "setup: %s", r->str);
        if (i == 5) {
            ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
            for (size_t j = 0; j < r->elements; j++)
                ck_assert_msg(r->element[j]->type != REDIS_REPLY_ERROR, "setup: %s",
                              r->element[j]->str);
        }
        freeReplyObject(r);
    }
    redisFree(c);

    dc_events *ev = NULL;
    int rc = dc_watch_next(w, 10000, &ev);
    ck_assert_msg(rc == DC_ECOMPACTED, "expected DC_ECOMPACTED, got %s", dc_errname(rc));
    ck_assert_int_eq(dc_watch_compact_revision(w), p + 2);
    dc_watch_close(w);

    /* from the compact revision on, history is whole */
    dc_watch *w2;
    OK(dc_watch_open(s, "c/", 2, p + 2, DC_PREFIX, &w2));
    const char *kb[] = {"c/b"};
    expect_events(w2, kb, 1);
    dc_watch_close(w2);
    ck_assert_int_eq(dc_compact(s, p + 1), DC_ECOMPACTED);
    dc_store_close(s);
}
END_TEST

/* ------------------------------------------------------------ AUTH */

START_TEST(auth_with_acl_user_right_and_wrong_password)
{
    raw_ok("ACL SETUSER alice on >s3cret ~* &* +@all");
    char uri[512];
    snprintf(uri, sizeof uri, "redis://alice:s3cret@127.0.0.1:%d", port);
    dc_store *s;
    OK(dc_store_open(uri, &s));
    OK(dc_put(s, "a", 1, "1", 1, 0, NULL));
    dc_store_close(s);

    snprintf(uri, sizeof uri, "redis://alice:wrong@127.0.0.1:%d", port);
    int rc = dc_store_open(uri, &s);
    ck_assert_msg(rc == DC_EAUTH, "wrong password gave %s", dc_errname(rc));
    ck_assert_msg(strstr(dc_last_error(), "AUTH"), "message: %s", dc_last_error());

    /* credentials from the configuration ([redis] section names) */
    dc_config *cfg = dc_config_new();
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d", port);
    dc_config_set(cfg, "uri", uri);
    dc_config_set(cfg, "redis.username", "alice");
    dc_config_set(cfg, "redis.password", "s3cret");
    OK(dc_store_open_config(cfg, &s));
    dc_kvs *kvs;
    OK(dc_get(s, "a", 1, 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    dc_kvs_free(kvs);
    dc_store_close(s);
    dc_config_free(cfg);

    /* with the default user disabled, no credentials is an auth error */
    raw_ok("ACL SETUSER default off");
    rc = dc_store_open(uri, &s);
    ck_assert_msg(rc == DC_EAUTH, "no credentials gave %s", dc_errname(rc));
}
END_TEST

/* redis://:password@host authenticates the default user (AUTH password), as
 * redis-py and go-redis read it. Last: raw commands need no AUTH until then. */
START_TEST(password_without_a_user_is_the_default_users)
{
    raw_ok("ACL SETUSER default on >defpw");
    char uri[512];
    snprintf(uri, sizeof uri, "redis://:defpw@127.0.0.1:%d", port);
    dc_store *s;
    OK(dc_store_open(uri, &s));
    OK(dc_put(s, "a", 1, "1", 1, 0, NULL));
    dc_store_close(s);
    snprintf(uri, sizeof uri, "redis://:wrong@127.0.0.1:%d", port);
    int rc = dc_store_open(uri, &s);
    ck_assert_msg(rc == DC_EAUTH, "a wrong default password gave %s", dc_errname(rc));
}
END_TEST

/* ------------------------------------------------------------ scripting denied */

START_TEST(scripting_denied_by_acl_multi_works_lua_says_why)
{
    raw_ok("ACL SETUSER noscript on >pw ~* &* +@all -@scripting");
    char uri[512];
    snprintf(uri, sizeof uri, "redis://noscript:pw@127.0.0.1:%d?mode=lua", port);
    dc_store *s;
    int rc = dc_store_open(uri, &s);
    ck_assert_msg(rc == DC_EAUTH, "lua mode without scripting gave %s", dc_errname(rc));
    ck_assert_msg(strstr(dc_last_error(), "scripting") && strstr(dc_last_error(), "mode=multi") &&
                      strstr(dc_last_error(), "NOPERM"),
                  "the message does not say why: %s", dc_last_error());

    snprintf(uri, sizeof uri, "redis://noscript:pw@127.0.0.1:%d?mode=multi", port);
    OK(dc_store_open(uri, &s));
    int64_t r0;
    OK(dc_revision(s, &r0));
    dc_watch *w;
    OK(dc_watch_open(s, "m/", 2, r0 + 1, DC_PREFIX | DC_PREV_KV, &w));
    int64_t lease;
    OK(dc_lease_grant(s, 30, &lease, NULL));
    OK(dc_put(s, "m/a", 3, "1", 1, lease, NULL));
    dc_txn *t = dc_txn_new();
    dc_txn_compare_value(t, "m/a", 3, DC_CMP_EQUAL, "1", 1);
    dc_txn_put(t, DC_THEN, "m/b", 3, "2", 1, 0, 0);
    dc_txn_result *tr;
    OK(dc_txn_commit(s, t, &tr));
    ck_assert_int_eq(tr->succeeded, 1);
    dc_txn_result_free(tr);
    dc_txn_free(t);
    OK(dc_lease_keepalive(s, lease, NULL));
    OK(dc_lease_revoke(s, lease));
    const char *keys[] = {"m/a", "m/b", "m/a"};
    int got = 0;
    while (got < 3) {
        dc_events *ev;
        OK(dc_watch_next(w, 10000, &ev));
        for (size_t i = 0; i < ev->n; i++, got++) {
            ck_assert_str_eq(ev->events[i].kv.key, keys[got]);
            if (got == 2) {
                ck_assert_int_eq(ev->events[i].type, DC_EVENT_DELETE);
                ck_assert_ptr_nonnull(ev->events[i].prev_kv);
                ck_assert_int_eq(ev->events[i].prev_kv->lease, lease);
            }
        }
        dc_events_free(ev);
    }
    dc_kvs *kvs;
    OK(dc_get(s, "m/", 2, DC_PREFIX, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    ck_assert_str_eq(kvs->kvs[0].key, "m/b");
    dc_kvs_free(kvs);
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

/* ------------------------------------------------------------ big revisions, shared layout */

static void big_revisions(const char *mode)
{
    const int64_t big = 123456789012345LL; /* > 10^14: %.14g would print 1.2345678901234e+14 */
    raw_ok("SET {big%s}rev %lld", mode, (long long)big);
    char q[64];
    snprintf(q, sizeof q, "?mode=%s&prefix=big%s", mode, mode);
    dc_store *s = open_store(q);
    dc_watch *w;
    OK(dc_watch_open(s, "b", 1, big + 1, 0, &w));
    int64_t rev;
    OK(dc_put(s, "b", 1, "x", 1, 0, &rev));
    ck_assert_int_eq(rev, big + 1);
    dc_txn *t = dc_txn_new();
    dc_txn_compare_int(t, "b", 1, DC_TARGET_MOD, DC_CMP_EQUAL, big + 1);
    dc_txn_put(t, DC_THEN, "b", 1, "y", 1, 0, 0);
    dc_txn_result *tr;
    OK(dc_txn_commit(s, t, &tr));
    ck_assert_int_eq(tr->succeeded, 1);
    ck_assert_int_eq(tr->revision, big + 2);
    dc_txn_result_free(tr);
    dc_txn_free(t);
    dc_kvs *kvs;
    OK(dc_get(s, "b", 1, 0, 0, &kvs));
    ck_assert_int_eq(kvs->kvs[0].create_revision, big + 1);
    ck_assert_int_eq(kvs->kvs[0].mod_revision, big + 2);
    ck_assert_int_eq(kvs->revision, big + 2);
    dc_kvs_free(kvs);
    int64_t seen = 0;
    while (seen < big + 2) {
        dc_events *ev;
        OK(dc_watch_next(w, 10000, &ev));
        for (size_t i = 0; i < ev->n; i++) {
            ck_assert_int_eq(ev->events[i].kv.mod_revision, seen ? seen + 1 : big + 1);
            seen = ev->events[i].kv.mod_revision;
        }
        dc_events_free(ev);
    }
    redisReply *r = raw("XRANGE {big%s}log - +", mode);
    ck_assert_uint_eq(r->elements, 2);
    ck_assert_str_eq(r->element[0]->element[0]->str, "123456789012346-0");
    freeReplyObject(r);
    dc_watch_close(w);
    dc_store_close(s);
}

START_TEST(revisions_past_10e14_stay_exact_lua)
{
    big_revisions("lua");
}
END_TEST

START_TEST(revisions_past_10e14_stay_exact_multi)
{
    big_revisions("multi");
}
END_TEST

START_TEST(lua_and_multi_modes_share_one_layout)
{
    dc_store *l = open_store("?mode=lua"), *m = open_store("?mode=multi");
    int64_t r0;
    OK(dc_revision(l, &r0));
    dc_watch *w;
    OK(dc_watch_open(m, "s/", 2, r0 + 1, DC_PREFIX | DC_PREV_KV, &w));
    int64_t rev;
    OK(dc_put(l, "s/a", 3, "1", 1, 0, &rev));
    dc_txn *t = dc_txn_new();
    dc_txn_compare_int(t, "s/a", 3, DC_TARGET_MOD, DC_CMP_EQUAL, rev);
    dc_txn_put(t, DC_THEN, "s/a", 3, "2", 1, 0, 0);
    dc_txn_put(t, DC_THEN, "s/b", 3, "3", 1, 0, 0);
    dc_txn_result *tr;
    OK(dc_txn_commit(m, t, &tr));
    ck_assert_int_eq(tr->succeeded, 1);
    ck_assert_int_eq(tr->revision, rev + 1);
    dc_txn_result_free(tr);
    dc_txn_free(t);
    int64_t deleted;
    OK(dc_delete(l, "s/", 2, DC_PREFIX, &deleted, NULL));
    ck_assert_int_eq(deleted, 2);
    for (int i = 0; i < 2; i++) {
        dc_store *s = i ? m : l;
        dc_kvs *kvs;
        OK(dc_get(s, "s/", 2, DC_PREFIX, 0, &kvs));
        ck_assert_uint_eq(kvs->n, 0);
        ck_assert_int_eq(kvs->revision, rev + 2);
        dc_kvs_free(kvs);
    }
    /* three revisions: put, the txn's two puts, the delete of two keys */
    int n[3] = {0};
    int64_t last = 0;
    while (last < rev + 2) {
        dc_events *ev;
        OK(dc_watch_next(w, 10000, &ev));
        for (size_t i = 0; i < ev->n; i++) {
            last = ev->events[i].kv.mod_revision;
            ck_assert_int_ge(last, rev);
            n[last - rev]++;
            if (last == rev + 2) {
                ck_assert_int_eq(ev->events[i].type, DC_EVENT_DELETE);
                ck_assert_ptr_nonnull(ev->events[i].prev_kv);
            }
        }
        dc_events_free(ev);
    }
    ck_assert_int_eq(n[0], 1);
    ck_assert_int_eq(n[1], 2);
    ck_assert_int_eq(n[2], 2);
    dc_watch_close(w);
    dc_store_close(l);
    dc_store_close(m);
}
END_TEST

START_TEST(database_number_in_the_uri_path_selects_the_database)
{
    dc_store *s = open_store("/3?mode=lua");
    OK(dc_put(s, "in3", 3, "v", 1, 0, NULL));
    dc_store_close(s);
    redisContext *c = redisConnect("127.0.0.1", port);
    ck_assert(c && !c->err);
    redisReply *r = redisCommand(c, "EXISTS {ddlcoord}kv:in3");
    ck_assert_int_eq(r->integer, 0); /* not in db 0 */
    freeReplyObject(r);
    freeReplyObject(redisCommand(c, "SELECT 3"));
    r = redisCommand(c, "EXISTS {ddlcoord}kv:in3");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
    dc_store *bad = NULL;
    char uri[300];
    snprintf(uri, sizeof uri, "%s/notanumber", base_uri);
    ck_assert_int_eq(dc_store_open(uri, &bad), DC_EINVAL);
}
END_TEST

/* ------------------------------------------------------------ lost replies */

/* The server holds writes (CLIENT PAUSE WRITE) past the request timeout: the
 * reply is lost, the token is not in the log, and the answer is DC_EUNKNOWN.
 * Whatever the held copies do once the pause ends, the write is applied at
 * most once. And a resend whose token is already in the log (the first copy
 * ran late) is a no-op: checked on the function itself in lua mode. */
static void lost_replies(const char *mode)
{
    char q[96];
    snprintf(q, sizeof q, "?mode=%s&request_timeout_ms=400&prefix=lost%s", mode, mode);
    dc_store *s = open_store(q);
    int64_t r0, r1;
    OK(dc_put(s, "before", 6, "x", 1, 0, &r0));
    raw_ok("CLIENT PAUSE 1500 WRITE");
    int rc = dc_put(s, "p", 1, "v", 1, 0, NULL);
    ck_assert_msg(rc == DC_EUNKNOWN, "a write held past the timeout gave %s", dc_errname(rc));
    sleep_ms(2000); /* the pause is over: every held copy has run or been dropped */
    dc_kvs *kvs;
    OK(dc_get(s, "p", 1, 0, 0, &kvs));
    r1 = kvs->revision;
    redisReply *r = raw("XLEN {lost%s}log", mode);
    if (kvs->n) { /* applied: once */
        ck_assert_int_eq(kvs->kvs[0].version, 1);
        ck_assert_int_eq(r1, r0 + 1);
        ck_assert_int_eq(r->integer, 2);
    } else { /* not applied: nothing moved */
        ck_assert_int_eq(r1, r0);
        ck_assert_int_eq(r->integer, 1);
    }
    freeReplyObject(r);
    dc_kvs_free(kvs);
    OK(dc_put(s, "after", 5, "y", 1, 0, NULL));

    if (!strcmp(mode, "lua")) {
        /* resend of the write that made revision r0: already there, so a no-op */
        r = raw("XRANGE {lostlua}log %lld-0 %lld-0", (long long)r0, (long long)r0);
        ck_assert_uint_eq(r->elements, 1);
        const redisReply *f = r->element[0]->element[1];
        char token[64] = "";
        for (size_t i = 0; i + 1 < f->elements; i += 2)
            if (!strcmp(f->element[i]->str, "x"))
                snprintf(token, sizeof token, "%s", f->element[i + 1]->str);
        freeReplyObject(r);
        ck_assert_uint_eq(strlen(token), 32);
        int64_t before;
        OK(dc_revision(s, &before));
        redisReply *e = raw("GET {lostlua}epoch");
        r = raw("FCALL ddlcoord2_txn 1 {lostlua} %s 0 %s %lld 0 1 p 0 before again 0 0 0", e->str,
                token, (long long)r0 - 1);
        freeReplyObject(e);
        ck_assert_int_eq(r->element[0]->integer, -1);
        freeReplyObject(r);
        int64_t now;
        OK(dc_revision(s, &now));
        ck_assert_int_eq(now, before);
    }
    dc_store_close(s);
}

START_TEST(lost_reply_resends_apply_once_lua)
{
    lost_replies("lua");
}
END_TEST

START_TEST(lost_reply_resends_apply_once_multi)
{
    lost_replies("multi");
}
END_TEST

/* ------------------------------------------------------------ log capture */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[65536];
static int log_warn, log_error;

static void capture(dc_log_level level, const char *component, const char *message, void *ud)
{
    pthread_mutex_lock(&log_mu);
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof log_text - n, "%s %s: %s\n", dc_log_level_name(level), component,
             message);
    log_warn += level == DC_LOG_WARN;
    log_error += level == DC_LOG_ERROR;
    pthread_mutex_unlock(&log_mu);
}

static void capture_start(void)
{
    pthread_mutex_lock(&log_mu);
    log_text[0] = '\0';
    log_warn = log_error = 0;
    pthread_mutex_unlock(&log_mu);
    dc_log_set_level(DC_LOG_DEBUG);
    dc_log_set_handler(capture, NULL);
}

static void capture_stop(void)
{
    dc_log_set_handler(NULL, NULL);
    dc_log_set_level(DC_LOG_WARN);
}

/* ------------------------------------------------------------ -READONLY */

/* A second server beside this test's, in DC_REDIS_STATE-b. */
static int other_server(const char *cmd, int *other_port)
{
    const char *script = getenv("DC_REDIS_FIXTURE"), *dir = getenv("DC_REDIS_STATE");
    char line[2048];
    snprintf(line, sizeof line, "'%s' %s '%s-b'", script, cmd, dir);
    if (system(line) != 0) return -1;
    if (!other_port) return 0;
    snprintf(line, sizeof line, "%s-b/port", dir);
    FILE *f = fopen(line, "r");
    if (!f) return -1;
    int ok = fscanf(f, "%d", other_port) == 1;
    fclose(f);
    return ok ? 0 : -1;
}

/* One raw command to the server on port p; the reply must not be an error. */
static void raw_on(int p, const char *cmd)
{
    redisContext *c = redisConnect("127.0.0.1", p);
    ck_assert_msg(c && !c->err, "raw connect to %d failed", p);
    redisReply *r = redisCommand(c, cmd);
    ck_assert_msg(r && r->type != REDIS_REPLY_ERROR, "%s on %d: %s", cmd, p,
                  r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
}

/* Wait until the server on port p is a replica in sync with its master. */
static void wait_synced(int p)
{
    for (int i = 0; i < 600; i++) {
        redisContext *c = redisConnect("127.0.0.1", p);
        redisReply *r = c && !c->err ? redisCommand(c, "INFO replication") : NULL;
        int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "role:slave") &&
                 strstr(r->str, "master_link_status:up");
        if (r) freeReplyObject(r);
        if (c) redisFree(c);
        if (ok) return;
        sleep_ms(100);
    }
    ck_abort_msg("the server on port %d did not sync with its master", p);
}

static int readonly_port;

static void *promote_later(void *arg)
{
    (void)arg;
    sleep_ms(800);
    redisContext *c = redisConnect("127.0.0.1", readonly_port);
    redisReply *r = c && !c->err ? redisCommand(c, "REPLICAOF NO ONE") : NULL;
    if (r) freeReplyObject(r);
    if (c) redisFree(c);
    return NULL;
}

/* The server under a handle's pooled connections turns into a replica
 * (what a fail-over does to a master that Sentinel demotes while clients
 * are still connected): writes get -READONLY. That is "not run, the master
 * moved": the driver drops its connections and tries again within the
 * request timeout, instead of failing the call; the write applies once the
 * server is a master again, once. */
static void readonly_retried(const char *mode)
{
    int other = 0;
    ck_assert_int_eq(other_server("start", &other), 0);
    char q[96];
    snprintf(q, sizeof q, "?mode=%s&prefix=ro%s&request_timeout_ms=8000", mode, mode);
    dc_store *s = open_store(q);
    OK(dc_put(s, "k1", 2, "a", 1, 0, NULL));
    /* copy the store to the other server, then make this one its replica */
    char cmd[96];
    snprintf(cmd, sizeof cmd, "REPLICAOF 127.0.0.1 %d", port);
    raw_on(other, cmd);
    wait_synced(other);
    raw_on(other, "REPLICAOF NO ONE");
    snprintf(cmd, sizeof cmd, "REPLICAOF 127.0.0.1 %d", other);
    raw_on(port, cmd);
    wait_synced(port);
    capture_start();
    readonly_port = port;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, promote_later, NULL), 0);
    int rc = dc_put(s, "k2", 2, "b", 1, 0, NULL);
    pthread_join(t, NULL);
    capture_stop();
    ck_assert_msg(rc == DC_OK, "a write to a replica for 0.8 s: %s (%s)", dc_errname(rc),
                  dc_last_error());
    ck_assert_msg(strstr(log_text, "read-only replica") != NULL, "log:\n%s", log_text);
    dc_kvs *kvs;
    OK(dc_get(s, "k2", 2, 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    ck_assert_int_eq(kvs->kvs[0].version, 1);
    dc_kvs_free(kvs);
    OK(dc_get(s, "k1", 2, 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    dc_kvs_free(kvs);
    dc_store_close(s);
    other_server("stop", NULL);
}

START_TEST(readonly_replica_is_retried_lua)
{
    readonly_retried("lua");
}
END_TEST

START_TEST(readonly_replica_is_retried_multi)
{
    readonly_retried("multi");
}
END_TEST

/* ------------------------------------------------------------ resets */

/* The server restarts without its AOF (the fixture's REDIS_FIXTURE_PERSIST=no):
 * every key is gone. Handles opened before, in both modes, answer DC_ERESET
 * to every call, their watches end with it, and the one ERROR line per
 * handle says so; a new handle refuses the unsafe server unless
 * allow_unsafe_durability=1. */
START_TEST(restart_without_persistence_is_a_reset)
{
    dc_store *s[2];
    dc_watch *w[2];
    const char *modes[2] = {"lua", "multi"};
    for (int i = 0; i < 2; i++) {
        char q[128];
        snprintf(q, sizeof q, "?mode=%s&request_timeout_ms=3000", modes[i]);
        s[i] = open_store(q);
        int64_t r;
        OK(dc_put(s[i], modes[i], strlen(modes[i]), "v", 1, 0, &r));
        OK(dc_watch_open(s[i], "", 0, r + 1, DC_PREFIX, &w[i]));
    }
    capture_start();
    setenv("REDIS_FIXTURE_PERSIST", "no", 1);
    ck_assert_int_eq(server("restart"), 0);
    unsetenv("REDIS_FIXTURE_PERSIST");
    for (int i = 0; i < 2; i++) {
        dc_events *ev = NULL;
        int rc;
        while ((rc = dc_watch_next(w[i], 20000, &ev)) == DC_OK) { /* the other handle's put */
            ck_assert_str_eq(ev->events[0].kv.key, "multi");
            dc_events_free(ev);
        }
        ck_assert_msg(rc == DC_ERESET, "%s watch: %s (%s)", modes[i], dc_errname(rc),
                      dc_last_error());
        ck_assert_ptr_nonnull(strstr(dc_last_error(), "epoch"));
        dc_kvs *kvs;
        int64_t id;
        ck_assert_int_eq(dc_get(s[i], modes[i], strlen(modes[i]), 0, 0, &kvs), DC_ERESET);
        ck_assert_int_eq(dc_put(s[i], "x", 1, "v", 1, 0, NULL), DC_ERESET);
        ck_assert_int_eq(dc_lease_grant(s[i], 10, &id, NULL), DC_ERESET);
        dc_watch_close(w[i]);
        dc_store_close(s[i]);
    }
    ck_assert_msg(log_error == 2, "%d ERROR lines:\n%s", log_error, log_text);
    /* nothing was written to the new, empty server by the old handles */
    redisReply *r = raw("DBSIZE");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);

    /* a new handle: this server can lose acknowledged writes */
    char uri[512];
    snprintf(uri, sizeof uri, "%s?mode=lua", base_uri);
    dc_store *n = NULL;
    int rc = dc_store_open(uri, &n);
    ck_assert_msg(rc == DC_EUNSUPPORTED, "open: %s", dc_errname(rc));
    ck_assert_msg(strstr(dc_last_error(), "appendonly is no") &&
                      strstr(dc_last_error(), "allow_unsafe_durability=1"),
                  "detail: %s", dc_last_error());
    capture_start();
    n = open_store("?mode=lua&allow_unsafe_durability=1");
    ck_assert_msg(log_warn == 1 && strstr(log_text, "appendonly is no"), "log:\n%s", log_text);
    OK(dc_put(n, "fresh", 5, "v", 1, 0, NULL));
    dc_store_close(n);
    capture_stop();
}
END_TEST

/* A store opened, FLUSHALL, and a new handle that has already written past
 * the old one's revisions: the old handle's writes, prepared before, do not
 * apply (the epoch is checked in the same atomic unit), in both modes. Nor
 * do writes on a server whose revision is behind what the handle saw. */
static void flushed_store(const char *mode)
{
    char q[64];
    snprintf(q, sizeof q, "?mode=%s", mode);
    dc_store *old = open_store(q);
    int64_t r;
    OK(dc_put(old, "leader", 6, "me", 2, 0, &r));
    raw_ok("FLUSHALL");
    dc_store *fresh = open_store(q);
    int64_t r2 = 0;
    for (int i = 0; r2 < r + 5; i++) OK(dc_put(fresh, "leader", 6, "you", 3, 0, &r2));
    dc_txn *t = dc_txn_new();
    dc_txn_compare_value(t, "leader", 6, DC_CMP_EQUAL, "you", 3);
    dc_txn_delete(t, DC_THEN, "leader", 6, 0);
    dc_txn_result *res = NULL;
    ck_assert_int_eq(dc_txn_commit(old, t, &res), DC_ERESET);
    ck_assert_int_eq(dc_compact(old, 1), DC_ERESET);
    dc_txn_free(t);
    dc_kvs *kvs;
    OK(dc_get(fresh, "leader", 6, 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    ck_assert_int_eq(kvs->revision, r2);
    dc_kvs_free(kvs);
    dc_store_close(old);
    dc_store_close(fresh);

    /* a server behind what the handle saw (a replica that lagged: same epoch,
     * older revisions): its writes are refused, not noticed after applying */
    snprintf(q, sizeof q, "?mode=%s&prefix=lag%s", mode, mode);
    dc_store *lag = open_store(q);
    OK(dc_put(lag, "k", 1, "1", 1, 0, NULL));
    OK(dc_put(lag, "k", 1, "2", 1, 0, &r));
    raw_ok("SET {lag%s}rev %lld", mode, (long long)r - 1);
    ck_assert_int_eq(dc_put(lag, "k", 1, "3", 1, 0, NULL), DC_ERESET);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "below revision"));
    redisReply *v = raw("HGET {lag%s}kv:k v", mode);
    ck_assert_str_eq(v->str, "2");
    freeReplyObject(v);
    v = raw("GET {lag%s}rev", mode);
    ck_assert_int_eq(atoll(v->str), r - 1);
    freeReplyObject(v);
    dc_store_close(lag);
}

START_TEST(writes_prepared_before_a_flushall_do_not_apply_lua)
{
    flushed_store("lua");
}
END_TEST

START_TEST(writes_prepared_before_a_flushall_do_not_apply_multi)
{
    flushed_store("multi");
}
END_TEST

/* ------------------------------------------------------------ durability */

static void expect_refused(const char *query, const char *setting)
{
    char uri[512];
    snprintf(uri, sizeof uri, "%s%s", base_uri, query);
    dc_store *s = NULL;
    capture_start();
    int rc = dc_store_open(uri, &s);
    capture_stop();
    ck_assert_msg(rc == DC_EUNSUPPORTED, "%s: %s (%s)", setting, dc_errname(rc), dc_last_error());
    ck_assert_msg(strstr(dc_last_error(), setting) &&
                      strstr(dc_last_error(), "allow_unsafe_durability=1"),
                  "detail: %s", dc_last_error());
    ck_assert_msg(log_warn == 0 && log_error == 1, "log:\n%s", log_text);
    /* allowed: it opens, with one WARN line naming the setting */
    snprintf(uri, sizeof uri, "%s%s%sallow_unsafe_durability=1", base_uri, query,
             strchr(query, '?') ? "&" : "?");
    capture_start();
    rc = dc_store_open(uri, &s);
    capture_stop();
    ck_assert_msg(rc == DC_OK, "%s allowed: %s (%s)", setting, dc_errname(rc), dc_last_error());
    ck_assert_msg(log_warn == 1 && strstr(log_text, setting), "log:\n%s", log_text);
    OK(dc_put(s, "k", 1, "v", 1, 0, NULL));
    dc_store_close(s);
}

START_TEST(durability_settings_are_checked_at_open)
{
    /* the fixture's settings: opens without a word */
    capture_start();
    dc_store *s = open_store("");
    capture_stop();
    ck_assert_msg(log_warn == 0, "log:\n%s", log_text);
    dc_store_close(s);

    raw_ok("CONFIG SET appendfsync everysec");
    expect_refused("", "appendfsync is everysec");
    raw_ok("CONFIG SET appendfsync no");
    expect_refused("?mode=multi", "appendfsync is no");
    raw_ok("CONFIG SET appendfsync always");
    raw_ok("CONFIG SET no-appendfsync-on-rewrite yes");
    expect_refused("", "no-appendfsync-on-rewrite is yes");
    raw_ok("CONFIG SET no-appendfsync-on-rewrite no");
    raw_ok("CONFIG SET appendonly no");
    expect_refused("", "appendonly is no");
    raw_ok("CONFIG SET appendonly yes");

    /* CONFIG denied: INFO shows the AOF, not its fsync policy */
    raw_ok("ACL SETUSER noconfig on >pw ~* &* +@all -config");
    char q[64];
    snprintf(q, sizeof q, "?username=noconfig&password=pw");
    expect_refused(q, "appendfsync could not be read");
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "NOPERM") ? "" : NULL);
}
END_TEST

START_TEST(integer_options_out_of_range_are_typed_errors)
{
    const char *bad[] = {"?request_timeout_ms=4294967396", "?connect_timeout_ms=0",
                         "?redis.max_txn_ops=-5", "?allow_unsafe_durability=2",
                         "?max_value_bytes=lots"};
    const char *keys[] = {"request_timeout_ms", "connect_timeout_ms", "max_txn_ops",
                          "allow_unsafe_durability", "max_value_bytes"};
    for (int i = 0; i < 5; i++) {
        char uri[512];
        snprintf(uri, sizeof uri, "%s%s", base_uri, bad[i]);
        dc_store *s = NULL;
        int rc = dc_store_open(uri, &s);
        ck_assert_msg(rc == DC_EINVAL, "%s: %s", bad[i], dc_errname(rc));
        ck_assert_msg(strstr(dc_last_error(), keys[i]), "%s: %s", bad[i], dc_last_error());
    }
    /* an option no part of the store reads: named, not ignored */
    char uri[512];
    snprintf(uri, sizeof uri, "%s?mdoe=multi", base_uri);
    dc_store *t = NULL;
    ck_assert_int_eq(dc_store_open(uri, &t), DC_EINVAL);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "unknown parameter 'mdoe'"));
    snprintf(uri, sizeof uri, "%s?redis.mdoe=multi", base_uri);
    ck_assert_int_eq(dc_store_open(uri, &t), DC_EINVAL);
    snprintf(uri, sizeof uri, "%s?redis.mode=multi&prefix=known&zk.root=/elsewhere", base_uri);
    OK(dc_store_open(uri, &t));
    dc_store_close(t);

    /* the [redis] section's name is checked too, and wins */
    dc_config *cfg = dc_config_new();
    dc_config_set(cfg, "uri", base_uri);
    dc_config_set(cfg, "redis.request_timeout_ms", "9999999999");
    dc_store *s = NULL;
    ck_assert_int_eq(dc_store_open_config(cfg, &s), DC_EINVAL);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "redis.request_timeout_ms"));
    dc_config_set(cfg, "redis.request_timeout_ms", "2500");
    OK(dc_store_open_config(cfg, &s));
    dc_store_close(s);
    dc_config_free(cfg);
}
END_TEST

/* ------------------------------------------------------------ secrets */

#define SECRET "Pw0rdS3cret"

static void no_secret(const char *uri, int want)
{
    dc_store *s = NULL;
    capture_start();
    int rc = dc_store_open(uri, &s);
    capture_stop();
    ck_assert_msg(rc == want, "%s: %s, want %s (%s)", uri, dc_errname(rc), dc_errname(want),
                  dc_last_error());
    ck_assert_msg(!strstr(dc_last_error(), SECRET), "the detail shows the password: %s",
                  dc_last_error());
    ck_assert_msg(!strstr(log_text, SECRET), "the log shows the password:\n%s", log_text);
    if (s) dc_store_close(s);
}

START_TEST(passwords_never_reach_logs_or_messages)
{
    raw_ok("ACL SETUSER alice on >" SECRET " ~* &* +@all");
    char uri[512];
    snprintf(uri, sizeof uri, "redis://alice:%sX@127.0.0.1:%d", SECRET, port);
    no_secret(uri, DC_EAUTH);
    no_secret("redis://alice:" SECRET "@127.0.0.1:1", DC_EUNAVAILABLE);
    no_secret("redis://alice:" SECRET "@127.0.0.1:notaport", DC_EINVAL);
    no_secret("redis://alice:" SECRET, DC_EINVAL);
    no_secret("redis://alice:" SECRET "@h1:1,h2:2", DC_EINVAL);
    no_secret("redis://alice:" SECRET "@127.0.0.1:1?mode=bogus", DC_EINVAL);
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d?password=%sX&username=alice", port, SECRET);
    no_secret(uri, DC_EAUTH);
    /* the right one opens, and later failures say nothing of it either */
    snprintf(uri, sizeof uri, "redis://alice:%s@127.0.0.1:%d", SECRET, port);
    dc_store *s;
    OK(dc_store_open(uri, &s));
    ck_assert_int_eq(dc_lease_keepalive(s, 12345, NULL), DC_ENOTFOUND);
    char buf[512];
    ck_assert_ptr_null(strstr(dc_store_errmsg(s, buf, sizeof buf), SECRET));
    dc_store_close(s);
}
END_TEST

/* ------------------------------------------------------------ corrupt data */

static void corrupt_data(const char *mode)
{
    char q[64];
    snprintf(q, sizeof q, "?mode=%s&prefix=bad%s", mode, mode);
    dc_store *s = open_store(q);
    OK(dc_put(s, "ok", 2, "fine", 4, 0, NULL));
    raw_ok("HSET {bad%s}kv:bad v x c notanumber m 1 ver 1 lease 0", mode);
    raw_ok("ZADD {bad%s}idx 0 bad", mode);
    int64_t r0, r1;
    OK(dc_revision(s, &r0));
    dc_kvs *kvs = NULL;
    ck_assert_int_eq(dc_get(s, "bad", 3, 0, 0, &kvs), DC_ECORRUPT);
    ck_assert_int_eq(dc_get(s, "", 0, DC_PREFIX, 0, &kvs), DC_ECORRUPT);
    /* a write on the bad key is refused before it changes anything */
    ck_assert_int_eq(dc_put(s, "bad", 3, "y", 1, 0, NULL), DC_ECORRUPT);
    OK(dc_revision(s, &r1));
    ck_assert_int_eq(r1, r0);
    /* an event log ahead of the revision key: writes refuse, the revision stays */
    raw_ok("XADD {bad%s}log %lld-0 t P k zz n 1", mode, (long long)r0 + 1);
    ck_assert_int_eq(dc_put(s, "other", 5, "z", 1, 0, NULL), DC_ECORRUPT);
    OK(dc_revision(s, &r1));
    ck_assert_int_eq(r1, r0);
    /* the rest of the store still reads */
    OK(dc_get(s, "ok", 2, 0, 0, &kvs));
    ck_assert_str_eq(kvs->kvs[0].value, "fine");
    dc_kvs_free(kvs);
    dc_store_close(s);
}

START_TEST(corrupt_data_is_ecorrupt_and_changes_nothing_lua)
{
    corrupt_data("lua");
}
END_TEST

START_TEST(corrupt_data_is_ecorrupt_and_changes_nothing_multi)
{
    corrupt_data("multi");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("redis");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"kill_restart_lua", watch_survives_kill9_and_restart_lua},
        {"kill_restart_multi", watch_survives_kill9_and_restart_multi},
        {"compaction_live", compaction_under_a_live_watch_loses_nothing},
        {"compaction_unread", compaction_past_an_unread_revision_ends_the_watch_with_compacted},
        {"auth", auth_with_acl_user_right_and_wrong_password},
        {"scripting_denied", scripting_denied_by_acl_multi_works_lua_says_why},
        {"big_revisions_lua", revisions_past_10e14_stay_exact_lua},
        {"big_revisions_multi", revisions_past_10e14_stay_exact_multi},
        {"shared_layout", lua_and_multi_modes_share_one_layout},
        {"database", database_number_in_the_uri_path_selects_the_database},
        {"lost_reply_lua", lost_reply_resends_apply_once_lua},
        {"lost_reply_multi", lost_reply_resends_apply_once_multi},
        {"corrupt_lua", corrupt_data_is_ecorrupt_and_changes_nothing_lua},
        {"corrupt_multi", corrupt_data_is_ecorrupt_and_changes_nothing_multi},
        {"restart_no_aof", restart_without_persistence_is_a_reset},
        {"flushall_lua", writes_prepared_before_a_flushall_do_not_apply_lua},
        {"flushall_multi", writes_prepared_before_a_flushall_do_not_apply_multi},
        {"durability", durability_settings_are_checked_at_open},
        {"int_options", integer_options_out_of_range_are_typed_errors},
        {"secrets", passwords_never_reach_logs_or_messages},
        {"default_user", password_without_a_user_is_the_default_users},
        {"readonly_lua", readonly_replica_is_retried_lua},
        {"readonly_multi", readonly_replica_is_retried_multi},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_add_unchecked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
