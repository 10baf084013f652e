/*
 * Revisions, key metadata and reads: revisions strictly increase and a txn's
 * writes share one; deleting nothing does not move the revision;
 * create_revision / mod_revision / version follow etcd; gets come sorted by
 * key bytes, honour prefix, keys-only, count-only and limit, and report a
 * header revision that covers what they return. Also: two handles on one URI
 * see each other's writes (mem://name sharing included), and a 512 KiB value
 * round-trips through put, get and watch.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>

CONF_TEST(revisions_strictly_increase_across_writes)
{
    int64_t r[6];
    r[0] = conf_put(K("a"), "1");
    r[1] = conf_put(K("b"), "1");
    r[2] = conf_put(K("a"), "2");
    r[3] = conf_delete(K("b"), 0, NULL);
    dc_txn *t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, K("c"), strlen(K("c")), "1", 1, 0, 0));
    dc_txn_result *res = conf_commit(t);
    r[4] = res->revision;
    dc_txn_result_free(res);
    r[5] = conf_delete(K(""), DC_PREFIX, NULL);
    for (int i = 1; i < 6; i++)
        ck_assert_msg(r[i] > r[i - 1], "write %d at revision %lld, after %lld", i, (long long)r[i],
                      (long long)r[i - 1]);
    ck_assert_int_ge(conf_revision(), r[5]);
}
END_TEST

CONF_TEST(all_writes_of_one_txn_share_one_revision)
{
    int64_t before = conf_put(K("gone"), "x");
    dc_txn *t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, K("a"), strlen(K("a")), "1", 1, 0, 0));
    OK(dc_txn_put(t, DC_THEN, K("b"), strlen(K("b")), "2", 1, 0, 0));
    OK(dc_txn_delete(t, DC_THEN, K("gone"), strlen(K("gone")), 0));
    OK(dc_txn_put(t, DC_THEN, K("c"), strlen(K("c")), "3", 1, 0, 0));
    dc_txn_result *res = conf_commit(t);
    ck_assert_int_eq(res->succeeded, 1);
    ck_assert_int_gt(res->revision, before);
    dc_kvs *kvs = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(kvs->n, 3);
    for (size_t i = 0; i < kvs->n; i++) {
        ck_assert_int_eq(kvs->kvs[i].mod_revision, res->revision);
        ck_assert_int_eq(kvs->kvs[i].create_revision, res->revision);
    }
    ck_assert_int_ge(kvs->revision, res->revision);
    dc_kvs_free(kvs);
    dc_txn_result_free(res);
}
END_TEST

/* The store is shared with nothing while this suite runs (ctest serialises
 * suites per server), but a lease left by an earlier run could still expire
 * in between; three tries make that harmless without weakening the rule. */
CONF_TEST(delete_of_nothing_returns_current_revision_and_does_not_move_it)
{
    conf_put(K("present"), "x");
    int held = 0;
    for (int attempt = 0; attempt < 3 && !held; attempt++) {
        int64_t before = conf_revision();
        int64_t d1 = -1, d2 = -1;
        int64_t r1 = conf_delete(K("missing"), 0, &d1);
        int64_t r2 = conf_delete(K("nothing/"), DC_PREFIX, &d2);
        int64_t after = conf_revision();
        ck_assert_int_eq(d1, 0);
        ck_assert_int_eq(d2, 0);
        ck_assert_int_ge(r1, before);
        ck_assert_int_le(r2, after);
        held = r1 == before && r2 == before && after == before;
    }
    ck_assert_msg(held, "deleting nothing moved the revision (or did not return it)");
    ck_assert_int_eq(conf_exists(K("present"), NULL), 1);
}
END_TEST

CONF_TEST(version_counts_puts_and_resets_after_delete)
{
    dc_kv kv;
    int64_t r1 = conf_put(K("k"), "a");
    ck_assert_int_eq(conf_exists(K("k"), &kv), 1);
    ck_assert_int_eq(kv.version, 1);
    ck_assert_int_eq(kv.create_revision, r1);
    ck_assert_int_eq(kv.mod_revision, r1);
    ck_assert_int_eq(kv.lease, 0);

    int64_t r2 = conf_put(K("k"), "b");
    int64_t r3 = conf_put(K("k"), "c");
    ck_assert_int_eq(conf_exists(K("k"), &kv), 1);
    ck_assert_int_eq(kv.version, 3);
    ck_assert_int_eq(kv.create_revision, r1);
    ck_assert_int_eq(kv.mod_revision, r3);
    ck_assert_int_gt(r3, r2);

    int64_t rd = conf_delete(K("k"), 0, NULL);
    ck_assert_int_eq(conf_exists(K("k"), NULL), 0);
    int64_t r4 = conf_put(K("k"), "d");
    ck_assert_int_gt(r4, rd);
    ck_assert_int_eq(conf_exists(K("k"), &kv), 1);
    ck_assert_int_eq(kv.version, 1);
    ck_assert_int_eq(kv.create_revision, r4);
    ck_assert_int_ne(kv.create_revision, r1);
    ck_assert_int_eq(kv.mod_revision, r4);
}
END_TEST

static int key_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c) return c;
    return al < bl ? -1 : al > bl;
}

CONF_TEST(get_returns_keys_sorted_by_key_bytes)
{
    /* suffixes with NUL, 0xff, '/', upper case and prefixes of each other */
    static const struct {
        const char *s;
        size_t n;
    } sfx[] = {{"b", 1},     {"\xff", 1},  {"a/b", 3},   {"", 0},   {"a", 1},
               {"A", 1},     {"/", 1},     {"a\x00", 2}, {"ab", 2}, {"\x00", 1},
               {"\x00z", 2}, {"a\xff", 2}, {"0", 1},     {"a/", 2}, {"\x7f", 1}};
    size_t n = sizeof sfx / sizeof sfx[0];
    char key[300];
    for (size_t i = 0; i < n; i++) {
        memcpy(key, conf_prefix, conf_prefix_len);
        memcpy(key + conf_prefix_len, sfx[i].s, sfx[i].n);
        char val[8];
        int vl = snprintf(val, sizeof val, "%zu", i);
        OK(dc_put(conf_store, key, conf_prefix_len + sfx[i].n, val, (size_t)vl, 0, NULL));
    }
    dc_kvs *r = conf_get(conf_prefix, DC_PREFIX, 0);
    ck_assert_uint_eq(r->n, n);
    ck_assert_int_eq(r->count, (int64_t)n);
    ck_assert_int_eq(r->more, 0);
    for (size_t i = 1; i < r->n; i++)
        ck_assert_msg(
            key_cmp(r->kvs[i - 1].key, r->kvs[i - 1].key_len, r->kvs[i].key, r->kvs[i].key_len) < 0,
            "kv %zu and %zu out of order", i - 1, i);
    /* every key came back with its own value */
    for (size_t i = 0; i < r->n; i++) {
        const dc_kv *kv = &r->kvs[i];
        ck_assert_uint_ge(kv->key_len, conf_prefix_len);
        size_t j;
        for (j = 0; j < n; j++)
            if (sfx[j].n == kv->key_len - conf_prefix_len &&
                memcmp(sfx[j].s, kv->key + conf_prefix_len, sfx[j].n) == 0)
                break;
        ck_assert_msg(j < n, "unexpected key at %zu", i);
        ck_assert_int_eq(atoi(kv->value), (int)j);
    }
    dc_kvs_free(r);
}
END_TEST

CONF_TEST(get_prefix_returns_only_keys_under_the_prefix)
{
    conf_put(K("dir/a"), "1");
    conf_put(K("dir/b/c"), "2");
    conf_put(K("dir0"), "3");
    conf_put(K("di"), "4");
    conf_put(K("dir"), "5");
    dc_kvs *r = conf_get(K("dir/"), DC_PREFIX, 0);
    ck_assert_uint_eq(r->n, 2);
    ck_assert_int_eq(r->count, 2);
    EXPECT_KV(&r->kvs[0], K("dir/a"), "1");
    EXPECT_KV(&r->kvs[1], K("dir/b/c"), "2");
    dc_kvs_free(r);

    r = conf_get(K("dir"), DC_PREFIX, 0);
    ck_assert_uint_eq(r->n, 4);
    EXPECT_KV(&r->kvs[0], K("dir"), "5");
    dc_kvs_free(r);

    /* without DC_PREFIX only the exact key */
    r = conf_get(K("dir"), 0, 0);
    ck_assert_uint_eq(r->n, 1);
    ck_assert_int_eq(r->count, 1);
    EXPECT_KV(&r->kvs[0], K("dir"), "5");
    dc_kvs_free(r);

    /* a missing key is an empty result, not an error */
    r = conf_get(K("dir/missing"), 0, 0);
    ck_assert_uint_eq(r->n, 0);
    ck_assert_int_eq(r->count, 0);
    ck_assert_int_eq(r->more, 0);
    dc_kvs_free(r);
    r = conf_get(K("nothing/"), DC_PREFIX, 0);
    ck_assert_uint_eq(r->n, 0);
    ck_assert_int_eq(r->count, 0);
    dc_kvs_free(r);
}
END_TEST

CONF_TEST(get_keys_only_returns_metadata_without_values)
{
    int64_t r1 = conf_put(K("a"), "value-a");
    int64_t r2 = conf_put(K("b"), "value-b");
    conf_put(K("b"), "value-b2");
    dc_kvs *r = conf_get(K(""), DC_PREFIX | DC_KEYS_ONLY, 0);
    ck_assert_uint_eq(r->n, 2);
    EXPECT_KV(&r->kvs[0], K("a"), "");
    EXPECT_KV(&r->kvs[1], K("b"), "");
    ck_assert_int_eq(r->kvs[0].version, 1);
    ck_assert_int_eq(r->kvs[0].create_revision, r1);
    ck_assert_int_eq(r->kvs[1].version, 2);
    ck_assert_int_eq(r->kvs[1].create_revision, r2);
    ck_assert_int_gt(r->kvs[1].mod_revision, r2);
    dc_kvs_free(r);
}
END_TEST

CONF_TEST(get_count_only_returns_the_count_without_kvs)
{
    for (int i = 0; i < 5; i++) {
        char s[8];
        snprintf(s, sizeof s, "k%d", i);
        conf_put(K(s), "v");
    }
    dc_kvs *r = conf_get(K(""), DC_PREFIX | DC_COUNT_ONLY, 0);
    ck_assert_int_eq(r->count, 5);
    ck_assert_uint_eq(r->n, 0);
    dc_kvs_free(r);
    r = conf_get(K("k3"), DC_COUNT_ONLY, 0);
    ck_assert_int_eq(r->count, 1);
    ck_assert_uint_eq(r->n, 0);
    dc_kvs_free(r);
}
END_TEST

CONF_TEST(get_limit_cuts_the_result_and_sets_more_and_count)
{
    for (int i = 4; i >= 0; i--) {
        char s[8], v[8];
        snprintf(s, sizeof s, "k%d", i);
        snprintf(v, sizeof v, "%d", i);
        conf_put(K(s), v);
    }
    dc_kvs *r = conf_get(K(""), DC_PREFIX, 2);
    ck_assert_uint_eq(r->n, 2);
    ck_assert_int_eq(r->count, 5);
    ck_assert_int_eq(r->more, 1);
    EXPECT_KV(&r->kvs[0], K("k0"), "0");
    EXPECT_KV(&r->kvs[1], K("k1"), "1");
    dc_kvs_free(r);

    r = conf_get(K(""), DC_PREFIX, 5);
    ck_assert_uint_eq(r->n, 5);
    ck_assert_int_eq(r->count, 5);
    ck_assert_int_eq(r->more, 0);
    dc_kvs_free(r);

    r = conf_get(K(""), DC_PREFIX, 100);
    ck_assert_uint_eq(r->n, 5);
    ck_assert_int_eq(r->more, 0);
    EXPECT_KV(&r->kvs[4], K("k4"), "4");
    dc_kvs_free(r);

    r = conf_get(K(""), DC_PREFIX | DC_KEYS_ONLY, 3);
    ck_assert_uint_eq(r->n, 3);
    ck_assert_int_eq(r->count, 5);
    ck_assert_int_eq(r->more, 1);
    EXPECT_KV(&r->kvs[2], K("k2"), "");
    dc_kvs_free(r);
}
END_TEST

CONF_TEST(get_header_revision_covers_every_returned_kv)
{
    int64_t last = 0;
    for (int i = 0; i < 4; i++) last = conf_put(K(i % 2 ? "odd" : "even"), i % 2 ? "1" : "0");
    dc_kvs *r = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(r->n, 2);
    ck_assert_int_ge(r->revision, last);
    for (size_t i = 0; i < r->n; i++) ck_assert_int_ge(r->revision, r->kvs[i].mod_revision);
    dc_kvs_free(r);
    r = conf_get(K("missing"), 0, 0);
    ck_assert_int_ge(r->revision, last);
    dc_kvs_free(r);
}
END_TEST

CONF_TEST(two_handles_on_one_uri_see_each_others_writes)
{
    dc_store *other = NULL;
    OK(dc_store_open(conf_uri, &other));
    ck_assert_str_eq(dc_store_backend(other), dc_store_backend(conf_store));
    int64_t rev = conf_put(K("shared"), "through-first");
    dc_kvs *r = NULL;
    OK(dc_get(other, K("shared"), strlen(K("shared")), 0, 0, &r));
    ck_assert_uint_eq(r->n, 1);
    EXPECT_KV(&r->kvs[0], K("shared"), "through-first");
    ck_assert_int_eq(r->kvs[0].mod_revision, rev);
    dc_kvs_free(r);
    /* a watch through one handle sees writes through the other */
    dc_watch *w = NULL;
    OK(dc_watch_open(other, K("back"), strlen(K("back")), 0, 0, &w));
    int64_t back = 0;
    OK(dc_put(conf_store, K("back"), strlen(K("back")), "through-first", 13, 0, &back));
    conf_events log = {0};
    conf_collect_exactly(w, &log, 1);
    conf_expect_event(log.ev[0], DC_EVENT_PUT, K("back"), "through-first", back);
    conf_events_free(&log);
    dc_watch_close(w);
    OK(dc_put(other, K("back"), strlen(K("back")), "through-second", 14, 0, NULL));
    dc_kv kv;
    ck_assert_int_eq(conf_exists(K("back"), &kv), 1);
    ck_assert_int_eq(kv.version, 2);
    dc_store_close(other);

    if (strcmp(dc_store_backend(conf_store), "mem") == 0) {
        /* mem:// without a name is private to its handle */
        dc_store *priv = NULL;
        OK(dc_store_open("mem://", &priv));
        OK(dc_get(priv, K("shared"), strlen(K("shared")), 0, 0, &r));
        ck_assert_uint_eq(r->n, 0);
        dc_kvs_free(r);
        dc_store_close(priv);
    } else {
        ck_assert_str_ne(dc_store_backend(conf_store), "");
    }
}
END_TEST

/* Far below every backend's limit (ZooKeeper's default is 1 MiB per node),
 * far above what fits in one network packet or buffer. */
CONF_TEST(large_value_of_512_kib_round_trips)
{
    size_t n = 512u << 10;
    char *v = conf_malloc(n);
    for (size_t i = 0; i < n; i++) v[i] = (char)(i * 7 + i / 251);
    const char *k = K("large");
    dc_watch *w = conf_watch(k, 0, 0);
    int64_t rev = 0;
    OK(dc_put(conf_store, k, strlen(k), v, n, 0, &rev));
    dc_kvs *r = conf_get(k, 0, 0);
    ck_assert_uint_eq(r->n, 1);
    conf_expect_bytes(r->kvs[0].value, r->kvs[0].value_len, v, n, "large value");
    dc_kvs_free(r);
    conf_events log = {0};
    conf_collect_exactly(w, &log, 1);
    ck_assert_int_eq(log.ev[0]->kv.mod_revision, rev);
    conf_expect_bytes(log.ev[0]->kv.value, log.ev[0]->kv.value_len, v, n, "event value");
    conf_events_free(&log);
    dc_watch_close(w);
    free(v);
}
END_TEST

TCase *conf_kv_tcase(void)
{
    TCase *tc = tcase_create("kv");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, revisions_strictly_increase_across_writes);
    tcase_add_test(tc, all_writes_of_one_txn_share_one_revision);
    tcase_add_test(tc, delete_of_nothing_returns_current_revision_and_does_not_move_it);
    tcase_add_test(tc, version_counts_puts_and_resets_after_delete);
    tcase_add_test(tc, get_returns_keys_sorted_by_key_bytes);
    tcase_add_test(tc, get_prefix_returns_only_keys_under_the_prefix);
    tcase_add_test(tc, get_keys_only_returns_metadata_without_values);
    tcase_add_test(tc, get_count_only_returns_the_count_without_kvs);
    tcase_add_test(tc, get_limit_cuts_the_result_and_sets_more_and_count);
    tcase_add_test(tc, get_header_revision_covers_every_returned_kv);
    tcase_add_test(tc, two_handles_on_one_uri_see_each_others_writes);
    tcase_add_test(tc, large_value_of_512_kib_round_trips);
    return tc;
}
