/*
 * bench_redis: throughput and latency of the store API on ddlcoord-redis.so.
 *
 *   bench_redis <uri> <op> <callers> <seconds>     op = put | get | txn
 *   bench_redis <uri> watch <events>
 *
 * put: unconditional puts of 100-byte values; get: single-key reads; txn:
 * conditional puts (compare mod_revision == the revision the caller last
 * wrote, then put), the write the protocol makes most. Each caller is a
 * thread with its own 100 keys, so every txn compare holds and any retry is
 * the backend's own (WATCH aborts in mode=multi). Prints one line:
 *   <op> <callers> <ops/s> <p50 µs> <p99 µs> <errors>
 * watch: one watcher on a key, one writer; each put waits until the watcher
 * has the event; prints "watch <events> <p50 µs> <p90 µs> <p99 µs>" of the
 * time from just before the put call to the watcher's receipt.
 * bench/redis/run.sh runs it beside redis-benchmark and prints the ratios.
 */
#include <ddlcoord/ddlcoord.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct caller {
    dc_store *s;
    int id;
    const char *op;
    int64_t until;
    int64_t *lat;
    size_t n, cap;
    int errors;
    pthread_t th;
} caller;

static char value[101];

static void *run(void *arg)
{
    caller *c = arg;
    int64_t mod[100] = {0};
    char key[64];
    for (unsigned i = 0;; i++) {
        int64_t t0 = now_us();
        if (t0 >= c->until) break;
        int k = (int)(i % 100);
        int n = snprintf(key, sizeof key, "bench/%d/%d", c->id, k);
        int rc;
        if (!strcmp(c->op, "put")) {
            rc = dc_put(c->s, key, (size_t)n, value, 100, 0, NULL);
        } else if (!strcmp(c->op, "get")) {
            dc_kvs *r;
            rc = dc_get(c->s, key, (size_t)n, 0, 0, &r);
            if (rc == DC_OK) dc_kvs_free(r);
        } else {
            dc_txn *t = dc_txn_new();
            dc_txn_compare_int(t, key, (size_t)n, DC_TARGET_MOD, DC_CMP_EQUAL, mod[k]);
            dc_txn_put(t, DC_THEN, key, (size_t)n, value, 100, 0, 0);
            dc_txn_result *r;
            rc = dc_txn_commit(c->s, t, &r);
            if (rc == DC_OK) {
                if (r->succeeded)
                    mod[k] = r->revision;
                else
                    rc = -1000; /* cannot happen: the keys are private */
                dc_txn_result_free(r);
            }
            dc_txn_free(t);
        }
        int64_t t1 = now_us();
        if (rc != DC_OK) {
            c->errors++;
            continue;
        }
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            int64_t *l = realloc(c->lat, cap * sizeof *l);
            if (!l) break;
            c->lat = l;
            c->cap = cap;
        }
        c->lat[c->n++] = t1 - t0;
    }
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t pct(const int64_t *v, size_t n, double p)
{
    if (!n) return 0;
    size_t i = (size_t)(p * (double)(n - 1));
    return v[i];
}

/* Write the keys once so that gets and txns find them. */
static int prepare(dc_store *s, int callers)
{
    char key[64];
    for (int c = 0; c < callers; c++)
        for (int k = 0; k < 100; k++) {
            int n = snprintf(key, sizeof key, "bench/%d/%d", c, k);
            if (dc_put(s, key, (size_t)n, value, 100, 0, NULL) != DC_OK) return -1;
        }
    return 0;
}

static int bench_ops(dc_store *s, const char *op, int callers, int seconds)
{
    if (strcmp(op, "txn") && prepare(s, callers)) {
        fprintf(stderr, "prepare: %s\n", dc_last_error());
        return 1;
    }
    if (!strcmp(op, "txn")) {
        /* txn callers start from missing keys: mod_revision 0 */
        char p[32];
        for (int c = 0; c < callers; c++) {
            int n = snprintf(p, sizeof p, "bench/%d/", c);
            dc_delete(s, p, (size_t)n, DC_PREFIX, NULL, NULL);
        }
    }
    caller *cs = calloc((size_t)callers, sizeof *cs);
    int64_t start = now_us(), until = start + (int64_t)seconds * 1000000;
    for (int i = 0; i < callers; i++) {
        cs[i] = (caller){.s = s, .id = i, .op = op, .until = until};
        pthread_create(&cs[i].th, NULL, run, &cs[i]);
    }
    size_t total = 0;
    int errors = 0;
    for (int i = 0; i < callers; i++) {
        pthread_join(cs[i].th, NULL);
        total += cs[i].n;
        errors += cs[i].errors;
    }
    double secs = (double)(now_us() - start) / 1e6;
    int64_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < callers; i++) {
        if (cs[i].n) memcpy(all + k, cs[i].lat, cs[i].n * sizeof *all);
        k += cs[i].n;
        free(cs[i].lat);
    }
    qsort(all, total, sizeof *all, cmp64);
    printf("%s %d %.0f %lld %lld %d\n", op, callers, (double)total / secs,
           (long long)pct(all, total, 0.50), (long long)pct(all, total, 0.99), errors);
    free(all);
    free(cs);
    return 0;
}

typedef struct watcher {
    dc_watch *w;
    int events;
    int64_t *recv;
} watcher;

static void *watch_run(void *arg)
{
    watcher *w = arg;
    int got = 0;
    while (got < w->events) {
        dc_events *ev;
        int rc = dc_watch_next(w->w, 10000, &ev);
        if (rc != DC_OK) {
            fprintf(stderr, "watch: %s: %s\n", dc_errname(rc), dc_last_error());
            exit(1);
        }
        int64_t t = now_us();
        for (size_t i = 0; i < ev->n && got < w->events; i++)
            __atomic_store_n(&w->recv[got++], t, __ATOMIC_RELEASE);
        dc_events_free(ev);
    }
    return NULL;
}

static int bench_watch(dc_store *s, int events)
{
    int64_t rev;
    if (dc_put(s, "bench/watch", 11, value, 100, 0, &rev) != DC_OK) return 1;
    watcher w = {.events = events};
    w.recv = calloc((size_t)events, sizeof *w.recv);
    int64_t *sent = calloc((size_t)events, sizeof *sent),
            *lat = calloc((size_t)events, sizeof *lat);
    if (dc_watch_open(s, "bench/watch", 11, rev + 1, 0, &w.w) != DC_OK) return 1;
    pthread_t th;
    pthread_create(&th, NULL, watch_run, &w);
    for (int i = 0; i < events; i++) {
        sent[i] = now_us();
        if (dc_put(s, "bench/watch", 11, value, 100, 0, NULL) != DC_OK) return 1;
        /* one event in flight at a time: wait for the watcher */
        while (!__atomic_load_n(&w.recv[i], __ATOMIC_ACQUIRE)) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    pthread_join(th, NULL);
    for (int i = 0; i < events; i++) lat[i] = w.recv[i] - sent[i];
    qsort(lat, (size_t)events, sizeof *lat, cmp64);
    printf("watch %d %lld %lld %lld\n", events, (long long)pct(lat, (size_t)events, 0.5),
           (long long)pct(lat, (size_t)events, 0.9), (long long)pct(lat, (size_t)events, 0.99));
    dc_watch_close(w.w);
    free(w.recv);
    free(sent);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_redis <uri> put|get|txn <callers> <seconds>\n"
                        "       bench_redis <uri> watch <events>\n");
        return 2;
    }
    memset(value, 'v', 100);
    dc_store *s;
    if (dc_store_open(argv[1], &s) != DC_OK) {
        fprintf(stderr, "open %s: %s\n", argv[1], dc_last_error());
        return 1;
    }
    int rc = !strcmp(argv[2], "watch")
                 ? bench_watch(s, atoi(argv[3]))
                 : bench_ops(s, argv[2], atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 3);
    dc_store_close(s);
    return rc;
}
