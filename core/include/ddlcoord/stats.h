/*
 * ddlcoord stats: read-only counters for monitoring (the master's /metrics
 * page, `ddlcoord master --listen`). Two sources:
 *
 *  - a store handle counts every call it passes to its driver, by kind of
 *    call: how many, how many failed, and their latency as a histogram;
 *  - a master reports how far it has handled the store's history, how many
 *    times it rebuilt its locks and how long the last rebuild took, and how
 *    many admin requests it answered.
 *
 * Everything here is a snapshot copied out under the object's own lock or
 * from atomics: cheap, thread-safe, and never blocking on the store.
 */
#ifndef DDLCOORD_STATS_H
#define DDLCOORD_STATS_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_store dc_store;
typedef struct dc_master dc_master;

/* Kinds of store call, as counted (put and delete are txns of one op). */
typedef enum dc_store_call {
    DC_CALL_GET = 0,
    DC_CALL_GET_PAGE,
    DC_CALL_TXN,
    DC_CALL_COMPACT,
    DC_CALL_LEASE_GRANT,
    DC_CALL_LEASE_KEEPALIVE,
    DC_CALL_LEASE_REVOKE,
    DC_CALL_COUNT
} dc_store_call;

/* Latency buckets: DC_HIST_BUCKETS - 1 finite upper bounds (see
 * dc_hist_bounds_ms) and a last bucket for everything slower. Buckets are
 * not cumulative: each counts the calls that fell in it alone. */
#define DC_HIST_BUCKETS 13

typedef struct dc_histogram {
    uint64_t count;
    double sum_ms;
    uint64_t buckets[DC_HIST_BUCKETS];
} dc_histogram;

/* The finite upper bounds of the buckets, in milliseconds, ascending
 * (0.5, 1, 2, 5, ... 5000); *n gets DC_HIST_BUCKETS - 1. Static storage. */
DC_API const double *dc_hist_bounds_ms(size_t *n);

/* Add one observation of ms milliseconds to h (for callers that keep their
 * own histograms in the same buckets, like the command's lock latency). */
DC_API void dc_hist_observe(dc_histogram *h, double ms);

/* The name of a kind of call ("get", "get_page", "txn", ...), or "?". */
DC_API const char *dc_store_call_name(int call);

typedef struct dc_store_call_stats {
    dc_histogram latency; /* every call that reached the driver */
    uint64_t errors;      /* of them, those that failed (any DC_E code) */
} dc_store_call_stats;

/* Copy the counters of store since it was opened into out[DC_CALL_COUNT].
 * Thread-safe. Errors: DC_EINVAL (NULL argument). */
DC_API int dc_store_get_stats(dc_store *store, dc_store_call_stats out[DC_CALL_COUNT]);

typedef struct dc_master_stats {
    int64_t rebuilt_revision; /* M1 of the last rebuild; 0: not rebuilt yet */
    int64_t handled_revision; /* the last revision whose events it handled */
    uint64_t rebuilds;        /* rebuilds started (the first one included) */
    double last_rebuild_ms;   /* duration of the last completed rebuild */
    uint64_t admin_answers;   /* admin requests answered */
    size_t locks;             /* locks held in memory */
} dc_master_stats;

/* A snapshot of master's counters. Thread-safe (takes the master's mutex,
 * like dc_master_locks). Errors: DC_EINVAL. */
DC_API int dc_master_get_stats(dc_master *master, dc_master_stats *out);

#ifdef __cplusplus
}
#endif
#endif
