/*
 * mem:// — the embedded store. Private structures shared by mem.c (keys,
 * reads, txns, compaction, the instance registry), mem_watch.c and
 * mem_lease.c. One mutex per instance serialises everything, which makes
 * every read a consistent snapshot and every txn atomic by construction.
 */
#ifndef DC_MEM_H
#define DC_MEM_H

#include <bsd/sys/tree.h>
#include <pthread.h>
#include <stdint.h>

/* uthash the library's way: a failed allocation leaves the table as it was
 * and the item's hh.tbl NULL, instead of exiting; callers check it. */
#include "dc_hash.h"

#include "internal.h"

#include <ddlcoord/mem.h>

typedef struct mem_lease mem_lease;
typedef struct mem_store mem_store;

/* One handle's connection to an instance (the driver's conn): the
 * instance, the epoch it had when this handle opened, and the handle's
 * failpoint hook (mem_failpoint.c). */
typedef struct mem_conn {
    mem_store *m;
    uint64_t epoch;      /* the instance's epoch when this handle opened */
    dc_mem_hook_fn hook; /* NULL: every call runs normally */
    void *hook_ud;
} mem_conn;

/* A live key. Deleted keys leave the tree; their history lives in the log.
 * Live keys are also in a hash table by key (exact lookups are most of a
 * txn's work: compares, puts, single-key reads), the tree serving ranges. */
typedef struct mem_key {
    RB_ENTRY(mem_key) rb;
    struct mem_key *hnext;                   /* in its hash bucket */
    uint64_t hash;                           /* of kv.key */
    dc_kv kv;                                /* current value and metadata */
    mem_lease *lease;                        /* NULL if kv.lease == 0 */
    struct mem_key *lease_prev, *lease_next; /* in lease->keys */
    int planned_delete; /* a txn being prepared deletes it (two deletes may overlap) */
} mem_key;

RB_HEAD(dc__mem_tree, mem_key);

/* One event of the history: the MVCC log that watches replay. An event owns
 * kv.key, kv.value and prev.value; prev.key is kv.key (the same key), so
 * that a write can hand the key's old value and a deleted key's name over
 * to its event instead of copying them. */
typedef struct mem_event {
    dc_event_type type;
    dc_kv kv;   /* for DELETE: key and mod_revision only (value NULL) */
    dc_kv prev; /* valid if has_prev; prev.key aliases kv.key */
    int has_prev;
} mem_event;

struct mem_lease {
    int64_t id;
    int64_t ttl;         /* seconds */
    int64_t deadline_ms; /* monotonic */
    mem_key *keys;       /* attached keys (doubly linked through mem_key) */
    UT_hash_handle hh;
};

typedef struct mem_watch mem_watch;
typedef struct mem_watch_bucket mem_watch_bucket;

/* Open watches, indexed so that a write costs in proportion to the watches
 * it matches (mem_watch.c explains the layout). */
typedef struct mem_watch_index {
    mem_watch_bucket *exact;    /* uthash: key → watches on exactly that key */
    mem_watch_bucket *prefixes; /* uthash: prefix → watches on that prefix */
    struct mem_prefix_len {
        size_t len;     /* a length that some prefix bucket has */
        size_t buckets; /* how many */
    } * lens;           /* ascending by len */
    size_t n_lens, cap_lens;
    mem_watch **touched; /* scratch of dc__mem_watch_notify: watches with pending events */
    size_t cap_touched;
} mem_watch_index;

struct mem_store {
    char *name; /* NULL for a private instance */
    int refs;
    pthread_mutex_t mu;
    struct dc__mem_tree keys;
    int64_t nkeys;
    mem_key **khash; /* buckets of the live keys by hash; kcap a power of 2 */
    size_t kcap;
    int64_t rev;
    int64_t compact_rev;
    /* the log: events [head, len) of a growable array, revisions ascending */
    mem_event *log;
    size_t head, len, cap;
    int64_t *log_rev; /* revision of each log slot (parallel array, for bsearch) */
    mem_watch_index watches;
    mem_lease *leases; /* uthash by id */
    int64_t next_lease;
    pthread_t reaper;
    pthread_cond_t reaper_cv;
    int reaper_started, stopping;
    int64_t max_txn_ops, max_value_bytes;
    const dc_host *host;
    /* failpoints (mem_failpoint.c) */
    uint64_t epoch;      /* 1, +1 per dc_mem_reset */
    int64_t first_lease; /* the first lease ID; a reset starts again from it */
    int vclock;          /* leases run on the virtual clock below */
    int64_t vnow_ms;
};

int dc__mem_key_cmp(const mem_key *a, const mem_key *b);
RB_PROTOTYPE(dc__mem_tree, mem_key, rb, dc__mem_key_cmp)

mem_key *dc__mem_find(mem_store *m, const char *key, size_t key_len);

/* DC_ERESET (err filled) if the instance was reset since handle c opened
 * (its epoch moved on), else DC_OK. Every real call checks it first, under
 * mu, so nothing prepared against the old history applies to the new one
 * (docs/DESIGN.md, "Resets"). */
int dc__mem_check_epoch(const mem_conn *c, dc_drv_err *err);

/* Paged reads at a fixed revision (mem_page.c). */
int dc__mem_get_page(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err);
/* A copy of a key-value (keys_only: without its value). 0 or -1. */
int dc__mem_copy_kv(dc_kv *dst, const dc_kv *src, int keys_only);
/* The first live key >= key. mu held. */
mem_key *dc__mem_lower_bound(mem_store *m, const char *key, size_t key_len);
/* The first log slot with revision >= rev. mu held. */
size_t dc__mem_log_search(mem_store *m, int64_t rev);

/* The instance behind a driver conn. */
static inline mem_store *mem_of(void *conn)
{
    return ((mem_conn *)conn)->m;
}

/* Milliseconds on the instance's lease clock: monotonic, or virtual. mu held. */
int64_t dc__mem_now(const mem_store *m);

/* The driver calls, without failpoints (mem.c); the driver table has the
 * mem_fp_ versions (mem_failpoint.c), which consult the handle's hook. */
int dc__mem_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err);
int dc__mem_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err);
int dc__mem_compact(void *conn, int64_t revision, dc_drv_err *err);
int dc__mem_fp_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err);
int dc__mem_fp_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err);
int dc__mem_fp_compact(void *conn, int64_t revision, dc_drv_err *err);
int dc__mem_fp_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                           dc_drv_err *err);
int dc__mem_fp_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err);
int dc__mem_fp_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err);
int dc__mem_fp_lease_revoke(void *conn, int64_t id, dc_drv_err *err);

/* Free every key and event and empty the log (mem_destroy, dc_mem_reset). mu held. */
void dc__mem_wipe(mem_store *m);

/* Hand a batch of n events (already at the log's tail, from slot first) to
 * the watchers. mu held. */
void dc__mem_watch_notify(mem_store *m, size_t first, size_t n);
/* Delete every key of lease l at one new revision, as one write (mu held).
 * Used by revoke and expiry. -1 when out of memory (nothing changed). */
int dc__mem_lease_delete_keys(mem_store *m, mem_lease *l);

/* Watches (mem_watch.c). */
void dc__mem_watch_index_free(mem_store *m);
int dc__mem_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                        dc_drv_err *err);
void dc__mem_watch_stop(void *conn, void *handle);
/* End the watches of handle `only` (NULL: of every handle) on exactly key
 * (NULL: all) with code and compact_rev; returns how many. mu held. */
size_t dc__mem_watch_end(mem_store *m, const mem_conn *only, const char *key, size_t key_len,
                         int code, int64_t compact_rev);

/* Leases (mem_lease.c). */
int dc__mem_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err);
int dc__mem_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err);
int dc__mem_lease_revoke(void *conn, int64_t id, dc_drv_err *err);
int dc__mem_lease_start_reaper(mem_store *m);
void dc__mem_lease_stop_reaper(mem_store *m);
void dc__mem_lease_attach(mem_store *m, mem_key *k, mem_lease *l);
void dc__mem_lease_detach(mem_key *k);
void dc__mem_lease_free_all(mem_store *m);
/* Expire the leases whose deadline has passed on the lease clock, in
 * deadline then grant order, each at its own revision. *n gets how many.
 * -1 when out of memory (the rest stay due). mu held. */
int dc__mem_lease_expire_due(mem_store *m, size_t *n);

#endif
