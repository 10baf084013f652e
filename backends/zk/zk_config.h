/*
 * The ZooKeeper driver's configuration layer (config.c): the zk:// URI and
 * the zk.* options, checked and turned into one read-only record.
 */
#ifndef DC_ZK_CONFIG_H
#define DC_ZK_CONFIG_H

#include "zk.h"

/* Everything the URI and the options say, parsed once at open; read-only
 * afterwards. Strings are owned (zk_config_free). */
typedef struct zk_cfg {
    char *hosts;    /* "h1:p1,h2:p2" for zookeeper_init */
    char *endpoint; /* the same, for messages */
    char *user, *password;
    char *root; /* [/chroot]<root>, no trailing slash */
    int session_timeout_ms, connect_timeout_ms, request_timeout_ms;
    int64_t bucket_size;
    /* 1 (default): every read that must be current is preceded by a sync, so
     * a server that lags the leader catches up first (docs/backends/zk.md,
     * "Reads on an ensemble"). 0 is unsafe: reads may be stale. */
    int sync;
    int64_t max_request;           /* bytes per request */
    int64_t max_value;             /* bytes per value */
    int64_t debug_commit_delay_ms; /* tests only: widen the read-to-commit window */
    int64_t debug_watch_delay_ms;  /* tests only: make watches slow readers */
} zk_cfg;

/* Parse uri and the options in cfg into out (zeroed first). DC_OK, or a
 * DC_E code with err filled; out is then freed already. */
int zk_config_parse(const dc_host *host, const char *uri, const dc_config *cfg, zk_cfg *out,
                    dc_drv_err *err);
void zk_config_free(zk_cfg *c);
/* The ACL for everything the driver creates: creator-only with credentials. */
const struct ACL_vector *zk_acl(const zk_cfg *c);

#endif
