/*
 * The backend alone, measured the way the protocol uses it, so that every
 * protocol figure has its bound from the same run on the same server:
 *
 *   put        one dc_put, sequential calls: p50 / p99 of the round trip
 *   put->watch the time from the start of a dc_put until a watcher thread
 *              (blocked in dc_watch_next on that key, as masters and workers
 *              are) holds the event: the "write, then the other side sees it"
 *              link that the protocol chains; p50 / p99
 *   delivery   put->watch p50 minus put p50: what the watch adds to a write
 *   writes/s   THREADS threads putting their own keys for SECONDS
 *
 * The critical path of one lock (6 sequential writes, 5 watch deliveries) is
 * 5 x put->watch + 1 x put: each of the first five writes is seen by the other
 * side, which then writes; the last delete ends the lock.
 */
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char value[160];

typedef struct watcher {
    dc_watch *w;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int64_t last_rev; /* revision of the last event seen */
    double seen_at;   /* when it arrived */
    atomic_int stop;
} watcher;

static void *watch_main(void *arg)
{
    watcher *wa = arg;
    while (!atomic_load(&wa->stop)) {
        dc_events *evs = NULL;
        int rc = dc_watch_next(wa->w, 200, &evs);
        double t = bp_now();
        if (rc == DC_ETIMEDOUT) continue;
        if (rc) bp_die("base: watch", rc);
        int64_t last = evs->n ? evs->events[evs->n - 1].kv.mod_revision : 0;
        dc_events_free(evs);
        pthread_mutex_lock(&wa->mu);
        wa->last_rev = last;
        wa->seen_at = t;
        pthread_cond_signal(&wa->cond);
        pthread_mutex_unlock(&wa->mu);
    }
    return NULL;
}

static void put_latency(dc_store *s, const char *ns, int samples, int report)
{
    char key[300];
    snprintf(key, sizeof key, "%s/put", ns);
    double *lat = bp_alloc((size_t)samples * sizeof *lat);
    for (int i = 0; i < samples; i++) {
        double t0 = bp_now();
        bp_check("base: put", dc_put(s, key, strlen(key), value, strlen(value), 0, NULL));
        lat[i] = bp_now() - t0;
    }
    if (report) {
        bp_result("put_p50_ms", 1e3 * bp_pct(lat, (size_t)samples, 50));
        bp_result("put_p99_ms", 1e3 * bp_pct(lat, (size_t)samples, 99));
    }
    free(lat);
}

/* One write as the protocol's done txn makes it: compare key's mod_revision
 * (*rev; 0 = absent), then put key and delete key2, else get key. *rev gets
 * key's new mod_revision. Exits on failure or a lost compare (keys are the
 * caller's own). */
static void guarded_txn(dc_store *s, const char *key, const char *key2, int64_t *rev)
{
    dc_txn *t = dc_txn_new();
    if (!t) bp_die("base: txn", DC_ENOMEM);
    size_t kl = strlen(key);
    int rc = *rev ? dc_txn_compare_int(t, key, kl, DC_TARGET_MOD, DC_CMP_EQUAL, *rev)
                  : dc_txn_compare_int(t, key, kl, DC_TARGET_CREATE, DC_CMP_EQUAL, 0);
    if (!rc) rc = dc_txn_put(t, DC_THEN, key, kl, value, strlen(value), 0, 0);
    if (!rc) rc = dc_txn_delete(t, DC_THEN, key2, strlen(key2), 0);
    if (!rc) rc = dc_txn_get(t, DC_ELSE, key, kl, 0, 0);
    dc_txn_result *res = NULL;
    if (!rc) rc = dc_txn_commit(s, t, &res);
    dc_txn_free(t);
    bp_check("base: txn", rc);
    if (!res->succeeded) bp_die("base: txn compare lost on a key of its own", DC_ECHANGED);
    *rev = res->revision;
    dc_txn_result_free(res);
}

static void txn_latency(dc_store *s, const char *ns, int samples)
{
    char key[300], key2[300];
    snprintf(key, sizeof key, "%s/txn", ns);
    snprintf(key2, sizeof key2, "%s/txn-other", ns);
    double *lat = bp_alloc((size_t)samples * sizeof *lat);
    int64_t rev = 0;
    for (int i = 0; i < samples; i++) {
        double t0 = bp_now();
        guarded_txn(s, key, key2, &rev);
        lat[i] = bp_now() - t0;
    }
    bp_result("txn_p50_ms", 1e3 * bp_pct(lat, (size_t)samples, 50));
    bp_result("txn_p99_ms", 1e3 * bp_pct(lat, (size_t)samples, 99));
    free(lat);
}

static void watch_latency(dc_store *s, const char *ns, int samples)
{
    char key[300];
    snprintf(key, sizeof key, "%s/watched", ns);
    watcher wa = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    int64_t rev0;
    bp_check("base: revision", dc_revision(s, &rev0));
    bp_check("base: watch", dc_watch_open(s, key, strlen(key), rev0 + 1, 0, &wa.w));
    pthread_t th;
    if (pthread_create(&th, NULL, watch_main, &wa)) bp_die("pthread_create", DC_ENOMEM);
    double *lat = bp_alloc((size_t)samples * sizeof *lat);
    for (int i = 0; i < samples; i++) {
        double t0 = bp_now();
        int64_t rev;
        bp_check("base: put", dc_put(s, key, strlen(key), value, strlen(value), 0, &rev));
        pthread_mutex_lock(&wa.mu);
        /* puts are sequential: the batch holding rev is the last one seen */
        while (wa.last_rev < rev) pthread_cond_wait(&wa.cond, &wa.mu);
        lat[i] = wa.seen_at - t0;
        pthread_mutex_unlock(&wa.mu);
    }
    atomic_store(&wa.stop, 1);
    pthread_join(th, NULL);
    dc_watch_close(wa.w);
    double p50 = bp_pct(lat, (size_t)samples, 50);
    bp_result("w2w_p50_ms", 1e3 * p50);
    bp_result("w2w_p99_ms", 1e3 * bp_pct(lat, (size_t)samples, 99));
    free(lat);
}

typedef struct putter {
    dc_store *s;
    const char *ns;
    int id;
    int txn; /* guarded txns instead of puts */
    double until;
    long count;
    int64_t revs[100]; /* txn: each key's mod_revision (0 = absent) */
} putter;

static void *put_main(void *arg)
{
    putter *p = arg;
    char key[300], key2[300];
    /* txns on keys of their own: earlier puts may have left tput/ keys */
    const char *dir = p->txn ? "txn" : "tput";
    snprintf(key2, sizeof key2, "%s/%s/%d/other", p->ns, dir, p->id);
    for (long i = 0; bp_now() < p->until; i++) {
        snprintf(key, sizeof key, "%s/%s/%d/%ld", p->ns, dir, p->id, i % 100);
        if (p->txn)
            guarded_txn(p->s, key, key2, &p->revs[i % 100]);
        else
            bp_check("base: put", dc_put(p->s, key, strlen(key), value, strlen(value), 0, NULL));
        p->count++;
    }
    return NULL;
}

typedef struct drainer {
    dc_watch *w;
    atomic_int *stop;
} drainer;

/* Consume a watch's events until told to stop: a watcher that keeps up. */
static void *drain_main(void *arg)
{
    drainer *d = arg;
    while (!atomic_load(d->stop)) {
        dc_events *evs = NULL;
        int rc = dc_watch_next(d->w, 100, &evs);
        dc_events_free(evs);
        if (rc && rc != DC_ETIMEDOUT) bp_die("base: watch", rc);
    }
    return NULL;
}

double bp_write_throughput(dc_store *s, const char *ns, int threads, double seconds, int watchers,
                           int txn)
{
    putter *p = bp_alloc((size_t)threads * sizeof *p);
    pthread_t *th = bp_alloc((size_t)threads * sizeof *th);
    drainer *d = bp_alloc((size_t)(watchers ? watchers : 1) * sizeof *d);
    pthread_t *dt = bp_alloc((size_t)(watchers ? watchers : 1) * sizeof *dt);
    atomic_int stop = 0;
    char pfx[300];
    snprintf(pfx, sizeof pfx, "%s/", ns);
    for (int i = 0; i < watchers; i++) {
        d[i].stop = &stop;
        bp_check("base: watch", dc_watch_open(s, pfx, strlen(pfx), 0, DC_PREFIX, &d[i].w));
        if (pthread_create(&dt[i], NULL, drain_main, &d[i])) bp_die("pthread_create", DC_ENOMEM);
    }
    double t0 = bp_now();
    for (int i = 0; i < threads; i++) {
        p[i] = (putter){s, ns, i, txn, t0 + seconds, 0, {0}};
        if (pthread_create(&th[i], NULL, put_main, &p[i])) bp_die("pthread_create", DC_ENOMEM);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += p[i].count;
    }
    double el = bp_now() - t0;
    atomic_store(&stop, 1);
    for (int i = 0; i < watchers; i++) {
        pthread_join(dt[i], NULL);
        dc_watch_close(d[i].w);
    }
    free(p);
    free(th);
    free(d);
    free(dt);
    return (double)total / el;
}

int bp_base(dc_store *s, int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: base SAMPLES THREADS SECONDS\n");
        return 2;
    }
    int samples = atoi(argv[0]), threads = atoi(argv[1]);
    double seconds = atof(argv[2]);
    if (samples < 1 || threads < 1 || seconds <= 0) return 2;
    /* about the size of an operation value */
    memset(value, 'v', sizeof value - 1);
    char *ns = bp_ns("base");
    put_latency(s, ns, samples / 10 + 1, 0); /* warm up connections */
    put_latency(s, ns, samples, 1);
    watch_latency(s, ns, samples);
    txn_latency(s, ns, samples);
    bp_result("writes_per_s", bp_write_throughput(s, ns, threads, seconds, 0, 0));
    bp_info("writes_threads", "%d", threads);
    bp_info("base_samples", "%d", samples);
    char pfx[300];
    snprintf(pfx, sizeof pfx, "%s/", ns);
    dc_delete(s, pfx, strlen(pfx), DC_PREFIX, NULL, NULL);
    free(ns);
    return 0;
}
