/*
 * Txn atomicity under concurrent writers: four threads increment one counter
 * with compare-and-swap txns (compare the value read, or its mod_revision;
 * the else branch reads the current value for the next try). Every
 * successful swap must count exactly once, so the counter ends at exactly
 * the number of increments and its version at that number plus one.
 */
#include "conformance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define CAS_THREADS    4
#define CAS_INCREMENTS 100

typedef struct cas_thread {
    const char *key;
    int by_mod; /* compare mod_revision instead of the value */
    int done;
    long conflicts;
    int rc;
    char msg[256];
} cas_thread;

static void *cas_worker(void *arg)
{
    cas_thread *ct = arg;
    size_t kl = strlen(ct->key);
    dc_kvs *cur = NULL;
    ct->rc = dc_get(conf_store, ct->key, kl, 0, 0, &cur);
    if (ct->rc != DC_OK) {
        snprintf(ct->msg, sizeof ct->msg, "get: %s", dc_last_error());
        return NULL;
    }
    char value[32];
    int64_t mod = 0;
    if (cur->n != 1) {
        ct->rc = DC_EINTERNAL;
        snprintf(ct->msg, sizeof ct->msg, "counter key missing");
        dc_kvs_free(cur);
        return NULL;
    }
    snprintf(value, sizeof value, "%s", cur->kvs[0].value);
    mod = cur->kvs[0].mod_revision;
    dc_kvs_free(cur);

    while (ct->done < CAS_INCREMENTS) {
        char next[32];
        int nl = snprintf(next, sizeof next, "%lld", atoll(value) + 1);
        dc_txn *t = dc_txn_new();
        if (!t) {
            ct->rc = DC_ENOMEM;
            snprintf(ct->msg, sizeof ct->msg, "out of memory");
            return NULL;
        }
        if (ct->by_mod)
            dc_txn_compare_int(t, ct->key, kl, DC_TARGET_MOD, DC_CMP_EQUAL, mod);
        else
            dc_txn_compare_value(t, ct->key, kl, DC_CMP_EQUAL, value, strlen(value));
        dc_txn_put(t, DC_THEN, ct->key, kl, next, (size_t)nl, 0, 0);
        dc_txn_get(t, DC_ELSE, ct->key, kl, 0, 0);
        dc_txn_result *r = NULL;
        ct->rc = dc_txn_commit(conf_store, t, &r);
        dc_txn_free(t);
        if (ct->rc != DC_OK) {
            snprintf(ct->msg, sizeof ct->msg, "txn: %s: %s", dc_errname(ct->rc), dc_last_error());
            return NULL;
        }
        if (r->succeeded) {
            ct->done++;
            memcpy(value, next, (size_t)nl + 1);
            mod = r->revision;
        } else if (r->n_responses == 1 && r->responses[0].kind == DC_OP_GET &&
                   r->responses[0].n_kvs == 1) {
            ct->conflicts++;
            snprintf(value, sizeof value, "%s", r->responses[0].kvs[0].value);
            mod = r->responses[0].kvs[0].mod_revision;
        } else {
            ct->rc = DC_EINTERNAL;
            snprintf(ct->msg, sizeof ct->msg, "else branch returned %zu responses", r->n_responses);
            dc_txn_result_free(r);
            return NULL;
        }
        dc_txn_result_free(r);
    }
    return NULL;
}

static void cas_run(int by_mod)
{
    const char *key = K("counter");
    conf_put(key, "0");
    cas_thread ct[CAS_THREADS];
    pthread_t th[CAS_THREADS];
    memset(ct, 0, sizeof ct);
    for (int i = 0; i < CAS_THREADS; i++) {
        ct[i].key = key;
        ct[i].by_mod = by_mod;
        ck_assert_int_eq(pthread_create(&th[i], NULL, cas_worker, &ct[i]), 0);
    }
    for (int i = 0; i < CAS_THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < CAS_THREADS; i++) {
        ck_assert_msg(ct[i].rc == DC_OK, "thread %d: %s", i, ct[i].msg);
        ck_assert_int_eq(ct[i].done, CAS_INCREMENTS);
    }
    dc_kvs *r = conf_get(key, 0, 0);
    ck_assert_uint_eq(r->n, 1);
    ck_assert_int_eq(atoll(r->kvs[0].value), CAS_THREADS * CAS_INCREMENTS);
    ck_assert_int_eq(r->kvs[0].version, CAS_THREADS * CAS_INCREMENTS + 1);
    dc_kvs_free(r);
}

CONF_TEST(txn_cas_on_value_from_4_threads_counts_every_increment_once)
{
    cas_run(0);
}
END_TEST

CONF_TEST(txn_cas_on_mod_revision_from_4_threads_counts_every_increment_once)
{
    cas_run(1);
}
END_TEST

TCase *conf_cas_tcase(void)
{
    TCase *tc = tcase_create("cas");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, txn_cas_on_value_from_4_threads_counts_every_increment_once);
    tcase_add_test(tc, txn_cas_on_mod_revision_from_4_threads_counts_every_increment_once);
    return tc;
}
