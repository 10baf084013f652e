/*
 * Leader election (core/election) on the store named by DDLCOORD_TEST_STORE:
 * the lowest create revision leads, a waiting candidate takes over when the
 * leader resigns or its lease goes away, a deposed leader notices, and its
 * fenced writes are rejected by the store. Store-neutral: it runs unchanged
 * on every backend.
 */
#include <check.h>
#include <ddlcoord/ddlcoord.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static dc_store *store;
static char prefix[256];  /* this test's keys */
static char eprefix[300]; /* the election's keys, under prefix */

static void setup(void)
{
    const char *uri = getenv("DDLCOORD_TEST_STORE");
    ck_assert_msg(uri && *uri, "DDLCOORD_TEST_STORE is not set");
    ck_assert_msg(dc_store_open(uri, &store) == DC_OK, "open %s: %s", uri, dc_last_error());
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(prefix, sizeof prefix, "/election-test/%d-%lld/", (int)getpid(),
             (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    snprintf(eprefix, sizeof eprefix, "%selection/", prefix);
}

static void teardown(void)
{
    dc_delete(store, prefix, strlen(prefix), DC_PREFIX, NULL, NULL);
    dc_store_close(store);
}

/* A write guarded like a leading master's: it applies only while key still
 * has create_revision rev. Returns the txn's succeeded flag. */
static int fenced_put(const char *key, size_t key_len, int64_t rev, const char *what)
{
    char k[512];
    snprintf(k, sizeof k, "%sdata", prefix);
    dc_txn *t = dc_txn_new();
    dc_txn_compare_int(t, key, key_len, DC_TARGET_CREATE, DC_CMP_EQUAL, rev);
    dc_txn_put(t, DC_THEN, k, strlen(k), what, strlen(what), 0, 0);
    dc_txn_result *r;
    ck_assert_int_eq(dc_txn_commit(store, t, &r), DC_OK);
    int ok = r->succeeded;
    dc_txn_result_free(r);
    dc_txn_free(t);
    return ok;
}

START_TEST(single_candidate_leads_and_is_visible)
{
    dc_election *a;
    ck_assert_int_eq(dc_election_new(store, eprefix, "alpha", 2, &a), DC_OK);
    ck_assert_int_eq(dc_election_fence(a, NULL, NULL, NULL), DC_ENOTFOUND);
    ck_assert_int_eq(dc_election_campaign(a, 10000), DC_OK);
    char *name;
    int64_t rev;
    ck_assert_int_eq(dc_election_leader(store, eprefix, &name, &rev), DC_OK);
    ck_assert_str_eq(name, "alpha");
    free(name);
    const char *key;
    size_t key_len;
    int64_t frev;
    ck_assert_int_eq(dc_election_fence(a, &key, &key_len, &frev), DC_OK);
    ck_assert_int_eq(frev, rev);
    ck_assert_int_eq(fenced_put(key, key_len, frev, "by alpha"), 1);
    ck_assert_int_eq(dc_election_lost(a), 0);
    dc_election_free(a);
    ck_assert_int_eq(dc_election_leader(store, eprefix, NULL, NULL), DC_ENOTFOUND);
}
END_TEST

START_TEST(second_candidate_waits_then_leads_after_resign)
{
    dc_election *a, *b;
    ck_assert_int_eq(dc_election_new(store, eprefix, "alpha", 2, &a), DC_OK);
    ck_assert_int_eq(dc_election_new(store, eprefix, "beta", 2, &b), DC_OK);
    ck_assert_int_eq(dc_election_campaign(a, 10000), DC_OK);
    ck_assert_int_eq(dc_election_campaign(b, 300), DC_ETIMEDOUT);
    ck_assert_int_eq(dc_election_fence(b, NULL, NULL, NULL), DC_ENOTFOUND);
    ck_assert_int_eq(dc_election_resign(a), DC_OK);
    ck_assert_int_eq(dc_election_campaign(b, 10000), DC_OK);
    char *name;
    ck_assert_int_eq(dc_election_leader(store, eprefix, &name, NULL), DC_OK);
    ck_assert_str_eq(name, "beta");
    free(name);
    dc_election_free(a);
    dc_election_free(b);
}
END_TEST

START_TEST(lowest_create_revision_leads_among_three)
{
    dc_election *c[3];
    const char *names[3] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(dc_election_new(store, eprefix, names[i], 2, &c[i]), DC_OK);
        int rc = dc_election_campaign(c[i], i == 0 ? 10000 : 200);
        ck_assert_int_eq(rc, i == 0 ? DC_OK : DC_ETIMEDOUT);
    }
    /* the middle one leaving changes nothing: the first still leads */
    dc_election_free(c[1]);
    ck_assert_int_eq(dc_election_campaign(c[2], 300), DC_ETIMEDOUT);
    dc_election_free(c[0]);
    ck_assert_int_eq(dc_election_campaign(c[2], 10000), DC_OK);
    dc_election_free(c[2]);
}
END_TEST

START_TEST(deposed_leader_notices_and_its_fenced_writes_fail)
{
    dc_election *a, *b;
    ck_assert_int_eq(dc_election_new(store, eprefix, "alpha", 2, &a), DC_OK);
    ck_assert_int_eq(dc_election_new(store, eprefix, "beta", 2, &b), DC_OK);
    ck_assert_int_eq(dc_election_campaign(a, 10000), DC_OK);
    const char *k;
    size_t klen;
    int64_t rev;
    ck_assert_int_eq(dc_election_fence(a, &k, &klen, &rev), DC_OK);
    char key[512];
    memcpy(key, k, klen);
    key[klen] = '\0';
    /* Take alpha's lease away behind its back, as an expiry would: its key
     * name carries the lease ID. */
    int64_t lease = (int64_t)strtoull(key + strlen(eprefix), NULL, 16);
    ck_assert_int_eq(dc_lease_revoke(store, lease), DC_OK);
    /* beta takes over; alpha's guarded writes fail in the store at once */
    ck_assert_int_eq(dc_election_campaign(b, 10000), DC_OK);
    ck_assert_int_eq(fenced_put(key, klen, rev, "by deposed alpha"), 0);
    /* and alpha notices within a keepalive period or two */
    for (int i = 0; i < 100 && !dc_election_lost(a); i++) usleep(100000);
    ck_assert_int_eq(dc_election_lost(a), 1);
    ck_assert_int_eq(dc_election_fence(a, NULL, NULL, NULL), DC_ENOTFOUND);
    ck_assert_int_eq(dc_election_campaign(a, 0), DC_ECHANGED);
    dc_election_free(a);
    dc_election_free(b);
}
END_TEST

START_TEST(invalid_arguments_are_rejected)
{
    dc_election *e;
    ck_assert_int_eq(dc_election_new(NULL, prefix, "x", 2, &e), DC_EINVAL);
    ck_assert_int_eq(dc_election_new(store, "", "x", 2, &e), DC_EINVAL);
    ck_assert_int_eq(dc_election_new(store, eprefix, NULL, 2, &e), DC_EINVAL);
    ck_assert_int_eq(dc_election_new(store, eprefix, "x", 0, &e), DC_EINVAL);
    ck_assert_int_eq(dc_election_campaign(NULL, 0), DC_EINVAL);
}
END_TEST

/* Every failure of an election function leaves its own detail in
 * dc_last_error, never the message of an older, unrelated failure. */
START_TEST(election_errors_carry_their_own_detail)
{
    dc_election *e;
    /* an unrelated failure first: its message must not survive */
    dc_kvs *kvs = NULL;
    ck_assert_int_eq(dc_get(store, "", 0, 0, 0, &kvs), DC_EINVAL);
    char before[600];
    snprintf(before, sizeof before, "%s", dc_last_error());
    ck_assert_int_eq(dc_election_new(store, "", "x", 2, &e), DC_EINVAL);
    ck_assert_msg(strstr(dc_last_error(), "dc_election_new") != NULL, "detail: %s",
                  dc_last_error());
    ck_assert_str_ne(dc_last_error(), before);
    char *name = NULL;
    ck_assert_int_eq(dc_election_leader(store, eprefix, &name, NULL), DC_ENOTFOUND);
    ck_assert_msg(strstr(dc_last_error(), "no candidate") != NULL, "detail: %s", dc_last_error());
    ck_assert_int_eq(dc_election_new(store, eprefix, "a", 5, &e), DC_OK);
    const char *key;
    size_t key_len;
    ck_assert_int_eq(dc_election_fence(e, &key, &key_len, NULL), DC_ENOTFOUND);
    ck_assert_msg(strstr(dc_last_error(), "not leading") != NULL, "detail: %s", dc_last_error());
    dc_election_free(e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("election");
    TCase *tc = tcase_create("election");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, single_candidate_leads_and_is_visible);
    tcase_add_test(tc, second_candidate_waits_then_leads_after_resign);
    tcase_add_test(tc, lowest_create_revision_leads_among_three);
    tcase_add_test(tc, deposed_leader_notices_and_its_fenced_writes_fail);
    tcase_add_test(tc, invalid_arguments_are_rejected);
    tcase_add_test(tc, election_errors_carry_their_own_detail);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
