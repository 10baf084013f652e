/*
 * Private declarations shared by the files of core/store: the store handle,
 * error helpers, the host table handed to drivers, and the built-in mem://
 * driver. Nothing here is installed or visible to users or drivers.
 */
#ifndef DC_STORE_INTERNAL_H
#define DC_STORE_INTERNAL_H

#include <ddlcoord/ddlcoord.h>
#include <ddlcoord/driver.h>
#include <ddlcoord/stats.h>
#include <pthread.h>
#include <stdatomic.h>

/* Counters of one kind of driver call (stats.c): atomics, so that counting
 * takes no lock. The sum is kept in microseconds. */
typedef struct dc__call_stats {
    _Atomic uint64_t count, errors, sum_us;
    _Atomic uint64_t buckets[DC_HIST_BUCKETS];
} dc__call_stats;

struct dc_store {
    const dc_driver *drv;
    void *conn;
    void *dl; /* dlopen handle; NULL for built-in drivers */
    dc_config *cfg;
    char scheme[32];
    pthread_mutex_t err_mu;
    char errmsg[512];
    /* Guards the list of watches. Never held while calling into the driver:
     * a driver may end a watch (and so poison the store, which walks the
     * list) from a thread that holds its own locks. */
    pthread_mutex_t watch_mu;
    struct dc_watch *watches; /* open watches, to end them on reset or close */
    /* Reset detection (docs/DESIGN.md, "Resets"): the highest revision any
     * answer or event showed this handle, and whether it saw a reset. */
    _Atomic int64_t high_rev;
    atomic_int poisoned;
    char poison_msg[512]; /* written once, before poisoned is set */
    /* the driver calls counted for dc_store_get_stats (stats.c) */
    dc__call_stats stats[DC_CALL_COUNT];
};

/* Set the calling thread's last-error detail (printf format) and return code. */
int dc__error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, also recorded on the store handle. */
int dc__error_store(dc_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Out of memory: the detail "<where>: out of memory" ("out of memory" when
 * where is NULL), the same words everywhere; returns DC_ENOMEM. The _store
 * form also records it on the handle. Use these instead of writing the
 * message by hand. */
int dc__nomem(const char *where);
int dc__nomem_store(dc_store *s, const char *where);

/* Configuration (config.c). Where URI parameters come from, in messages. */
#define DC__ORIGIN_URI "the store URI"
/* dc_config_set that remembers where the value came from (NULL = code). */
int dc__config_set_from(dc_config *cfg, const char *key, const char *value, const char *origin);
/* Note that key was read (by the core or the driver). */
void dc__config_mark(const dc_config *cfg, const char *key);
/* DC_EINVAL (detail: the key and where it came from) for the first key that
 * nobody read: not in known (NULL-terminated), not read by the driver, and
 * bare or in the section "<scheme>."; keys of other sections ("master.name",
 * "zk.root" with a Redis store) belong to someone else. DC_OK otherwise. */
int dc__config_unread(const dc_config *cfg, const char *scheme, const char *const *known);

/* Count one driver call of kind call that started at t0_us (dc__now_us) and
 * returned rc (stats.c). */
void dc__stats_note(dc_store *s, int call, int64_t t0_us, int rc);

/* The services table given to drivers. */
const dc_host *dc__host(void);

/* The built-in mem:// driver. */
const dc_driver *dc__mem_driver(void);

/* Reset detection (store.c). The highest revision the handle has seen; note
 * a new one (an atomic max). */
int64_t dc__high_rev(dc_store *s);
void dc__note_rev(dc_store *s, int64_t rev);
/* Poison the handle (once; later calls do nothing): log one ERROR line, end
 * every open watch with DC_ERESET. Safe from driver threads (it never calls
 * into the driver). Returns DC_ERESET with the thread's detail set. */
int dc__poison(dc_store *s, const char *why);
/* DC_ERESET (detail set) if the handle is poisoned, else DC_OK. */
int dc__check_poison(dc_store *s);
/* End every open watch of s with code (watch.c); watch_mu must not be held. */
void dc__watches_end(dc_store *s, int code, const char *msg);

/* ABI 2's get_page of a driver table, or NULL if the plugin predates it. */
typedef int (*dc_get_page_fn)(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err);
dc_get_page_fn dc__drv_get_page(const dc_driver *d);

/* Find, load and check the plugin serving scheme. On success *drv and *dl
 * are set (dl for dlclose). Errors name every file tried. */
int dc__load_driver(const char *scheme, const dc_config *cfg, const dc_driver **drv, void **dl);

/* 1 in libddlcoord.so, 0 in libddlcoord.a (linkage.c). */
extern const int dc__shared_library;

/* The committed form of a dc_txn (txn.c), validated, for the driver. */
int dc__txn_request(dc_txn *txn, dc_txn_req *req);

/* Watch side of the host table (watch.c). */
int dc__watch_push(dc_watch_sink *sink, dc_event *events, size_t n);
void dc__watch_fail(dc_watch_sink *sink, int code, int64_t compact_revision, const char *msg);
/* Called by dc_store_close: stop and end every watch still open. */
void dc__watches_detach(dc_store *s);

#define DC_KNOWN_FLAGS \
    (DC_PREFIX | DC_KEYS_ONLY | DC_COUNT_ONLY | DC_PREV_KV | DC_NO_PUT | DC_NO_DELETE)

#endif
