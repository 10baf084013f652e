/*
 * Private declarations of the ZooKeeper driver (ddlcoord-zk.so), shared by
 * its files. Nothing here is visible outside the plugin.
 *
 * Layout under the store root R (default /ddlcoord-store, below the URI's
 * chroot path if any); every znode is persistent and carries the connection's
 * ACL (creator-only when credentials are configured):
 *
 *   R/rev              setData in every write multi: its mzxid is the revision
 *   R/kv/k<esc(key)>   one znode per key: [lease header][value]; czxid =
 *                      create_revision, mzxid = mod_revision, version+1 = version
 *   R/gen/NN           deletion generations: a delete of a key bumps its shard,
 *                      and every write that relies on an existing key checks it
 *                      (the ABA remedy, see txn.c)
 *   R/ev               data = current bucket number; its version guards rollover
 *   R/ev/bNNNNNNNNNN/e-NNNNNNNNNN   one event record per write txn (czxid = revision)
 *   R/compact          data = compact revision (decimal)
 *   R/lease/<id>       one lease: data = TTL; mtime (server clock) = last refresh
 *   R/lease/<id>/k<esc(key)>   keys attached to the lease
 *   R/clock            setData to learn the server's clock (lease expiry)
 *   R/epoch/<random>   names this store's history: created with the layout,
 *                      read at open; every write multi checks it and every
 *                      read reads it (a wiped server's new layout has another
 *                      name: DC_ERESET, docs/DESIGN.md "Resets")
 */
#ifndef DC_ZK_H
#define DC_ZK_H

#ifndef THREADED
#define THREADED
#endif

#include <ddlcoord/driver.h>
#include <pthread.h>
#include <stdint.h>
#include <zookeeper/zookeeper.h>

#include "buf.h"

#define ZK_GEN_SHARDS     32
#define ZK_DEFAULT_ROOT   "/ddlcoord-store"
#define ZK_DEFAULT_BUCKET 1000
#define ZK_MAX_TXN_OPS    128
/* jute.maxbuffer on the server (1 MiB - 1): a bigger request drops the connection. */
#define ZK_DEFAULT_MAX_REQUEST 1048575
#define ZK_TOKEN_LEN           16
/* Longest key: its escaped name (up to 3 bytes per byte) travels in several
 * paths of one request. */
#define ZK_MAX_KEY 65536

#define ZKERR(err, code, ...) (snprintf((err)->msg, sizeof(err)->msg, __VA_ARGS__), (code))

typedef struct zk_conn zk_conn;

struct zk_conn {
    const dc_host *host;
    char *hosts;    /* "h1:p1,h2:p2" for zookeeper_init */
    char *endpoint; /* for messages */
    char *user, *password;
    int session_timeout_ms, connect_timeout_ms, request_timeout_ms;
    int64_t bucket_size;
    int ensemble;                  /* several servers: sync before reads (a follower may lag) */
    int64_t max_request;           /* bytes per request */
    int64_t max_value;             /* bytes per value */
    int64_t debug_commit_delay_ms; /* tests only: widen the read-to-commit window */
    int64_t debug_watch_delay_ms;  /* tests only: make watches slow readers */
    /* paths */
    char *root; /* R */
    size_t root_len;
    char *p_rev, *p_kv, *p_ev, *p_compact, *p_lease, *p_clock, *p_gen, *p_epoch;
    char *epoch_path; /* R/epoch/<name> as read at open */

    /* The handle. Calls hold hlock for reading; a rebuild after session
     * expiry holds it for writing. gen counts rebuilds. */
    pthread_rwlock_t hlock;
    zhandle_t *zh;
    uint64_t gen;
    pthread_mutex_t st_mu;
    pthread_cond_t st_cv;
    int zstate; /* last session state seen by the global watcher */
    int closing;

    /* cached bucket pointer */
    pthread_mutex_t ptr_mu;
    int64_t ptr_bucket;
    int ptr_version; /* -1 = unknown */

    /* idempotency tokens: random per conn + counter */
    unsigned char token_base[ZK_TOKEN_LEN];
    uint64_t token_seq;

    /* lease reaper */
    pthread_t reaper;
    int reaper_started;
    pthread_mutex_t reap_mu;
    pthread_cond_t reap_cv;
    int reap_stop;

    /* the shared log follower of the connection's watches (watch.c) */
    struct zk_watch *fol;
};

/* ------------------------------------------------------------- conn.c */

int zk_conn_open(zk_conn *c, dc_drv_err *err);
void zk_conn_close(zk_conn *c);
/* Borrow the handle for one call; *gen identifies it for zk_rebuild. */
zhandle_t *zk_acquire(zk_conn *c, uint64_t *gen);
void zk_release(zk_conn *c);
/* After ZSESSIONEXPIRED/ZINVALIDSTATE on handle generation gen: replace the
 * handle (once, whoever comes first) and wait until it is connected. */
int zk_rebuild(zk_conn *c, uint64_t gen, dc_drv_err *err);
/* The answer to a read of R/epoch/<name> (an exists slot's rc): DC_OK if
 * the store's history is still the one the handle opened, DC_ERESET (err
 * filled) if it is gone, else the read's own error. */
int zk_epoch_rc(zk_conn *c, int zrc, dc_drv_err *err);
/* Map a ZooKeeper error to a DC_E code (connection errors → unavailable). */
int zk_map_rc(int zrc);
/* 1 for errors after which an idempotent read may simply be retried. */
int zk_retryable(int zrc);
/* The ACL for everything the driver creates. */
const struct ACL_vector *zk_acl(zk_conn *c);
/* A fresh idempotency token. */
void zk_new_token(zk_conn *c, unsigned char tok[ZK_TOKEN_LEN]);
/* After a failed call on handle gen: 1 if it is worth retrying (a connection
 * error before the deadline); rebuilds an expired session or waits a little. */
int zk_recover(zk_conn *c, uint64_t gen, int rc, int attempt, int64_t deadline);
/* Wait a little before retrying after a connection error (bounded by deadline). */
void zk_backoff(int attempt, int64_t deadline_ms);

/* ------------------------------------------------------------- batch.c */

/* A set of pipelined async reads on one handle; FIFO order is kept by the
 * server, so reads issued later see a state at least as new. */
typedef enum { ZK_Q_GET, ZK_Q_EXISTS, ZK_Q_CHILDREN, ZK_Q_SYNC } zk_qkind;

typedef struct zk_slot {
    zk_qkind kind;
    const char *path; /* borrowed until zk_batch_wait returns */
    int rc;
    struct Stat stat;
    char *data; /* malloc'd copy (GET), NUL-terminated */
    int len;
    char **names; /* CHILDREN: malloc'd strings */
    int n_names;
    struct zk_batch *b;
} zk_slot;

typedef struct zk_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
    zk_slot *slots;
    size_t n, cap;
} zk_batch;

void zk_batch_init(zk_batch *b);
/* Add a request (the path must stay valid until zk_batch_wait). Returns the
 * slot index or -1 when out of memory. Slots are sent by zk_batch_run. */
int zk_batch_add(zk_batch *b, zk_qkind kind, const char *path);
/* Send every unsent slot from index first on, and wait for their answers.
 * Each slot's rc says how it went. */
void zk_batch_run(zk_batch *b, zhandle_t *zh, size_t first);
void zk_batch_free(zk_batch *b);

/* ------------------------------------------------------------- codec.c */

/* "k" + esc(key): [A-Za-z0-9_-] literal, every other byte %XX. Prefix-free:
 * P is a prefix of K iff esc(P) is a prefix of esc(K). */
int zk_key_escape(dc_buf *out, const char *key, size_t len);
/* Inverse of zk_key_escape on a child name; 0 or -1 if malformed. */
int zk_key_unescape(const char *name, char **key, size_t *len);

/* kv znode data: byte 0 = 0 (no lease) or 1 followed by an 8-byte lease. */
int zk_kv_encode(dc_buf *out, int64_t lease, const char *value, size_t len);
int zk_kv_decode(const char *data, int len, int64_t *lease, const char **value, size_t *vlen);

/* One change inside an event record. */
typedef struct zk_ev {
    dc_event_type type;
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    int64_t create_rev; /* 0 = the record's own revision */
    int64_t version;
    int64_t lease;
    int has_prev;
    char *pvalue;
    size_t pvalue_len;
    int64_t pcreate, pmod, pversion, please;
} zk_ev;

/* One event znode: the changes of one write txn. */
typedef struct zk_rec {
    int64_t rev; /* czxid */
    unsigned char token[ZK_TOKEN_LEN];
    size_t n;
    zk_ev *evs;
} zk_rec;

int zk_rec_encode(dc_buf *out, const unsigned char token[ZK_TOKEN_LEN], const zk_ev *evs, size_t n);
/* Decode into rec (the strings are copies). 0, -1 corrupt, -2 no memory. */
int zk_rec_decode(const char *data, int len, int64_t rev, zk_rec *rec);
void zk_rec_clear(zk_rec *rec);
void zk_ev_clear(zk_ev *ev);
/* Turn change i of rec into a dc_event (malloc'd memory). 0 or -1. */
int zk_rec_event(const zk_rec *rec, size_t i, int with_prev, dc_event *out);

/* ------------------------------------------------------------- evlog.c */

/* The bucket pointer (cached; refresh re-reads R/ev). */
int zk_ptr_get(zk_conn *c, zhandle_t *zh, int refresh, int64_t *bucket, int *version);
void zk_ptr_invalidate(zk_conn *c);
/* Path of bucket b / of event seq in bucket b into buf. */
void zk_bucket_path(zk_conn *c, int64_t b, char *buf, size_t len);
/* After a write whose event got sequence seq in bucket b: roll over when full. */
void zk_maybe_rollover(zk_conn *c, zhandle_t *zh, int64_t b, int64_t seq);
/* Read every event record with lo < rev <= hi, oldest first. DC_ECOMPACTED
 * if part of that range is gone. *recs is malloc'd (free with zk_recs_free). */
int zk_log_range(zk_conn *c, zhandle_t *zh, int64_t lo, int64_t hi, zk_rec **recs, size_t *n,
                 dc_drv_err *err);
/* Find a record by token among events newer than lo in bucket b (and the
 * bucket after it). 1 found (*rev set), 0 not there, <0 a DC_E code. */
int zk_log_find_token(zk_conn *c, zhandle_t *zh, int64_t b, int64_t lo,
                      const unsigned char token[ZK_TOKEN_LEN], int64_t *rev);
void zk_recs_free(zk_rec *recs, size_t n);
int zk_compact(void *conn, int64_t revision, dc_drv_err *err);
/* Read the compact revision. */
int zk_compact_rev(zk_conn *c, zhandle_t *zh, int64_t *rev, dc_drv_err *err);

/* ------------------------------------------------------------- snap.c */

/* One key as read (and then as a txn changes it). */
typedef struct zk_entry {
    char *key;
    size_t key_len;
    char *path;       /* R/kv/k<esc(key)> */
    const char *name; /* the child name inside path */
    /* as read / patched (the snapshot) */
    int present;
    char *value;
    size_t value_len;
    int64_t create_rev, mod_rev, version, lease;
    int gen_shard;
    int gen_version; /* version of R/gen/NN read before the key; -1 unknown */
    int64_t mzxid_read;
    /* txn overlay */
    int written; /* 1 if a put or delete of the txn touched it */
    int fpresent;
    char *fvalue;
    size_t fvalue_len;
    int64_t flease;
    int64_t fversion, fcreate; /* final version / create rev (0 = this txn) */
    int fvalue_owned;
} zk_entry;

typedef struct zk_snap {
    zk_entry *e; /* sorted by key after zk_snap_read */
    size_t n, cap;
    char **prefixes; /* ranges read completely */
    size_t *prefix_lens;
    size_t n_prefixes;
    int64_t rev;     /* the snapshot's revision */
    int rev_version; /* R/rev's version at rev (for strict checks) */
    int64_t r0, r1;
    int64_t max_mzxid;
    int for_write; /* read deletion generations too (before each key) */
} zk_snap;

void zk_snap_init(zk_snap *s);
void zk_snap_free(zk_snap *s);
/* Declare what to read: one key, or every key under a prefix. */
int zk_snap_want_key(zk_snap *s, const char *key, size_t len);
int zk_snap_want_prefix(zk_snap *s, const char *prefix, size_t len);
/* Read everything declared. consistent: make it a snapshot at one revision
 * (bracket + log patch); otherwise only per-key states and gen versions. */
int zk_snap_read(zk_conn *c, zhandle_t *zh, zk_snap *s, int consistent, dc_drv_err *err);
zk_entry *zk_snap_find(zk_snap *s, const char *key, size_t len);
/* 1 if the snapshot covers key (read as a single key or under a prefix). */
int zk_snap_covers(const zk_snap *s, const char *key, size_t len);
/* Fill a get op's answer from the snapshot (with the txn overlay if overlay). */
int zk_snap_range(zk_snap *s, const dc_op *op, int overlay, dc_kv **kvs, size_t *n, int64_t *count,
                  int *more);
int zk_gen_shard(const char *key, size_t len);

/* ------------------------------------------------------------- multi.c */

enum {
    ZK_ROLE_OTHER = 0,
    ZK_ROLE_PTR,
    ZK_ROLE_LEASE,
    ZK_ROLE_EVENT,
    ZK_ROLE_STRICT,
    ZK_ROLE_EPOCH
};
enum { ZK_COMMIT_OK = 0, ZK_COMMIT_RETRY = 1, ZK_COMMIT_PTR = 2 };

/* One multi being built: ops, what each op is for (to tell which condition
 * failed), and the strings the ops point to. */
typedef struct zk_plan {
    zoo_op_t *ops;
    zoo_op_result_t *res;
    int *role;
    int64_t *role_lease;
    size_t n, cap;
    char **owned; /* strings to free */
    size_t n_owned, cap_owned;
    struct Stat rev_stat;
    char evpath[600];
    int64_t bytes;
    int64_t bucket;
    int ptr_version;
} zk_plan;

void zk_plan_free(zk_plan *p);
/* Keep s alive as long as the plan (NULL if s is NULL or out of memory). */
char *zk_plan_own(zk_plan *p, char *s);
/* Append an op (NULL when out of memory); bytes estimates its request size. */
zoo_op_t *zk_plan_op(zk_plan *p, int role, int64_t lease, size_t bytes);
/* R/lease/<id>[/name], malloc'd. */
char *zk_lease_node_path(zk_conn *c, int64_t id, const char *name);
char *zk_lease_path(zk_conn *c, int64_t id);
/* Append the event for entry e (borrowing its strings). 0 or -1. */
int zk_add_event(zk_ev **evs, size_t *n, const zk_entry *e);
/* Build the multi for the snapshot's written entries (strict: assert R/rev's
 * version instead of key-by-key stability). DC_ETOOBIG if it cannot be sent. */
int zk_plan_build(zk_conn *c, zhandle_t *zh, zk_snap *s, int strict, const zk_ev *evs, size_t nev,
                  const unsigned char token[ZK_TOKEN_LEN], zk_plan *p, dc_drv_err *err);
/* Send it; resolve an unknown outcome by token. ZK_COMMIT_* or a DC_E code. */
int zk_plan_commit(zk_conn *c, uint64_t gen, zk_snap *s, zk_plan *p,
                   const unsigned char token[ZK_TOKEN_LEN], int64_t deadline, int64_t *rev,
                   dc_drv_err *err);

/* ------------------------------------------------------------- read.c / txn.c */

int zk_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err);
/* A paged read at a fixed revision (page.c). */
int zk_get_page(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err);
int zk_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err);

/* ------------------------------------------------------------- watch.c */

int zk_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                   dc_drv_err *err);
void zk_watch_stop(void *conn, void *handle);
/* The connection's shared log follower: started parked at open, stopped at
 * close (after every watch). 0 or -1 (out of memory). */
int zk_follower_start(zk_conn *c);
void zk_follower_stop(zk_conn *c);

/* ------------------------------------------------------------- lease.c */

int zk_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err);
int zk_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err);
int zk_lease_revoke(void *conn, int64_t id, dc_drv_err *err);
int zk_reaper_start(zk_conn *c);
void zk_reaper_stop(zk_conn *c);
/* Delete lease id's keys and the lease itself in one write (txn.c). With
 * expect_version >= 0 only if the lease is still at that version (expiry). */
int zk_lease_delete(zk_conn *c, int64_t id, int expect_version, dc_drv_err *err);

#endif
