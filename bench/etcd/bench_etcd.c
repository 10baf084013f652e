/*
 * bench_etcd: the etcd benchmark's workload through ddlcoord's store API
 * (and so through ddlcoord-etcd.so), for comparison with etcd's Go client
 * and with curl in the same run (bench/etcd/run.sh prints the ratios).
 *
 *   bench_etcd <uri> put|get|txn <callers> <ops per caller>
 *   bench_etcd <uri> watch <watches> <ops>
 *
 * All callers share one dc_store, as an application would (the driver
 * multiplexes them on one HTTP/2 connection). put writes 64-byte
 * values to 100 keys per caller; get reads one existing key; txn is a
 * compare-and-put (create_revision > 0 then put, else get). Prints
 * "driver <op> <callers> <ops> <p50 us> <p99 us> <ops/s>".
 *
 * watch opens <watches> watches on one handle, one key each, then puts to
 * the keys in turn (one writer) and times each put until the event reaches
 * its key's watch: the put->event latency with that many watches open.
 */
#include <ddlcoord/ddlcoord.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct caller {
    dc_store *s;
    const char *op;
    int id, ops;
    int64_t *lat_us;
    int rc;
} caller;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static const char value[] = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";

static int one(caller *c, int i)
{
    char key[64], read_key[64];
    int kl = snprintf(key, sizeof key, "bench/driver/%d/%d", c->id, i % 100);
    int rl = snprintf(read_key, sizeof read_key, "bench/driver/%d/0", c->id);
    if (strcmp(c->op, "put") == 0)
        return dc_put(c->s, key, (size_t)kl, value, sizeof value - 1, 0, NULL);
    if (strcmp(c->op, "get") == 0) {
        dc_kvs *kvs;
        int rc = dc_get(c->s, read_key, (size_t)rl, 0, 0, &kvs);
        dc_kvs_free(kvs);
        return rc;
    }
    dc_txn *t = dc_txn_new();
    if (!t) return DC_ENOMEM;
    dc_txn_compare_int(t, read_key, (size_t)rl, DC_TARGET_CREATE, DC_CMP_GREATER, 0);
    dc_txn_put(t, DC_THEN, read_key, (size_t)rl, value, sizeof value - 1, 0, 0);
    dc_txn_get(t, DC_ELSE, read_key, (size_t)rl, 0, 0);
    dc_txn_result *r = NULL;
    int rc = dc_txn_commit(c->s, t, &r);
    dc_txn_result_free(r);
    dc_txn_free(t);
    return rc;
}

static void *run(void *arg)
{
    caller *c = arg;
    for (int i = 0; i < c->ops; i++) {
        int64_t t0 = now_us();
        c->rc = one(c, i);
        if (c->rc != DC_OK) {
            fprintf(stderr, "%s: %s: %s\n", c->op, dc_errname(c->rc), dc_last_error());
            return NULL;
        }
        c->lat_us[i] = now_us() - t0;
    }
    return NULL;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void print_line(const char *op, int n_callers, int64_t *lat, size_t n, double secs)
{
    qsort(lat, n, sizeof *lat, cmp64);
    printf("driver %s %d %zu %lld %lld %.0f\n", op, n_callers, n, (long long)lat[(n - 1) / 2],
           (long long)lat[(size_t)((double)(n - 1) * 0.99)], (double)n / secs);
}

/* put -> event latency with n watches open on one handle. */
static int bench_watch(dc_store *s, int n, int ops)
{
    dc_watch **w = calloc((size_t)n, sizeof *w);
    int64_t *lat = calloc((size_t)ops, sizeof *lat);
    char(*keys)[64] = calloc((size_t)n, sizeof *keys);
    int64_t rev;
    if (!w || !lat || !keys || dc_revision(s, &rev) != DC_OK) {
        fprintf(stderr, "watch setup: %s\n", dc_last_error());
        return 1;
    }
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "bench/driver/w/%d", i);
        if (dc_watch_open(s, keys[i], strlen(keys[i]), rev + 1, 0, &w[i]) != DC_OK) {
            fprintf(stderr, "watch %d: %s\n", i, dc_last_error());
            return 1;
        }
    }
    int64_t start = now_us();
    for (int i = 0; i < ops; i++) {
        int k = (int)(((unsigned)i * 2654435761u) % (unsigned)n); /* spread over the watches */
        int64_t t0 = now_us();
        dc_events *ev = NULL;
        if (dc_put(s, keys[k], strlen(keys[k]), value, sizeof value - 1, 0, NULL) != DC_OK ||
            dc_watch_next(w[k], 10000, &ev) != DC_OK) {
            fprintf(stderr, "watch op %d: %s\n", i, dc_last_error());
            return 1;
        }
        lat[i] = now_us() - t0;
        dc_events_free(ev);
    }
    double secs = (double)(now_us() - start) / 1e6;
    for (int i = 0; i < n; i++) dc_watch_close(w[i]);
    print_line("watch", n, lat, (size_t)ops, secs);
    free(w);
    free(lat);
    free(keys);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_etcd <uri> put|get|txn|watch <callers|watches> <ops>\n");
        return 2;
    }
    const char *uri = argv[1], *op = argv[2];
    int callers = atoi(argv[3]), ops = atoi(argv[4]);
    if (callers < 1 || ops < 1 ||
        (strcmp(op, "put") && strcmp(op, "get") && strcmp(op, "txn") && strcmp(op, "watch"))) {
        fprintf(stderr, "bench_etcd: bad arguments\n");
        return 2;
    }
    dc_store *s;
    if (dc_store_open(uri, &s) != DC_OK) {
        fprintf(stderr, "open %s: %s\n", uri, dc_last_error());
        return 1;
    }
    if (strcmp(op, "watch") == 0) {
        int rc = bench_watch(s, callers, ops);
        dc_store_close(s);
        return rc;
    }
    caller *cs = calloc((size_t)callers, sizeof *cs);
    pthread_t *th = calloc((size_t)callers, sizeof *th);
    int64_t *lat = calloc((size_t)callers * (size_t)ops, sizeof *lat);
    if (!cs || !th || !lat) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 0; i < callers; i++) { /* keys that get and txn read */
        char k[64];
        int kl = snprintf(k, sizeof k, "bench/driver/%d/0", i);
        if (dc_put(s, k, (size_t)kl, value, sizeof value - 1, 0, NULL) != DC_OK) {
            fprintf(stderr, "setup put: %s\n", dc_last_error());
            return 1;
        }
    }
    int64_t start = now_us();
    for (int i = 0; i < callers; i++) {
        cs[i] = (caller){.s = s, .op = op, .id = i, .ops = ops, .lat_us = lat + (size_t)i * ops};
        if (pthread_create(&th[i], NULL, run, &cs[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    int failed = 0;
    for (int i = 0; i < callers; i++) {
        pthread_join(th[i], NULL);
        failed |= cs[i].rc != DC_OK;
    }
    double secs = (double)(now_us() - start) / 1e6;
    dc_store_close(s);
    if (failed) return 1;
    print_line(op, callers, lat, (size_t)callers * (size_t)ops, secs);
    free(cs);
    free(th);
    free(lat);
    return 0;
}
