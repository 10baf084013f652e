/*
 * The ZooKeeper driver's base header: the client library, the limits, the
 * error macro and the connection's name. Every file of the driver includes
 * it; it includes no other header of the driver.
 *
 * The driver is built in layers, each a header of its own, and every file
 * includes only the layers below it (tests/zk/check_include_cycles.sh, run by
 * ctest as zk.layers, fails on a cycle):
 *
 *   zk_config.h    URI and options -> zk_cfg (config.c)
 *   zk_session.h   the handle: open, borrow, rebuild after expiry, retry (session.c)
 *   zk_layout.h    the znode layout, its paths and the store's epoch (layout.c)
 *   zk_batch.h     pipelined async reads (batch.c)
 *   zk_codec.h     key names, kv data and event records (codec.c)
 *   zk_conn.h      the connection: the layers above, plus the state of the ones below
 *   zk_evlog.h     the event log and compaction (evlog.c)
 *   zk_snap.h      consistent reads (snap.c)
 *   zk_multi.h     the commit of every write (multi.c)
 *   zk_lease.h     leases and the reaper (lease.c)
 *   zk_ops.h       get, paged get, txn (read.c, page.c, txn.c)
 *   zk_cursor.h    reading the log from a position for watches (cursor.c)
 *   zk_follower.h  the connection's shared log follower (follower.c)
 *   zk_watch.h     watches (watch.c)
 *
 * driver.c includes them all and owns the order of open and close.
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
#include "drv.h"

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

/* The driver's errors: the shared helper (core/util/drv.h). */
#define ZKERR DC_DRV_ERR

/* One open zk:// store (zk_conn.h). */
typedef struct zk_conn zk_conn;

#endif
