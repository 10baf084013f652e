/*
 * The ZooKeeper driver's log follower (follower.c): one per connection, it
 * reads each new record once and hands it to every watch that has caught up.
 */
#ifndef DC_ZK_FOLLOWER_H
#define DC_ZK_FOLLOWER_H

#include "zk.h"
#include "zk_conn.h"
#include "zk_cursor.h"

/* Started parked at open, stopped at close (after every watch). 0 or -1. */
int zk_follower_start(zk_conn *c);
void zk_follower_stop(zk_conn *c);
/* A watch from at or past the follower's floor joins at once: 1 if sub is
 * now a member. */
int zk_follower_join_at_once(zk_conn *c, zk_sub *sub, int64_t start);
/* A watch that caught up on its own cursor joins if it reached the
 * follower's floor (a parked follower takes its position): 1 if sub is now a
 * member (its own thread must end without touching its sink again). */
int zk_follower_try_join(zk_conn *c, zk_sub *sub, const zk_cursor *from);
/* After this the follower never pushes to sub's sink again. */
void zk_follower_leave(zk_conn *c, zk_sub *sub);

#endif
