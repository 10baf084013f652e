/*
 * Private declarations shared by the files of core/store: the store handle,
 * error helpers, the host table handed to drivers, and the built-in mem://
 * driver. Nothing here is installed or visible to users or drivers.
 */
#ifndef DC_STORE_INTERNAL_H
#define DC_STORE_INTERNAL_H

#include <ddlcoord/ddlcoord.h>
#include <ddlcoord/driver.h>
#include <pthread.h>

struct dc_store {
    const dc_driver *drv;
    void *conn;
    void *dl; /* dlopen handle; NULL for built-in drivers */
    dc_config *cfg;
    char scheme[32];
    pthread_mutex_t err_mu;
    char errmsg[512];
    pthread_mutex_t watch_mu; /* guards watches */
    struct dc_watch *watches; /* open watches, to end them when the store closes */
};

/* Set the calling thread's last-error detail (printf format) and return code. */
int dc__error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, also recorded on the store handle. */
int dc__error_store(dc_store *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dc__error_clear(void);

/* The services table given to drivers. */
const dc_host *dc__host(void);

/* The built-in mem:// driver. */
const dc_driver *dc__mem_driver(void);

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
/* Called by dc_store_close for each watch still open. */
void dc__watch_detach(struct dc_watch *w);

#define DC_KNOWN_FLAGS \
    (DC_PREFIX | DC_KEYS_ONLY | DC_COUNT_ONLY | DC_PREV_KV | DC_NO_PUT | DC_NO_DELETE)

#endif
