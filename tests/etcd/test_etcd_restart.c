/*
 * etcd driver against a server that restarts, freezes or goes away, and
 * watches across compaction. Runs on a private single-member server
 * (run-with-etcd.sh) that the tests stop, freeze (SIGSTOP) and restart.
 */
#include "etcd_test.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put_values(dc_store *s, const char *key, int from, int to)
{
    for (int i = from; i <= to; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        ET_OK(dc_put(s, key, strlen(key), v, strlen(v), 0, NULL));
    }
}

/* The watch saw exactly the values 1..n, once each, in order. */
static void expect_sequence(const et_seen *seen, int n)
{
    ck_assert_uint_eq(seen->n, (size_t)n);
    for (int i = 0; i < n; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i + 1);
        ck_assert_msg(strcmp(seen->values[i], v) == 0, "event %d has value %s, want %s", i,
                      seen->values[i], v);
        if (i) ck_assert_int_gt(seen->revs[i], seen->revs[i - 1]);
    }
}

static void restart_during_watch(const char *signal_name)
{
    dc_store *s = et_open("request_timeout_ms=5000");
    const char *key = et_key("restart/k");
    int64_t rev;
    ET_OK(dc_revision(s, &rev));
    dc_watch *w;
    ET_OK(dc_watch_open(s, key, strlen(key), rev + 1, 0, &w));
    static et_seen seen;
    memset(&seen, 0, sizeof seen);
    put_values(s, key, 1, 40);
    et_collect(w, &seen, 20); /* some delivered before the restart, maybe more queued */
    char args[32];
    snprintf(args, sizeof args, "0 %s", signal_name);
    et_fixture("kill", args);
    et_fixture("restart", "0");
    put_values(s, key, 41, 80);
    et_collect(w, &seen, 80);
    expect_sequence(&seen, 80);
    /* and nothing more arrives: no duplicate replay after the resume */
    dc_events *ev = NULL;
    ET_EXPECT_RC(dc_watch_next(w, 500, &ev), DC_ETIMEDOUT);
    dc_watch_close(w);
    dc_store_close(s);
}

START_TEST(watch_resumes_after_a_clean_restart_without_loss_or_duplicates)
{
    restart_during_watch("TERM");
}
END_TEST

START_TEST(watch_resumes_after_a_crash_without_loss_or_duplicates)
{
    restart_during_watch("KILL");
}
END_TEST

START_TEST(every_multiplexed_watch_resumes_after_the_servers_goaway)
{
    /* A graceful stop sends GOAWAY on the one connection that carries
     * every stream of the handle: each watch must resume on the new
     * connection at its own next revision, losing and repeating nothing. */
    enum { W = 20 };
    dc_store *s = et_open("request_timeout_ms=5000");
    static char keys[W][128];
    static dc_watch *w[W];
    static et_seen seen[W];
    int64_t rev;
    ET_OK(dc_revision(s, &rev));
    for (int i = 0; i < W; i++) {
        char k[32];
        snprintf(k, sizeof k, "goaway/%02d", i);
        snprintf(keys[i], sizeof keys[i], "%s", et_key(k));
        ET_OK(dc_watch_open(s, keys[i], strlen(keys[i]), rev + 1, 0, &w[i]));
        memset(&seen[i], 0, sizeof seen[i]);
    }
    ck_assert_int_eq(et_connections_to(et_endpoint_port(0)), 1);
    for (int i = 0; i < W; i++) put_values(s, keys[i], 1, 10);
    for (int i = 0; i < W; i++) et_collect(w[i], &seen[i], 5); /* mid-stream for some */
    et_fixture("kill", "0 TERM");
    et_fixture("restart", "0");
    for (int i = 0; i < W; i++) put_values(s, keys[i], 11, 20);
    for (int i = 0; i < W; i++) {
        et_collect(w[i], &seen[i], 20);
        expect_sequence(&seen[i], 20);
        dc_events *ev = NULL;
        ET_EXPECT_RC(dc_watch_next(w[i], 100, &ev), DC_ETIMEDOUT);
        dc_watch_close(w[i]);
    }
    ck_assert_int_eq(et_connections_to(et_endpoint_port(0)), 1);
    dc_store_close(s);
}
END_TEST

START_TEST(live_watch_keeps_delivering_across_a_compaction)
{
    dc_store *s = et_open(NULL);
    const char *key = et_key("compact/live");
    int64_t rev;
    ET_OK(dc_revision(s, &rev));
    dc_watch *w;
    ET_OK(dc_watch_open(s, key, strlen(key), rev + 1, DC_PREV_KV, &w));
    static et_seen seen;
    memset(&seen, 0, sizeof seen);
    put_values(s, key, 1, 10);
    et_collect(w, &seen, 10);
    int64_t now;
    ET_OK(dc_revision(s, &now));
    ET_OK(dc_compact(s, now));
    put_values(s, key, 11, 20);
    et_collect(w, &seen, 20);
    expect_sequence(&seen, 20);
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

START_TEST(watch_from_a_compacted_revision_ends_with_the_compact_revision)
{
    dc_store *s = et_open(NULL);
    const char *key = et_key("compact/old");
    int64_t first, now;
    ET_OK(dc_put(s, key, strlen(key), "a", 1, 0, &first));
    put_values(s, key, 1, 5);
    ET_OK(dc_revision(s, &now));
    ET_OK(dc_compact(s, now));
    /* compacting again below the point is a typed error naming the point */
    ET_EXPECT_RC(dc_compact(s, first), DC_ECOMPACTED);
    dc_watch *w;
    ET_OK(dc_watch_open(s, key, strlen(key), first, 0, &w));
    dc_events *ev = NULL;
    ET_EXPECT_RC(dc_watch_next(w, ET_WAIT_MS, &ev), DC_ECOMPACTED);
    ck_assert_int_eq(dc_watch_compact_revision(w), now);
    dc_watch_close(w);
    /* from the compact revision itself the history is still there */
    ET_OK(dc_watch_open(s, key, strlen(key), now, 0, &w));
    ET_OK(dc_watch_next(w, ET_WAIT_MS, &ev));
    ck_assert_int_eq(ev->events[0].kv.mod_revision, now);
    dc_events_free(ev);
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

START_TEST(a_watch_from_just_below_the_compact_revision_is_compacted)
{
    /* dc_compact(C) is etcd's Compact(C - 1), which drops the tombstones of
     * deletes at C - 1; etcd still accepts a watch from C - 1, so the driver
     * must not ask for that: the watch would start after the lost delete. */
    dc_store *s = et_open(NULL);
    const char *key = et_key("compact/below");
    int64_t del_rev, next;
    ET_OK(dc_put(s, key, strlen(key), "x", 1, 0, NULL));
    ET_OK(dc_delete(s, key, strlen(key), 0, NULL, &del_rev));
    ET_OK(dc_put(s, key, strlen(key), "z", 1, 0, &next));
    ck_assert_int_eq(next, del_rev + 1);
    ET_OK(dc_compact(s, next));
    dc_watch *w;
    dc_events *ev = NULL;
    ET_OK(dc_watch_open(s, key, strlen(key), del_rev, 0, &w));
    int rc = dc_watch_next(w, ET_WAIT_MS, &ev);
    if (rc == DC_OK)
        ck_abort_msg("a watch from %lld (compacted at %lld) delivered revision %lld first",
                     (long long)del_rev, (long long)next, (long long)ev->events[0].kv.mod_revision);
    ck_assert_int_eq(rc, DC_ECOMPACTED);
    ck_assert_int_eq(dc_watch_compact_revision(w), next);
    dc_watch_close(w);
    /* from the compact revision itself: the put, nothing before it */
    ET_OK(dc_watch_open(s, key, strlen(key), next, 0, &w));
    ET_OK(dc_watch_next(w, ET_WAIT_MS, &ev));
    ck_assert_int_eq(ev->events[0].kv.mod_revision, next);
    dc_events_free(ev);
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

START_TEST(a_delete_at_the_compact_revision_is_replayed_from_there)
{
    /* etcd's Compact(R) drops the tombstones of deletes made at R, so a
     * watch from R would never see that DELETE (robustness.etcd caught a
     * watch reopened at the reported compact revision skipping one). */
    dc_store *s = et_open(NULL);
    const char *key = et_key("compact/tomb");
    int64_t first, del_rev;
    ET_OK(dc_put(s, key, strlen(key), "x", 1, 0, &first));
    ET_OK(dc_put(s, key, strlen(key), "y", 1, 0, NULL));
    ET_OK(dc_delete(s, key, strlen(key), 0, NULL, &del_rev));
    ET_OK(dc_compact(s, del_rev));
    dc_watch *w;
    dc_events *ev = NULL;
    ET_OK(dc_watch_open(s, key, strlen(key), first, 0, &w));
    ET_EXPECT_RC(dc_watch_next(w, ET_WAIT_MS, &ev), DC_ECOMPACTED);
    int64_t at = dc_watch_compact_revision(w);
    dc_watch_close(w);
    ck_assert_int_le(at, del_rev); /* the delete is still in the history */
    ET_OK(dc_watch_open(s, key, strlen(key), at, 0, &w));
    ET_OK(dc_watch_next(w, 5000, &ev));
    ck_assert_int_eq(ev->events[0].type, DC_EVENT_DELETE);
    ck_assert_int_eq(ev->events[0].kv.mod_revision, del_rev);
    dc_events_free(ev);
    dc_watch_close(w);
    dc_store_close(s);
}
END_TEST

START_TEST(write_to_a_frozen_server_has_an_unknown_outcome)
{
    dc_store *s = et_open("request_timeout_ms=1000");
    const char *key = et_key("frozen");
    ET_OK(dc_put(s, key, strlen(key), "before", 6, 0, NULL));
    int pid = et_member_pid(0);
    et_freeze(pid);
    int put_rc = dc_put(s, key, strlen(key), "during", 6, 0, NULL);
    dc_kvs *kvs = NULL;
    int get_rc = dc_get(s, key, strlen(key), 0, 0, &kvs);
    ck_assert_int_eq(kill(pid, SIGCONT), 0);
    ck_assert_msg(put_rc == DC_EUNKNOWN, "put to a frozen server: %s, want DC_EUNKNOWN",
                  dc_errname(put_rc));
    ck_assert_msg(get_rc == DC_ETIMEDOUT, "get from a frozen server: %s, want DC_ETIMEDOUT",
                  dc_errname(get_rc));
    /* once thawed, the same handle works again */
    ET_OK(dc_get(s, key, strlen(key), 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    dc_kvs_free(kvs);
    dc_store_close(s);
}
END_TEST

typedef struct bg_put {
    dc_store *s;
    const char *key;
    int rc;
} bg_put;

static void *put_in_background(void *arg)
{
    bg_put *b = arg;
    b->rc = dc_put(b->s, b->key, strlen(b->key), "during", 6, 0, NULL);
    return NULL;
}

START_TEST(write_whose_server_dies_after_receiving_it_has_an_unknown_outcome)
{
    dc_store *s = et_open("request_timeout_ms=20000");
    const char *key = et_key("dies");
    /* the put before leaves a kept-alive connection, which the next put reuses */
    ET_OK(dc_put(s, key, strlen(key), "before", 6, 0, NULL));
    int pid = et_member_pid(0);
    et_freeze(pid);
    bg_put b = {s, key, DC_OK};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, put_in_background, &b), 0);
    sleep(1); /* the request is now in the frozen server's socket buffer */
    et_fixture("kill", "0 KILL");
    pthread_join(t, NULL);
    /* The connection died after the request left: not "unavailable" (which
     * promises nothing was written), and never silently re-sent. */
    ck_assert_msg(b.rc == DC_EUNKNOWN, "put to a server killed mid-request: %s, want DC_EUNKNOWN",
                  dc_errname(b.rc));
    et_fixture("restart", "0");
    dc_kvs *kvs;
    ET_OK(dc_get(s, key, strlen(key), 0, 0, &kvs));
    ck_assert_uint_eq(kvs->n, 1);
    dc_kvs_free(kvs);
    dc_store_close(s);
}
END_TEST

START_TEST(calls_to_a_stopped_server_are_unavailable_then_recover)
{
    dc_store *s = et_open("request_timeout_ms=2000");
    const char *key = et_key("stopped");
    ET_OK(dc_put(s, key, strlen(key), "v", 1, 0, NULL));
    et_fixture("kill", "0 TERM");
    ET_EXPECT_RC(dc_put(s, key, strlen(key), "w", 1, 0, NULL), DC_EUNAVAILABLE);
    dc_kvs *kvs = NULL;
    ET_EXPECT_RC(dc_get(s, key, strlen(key), 0, 0, &kvs), DC_EUNAVAILABLE);
    dc_watch *w = NULL;
    ET_EXPECT_RC(dc_watch_open(s, key, strlen(key), 1, 0, &w), DC_EUNAVAILABLE);
    et_fixture("restart", "0");
    et_expect_value(s, key, "v");
    dc_store_close(s);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("etcd_restart");
    TCase *tc = tcase_create("restart");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, watch_resumes_after_a_clean_restart_without_loss_or_duplicates);
    tcase_add_test(tc, watch_resumes_after_a_crash_without_loss_or_duplicates);
    tcase_add_test(tc, every_multiplexed_watch_resumes_after_the_servers_goaway);
    tcase_add_test(tc, live_watch_keeps_delivering_across_a_compaction);
    tcase_add_test(tc, watch_from_a_compacted_revision_ends_with_the_compact_revision);
    tcase_add_test(tc, a_delete_at_the_compact_revision_is_replayed_from_there);
    tcase_add_test(tc, a_watch_from_just_below_the_compact_revision_is_compacted);
    tcase_add_test(tc, write_to_a_frozen_server_has_an_unknown_outcome);
    tcase_add_test(tc, write_whose_server_dies_after_receiving_it_has_an_unknown_outcome);
    tcase_add_test(tc, calls_to_a_stopped_server_are_unavailable_then_recover);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
