/*
 * The driver seam: how a backend plugs into ddlcoord.
 *
 * A driver is a shared object named ddlcoord-<scheme>.so that exports one
 * symbol, DC_DRIVER_ENTRY_SYMBOL ("dc_driver_entry"), a function returning a
 * pointer to a static dc_driver table. Like SQLite's sqlite3_vfs, the table
 * starts with the ABI version and the size the plugin was compiled with; new
 * members are only ever appended (bumping DC_DRIVER_ABI), so a newer core can
 * load an older plugin and checks abi_version/size before it calls a member
 * that the plugin may not have. A plugin built for a newer ABI than the core
 * knows is refused (DC_EABI).
 *
 * The loader searches, in order: each directory of $DDLCOORD_DRIVER_PATH
 * (colon-separated), the configured "driver_dir", then the install directory
 * (DDLCOORD_DRIVER_DIR, compiled in). mem:// is built in and never loaded.
 *
 * Contract for every member (see store.h for the semantics each must meet):
 *  - Every function may be called from several threads at once on one conn.
 *  - Results are filled into caller-provided structs; every pointer stored in
 *    them must come from malloc(3) (the core frees them with free(3)), and key
 *    and value buffers must be NUL-terminated beyond their length. On error the
 *    driver leaves the result empty (the core frees whatever is there anyway).
 *  - On error a function returns a DC_E… code and writes a one-line detail
 *    into err->msg (naming the endpoint and what failed, never a password).
 *  - A driver that can tell that the store's history was reset (an epoch key
 *    that changed, a layout that vanished) returns DC_ERESET from the call,
 *    and ends watches with watch_fail(DC_ERESET), without applying anything.
 *    The core also checks every revision it is given against what the handle
 *    saw before, so a driver without an epoch still has its resets caught
 *    when its revisions go backwards.
 *  - Requests are validated by the core before they reach the driver: keys are
 *    non-empty (except prefixes), flags are known, no two writes of a txn branch
 *    touch the same key. The driver enforces its backend's own limits.
 *  - A driver never calls back into the public API with the same store.
 */
#ifndef DDLCOORD_DRIVER_H
#define DDLCOORD_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "config.h"
#include "log.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ABI 1: the first table. ABI 2 appends get_page (paged reads) to dc_driver
 * and config_int (range-checked integers) to dc_host. */
#define DC_DRIVER_ABI          2
#define DC_DRIVER_ENTRY_SYMBOL "dc_driver_entry"

/* Error detail filled by a driver call. compact_revision is set with DC_ECOMPACTED. */
typedef struct dc_drv_err {
    char msg[512];
    int64_t compact_revision;
} dc_drv_err;

/* One compare of a txn. value/value_len for DC_TARGET_VALUE, number otherwise. */
typedef struct dc_compare {
    const char *key;
    size_t key_len;
    dc_target target;
    dc_cmp op;
    int64_t number;
    const char *value;
    size_t value_len;
} dc_compare;

/* One op of a txn branch (or a lone get). flags: DC_PREFIX, DC_KEYS_ONLY,
 * DC_COUNT_ONLY, DC_PREV_KV as in store.h. For DC_PREFIX the key is the prefix
 * (possibly empty for "every key" on gets). */
typedef struct dc_op {
    dc_op_kind kind;
    const char *key;
    size_t key_len;
    const char *value;
    size_t value_len;
    int64_t lease;
    int64_t limit;
    unsigned flags;
} dc_op;

typedef struct dc_txn_req {
    const dc_compare *compares;
    size_t n_compares;
    const dc_op *ops[2]; /* [DC_THEN], [DC_ELSE] */
    size_t n_ops[2];
} dc_txn_req;

typedef struct dc_watch_req {
    const char *key;
    size_t key_len;
    unsigned flags;         /* DC_PREFIX, DC_PREV_KV, DC_NO_PUT, DC_NO_DELETE */
    int64_t start_revision; /* >= 1; the core resolves 0 to "current + 1" */
} dc_watch_req;

/* A paged read (dc_get_page), validated by the core: limit >= 1, revision >=
 * 0, flags 0 or DC_KEYS_ONLY, after (if any) sorts after the prefix's start.
 * The driver fills out->kvs/n with at most limit keys under prefix that sort
 * strictly after `after` (or from the prefix's start when after_len is 0), as
 * they were at the revision, sets out->revision to the revision read (the
 * current one when revision is 0), out->count to n and out->more to 1 when
 * keys remain. A revision below the compaction point is DC_ECOMPACTED (with
 * err->compact_revision); one above the current revision is DC_EINVAL. */
typedef struct dc_page_req {
    const char *prefix;
    size_t prefix_len;
    const char *after; /* exclusive; after_len 0 = from the prefix */
    size_t after_len;
    int64_t revision; /* >= 1 fixed revision; 0 = now */
    int64_t limit;    /* >= 1 */
    unsigned flags;   /* 0 or DC_KEYS_ONLY */
} dc_page_req;

/* The core's end of one watch; opaque to drivers. */
typedef struct dc_watch_sink dc_watch_sink;

/* Services the core offers to a driver, passed to open(). Like dc_driver it
 * is versioned: a driver may use members up to the host's abi_version. */
typedef struct dc_host {
    uint32_t abi_version;
    uint32_t size;
    /* Configuration lookup (NULL if absent). */
    const char *(*config_get)(const dc_config *cfg, const char *key);
    /* ABI 1's integer lookup: def when absent, and also (with a WARN line)
     * when the value is not an integer. Drivers for ABI 2 use config_int. */
    int64_t (*config_get_int)(const dc_config *cfg, const char *key, int64_t def);
    /* The library's logger. */
    void (*log)(dc_log_level level, const char *component, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* Hand events to a watch. The array must hold whole revisions in order
     * (never half a revision), each above every revision pushed before to
     * this sink; the core takes ownership of events and of everything they
     * point to (malloc'd), also on error. It filters keys and types again, so
     * a driver may push a superset. An event at or below the last revision
     * already pushed is taken as a reset of the store's history (the watch
     * ends with DC_ERESET and the handle is poisoned), except an exact second
     * copy of the last revision pushed, which is dropped. Returns DC_ECLOSED
     * once the watch is being closed or has ended, DC_ERESET when the push
     * revealed a reset. May be called from any thread, but not concurrently
     * for one sink. */
    int (*watch_push)(dc_watch_sink *sink, dc_event *events, size_t n);
    /* End a watch with an error: code (DC_ECOMPACTED with compact_revision, or
     * another DC_E… code) and a detail message. After this, pushes are ignored.
     * DC_ERESET (the driver's own check found the history reset) also poisons
     * the store handle: its other watches end and its calls fail. */
    void (*watch_fail)(dc_watch_sink *sink, int code, int64_t compact_revision, const char *msg);
    /* --- ABI 2 --- */
    /* The integer at key: def when absent; DC_EINVAL, with a message naming
     * the key, its value and the range in err, when it is not a decimal
     * integer in [lo, hi] (so 4294967396 is an error, not 100 once cast to
     * int). */
    int (*config_int)(const dc_config *cfg, const char *key, int64_t def, int64_t lo, int64_t hi,
                      int64_t *out, char *err, size_t errlen);
} dc_host;

typedef struct dc_driver {
    uint32_t abi_version; /* DC_DRIVER_ABI the plugin was built with */
    uint32_t size;        /* sizeof(dc_driver) the plugin was built with */
    const char *name;     /* URI scheme(s) it serves, e.g. "etcd" */
    const char *version;  /* free-form, for logs */

    /* Connect. uri is the whole store URI; cfg carries every option (URI
     * query parameters already merged in). *conn is the driver's handle. */
    int (*open)(const dc_host *host, const char *uri, const dc_config *cfg, void **conn,
                dc_drv_err *err);
    /* Disconnect and free. All watches of conn have been stopped before. */
    void (*close)(void *conn);

    /* A read (op->kind == DC_OP_GET) as a consistent snapshot. */
    int (*get)(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err);
    /* An atomic txn. dc_put and dc_delete arrive here as one-op txns without
     * compares; drivers may serve those through a cheaper path. */
    int (*txn)(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err);
    /* Compact history before revision. */
    int (*compact)(void *conn, int64_t revision, dc_drv_err *err);

    /* Start delivering events to sink through host->watch_push/watch_fail,
     * from another thread or from the writing thread. *handle identifies the
     * watch for watch_stop. If history before req->start_revision is gone,
     * return DC_ECOMPACTED with err->compact_revision set (the core then
     * opens the watch in its ended state, as the contract asks). */
    int (*watch_start)(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                       dc_drv_err *err);
    /* Stop a watch. After it returns the driver never touches sink again. */
    void (*watch_stop)(void *conn, void *handle);

    int (*lease_grant)(void *conn, int64_t ttl, int64_t *id, int64_t *granted_ttl, dc_drv_err *err);
    int (*lease_keepalive)(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err);
    int (*lease_revoke)(void *conn, int64_t id, dc_drv_err *err);
    /* --- end of ABI 1; later members are appended below this line --- */

    /* --- ABI 2 --- */
    /* A paged read at one revision (see dc_page_req). May be NULL: the core
     * then answers revision 0 or the current revision with one full prefix
     * read returned as a single page, and other revisions with
     * DC_EUNSUPPORTED. */
    int (*get_page)(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err);
} dc_driver;

/* The entry point every plugin exports (extern "C", default visibility). */
typedef const dc_driver *(*dc_driver_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif
