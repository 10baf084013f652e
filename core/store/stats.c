/*
 * Store call counters (ddlcoord/stats.h): every call a handle passes to its
 * driver is counted by kind, with its latency in fixed buckets and whether
 * it failed. Counting is a handful of relaxed atomic adds on the handle, so
 * it costs nothing next to a network round trip and takes no lock; a reader
 * copies the counters one by one (a snapshot that may be one call apart
 * between fields, which monitoring tolerates).
 */
#include "internal.h"

#include <stdatomic.h>

#include "clock.h"

static const double bounds_ms[DC_HIST_BUCKETS - 1] = {0.5, 1,   2,   5,   10,   20,
                                                      50,  100, 200, 500, 1000, 5000};

static const char *const call_names[DC_CALL_COUNT] = {
    "get", "get_page", "txn", "compact", "lease_grant", "lease_keepalive", "lease_revoke"};

const double *dc_hist_bounds_ms(size_t *n)
{
    if (n) *n = DC_HIST_BUCKETS - 1;
    return bounds_ms;
}

static size_t bucket_of(double ms)
{
    size_t b = 0;
    while (b < DC_HIST_BUCKETS - 1 && ms > bounds_ms[b]) b++;
    return b;
}

void dc_hist_observe(dc_histogram *h, double ms)
{
    if (!h) return;
    if (ms < 0) ms = 0;
    h->count++;
    h->sum_ms += ms;
    h->buckets[bucket_of(ms)]++;
}

const char *dc_store_call_name(int call)
{
    return call >= 0 && call < DC_CALL_COUNT ? call_names[call] : "?";
}

void dc__stats_note(dc_store *s, int call, int64_t t0_us, int rc)
{
    if (call < 0 || call >= DC_CALL_COUNT) return;
    dc__call_stats *st = &s->stats[call];
    int64_t us = dc__now_us() - t0_us;
    if (us < 0) us = 0;
    atomic_fetch_add_explicit(&st->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->sum_us, (uint64_t)us, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->buckets[bucket_of((double)us / 1000.0)], 1,
                              memory_order_relaxed);
    if (rc != DC_OK) atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
}

int dc_store_get_stats(dc_store *s, dc_store_call_stats out[DC_CALL_COUNT])
{
    if (!s || !out) return dc__error(DC_EINVAL, "dc_store_get_stats: NULL argument");
    for (int c = 0; c < DC_CALL_COUNT; c++) {
        const dc__call_stats *st = &s->stats[c];
        dc_store_call_stats *o = &out[c];
        o->latency.count = atomic_load_explicit(&st->count, memory_order_relaxed);
        o->latency.sum_ms =
            (double)atomic_load_explicit(&st->sum_us, memory_order_relaxed) / 1000.0;
        for (int b = 0; b < DC_HIST_BUCKETS; b++)
            o->latency.buckets[b] = atomic_load_explicit(&st->buckets[b], memory_order_relaxed);
        o->errors = atomic_load_explicit(&st->errors, memory_order_relaxed);
    }
    return DC_OK;
}
