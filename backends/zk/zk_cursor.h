/*
 * The ZooKeeper driver's log cursor (cursor.c): a position in the event log
 * that reads the records after it and hands them on, woken up by ZooKeeper
 * watches. A watch catching up owns one; the connection's follower owns one
 * for every watch that has caught up (follower.c).
 */
#ifndef DC_ZK_CURSOR_H
#define DC_ZK_CURSOR_H

#include "zk.h"
#include "zk_codec.h"
#include "zk_conn.h"

/* What one watch wants and where the core takes it. */
typedef struct zk_sub {
    dc_watch_sink *sink;
    char *key; /* owned */
    size_t key_len;
    unsigned flags;
    int64_t next_rev; /* first revision it still needs */
    /* membership of the follower (follower.c, under the follower's mutex):
     * the follower pushes to it and the watch's own thread has ended */
    int member;
    struct zk_sub *mnext;
} zk_sub;

/* Hand record rec to sub if it still needs it (events filtered by key and
 * type). DC_OK, DC_ECLOSED when the core no longer wants events, or an error
 * that ends the watch. */
int zk_sub_hand(zk_conn *c, zk_sub *sub, const zk_rec *rec, int64_t compact_rev, dc_drv_err *err);

typedef struct zk_cursor zk_cursor;

/* Takes records read by the cursor, oldest first, and moves cur->seq past
 * each one it consumed. DC_OK or an error that ends the cursor's owner. */
typedef int (*zk_take_fn)(zk_cursor *cur, zk_rec *recs, size_t n, dc_drv_err *err);

struct zk_cursor {
    uint64_t id; /* wake-up context: never reused (a registry, not a pointer) */
    zk_cursor *next;
    zk_conn *c;
    zk_take_fn take;
    int64_t bucket, seq; /* the position */
    int64_t next_rev;    /* records before the position are below it */
    int64_t compact_rev; /* last compact revision seen (R/compact is watched) */
    int compact_dirty;
    /* the session generation whose server was last synced for this cursor
     * (zk.sync): a new session may land on a server behind what the cursor
     * has read, whose missing bucket would look like a compaction */
    uint64_t synced_gen;
    int synced;
    pthread_mutex_t mu; /* the fields below (and the owner's own, follower.c) */
    pthread_cond_t cv;
    int kick, stop;
};

/* Outcomes of zk_cursor_pass besides a DC_E code (all of which are < 0). */
enum { ZK_STEP_MORE = 0, ZK_STEP_WAIT = 1, ZK_STEP_RETRY = 2 };

void zk_cursor_init(zk_cursor *cur, zk_conn *c, zk_take_fn take);
void zk_cursor_fini(zk_cursor *cur);
/* Wake-ups reach a cursor only while it is registered. */
void zk_cursor_register(zk_cursor *cur);
void zk_cursor_unregister(zk_cursor *cur);
/* Place the cursor at the first event with revision >= start. */
int zk_cursor_position(zk_cursor *cur, zhandle_t *zh, int64_t start, dc_drv_err *err);
/* One pass over the log on a borrowed handle: ZK_STEP_MORE (read something,
 * more may follow), ZK_STEP_WAIT (caught up), ZK_STEP_RETRY (connection
 * trouble, waited out a little; the position is safe) or a DC_E code. */
int zk_cursor_pass(zk_cursor *cur, int *attempt, dc_drv_err *err);
/* Wait for a wake-up, stop, or the slow safety re-poll. */
void zk_cursor_wait(zk_cursor *cur);
/* Ask the cursor's thread to end (it sees cur->stop). */
void zk_cursor_stop(zk_cursor *cur);

#endif
