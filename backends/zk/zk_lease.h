/*
 * The ZooKeeper driver's leases (lease.c).
 */
#ifndef DC_ZK_LEASE_H
#define DC_ZK_LEASE_H

#include "zk.h"
#include "zk_conn.h"

int zk_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err);
int zk_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err);
int zk_lease_revoke(void *conn, int64_t id, dc_drv_err *err);
/* The reaper thread of the connection (expires leases by the server's clock).
 * 0, or -1 when the thread cannot be started. */
int zk_reaper_start(zk_conn *c);
void zk_reaper_stop(zk_conn *c);
/* Delete lease id's keys and the lease itself in one write. With
 * expect_version >= 0 only if the lease is still at that version (expiry). */
int zk_lease_delete(zk_conn *c, int64_t id, int expect_version, dc_drv_err *err);

#endif
