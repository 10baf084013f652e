/*
 * Watches: each pushes whole records (one record = one revision) of the
 * event log to the core, filtered by its key and event types.
 *
 * A watch from at or past the connection's follower's floor joins the
 * follower at once (follower.c). Any other watch first positions a cursor of
 * its own at its start revision (cursor.c) and catches up on a thread of its
 * own; as soon as it has caught up it hands itself over to the follower and
 * its thread ends.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "zk.h"
#include "zk_batch.h"
#include "zk_codec.h"
#include "zk_config.h"
#include "zk_conn.h"
#include "zk_cursor.h"
#include "zk_evlog.h"
#include "zk_follower.h"
#include "zk_layout.h"
#include "zk_session.h"
#include "zk_watch.h"

typedef struct zk_watch {
    zk_cursor cur; /* first: take() gets the cursor */
    zk_sub sub;
    int64_t start;
    pthread_t th;
    int started;
} zk_watch;

/* Hand the records read to the watch and move the cursor past them. */
static int take(zk_cursor *cur, zk_rec *recs, size_t n, dc_drv_err *err)
{
    zk_watch *w = (zk_watch *)cur;
    for (size_t k = 0; k < n; k++) {
        int rc = zk_sub_hand(cur->c, &w->sub, &recs[k], cur->compact_rev, err);
        if (rc) return rc;
        cur->seq++;
    }
    return DC_OK;
}

static void *watch_main(void *arg)
{
    zk_watch *w = arg;
    zk_cursor *cur = &w->cur;
    zk_conn *c = cur->c;
    int attempt = 0;
    for (;;) {
        pthread_mutex_lock(&cur->mu);
        int stop = cur->stop;
        cur->kick = 0;
        pthread_mutex_unlock(&cur->mu);
        if (stop) break;
        dc_drv_err err = {{0}, 0};
        int rc = zk_cursor_pass(cur, &attempt, &err);
        if ((rc == ZK_STEP_MORE || rc == ZK_STEP_WAIT) && zk_follower_try_join(c, &w->sub, cur))
            break;
        if (rc == ZK_STEP_MORE || rc == ZK_STEP_RETRY) continue;
        if (rc == DC_ECLOSED) break;
        if (rc != ZK_STEP_WAIT) {
            c->host->watch_fail(w->sub.sink, rc, err.compact_revision, err.msg);
            break;
        }
        zk_cursor_wait(cur);
    }
    return NULL;
}

static zk_watch *watch_new(zk_conn *c, const char *key, size_t key_len)
{
    zk_watch *w = calloc(1, sizeof *w);
    if (!w || !(w->sub.key = malloc(key_len + 1))) {
        free(w);
        return NULL;
    }
    if (key_len) memcpy(w->sub.key, key, key_len);
    w->sub.key[key_len] = '\0';
    w->sub.key_len = key_len;
    zk_cursor_init(&w->cur, c, take);
    return w;
}

static void watch_free(zk_watch *w)
{
    zk_cursor_fini(&w->cur);
    free(w->sub.key);
    free(w);
}

int zk_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                   dc_drv_err *err)
{
    zk_conn *c = conn;
    zk_watch *w = watch_new(c, req->key, req->key_len);
    if (!w) return ZKERR(err, DC_ENOMEM, "zk: out of memory starting a watch");
    w->sub.flags = req->flags;
    w->sub.sink = sink;
    w->start = req->start_revision;
    w->sub.next_rev = w->start;
    int64_t deadline = dc__now_ms() + c->cfg.request_timeout_ms;
    int rc;
    /* history below the compact revision is gone whichever way the watch goes */
    for (int attempt = 0;; attempt++) {
        uint64_t gen;
        zhandle_t *zh = zk_acquire(&c->s, &gen);
        /* the server catches up with the leader first, so the compact
         * revision and the position are as new as any write acknowledged
         * before the watch started */
        int zrc = c->cfg.sync ? zk_sync(zh, c->lay.p_rev) : ZOK;
        if (zrc != ZOK)
            rc = ZKERR(err, zk_map_rc(zrc), "zk %s: watch: sync: %s", c->cfg.endpoint, zerror(zrc));
        /* the store's history first: a wiped server has no R/compact either */
        else
            rc = zk_epoch_rc(&c->lay, zoo_exists(zh, c->lay.epoch_path, 0, NULL), err);
        if (rc == DC_OK) rc = zk_compact_rev(c, zh, &w->cur.compact_rev, err);
        zk_release(&c->s);
        if (rc == DC_OK || !zk_recover(&c->s, gen, rc, attempt, deadline)) break;
    }
    if (rc == DC_OK && w->start < w->cur.compact_rev) {
        err->compact_revision = w->cur.compact_rev;
        rc = ZKERR(err, DC_ECOMPACTED,
                   "zk %s: watch from revision %lld: compacted (compact revision %lld)",
                   c->cfg.endpoint, (long long)w->start, (long long)w->cur.compact_rev);
    }
    if (rc == DC_OK && zk_follower_join_at_once(c, &w->sub, w->start)) {
        *handle = w;
        return DC_OK;
    }
    for (int attempt = 0; rc == DC_OK; attempt++) {
        uint64_t gen;
        zhandle_t *zh = zk_acquire(&c->s, &gen);
        rc = zk_cursor_position(&w->cur, zh, w->start, err);
        zk_release(&c->s);
        if (rc == DC_OK || !zk_recover(&c->s, gen, rc, attempt, deadline)) break;
        rc = DC_OK; /* recovered: try again */
    }
    if (rc == DC_OK) {
        zk_cursor_register(&w->cur);
        pthread_mutex_lock(&w->cur.mu);
        w->started = pthread_create(&w->th, NULL, watch_main, w) == 0;
        pthread_mutex_unlock(&w->cur.mu);
        if (!w->started) {
            zk_watch_stop(conn, w);
            return ZKERR(err, DC_ENOMEM, "zk: cannot start a watch thread");
        }
        *handle = w;
        return DC_OK;
    }
    watch_free(w);
    return rc;
}

void zk_watch_stop(void *conn, void *handle)
{
    zk_conn *c = conn;
    zk_watch *w = handle;
    zk_cursor_unregister(&w->cur);
    /* its own thread first: once it has ended, w cannot join the follower */
    zk_cursor_stop(&w->cur);
    if (w->started) pthread_join(w->th, NULL);
    zk_follower_leave(c, &w->sub);
    watch_free(w);
}
