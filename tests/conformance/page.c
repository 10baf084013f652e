/*
 * Paged reads (dc_get_page): a prefix read at one revision, a page at a
 * time. Pages of every size from 1 up, concatenated, equal one dc_get of the
 * prefix at that revision (keys, values and metadata), also while writers
 * create, change and delete keys of the prefix between pages: keys created
 * after the revision never appear, keys deleted or changed after it appear
 * as they were. A revision well below the compact point is DC_ECOMPACTED;
 * keys-only pages carry no values; bad arguments are DC_EINVAL.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>

/* One page that must succeed, checked for its own shape. */
static dc_kvs *page(const char *prefix, const dc_kv *after, int64_t rev, int64_t limit,
                    unsigned flags)
{
    dc_kvs *p = NULL;
    OK(dc_get_page(conf_store, prefix, strlen(prefix), after ? after->key : NULL,
                   after ? after->key_len : 0, rev, limit, flags, &p));
    ck_assert_ptr_nonnull(p);
    if (rev) ck_assert_int_eq(p->revision, rev);
    ck_assert_int_gt(p->revision, 0);
    ck_assert_int_le((int64_t)p->n, limit);
    ck_assert_int_eq(p->count, (int64_t)p->n);
    ck_assert_msg(p->more == 0 || p->n == (size_t)limit, "more with a short page");
    return p;
}

static void expect_same_kv(const dc_kv *got, const dc_kv *want, int keys_only)
{
    conf_expect_bytes(got->key, got->key_len, want->key, want->key_len, "page key");
    if (keys_only)
        ck_assert_uint_eq(got->value_len, 0);
    else
        conf_expect_bytes(got->value, got->value_len, want->value, want->value_len, "page value");
    ck_assert_msg(
        got->create_revision == want->create_revision && got->mod_revision == want->mod_revision &&
            got->version == want->version && got->lease == want->lease,
        "'%.*s': metadata c=%lld m=%lld v=%lld l=%lld, want c=%lld m=%lld v=%lld l=%lld",
        (int)got->key_len, got->key, (long long)got->create_revision, (long long)got->mod_revision,
        (long long)got->version, (long long)got->lease, (long long)want->create_revision,
        (long long)want->mod_revision, (long long)want->version, (long long)want->lease);
}

/* Read the whole prefix at rev in pages of limit, calling between() after
 * each page, and compare with ref (a dc_get at rev). */
static void pages_equal(const char *prefix_arg, const dc_kvs *ref, int64_t rev, int64_t limit,
                        unsigned flags, void (*between)(int page_no))
{
    char prefix[512]; /* K()'s buffers are reused by between() */
    snprintf(prefix, sizeof prefix, "%s", prefix_arg);
    size_t at = 0;
    dc_kv last = {0};
    char *last_key = NULL;
    for (int no = 0;; no++) {
        dc_kvs *p = page(prefix, no ? &last : NULL, rev, limit, flags);
        for (size_t i = 0; i < p->n; i++, at++) {
            ck_assert_msg(at < ref->n, "page %d has key '%.*s' beyond the %zu keys of the get", no,
                          (int)p->kvs[i].key_len, p->kvs[i].key, ref->n);
            expect_same_kv(&p->kvs[i], &ref->kvs[at], flags & DC_KEYS_ONLY);
        }
        int more = p->more;
        if (p->n) {
            free(last_key);
            last_key = conf_malloc(p->kvs[p->n - 1].key_len);
            memcpy(last_key, p->kvs[p->n - 1].key, p->kvs[p->n - 1].key_len);
            last.key = last_key;
            last.key_len = p->kvs[p->n - 1].key_len;
        }
        ck_assert_msg(more || at == ref->n, "pages ended after %zu of %zu keys (limit %lld)", at,
                      ref->n, (long long)limit);
        ck_assert_msg(p->n || !more, "an empty page says more");
        dc_kvs_free(p);
        if (!more) break;
        if (between) between(no);
    }
    ck_assert_uint_eq(at, ref->n);
    free(last_key);
}

static void put_bytes(const char *key, size_t key_len, const char *value)
{
    OK(dc_put(conf_store, key, key_len, value, strlen(value), 0, NULL));
}

/* Keys of many shapes under the prefix: bytes 0x00 and 0xff, a key that is a
 * prefix of another, an updated one and a deleted one. */
static void fill(int n)
{
    char v[32];
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%03d", i * 7 % n);
        snprintf(v, sizeof v, "v%d", i);
        conf_put(K(k), v);
    }
    char raw[600];
    size_t pl = conf_prefix_len;
    memcpy(raw, conf_prefix, pl);
    memcpy(raw + pl, "k\0z", 3);
    put_bytes(raw, pl + 3, "nul");
    memcpy(raw + pl, "k\xff\xff", 3);
    put_bytes(raw, pl + 3, "ff");
    conf_put(K("k"), "short");
    conf_put(K("k001"), "again");
    conf_delete(K("k002"), 0, NULL);
    conf_put(K("zz-outside"), "x"); /* under the test's prefix, not under K("k") */
}

CONF_TEST(pages_of_every_size_equal_one_get_at_that_revision)
{
    fill(17);
    dc_kvs *ref = conf_get(K("k"), DC_PREFIX, 0);
    ck_assert_uint_eq(ref->n, 19); /* 17 - 1 deleted + 3 */
    for (int64_t limit = 1; limit <= (int64_t)ref->n + 1; limit++) {
        /* the first page at "now" (0) names the revision; here it is ref's */
        dc_kvs *p = page(K("k"), NULL, 0, limit, 0);
        ck_assert_int_eq(p->revision, ref->revision);
        dc_kvs_free(p);
        pages_equal(K("k"), ref, ref->revision, limit, 0, NULL);
    }
    pages_equal(K("k"), ref, ref->revision, 4, DC_KEYS_ONLY, NULL);
    dc_kvs_free(ref);
}

static int churn_round;

/* Between pages: create keys before, inside and after the part read so far,
 * change and delete keys on both sides, recreate a deleted one. */
static void churn(int page_no)
{
    char k[32], v[32];
    int r = churn_round++;
    snprintf(v, sizeof v, "churn%d", r);
    snprintf(k, sizeof k, "k%03d-new", (page_no * 5 + 3) % 20);
    conf_put(K(k), v);
    snprintf(k, sizeof k, "k%03d", (page_no * 3 + 1) % 20);
    conf_put(K(k), v);
    snprintf(k, sizeof k, "k%03d", (page_no * 7 + 11) % 20);
    conf_delete(K(k), 0, NULL);
    conf_put(K("k010"), v); /* deleted above in some rounds: back again */
    conf_put(K("k"), v);
    conf_put(K("a-before"), v);
}

CONF_TEST(pages_stay_at_their_revision_while_writers_change_the_prefix)
{
    fill(20);
    for (int64_t limit = 1; limit <= 6; limit += 2) {
        dc_kvs *ref = conf_get(K("k"), DC_PREFIX, 0);
        churn_round = 0;
        pages_equal(K("k"), ref, ref->revision, limit, 0, churn);
        ck_assert_int_gt(churn_round, 0);
        /* and the same revision once more, after all that */
        pages_equal(K("k"), ref, ref->revision, 5, 0, NULL);
        dc_kvs_free(ref);
    }
}

CONF_TEST(keys_created_after_the_revision_are_absent_and_deleted_ones_present)
{
    conf_put(K("a"), "a1");
    conf_put(K("b"), "b1");
    conf_put(K("c"), "c1");
    conf_put(K("d"), "d1");
    conf_put(K("f"), "f1");
    dc_kvs *ref = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(ref->n, 5);
    conf_delete(K("b"), 0, NULL); /* deleted after: present, as it was */
    conf_put(K("bb"), "new");     /* created after: absent */
    conf_put(K("c"), "c2");       /* changed after: the old value */
    conf_delete(K("d"), 0, NULL); /* deleted and created again: the old one */
    conf_put(K("d"), "d2");
    conf_put(K("e"), "e"); /* created and deleted after: absent */
    conf_delete(K("e"), 0, NULL);
    conf_delete(K(""), DC_PREFIX, NULL); /* everything gone now */
    conf_put(K("a0"), "new");
    for (int64_t limit = 1; limit <= 6; limit++)
        pages_equal(K(""), ref, ref->revision, limit, 0, NULL);
    /* and now, at the current revision: only a0 */
    dc_kvs *p = page(K(""), NULL, 0, 10, 0);
    ck_assert_uint_eq(p->n, 1);
    EXPECT_KV(&p->kvs[0], K("a0"), "new");
    ck_assert_int_eq(p->more, 0);
    dc_kvs_free(p);
    dc_kvs_free(ref);
}

CONF_TEST(a_bound_outside_the_prefix)
{
    conf_put(K("m1"), "1");
    conf_put(K("m2"), "2");
    dc_kv before = {.key = (char *)"/", .key_len = 1}; /* sorts before every prefix here */
    dc_kvs *p = page(K("m"), &before, 0, 10, 0);
    ck_assert_uint_eq(p->n, 2);
    dc_kvs_free(p);
    const char *z = K("n");
    dc_kv beyond = {.key = (char *)z, .key_len = strlen(z)};
    p = page(K("m"), &beyond, 0, 10, 0);
    ck_assert_uint_eq(p->n, 0);
    ck_assert_int_eq(p->more, 0);
    dc_kvs_free(p);
    /* an empty prefix: every key of the store, in order (just look at the first pages) */
    p = page("", NULL, 0, 3, DC_KEYS_ONLY);
    ck_assert_uint_gt(p->n, 1);
    for (size_t i = 1; i < p->n; i++) {
        const dc_kv *a = &p->kvs[i - 1], *b = &p->kvs[i];
        size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
        int c = memcmp(a->key, b->key, n);
        ck_assert_msg(c < 0 || (c == 0 && a->key_len < b->key_len), "keys out of order");
    }
    dc_kvs_free(p);
}

CONF_TEST(a_compacted_revision_is_ecompacted_and_bad_requests_einval)
{
    int64_t first = conf_put(K("x"), "0");
    int64_t last = first;
    for (int i = 1; i < 30; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        last = conf_put(K(i % 2 ? "x" : "y"), v);
    }
    OK(dc_compact(conf_store, last));
    dc_kvs *p = NULL;
    EXPECT_RC(dc_get_page(conf_store, conf_prefix, conf_prefix_len, NULL, 0, first, 10, 0, &p),
              DC_ECOMPACTED);
    ck_assert_ptr_null(p);
    /* the compact revision itself is still readable */
    p = page(K(""), NULL, last, 10, 0);
    ck_assert_uint_eq(p->n, 2);
    dc_kvs_free(p);

    EXPECT_RC(dc_get_page(conf_store, "p", 1, NULL, 0, 0, 0, 0, &p), DC_EINVAL);
    EXPECT_RC(dc_get_page(conf_store, "p", 1, NULL, 0, -1, 10, 0, &p), DC_EINVAL);
    EXPECT_RC(dc_get_page(conf_store, "p", 1, NULL, 0, 0, 10, DC_PREFIX, &p), DC_EINVAL);
    EXPECT_RC(dc_get_page(conf_store, "p", 1, NULL, 0, last + 1000000, 10, 0, &p), DC_EINVAL);
    EXPECT_RC(dc_get_page(conf_store, "p", 1, NULL, 3, 0, 10, 0, &p), DC_EINVAL);
    ck_assert_ptr_null(p);
}

TCase *conf_page_tcase(void)
{
    TCase *tc = tcase_create("page");
    tcase_add_test(tc, pages_of_every_size_equal_one_get_at_that_revision);
    tcase_add_test(tc, pages_stay_at_their_revision_while_writers_change_the_prefix);
    tcase_add_test(tc, keys_created_after_the_revision_are_absent_and_deleted_ones_present);
    tcase_add_test(tc, a_bound_outside_the_prefix);
    tcase_add_test(tc, a_compacted_revision_is_ecompacted_and_bad_requests_einval);
    return tc;
}
