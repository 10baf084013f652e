/*
 * ddlcoord-zk.so: the driver table for zk:// stores (ZooKeeper 3.x through
 * the multi-threaded C client). zk.h lists the layers; this file owns the
 * order in which they are opened and closed, so calls between the driver's
 * files run one way (downwards) only:
 *
 *   open:  configuration -> session -> layout -> event log -> lease reaper
 *          -> watch follower
 *   close: the same in reverse.
 *
 * The work is done in session.c (the handle), snap.c/read.c (consistent
 * reads), txn.c/multi.c (every write is one optimistic zoo_multi), evlog.c
 * (the bucketed event log and compaction), cursor.c/follower.c/watch.c,
 * lease.c and page.c (paged reads at a past revision).
 */
#include <stdlib.h>

#include "zk.h"
#include "zk_config.h"
#include "zk_conn.h"
#include "zk_evlog.h"
#include "zk_follower.h"
#include "zk_layout.h"
#include "zk_lease.h"
#include "zk_ops.h"
#include "zk_session.h"
#include "zk_watch.h"

/* How far open got: close undoes exactly these stages, newest first. */
enum { UP_NONE, UP_CONFIG, UP_SESSION, UP_LAYOUT, UP_EVLOG, UP_REAPER, UP_FOLLOWER };

typedef struct zk_store {
    zk_conn c; /* first: the driver table's conn pointer is the zk_conn */
    int up;
} zk_store;

static void teardown(zk_store *st)
{
    zk_conn *c = &st->c;
    if (st->up >= UP_FOLLOWER) zk_follower_stop(c);
    if (st->up >= UP_REAPER) zk_reaper_stop(c);
    if (st->up >= UP_EVLOG) zk_evlog_fini(c);
    if (st->up >= UP_SESSION) zk_session_close(&c->s);
    zk_layout_free(&c->lay);
    zk_config_free(&c->cfg);
    free(st);
}

static int drv_open(const dc_host *host, const char *uri, const dc_config *cfg, void **conn,
                    dc_drv_err *err)
{
    zk_store *st = calloc(1, sizeof *st);
    if (!st) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    zk_conn *c = &st->c;
    c->host = host;
    int rc = zk_config_parse(host, uri, cfg, &c->cfg, err);
    if (rc == DC_OK) rc = zk_layout_init(&c->lay, &c->cfg, err);
    if (rc == DC_OK) {
        st->up = UP_CONFIG;
        rc = zk_session_open(&c->s, host, &c->cfg, err);
    }
    if (rc == DC_OK) {
        st->up = UP_SESSION;
        rc = zk_layout_open(&c->lay, &c->s, &c->cfg, err);
    }
    if (rc == DC_OK) {
        st->up = UP_LAYOUT;
        zk_evlog_init(c);
        st->up = UP_EVLOG;
        if (zk_reaper_start(c) != 0)
            rc = ZKERR(err, DC_ENOMEM, "zk: cannot start the lease reaper thread");
    }
    if (rc == DC_OK) {
        st->up = UP_REAPER;
        if (zk_follower_start(c) != 0)
            rc = ZKERR(err, DC_ENOMEM, "zk: cannot start the watch follower");
    }
    if (rc != DC_OK) {
        teardown(st);
        return rc;
    }
    st->up = UP_FOLLOWER;
    *conn = c;
    return DC_OK;
}

static void drv_close(void *conn)
{
    if (conn) teardown((zk_store *)conn);
}

static const dc_driver zk_driver = {
    .abi_version = DC_DRIVER_ABI,
    .size = sizeof(dc_driver),
    .name = "zk",
    .version = "0.1 (ZooKeeper C client " ZOO_VERSION ")",
    .open = drv_open,
    .close = drv_close,
    .get = zk_get,
    .txn = zk_txn,
    .compact = zk_compact,
    .watch_start = zk_watch_start,
    .watch_stop = zk_watch_stop,
    .lease_grant = zk_lease_grant,
    .lease_keepalive = zk_lease_keepalive,
    .lease_revoke = zk_lease_revoke,
    .get_page = zk_get_page,
};

__attribute__((visibility("default"))) const dc_driver *dc_driver_entry(void);
__attribute__((visibility("default"))) const dc_driver *dc_driver_entry(void)
{
    return &zk_driver;
}
