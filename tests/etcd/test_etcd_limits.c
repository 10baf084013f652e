/*
 * etcd driver: server limits, 64-bit lease IDs, binary data, loading from a
 * config file and unreachable endpoints. Runs on the shared etcd fixture,
 * whose --max-txn-ops (128) and --max-request-bytes (1572864) the fixture
 * script sets explicitly.
 */
#include "etcd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TXN_OPS       128
#define MAX_REQUEST_BYTES 1572864

static dc_txn *txn_of_puts(size_t n)
{
    dc_txn *t = dc_txn_new();
    ck_assert_ptr_nonnull(t);
    for (size_t i = 0; i < n; i++) {
        char k[64];
        snprintf(k, sizeof k, "ops/%zu", i);
        const char *key = et_key(k);
        ET_OK(dc_txn_put(t, DC_THEN, key, strlen(key), "v", 1, 0, 0));
    }
    return t;
}

START_TEST(txn_over_the_server_op_limit_is_toobig)
{
    dc_store *s = et_open(NULL);
    dc_txn *t = txn_of_puts(MAX_TXN_OPS + 1);
    dc_txn_result *r = NULL;
    ET_EXPECT_RC(dc_txn_commit(s, t, &r), DC_ETOOBIG);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(dc_last_error(), "too many operations"), "detail: %s", dc_last_error());
    /* nothing of it was applied */
    dc_kvs *kvs;
    ET_OK(dc_get(s, et_key("ops/"), strlen(et_key("ops/")), DC_PREFIX | DC_COUNT_ONLY, 0, &kvs));
    ck_assert_int_eq(kvs->count, 0);
    dc_kvs_free(kvs);
    dc_txn_free(t);
    dc_store_close(s);
}
END_TEST

START_TEST(txn_at_the_server_op_limit_commits_at_one_revision)
{
    dc_store *s = et_open(NULL);
    dc_txn *t = txn_of_puts(MAX_TXN_OPS);
    dc_txn_result *r = NULL;
    ET_OK(dc_txn_commit(s, t, &r));
    ck_assert_int_eq(r->succeeded, 1);
    ck_assert_uint_eq(r->n_responses, MAX_TXN_OPS);
    dc_kvs *kvs;
    ET_OK(dc_get(s, et_key("ops/"), strlen(et_key("ops/")), DC_PREFIX, 0, &kvs));
    ck_assert_uint_eq(kvs->n, MAX_TXN_OPS);
    for (size_t i = 0; i < kvs->n; i++) ck_assert_int_eq(kvs->kvs[i].mod_revision, r->revision);
    dc_kvs_free(kvs);
    dc_txn_result_free(r);
    dc_txn_free(t);
    dc_store_close(s);
}
END_TEST

static void put_value_of(size_t len, int want)
{
    dc_store *s = et_open(NULL);
    char *v = malloc(len);
    ck_assert_ptr_nonnull(v);
    memset(v, 'x', len);
    const char *key = et_key("big");
    ET_EXPECT_RC(dc_put(s, key, strlen(key), v, len, 0, NULL), want);
    if (want != DC_OK) {
        dc_kvs *kvs;
        ET_OK(dc_get(s, key, strlen(key), 0, 0, &kvs));
        ck_assert_uint_eq(kvs->n, 0);
        dc_kvs_free(kvs);
    }
    free(v);
    dc_store_close(s);
}

START_TEST(value_over_the_request_limit_is_toobig)
{
    put_value_of(MAX_REQUEST_BYTES, DC_ETOOBIG); /* "request is too large", HTTP 400 */
}
END_TEST

START_TEST(value_over_the_grpc_receive_cap_is_toobig)
{
    put_value_of(3 * 1024 * 1024, DC_ETOOBIG); /* "received message larger than max", 429 */
}
END_TEST

START_TEST(value_just_under_the_request_limit_is_stored)
{
    put_value_of(MAX_REQUEST_BYTES - 4096, DC_OK);
}
END_TEST

START_TEST(lease_ids_above_2_pow_53_round_trip_exactly)
{
    dc_store *s = et_open(NULL);
    int64_t id = 0, ttl = 0;
    ET_OK(dc_lease_grant(s, 30, &id, &ttl));
    /* etcd's generated IDs are large; they must survive JSON exactly */
    ck_assert_msg(id > (1LL << 53), "lease id %lld is small; expected a server-made id",
                  (long long)id);
    const char *key = et_key("leased");
    ET_OK(dc_put(s, key, strlen(key), "v", 1, id, NULL));
    dc_kvs *kvs;
    ET_OK(dc_get(s, key, strlen(key), 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    ck_assert_int_eq(kvs->kvs[0].lease, id);
    dc_kvs_free(kvs);
    int64_t again = 0;
    ET_OK(dc_lease_keepalive(s, id, &again));
    ck_assert_int_eq(again, ttl);
    ET_OK(dc_lease_revoke(s, id));
    ET_EXPECT_RC(dc_lease_keepalive(s, id, &again), DC_ENOTFOUND);
    ET_EXPECT_RC(dc_lease_revoke(s, id), DC_ENOTFOUND);
    ET_EXPECT_RC(dc_put(s, key, strlen(key), "v", 1, id, NULL), DC_ENOTFOUND);
    dc_store_close(s);
}
END_TEST

START_TEST(binary_keys_and_values_round_trip)
{
    dc_store *s = et_open(NULL);
    char key[64];
    size_t kl = (size_t)snprintf(key, sizeof key, "%s", et_key("bin/"));
    key[kl++] = '\xff';
    key[kl++] = '\0';
    key[kl++] = '\xff';
    const char val[] = {'\0', '\x01', '\xff', 'a', '\0'};
    ET_OK(dc_put(s, key, kl, val, sizeof val, 0, NULL));
    /* a prefix ending in 0xff needs the range end computed on the bytes before it */
    dc_kvs *kvs;
    ET_OK(dc_get(s, key, kl - 2, DC_PREFIX, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    ck_assert_uint_eq(kvs->kvs[0].key_len, kl);
    ck_assert_mem_eq(kvs->kvs[0].key, key, kl);
    ck_assert_uint_eq(kvs->kvs[0].value_len, sizeof val);
    ck_assert_mem_eq(kvs->kvs[0].value, val, sizeof val);
    dc_kvs_free(kvs);
    dc_store_close(s);
}
END_TEST

START_TEST(opens_from_an_ini_file_with_an_etcd_section)
{
    char path[] = "/tmp/etcdtest-ini-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[store]\nuri = %s\n\n[etcd]\nrequest_timeout_ms = 4000\nconnect_timeout_ms = 1000\n",
            et_uri(NULL));
    fclose(f);
    dc_config *cfg = dc_config_new();
    ET_OK(dc_config_load_file(cfg, path));
    unlink(path);
    ck_assert_str_eq(dc_config_get(cfg, "etcd.request_timeout_ms"), "4000");
    dc_store *s = NULL;
    ET_OK(dc_store_open_config(cfg, &s));
    dc_config_free(cfg);
    ck_assert_str_eq(dc_store_backend(s), "etcd");
    const char *key = et_key("ini");
    ET_OK(dc_put(s, key, strlen(key), "from-ini", 8, 0, NULL));
    et_expect_value(s, key, "from-ini");
    dc_store_close(s);
}
END_TEST

START_TEST(bad_timeout_in_the_config_is_invalid)
{
    dc_store *s = NULL;
    ET_EXPECT_RC(dc_store_open(et_uri("request_timeout_ms=0"), &s), DC_EINVAL);
    ck_assert_ptr_null(s);
    /* not a number at all: an error too, not the default (core/util/drv.h) */
    ET_EXPECT_RC(dc_store_open(et_uri("etcd.connect_timeout_ms=3s"), &s), DC_EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(dc_last_error(), "connect_timeout_ms") != NULL, "%s", dc_last_error());
    ET_EXPECT_RC(dc_store_open(et_uri("max_send_bytes=1MiB"), &s), DC_EINVAL);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(a_dead_endpoint_first_in_the_list_is_skipped)
{
    /* 127.0.0.1:1 refuses connections; the driver must move to the live one */
    const char *live = getenv("DDLCOORD_TEST_STORE");
    char uri[512];
    snprintf(uri, sizeof uri, "etcd://127.0.0.1:1,%s", live + strlen("etcd://"));
    dc_store *s = NULL;
    ET_OK(dc_store_open(uri, &s));
    for (int i = 0; i < 5; i++) {
        const char *key = et_key("failover");
        ET_OK(dc_put(s, key, strlen(key), "v", 1, 0, NULL));
    }
    dc_store_close(s);
}
END_TEST

START_TEST(no_reachable_endpoint_is_unavailable)
{
    dc_store *s = NULL;
    ET_EXPECT_RC(dc_store_open("etcd://127.0.0.1:1,127.0.0.1:2", &s), DC_EUNAVAILABLE);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(watch_delivers_big_values_split_over_many_chunks_intact)
{
    /* Three 1.4 MB values deleted in one revision: one multi-megabyte watch
     * message that arrives in many HTTP chunks and must be cut at '\n' only. */
    dc_store *s = et_open(NULL);
    size_t len = 1400 * 1024;
    char *v = malloc(len);
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < len; i++) v[i] = (char)('a' + i % 26);
    const char *prefix = et_key("bigwatch/");
    int64_t rev;
    ET_OK(dc_revision(s, &rev));
    for (int i = 0; i < 3; i++) {
        char k[64];
        snprintf(k, sizeof k, "bigwatch/%d", i);
        const char *key = et_key(k);
        ET_OK(dc_put(s, key, strlen(key), v, len, 0, NULL));
    }
    int64_t del_rev, deleted;
    ET_OK(dc_delete(s, prefix, strlen(prefix), DC_PREFIX, &deleted, &del_rev));
    ck_assert_int_eq(deleted, 3);
    dc_watch *w;
    ET_OK(dc_watch_open(s, prefix, strlen(prefix), rev + 1, DC_PREFIX | DC_PREV_KV, &w));
    size_t got = 0, deletes = 0;
    while (got < 6) {
        dc_events *ev = NULL;
        ET_OK(dc_watch_next(w, ET_WAIT_MS, &ev));
        for (size_t i = 0; i < ev->n; i++, got++) {
            const dc_event *e = &ev->events[i];
            const dc_kv *kv = e->type == DC_EVENT_PUT ? &e->kv : e->prev_kv;
            ck_assert_ptr_nonnull(kv);
            ck_assert_uint_eq(kv->value_len, len);
            ck_assert_mem_eq(kv->value, v, len);
            if (e->type == DC_EVENT_DELETE) {
                ck_assert_int_eq(e->kv.mod_revision, del_rev);
                deletes++;
            }
        }
        dc_events_free(ev);
    }
    ck_assert_uint_eq(deletes, 3);
    dc_watch_close(w);
    free(v);
    dc_store_close(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("etcd_limits");
    TCase *tc = tcase_create("limits");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, txn_over_the_server_op_limit_is_toobig);
    tcase_add_test(tc, txn_at_the_server_op_limit_commits_at_one_revision);
    tcase_add_test(tc, value_over_the_request_limit_is_toobig);
    tcase_add_test(tc, value_over_the_grpc_receive_cap_is_toobig);
    tcase_add_test(tc, value_just_under_the_request_limit_is_stored);
    tcase_add_test(tc, lease_ids_above_2_pow_53_round_trip_exactly);
    tcase_add_test(tc, binary_keys_and_values_round_trip);
    tcase_add_test(tc, watch_delivers_big_values_split_over_many_chunks_intact);
    tcase_add_test(tc, opens_from_an_ini_file_with_an_etcd_section);
    tcase_add_test(tc, bad_timeout_in_the_config_is_invalid);
    tcase_add_test(tc, a_dead_endpoint_first_in_the_list_is_skipped);
    tcase_add_test(tc, no_reachable_endpoint_is_unavailable);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
