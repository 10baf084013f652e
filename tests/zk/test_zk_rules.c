/*
 * Rules specific to the ZooKeeper driver, checked on the shared test server
 * (tests/fixtures/zk.sh): exact compares across delete + recreate (ABA),
 * digest auth with right and wrong credentials, the request size limit as a
 * typed error, and compaction while a watch runs.
 */
#include <pthread.h>
#include <zookeeper/zookeeper.h>

#include "zk_test.h"

/* ------------------------------------------------------------ ABA */

typedef struct aba_arg {
    dc_store *s;
    int64_t create_rev;
    int rc;
    dc_txn_result *res;
} aba_arg;

static void *aba_txn(void *p)
{
    aba_arg *a = p;
    dc_txn *t = dc_txn_new();
    dc_txn_compare_int(t, "k", 1, DC_TARGET_CREATE, DC_CMP_EQUAL, a->create_rev);
    dc_txn_put(t, DC_THEN, "k", 1, "from-txn", 8, 0, 0);
    dc_txn_get(t, DC_ELSE, "k", 1, 0, 0);
    a->rc = dc_txn_commit(a->s, t, &a->res);
    dc_txn_free(t);
    return NULL;
}

/* The txn reads k (create_revision C1), then sleeps before its commit; in
 * that window k is deleted and recreated, back at the same ZooKeeper
 * dataVersion but with a new create_revision. A bare version check would
 * let the stale compare through; the driver must notice and re-decide. */
START_TEST(txn_compare_on_a_key_deleted_and_recreated_before_commit_is_reevaluated)
{
    const char *base = zt_base();
    dc_store *slow = zt_open(zt_uri(base, "aba", "debug_commit_delay_ms=3000"));
    dc_store *fast = zt_open(zt_uri(base, "aba", NULL));
    zt_put(fast, "k", "one");
    dc_kvs *r;
    ZK_OK(dc_get(fast, "k", 1, 0, 0, &r));
    ck_assert_uint_eq(r->n, 1);
    int64_t c1 = r->kvs[0].create_revision;
    dc_kvs_free(r);

    aba_arg a = {slow, c1, 0, NULL};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, aba_txn, &a), 0);
    usleep(1000 * 1000); /* the txn has read k and waits before its commit */
    int64_t deleted = 0;
    ZK_OK(dc_delete(fast, "k", 1, 0, &deleted, NULL));
    ck_assert_int_eq(deleted, 1);
    int64_t c2 = zt_put(fast, "k", "two");
    ck_assert_int_gt(c2, c1);
    pthread_join(th, NULL);

    ck_assert_msg(a.rc == DC_OK, "txn: %s", dc_errname(a.rc));
    ck_assert_int_eq(a.res->succeeded, 0);
    ck_assert_uint_eq(a.res->responses[0].n_kvs, 1);
    ck_assert_str_eq(a.res->responses[0].kvs[0].value, "two");
    ck_assert_int_eq(a.res->responses[0].kvs[0].create_revision, c2);
    dc_txn_result_free(a.res);
    ZK_OK(dc_get(fast, "k", 1, 0, 0, &r));
    ck_assert_str_eq(r->kvs[0].value, "two");
    ck_assert_int_eq(r->kvs[0].version, 1);
    dc_kvs_free(r);
    dc_store_close(slow);
    dc_store_close(fast);
}
END_TEST

/* ------------------------------------------------------------ auth */

static const char *with_user(const char *uri, const char *userinfo)
{
    static char b[4][1024];
    static int slot;
    char *o = b[slot++ & 3];
    snprintf(o, sizeof b[0], "zk://%s%s%s", userinfo ? userinfo : "", userinfo ? "@" : "", uri + 5);
    return o;
}

START_TEST(auth_right_credentials_work_and_wrong_ones_fail_at_open)
{
    const char *uri = zt_uri(zt_base(), "auth", NULL);
    dc_store *alice = zt_open(with_user(uri, "alice:secret"));
    zt_put(alice, "private", "v");
    dc_store_close(alice);

    dc_store *s = NULL;
    ck_assert_int_eq(dc_store_open(with_user(uri, "alice:wrong"), &s), DC_EAUTH);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(dc_last_error(), "denied") != NULL, "detail: %s", dc_last_error());
    ck_assert_int_eq(dc_store_open(with_user(uri, "bob:secret"), &s), DC_EAUTH);
    ck_assert_int_eq(dc_store_open(with_user(uri, NULL), &s), DC_EAUTH);
    ck_assert_msg(strstr(dc_last_error(), "no credentials") != NULL, "detail: %s", dc_last_error());

    /* credentials may also come from the configuration */
    dc_config *cfg = dc_config_new();
    ZK_OK(dc_config_set(cfg, "uri", uri));
    ZK_OK(dc_config_set(cfg, "zk.username", "alice"));
    ZK_OK(dc_config_set(cfg, "zk.password", "secret"));
    ZK_OK(dc_store_open_config(cfg, &s));
    dc_config_free(cfg);
    dc_kvs *r;
    ZK_OK(dc_get(s, "private", 7, 0, 0, &r));
    ck_assert_uint_eq(r->n, 1);
    ck_assert_str_eq(r->kvs[0].value, "v");
    dc_kvs_free(r);
    dc_store_close(s);
}
END_TEST

/* ------------------------------------------------------------ size limit */

/* With the driver's default (ZooKeeper's default jute.maxbuffer of 1 MiB), a
 * value that cannot travel twice in one request is refused before anything
 * is sent; the session stays up and the store keeps working. */
START_TEST(value_over_the_request_limit_is_etoobig_before_sending)
{
    dc_store *s = zt_open(zt_uri(zt_base(), "toobig", NULL));
    size_t big = 400u << 10, ok = 300u << 10;
    char *v = malloc(big);
    ck_assert_ptr_nonnull(v);
    memset(v, 'x', big);
    dc_watch *w;
    ZK_OK(dc_watch_open(s, "t/", 2, 0, DC_PREFIX, &w));
    ck_assert_int_eq(dc_put(s, "t/big", 5, v, big, 0, NULL), DC_ETOOBIG);
    ck_assert_msg(strstr(dc_last_error(), "jute.maxbuffer") != NULL, "detail: %s", dc_last_error());
    /* one value that fits, twice (the second put carries the first as prev) */
    int64_t r1 = 0, r2 = 0;
    ZK_OK(dc_put(s, "t/ok", 4, v, ok, 0, &r1));
    ZK_OK(dc_put(s, "t/ok", 4, v, ok, 0, &r2));
    /* several values that fit one by one but not together */
    dc_txn *t = dc_txn_new();
    for (int i = 0; i < 4; i++) {
        char k[8];
        snprintf(k, sizeof k, "t/m%d", i);
        dc_txn_put(t, DC_THEN, k, strlen(k), v, ok, 0, 0);
    }
    dc_txn_result *res = NULL;
    ck_assert_int_eq(dc_txn_commit(s, t, &res), DC_ETOOBIG);
    dc_txn_free(t);
    int64_t r3 = zt_put(s, "t/after", "small");
    /* the watch saw exactly the three writes that happened, nothing was lost */
    zt_log *log = calloc(1, sizeof *log);
    zt_collect(w, log, 3, 10000);
    ck_assert_uint_eq(log->n, 3);
    ck_assert_int_eq(log->ev[0]->kv.mod_revision, r1);
    ck_assert_int_eq(log->ev[1]->kv.mod_revision, r2);
    ck_assert_int_eq(log->ev[2]->kv.mod_revision, r3);
    ck_assert_uint_eq(log->ev[1]->kv.value_len, ok);
    zt_log_free(log);
    free(log);
    dc_watch_close(w);
    free(v);
    dc_store_close(s);
}
END_TEST

/* ------------------------------------------------------------ compaction */

static int count_buckets(const char *base, const char *root)
{
    char hosts[256];
    const char *h = base + 5;
    size_t n = strcspn(h, "/?");
    snprintf(hosts, sizeof hosts, "%.*s", (int)n, h);
    zhandle_t *zh = zookeeper_init(hosts, NULL, 10000, NULL, NULL, 0);
    if (!zh) return -1;
    struct String_vector v = {0, NULL};
    char path[512];
    snprintf(path, sizeof path, "%s/ev", root);
    int rc = ZCONNECTIONLOSS;
    for (int i = 0; i < 50 && (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT); i++) {
        rc = zoo_get_children(zh, path, 0, &v);
        if (rc == ZCONNECTIONLOSS) usleep(100 * 1000);
    }
    int count = rc == ZOK ? v.count : -1;
    if (rc == ZOK) deallocate_String_vector(&v);
    zookeeper_close(zh);
    return count;
}

/* A watch that keeps up is not disturbed by compaction, even when whole
 * buckets of the log it reads are deleted behind it; a watch that starts
 * below the compact revision ends with DC_ECOMPACTED and that revision; old
 * buckets are really gone. */
START_TEST(compaction_during_a_watch_keeps_live_watches_and_ends_stale_ones)
{
    const char *base = zt_base();
    const char *uri = zt_uri(base, "compact", "bucket_size=8");
    dc_store *s = zt_open(uri);
    dc_watch *w;
    ZK_OK(dc_watch_open(s, "c/", 2, 0, DC_PREFIX | DC_PREV_KV, &w));
    enum { N = 200 };
    int64_t revs[N], last_compact = 0;
    zt_log *log = calloc(1, sizeof *log);
    for (int i = 0; i < N; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "c/%d", i % 10);
        snprintf(v, sizeof v, "%d", i);
        revs[i] = zt_put(s, k, v);
        if (i % 25 == 24) {
            /* the watch has caught up (so it is live, not stale), then the
             * buckets it has just read are deleted behind it */
            zt_collect(w, log, (size_t)i + 1, 20000);
            ck_assert_uint_eq(log->n, (size_t)i + 1);
            ZK_OK(dc_compact(s, revs[i]));
            last_compact = revs[i];
        }
    }
    zt_collect(w, log, N, 20000);
    ck_assert_msg(log->n == N, "got %zu events (end %d)", log->n, log->end_code);
    for (int i = 0; i < N; i++) {
        dc_event *e = log->ev[i];
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        ck_assert_int_eq(e->kv.mod_revision, revs[i]);
        ck_assert_str_eq(e->kv.value, v);
        if (i >= 10) {
            ck_assert_ptr_nonnull(e->prev_kv);
            snprintf(v, sizeof v, "%d", i - 10);
            ck_assert_str_eq(e->prev_kv->value, v);
        } else {
            ck_assert_ptr_null(e->prev_kv);
        }
    }
    zt_log_free(log);
    dc_watch_close(w);

    /* below the compact revision: compacted, with the revision */
    dc_watch *stale;
    ZK_OK(dc_watch_open(s, "c/", 2, revs[0], DC_PREFIX, &stale));
    dc_events *e = NULL;
    ck_assert_int_eq(dc_watch_next(stale, 5000, &e), DC_ECOMPACTED);
    ck_assert_int_eq(dc_watch_compact_revision(stale), last_compact);
    dc_watch_close(stale);
    /* from the compact revision on, history is still there */
    ZK_OK(dc_watch_open(s, "c/", 2, last_compact, DC_PREFIX, &stale));
    zt_log *tail = calloc(1, sizeof *tail);
    zt_collect(stale, tail, 1, 5000);
    ck_assert_uint_ge(tail->n, 1);
    ck_assert_int_eq(tail->ev[0]->kv.mod_revision, last_compact);
    zt_log_free(tail);
    free(tail);
    dc_watch_close(stale);

    /* 200 events in buckets of 8: without compaction there would be 25+ */
    char root[128];
    snprintf(root, sizeof root, "/zktest-compact-%ld", (long)getpid());
    int nb = count_buckets(base, root);
    ck_assert_msg(nb >= 1 && nb <= 3, "%d buckets left after compaction", nb);
    free(log);
    dc_store_close(s);
}
END_TEST

/* A slow watch (one pass over the log every 1.5 s) from before the compact
 * revision falls behind it while its events are all still stored (one
 * bucket, nothing deleted): it ends with DC_ECOMPACTED all the same, as on
 * etcd, instead of serving history the store has declared gone. */
START_TEST(watch_that_falls_behind_the_compact_revision_ends_compacted)
{
    const char *base = zt_base();
    dc_store *s = zt_open(zt_uri(base, "lag", NULL));
    dc_store *slow = zt_open(zt_uri(base, "lag", "debug_watch_delay_ms=1500"));
    int64_t revs[10];
    for (int i = 0; i < 10; i++) revs[i] = zt_put(s, "l/k", "v");
    dc_watch *lag;
    ZK_OK(dc_watch_open(slow, "l/", 2, revs[0], DC_PREFIX, &lag));
    ZK_OK(dc_compact(s, revs[5]));
    dc_events *e = NULL;
    ck_assert_int_eq(dc_watch_next(lag, 10000, &e), DC_ECOMPACTED);
    ck_assert_int_eq(dc_watch_compact_revision(lag), revs[5]);
    dc_watch_close(lag);
    /* a watch from the compact revision on is fine */
    ZK_OK(dc_watch_open(slow, "l/", 2, revs[5], DC_PREFIX, &lag));
    zt_log *log = calloc(1, sizeof *log);
    zt_collect(lag, log, 5, 10000);
    ck_assert_uint_eq(log->n, 5);
    ck_assert_int_eq(log->ev[0]->kv.mod_revision, revs[5]);
    ck_assert_int_eq(log->ev[4]->kv.mod_revision, revs[9]);
    zt_log_free(log);
    free(log);
    dc_watch_close(lag);
    dc_store_close(slow);
    dc_store_close(s);
}
END_TEST

/* Damaged data on the server (a kv znode written by something else) gives
 * a typed error for that key, never a crash, and every other key keeps
 * working; a child that is not a key name at all is ignored. */
START_TEST(corrupt_kv_data_is_ecorrupt_and_other_keys_keep_working)
{
    const char *base = zt_base();
    dc_store *s = zt_open(zt_uri(base, "corrupt", NULL));
    zt_put(s, "ok", "fine");
    char hosts[256], path[512];
    snprintf(hosts, sizeof hosts, "%.*s", (int)strcspn(base + 5, "/?"), base + 5);
    zhandle_t *zh = zookeeper_init(hosts, NULL, 10000, NULL, NULL, 0);
    ck_assert_ptr_nonnull(zh);
    snprintf(path, sizeof path, "/zktest-corrupt-%ld/kv/kbad", (long)getpid());
    int rc = ZCONNECTIONLOSS;
    for (int i = 0; i < 50 && rc == ZCONNECTIONLOSS; i++) {
        rc = zoo_create(zh, path, "\x07garbage", 8, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        if (rc == ZCONNECTIONLOSS) usleep(100 * 1000);
    }
    ck_assert_int_eq(rc, ZOK);
    snprintf(path, sizeof path, "/zktest-corrupt-%ld/kv/not-a-key", (long)getpid());
    ck_assert_int_eq(zoo_create(zh, path, "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
    zookeeper_close(zh);

    dc_kvs *r = NULL;
    ck_assert_int_eq(dc_get(s, "bad", 3, 0, 0, &r), DC_ECORRUPT);
    ck_assert_msg(strstr(dc_last_error(), "corrupt") != NULL, "detail: %s", dc_last_error());
    ck_assert_int_eq(dc_put(s, "bad", 3, "x", 1, 0, NULL), DC_ECORRUPT);
    ck_assert_int_eq(dc_get(s, "", 0, DC_PREFIX, 0, &r), DC_ECORRUPT);
    /* the rest of the store is unaffected */
    ZK_OK(dc_get(s, "ok", 2, 0, 0, &r));
    ck_assert_str_eq(r->kvs[0].value, "fine");
    dc_kvs_free(r);
    ZK_OK(dc_get(s, "o", 1, DC_PREFIX, 0, &r));
    ck_assert_uint_eq(r->n, 1);
    dc_kvs_free(r);
    zt_put(s, "ok", "still");
    dc_store_close(s);
}
END_TEST

/* Leases are not sessions: a key put with a lease outlives the store (and
 * session) that granted it until the TTL runs out, and then any open store
 * deletes it through the normal write path, with a DELETE event (prev_kv
 * included) at a new revision. */
START_TEST(lease_expiry_deletes_keys_with_events_after_the_granting_store_is_gone)
{
    const char *uri = zt_uri(zt_base(), "lease", NULL);
    dc_store *other = zt_open(uri);
    dc_watch *w;
    ZK_OK(dc_watch_open(other, "lk/", 3, 0, DC_PREFIX | DC_PREV_KV, &w));
    dc_store *granter = zt_open(uri);
    int64_t lease = 0, ttl = 0, rev = 0;
    ZK_OK(dc_lease_grant(granter, 2, &lease, &ttl));
    ck_assert_int_eq(ttl, 2);
    ZK_OK(dc_put(granter, "lk/a", 4, "va", 2, lease, &rev));
    ZK_OK(dc_put(granter, "lk/b", 4, "vb", 2, lease, NULL));
    dc_store_close(granter); /* its session ends: nothing may vanish with it */
    dc_kvs *r;
    ZK_OK(dc_get(other, "lk/", 3, DC_PREFIX, 0, &r));
    ck_assert_uint_eq(r->n, 2);
    ck_assert_int_eq(r->kvs[0].lease, lease);
    dc_kvs_free(r);

    zt_log *log = calloc(1, sizeof *log);
    zt_collect(w, log, 4, 15000);
    ck_assert_uint_eq(log->n, 4);
    ck_assert_int_eq(log->ev[2]->type, DC_EVENT_DELETE);
    ck_assert_int_eq(log->ev[3]->type, DC_EVENT_DELETE);
    /* both keys go at one revision, after the puts */
    ck_assert_int_eq(log->ev[2]->kv.mod_revision, log->ev[3]->kv.mod_revision);
    ck_assert_int_gt(log->ev[2]->kv.mod_revision, rev);
    ck_assert_ptr_nonnull(log->ev[2]->prev_kv);
    ck_assert_int_eq(log->ev[2]->prev_kv->lease, lease);
    zt_log_free(log);
    free(log);
    ZK_OK(dc_get(other, "lk/", 3, DC_PREFIX, 0, &r));
    ck_assert_uint_eq(r->n, 0);
    dc_kvs_free(r);
    ck_assert_int_eq(dc_lease_keepalive(other, lease, NULL), DC_ENOTFOUND);
    dc_watch_close(w);
    dc_store_close(other);
}
END_TEST

/* A server that is not there is DC_EUNAVAILABLE at open, within the connect
 * timeout, not a hang. */
START_TEST(open_without_a_server_is_eunavailable_within_the_connect_timeout)
{
    dc_store *s = NULL;
    /* port 1 on loopback: nothing listens there */
    ck_assert_int_eq(dc_store_open("zk://127.0.0.1:1?connect_timeout_ms=500", &s), DC_EUNAVAILABLE);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(dc_last_error(), "not connected") != NULL, "detail: %s", dc_last_error());
}
END_TEST

/* A driver option that is not a decimal integer in its range fails the open
 * with DC_EINVAL naming key and value (the core's strictness, core/util/drv.h),
 * before any connection: never a silent default. */
START_TEST(bad_integer_options_are_einval_naming_the_key)
{
    const char *bad[] = {"bucket_size=12x", "zk.bucket_size=1", "sync=2", "session_timeout_ms=-5",
                         "max_request_bytes=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char u[256];
        snprintf(u, sizeof u, "zk://127.0.0.1:1?connect_timeout_ms=500&%s", bad[i]);
        dc_store *s = NULL;
        int rc = dc_store_open(u, &s);
        ck_assert_msg(rc == DC_EINVAL, "%s: %s: %s", bad[i], dc_errname(rc), dc_last_error());
        ck_assert_ptr_null(s);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)strcspn(bad[i], "="), bad[i]);
        ck_assert_msg(strstr(dc_last_error(), key) != NULL, "%s: detail: %s", bad[i],
                      dc_last_error());
    }
}
END_TEST

/* The URI's path is a chroot: the store lives below it, and a store with
 * another chroot does not see its keys. */
START_TEST(uri_path_is_a_chroot_for_the_store)
{
    const char *base = zt_base();
    char u1[512], u2[512];
    size_t hl = strcspn(base, "?");
    snprintf(u1, sizeof u1, "%.*s/zktest-chroot-%ld/a?root=/s", (int)hl, base, (long)getpid());
    snprintf(u2, sizeof u2, "%.*s/zktest-chroot-%ld/b?root=/s", (int)hl, base, (long)getpid());
    dc_store *a = zt_open(u1), *b = zt_open(u2);
    zt_put(a, "k", "in-a");
    dc_kvs *r;
    ZK_OK(dc_get(b, "k", 1, 0, 0, &r));
    ck_assert_uint_eq(r->n, 0);
    dc_kvs_free(r);
    ZK_OK(dc_get(a, "k", 1, 0, 0, &r));
    ck_assert_uint_eq(r->n, 1);
    dc_kvs_free(r);
    char hosts[256], path[256];
    snprintf(hosts, sizeof hosts, "%.*s", (int)strcspn(base + 5, "/?"), base + 5);
    zhandle_t *zh = zookeeper_init(hosts, NULL, 10000, NULL, NULL, 0);
    snprintf(path, sizeof path, "/zktest-chroot-%ld/a/s/kv/kk", (long)getpid());
    struct Stat st;
    int rc = ZCONNECTIONLOSS;
    for (int i = 0; i < 50 && rc == ZCONNECTIONLOSS; i++) {
        rc = zoo_exists(zh, path, 0, &st);
        if (rc == ZCONNECTIONLOSS) usleep(100 * 1000);
    }
    ck_assert_int_eq(rc, ZOK);
    zookeeper_close(zh);
    dc_store_close(a);
    dc_store_close(b);
}
END_TEST

/* ------------------------------------------------------------ shared follower */

enum { FW_N = 150 };

typedef struct fw_arg {
    dc_store *s;
    int64_t revs[FW_N];
    volatile int done;
} fw_arg;

static void *fw_writer(void *p)
{
    fw_arg *a = p;
    for (int i = 0; i < FW_N; i++) {
        char k[16];
        snprintf(k, sizeof k, "f/%03d", i);
        a->revs[i] = zt_put(a->s, k, "v");
        __atomic_store_n(&a->done, i + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void fw_expect(dc_watch *w, const int64_t *revs, size_t from, size_t n)
{
    zt_log *log = calloc(1, sizeof *log);
    ck_assert_ptr_nonnull(log);
    zt_collect(w, log, n - from, 20000);
    ck_assert_msg(log->n == n - from, "got %zu events, want %zu (end %s)", log->n, n - from,
                  dc_errname(log->end_code));
    for (size_t i = 0; i < log->n; i++)
        ck_assert_int_eq(log->ev[i]->kv.mod_revision, revs[from + i]);
    /* nothing more: no duplicate arrives late */
    dc_events *extra = NULL;
    ck_assert_int_eq(dc_watch_next(w, 300, &extra), DC_ETIMEDOUT);
    zt_log_free(log);
    free(log);
}

/* The watches of one connection share one log follower. Live watches joined
 * to it, a watch opened from an older revision while writes go on (it
 * catches up on its own and hands over), a watch closed mid-stream and a
 * watch on one key all see exactly their events, in order, once. */
START_TEST(watches_of_a_connection_share_the_follower_without_loss_or_duplicates)
{
    const char *uri = zt_uri(zt_base(), "fol", NULL);
    dc_store *ws = zt_open(uri);
    fw_arg *a = calloc(1, sizeof *a);
    ck_assert_ptr_nonnull(a);
    a->s = zt_open(uri);
    int64_t before = zt_put(a->s, "f/000", "old"); /* not seen by the live watches */
    enum { LIVE = 6 };
    dc_watch *live[LIVE], *one, *closed, *late;
    for (int i = 0; i < LIVE; i++) ZK_OK(dc_watch_open(ws, "f/", 2, 0, DC_PREFIX, &live[i]));
    ZK_OK(dc_watch_open(ws, "f/007", 5, 0, 0, &one));
    ZK_OK(dc_watch_open(ws, "f/", 2, 0, DC_PREFIX, &closed));
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, fw_writer, a), 0);
    while (__atomic_load_n(&a->done, __ATOMIC_ACQUIRE) < FW_N / 3) usleep(2000);
    dc_watch_close(closed);
    /* from before every write of the run: catch up, then join */
    ZK_OK(dc_watch_open(ws, "f/", 2, before, DC_PREFIX, &late));
    pthread_join(th, NULL);

    int64_t all[FW_N + 1];
    all[0] = before;
    memcpy(all + 1, a->revs, sizeof a->revs);
    fw_expect(late, all, 0, FW_N + 1);
    for (int i = 0; i < LIVE; i++) fw_expect(live[i], a->revs, 0, FW_N);
    int64_t seven[1] = {a->revs[7]};
    fw_expect(one, seven, 0, 1);

    /* all closed: the follower parks; a new watch wakes it at its own place */
    dc_watch_close(late);
    for (int i = 0; i < LIVE; i++) dc_watch_close(live[i]);
    dc_watch_close(one);
    dc_watch *again;
    ZK_OK(dc_watch_open(ws, "f/", 2, 0, DC_PREFIX, &again));
    int64_t r = zt_put(a->s, "f/again", "v");
    fw_expect(again, &r, 0, 1);
    dc_watch_close(again);
    dc_store_close(a->s);
    free(a);
    dc_store_close(ws);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("zk");
    TCase *tc = tcase_create("rules");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, txn_compare_on_a_key_deleted_and_recreated_before_commit_is_reevaluated);
    tcase_add_test(tc, auth_right_credentials_work_and_wrong_ones_fail_at_open);
    tcase_add_test(tc, value_over_the_request_limit_is_etoobig_before_sending);
    tcase_add_test(tc, compaction_during_a_watch_keeps_live_watches_and_ends_stale_ones);
    tcase_add_test(tc, watch_that_falls_behind_the_compact_revision_ends_compacted);
    tcase_add_test(tc, corrupt_kv_data_is_ecorrupt_and_other_keys_keep_working);
    tcase_add_test(tc, lease_expiry_deletes_keys_with_events_after_the_granting_store_is_gone);
    tcase_add_test(tc, open_without_a_server_is_eunavailable_within_the_connect_timeout);
    tcase_add_test(tc, bad_integer_options_are_einval_naming_the_key);
    tcase_add_test(tc, uri_path_is_a_chroot_for_the_store);
    tcase_add_test(tc, watches_of_a_connection_share_the_follower_without_loss_or_duplicates);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
