/*
 * etcd driver on a multi-member cluster on loopback: the shared 3-member
 * cluster of tests/cluster (tests/fixtures/etcd_cluster.sh), or a private
 * 2-member one (run-with-etcd.sh … --members 2). The URI lists every member,
 * member 0 first.
 *
 * With three members, killing the member the driver talks to (after moving
 * the raft leadership away from it) leaves a quorum and a leader: calls must
 * fail over to the others and a watch must resume there
 * without losing or repeating an event. With two members, killing one
 * leaves no quorum (etcd needs 2 of 2), so nothing can succeed: calls must
 * then end with a typed error within the request timeout, never hang, and
 * work again once the member is back.
 */
#include "etcd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int members(void)
{
    int n = 1;
    for (const char *p = getenv("DDLCOORD_TEST_STORE"); p && *p; p++) n += *p == ',';
    return n;
}

static void put_values(dc_store *s, const char *key, int from, int to)
{
    for (int i = from; i <= to; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        ET_OK(dc_put(s, key, strlen(key), v, strlen(v), 0, NULL));
    }
}

START_TEST(killing_the_member_in_use_fails_over_to_the_others)
{
    ck_assert_int_ge(members(), 3);
    dc_store *s = et_open("request_timeout_ms=5000");
    const char *key = et_key("cluster/k");
    int64_t rev;
    ET_OK(dc_revision(s, &rev));
    dc_watch *w;
    ET_OK(dc_watch_open(s, key, strlen(key), rev + 1, 0, &w));
    static et_seen seen;
    put_values(s, key, 1, 20); /* all through member 0, the first endpoint */
    et_collect(w, &seen, 20);
    /* Keep the cluster's leader alive: this test is about the driver losing
     * its endpoint, not about an election (during which etcd itself may
     * hold a write for 7 s and its outcome is unknown). */
    et_fixture("move-leader", "1");
    et_fixture("kill", "0 KILL");
    put_values(s, key, 21, 40);
    et_expect_value(s, key, "40");
    et_collect(w, &seen, 40);
    for (int i = 0; i < 40; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i + 1);
        ck_assert_str_eq(seen.values[i], v);
    }
    dc_events *ev = NULL;
    ET_EXPECT_RC(dc_watch_next(w, 500, &ev), DC_ETIMEDOUT);
    dc_watch_close(w);
    /* a new handle skips the dead first endpoint too */
    dc_store *s2 = et_open(NULL);
    ET_OK(dc_put(s2, key, strlen(key), "41", 2, 0, NULL));
    dc_store_close(s2);
    dc_store_close(s);
    /* The cluster is shared with other tests (tests/cluster): bring the
     * member back, and it serves the writes made while it was down. */
    et_fixture("restart", "0");
    dc_store *s3 = et_open(NULL); /* member 0 is the first endpoint again */
    et_expect_value(s3, key, "41");
    dc_store_close(s3);
}
END_TEST

START_TEST(losing_quorum_gives_a_typed_error_then_recovers)
{
    ck_assert_int_eq(members(), 2);
    dc_store *s = et_open("request_timeout_ms=2000");
    const char *key = et_key("cluster/q");
    ET_OK(dc_put(s, key, strlen(key), "1", 1, 0, NULL));
    et_fixture("kill", "0 KILL");
    int rc = dc_put(s, key, strlen(key), "2", 1, 0, NULL);
    ck_assert_msg(rc == DC_EUNKNOWN || rc == DC_EUNAVAILABLE || rc == DC_ETIMEDOUT,
                  "put without quorum: %s (%s)", dc_errname(rc), dc_last_error());
    dc_kvs *kvs = NULL;
    rc = dc_get(s, key, strlen(key), 0, 0, &kvs);
    ck_assert_msg(rc == DC_EUNAVAILABLE || rc == DC_ETIMEDOUT, "get without quorum: %s (%s)",
                  dc_errname(rc), dc_last_error());
    et_fixture("restart", "0");
    /* the pair elects a leader again; until then calls fail with typed errors */
    for (int i = 0; i < 30; i++) {
        rc = dc_put(s, key, strlen(key), "3", 1, 0, NULL);
        if (rc == DC_OK) break;
        ck_assert_msg(rc == DC_EUNKNOWN || rc == DC_EUNAVAILABLE || rc == DC_ETIMEDOUT,
                      "put while recovering: %s (%s)", dc_errname(rc), dc_last_error());
    }
    ET_OK(rc);
    et_expect_value(s, key, "3");
    dc_store_close(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("etcd_cluster");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 120);
    if (members() >= 3)
        tcase_add_test(tc, killing_the_member_in_use_fails_over_to_the_others);
    else
        tcase_add_test(tc, losing_quorum_gives_a_typed_error_then_recovers);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
