/*
 * ddlcoord-redis.so behind Sentinel (redis+sentinel://), on the cluster
 * fixture tests/fixtures/redis_sentinel.sh (one master, two replicas, three
 * sentinels), whose members these tests kill and restart:
 *  - follow: writes go on through a kill -9 of the master (the driver asks
 *    the sentinels again and confirms the new master with ROLE); with
 *    min_replicas_ack=1 every acknowledged write is on the new master and
 *    no reset is reported;
 *  - switch: after CLIENT KILL of the driver's connections, and after a
 *    fail-over Sentinel runs with the old master alive (SENTINEL FAILOVER),
 *    the next calls reach the new master and the driver says it moved;
 *  - loss: writes while the replicas are cut off, then the master killed:
 *    without min_replicas_ack they were acknowledged, the fail-over loses
 *    them and the handle that saw them answers DC_ERESET (its write does
 *    not apply), never a silent gap; with min_replicas_ack=1 such a write
 *    is DC_EUNKNOWN, every acknowledged write survives and the handle goes on;
 *  - options: bad URIs and options are typed errors; a dead sentinel is
 *    skipped; a sentinel password is never shown.
 * Each case leaves the group whole again (the killed node restarted and
 * back as a replica). The environment gives DC_SENTINEL_FIXTURE (the script)
 * and DC_SENTINEL_DIR (the fixture's state directory).
 */
#include <check.h>
#include <ddlcoord/ddlcoord.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char base_uri[512];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the fixture script with args; its first output line into out. */
static int fixture(char *out, size_t len, const char *fmt, ...)
{
    const char *script = getenv("DC_SENTINEL_FIXTURE"), *dir = getenv("DC_SENTINEL_DIR");
    ck_assert_msg(script && dir, "DC_SENTINEL_FIXTURE and DC_SENTINEL_DIR must be set");
    char args[256], line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(line, sizeof line, "'%s' %s", script, args);
    /* the script's arguments name the directory as DIR */
    char cmd[2300];
    char *at = strstr(line, " DIR");
    if (at)
        snprintf(cmd, sizeof cmd, "%.*s '%s'%s", (int)(at - line), line, dir, at + 4);
    else
        snprintf(cmd, sizeof cmd, "%s", line);
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "popen %s", cmd);
    char buf[256] = "";
    if (!fgets(buf, sizeof buf, p)) buf[0] = '\0';
    while (fgetc(p) != EOF) {
    }
    int rc = pclose(p);
    buf[strcspn(buf, "\n")] = '\0';
    if (out) snprintf(out, len, "%s", buf);
    return rc;
}

static int node_port(const char *node)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/port", getenv("DC_SENTINEL_DIR"), node);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    int port = 0;
    ck_assert_int_eq(fscanf(f, "%d", &port), 1);
    fclose(f);
    return port;
}

/* One raw command to a node; the reply (never an error) or NULL if the node
 * does not answer. */
static redisReply *raw(const char *node, const char *fmt, ...)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", node_port(node), tv);
    if (!c || c->err) {
        if (c) redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    ck_assert_msg(!r || r->type != REDIS_REPLY_ERROR, "raw command on %s: %s", node, r->str);
    return r;
}

static char *master(char *buf, size_t len)
{
    ck_assert_msg(fixture(buf, len, "master DIR 60") == 0 && buf[0], "the group has no master");
    return buf;
}

/* The group is whole: the master has both replicas connected. */
static int whole(const char *m)
{
    redisReply *r = raw(m, "INFO replication");
    int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "connected_slaves:2\r\n");
    if (r) freeReplyObject(r);
    return ok;
}

/* Whether the fixture's node runs (its pid file names a live process). */
static int running(const char *node)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/pid", getenv("DC_SENTINEL_DIR"), node);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int pid = 0, ok = fscanf(f, "%d", &pid) == 1;
    fclose(f);
    return ok && pid > 0 && kill(pid, 0) == 0;
}

/* Restart a killed node (and any data node a failed test left dead) and
 * wait until the group has a master with two replicas again. */
static void heal(const char *killed)
{
    if (killed)
        ck_assert_msg(fixture(NULL, 0, "restart DIR %s", killed) == 0, "restart %s", killed);
    const char *nodes[] = {"r0", "r1", "r2"};
    for (int i = 0; i < 3; i++)
        if (!running(nodes[i]))
            ck_assert_msg(fixture(NULL, 0, "restart DIR %s", nodes[i]) == 0, "restart %s",
                          nodes[i]);
    char m[16];
    int64_t end = now_ms() + 120000;
    while (!whole(master(m, sizeof m))) {
        ck_assert_msg(now_ms() < end, "the group did not heal: master %s lacks replicas", m);
        sleep_ms(200);
    }
}

/* Log lines of the driver, for what the tests look for. */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16];

static void on_log(dc_log_level level, const char *component, const char *message, void *ud)
{
    (void)level;
    (void)ud;
    pthread_mutex_lock(&log_mu);
    size_t n = strlen(log_text);
    if (n + 300 < sizeof log_text)
        snprintf(log_text + n, sizeof log_text - n, "%s: %.250s\n", component, message);
    pthread_mutex_unlock(&log_mu);
}

static int logged(const char *what)
{
    pthread_mutex_lock(&log_mu);
    int hit = strstr(log_text, what) != NULL;
    pthread_mutex_unlock(&log_mu);
    return hit;
}

static void setup(void)
{
    const char *dir = getenv("DC_SENTINEL_DIR");
    ck_assert_msg(dir != NULL, "DC_SENTINEL_DIR must be set");
    char path[1024];
    snprintf(path, sizeof path, "%s/uri", dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s is missing: the fixture did not start", path);
    ck_assert(fgets(base_uri, sizeof base_uri, f) != NULL);
    fclose(f);
    base_uri[strcspn(base_uri, "\n")] = '\0';
    log_text[0] = '\0';
    dc_log_set_handler(on_log, NULL);
    dc_log_set_level(DC_LOG_INFO);
    heal(NULL); /* a test before may have left it healing */
}

static dc_store *open_store(const char *query)
{
    char uri[700];
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

static void put(dc_store *s, const char *k, const char *v)
{
    OK(dc_put(s, k, strlen(k), v, strlen(v), 0, NULL));
}

/* 1 if key has value v, 0 if it is missing (fails on anything else). */
static int has(dc_store *s, const char *k, const char *v)
{
    dc_kvs *kvs = NULL;
    OK(dc_get(s, k, strlen(k), 0, 0, &kvs));
    int n = (int)kvs->n;
    if (n)
        ck_assert_msg(kvs->kvs[0].value_len == strlen(v) &&
                          memcmp(kvs->kvs[0].value, v, strlen(v)) == 0,
                      "%s has another value", k);
    dc_kvs_free(kvs);
    return n;
}

/* A unique prefix per run, so that runs on one fixture do not meet. */
static void prefix(char *out, size_t len, const char *what)
{
    snprintf(out, len, "%s-%d-%lld", what, (int)getpid(), (long long)now_ms());
}

/* ------------------------------------------------------------ follow */

#define N_FOLLOW 4000

typedef struct writer {
    dc_store *s;
    const char *pfx;
    atomic_int stop;
    int n, acked, unknown, reset, unavailable, other;
    char ok[N_FOLLOW]; /* 1 = write i acknowledged */
    pthread_mutex_t mu;
} writer;

static void *write_loop(void *arg)
{
    writer *w = arg;
    for (int i = 0; i < N_FOLLOW && !atomic_load(&w->stop); i++) {
        char k[96], v[32];
        snprintf(k, sizeof k, "%s/%05d", w->pfx, i);
        snprintf(v, sizeof v, "v%d", i);
        int rc = dc_put(w->s, k, strlen(k), v, strlen(v), 0, NULL);
        pthread_mutex_lock(&w->mu);
        w->n = i + 1;
        if (rc == DC_OK) {
            w->ok[i] = 1;
            w->acked++;
        } else if (rc == DC_EUNKNOWN) {
            w->unknown++;
        } else if (rc == DC_ERESET) {
            w->reset++;
        } else if (rc == DC_EUNAVAILABLE) {
            w->unavailable++;
        } else {
            w->other++;
            fprintf(stderr, "write %d: %s: %s\n", i, dc_errname(rc), dc_last_error());
        }
        pthread_mutex_unlock(&w->mu);
        if (rc == DC_ERESET) break; /* the handle is poisoned */
    }
    return NULL;
}

static int acked(writer *w)
{
    pthread_mutex_lock(&w->mu);
    int n = w->acked;
    pthread_mutex_unlock(&w->mu);
    return n;
}

START_TEST(writes_follow_a_killed_master_and_none_acknowledged_is_lost)
{
    char pfx[64], m[16], killed[16], now[16];
    prefix(pfx, sizeof pfx, "follow");
    dc_store *s = open_store("?min_replicas_ack=1");
    ck_assert(logged("master ddlcoord is at"));
    static writer w;
    memset(&w, 0, sizeof w);
    pthread_mutex_init(&w.mu, NULL);
    w.s = s;
    w.pfx = pfx;
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, write_loop, &w), 0);
    int64_t end = now_ms() + 60000;
    while (acked(&w) < 50) {
        ck_assert_msg(now_ms() < end, "no progress before the fault");
        sleep_ms(20);
    }
    master(m, sizeof m);
    ck_assert_int_eq(fixture(killed, sizeof killed, "kill-master DIR"), 0);
    ck_assert_str_eq(killed, m);
    ck_assert_int_eq(fixture(now, sizeof now, "wait-failover DIR %s 90", killed), 0);
    int before = acked(&w);
    end = now_ms() + 90000;
    while (acked(&w) < before + 50) {
        ck_assert_msg(now_ms() < end, "writes did not resume on %s", now);
        sleep_ms(20);
    }
    atomic_store(&w.stop, 1);
    pthread_join(t, NULL);
    fprintf(stderr, "follow: %d writes, %d acknowledged, %d unknown, %d unavailable, %s -> %s\n",
            w.n, w.acked, w.unknown, w.unavailable, killed, now);
    ck_assert_msg(w.reset == 0 && w.other == 0, "%d resets, %d other errors", w.reset, w.other);
    ck_assert_msg(logged("master ddlcoord moved to"), "log:\n%s", log_text);
    /* every acknowledged write is on the new master, read by a fresh handle */
    dc_store *r = open_store("");
    for (int i = 0; i < w.n; i++) {
        if (!w.ok[i]) continue;
        char k[96], v[32];
        snprintf(k, sizeof k, "%s/%05d", pfx, i);
        snprintf(v, sizeof v, "v%d", i);
        ck_assert_msg(has(r, k, v), "acknowledged write %s was lost in the fail-over", k);
    }
    int64_t deleted = 0;
    OK(dc_delete(r, pfx, strlen(pfx), DC_PREFIX, &deleted, NULL));
    dc_store_close(r);
    dc_store_close(s);
    pthread_mutex_destroy(&w.mu);
    heal(killed);
}
END_TEST

/* ------------------------------------------------------------ switch */

START_TEST(client_kill_and_a_sentinel_failover_reach_the_new_master)
{
    char pfx[64], k[96], m[16], now[16];
    prefix(pfx, sizeof pfx, "switch");
    dc_store *s = open_store("?min_replicas_ack=1");
    snprintf(k, sizeof k, "%s/a", pfx);
    put(s, k, "1");
    master(m, sizeof m);
    /* every client connection of the master dropped at once */
    redisReply *r = raw(m, "CLIENT KILL TYPE normal SKIPME yes");
    ck_assert_msg(r && r->type == REDIS_REPLY_INTEGER && r->integer >= 1,
                  "CLIENT KILL dropped nothing");
    freeReplyObject(r);
    snprintf(k, sizeof k, "%s/b", pfx);
    put(s, k, "2");
    /* Sentinel moves the master with the old one alive: it becomes a replica */
    r = raw("s0", "SENTINEL FAILOVER ddlcoord");
    ck_assert(r != NULL);
    freeReplyObject(r);
    ck_assert_int_eq(fixture(now, sizeof now, "wait-failover DIR %s 90", m), 0);
    /* Until Sentinel has demoted the old master it still takes writes, and
     * a connection to it may take this one: it finds no replica there (WAIT)
     * and is DC_EUNKNOWN, never acknowledged and then lost. */
    snprintf(k, sizeof k, "%s/c", pfx);
    int64_t end = now_ms() + 60000;
    int rc, n_unknown = 0;
    while ((rc = dc_put(s, k, strlen(k), "3", 1, 0, NULL)) != DC_OK) {
        ck_assert_msg(rc == DC_EUNKNOWN || rc == DC_EUNAVAILABLE, "put: %s: %s", dc_errname(rc),
                      dc_last_error());
        ck_assert_msg(now_ms() < end, "no write reached the new master %s", now);
        n_unknown++;
        sleep_ms(100);
    }
    fprintf(stderr, "switch: %s -> %s, %d writes unknown or unavailable meanwhile\n", m, now,
            n_unknown);
    ck_assert_msg(logged("master ddlcoord moved to"), "log:\n%s", log_text);
    snprintf(k, sizeof k, "%s/a", pfx);
    ck_assert(has(s, k, "1"));
    snprintf(k, sizeof k, "%s/b", pfx);
    ck_assert(has(s, k, "2"));
    snprintf(k, sizeof k, "%s/c", pfx);
    ck_assert(has(s, k, "3"));
    /* the write reached the new master, not the old one (now a replica) */
    r = raw(now, "EXISTS {ddlcoord}kv:%s", k);
    ck_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    OK(dc_delete(s, pfx, strlen(pfx), DC_PREFIX, NULL, NULL));
    dc_store_close(s);
    heal(NULL);
    /* Sentinel made the old master a replica of the new one */
    r = raw(m, "ROLE");
    ck_assert(r && r->type == REDIS_REPLY_ARRAY && !strcmp(r->element[0]->str, "slave"));
    freeReplyObject(r);
}
END_TEST

/* ------------------------------------------------------------ reset */

static char *key(char *buf, size_t len, const char *pfx, const char *what, int i)
{
    snprintf(buf, len, "%s/%s%d", pfx, what, i);
    return buf;
}

/* One fail-over, two handles: a (no min_replicas_ack) and b
 * (min_replicas_ack=1). Both write while the replicas are cut off, then the
 * master dies and a replica that never had those writes takes over. */
START_TEST(lost_writes_are_a_reset_without_min_replicas_ack_and_unknown_with_it)
{
    char pfx[64], k[96], m[16], cut[16], now[16];
    prefix(pfx, sizeof pfx, "loss");
    dc_store *a = open_store("");
    dc_store *b = open_store("?min_replicas_ack=1&min_replicas_timeout_ms=300");
    for (int i = 0; i < 5; i++) put(a, key(k, sizeof k, pfx, "kept-a", i), "x");
    for (int i = 0; i < 5; i++) put(b, key(k, sizeof k, pfx, "kept-b", i), "x");
    master(m, sizeof m);
    ck_assert_int_eq(fixture(cut, sizeof cut, "cut-replicas DIR"), 0);
    ck_assert_str_eq(cut, m);
    /* a: acknowledged, but on the master alone */
    for (int i = 0; i < 5; i++) put(a, key(k, sizeof k, pfx, "lost", i), "y");
    /* b: the same situation is DC_EUNKNOWN, never an acknowledgement */
    for (int i = 0; i < 3; i++) {
        key(k, sizeof k, pfx, "unsure", i);
        int rc = dc_put(b, k, strlen(k), "y", 1, 0, NULL);
        ck_assert_msg(rc == DC_EUNKNOWN, "a write no replica has: %s (%s), want DC_EUNKNOWN",
                      dc_errname(rc), dc_last_error());
    }
    ck_assert_msg(strstr(dc_last_error(), "replica") != NULL, "%s", dc_last_error());
    ck_assert_int_eq(fixture(NULL, 0, "kill DIR %s", m), 0);
    ck_assert_int_eq(fixture(now, sizeof now, "wait-failover DIR %s 90", m), 0);

    /* a saw revisions the new master never had: a read says so (it would be
     * a silent gap: the lost keys missing), and so does a write, unapplied */
    key(k, sizeof k, pfx, "lost", 0);
    dc_kvs *kvs = NULL;
    int grc = dc_get(a, k, strlen(k), 0, 0, &kvs);
    if (grc == DC_OK) dc_kvs_free(kvs);
    ck_assert_msg(grc == DC_ERESET, "a read after the loss: %s (%s), want DC_ERESET",
                  dc_errname(grc), dc_last_error());
    key(k, sizeof k, pfx, "after-a", 0);
    int rc = dc_put(a, k, strlen(k), "z", 1, 0, NULL);
    ck_assert_msg(rc == DC_ERESET, "a write after the loss: %s (%s), want DC_ERESET",
                  dc_errname(rc), dc_last_error());
    dc_store_close(a);

    /* b lost nothing it was told had committed, so it goes on */
    put(b, key(k, sizeof k, pfx, "after-b", 0), "z");
    for (int i = 0; i < 5; i++) ck_assert(has(b, key(k, sizeof k, pfx, "kept-b", i), "x"));
    ck_assert(has(b, key(k, sizeof k, pfx, "after-b", 0), "z"));
    dc_store_close(b);

    dc_store *r = open_store("");
    for (int i = 0; i < 5; i++) ck_assert(has(r, key(k, sizeof k, pfx, "kept-a", i), "x"));
    int lost = 0;
    for (int i = 0; i < 5; i++) lost += !has(r, key(k, sizeof k, pfx, "lost", i), "y");
    ck_assert_msg(lost == 5, "only %d of 5 writes were lost: the cut did not hold", lost);
    ck_assert_msg(!has(r, key(k, sizeof k, pfx, "after-a", 0), "z"),
                  "the write refused with DC_ERESET applied");
    OK(dc_delete(r, pfx, strlen(pfx), DC_PREFIX, NULL, NULL));
    dc_store_close(r);
    heal(m);
}
END_TEST

/* ------------------------------------------------------------ options */

static int try_open(const char *uri)
{
    dc_store *s = NULL;
    int rc = dc_store_open(uri, &s);
    if (s) dc_store_close(s);
    return rc;
}

START_TEST(bad_sentinel_uris_and_options_are_typed_errors)
{
    char uri[900], hosts[600];
    /* base_uri: redis+sentinel://HOSTS/ddlcoord */
    const char *h = base_uri + strlen("redis+sentinel://");
    snprintf(hosts, sizeof hosts, "%.*s", (int)(strrchr(h, '/') - h), h);

    snprintf(uri, sizeof uri, "redis+sentinel://%s/nosuchmaster", hosts);
    ck_assert_int_eq(try_open(uri), DC_EINVAL);
    ck_assert_msg(strstr(dc_last_error(), "no sentinel knows a master named nosuchmaster"), "%s",
                  dc_last_error());
    snprintf(uri, sizeof uri, "redis+sentinel://%s", hosts);
    ck_assert_int_eq(try_open(uri), DC_EINVAL);
    snprintf(uri, sizeof uri, "%s?min_replicas_ack=1&min_replicas_timeout_ms=5000", base_uri);
    ck_assert_int_eq(try_open(uri), DC_EINVAL);
    ck_assert_msg(strstr(dc_last_error(), "request_timeout_ms"), "%s", dc_last_error());
    /* a short request timeout alone is fine: the WAIT timeout follows it */
    snprintf(uri, sizeof uri, "%s?min_replicas_ack=1&request_timeout_ms=400", base_uri);
    ck_assert_int_eq(try_open(uri), DC_OK);
    snprintf(uri, sizeof uri, "%s?min_replicas_ack=-1", base_uri);
    ck_assert_int_eq(try_open(uri), DC_EINVAL);
    /* sentinel credentials belong to redis+sentinel:// only */
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d?sentinel_password=x", node_port("r0"));
    ck_assert_int_eq(try_open(uri), DC_EINVAL);
    snprintf(uri, sizeof uri, "%s?sentinel_username=ops", base_uri);
    ck_assert_int_eq(try_open(uri), DC_EINVAL);
    /* a wrong sentinel password is DC_EAUTH, and never shown */
    snprintf(uri, sizeof uri, "%s?sentinel_password=Secret4711", base_uri);
    ck_assert_int_eq(try_open(uri), DC_EAUTH);
    ck_assert_msg(!strstr(dc_last_error(), "Secret4711"), "%s", dc_last_error());
    ck_assert_msg(!strstr(log_text, "Secret4711"), "%s", log_text);
    /* a dead sentinel first in the list is skipped; no live one is unavailable */
    snprintf(uri, sizeof uri, "redis+sentinel://127.0.0.1:1,%s/ddlcoord", hosts);
    ck_assert_int_eq(try_open(uri), DC_OK);
    ck_assert_int_eq(try_open("redis+sentinel://127.0.0.1:1,127.0.0.1:2/ddlcoord"),
                     DC_EUNAVAILABLE);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("redis_sentinel");
    TCase *tc;
#define CASE(name, fn)                          \
    tc = tcase_create(name);                    \
    tcase_add_checked_fixture(tc, setup, NULL); \
    tcase_set_timeout(tc, 400);                 \
    tcase_add_test(tc, fn);                     \
    suite_add_tcase(su, tc)
    CASE("follow", writes_follow_a_killed_master_and_none_acknowledged_is_lost);
    CASE("switch", client_kill_and_a_sentinel_failover_reach_the_new_master);
    CASE("loss", lost_writes_are_a_reset_without_min_replicas_ack_and_unknown_with_it);
    CASE("options", bad_sentinel_uris_and_options_are_typed_errors);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
