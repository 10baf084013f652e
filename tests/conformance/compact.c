/*
 * Compaction: a watch starting before the compact point ends with
 * DC_ECOMPACTED and reports a compact revision above its start and at most
 * the revision compacted at; a watch from the compact point itself still
 * works and current values are untouched; compacting an already compacted
 * revision is DC_ECOMPACTED, and a future one DC_EINVAL. Backends may keep
 * a little more history than asked, so only starts well below the compact
 * point are asserted compacted. The server is not shared with other suites
 * while this runs (ctest serialises suites per server), and every compact
 * revision here was just obtained.
 */
#include "conformance.h"

#include <poll.h>
#include <stdint.h>
#include <stdio.h>

/* Write enough history that the compact point lies far above the first
 * revision of the test; returns the last revision written. */
static int64_t write_history(int64_t *first)
{
    int64_t last = 0;
    for (int i = 0; i < 30; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        last = conf_put(K(i % 3 ? "k" : "j"), v);
        if (i == 0) *first = last;
    }
    return last;
}

static void expect_compacted_watch(int64_t start, int64_t compacted_at)
{
    dc_watch *w = conf_watch(K(""), start, DC_PREFIX);
    dc_events *ev = NULL;
    EXPECT_RC(dc_watch_next(w, CONF_WAIT_MS, &ev), DC_ECOMPACTED);
    ck_assert_ptr_null(ev);
    int64_t cr = dc_watch_compact_revision(w);
    ck_assert_msg(cr > start && cr <= compacted_at, "compact revision %lld, want in (%lld, %lld]",
                  (long long)cr, (long long)start, (long long)compacted_at);
    /* the watch has ended: the same answer again, and the fd says so */
    EXPECT_RC(dc_watch_next(w, 0, &ev), DC_ECOMPACTED);
    ck_assert_ptr_null(ev);
    struct pollfd p = {.fd = dc_watch_fd(w), .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 0), 1);
    dc_watch_close(w);
}

CONF_TEST(watch_from_a_compacted_revision_ends_with_ecompacted)
{
    int64_t first = 0;
    int64_t last = write_history(&first);
    OK(dc_compact(conf_store, last));
    expect_compacted_watch(1, last);
    expect_compacted_watch(first, last);

    /* history from the compact point on is still there */
    dc_watch *w = conf_watch(K("k"), last, 0);
    conf_events log = {0};
    conf_collect_exactly(w, &log, 1);
    conf_expect_event(log.ev[0], DC_EVENT_PUT, K("k"), "29", last);
    int64_t r = conf_put(K("k"), "after");
    conf_collect_exactly(w, &log, 2);
    conf_expect_event(log.ev[1], DC_EVENT_PUT, K("k"), "after", r);
    conf_events_free(&log);
    dc_watch_close(w);

    /* current values and their metadata survive compaction */
    dc_kvs *kvs = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(kvs->n, 2);
    EXPECT_KV(&kvs->kvs[0], K("j"), "27");
    ck_assert_int_eq(kvs->kvs[0].version, 10);
    ck_assert_int_eq(kvs->kvs[0].create_revision, first);
    EXPECT_KV(&kvs->kvs[1], K("k"), "after");
    ck_assert_int_eq(kvs->kvs[1].version, 21);
    dc_kvs_free(kvs);
}
END_TEST

CONF_TEST(compact_of_an_already_compacted_revision_is_ecompacted)
{
    int64_t first = 0;
    int64_t last = write_history(&first);
    OK(dc_compact(conf_store, last));
    EXPECT_RC(dc_compact(conf_store, last), DC_ECOMPACTED);
    EXPECT_RC(dc_compact(conf_store, first), DC_ECOMPACTED);
    EXPECT_RC(dc_compact(conf_store, 1), DC_ECOMPACTED);
    /* the store keeps working, and a newer revision can be compacted */
    int64_t r = conf_put(K("k"), "more");
    ck_assert_int_gt(r, last);
    OK(dc_compact(conf_store, r));
}
END_TEST

CONF_TEST(compact_of_a_future_revision_is_einval)
{
    int64_t last = conf_put(K("k"), "v");
    int64_t cur = conf_revision();
    ck_assert_int_ge(cur, last);
    EXPECT_RC(dc_compact(conf_store, cur + 1000000), DC_EINVAL);
    EXPECT_RC(dc_compact(conf_store, INT64_MAX), DC_EINVAL);
    EXPECT_RC(dc_compact(conf_store, 0), DC_EINVAL);
    EXPECT_RC(dc_compact(conf_store, -5), DC_EINVAL);
    /* nothing was compacted: the history of this test is still there */
    dc_watch *w = conf_watch(K("k"), last, 0);
    conf_events log = {0};
    conf_collect_exactly(w, &log, 1);
    conf_expect_event(log.ev[0], DC_EVENT_PUT, K("k"), "v", last);
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

/* A watch that has not consumed its events when the history behind it is
 * compacted either still delivers every event or ends with DC_ECOMPACTED
 * right after the last one it delivered: never a silent gap. */
CONF_TEST(watch_lagging_behind_compaction_loses_nothing_silently)
{
    int64_t revs[45];
    size_t n = 0;
    for (; n < 20; n++) revs[n] = conf_put(K(n % 2 ? "a" : "b"), "v");
    dc_watch *w = conf_watch(K(""), revs[0], DC_PREFIX);
    for (; n < 40; n++) revs[n] = conf_put(K(n % 2 ? "a" : "b"), "v");
    OK(dc_compact(conf_store, revs[n - 1]));
    for (; n < 45; n++) revs[n] = conf_put(K(n % 2 ? "a" : "b"), "v");

    conf_events log = {0};
    int rc = conf_collect(w, &log, n, CONF_WAIT_MS);
    ck_assert_msg(rc == DC_OK || rc == DC_ECOMPACTED, "watch ended with %s: %s", dc_errname(rc),
                  dc_last_error());
    ck_assert_uint_le(log.n, n);
    for (size_t i = 0; i < log.n; i++)
        ck_assert_msg(log.ev[i]->kv.mod_revision == revs[i],
                      "event %zu at revision %lld, want %lld", i,
                      (long long)log.ev[i]->kv.mod_revision, (long long)revs[i]);
    if (rc == DC_ECOMPACTED) {
        int64_t last = log.n ? revs[log.n - 1] : revs[0] - 1;
        int64_t cr = dc_watch_compact_revision(w);
        ck_assert_msg(cr > last && log.n < n,
                      "compacted at %lld after delivering up to %lld of %zu events", (long long)cr,
                      (long long)last, n);
    } else {
        ck_assert_uint_eq(log.n, n);
        conf_expect_quiet(w);
    }
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

/* A watch with DC_PREV_KV from the compact revision itself: the event there
 * replaced a version that compaction removed. The watch either delivers it
 * with its prev_kv or ends with DC_ECOMPACTED past it; never an event
 * without the prev_kv that DC_PREV_KV promises (found by the robustness run
 * on etcd, whose server drops prev_kv there). */
CONF_TEST(watch_with_prev_kv_from_the_compact_revision_never_drops_prev_kv)
{
    conf_put(K("k"), "old");
    int64_t mid = conf_put(K("k"), "mid");
    int64_t at = conf_put(K("k"), "new");
    int64_t del = conf_delete(K("k"), 0, NULL);
    OK(dc_compact(conf_store, at));

    dc_watch *w = conf_watch(K(""), at, DC_PREFIX | DC_PREV_KV);
    conf_events log = {0};
    int rc = conf_collect(w, &log, 2, CONF_WAIT_MS);
    if (rc == DC_OK) {
        ck_assert_uint_eq(log.n, 2);
        conf_expect_event(log.ev[0], DC_EVENT_PUT, K("k"), "new", at);
        ck_assert_msg(log.ev[0]->prev_kv != NULL, "the put at %lld came without its prev_kv",
                      (long long)at);
        EXPECT_KV(log.ev[0]->prev_kv, K("k"), "mid");
        ck_assert_int_eq(log.ev[0]->prev_kv->mod_revision, mid);
        conf_expect_event(log.ev[1], DC_EVENT_DELETE, K("k"), "", del);
        ck_assert_ptr_nonnull(log.ev[1]->prev_kv);
        EXPECT_KV(log.ev[1]->prev_kv, K("k"), "new");
    } else {
        ck_assert_msg(rc == DC_ECOMPACTED, "watch ended with %s: %s", dc_errname(rc),
                      dc_last_error());
        ck_assert_uint_eq(log.n, 0);
        int64_t cr = dc_watch_compact_revision(w);
        ck_assert_msg(cr > at && cr <= del, "compact revision %lld, want in (%lld, %lld]",
                      (long long)cr, (long long)at, (long long)del);
        dc_watch_close(w);
        /* from there on, prev_kv is whole again */
        w = conf_watch(K(""), cr, DC_PREFIX | DC_PREV_KV);
        conf_collect_exactly(w, &log, 1);
        conf_expect_event(log.ev[0], DC_EVENT_DELETE, K("k"), "", del);
        ck_assert_ptr_nonnull(log.ev[0]->prev_kv);
        EXPECT_KV(log.ev[0]->prev_kv, K("k"), "new");
    }
    conf_events_free(&log);
    dc_watch_close(w);
}
END_TEST

TCase *conf_compact_tcase(void)
{
    TCase *tc = tcase_create("compact");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, watch_from_a_compacted_revision_ends_with_ecompacted);
    tcase_add_test(tc, compact_of_an_already_compacted_revision_is_ecompacted);
    tcase_add_test(tc, compact_of_a_future_revision_is_einval);
    tcase_add_test(tc, watch_lagging_behind_compaction_loses_nothing_silently);
    tcase_add_test(tc, watch_with_prev_kv_from_the_compact_revision_never_drops_prev_kv);
    return tc;
}
