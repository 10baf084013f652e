/*
 * ddlcoord-zk.so: the driver table for zk:// stores (ZooKeeper 3.x through
 * the multi-threaded C client). open/close live here; the work is done in
 * conn.c (session), snap.c/read.c (consistent reads), txn.c (every write is
 * one optimistic zoo_multi), evlog.c (the bucketed event log and
 * compaction), watch.c, lease.c and page.c (paged reads at a past revision).
 * zk.h describes the znode layout.
 */
#include <stdlib.h>

#include "zk.h"

int zk_parse_and_open(const dc_host *host, const char *uri, const dc_config *cfg, zk_conn **out,
                      dc_drv_err *err);
void zk_free(zk_conn *c);

static int drv_open(const dc_host *host, const char *uri, const dc_config *cfg, void **conn,
                    dc_drv_err *err)
{
    zk_conn *c = NULL;
    int rc = zk_parse_and_open(host, uri, cfg, &c, err);
    if (rc == DC_OK && zk_follower_start(c) != 0) {
        zk_reaper_stop(c);
        zk_conn_close(c);
        zk_free(c);
        return ZKERR(err, DC_ENOMEM, "zk: cannot start the watch follower");
    }
    if (rc == DC_OK) *conn = c;
    return rc;
}

static void drv_close(void *conn)
{
    zk_conn *c = conn;
    if (!c) return;
    zk_follower_stop(c);
    zk_reaper_stop(c);
    zk_conn_close(c);
    zk_free(c);
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
