/*
 * Private to watch.c and watch_group.c: one watch, and the helpers both use.
 * Everything but the handshake fields is touched by the loop thread only.
 */
#ifndef DC_ETCD_WATCH_H
#define DC_ETCD_WATCH_H

#include "etcd.h"

enum { START_PENDING, START_OK, START_FAILED };

struct etcd_watch {
    etcd_conn *c;
    dc_watch_sink *sink; /* NULL for the compact-revision probe */
    char *key;
    size_t key_len;
    unsigned flags;
    int64_t next_rev; /* first revision not yet delivered */
    etcd_stream *s;
    size_t ep;

    /* loop thread only */
    int created;      /* the current stream's watch was created */
    int ended;        /* watch_fail was called (or the probe has its answer) */
    int stopped;      /* watch_stop ran: never touch sink again */
    int reauth_tried; /* a token refresh was asked since the last "created" */
    int wait_token;   /* waiting for the refresher thread */
    size_t failures;  /* consecutive streams that never got "created" */
    long backoff_ms;
    int64_t retry_at;
    int in_retry;
    etcd_watch *next_retry;
    char last_err[600];
    etcd_job start_job, stop_job;
    etcd_watch *next_all; /* in c->watches: every started watch with a sink */

    /* watch_group.c (loop thread only) */
    struct etcd_wgroup *g;       /* the group whose stream serves it; NULL: its own */
    struct etcd_wgroup *joining; /* a group being formed that will take it over */
    size_t gid, jid;             /* its slots in g and in joining */

    pthread_mutex_t mu; /* guards the handshake fields below */
    pthread_cond_t cv;
    int start_state, start_rc;
    char start_msg[512];
    int stop_done;
    int64_t probe_compact;
};

/* What etcd_watch_handle asks of the stream that delivered r. */
enum {
    WH_OK = 0,        /* go on */
    WH_CLOSE = -1,    /* its own stream: close it (ended, or waits for a token) */
    WH_ENDED = 1,     /* in a group: the watch ended; drop it from the group */
    WH_NEED_TOKEN = 2 /* in a group: the token was refused; refresh, reconnect */
};

/* Handle one WatchResponse for w; grouped when it came on a group's stream.
 * Events at revisions below w->next_rev are skipped (a group may replay
 * what w's old stream already delivered). */
int etcd_watch_handle(etcd_watch *w, const Etcdpb__WatchResponse *r, int grouped);
/* Append w's framed create request (from w->next_rev, with watch_id id; 0:
 * let etcd choose) to out. 0, or -1 without memory. */
int etcd_watch_frame_create(const etcd_watch *w, int64_t id, dc_buf *out);
/* End w with code (see watch.c). */
void etcd_watch_end(etcd_watch *w, int code, int64_t compact_rev, const char *msg);

/* watch_group.c: form a group if enough watches have their own stream
 * (etcd_watch_tick calls it), reconnect groups that are due (returns the
 * ms until the next, -1 for none), take w out of its groups (watch_stop),
 * and wake groups that wait for a token. */
void etcd_group_consolidate(etcd_conn *c);
long etcd_group_tick(etcd_conn *c, int64_t now);
void etcd_group_leave(etcd_watch *w);
void etcd_group_token_ready(etcd_conn *c, int64_t now);

#endif
