/*
 * Bad input gets a typed error and never a crash, and the store keeps working
 * afterwards: empty keys, unknown flags and enum values, NULL arguments where
 * the header allows failing, oversized values, txns over the 128-op limit,
 * an unknown URI scheme, a configuration without a URI. Binary keys and
 * values (NUL and 0xff bytes) round-trip through put, get, txn compares and
 * watches. Every error code of the contract has a name and a message, and
 * failures leave their detail on the thread and on the handle.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>

/* After a failure the calling thread and the handle both have a detail. */
static void expect_detail(void)
{
    ck_assert_str_ne(dc_last_error(), "");
    char buf[512];
    ck_assert_str_ne(dc_store_errmsg(conf_store, buf, sizeof buf), "");
}

CONF_TEST(empty_key_is_einval_everywhere)
{
    EXPECT_RC(dc_put(conf_store, "", 0, "v", 1, 0, NULL), DC_EINVAL);
    expect_detail();
    dc_kvs *r = NULL;
    EXPECT_RC(dc_get(conf_store, "", 0, 0, 0, &r), DC_EINVAL);
    ck_assert_ptr_null(r);
    EXPECT_RC(dc_delete(conf_store, "", 0, 0, NULL, NULL), DC_EINVAL);
    /* An empty prefix must not wipe the store. The check lives in the core, so
     * it is tried only where a regression could not destroy a shared server:
     * this process's own mem:// instance. */
    if (strcmp(dc_store_backend(conf_store), "mem") == 0) {
        conf_put(K("survivor"), "v");
        EXPECT_RC(dc_delete(conf_store, "", 0, DC_PREFIX, NULL, NULL), DC_EINVAL);
        ck_assert_int_eq(conf_exists(K("survivor"), NULL), 1);
        conf_delete(K("survivor"), 0, NULL);
    } else {
        EXPECT_RC(dc_delete(conf_store, NULL, 0, 0, NULL, NULL), DC_EINVAL);
    }
    dc_watch *w = NULL;
    EXPECT_RC(dc_watch_open(conf_store, "", 0, 0, 0, &w), DC_EINVAL);
    ck_assert_ptr_null(w);

    dc_txn_result *res = NULL;
    dc_txn *t = conf_txn();
    EXPECT_RC(dc_txn_compare_value(t, "", 0, DC_CMP_EQUAL, "v", 1), DC_EINVAL);
    EXPECT_RC(dc_txn_commit(conf_store, t, &res), DC_EINVAL); /* remembered */
    ck_assert_ptr_null(res);
    dc_txn_free(t);
    t = conf_txn();
    EXPECT_RC(dc_txn_compare_int(t, "", 0, DC_TARGET_VERSION, DC_CMP_EQUAL, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_commit(conf_store, t, &res), DC_EINVAL);
    dc_txn_free(t);
    t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, K("ok"), strlen(K("ok")), "v", 1, 0, 0));
    EXPECT_RC(dc_txn_put(t, DC_ELSE, "", 0, "v", 1, 0, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_commit(conf_store, t, &res), DC_EINVAL);
    dc_txn_free(t);
    t = conf_txn();
    EXPECT_RC(dc_txn_delete(t, DC_THEN, "", 0, DC_PREFIX), DC_EINVAL);
    EXPECT_RC(dc_txn_get(t, DC_THEN, "", 0, 0, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_commit(conf_store, t, &res), DC_EINVAL);
    dc_txn_free(t);
    ck_assert_int_eq(conf_exists(K("ok"), NULL), 0); /* the refused txn wrote nothing */

    /* an empty prefix is allowed for reads: a count of everything works */
    OK(dc_get(conf_store, "", 0, DC_PREFIX | DC_COUNT_ONLY, 0, &r));
    ck_assert_int_ge(r->count, 0);
    dc_kvs_free(r);
}
END_TEST

CONF_TEST(invalid_flags_and_enum_values_are_einval)
{
    const char *k = K("k");
    size_t kl = strlen(k);
    conf_put(k, "v");
    dc_kvs *r = NULL;
    EXPECT_RC(dc_get(conf_store, k, kl, 0x1000u, 0, &r), DC_EINVAL);
    EXPECT_RC(dc_get(conf_store, k, kl, DC_NO_PUT, 0, &r), DC_EINVAL);
    EXPECT_RC(dc_get(conf_store, k, kl, 0, -1, &r), DC_EINVAL);
    ck_assert_ptr_null(r);
    EXPECT_RC(dc_delete(conf_store, k, kl, 0x80000000u, NULL, NULL), DC_EINVAL);
    EXPECT_RC(dc_delete(conf_store, k, kl, DC_KEYS_ONLY, NULL, NULL), DC_EINVAL);
    dc_watch *w = NULL;
    EXPECT_RC(dc_watch_open(conf_store, k, kl, 0, DC_COUNT_ONLY, &w), DC_EINVAL);
    EXPECT_RC(dc_watch_open(conf_store, k, kl, 0, 0x400u, &w), DC_EINVAL);
    EXPECT_RC(dc_watch_open(conf_store, k, kl, -1, 0, &w), DC_EINVAL);
    ck_assert_ptr_null(w);

    dc_txn *t = conf_txn();
    EXPECT_RC(dc_txn_put(t, DC_THEN, k, kl, "x", 1, 0, DC_PREFIX), DC_EINVAL);
    EXPECT_RC(dc_txn_get(t, DC_THEN, k, kl, DC_PREV_KV, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_delete(t, DC_THEN, k, kl, DC_KEYS_ONLY), DC_EINVAL);
    EXPECT_RC(dc_txn_put(t, (dc_branch)7, k, kl, "x", 1, 0, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_compare_int(t, k, kl, (dc_target)9, DC_CMP_EQUAL, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_compare_int(t, k, kl, DC_TARGET_VALUE, DC_CMP_EQUAL, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_compare_value(t, k, kl, (dc_cmp)42, "v", 1), DC_EINVAL);
    EXPECT_RC(dc_txn_put(t, DC_THEN, k, kl, "x", 1, -1, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_get(t, DC_THEN, k, kl, 0, -1), DC_EINVAL);
    dc_txn_result *res = NULL;
    EXPECT_RC(dc_txn_commit(conf_store, t, &res), DC_EINVAL);
    ck_assert_ptr_null(res);
    dc_txn_free(t);

    /* nothing changed */
    dc_kv kv;
    ck_assert_int_eq(conf_exists(k, &kv), 1);
    ck_assert_int_eq(kv.version, 1);
}
END_TEST

CONF_TEST(null_arguments_give_typed_errors_not_crashes)
{
    const char *k = K("k");
    size_t kl = strlen(k);
    dc_kvs *r = NULL;
    dc_store *s = NULL;
    EXPECT_RC(dc_store_open(NULL, &s), DC_EINVAL);
    ck_assert_ptr_null(s);
    EXPECT_RC(dc_store_open(conf_uri, NULL), DC_EINVAL);
    EXPECT_RC(dc_store_open_config(NULL, &s), DC_EINVAL);
    ck_assert_ptr_null(s);
    EXPECT_RC(dc_put(NULL, k, kl, "v", 1, 0, NULL), DC_EINVAL);
    EXPECT_RC(dc_put(conf_store, NULL, 3, "v", 1, 0, NULL), DC_EINVAL);
    EXPECT_RC(dc_put(conf_store, k, kl, NULL, 5, 0, NULL), DC_EINVAL);
    EXPECT_RC(dc_put(conf_store, k, kl, "v", 1, -1, NULL), DC_EINVAL);
    EXPECT_RC(dc_get(NULL, k, kl, 0, 0, &r), DC_EINVAL);
    EXPECT_RC(dc_get(conf_store, k, kl, 0, 0, NULL), DC_EINVAL);
    EXPECT_RC(dc_get(conf_store, NULL, 3, 0, 0, &r), DC_EINVAL);
    ck_assert_ptr_null(r);
    EXPECT_RC(dc_delete(NULL, k, kl, 0, NULL, NULL), DC_EINVAL);
    EXPECT_RC(dc_delete(conf_store, NULL, 3, 0, NULL, NULL), DC_EINVAL);
    EXPECT_RC(dc_compact(NULL, 1), DC_EINVAL);
    int64_t rev;
    EXPECT_RC(dc_revision(NULL, &rev), DC_EINVAL);

    dc_txn *t = conf_txn();
    dc_txn_result *res = NULL;
    EXPECT_RC(dc_txn_commit(NULL, t, &res), DC_EINVAL);
    EXPECT_RC(dc_txn_commit(conf_store, NULL, &res), DC_EINVAL);
    EXPECT_RC(dc_txn_commit(conf_store, t, NULL), DC_EINVAL);
    ck_assert_ptr_null(res);
    EXPECT_RC(dc_txn_put(NULL, DC_THEN, k, kl, "v", 1, 0, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_get(NULL, DC_THEN, k, kl, 0, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_delete(NULL, DC_THEN, k, kl, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_compare_value(NULL, k, kl, DC_CMP_EQUAL, "v", 1), DC_EINVAL);
    EXPECT_RC(dc_txn_compare_int(NULL, k, kl, DC_TARGET_MOD, DC_CMP_EQUAL, 1), DC_EINVAL);
    EXPECT_RC(dc_txn_compare_value(t, k, kl, DC_CMP_EQUAL, NULL, 4), DC_EINVAL);
    EXPECT_RC(dc_txn_put(t, DC_THEN, k, kl, NULL, 4, 0, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_put(t, DC_THEN, NULL, 4, "v", 1, 0, 0), DC_EINVAL);
    EXPECT_RC(dc_txn_commit(conf_store, t, &res), DC_EINVAL);
    dc_txn_free(t);

    dc_watch *w = NULL;
    dc_events *ev = NULL;
    EXPECT_RC(dc_watch_open(NULL, k, kl, 0, 0, &w), DC_EINVAL);
    EXPECT_RC(dc_watch_open(conf_store, k, kl, 0, 0, NULL), DC_EINVAL);
    EXPECT_RC(dc_watch_open(conf_store, NULL, 3, 0, 0, &w), DC_EINVAL);
    ck_assert_ptr_null(w);
    EXPECT_RC(dc_watch_next(NULL, 0, &ev), DC_EINVAL);
    ck_assert_int_lt(dc_watch_fd(NULL), 0);
    ck_assert_int_eq(dc_watch_compact_revision(NULL), 0);
    ck_assert_int_eq(dc_watch_last_revision(NULL), 0);
    w = conf_watch(k, 0, 0);
    EXPECT_RC(dc_watch_next(w, 0, NULL), DC_EINVAL);
    dc_watch_close(w);

    int64_t id = 0;
    EXPECT_RC(dc_lease_grant(NULL, 5, &id, NULL), DC_EINVAL);
    EXPECT_RC(dc_lease_grant(conf_store, 5, NULL, NULL), DC_EINVAL);
    EXPECT_RC(dc_lease_keepalive(NULL, 1, NULL), DC_EINVAL);
    EXPECT_RC(dc_lease_revoke(NULL, 1), DC_EINVAL);

    /* freeing NULL is a no-op */
    dc_kvs_free(NULL);
    dc_events_free(NULL);
    dc_txn_result_free(NULL);
    dc_txn_free(NULL);
    dc_watch_close(NULL);
    dc_store_close(NULL);
    char buf[8];
    ck_assert_str_eq(dc_store_backend(NULL), "");
    ck_assert_str_eq(dc_store_errmsg(NULL, buf, sizeof buf), "");

    /* the store still works */
    conf_put(k, "v");
    ck_assert_int_eq(conf_exists(k, NULL), 1);
}
END_TEST

CONF_TEST(oversized_value_is_etoobig_and_the_store_keeps_working)
{
    size_t big = 4u << 20;
    char *v = conf_malloc(big);
    memset(v, 'x', big);
    const char *k = K("big");
    EXPECT_RC(dc_put(conf_store, k, strlen(k), v, big, 0, NULL), DC_ETOOBIG);
    expect_detail();
    dc_txn *t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, K("small"), strlen(K("small")), "s", 1, 0, 0));
    OK(dc_txn_put(t, DC_THEN, k, strlen(k), v, big, 0, 0));
    dc_txn_result *res = NULL;
    EXPECT_RC(dc_txn_commit(conf_store, t, &res), DC_ETOOBIG);
    ck_assert_ptr_null(res);
    dc_txn_free(t);
    free(v);
    ck_assert_int_eq(conf_exists(k, NULL), 0);
    ck_assert_int_eq(conf_exists(K("small"), NULL), 0);
    /* a normal put right after succeeds */
    int64_t r = conf_put(k, "normal");
    dc_kv kv;
    ck_assert_int_eq(conf_exists(k, &kv), 1);
    ck_assert_int_eq(kv.mod_revision, r);
    ck_assert_int_eq(kv.version, 1);
}
END_TEST

static dc_txn *txn_of_puts(dc_branch b, int n)
{
    dc_txn *t = conf_txn();
    for (int i = 0; i < n; i++) {
        char s[16];
        snprintf(s, sizeof s, "%c%03d", b == DC_THEN ? 't' : 'e', i);
        OK(dc_txn_put(t, b, K(s), strlen(K(s)), "v", 1, 0, 0));
    }
    return t;
}

CONF_TEST(txn_with_more_than_128_ops_in_a_branch_is_etoobig)
{
    dc_txn_result *res = NULL;
    dc_txn *t = txn_of_puts(DC_THEN, 129);
    EXPECT_RC(dc_txn_commit(conf_store, t, &res), DC_ETOOBIG);
    ck_assert_ptr_null(res);
    expect_detail();
    dc_txn_free(t);
    t = txn_of_puts(DC_ELSE, 129); /* the branch that would not run counts too */
    EXPECT_RC(dc_txn_commit(conf_store, t, &res), DC_ETOOBIG);
    dc_txn_free(t);
    dc_kvs *kvs = conf_get(K(""), DC_PREFIX | DC_COUNT_ONLY, 0);
    ck_assert_int_eq(kvs->count, 0);
    dc_kvs_free(kvs);

    /* 128 is allowed, and is written at one revision, delivered in one batch */
    dc_watch *w = conf_watch(K(""), 0, DC_PREFIX);
    res = conf_commit(txn_of_puts(DC_THEN, 128));
    ck_assert_int_eq(res->succeeded, 1);
    ck_assert_uint_eq(res->n_responses, 128);
    kvs = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(kvs->n, 128);
    for (size_t i = 0; i < kvs->n; i++) ck_assert_int_eq(kvs->kvs[i].mod_revision, res->revision);
    dc_kvs_free(kvs);
    conf_events log = {0};
    conf_collect_exactly(w, &log, 128);
    ck_assert_uint_eq(log.nb, 1);
    for (size_t i = 0; i < log.n; i++) ck_assert_int_eq(log.ev[i]->kv.mod_revision, res->revision);
    conf_events_free(&log);
    dc_watch_close(w);
    dc_txn_result_free(res);
}
END_TEST

CONF_TEST(binary_keys_and_values_round_trip)
{
    char key[300];
    static const char sfx[] = "bin\0a\xff\x01/\0";
    static const char val[] = "\0v\xff\0\x80x";
    size_t sl = sizeof sfx - 1, vl = sizeof val - 1;
    memcpy(key, conf_prefix, conf_prefix_len);
    memcpy(key + conf_prefix_len, sfx, sl);
    size_t kl = conf_prefix_len + sl;

    dc_watch *w = conf_watch(K("bin"), 0, DC_PREFIX);
    int64_t r = 0;
    OK(dc_put(conf_store, key, kl, val, vl, 0, &r));
    OK(dc_put(conf_store, key, conf_prefix_len + 4, "cut", 3, 0, NULL)); /* "bin\0" */

    dc_kvs *kvs = NULL;
    OK(dc_get(conf_store, key, kl, 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    conf_expect_bytes(kvs->kvs[0].key, kvs->kvs[0].key_len, key, kl, "key");
    conf_expect_bytes(kvs->kvs[0].value, kvs->kvs[0].value_len, val, vl, "value");
    dc_kvs_free(kvs);

    /* a prefix ending in NUL finds both, the shorter first */
    OK(dc_get(conf_store, key, conf_prefix_len + 4, DC_PREFIX, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 2);
    conf_expect_bytes(kvs->kvs[0].key, kvs->kvs[0].key_len, key, conf_prefix_len + 4, "key");
    conf_expect_bytes(kvs->kvs[1].key, kvs->kvs[1].key_len, key, kl, "key");
    dc_kvs_free(kvs);

    dc_txn *t = conf_txn();
    OK(dc_txn_compare_value(t, key, kl, DC_CMP_EQUAL, val, vl));
    dc_txn_result *res = conf_commit(t);
    ck_assert_int_eq(res->succeeded, 1);
    dc_txn_result_free(res);
    t = conf_txn(); /* the value differs only after its first NUL */
    OK(dc_txn_compare_value(t, key, kl, DC_CMP_EQUAL, "\0v\xff\0\x80y", vl));
    res = conf_commit(t);
    ck_assert_int_eq(res->succeeded, 0);
    dc_txn_result_free(res);

    conf_events log = {0};
    conf_collect_exactly(w, &log, 2);
    ck_assert_int_eq(log.ev[0]->kv.mod_revision, r);
    conf_expect_bytes(log.ev[0]->kv.key, log.ev[0]->kv.key_len, key, kl, "event key");
    conf_expect_bytes(log.ev[0]->kv.value, log.ev[0]->kv.value_len, val, vl, "event value");
    conf_expect_bytes(log.ev[1]->kv.key, log.ev[1]->kv.key_len, key, conf_prefix_len + 4,
                      "event key");
    conf_events_free(&log);
    dc_watch_close(w);

    int64_t deleted = 0;
    OK(dc_delete(conf_store, key, kl, 0, &deleted, NULL));
    ck_assert_int_eq(deleted, 1);
    ck_assert_int_eq(conf_exists(K("bin"), NULL), 0);
}
END_TEST

CONF_TEST(opening_an_unknown_scheme_is_enodriver)
{
    dc_store *s = (dc_store *)&s;
    EXPECT_RC(dc_store_open("nosuchscheme://127.0.0.1:1", &s), DC_ENODRIVER);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(dc_last_error(), "nosuchscheme") != NULL,
                  "the detail does not name what was tried: %s", dc_last_error());
    EXPECT_RC(dc_store_open("not a uri", &s), DC_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_str_eq(dc_errname(DC_ENODRIVER), "DC_ENODRIVER");
    ck_assert_str_ne(dc_strerror(DC_ENODRIVER), "");
    /* the store under test is unaffected */
    conf_put(K("k"), "v");
}
END_TEST

CONF_TEST(errors_are_typed_codes_with_names_and_messages)
{
    static const int codes[] = {
        DC_ENOTFOUND, DC_ECOMPACTED, DC_EUNAVAILABLE, DC_ETIMEDOUT, DC_EUNKNOWN,     DC_EAUTH,
        DC_EINVAL,    DC_ETOOBIG,    DC_ECORRUPT,     DC_ENOMEM,    DC_EUNSUPPORTED,
    };
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_lt(codes[i], 0);
        ck_assert_ptr_nonnull(dc_strerror(codes[i]));
        ck_assert_str_ne(dc_strerror(codes[i]), "");
        ck_assert_str_ne(dc_strerror(codes[i]), dc_strerror(-9999));
        ck_assert_msg(strncmp(dc_errname(codes[i]), "DC_E", 4) == 0, "name of %d is %s", codes[i],
                      dc_errname(codes[i]));
        for (size_t j = 0; j < i; j++) ck_assert_str_ne(dc_errname(codes[i]), dc_errname(codes[j]));
        ck_assert_int_eq(dc_error_retryable(codes[i]),
                         codes[i] == DC_EUNAVAILABLE || codes[i] == DC_ETIMEDOUT);
    }
    ck_assert_ptr_nonnull(dc_strerror(-9999));
    ck_assert_ptr_nonnull(dc_errname(-9999));
    ck_assert_int_eq(dc_error_retryable(DC_OK), 0);

    /* a failure leaves its detail on the thread and the handle; a short
     * buffer gets a truncated, terminated copy */
    EXPECT_RC(dc_put(conf_store, "", 0, "v", 1, 0, NULL), DC_EINVAL);
    expect_detail();
    char small[4];
    memset(small, 'x', sizeof small);
    dc_store_errmsg(conf_store, small, sizeof small);
    ck_assert_uint_le(strlen(small), 3);
}
END_TEST

CONF_TEST(store_opens_from_a_config_as_from_its_uri)
{
    dc_config *cfg = dc_config_new();
    ck_assert_ptr_nonnull(cfg);
    OK(dc_config_set(cfg, "uri", conf_uri));
    dc_store *s = NULL;
    OK(dc_store_open_config(cfg, &s));
    dc_config_free(cfg); /* the store copied it */
    ck_assert_str_eq(dc_store_backend(s), dc_store_backend(conf_store));
    int64_t rev = 0;
    OK(dc_put(s, K("k"), strlen(K("k")), "v", 1, 0, &rev));
    dc_store_close(s);
    dc_kv kv;
    ck_assert_int_eq(conf_exists(K("k"), &kv), 1);
    ck_assert_int_eq(kv.mod_revision, rev);

    /* a configuration without a uri is refused */
    cfg = dc_config_new();
    ck_assert_ptr_nonnull(cfg);
    s = NULL;
    EXPECT_RC(dc_store_open_config(cfg, &s), DC_EINVAL);
    ck_assert_ptr_null(s);
    dc_config_free(cfg);
}
END_TEST

TCase *conf_errors_tcase(void)
{
    TCase *tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, empty_key_is_einval_everywhere);
    tcase_add_test(tc, invalid_flags_and_enum_values_are_einval);
    tcase_add_test(tc, null_arguments_give_typed_errors_not_crashes);
    tcase_add_test(tc, oversized_value_is_etoobig_and_the_store_keeps_working);
    tcase_add_test(tc, txn_with_more_than_128_ops_in_a_branch_is_etoobig);
    tcase_add_test(tc, binary_keys_and_values_round_trip);
    tcase_add_test(tc, opening_an_unknown_scheme_is_enodriver);
    tcase_add_test(tc, errors_are_typed_codes_with_names_and_messages);
    tcase_add_test(tc, store_opens_from_a_config_as_from_its_uri);
    return tc;
}
