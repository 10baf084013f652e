/*
 * The ZooKeeper driver's pipelined reads (batch.c).
 */
#ifndef DC_ZK_BATCH_H
#define DC_ZK_BATCH_H

#include "zk.h"

/* A set of pipelined async reads on one handle; FIFO order is kept by the
 * server, so reads issued later see a state at least as new. */
typedef enum { ZK_Q_GET, ZK_Q_EXISTS, ZK_Q_CHILDREN, ZK_Q_SYNC } zk_qkind;

typedef struct zk_slot {
    zk_qkind kind;
    const char *path; /* borrowed until zk_batch_wait returns */
    int rc;
    struct Stat stat;
    char *data; /* malloc'd copy (GET), NUL-terminated */
    int len;
    char **names; /* CHILDREN: malloc'd strings */
    int n_names;
    struct zk_batch *b;
} zk_slot;

typedef struct zk_batch {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int pending;
    zk_slot *slots;
    size_t n, cap;
} zk_batch;

void zk_batch_init(zk_batch *b);
/* Add a request (the path must stay valid until zk_batch_wait). Returns the
 * slot index or -1 when out of memory. Slots are sent by zk_batch_run. */
int zk_batch_add(zk_batch *b, zk_qkind kind, const char *path);
/* Send every unsent slot from index first on, and wait for their answers.
 * Each slot's rc says how it went. A ZK_Q_SYNC slot is the proof that the
 * slots after it read a state at least as new as the leader's when the sync
 * was sent: if the sync failed, every later slot fails with its error too
 * (their answers may be stale). */
void zk_batch_run(zk_batch *b, zhandle_t *zh, size_t first);
/* Sync the handle's server with the leader and wait: every request sent on
 * zh afterwards reads a state at least as new. A ZooKeeper rc. */
int zk_sync(zhandle_t *zh, const char *path);
void zk_batch_free(zk_batch *b);

#endif
