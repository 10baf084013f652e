/*
 * The ZooKeeper driver's layout layer (layout.c). Layout under the store root R (default
 * /ddlcoord-store, below the URI's chroot path if any); every znode is persistent and carries the
 * connection's ACL (creator-only when credentials are configured):
 *
 *   R/rev              setData in every write multi: its mzxid is the revision
 *   R/kv/k<esc(key)>   one znode per key: [lease header][value]; czxid =
 *                      create_revision, mzxid = mod_revision, version+1 = version
 *   R/gen/NN           deletion generations: a delete of a key bumps its shard,
 *                      and every write that relies on an existing key checks it
 *                      (the ABA remedy, see txn.c)
 *   R/ev               data = current bucket number; its version guards rollover
 *   R/ev/bNNNNNNNNNN/e-NNNNNNNNNN   one event record per write txn (czxid = revision)
 *   R/compact          data = compact revision (decimal)
 *   R/lease/<id>       one lease: data = TTL; mtime (server clock) = last refresh
 *   R/lease/<id>/k<esc(key)>   keys attached to the lease
 *   R/clock            setData to learn the server's clock (lease expiry)
 *   R/epoch/<random>   names this store's history: created with the layout,
 *                      read at open; every write multi checks it and every
 *                      read reads it (a wiped server's new layout has another
 *                      name: DC_ERESET, docs/DESIGN.md "Resets")
 */
#ifndef DC_ZK_LAYOUT_H
#define DC_ZK_LAYOUT_H

#include "zk.h"
#include "zk_config.h"
#include "zk_session.h"

/* The paths of the layout (owned) and the epoch read at open. */
typedef struct zk_layout {
    const char *endpoint; /* borrowed from the configuration, for messages */
    char *root;           /* R */
    size_t root_len;
    char *p_rev, *p_kv, *p_ev, *p_compact, *p_lease, *p_clock, *p_gen, *p_epoch;
    char *epoch_path; /* R/epoch/<name> as read at open */
} zk_layout;

/* Compute the paths from cfg->root. DC_OK or DC_ENOMEM (err filled). */
int zk_layout_init(zk_layout *l, const zk_cfg *cfg, dc_drv_err *err);
/* On the server: create the layout if it is missing, check that the
 * credentials may read it (DC_EAUTH), learn the store's epoch. */
int zk_layout_open(zk_layout *l, zk_session *s, const zk_cfg *cfg, dc_drv_err *err);
void zk_layout_free(zk_layout *l);
/* The answer to a read of R/epoch/<name> (an exists slot's rc): DC_OK if
 * the store's history is still the one the handle opened, DC_ERESET (err
 * filled) if it is gone, else the read's own error. */
int zk_epoch_rc(const zk_layout *l, int zrc, dc_drv_err *err);
/* Path of event bucket b into buf. */
void zk_bucket_path(const zk_layout *l, int64_t b, char *buf, size_t len);
/* R/lease/<id>[/name], malloc'd (NULL when out of memory). */
char *zk_lease_node_path(const zk_layout *l, int64_t id, const char *name);
char *zk_lease_path(const zk_layout *l, int64_t id);

#endif
