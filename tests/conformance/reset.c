/*
 * Resets (store.h, "Resets"): the store loses its data under an open handle.
 * The test resets the store with the command in DDLCOORD_TEST_RESET (the
 * server fixture names one where it can: FLUSHALL for Redis; mem:// resets
 * itself with dc_mem_reset), then a second
 * handle writes a new history until its revisions have passed everything
 * the first handle saw, so only the backend's own check (an epoch) can tell.
 * The first handle's watch must end with DC_ERESET and never deliver the new
 * history; a txn it prepared before the reset, whose compare would hold in
 * the new history, must fail with DC_ERESET and change nothing; every later
 * call on it answers DC_ERESET, with one ERROR line; a new handle works.
 * Registered for mem:// and for stores whose fixture can reset them (main.c
 * says which).
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>

static int errors, reset_errors;

static void count_errors(dc_log_level level, const char *component, const char *message,
                         void *userdata)
{
    if (level != DC_LOG_ERROR) return;
    errors++;
    if (strstr(message, "reset")) reset_errors++;
}

static void reset_store(void)
{
    if (strncmp(conf_uri, "mem:", 4) == 0) { /* in this process: the mem:// failpoint */
        OK(dc_mem_reset(conf_store));
        return;
    }
    const char *cmd = getenv("DDLCOORD_TEST_RESET");
    ck_assert_msg(cmd && *cmd, "DDLCOORD_TEST_RESET is not set");
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "'%s' failed (%d)", cmd, rc);
}

CONF_TEST(a_reset_ends_watches_fails_prepared_writes_and_poisons_the_handle)
{
    dc_store *a = conf_store;
    int64_t lock_rev = conf_put(K("lock"), "old-owner");
    conf_put(K("x"), "1");
    int64_t seen = conf_put(K("y"), "2");
    dc_watch *w = conf_watch(K(""), seen + 1, DC_PREFIX);
    /* prepared before the reset: "if lock is still the one I know, take it" */
    dc_txn *t = conf_txn();
    OK(dc_txn_compare_int(t, K("lock"), strlen(K("lock")), DC_TARGET_CREATE, DC_CMP_EQUAL,
                          lock_rev));
    OK(dc_txn_put(t, DC_THEN, K("lock"), strlen(K("lock")), "stale", 5, 0, 0));

    errors = reset_errors = 0;
    dc_log_set_handler(count_errors, NULL);
    reset_store();

    /* a new handle builds a new history past everything a saw, in which the
     * lock key has the very create_revision a's compare expects */
    dc_store *b;
    OK(dc_store_open(conf_uri, &b));
    char key[512];
    int64_t rev = 0, lock2 = 0;
    for (int i = 0; rev <= seen + 3 || !lock2; i++) {
        int64_t r;
        if (rev + 1 == lock_rev || (!lock2 && rev + 1 > lock_rev)) {
            snprintf(key, sizeof key, "%s", K("lock"));
            OK(dc_put(b, key, strlen(key), "new-owner", 9, 0, &r));
            lock2 = r;
        } else {
            snprintf(key, sizeof key, "%sfill%d", conf_prefix, i);
            OK(dc_put(b, key, strlen(key), "f", 1, 0, &r));
        }
        ck_assert_int_gt(r, rev);
        rev = r;
        ck_assert_int_lt(i, 200000);
    }
    int64_t before;
    OK(dc_revision(b, &before));

    /* the watch ends with DC_ERESET; nothing of the new history comes through */
    dc_events *ev = NULL;
    int rc;
    while ((rc = dc_watch_next(w, CONF_WAIT_MS, &ev)) == DC_OK) {
        for (size_t i = 0; i < ev->n; i++)
            ck_abort_msg("the old watch delivered '%.*s' at revision %lld of the new history",
                         (int)ev->events[i].kv.key_len, ev->events[i].kv.key,
                         (long long)ev->events[i].kv.mod_revision);
        dc_events_free(ev);
    }
    EXPECT_RC(rc, DC_ERESET);

    /* the prepared txn does not apply to the new history */
    dc_txn_result *res = NULL;
    EXPECT_RC(dc_txn_commit(a, t, &res), DC_ERESET);
    ck_assert_ptr_null(res);
    dc_txn_free(t);
    dc_kvs *kvs;
    OK(dc_get(b, K("lock"), strlen(K("lock")), 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    EXPECT_KV(&kvs->kvs[0], K("lock"), "new-owner");
    dc_kvs_free(kvs);
    int64_t after;
    OK(dc_revision(b, &after));
    ck_assert_int_eq(after, before);

    /* every call on a now says so */
    int64_t r, id;
    EXPECT_RC(dc_revision(a, &r), DC_ERESET);
    EXPECT_RC(dc_put(a, K("z"), strlen(K("z")), "v", 1, 0, NULL), DC_ERESET);
    EXPECT_RC(dc_get(a, K(""), strlen(K("")), DC_PREFIX, 0, &kvs), DC_ERESET);
    EXPECT_RC(dc_lease_grant(a, 10, &id, NULL), DC_ERESET);
    dc_watch *w2 = NULL;
    EXPECT_RC(dc_watch_open(a, K(""), strlen(K("")), 0, DC_PREFIX, &w2), DC_ERESET);
    ck_assert_int_eq(reset_errors, 1);
    ck_assert_int_eq(errors, 1);
    dc_log_set_handler(NULL, NULL);
    dc_watch_close(w);

    /* the test's own cleanup runs on a fresh handle */
    dc_store_close(a);
    conf_store = b;
}

TCase *conf_reset_tcase(void)
{
    TCase *tc = tcase_create("reset");
    tcase_add_test(tc, a_reset_ends_watches_fails_prepared_writes_and_poisons_the_handle);
    return tc;
}
