/*
 * Helpers shared by every measurement of bench_protocol: the clock, nearest
 * rank percentiles, result lines, fatal errors, unique namespaces and a
 * parallel bulk loader (txns of 64 puts) for setting up large stores fast.
 */
#include "bench.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PUTS_PER_TXN 64

double bp_clock(clockid_t clock)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts)) bp_die("clock_gettime", DC_EINTERNAL);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bp_now(void)
{
    return bp_clock(CLOCK_MONOTONIC);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bp_pct(double *v, size_t n, double p)
{
    if (n == 0) return 0;
    qsort(v, n, sizeof *v, cmp_double);
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return v[rank - 1];
}

void bp_result(const char *name, double value)
{
    printf("RESULT %s %.6g\n", name, value);
    fflush(stdout);
}

void bp_info(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("INFO %s ", name);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

void bp_die(const char *what, int rc)
{
    fprintf(stderr, "bench_protocol: %s: %s: %s\n", what, dc_errname(rc), dc_last_error());
    exit(1);
}

void bp_check(const char *what, int rc)
{
    if (rc != DC_OK) bp_die(what, rc);
}

void *bp_alloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_protocol: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

char *bp_ns(const char *name)
{
    static int counter;
    char buf[256];
    snprintf(buf, sizeof buf, "/bench-proto/%ld-%ld-%d/%s", (long)getpid(), (long)time(NULL),
             ++counter, name);
    char *s = strdup(buf);
    if (!s) bp_die("strdup", DC_ENOMEM);
    return s;
}

dc_store *bp_open(const char *uri)
{
    dc_store *s;
    int rc = dc_store_open(uri, &s);
    if (rc) bp_die(uri, rc);
    return s;
}

typedef struct loader {
    dc_store *store;
    char **keys, **values;
    size_t n;
    size_t next; /* next batch start, under mu */
    pthread_mutex_t mu;
} loader;

static void *load_main(void *arg)
{
    loader *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        size_t base = l->next;
        l->next += PUTS_PER_TXN;
        pthread_mutex_unlock(&l->mu);
        if (base >= l->n) return NULL;
        size_t end = base + PUTS_PER_TXN < l->n ? base + PUTS_PER_TXN : l->n;
        dc_txn *t = dc_txn_new();
        if (!t) bp_die("dc_txn_new", DC_ENOMEM);
        for (size_t i = base; i < end; i++)
            bp_check("dc_txn_put", dc_txn_put(t, DC_THEN, l->keys[i], strlen(l->keys[i]),
                                              l->values[i], strlen(l->values[i]), 0, 0));
        dc_txn_result *res;
        bp_check("bulk load txn", dc_txn_commit(l->store, t, &res));
        dc_txn_result_free(res);
        dc_txn_free(t);
    }
}

void bp_put_many(dc_store *store, char **keys, char **values, size_t n, int threads)
{
    loader l = {store, keys, values, n, 0, PTHREAD_MUTEX_INITIALIZER};
    if (threads < 1) threads = 1;
    pthread_t *th = bp_alloc((size_t)threads * sizeof *th);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&th[i], NULL, load_main, &l)) bp_die("pthread_create", DC_ENOMEM);
    for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
    free(th);
}
