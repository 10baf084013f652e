/*
 * mem://-specific behaviour that the store-neutral conformance suite cannot
 * check: named instances shared inside the process and private ones not,
 * its limits taken from the configuration, and two overlapping deletes in one
 * txn (the second deletes nothing, as in etcd; the key is freed once).
 */
#include <ddlcoord/ddlcoord.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"

START_TEST(named_instances_are_shared_and_private_ones_are_not)
{
    dc_store *a, *b, *c;
    ck_assert_int_eq(dc_store_open("mem://shared-unit", &a), DC_OK);
    ck_assert_int_eq(dc_store_open("mem://shared-unit", &b), DC_OK);
    ck_assert_int_eq(dc_store_open("mem://", &c), DC_OK);
    ck_assert_int_eq(dc_put(a, "k", 1, "v", 1, 0, NULL), DC_OK);
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(b, "k", 1, 0, 0, &kvs), DC_OK);
    ck_assert_uint_eq(kvs->n, 1);
    dc_kvs_free(kvs);
    ck_assert_int_eq(dc_get(c, "k", 1, 0, 0, &kvs), DC_OK);
    ck_assert_uint_eq(kvs->n, 0);
    dc_kvs_free(kvs);
    dc_store_close(a);
    /* b still holds the instance open */
    ck_assert_int_eq(dc_get(b, "k", 1, 0, 0, &kvs), DC_OK);
    ck_assert_uint_eq(kvs->n, 1);
    dc_kvs_free(kvs);
    dc_store_close(b);
    dc_store_close(c);
}
END_TEST

START_TEST(limits_come_from_the_configuration)
{
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://?max_txn_ops=2&max_value_bytes=4", &s), DC_OK);
    ck_assert_int_eq(dc_put(s, "k", 1, "1234", 4, 0, NULL), DC_OK);
    ck_assert_int_eq(dc_put(s, "k", 1, "12345", 5, 0, NULL), DC_ETOOBIG);
    dc_txn *t = dc_txn_new();
    for (int i = 0; i < 3; i++) {
        char k[2] = {(char)('a' + i), 0};
        dc_txn_put(t, DC_THEN, k, 1, "v", 1, 0, 0);
    }
    dc_txn_result *r;
    ck_assert_int_eq(dc_txn_commit(s, t, &r), DC_ETOOBIG);
    ck_assert_ptr_nonnull(strstr(dc_last_error(), "limit 2"));
    dc_txn_free(t);
    dc_store_close(s);
}
END_TEST

START_TEST(overlapping_deletes_in_one_txn_delete_each_key_once)
{
    dc_store *s;
    ck_assert_int_eq(dc_store_open("mem://", &s), DC_OK);
    int64_t r1;
    dc_put(s, "p/a", 3, "1", 1, 0, NULL);
    ck_assert_int_eq(dc_put(s, "p/b", 3, "2", 1, 0, &r1), DC_OK);
    dc_txn *t = dc_txn_new();
    dc_txn_delete(t, DC_THEN, "p/", 2, DC_PREFIX | DC_PREV_KV);
    dc_txn_delete(t, DC_THEN, "p/a", 3, DC_PREV_KV);
    dc_txn_result *r;
    ck_assert_int_eq(dc_txn_commit(s, t, &r), DC_OK);
    ck_assert_int_eq(r->revision, r1 + 1);
    ck_assert_int_eq(r->responses[0].deleted, 2);
    ck_assert_uint_eq(r->responses[0].n_prev_kvs, 2);
    ck_assert_int_eq(r->responses[1].deleted, 0);
    dc_txn_result_free(r);
    dc_txn_free(t);
    dc_kvs *kvs;
    ck_assert_int_eq(dc_get(s, "p/", 2, DC_PREFIX, 0, &kvs), DC_OK);
    ck_assert_uint_eq(kvs->n, 0);
    dc_kvs_free(kvs);
    dc_store_close(s);
}
END_TEST

DC_CHECK_MAIN("mem", "mem", named_instances_are_shared_and_private_ones_are_not,
              limits_come_from_the_configuration,
              overlapping_deletes_in_one_txn_delete_each_key_once)
