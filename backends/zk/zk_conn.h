/*
 * One open zk:// store: the configuration, session and layout layers, and
 * the state the layers above keep per connection (each part is set up and
 * torn down by its own layer, in the order driver.c gives).
 */
#ifndef DC_ZK_CONN_H
#define DC_ZK_CONN_H

#include "zk.h"
#include "zk_config.h"
#include "zk_layout.h"
#include "zk_session.h"

struct zk_conn {
    const dc_host *host;
    zk_cfg cfg;
    zk_session s;
    zk_layout lay;

    /* evlog.c: the cached bucket pointer */
    pthread_mutex_t ptr_mu;
    int64_t ptr_bucket;
    int ptr_version; /* -1 = unknown */

    /* lease.c: the lease reaper */
    pthread_t reaper;
    int reaper_started;
    pthread_mutex_t reap_mu;
    pthread_cond_t reap_cv;
    int reap_stop;

    /* follower.c: the shared log follower of the connection's watches */
    struct zk_follower *fol;
};

#endif
