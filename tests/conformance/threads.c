/*
 * One store handle used from several threads at once: threads that each put,
 * read, and watch their own keys through the shared handle (opening and
 * closing watches concurrently), and concurrent writers whose events a single
 * prefix watch must deliver in strictly increasing revision order, each
 * exactly once.
 */
#include "conformance.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
#define ROUNDS  20

typedef struct worker {
    int id;
    char prefix[300];
    int64_t revs[ROUNDS * 2];
    size_t n;
    int rc;
    char msg[256];
} worker;

/* Record a failure for the main thread to assert on; returns NULL. */
static void *worker_fail(worker *w, int rc, const char *what)
{
    w->rc = rc ? rc : DC_EINTERNAL;
    snprintf(w->msg, sizeof w->msg, "thread %d: %s: %s: %s", w->id, what, dc_errname(w->rc),
             rc ? dc_last_error() : "");
    return NULL;
}

/* put, get, watch from the put, read the event back, close */
static void *round_trips(void *arg)
{
    worker *w = arg;
    char key[340];
    int kl = snprintf(key, sizeof key, "%sk", w->prefix);
    for (int i = 0; i < ROUNDS; i++) {
        char v[16];
        int vl = snprintf(v, sizeof v, "%d", i);
        int64_t rev = 0;
        int rc = dc_put(conf_store, key, (size_t)kl, v, (size_t)vl, 0, &rev);
        if (rc != DC_OK) return worker_fail(w, rc, "put");
        dc_kvs *r = NULL;
        rc = dc_get(conf_store, key, (size_t)kl, 0, 0, &r);
        if (rc != DC_OK) return worker_fail(w, rc, "get");
        int good = r->n == 1 && r->kvs[0].mod_revision == rev && strcmp(r->kvs[0].value, v) == 0;
        dc_kvs_free(r);
        if (!good) return worker_fail(w, 0, "get returned another value");
        dc_watch *wa = NULL;
        rc = dc_watch_open(conf_store, key, (size_t)kl, rev, DC_PREV_KV, &wa);
        if (rc != DC_OK) return worker_fail(w, rc, "watch open");
        dc_events *ev = NULL;
        rc = dc_watch_next(wa, CONF_WAIT_MS, &ev);
        if (rc != DC_OK) {
            dc_watch_close(wa);
            return worker_fail(w, rc, "watch next");
        }
        good = ev->n == 1 && ev->events[0].kv.mod_revision == rev &&
               strcmp(ev->events[0].kv.value, v) == 0 &&
               (i == 0 ? ev->events[0].prev_kv == NULL : ev->events[0].prev_kv != NULL);
        dc_events_free(ev);
        dc_watch_close(wa);
        if (!good) return worker_fail(w, 0, "watch returned another event");
    }
    return NULL;
}

CONF_TEST(store_handle_is_usable_from_several_threads_at_once)
{
    worker *ws = conf_malloc(THREADS * sizeof *ws);
    memset(ws, 0, THREADS * sizeof *ws);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        char s[16];
        snprintf(s, sizeof s, "t%d/", i);
        ws[i].id = i;
        snprintf(ws[i].prefix, sizeof ws[i].prefix, "%s", K(s));
        ck_assert_int_eq(pthread_create(&th[i], NULL, round_trips, &ws[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) ck_assert_msg(ws[i].rc == DC_OK, "%s", ws[i].msg);
    dc_kvs *r = conf_get(K(""), DC_PREFIX, 0);
    ck_assert_uint_eq(r->n, THREADS);
    for (size_t i = 0; i < r->n; i++) ck_assert_int_eq(r->kvs[i].version, ROUNDS);
    dc_kvs_free(r);
    free(ws);
}
END_TEST

/* each writer puts ROUNDS keys and deletes half of them again */
static void *writer(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < ROUNDS; i++) {
        char key[340];
        int kl = snprintf(key, sizeof key, "%s%02d", w->prefix, i);
        int64_t rev = 0;
        int rc = dc_put(conf_store, key, (size_t)kl, "v", 1, 0, &rev);
        if (rc != DC_OK) return worker_fail(w, rc, "put");
        w->revs[w->n++] = rev;
        if (i % 2) {
            rc = dc_delete(conf_store, key, (size_t)kl, 0, NULL, &rev);
            if (rc != DC_OK) return worker_fail(w, rc, "delete");
            w->revs[w->n++] = rev;
        }
    }
    return NULL;
}

static int cmp_rev(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

CONF_TEST(watch_orders_concurrent_writers_by_revision_exactly_once)
{
    worker *ws = conf_malloc(THREADS * sizeof *ws);
    memset(ws, 0, THREADS * sizeof *ws);
    dc_watch *w = conf_watch(K(""), 0, DC_PREFIX);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        char s[16];
        snprintf(s, sizeof s, "w%d/", i);
        ws[i].id = i;
        snprintf(ws[i].prefix, sizeof ws[i].prefix, "%s", K(s));
        ck_assert_int_eq(pthread_create(&th[i], NULL, writer, &ws[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) ck_assert_msg(ws[i].rc == DC_OK, "%s", ws[i].msg);

    /* every write has its own revision; the watch delivers them in order */
    size_t total = 0;
    int64_t *all = conf_malloc(THREADS * ROUNDS * 2 * sizeof *all);
    for (int i = 0; i < THREADS; i++)
        for (size_t j = 0; j < ws[i].n; j++) all[total++] = ws[i].revs[j];
    qsort(all, total, sizeof *all, cmp_rev);
    for (size_t i = 1; i < total; i++) ck_assert_int_gt(all[i], all[i - 1]);
    conf_events log = {0};
    conf_collect_exactly(w, &log, total);
    for (size_t i = 0; i < total; i++)
        ck_assert_msg(log.ev[i]->kv.mod_revision == all[i], "event %zu at revision %lld, want %lld",
                      i, (long long)log.ev[i]->kv.mod_revision, (long long)all[i]);
    conf_expect_quiet(w);
    ck_assert_int_eq(dc_watch_compact_revision(w), 0); /* not ended */
    conf_events_free(&log);
    dc_watch_close(w);
    free(all);
    free(ws);
}
END_TEST

TCase *conf_threads_tcase(void)
{
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, store_handle_is_usable_from_several_threads_at_once);
    tcase_add_test(tc, watch_orders_concurrent_writers_by_revision_exactly_once);
    return tc;
}
