/*
 * The ZooKeeper driver's reads and writes as the driver table calls them
 * (read.c, page.c, txn.c).
 */
#ifndef DC_ZK_OPS_H
#define DC_ZK_OPS_H

#include "zk.h"

/* A read at the current revision (read.c). */
int zk_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err);
/* A paged read at a fixed revision (page.c). */
int zk_get_page(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err);
/* A transaction: read, decide, commit optimistically (txn.c). */
int zk_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err);

#endif
