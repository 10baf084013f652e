/*
 * ddlcoord store API: a backend-neutral, revisioned key-value store.
 *
 * The semantics follow etcd v3 (docs/DESIGN.md, "The store contract"); every backend (mem://, etcd,
 * Redis, ZooKeeper) emulates them exactly:
 *
 *  - One store-wide 64-bit revision. Every mutation that changes something gets
 *    a revision strictly greater than all earlier ones; all writes of one txn
 *    share one revision. Revisions need not be contiguous.
 *  - Every key carries create_revision, mod_revision, version (1 on create,
 *    +1 per put, reset by delete) and lease. A missing key has version =
 *    create_revision = mod_revision = 0, and every *value* compare on it is false.
 *  - Watches deliver every event with revision >= start, in order, never
 *    duplicated and never splitting one revision across two dc_watch_next calls.
 *
 * Keys and values are byte strings (they may contain NUL); the library copies
 * what it is given and every result it returns owns its memory and is freed by
 * one call. Unless a function says otherwise it blocks until the backend answers
 * or the store's request timeout expires, and it is safe to call from several
 * threads on the same dc_store.
 *
 * Resets. A store can lose data or see its history go backwards (a Redis
 * restart without its AOF, a FLUSHALL, a fail-over to a lagging replica, an
 * etcd restore from an old snapshot). Each handle remembers the highest
 * revision it has seen in any answer (reads, writes, watch events); an answer
 * below what the handle knew before it asked, a watch event at or below one
 * the watch already delivered, or a backend's own epoch check (Redis, ZooKeeper,
 * mem://) means the history was reset. The call that notices returns DC_ERESET
 * and the handle is *poisoned*: every watch open on it ends with DC_ERESET, and
 * every later call on it (reads, writes, leases, new watches, paged reads)
 * returns DC_ERESET without reaching the backend, until it is closed. One
 * ERROR line is logged per handle. The only remedy is dc_store_close and a
 * new dc_store_open: revisions, leases, leader keys and watch positions from
 * before the reset mean nothing in the new history, and a handle that could
 * keep writing would let a write prepared against the old history apply to
 * the new one.
 */
#ifndef DDLCOORD_STORE_H
#define DDLCOORD_STORE_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_store dc_store;
typedef struct dc_txn dc_txn;
typedef struct dc_watch dc_watch;

/* ---------------------------------------------------------------- flags */

/* Operation flags (an unsigned bit set). Unknown bits are DC_EINVAL. */
#define DC_PREFIX     0x01u /* the key is a prefix: act on every key that starts with it */
#define DC_KEYS_ONLY  0x02u /* get: return keys and metadata without values */
#define DC_COUNT_ONLY 0x04u /* get: return only the count */
#define DC_PREV_KV    0x08u /* put/delete/watch: return the key-value as it was before */
#define DC_NO_PUT     0x10u /* watch: do not deliver PUT events */
#define DC_NO_DELETE  0x20u /* watch: do not deliver DELETE events */

/* ---------------------------------------------------------------- results */

/* One key-value with its metadata. key and value are NUL-terminated for
 * convenience (the terminator is not counted in the lengths); value is "" and
 * value_len 0 for keys-only reads and for DELETE events. */
typedef struct dc_kv {
    char *key;
    size_t key_len;
    char *value;
    size_t value_len;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t version;
    int64_t lease; /* 0 = no lease */
} dc_kv;

/* The result of a get: a consistent snapshot at `revision`. */
typedef struct dc_kvs {
    int64_t revision; /* store revision at which the snapshot was taken */
    int64_t count;    /* number of keys in the range (also with a limit);
                       * dc_get_page: the number of keys in this page */
    int more;         /* 1 if a limit cut the result short */
    size_t n;         /* entries in kvs (0 for DC_COUNT_ONLY) */
    dc_kv *kvs;       /* sorted by key bytes (memcmp order, shorter first) */
} dc_kvs;

typedef enum dc_event_type { DC_EVENT_PUT = 0, DC_EVENT_DELETE = 1 } dc_event_type;

/* One change. For DELETE, kv has the key and mod_revision = the deletion's
 * revision, and everything else zero. prev_kv is NULL unless DC_PREV_KV was
 * asked for and the key existed before the change. */
typedef struct dc_event {
    dc_event_type type;
    dc_kv kv;
    dc_kv *prev_kv;
} dc_event;

/* A batch of events from dc_watch_next: one or more whole revisions. */
typedef struct dc_events {
    size_t n;
    dc_event *events; /* in revision order; events of one revision in op order */
} dc_events;

typedef enum dc_op_kind { DC_OP_GET = 0, DC_OP_PUT = 1, DC_OP_DELETE = 2 } dc_op_kind;

/* The answer to one op of a txn branch. */
typedef struct dc_response {
    dc_op_kind kind;
    /* DC_OP_GET: like dc_kvs (kvs sorted, count, more) */
    size_t n_kvs;
    dc_kv *kvs;
    int64_t count;
    int more;
    /* DC_OP_DELETE: keys deleted; DC_OP_PUT/DELETE with DC_PREV_KV: prev kvs
     * (at most one for a put; empty for a put that created its key) */
    int64_t deleted;
    size_t n_prev_kvs;
    dc_kv *prev_kvs;
} dc_response;

typedef struct dc_txn_result {
    int succeeded;      /* 1 if all compares held and the then-branch ran */
    int64_t revision;   /* the txn's revision if it wrote, else the read revision */
    size_t n_responses; /* one per op of the branch that ran, in order */
    dc_response *responses;
} dc_txn_result;

/* Free a result and everything it points to. NULL is a no-op. */
DC_API void dc_kvs_free(dc_kvs *kvs);
DC_API void dc_events_free(dc_events *events);
DC_API void dc_txn_result_free(dc_txn_result *result);

/* ---------------------------------------------------------------- store */

/* Open a store from a URI:
 *   mem://[name]                    embedded store (named ones are shared in the process)
 *   etcd://host:port[,host:port…]   etcd+https://…
 *   redis://[user:password@]host:port[/db]
 *   zk://[user:password@]host:port[,host:port…][/chroot]
 * Query parameters (?key=value&…) set configuration keys (see config.h).
 * For any scheme but mem, the driver plugin ddlcoord-<scheme>.so is loaded (see
 * driver.h for the search path). On success *out is a handle the caller owns
 * and closes with dc_store_close.
 * Errors: DC_EINVAL (bad URI), DC_ENODRIVER / DC_EABI (plugin problems; the
 * detail names the file tried), DC_EUNAVAILABLE, DC_EAUTH, DC_ENOMEM.
 * Blocks while the driver connects. */
DC_API int dc_store_open(const char *uri, dc_store **out);

/* Open a store from a configuration (its "uri" key is required; see config.h).
 * The configuration is copied: the caller may free it right after. */
DC_API int dc_store_open_config(const dc_config *cfg, dc_store **out);

/* Open a new handle on the same store as store, from the configuration it
 * was opened with (docs/DESIGN.md, "Resets": the remedy for a poisoned
 * handle is a new one). The old handle is left as it is; the caller owns
 * both. Errors: those of dc_store_open_config. Blocks while the driver
 * connects. */
DC_API int dc_store_reopen(const dc_store *store, dc_store **out);

/* A copy of a store URI fit for logs and messages, into buf (always
 * NUL-terminated, truncated to len): user info ("bob:secret@") becomes
 * "***@", and so does the value of any query parameter named like a secret
 * (password, secret, token, auth). What cannot be parsed with confidence is
 * hidden rather than guessed at (a malformed URI shows its scheme only).
 * The library redacts every URI it logs or reports with it. Returns buf.
 * Thread-safe; never allocates. */
DC_API char *dc_uri_redact(const char *uri, char *buf, size_t len);

/* Close a store. Open watches must be closed first (closing the store with
 * open watches ends them with DC_ECLOSED, but the caller still owns and must
 * close the dc_watch handles). NULL is a no-op. Not thread-safe with respect
 * to other calls on the same handle. */
DC_API void dc_store_close(dc_store *store);

/* The scheme of the driver behind the store ("mem", "etcd", …). Owned by the store. */
DC_API const char *dc_store_backend(const dc_store *store);

/* The detail message of the last error on this handle (any thread), or "".
 * Copied into buf (always NUL-terminated); returns buf. */
DC_API const char *dc_store_errmsg(dc_store *store, char *buf, size_t len);

/* ---------------------------------------------------------------- reads */

/* Read one key, or with DC_PREFIX every key starting with key (an empty prefix
 * means every key). flags: DC_PREFIX, DC_KEYS_ONLY, DC_COUNT_ONLY. limit 0 = no
 * limit. On success *out holds a snapshot the caller frees with dc_kvs_free;
 * a missing key is not an error (n == 0).
 * Errors: DC_EINVAL (empty key without DC_PREFIX, bad flags), backend errors. */
DC_API int dc_get(dc_store *store, const void *key, size_t key_len, unsigned flags, int64_t limit,
                  dc_kvs **out);

/* The current store revision (a cheap read). */
DC_API int dc_revision(dc_store *store, int64_t *revision);

/* Read the keys under prefix (key order), at one fixed revision, one page at
 * a time, so that a prefix of any size is read consistently with requests of
 * bounded size and time.
 *   after/after_len: exclusive lower bound (NULL/0 = from the start of the
 *     prefix); to continue, pass the last key of the previous page.
 *   revision: 0 = now (out->revision says which revision was read: pass it
 *     for the next pages); >= 1 = that revision.
 *   limit >= 1: at most this many keys per page (a driver plugin built
 *     before paged reads answers revision 0 or the current revision with
 *     every remaining key in one page; see driver.h).
 *   flags: 0 or DC_KEYS_ONLY.
 * On success *out (free with dc_kvs_free) holds the page: kvs in key order
 * with their metadata as of the revision, count = the number of keys in the
 * page, more = 1 when keys remain. Keys created after the revision are not in
 * it; keys deleted after it are, with their metadata as it was.
 * Errors: DC_ECOMPACTED (the revision is no longer readable: start again from
 * revision 0), DC_EINVAL (limit < 1, a negative or future revision, bad
 * flags), DC_EUNSUPPORTED (an old driver plugin asked for a past revision),
 * DC_ERESET, backend errors. mem://, Redis and ZooKeeper keep no old versions
 * of a key: they rebuild a past revision from the current keys and the event
 * log, so a page at an older revision costs more than one at revision 0, and
 * the revision stays readable until compaction passes it. */
DC_API int dc_get_page(dc_store *store, const void *prefix, size_t prefix_len, const void *after,
                       size_t after_len, int64_t revision, int64_t limit, unsigned flags,
                       dc_kvs **out);

/* ---------------------------------------------------------------- writes */

/* Put value at key, attached to lease (0 = none; a put without a lease
 * detaches the key from any earlier lease). *revision (may be NULL) receives
 * the revision of the write.
 * Errors: DC_EINVAL (empty key), DC_ENOTFOUND (lease does not exist),
 * DC_ETOOBIG, DC_EUNKNOWN (sent, answer lost), backend errors. */
DC_API int dc_put(dc_store *store, const void *key, size_t key_len, const void *value,
                  size_t value_len, int64_t lease, int64_t *revision);

/* Delete key (or with DC_PREFIX every key under it; an empty prefix is
 * DC_EINVAL here, to make wiping the store a deliberate act). *deleted and
 * *revision may be NULL. Deleting nothing is not an error: *deleted = 0 and
 * *revision = the current revision. */
DC_API int dc_delete(dc_store *store, const void *key, size_t key_len, unsigned flags,
                     int64_t *deleted, int64_t *revision);

/* Compact: forget history before revision. Watches starting below it end
 * with DC_ECOMPACTED. Errors: DC_ECOMPACTED (already compacted past it),
 * DC_EINVAL (revision in the future or < 1). Some backends compact in whole
 * chunks and keep a little more history than asked for. */
DC_API int dc_compact(dc_store *store, int64_t revision);

/* ---------------------------------------------------------------- txn */

typedef enum dc_target {
    DC_TARGET_VALUE = 0,
    DC_TARGET_VERSION = 1,
    DC_TARGET_CREATE = 2, /* create_revision */
    DC_TARGET_MOD = 3,    /* mod_revision */
    DC_TARGET_LEASE = 4,
} dc_target;

typedef enum dc_cmp {
    DC_CMP_EQUAL = 0,
    DC_CMP_NOT_EQUAL = 1,
    DC_CMP_LESS = 2,
    DC_CMP_GREATER = 3,
} dc_cmp;

typedef enum dc_branch { DC_THEN = 0, DC_ELSE = 1 } dc_branch;

/* A txn is built, committed, then freed:
 *
 *   dc_txn *t = dc_txn_new();
 *   dc_txn_compare_int(t, "k", 1, DC_TARGET_CREATE, DC_CMP_EQUAL, 0);
 *   dc_txn_put(t, DC_THEN, "k", 1, "v", 1, 0, 0);
 *   dc_txn_get(t, DC_ELSE, "k", 1, 0, 0);
 *   rc = dc_txn_commit(store, t, &res);
 *   dc_txn_free(t);
 *
 * Builder calls copy their arguments. A builder error (bad argument, no
 * memory) is remembered and returned again by dc_txn_commit, so callers may
 * check only the commit. A txn is not thread-safe; it may be committed
 * several times (each commit is a new attempt). dc_txn_new returns NULL only
 * when out of memory. */
DC_API dc_txn *dc_txn_new(void);
DC_API void dc_txn_free(dc_txn *txn);

/* Compare key's value with value (bytes, memcmp order). On a missing key every
 * value compare is false, whatever op is. */
DC_API int dc_txn_compare_value(dc_txn *txn, const void *key, size_t key_len, dc_cmp op,
                                const void *value, size_t value_len);

/* Compare key's version, create_revision, mod_revision or lease with number.
 * A missing key has 0 for each. target must not be DC_TARGET_VALUE. */
DC_API int dc_txn_compare_int(dc_txn *txn, const void *key, size_t key_len, dc_target target,
                              dc_cmp op, int64_t number);

/* Append an op to a branch. Flags as for dc_get / dc_put / dc_delete
 * (put: DC_PREV_KV; delete: DC_PREFIX, DC_PREV_KV; get: DC_PREFIX,
 * DC_KEYS_ONLY, DC_COUNT_ONLY). Two writes in one branch must not touch the
 * same key (DC_EINVAL at commit), as in etcd. */
DC_API int dc_txn_get(dc_txn *txn, dc_branch branch, const void *key, size_t key_len,
                      unsigned flags, int64_t limit);
DC_API int dc_txn_put(dc_txn *txn, dc_branch branch, const void *key, size_t key_len,
                      const void *value, size_t value_len, int64_t lease, unsigned flags);
DC_API int dc_txn_delete(dc_txn *txn, dc_branch branch, const void *key, size_t key_len,
                         unsigned flags);

/* Commit atomically: all compares are evaluated and the chosen branch applied
 * as one unit at one revision, or nothing happens. *out (caller frees with
 * dc_txn_result_free) says which branch ran and holds each op's response.
 * Errors: any builder error, DC_EINVAL (duplicate write keys), DC_ETOOBIG
 * (more ops than the backend allows: etcd's default is 128 per branch, and
 * mem:// keeps the same limit), DC_EUNKNOWN, backend errors. */
DC_API int dc_txn_commit(dc_store *store, dc_txn *txn, dc_txn_result **out);

/* ---------------------------------------------------------------- watch */

/* Watch key (or with DC_PREFIX every key under it; "" = all keys) from
 * start_revision (0 = from the next write on). flags: DC_PREFIX, DC_PREV_KV,
 * DC_NO_PUT, DC_NO_DELETE. If history before start_revision is gone, the watch
 * opens and its first dc_watch_next returns DC_ECOMPACTED. The driver resumes
 * on its own across connection loss; it reports DC_ECOMPACTED rather than a
 * gap when it cannot prove it lost nothing. With DC_PREV_KV every DELETE and
 * every PUT past version 1 carries its prev_kv; a backend that no longer has
 * it (etcd, for the event at the compact revision) ends the watch with
 * DC_ECOMPACTED and the next revision as compact revision.
 * On success *out is a handle the caller closes with dc_watch_close. */
DC_API int dc_watch_open(dc_store *store, const void *key, size_t key_len, int64_t start_revision,
                         unsigned flags, dc_watch **out);

/* Wait up to timeout_ms (-1 = forever, 0 = poll) for events. On DC_OK *out
 * holds one or more whole revisions (free with dc_events_free). Errors:
 * DC_ETIMEDOUT (nothing yet; the watch goes on), DC_ECOMPACTED (the watch has
 * ended; see dc_watch_compact_revision), DC_ECLOSED (the store was closed), or
 * the backend error that ended the watch. Once a watch has ended every later
 * call returns the same code. Safe to call from one thread at a time. */
DC_API int dc_watch_next(dc_watch *watch, int timeout_ms, dc_events **out);

/* A file descriptor that is readable while events (or the end of the watch)
 * are waiting in dc_watch_next. Owned by the watch; do not read or close it. */
DC_API int dc_watch_fd(dc_watch *watch);

/* After DC_ECOMPACTED: the compact revision (the oldest revision still
 * available), else 0. */
DC_API int64_t dc_watch_compact_revision(dc_watch *watch);

/* The revision of the last event handed out by dc_watch_next (0 if none). */
DC_API int64_t dc_watch_last_revision(dc_watch *watch);

/* Stop the watch and free it. Pending events are dropped. NULL is a no-op. */
DC_API void dc_watch_close(dc_watch *watch);

/* ---------------------------------------------------------------- leases */

/* Grant a lease of ttl_seconds (backends may raise it to their minimum; the
 * granted TTL goes to *granted_ttl, which may be NULL). Keys put with the lease
 * are deleted, with ordinary DELETE events at one new revision, when it
 * expires or is revoked. */
DC_API int dc_lease_grant(dc_store *store, int64_t ttl_seconds, int64_t *lease_id,
                          int64_t *granted_ttl);

/* Refresh a lease to its full TTL; *ttl (may be NULL) receives it.
 * Errors: DC_ENOTFOUND if the lease has expired or never existed. */
DC_API int dc_lease_keepalive(dc_store *store, int64_t lease_id, int64_t *ttl);

/* Revoke a lease now, deleting its keys. DC_ENOTFOUND if it does not exist. */
DC_API int dc_lease_revoke(dc_store *store, int64_t lease_id);

#ifdef __cplusplus
}
#endif
#endif
