/*
 * Leases: grant returns an id and a TTL at least the one asked for; keys put
 * with a lease carry its id and are deleted, with DELETE events (prev_kv
 * when asked) all at one new revision, when the lease is revoked or expires;
 * keepalive works on a live lease and is DC_ENOTFOUND on a revoked, expired
 * or unknown one; a put with an unknown lease is DC_ENOTFOUND and writes
 * nothing; a put without a lease detaches the key from its lease. TTLs are 2 s
 * (backends may raise them) and expiry is awaited through watch timeouts.
 */
#include "conformance.h"

#include <stdio.h>
#include <time.h>

/* An id no backend hands out in this test (positive, like etcd's). */
#define UNKNOWN_LEASE 0x7ffffffffffff1a5LL

static int64_t grant(int64_t ttl, int64_t *granted)
{
    int64_t id = 0, g = 0;
    OK(dc_lease_grant(conf_store, ttl, &id, &g));
    ck_assert_int_ne(id, 0);
    ck_assert_int_ge(g, ttl);
    if (granted) *granted = g;
    return id;
}

CONF_TEST(lease_grant_returns_an_id_and_at_least_the_ttl_asked)
{
    int64_t g1 = 0, g2 = 0;
    int64_t a = grant(2, &g1);
    int64_t b = grant(30, &g2);
    ck_assert_int_ne(a, b);
    ck_assert_int_ge(g1, 2);
    ck_assert_int_ge(g2, 30);
    int64_t c = 0;
    OK(dc_lease_grant(conf_store, 5, &c, NULL)); /* granted_ttl may be NULL */
    ck_assert_int_ne(c, 0);
    ck_assert_int_ne(c, a);
    ck_assert_int_ne(c, b);
    OK(dc_lease_revoke(conf_store, a));
    OK(dc_lease_revoke(conf_store, b));
    OK(dc_lease_revoke(conf_store, c));
}
END_TEST

/* Expect exactly the DELETE events of keys (values = key suffixes), all at
 * one revision in one batch, with prev_kv. Returns that revision. */
static int64_t expect_lease_deletes(dc_watch *w, const char *const *keys, size_t n, int64_t lease,
                                    int timeout_ms)
{
    conf_events log = {0};
    int rc = conf_collect(w, &log, n, timeout_ms);
    ck_assert_msg(rc == DC_OK, "waiting for %zu lease DELETE events: got %zu, then %s", n, log.n,
                  dc_errname(rc));
    ck_assert_uint_eq(log.n, n);
    ck_assert_uint_eq(log.nb, 1); /* one revision: never split */
    int64_t rev = log.ev[0]->kv.mod_revision;
    int seen[8] = {0};
    for (size_t i = 0; i < n; i++) {
        const dc_event *e = log.ev[i];
        ck_assert_int_eq(e->type, DC_EVENT_DELETE);
        ck_assert_int_eq(e->kv.mod_revision, rev);
        size_t j;
        for (j = 0; j < n; j++)
            if (strcmp(e->kv.key, K(keys[j])) == 0) break;
        ck_assert_msg(j < n, "DELETE of unexpected key '%s'", e->kv.key);
        ck_assert_int_eq(seen[j], 0);
        seen[j] = 1;
        ck_assert_ptr_nonnull(e->prev_kv);
        EXPECT_KV(e->prev_kv, K(keys[j]), keys[j]);
        ck_assert_int_eq(e->prev_kv->lease, lease);
    }
    conf_events_free(&log);
    return rev;
}

CONF_TEST(lease_revoke_deletes_its_keys_at_one_revision_with_delete_events)
{
    static const char *const keys[] = {"l/a", "l/b", "l/c/d"};
    int64_t lease = grant(30, NULL);
    int64_t last = 0;
    for (int i = 0; i < 3; i++) last = conf_put_lease(K(keys[i]), keys[i], lease);
    conf_put(K("l/free"), "no lease");
    dc_kv kv;
    ck_assert_int_eq(conf_exists(K("l/a"), &kv), 1);
    ck_assert_int_eq(kv.lease, lease);
    ck_assert_int_eq(conf_exists(K("l/free"), &kv), 1);
    ck_assert_int_eq(kv.lease, 0);

    dc_watch *w = conf_watch(K("l/"), 0, DC_PREFIX | DC_PREV_KV);
    OK(dc_lease_revoke(conf_store, lease));
    int64_t rev = expect_lease_deletes(w, keys, 3, lease, CONF_WAIT_MS);
    ck_assert_int_gt(rev, last);
    conf_expect_quiet(w);
    dc_watch_close(w);

    dc_kvs *r = conf_get(K("l/"), DC_PREFIX, 0);
    ck_assert_uint_eq(r->n, 1);
    EXPECT_KV(&r->kvs[0], K("l/free"), "no lease");
    ck_assert_int_ge(r->revision, rev);
    dc_kvs_free(r);
    EXPECT_RC(dc_lease_revoke(conf_store, lease), DC_ENOTFOUND);
}
END_TEST

CONF_TEST(lease_expiry_deletes_its_keys_at_one_revision_with_delete_events)
{
    static const char *const keys[] = {"e/a", "e/b"};
    int64_t start = conf_revision() + 1;
    int64_t granted = 0;
    int64_t lease = grant(2, &granted);
    int64_t last = 0;
    for (int i = 0; i < 2; i++) last = conf_put_lease(K(keys[i]), keys[i], lease);
    dc_watch *w = conf_watch(K("e/"), start, DC_PREFIX | DC_PREV_KV | DC_NO_PUT);
    int64_t rev =
        expect_lease_deletes(w, keys, 2, lease, (int)granted * 1000 + CONF_EXPIRY_GRACE_MS);
    ck_assert_int_gt(rev, last);
    dc_watch_close(w);
    ck_assert_int_eq(conf_exists(K("e/a"), NULL), 0);
    ck_assert_int_eq(conf_exists(K("e/b"), NULL), 0);
    EXPECT_RC(dc_lease_keepalive(conf_store, lease, NULL), DC_ENOTFOUND);
    EXPECT_RC(dc_lease_revoke(conf_store, lease), DC_ENOTFOUND);
    EXPECT_RC(dc_put(conf_store, K("e/a"), strlen(K("e/a")), "x", 1, lease, NULL), DC_ENOTFOUND);
}
END_TEST

CONF_TEST(lease_keepalive_works_on_a_live_lease_and_is_enotfound_otherwise)
{
    int64_t granted = 0;
    int64_t lease = grant(10, &granted);
    int64_t ttl = 0;
    OK(dc_lease_keepalive(conf_store, lease, &ttl));
    ck_assert_int_ge(ttl, 10);
    OK(dc_lease_keepalive(conf_store, lease, NULL));
    OK(dc_lease_revoke(conf_store, lease));
    ttl = -1;
    EXPECT_RC(dc_lease_keepalive(conf_store, lease, &ttl), DC_ENOTFOUND);
    EXPECT_RC(dc_lease_keepalive(conf_store, UNKNOWN_LEASE, NULL), DC_ENOTFOUND);
    EXPECT_RC(dc_lease_revoke(conf_store, UNKNOWN_LEASE), DC_ENOTFOUND);
}
END_TEST

/* Keepalives every 200 ms for well over one TTL: the key must outlive the
 * TTL. Only the absence of an expiry is asserted, never a duration. */
CONF_TEST(lease_keepalive_keeps_its_keys_alive_past_the_ttl)
{
    int64_t granted = 0;
    int64_t lease = grant(2, &granted);
    conf_put_lease(K("kept"), "v", lease);
    dc_watch *w = conf_watch(K("kept"), 0, 0);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        OK(dc_lease_keepalive(conf_store, lease, NULL));
        dc_events *ev = NULL;
        int rc = dc_watch_next(w, 200, &ev);
        ck_assert_msg(rc == DC_ETIMEDOUT, "the key changed while its lease was kept alive (%s)",
                      dc_errname(rc));
        dc_events_free(ev);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >
            granted * 1500 + 500)
            break;
    }
    OK(dc_lease_keepalive(conf_store, lease, NULL));
    ck_assert_int_eq(conf_exists(K("kept"), NULL), 1);
    OK(dc_lease_revoke(conf_store, lease));
    ck_assert_int_eq(conf_exists(K("kept"), NULL), 0);
    dc_watch_close(w);
}
END_TEST

CONF_TEST(put_with_an_unknown_lease_is_enotfound_and_writes_nothing)
{
    int64_t before = conf_put(K("k"), "orig");
    EXPECT_RC(dc_put(conf_store, K("k"), strlen(K("k")), "x", 1, UNKNOWN_LEASE, NULL),
              DC_ENOTFOUND);
    EXPECT_RC(dc_put(conf_store, K("new"), strlen(K("new")), "x", 1, UNKNOWN_LEASE, NULL),
              DC_ENOTFOUND);
    int64_t revoked = grant(30, NULL);
    OK(dc_lease_revoke(conf_store, revoked));
    EXPECT_RC(dc_put(conf_store, K("new"), strlen(K("new")), "x", 1, revoked, NULL), DC_ENOTFOUND);
    /* in a txn too, and the whole txn is refused */
    dc_txn *t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, K("other"), strlen(K("other")), "y", 1, 0, 0));
    OK(dc_txn_put(t, DC_THEN, K("new"), strlen(K("new")), "x", 1, UNKNOWN_LEASE, 0));
    dc_txn_result *r = NULL;
    EXPECT_RC(dc_txn_commit(conf_store, t, &r), DC_ENOTFOUND);
    ck_assert_ptr_null(r);
    dc_txn_free(t);

    dc_kvs *kvs = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(kvs->n, 1);
    EXPECT_KV(&kvs->kvs[0], K("k"), "orig");
    ck_assert_int_eq(kvs->kvs[0].mod_revision, before);
    ck_assert_int_eq(kvs->kvs[0].lease, 0);
    dc_kvs_free(kvs);
}
END_TEST

CONF_TEST(put_without_lease_detaches_the_key_from_its_lease)
{
    int64_t lease = grant(30, NULL);
    conf_put_lease(K("detached"), "1", lease);
    conf_put_lease(K("attached"), "1", lease);
    dc_kv kv;
    ck_assert_int_eq(conf_exists(K("detached"), &kv), 1);
    ck_assert_int_eq(kv.lease, lease);
    conf_put(K("detached"), "2");
    ck_assert_int_eq(conf_exists(K("detached"), &kv), 1);
    ck_assert_int_eq(kv.lease, 0);
    ck_assert_int_eq(kv.version, 2);

    /* and a txn put attaches a key to a lease */
    dc_txn *t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, K("txn"), strlen(K("txn")), "1", 1, lease, 0));
    dc_txn_result_free(conf_commit(t));
    ck_assert_int_eq(conf_exists(K("txn"), &kv), 1);
    ck_assert_int_eq(kv.lease, lease);

    /* a put with another lease moves the key; a deleted key leaves its lease */
    int64_t other = grant(30, NULL);
    conf_put_lease(K("moved"), "1", lease);
    conf_put_lease(K("moved"), "2", other);
    ck_assert_int_eq(conf_exists(K("moved"), &kv), 1);
    ck_assert_int_eq(kv.lease, other);
    conf_put_lease(K("deleted"), "1", lease);
    conf_delete(K("deleted"), 0, NULL);

    dc_watch *w = conf_watch(K(""), 0, DC_PREFIX);
    OK(dc_lease_revoke(conf_store, lease));
    conf_events log = {0};
    conf_collect_exactly(w, &log, 2); /* attached and txn, nothing else */
    for (size_t i = 0; i < 2; i++) ck_assert_int_eq(log.ev[i]->type, DC_EVENT_DELETE);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);
    ck_assert_int_eq(conf_exists(K("detached"), &kv), 1);
    ck_assert_int_eq(kv.version, 2);
    ck_assert_int_eq(conf_exists(K("moved"), &kv), 1);
    ck_assert_int_eq(kv.lease, other);
    OK(dc_lease_revoke(conf_store, other));
    ck_assert_int_eq(conf_exists(K("moved"), NULL), 0);
    ck_assert_int_eq(conf_exists(K("attached"), NULL), 0);
    ck_assert_int_eq(conf_exists(K("txn"), NULL), 0);
}
END_TEST

TCase *conf_lease_tcase(void)
{
    TCase *tc = tcase_create("lease");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, lease_grant_returns_an_id_and_at_least_the_ttl_asked);
    tcase_add_test(tc, lease_revoke_deletes_its_keys_at_one_revision_with_delete_events);
    tcase_add_test(tc, lease_expiry_deletes_its_keys_at_one_revision_with_delete_events);
    tcase_add_test(tc, lease_keepalive_works_on_a_live_lease_and_is_enotfound_otherwise);
    tcase_add_test(tc, lease_keepalive_keeps_its_keys_alive_past_the_ttl);
    tcase_add_test(tc, put_with_an_unknown_lease_is_enotfound_and_writes_nothing);
    tcase_add_test(tc, put_without_lease_detaches_the_key_from_its_lease);
    return tc;
}
