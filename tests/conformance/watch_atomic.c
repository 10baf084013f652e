/*
 * A revision is never split: whatever the backend does inside, every batch
 * dc_watch_next returns holds all events of each revision it contains, in op
 * order. Checked on replay (watches opened from every revision of a history
 * with multi-op txns, including a prefix delete inside a txn) and live (a
 * writer thread committing multi-op txns while two watches are drained with
 * many small dc_watch_next calls, one through poll on its fd).
 */
#include "conformance.h"

#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* For every revision in every batch of log, the batch holds exactly
 * count_of(rev) events of it. revs/counts: the expected revisions. */
static void expect_whole_revisions(const conf_events *log, const int64_t *revs,
                                   const size_t *counts, size_t nrevs)
{
    for (size_t b = 0; b < log->nb; b++) {
        const dc_events *batch = log->batches[b];
        size_t i = 0;
        while (i < batch->n) {
            int64_t rev = batch->events[i].kv.mod_revision;
            size_t j = i;
            while (j < batch->n && batch->events[j].kv.mod_revision == rev) j++;
            size_t r;
            for (r = 0; r < nrevs && revs[r] != rev; r++) continue;
            ck_assert_msg(r < nrevs, "event at unexpected revision %lld", (long long)rev);
            ck_assert_msg(j - i == counts[r],
                          "batch %zu holds %zu events of revision %lld, which has %zu: a split "
                          "revision",
                          b, j - i, (long long)rev, counts[r]);
            i = j;
        }
    }
}

/* Revisions of the flattened log increase (never repeat, never go back)
 * between revisions, and every expected revision appears. */
static void expect_revisions_in_order(const conf_events *log, const int64_t *revs,
                                      const size_t *counts, size_t nrevs)
{
    size_t k = 0;
    for (size_t r = 0; r < nrevs; r++)
        for (size_t c = 0; c < counts[r]; c++, k++) {
            ck_assert_msg(k < log->n, "only %zu events", log->n);
            ck_assert_msg(log->ev[k]->kv.mod_revision == revs[r],
                          "event %zu at revision %lld, want %lld", k,
                          (long long)log->ev[k]->kv.mod_revision, (long long)revs[r]);
        }
    ck_assert_uint_eq(log->n, k);
}

CONF_TEST(watch_replays_txn_events_at_one_revision)
{
    int64_t revs[8];
    size_t counts[8], nrevs = 0;
    for (int i = 0; i < 3; i++) {
        char s[8];
        snprintf(s, sizeof s, "x%d", i);
        revs[nrevs] = conf_put(K(s), "x");
        counts[nrevs++] = 1;
    }
    for (int i = 0; i < 3; i++) {
        char s[8];
        snprintf(s, sizeof s, "p/%d", i);
        revs[nrevs] = conf_put(K(s), "p");
        counts[nrevs++] = 1;
    }
    /* txn 1: puts and deletes interleaved, six events at one revision */
    static const char *ops1[] = {"+a1", "+a2", "-x0", "+a3", "-x1", "+a4"};
    dc_txn *t = conf_txn();
    for (int i = 0; i < 6; i++) {
        const char *k = K(ops1[i] + 1);
        if (ops1[i][0] == '+')
            OK(dc_txn_put(t, DC_THEN, k, strlen(k), "v", 1, 0, 0));
        else
            OK(dc_txn_delete(t, DC_THEN, k, strlen(k), 0));
    }
    dc_txn_result *r = conf_commit(t);
    int64_t txn1 = r->revision;
    revs[nrevs] = txn1;
    counts[nrevs++] = 6;
    dc_txn_result_free(r);
    /* txn 2: a prefix delete of three keys among puts */
    t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, K("c1"), strlen(K("c1")), "v", 1, 0, 0));
    OK(dc_txn_delete(t, DC_THEN, K("p/"), strlen(K("p/")), DC_PREFIX));
    OK(dc_txn_delete(t, DC_THEN, K("x2"), strlen(K("x2")), 0));
    OK(dc_txn_put(t, DC_THEN, K("c2"), strlen(K("c2")), "v", 1, 0, 0));
    r = conf_commit(t);
    revs[nrevs] = r->revision;
    counts[nrevs++] = 6;
    dc_txn_result_free(r);

    /* whole history from the first revision */
    dc_watch *w = conf_watch(K(""), revs[0], DC_PREFIX);
    conf_events log = {0};
    conf_collect_exactly(w, &log, 18);
    expect_whole_revisions(&log, revs, counts, nrevs);
    expect_revisions_in_order(&log, revs, counts, nrevs);
    /* txn 1's events come in op order */
    for (size_t i = 0; i < 6; i++) {
        const dc_event *e = log.ev[6 + i];
        ck_assert_int_eq(e->kv.mod_revision, txn1);
        conf_expect_event(e, ops1[i][0] == '+' ? DC_EVENT_PUT : DC_EVENT_DELETE, K(ops1[i] + 1),
                          ops1[i][0] == '+' ? "v" : "", txn1);
    }
    /* txn 2: c1, the three p/ deletes, x2, c2 */
    conf_expect_event(log.ev[12], DC_EVENT_PUT, K("c1"), "v", revs[7]);
    for (size_t i = 13; i < 16; i++) ck_assert_int_eq(log.ev[i]->type, DC_EVENT_DELETE);
    conf_expect_event(log.ev[16], DC_EVENT_DELETE, K("x2"), "", revs[7]);
    conf_expect_event(log.ev[17], DC_EVENT_PUT, K("c2"), "v", revs[7]);
    conf_expect_quiet(w);
    conf_events_free(&log);
    dc_watch_close(w);

    /* from each revision, and from just after its predecessor (inside a gap,
     * if there is one): whole revisions only */
    for (size_t i = 1; i < nrevs; i++) {
        int64_t starts[2] = {revs[i - 1] + 1, revs[i]};
        for (int s = 0; s < 2; s++) {
            if (s == 1 && starts[1] == starts[0]) continue;
            size_t want = 0;
            for (size_t j = i; j < nrevs; j++) want += counts[j];
            w = conf_watch(K(""), starts[s], DC_PREFIX);
            conf_collect_exactly(w, &log, want);
            expect_whole_revisions(&log, revs + i, counts + i, nrevs - i);
            expect_revisions_in_order(&log, revs + i, counts + i, nrevs - i);
            conf_events_free(&log);
            dc_watch_close(w);
        }
    }
}
END_TEST

#define LIVE_TXNS 40

typedef struct live_ctx {
    char prefix[300];
    int64_t revs[LIVE_TXNS];
    size_t counts[LIVE_TXNS];
    int rc;
    char msg[256];
} live_ctx;

static void *live_writer(void *arg)
{
    live_ctx *c = arg;
    for (int i = 0; i < LIVE_TXNS; i++) {
        dc_txn *t = dc_txn_new();
        if (!t) {
            c->rc = DC_ENOMEM;
            return NULL;
        }
        char k[340];
        for (int j = 0; j < 3; j++) {
            int n = snprintf(k, sizeof k, "%s%c%d", c->prefix, 'a' + j, i);
            dc_txn_put(t, DC_THEN, k, (size_t)n, "v", 1, 0, 0);
        }
        for (int j = 0; j < 2 && i > 0; j++) {
            int n = snprintf(k, sizeof k, "%s%c%d", c->prefix, 'a' + j, i - 1);
            dc_txn_delete(t, DC_THEN, k, (size_t)n, 0);
        }
        dc_txn_result *r = NULL;
        c->rc = dc_txn_commit(conf_store, t, &r);
        dc_txn_free(t);
        if (c->rc != DC_OK) {
            snprintf(c->msg, sizeof c->msg, "txn %d: %s: %s", i, dc_errname(c->rc),
                     dc_last_error());
            return NULL;
        }
        c->revs[i] = r->revision;
        c->counts[i] = i > 0 ? 5 : 3;
        dc_txn_result_free(r);
        nanosleep(&(struct timespec){0, 2000000}, NULL); /* let readers drain in between */
    }
    return NULL;
}

static void drain_step(dc_watch *w, conf_events *log, int use_poll)
{
    if (use_poll) {
        struct pollfd p = {.fd = dc_watch_fd(w), .events = POLLIN};
        ck_assert_int_ge(poll(&p, 1, 5), 0);
        if (!(p.revents & POLLIN)) return;
    }
    dc_events *b = NULL;
    int rc = dc_watch_next(w, use_poll ? 0 : 1, &b);
    if (rc == DC_ETIMEDOUT) {
        ck_assert_ptr_null(b);
        return;
    }
    OK(rc);
    ck_assert_uint_gt(b->n, 0);
    conf_events_add(log, b);
}

CONF_TEST(watch_never_splits_a_revision_across_next_calls)
{
    live_ctx *c = conf_malloc(sizeof *c);
    memset(c, 0, sizeof *c);
    snprintf(c->prefix, sizeof c->prefix, "%s", K("live/"));
    size_t total = 3 + (LIVE_TXNS - 1) * 5;
    int64_t start = conf_revision() + 1;
    dc_watch *w1 = conf_watch(c->prefix, start, DC_PREFIX);
    dc_watch *w2 = conf_watch(c->prefix, start, DC_PREFIX | DC_PREV_KV);
    conf_events l1 = {0}, l2 = {0};

    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, live_writer, c), 0);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (l1.n < total) drain_step(w1, &l1, 0);
        if (l2.n < total) drain_step(w2, &l2, 1);
        if (l1.n >= total && l2.n >= total) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 60) break;
    }
    pthread_join(th, NULL);
    ck_assert_msg(c->rc == DC_OK, "writer: %s", c->msg);
    ck_assert_uint_eq(l1.n, total);
    ck_assert_uint_eq(l2.n, total);
    expect_whole_revisions(&l1, c->revs, c->counts, LIVE_TXNS);
    expect_whole_revisions(&l2, c->revs, c->counts, LIVE_TXNS);
    expect_revisions_in_order(&l1, c->revs, c->counts, LIVE_TXNS);
    expect_revisions_in_order(&l2, c->revs, c->counts, LIVE_TXNS);
    conf_expect_quiet(w1);
    conf_expect_quiet(w2);
    conf_events_free(&l1);
    conf_events_free(&l2);
    dc_watch_close(w1);
    dc_watch_close(w2);
    free(c);
}
END_TEST

TCase *conf_watch_atomic_tcase(void)
{
    TCase *tc = tcase_create("watch_atomic");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, watch_replays_txn_events_at_one_revision);
    tcase_add_test(tc, watch_never_splits_a_revision_across_next_calls);
    return tc;
}
