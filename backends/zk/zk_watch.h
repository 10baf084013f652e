/*
 * The ZooKeeper driver's watches (watch.c), as the driver table calls them.
 */
#ifndef DC_ZK_WATCH_H
#define DC_ZK_WATCH_H

#include "zk.h"

int zk_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                   dc_drv_err *err);
void zk_watch_stop(void *conn, void *handle);

#endif
