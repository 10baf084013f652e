/*
 * The master's private state, shared by master.c (event loop and handlers),
 * master_lock.c (driving one lock through steps 4 and 10) and
 * master_admin.c (unlock, remove_meta, listings).
 */
#ifndef DC_PESS_MASTER_H
#define DC_PESS_MASTER_H

#include "pess.h"

#include <pthread.h>
#include <stdatomic.h>

enum { K_INFO = 0, K_OP = 1, K_MEMBER = 2, K_MARKER = 3, K_CONFLICT = 4, K_COUNT = 5 };

/* A write of an operation key waiting for the end of the batch. */
enum { QW_EXEC = 0, QW_SKIP = 1, QW_DELETE = 2 };
typedef struct master_qw {
    char *key;
    dc_lock *lock; /* NULL: the lock went away before the flush */
    char *source;
    int kind;          /* QW_EXEC / QW_SKIP: put exec=true / false; QW_DELETE: step 10 */
    UT_hash_handle hh; /* by key: a key queued twice flushes first */
} master_qw;

/* An operation put the master committed, until its own event comes back:
 * that event's value is then known (this lock's operation, not done), so it
 * is not decoded again. Best effort: a missing entry only costs a decode. */
typedef struct master_echo {
    UT_hash_handle hh; /* by key */
    int64_t rev;       /* the put's revision */
    char *id;          /* the lock's ID */
    char key[];
} master_echo;

struct dc_master {
    dc_store *store;
    char *ns;
    pess_fence fence;
    pess_mirror ops; /* the operation keys as of the last handled revision */
    dc_step_fn on_step;
    void *step_ud;

    pthread_mutex_t mu;  /* serialises handlers and admin calls */
    pthread_cond_t cond; /* broadcast after every batch of events (unlock waits) */
    dc_keeper *keeper;
    pess_task *tasks;
    pess_bad *bad;
    dc_watch *watch;
    char *watch_prefix;
    char *pfx[K_COUNT];
    size_t pfx_len[K_COUNT];
    int need_rebuild;
    int backoff;                /* ms to wait before the next rebuild after a failed one */
    int running;                /* a thread is inside dc_master_run */
    int fatal;                  /* sticky DC_ECLOSED / DC_ECHANGED */
    uint64_t unlock_serial;     /* numbers unlock requests (dc_lock.unlock_mark) */
    uint64_t resolved_marks[8]; /* marks of recently removed locks under unlock */
    unsigned resolved_next;
    uint64_t rebuilds; /* counts rebuilds: an unlock re-applies itself after one */

    /* The batch: writes queued while handling one batch of events (or a
     * rebuild, or an unlock), committed together by master_flush. */
    master_qw **q; /* in queue order */
    size_t nq, capq;
    master_qw *qkeys;    /* the same entries by key */
    dc_lock **finishing; /* step 10 queued: detached, freed after the flush */
    size_t nfin, capfin;
    char **redrive; /* IDs of locks that found done operations while writing */
    size_t nredrive, capredrive;
    master_echo *echoes; /* committed operation puts whose events are still to come */

    int wake[2]; /* pipe: dc_master_stop wakes the loop */
    atomic_int stop;
    _Atomic int64_t m1;
};

/* Report a protocol step: one log line, then the callback. Returns DC_OK, or
 * DC_ECLOSED (and m->fatal) when the callback asked to stop. */
int master_step(dc_master *m, int step, const dc_lock *lock, const char *source, int64_t rev,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* One pass of the event loop, with m->mu held (released only while waiting
 * up to wait_ms): rebuild if needed, then handle the events that arrived.
 * DC_OK, or the fatal code that stops the master. dc_master_run loops on
 * it; dc_master_unlock calls it when no thread runs the loop. */
int master_pump(dc_master *m, int wait_ms);

/* Record a fatal error (fence, stop): sticky. Returns code. */
int master_fail(dc_master *m, int code);

/* Drive lock as far as it can go now (steps 4 and 10): its writes are
 * queued, not written, until master_flush. Step 10 detaches the lock from
 * the keeper (freed by the flush): callers must not use it afterwards. */
int master_progress(dc_master *m, dc_lock *lock);

/* Commit the queued writes in txns of up to 32 keys, then report their
 * steps, finish the locks of step 10 and drive again the locks whose writes
 * found done operations, until nothing is queued. rc is the caller's result
 * so far: on any error (rc's or the flush's) the batch is dropped (the
 * master rebuilds) and the error returned. */
int master_flush(dc_master *m, int rc);
/* Write what is queued, so a direct write of the same keys comes after it;
 * reports step 4 but frees no lock (the caller may be holding one). */
int master_flush_writes(dc_master *m);
/* Forget the batch (a rebuild or an error). */
void master_queue_drop(dc_master *m);
/* Detach lock's queued writes from it (it is being freed). */
void master_queue_forget(dc_master *m, dc_lock *lock);
/* Record that an unlock waiting on lock is over and wake waiters. */
void master_lock_gone(dc_master *m, const dc_lock *lock);

/* Delete the operations of every source of lock with the lock's ID (step 10
 * and unlock), and with infos too (unlock --force-remove) when with_infos. */
int master_delete_lock_keys(dc_master *m, dc_lock *lock, int with_infos, int64_t *rev);

/* Delete source's operation if it belongs to lock (the source left). */
int master_delete_op(dc_master *m, dc_lock *lock, const char *source);

/* Write or delete source's conflict report. */
int master_put_conflict(dc_master *m, const dc_lock *lock, const char *source, int64_t info_rev,
                        const char *message);
int master_del_conflict(dc_master *m, const char *task, const char *source);

/* 1 if kv is the event of an operation put the master committed itself (its
 * lock ID is then noted in the mirror without decoding the value); forgets
 * entries the event shows are stale. */
int master_echo_seen(dc_master *m, const dc_kv *kv);
/* Forget every pending echo (rebuild, free). */
void master_echo_clear(dc_master *m);

/* Remove the lock from the keeper, waking unlock waiters (and telling them,
 * through resolved_marks, that their lock is gone). */
void master_remove_lock(dc_master *m, dc_lock *lock);

#endif
