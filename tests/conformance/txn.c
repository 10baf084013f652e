/*
 * Txns: every compare kind (value ==, !=, <, >; version; create_revision;
 * mod_revision; lease), on present and on missing keys (where the numbers
 * are 0 and every value compare is false); compares are ANDed; the branch
 * that ran and each op's response (gets, prev_kv of puts and deletes,
 * deleted counts); ops see the earlier writes of their branch; a txn that
 * writes nothing does not move the revision; two writes of one key in a
 * branch are DC_EINVAL.
 */
#include "conformance.h"

#include <stdio.h>

static int value_holds(const char *key, dc_cmp op, const char *value, size_t value_len)
{
    dc_txn *t = conf_txn();
    OK(dc_txn_compare_value(t, key, strlen(key), op, value, value_len));
    dc_txn_result *r = conf_commit(t);
    int ok = r->succeeded;
    ck_assert_uint_eq(r->n_responses, 0);
    dc_txn_result_free(r);
    return ok;
}

static int int_holds(const char *key, dc_target target, dc_cmp op, int64_t number)
{
    dc_txn *t = conf_txn();
    OK(dc_txn_compare_int(t, key, strlen(key), target, op, number));
    dc_txn_result *r = conf_commit(t);
    int ok = r->succeeded;
    dc_txn_result_free(r);
    return ok;
}

#define HOLDS(expr)     ck_assert_msg((expr) == 1, "expected to hold: %s", #expr)
#define NOT_HOLDS(expr) ck_assert_msg((expr) == 0, "expected not to hold: %s", #expr)

CONF_TEST(txn_value_compares_equal_not_equal_less_greater)
{
    const char *k = K("k");
    conf_put(k, "m");
    HOLDS(value_holds(k, DC_CMP_EQUAL, "m", 1));
    NOT_HOLDS(value_holds(k, DC_CMP_EQUAL, "n", 1));
    NOT_HOLDS(value_holds(k, DC_CMP_EQUAL, "", 0));
    HOLDS(value_holds(k, DC_CMP_NOT_EQUAL, "n", 1));
    NOT_HOLDS(value_holds(k, DC_CMP_NOT_EQUAL, "m", 1));
    HOLDS(value_holds(k, DC_CMP_LESS, "n", 1));
    HOLDS(value_holds(k, DC_CMP_LESS, "mm", 2)); /* a prefix sorts first */
    NOT_HOLDS(value_holds(k, DC_CMP_LESS, "m", 1));
    NOT_HOLDS(value_holds(k, DC_CMP_LESS, "l", 1));
    HOLDS(value_holds(k, DC_CMP_GREATER, "l", 1));
    HOLDS(value_holds(k, DC_CMP_GREATER, "", 0));
    NOT_HOLDS(value_holds(k, DC_CMP_GREATER, "m", 1));
    NOT_HOLDS(value_holds(k, DC_CMP_GREATER, "z", 1));
    /* bytes compare unsigned: 0xff sorts after 'm' */
    HOLDS(value_holds(k, DC_CMP_LESS, "\xff", 1));

    /* an empty value is a value: compares work on it */
    const char *e = K("empty");
    conf_put(e, "");
    HOLDS(value_holds(e, DC_CMP_EQUAL, "", 0));
    HOLDS(value_holds(e, DC_CMP_LESS, "a", 1));
    NOT_HOLDS(value_holds(e, DC_CMP_NOT_EQUAL, "", 0));
}
END_TEST

CONF_TEST(txn_value_compare_on_missing_key_is_always_false)
{
    const char *k = K("missing");
    NOT_HOLDS(value_holds(k, DC_CMP_EQUAL, "", 0));
    NOT_HOLDS(value_holds(k, DC_CMP_EQUAL, "x", 1));
    NOT_HOLDS(value_holds(k, DC_CMP_NOT_EQUAL, "", 0));
    NOT_HOLDS(value_holds(k, DC_CMP_NOT_EQUAL, "x", 1));
    NOT_HOLDS(value_holds(k, DC_CMP_LESS, "\xff\xff", 2));
    NOT_HOLDS(value_holds(k, DC_CMP_GREATER, "", 0));
    /* also once the key existed and was deleted */
    conf_put(k, "x");
    HOLDS(value_holds(k, DC_CMP_EQUAL, "x", 1));
    conf_delete(k, 0, NULL);
    NOT_HOLDS(value_holds(k, DC_CMP_EQUAL, "x", 1));
    NOT_HOLDS(value_holds(k, DC_CMP_NOT_EQUAL, "x", 1));
}
END_TEST

CONF_TEST(txn_missing_key_has_version_create_mod_and_lease_0)
{
    const char *k = K("missing");
    static const dc_target targets[] = {DC_TARGET_VERSION, DC_TARGET_CREATE, DC_TARGET_MOD,
                                        DC_TARGET_LEASE};
    for (size_t i = 0; i < 4; i++) {
        HOLDS(int_holds(k, targets[i], DC_CMP_EQUAL, 0));
        NOT_HOLDS(int_holds(k, targets[i], DC_CMP_NOT_EQUAL, 0));
        HOLDS(int_holds(k, targets[i], DC_CMP_LESS, 1));
        NOT_HOLDS(int_holds(k, targets[i], DC_CMP_GREATER, 0));
        HOLDS(int_holds(k, targets[i], DC_CMP_NOT_EQUAL, 7));
    }
}
END_TEST

CONF_TEST(txn_compares_version_create_mod_and_lease_of_a_key)
{
    const char *k = K("k");
    int64_t r1 = conf_put(k, "a");
    int64_t r2 = conf_put(k, "b");
    HOLDS(int_holds(k, DC_TARGET_VERSION, DC_CMP_EQUAL, 2));
    HOLDS(int_holds(k, DC_TARGET_VERSION, DC_CMP_GREATER, 1));
    HOLDS(int_holds(k, DC_TARGET_VERSION, DC_CMP_LESS, 3));
    NOT_HOLDS(int_holds(k, DC_TARGET_VERSION, DC_CMP_NOT_EQUAL, 2));
    NOT_HOLDS(int_holds(k, DC_TARGET_VERSION, DC_CMP_GREATER, 2));

    HOLDS(int_holds(k, DC_TARGET_CREATE, DC_CMP_EQUAL, r1));
    NOT_HOLDS(int_holds(k, DC_TARGET_CREATE, DC_CMP_EQUAL, r2));
    HOLDS(int_holds(k, DC_TARGET_CREATE, DC_CMP_LESS, r2));
    HOLDS(int_holds(k, DC_TARGET_CREATE, DC_CMP_GREATER, 0));

    HOLDS(int_holds(k, DC_TARGET_MOD, DC_CMP_EQUAL, r2));
    HOLDS(int_holds(k, DC_TARGET_MOD, DC_CMP_GREATER, r1));
    HOLDS(int_holds(k, DC_TARGET_MOD, DC_CMP_NOT_EQUAL, r1));
    NOT_HOLDS(int_holds(k, DC_TARGET_MOD, DC_CMP_LESS, r2));

    HOLDS(int_holds(k, DC_TARGET_LEASE, DC_CMP_EQUAL, 0));
    int64_t lease = 0;
    OK(dc_lease_grant(conf_store, 30, &lease, NULL));
    conf_put_lease(k, "c", lease);
    HOLDS(int_holds(k, DC_TARGET_LEASE, DC_CMP_EQUAL, lease));
    NOT_HOLDS(int_holds(k, DC_TARGET_LEASE, DC_CMP_EQUAL, 0));
    HOLDS(int_holds(k, DC_TARGET_LEASE, DC_CMP_NOT_EQUAL, 0));
    HOLDS(int_holds(k, DC_TARGET_VERSION, DC_CMP_EQUAL, 3));
    OK(dc_lease_revoke(conf_store, lease));
    HOLDS(int_holds(k, DC_TARGET_VERSION, DC_CMP_EQUAL, 0));
}
END_TEST

CONF_TEST(txn_compares_are_anded)
{
    const char *a = K("a"), *b = K("b");
    conf_put(a, "1");
    conf_put(b, "2");
    dc_txn *t = conf_txn();
    OK(dc_txn_compare_value(t, a, strlen(a), DC_CMP_EQUAL, "1", 1));
    OK(dc_txn_compare_value(t, b, strlen(b), DC_CMP_EQUAL, "2", 1));
    OK(dc_txn_compare_int(t, a, strlen(a), DC_TARGET_VERSION, DC_CMP_EQUAL, 1));
    dc_txn_result *r = conf_commit(t);
    ck_assert_int_eq(r->succeeded, 1);
    dc_txn_result_free(r);

    t = conf_txn();
    OK(dc_txn_compare_value(t, a, strlen(a), DC_CMP_EQUAL, "1", 1));
    OK(dc_txn_compare_value(t, b, strlen(b), DC_CMP_EQUAL, "3", 1)); /* false */
    OK(dc_txn_compare_int(t, a, strlen(a), DC_TARGET_VERSION, DC_CMP_EQUAL, 1));
    OK(dc_txn_put(t, DC_THEN, a, strlen(a), "then", 4, 0, 0));
    OK(dc_txn_put(t, DC_ELSE, b, strlen(b), "else", 4, 0, 0));
    r = conf_commit(t);
    ck_assert_int_eq(r->succeeded, 0);
    dc_txn_result_free(r);
    dc_kvs *kvs = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(kvs->n, 2);
    EXPECT_KV(&kvs->kvs[0], a, "1");
    EXPECT_KV(&kvs->kvs[1], b, "else");
    dc_kvs_free(kvs);
}
END_TEST

CONF_TEST(txn_runs_then_or_else_and_returns_each_op_response)
{
    const char *k = K("k"), *other = K("other");
    conf_put(other, "o");
    dc_txn *t = conf_txn();
    OK(dc_txn_compare_int(t, k, strlen(k), DC_TARGET_CREATE, DC_CMP_EQUAL, 0));
    OK(dc_txn_put(t, DC_THEN, k, strlen(k), "v1", 2, 0, DC_PREV_KV));
    OK(dc_txn_get(t, DC_THEN, other, strlen(other), 0, 0));
    OK(dc_txn_get(t, DC_ELSE, k, strlen(k), 0, 0));
    OK(dc_txn_get(t, DC_ELSE, K(""), conf_prefix_len, DC_PREFIX | DC_COUNT_ONLY, 0));

    dc_txn_result *r = NULL;
    OK(dc_txn_commit(conf_store, t, &r)); /* first commit: k is missing, then runs */
    ck_assert_int_eq(r->succeeded, 1);
    ck_assert_uint_eq(r->n_responses, 2);
    ck_assert_int_eq(r->responses[0].kind, DC_OP_PUT);
    ck_assert_uint_eq(r->responses[0].n_prev_kvs, 0); /* the put created k */
    ck_assert_int_eq(r->responses[1].kind, DC_OP_GET);
    ck_assert_uint_eq(r->responses[1].n_kvs, 1);
    ck_assert_int_eq(r->responses[1].count, 1);
    EXPECT_KV(&r->responses[1].kvs[0], other, "o");
    int64_t wrote = r->revision;
    dc_txn_result_free(r);
    dc_kv kv;
    ck_assert_int_eq(conf_exists(k, &kv), 1);
    ck_assert_int_eq(kv.mod_revision, wrote);

    r = NULL;
    OK(dc_txn_commit(conf_store, t, &r)); /* second commit of the same txn: else runs */
    ck_assert_int_eq(r->succeeded, 0);
    ck_assert_uint_eq(r->n_responses, 2);
    ck_assert_int_eq(r->responses[0].kind, DC_OP_GET);
    ck_assert_uint_eq(r->responses[0].n_kvs, 1);
    EXPECT_KV(&r->responses[0].kvs[0], k, "v1");
    ck_assert_int_eq(r->responses[0].kvs[0].version, 1);
    ck_assert_int_eq(r->responses[0].kvs[0].mod_revision, wrote);
    ck_assert_int_eq(r->responses[1].kind, DC_OP_GET);
    ck_assert_int_eq(r->responses[1].count, 2);
    ck_assert_uint_eq(r->responses[1].n_kvs, 0);
    ck_assert_int_ge(r->revision, wrote);
    dc_txn_result_free(r);
    dc_txn_free(t);
}
END_TEST

CONF_TEST(txn_put_and_delete_return_prev_kv_and_deleted_counts)
{
    const char *a = K("a");
    int64_t ra = conf_put(a, "a1");
    conf_put(K("gone/1"), "g1");
    conf_put(K("gone/2"), "g2");
    conf_put(K("plain"), "p1");
    conf_put(K("single"), "s1");

    dc_txn *t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, a, strlen(a), "a2", 2, 0, DC_PREV_KV));
    OK(dc_txn_delete(t, DC_THEN, K("gone/"), strlen(K("gone/")), DC_PREFIX | DC_PREV_KV));
    OK(dc_txn_put(t, DC_THEN, K("plain"), strlen(K("plain")), "p2", 2, 0, 0));
    OK(dc_txn_delete(t, DC_THEN, K("missing"), strlen(K("missing")), DC_PREV_KV));
    OK(dc_txn_delete(t, DC_THEN, K("single"), strlen(K("single")), 0));
    OK(dc_txn_put(t, DC_THEN, K("new"), strlen(K("new")), "n1", 2, 0, DC_PREV_KV));
    dc_txn_result *r = conf_commit(t);
    ck_assert_int_eq(r->succeeded, 1);
    ck_assert_uint_eq(r->n_responses, 6);

    dc_response *p = &r->responses[0];
    ck_assert_int_eq(p->kind, DC_OP_PUT);
    ck_assert_uint_eq(p->n_prev_kvs, 1);
    EXPECT_KV(&p->prev_kvs[0], a, "a1");
    ck_assert_int_eq(p->prev_kvs[0].version, 1);
    ck_assert_int_eq(p->prev_kvs[0].mod_revision, ra);
    ck_assert_int_eq(p->prev_kvs[0].create_revision, ra);

    dc_response *d = &r->responses[1];
    ck_assert_int_eq(d->kind, DC_OP_DELETE);
    ck_assert_int_eq(d->deleted, 2);
    ck_assert_uint_eq(d->n_prev_kvs, 2);
    EXPECT_KV(&d->prev_kvs[0], K("gone/1"), "g1");
    EXPECT_KV(&d->prev_kvs[1], K("gone/2"), "g2");

    ck_assert_int_eq(r->responses[2].kind, DC_OP_PUT);
    ck_assert_uint_eq(r->responses[2].n_prev_kvs, 0); /* not asked for */

    ck_assert_int_eq(r->responses[3].kind, DC_OP_DELETE);
    ck_assert_int_eq(r->responses[3].deleted, 0);
    ck_assert_uint_eq(r->responses[3].n_prev_kvs, 0);

    ck_assert_int_eq(r->responses[4].kind, DC_OP_DELETE);
    ck_assert_int_eq(r->responses[4].deleted, 1);
    ck_assert_uint_eq(r->responses[4].n_prev_kvs, 0); /* not asked for */

    ck_assert_int_eq(r->responses[5].kind, DC_OP_PUT);
    ck_assert_uint_eq(r->responses[5].n_prev_kvs, 0); /* created */

    dc_kvs *kvs = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(kvs->n, 3);
    EXPECT_KV(&kvs->kvs[0], a, "a2");
    EXPECT_KV(&kvs->kvs[1], K("new"), "n1");
    EXPECT_KV(&kvs->kvs[2], K("plain"), "p2");
    for (size_t i = 0; i < kvs->n; i++) ck_assert_int_eq(kvs->kvs[i].mod_revision, r->revision);
    dc_kvs_free(kvs);
    dc_txn_result_free(r);
}
END_TEST

CONF_TEST(txn_ops_see_earlier_writes_of_their_branch)
{
    const char *k = K("k");
    conf_put(K("d"), "old");
    dc_txn *t = conf_txn();
    OK(dc_txn_get(t, DC_THEN, k, strlen(k), 0, 0));
    OK(dc_txn_put(t, DC_THEN, k, strlen(k), "new", 3, 0, 0));
    OK(dc_txn_get(t, DC_THEN, k, strlen(k), 0, 0));
    OK(dc_txn_delete(t, DC_THEN, K("d"), strlen(K("d")), 0));
    OK(dc_txn_get(t, DC_THEN, K(""), conf_prefix_len, DC_PREFIX, 0));
    dc_txn_result *r = conf_commit(t);
    ck_assert_uint_eq(r->n_responses, 5);
    ck_assert_uint_eq(r->responses[0].n_kvs, 0);
    ck_assert_uint_eq(r->responses[2].n_kvs, 1);
    EXPECT_KV(&r->responses[2].kvs[0], k, "new");
    ck_assert_int_eq(r->responses[2].kvs[0].mod_revision, r->revision);
    ck_assert_uint_eq(r->responses[4].n_kvs, 1);
    EXPECT_KV(&r->responses[4].kvs[0], k, "new");
    dc_txn_result_free(r);
}
END_TEST

/* As in kv.c, three tries make a stray lease expiry from an earlier run harmless. */
CONF_TEST(txn_without_writes_does_not_move_the_revision)
{
    conf_put(K("k"), "v");
    int held = 0;
    for (int attempt = 0; attempt < 3 && !held; attempt++) {
        int64_t before = conf_revision();
        /* only reads */
        dc_txn *t = conf_txn();
        OK(dc_txn_compare_value(t, K("k"), strlen(K("k")), DC_CMP_EQUAL, "v", 1));
        OK(dc_txn_get(t, DC_THEN, K("k"), strlen(K("k")), 0, 0));
        OK(dc_txn_put(t, DC_ELSE, K("k"), strlen(K("k")), "w", 1, 0, 0));
        dc_txn_result *r1 = conf_commit(t);
        ck_assert_int_eq(r1->succeeded, 1);
        /* a branch whose only write deletes nothing */
        t = conf_txn();
        OK(dc_txn_delete(t, DC_THEN, K("missing"), strlen(K("missing")), 0));
        OK(dc_txn_delete(t, DC_THEN, K("none/"), strlen(K("none/")), DC_PREFIX));
        dc_txn_result *r2 = conf_commit(t);
        ck_assert_int_eq(r2->responses[0].deleted, 0);
        ck_assert_int_eq(r2->responses[1].deleted, 0);
        /* an empty txn */
        dc_txn_result *r3 = conf_commit(conf_txn());
        ck_assert_int_eq(r3->succeeded, 1);
        ck_assert_uint_eq(r3->n_responses, 0);
        int64_t after = conf_revision();
        held = r1->revision == before && r2->revision == before && r3->revision == before &&
               after == before;
        dc_txn_result_free(r1);
        dc_txn_result_free(r2);
        dc_txn_result_free(r3);
    }
    ck_assert_msg(held, "a txn that wrote nothing moved the revision (or did not return it)");
    dc_kv kv;
    ck_assert_int_eq(conf_exists(K("k"), &kv), 1);
    ck_assert_int_eq(kv.version, 1);
}
END_TEST

static void expect_duplicate(dc_txn *t)
{
    dc_txn_result *r = NULL;
    EXPECT_RC(dc_txn_commit(conf_store, t, &r), DC_EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_str_ne(dc_last_error(), "");
    dc_txn_free(t);
}

CONF_TEST(txn_with_two_writes_of_one_key_is_einval)
{
    const char *k = K("dir/k");
    size_t kl = strlen(k);
    conf_put(k, "orig");

    dc_txn *t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, k, kl, "1", 1, 0, 0));
    OK(dc_txn_put(t, DC_THEN, K("other"), strlen(K("other")), "x", 1, 0, 0));
    OK(dc_txn_put(t, DC_THEN, k, kl, "2", 1, 0, 0));
    expect_duplicate(t);

    t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, k, kl, "1", 1, 0, 0));
    OK(dc_txn_delete(t, DC_THEN, k, kl, 0));
    expect_duplicate(t);

    t = conf_txn(); /* a put inside a deleted range */
    OK(dc_txn_delete(t, DC_ELSE, K("dir/"), strlen(K("dir/")), DC_PREFIX));
    OK(dc_txn_put(t, DC_ELSE, k, kl, "1", 1, 0, 0));
    expect_duplicate(t);

    /* nothing of the refused txns was written */
    dc_kvs *kvs = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(kvs->n, 1);
    EXPECT_KV(&kvs->kvs[0], k, "orig");
    dc_kvs_free(kvs);

    /* reads of a written key, and one write per branch, are fine */
    t = conf_txn();
    OK(dc_txn_get(t, DC_THEN, k, kl, 0, 0));
    OK(dc_txn_put(t, DC_THEN, k, kl, "then", 4, 0, 0));
    OK(dc_txn_get(t, DC_THEN, k, kl, 0, 0));
    OK(dc_txn_put(t, DC_ELSE, k, kl, "else", 4, 0, 0));
    dc_txn_result *r = conf_commit(t);
    ck_assert_int_eq(r->succeeded, 1);
    dc_txn_result_free(r);
}
END_TEST

CONF_TEST(txn_overlapping_deletes_delete_each_key_once)
{
    conf_put(K("d/a"), "1");
    conf_put(K("d/b"), "2");
    dc_watch *w = conf_watch(K(""), 0, DC_PREFIX | DC_PREV_KV);
    dc_txn *t = conf_txn();
    OK(dc_txn_delete(t, DC_THEN, K("d/"), strlen(K("d/")), DC_PREFIX | DC_PREV_KV));
    OK(dc_txn_delete(t, DC_THEN, K("d/a"), strlen(K("d/a")), DC_PREV_KV));
    OK(dc_txn_delete(t, DC_THEN, K("d/b"), strlen(K("d/b")), 0));
    OK(dc_txn_delete(t, DC_THEN, K("d/"), strlen(K("d/")), DC_PREFIX));
    dc_txn_result *r = conf_commit(t);
    ck_assert_uint_eq(r->n_responses, 4);
    ck_assert_int_eq(r->responses[0].deleted, 2);
    ck_assert_uint_eq(r->responses[0].n_prev_kvs, 2);
    for (size_t i = 1; i < 4; i++) {
        ck_assert_int_eq(r->responses[i].deleted, 0);
        ck_assert_uint_eq(r->responses[i].n_prev_kvs, 0);
    }
    conf_events log = {0};
    conf_collect_exactly(w, &log, 2);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(log.ev[i]->type, DC_EVENT_DELETE);
        ck_assert_int_eq(log.ev[i]->kv.mod_revision, r->revision);
    }
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);
    dc_txn_result_free(r);
    /* the store is sane afterwards: the keys can be created again */
    conf_put(K("d/a"), "3");
    dc_kv kv;
    ck_assert_int_eq(conf_exists(K("d/a"), &kv), 1);
    ck_assert_int_eq(kv.version, 1);
    ck_assert_int_eq(conf_exists(K("d/b"), NULL), 0);
}
END_TEST

CONF_TEST(txn_get_honours_limit_keys_only_and_count_only)
{
    for (int i = 0; i < 4; i++) {
        char s[8];
        snprintf(s, sizeof s, "k%d", i);
        conf_put(K(s), s);
    }
    dc_txn *t = conf_txn();
    OK(dc_txn_get(t, DC_THEN, K(""), conf_prefix_len, DC_PREFIX, 3));
    OK(dc_txn_get(t, DC_THEN, K(""), conf_prefix_len, DC_PREFIX | DC_KEYS_ONLY, 0));
    OK(dc_txn_get(t, DC_THEN, K(""), conf_prefix_len, DC_PREFIX | DC_COUNT_ONLY, 0));
    dc_txn_result *r = conf_commit(t);
    ck_assert_uint_eq(r->n_responses, 3);
    ck_assert_uint_eq(r->responses[0].n_kvs, 3);
    ck_assert_int_eq(r->responses[0].count, 4);
    ck_assert_int_eq(r->responses[0].more, 1);
    EXPECT_KV(&r->responses[0].kvs[0], K("k0"), "k0");
    EXPECT_KV(&r->responses[0].kvs[2], K("k2"), "k2");
    ck_assert_uint_eq(r->responses[1].n_kvs, 4);
    ck_assert_int_eq(r->responses[1].more, 0);
    EXPECT_KV(&r->responses[1].kvs[3], K("k3"), "");
    ck_assert_int_eq(r->responses[1].kvs[3].version, 1);
    ck_assert_uint_eq(r->responses[2].n_kvs, 0);
    ck_assert_int_eq(r->responses[2].count, 4);
    dc_txn_result_free(r);
}
END_TEST

TCase *conf_txn_tcase(void)
{
    TCase *tc = tcase_create("txn");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, txn_value_compares_equal_not_equal_less_greater);
    tcase_add_test(tc, txn_value_compare_on_missing_key_is_always_false);
    tcase_add_test(tc, txn_missing_key_has_version_create_mod_and_lease_0);
    tcase_add_test(tc, txn_compares_version_create_mod_and_lease_of_a_key);
    tcase_add_test(tc, txn_compares_are_anded);
    tcase_add_test(tc, txn_runs_then_or_else_and_returns_each_op_response);
    tcase_add_test(tc, txn_put_and_delete_return_prev_kv_and_deleted_counts);
    tcase_add_test(tc, txn_ops_see_earlier_writes_of_their_branch);
    tcase_add_test(tc, txn_without_writes_does_not_move_the_revision);
    tcase_add_test(tc, txn_with_two_writes_of_one_key_is_einval);
    tcase_add_test(tc, txn_overlapping_deletes_delete_each_key_once);
    tcase_add_test(tc, txn_get_honours_limit_keys_only_and_count_only);
    return tc;
}
