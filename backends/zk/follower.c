/*
 * The connection's log follower: one cursor (cursor.c) that serves every
 * watch that has caught up. It reads each new record once and hands it to
 * each member that needs it (the record is at or past the member's
 * next_rev), so the cost of a write does not grow with the number of open
 * watches (the protocol's workers keep three watches open for their whole
 * life).
 *
 * A watch that starts below what the follower has read catches up on a
 * thread of its own (watch.c) and joins the follower, under the follower's
 * mutex, as soon as its next_rev is at or past the follower's floor (every
 * record before the follower's cursor is below its floor, every record after
 * it is above): records it already has are filtered by revision, so nothing
 * is lost or repeated. A watch that starts at or past the floor joins at
 * once. With no member left the follower parks (no thread activity, no
 * server traffic, no ZooKeeper watch re-armed); the next watch to catch up
 * re-anchors it at its own cursor, so an idle connection costs nothing and a
 * parked follower never has to find its place in the log again.
 */
#include <stdlib.h>

#include "zk.h"
#include "zk_codec.h"
#include "zk_conn.h"
#include "zk_cursor.h"
#include "zk_follower.h"

struct zk_follower {
    zk_cursor cur;   /* first: take() gets the cursor; cur.mu guards the rest */
    zk_sub *members; /* the watches it pushes to */
    int anchored;    /* the cursor is valid (0 while parked or after a failure) */
    pthread_t th;
    int started;
};

/* End member m (f->cur.mu held): the follower never touches m's sink again. */
static void drop_member(struct zk_follower *f, zk_sub **link, zk_sub *m, int rc,
                        const dc_drv_err *err)
{
    if (rc != DC_ECLOSED) f->cur.c->host->watch_fail(m->sink, rc, err->compact_revision, err->msg);
    *link = m->mnext;
    m->mnext = NULL;
    m->member = 0;
}

/* Hand the records read to each member under the mutex (so a joining or
 * stopping watch sees a consistent floor) and move the cursor past them. A
 * member's error ends only that member. */
static int take(zk_cursor *cur, zk_rec *recs, size_t n, dc_drv_err *err)
{
    (void)err;
    struct zk_follower *f = (struct zk_follower *)cur;
    pthread_mutex_lock(&cur->mu);
    for (size_t k = 0; k < n; k++) {
        for (zk_sub **link = &f->members; *link;) {
            zk_sub *m = *link;
            dc_drv_err merr = {{0}, 0};
            int rc = zk_sub_hand(cur->c, m, &recs[k], cur->compact_rev, &merr);
            if (rc)
                drop_member(f, link, m, rc, &merr);
            else
                link = &m->mnext;
        }
        cur->next_rev = recs[k].rev + 1;
        cur->seq++;
    }
    pthread_mutex_unlock(&cur->mu);
    return DC_OK;
}

/* The cursor hit an error that ends it: end every member with it. */
static void fail_members(struct zk_follower *f, int rc, const dc_drv_err *err)
{
    pthread_mutex_lock(&f->cur.mu);
    while (f->members) drop_member(f, &f->members, f->members, rc, err);
    f->anchored = 0;
    pthread_mutex_unlock(&f->cur.mu);
}

static void *follower_main(void *arg)
{
    struct zk_follower *f = arg;
    zk_cursor *cur = &f->cur;
    int attempt = 0;
    for (;;) {
        pthread_mutex_lock(&cur->mu);
        /* parked: the cursor goes stale, the next member re-anchors it */
        while (!cur->stop && !f->members) {
            f->anchored = 0;
            pthread_cond_wait(&cur->cv, &cur->mu);
        }
        int stop = cur->stop;
        cur->kick = 0;
        pthread_mutex_unlock(&cur->mu);
        if (stop) break;
        dc_drv_err err = {{0}, 0};
        int rc = zk_cursor_pass(cur, &attempt, &err);
        if (rc == ZK_STEP_MORE || rc == ZK_STEP_RETRY) continue;
        if (rc != ZK_STEP_WAIT) {
            fail_members(f, rc, &err);
            continue;
        }
        zk_cursor_wait(cur);
    }
    return NULL;
}

int zk_follower_start(zk_conn *c)
{
    struct zk_follower *f = calloc(1, sizeof *f);
    if (!f) return -1;
    zk_cursor_init(&f->cur, c, take);
    zk_cursor_register(&f->cur);
    c->fol = f;
    pthread_mutex_lock(&f->cur.mu);
    f->started = pthread_create(&f->th, NULL, follower_main, f) == 0;
    pthread_mutex_unlock(&f->cur.mu);
    if (!f->started) {
        zk_follower_stop(c);
        return -1;
    }
    return 0;
}

void zk_follower_stop(zk_conn *c)
{
    struct zk_follower *f = c->fol;
    if (!f) return;
    zk_cursor_unregister(&f->cur);
    zk_cursor_stop(&f->cur);
    if (f->started) pthread_join(f->th, NULL);
    c->fol = NULL;
    zk_cursor_fini(&f->cur);
    free(f);
}

static void add_member(struct zk_follower *f, zk_sub *sub)
{
    sub->mnext = f->members;
    f->members = sub;
    sub->member = 1;
}

int zk_follower_join_at_once(zk_conn *c, zk_sub *sub, int64_t start)
{
    struct zk_follower *f = c->fol;
    if (!f) return 0;
    pthread_mutex_lock(&f->cur.mu);
    int ok = !f->cur.stop && f->anchored && start >= f->cur.next_rev;
    if (ok) add_member(f, sub);
    pthread_mutex_unlock(&f->cur.mu);
    return ok;
}

int zk_follower_try_join(zk_conn *c, zk_sub *sub, const zk_cursor *from)
{
    struct zk_follower *f = c->fol;
    if (!f) return 0;
    int ok = 0;
    pthread_mutex_lock(&f->cur.mu);
    if (!f->cur.stop && !f->anchored) {
        f->cur.bucket = from->bucket;
        f->cur.seq = from->seq;
        f->cur.next_rev = sub->next_rev;
        f->cur.compact_rev = from->compact_rev;
        f->cur.compact_dirty = 1;
        f->anchored = 1;
        f->cur.kick = 1;
        ok = 1;
    } else if (!f->cur.stop && sub->next_rev >= f->cur.next_rev) {
        ok = 1;
    }
    if (ok) {
        add_member(f, sub);
        pthread_cond_broadcast(&f->cur.cv);
    }
    pthread_mutex_unlock(&f->cur.mu);
    return ok;
}

void zk_follower_leave(zk_conn *c, zk_sub *sub)
{
    struct zk_follower *f = c->fol;
    if (!f) return;
    pthread_mutex_lock(&f->cur.mu);
    if (sub->member)
        for (zk_sub **p = &f->members; *p; p = &(*p)->mnext)
            if (*p == sub) {
                *p = sub->mnext;
                break;
            }
    sub->member = 0;
    pthread_mutex_unlock(&f->cur.mu);
}
