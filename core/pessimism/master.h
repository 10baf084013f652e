/*
 * The master's private state, shared by master.c (event loop and handlers),
 * master_lock.c (driving one lock through steps 4 and 10), master_unlock.c
 * (unlock jobs) and master_admin.c (admin requests from the store, the
 * listings, remove_meta).
 */
#ifndef DC_PESS_MASTER_H
#define DC_PESS_MASTER_H

#include "admin.h"
#include "pess.h"

#include <pthread.h>
#include <stdatomic.h>

enum {
    K_INFO = 0,
    K_OP = 1,
    K_MEMBER = 2,
    K_MARKER = 3,
    K_CONFLICT = 4,
    K_REQUEST = 5,
    K_ANSWER = 6,
    K_COUNT = 7
};

struct master_job;

/* What the master does to one lock, beside the lock model (lock.h): the
 * keeper allocates it with each of the master's locks (lock->data). */
typedef struct master_lock {
    int owner_put;          /* exec=true written (or queued) for the owner */
    int others_put;         /* exec=false written (or queued) for the others */
    int queued;             /* writes of this lock waiting in the batch */
    int removing;           /* step 10 queued: detached from the keeper until it is written */
    int64_t del_rev;        /* step 10: highest revision its deletes were written at */
    struct master_job *job; /* the unlock working on this lock, or NULL */
    int64_t warned_attempt; /* the uncertain state last logged (attempt, operation revision) */
    int64_t warned_rev;
} master_lock;

static inline master_lock *ML(const pess_lock *lock)
{
    return (master_lock *)lock->data;
}

/* A write of an operation key waiting for the end of the batch. */
enum { QW_EXEC = 0, QW_SKIP = 1, QW_DELETE = 2, QW_DELETE_INFO = 3 };
typedef struct master_qw {
    char *key;
    pess_lock *lock; /* NULL: the lock went away before the flush */
    char *source;
    int kind;          /* QW_EXEC / QW_SKIP: put exec=true / false; QW_DELETE: step 10;
                        * QW_DELETE_INFO: step 10 deletes the info of a source that left */
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

/* An unlock in progress (master_unlock.c): from an admin request in the
 * store, or from a dc_master_unlock call. It lives across passes of the run
 * loop and across rebuilds (it is applied again to the rebuilt lock) until
 * the lock resolves, goes, or the wait runs out. */
typedef struct master_job {
    struct master_job *next;
    char *lock_id;
    dc_unlock_options o; /* o.owner is the job's copy */
    int64_t cutoff;      /* it acts only on what existed at this revision */
    int64_t deadline;    /* on the master's clock; -1: none */
    /* the request it serves (NULL: a direct call) */
    char *req_key;
    int64_t req_create;
    int64_t lease;
    int withdrawn; /* the request was deleted: nobody waits for the answer */
    /* what applying it changed, put back when it gives up */
    char **unsynced;
    size_t n_unsynced;
    char *old_owner;
    int was_forced;
    int applied;       /* it forced its lock (so a missing lock means: resolved) */
    int took_over;     /* its owner change / assumption was carried out (not again) */
    uint64_t rebuilds; /* m->rebuilds when it was last applied */
    /* the outcome */
    int finished;
    int code;
    char message[512];
} master_job;

struct dc_master {
    dc_store *store;
    char *ns;
    char *name;
    pess_fence fence;
    pess_mirror ops;     /* the operation keys as of the last handled revision */
    pess_mirror markers; /* the resolution markers, likewise */
    dc_step_fn on_step;
    void *step_ud;
    int64_t (*clock_ms)(void *);
    void *clock_ud;
    int (*reopen)(dc_store *, dc_store **, const char **, size_t *, int64_t *, void *);
    void *reopen_ud;
    dc_store *own_store; /* a handle the master opened itself after a reset (closed when freed) */
    int reset_seen;      /* a call or the watch answered DC_ERESET: reopen before anything */
    uint64_t resets;     /* store resets survived */

    pthread_mutex_t mu;  /* serialises handlers and admin calls */
    pthread_cond_t cond; /* broadcast after every pass and when the loop is free */
    pess_keeper *keeper;
    pess_task *tasks;
    pess_bad *bad;
    dc_watch *watch;
    char *watch_prefix;
    char *pfx[K_COUNT];
    size_t pfx_len[K_COUNT];
    int need_rebuild;
    int backoff;       /* ms to wait before the next rebuild after a failed one */
    int running;       /* a thread is inside dc_master_run */
    int looping;       /* a thread owns the loop (polls the watch): dc_master_run or an unlock */
    int want_loop;     /* dc_master_run callers waiting for the loop */
    int fatal;         /* sticky DC_ECLOSED / DC_ECHANGED */
    uint64_t rebuilds; /* counts rebuilds: jobs are applied again after one */
    int64_t handled;   /* the revision of the last handled event (or of the step-1 read) */
    master_job *jobs;

    /* The batch: writes queued while handling one batch of events (or a
     * rebuild, or an unlock), committed together by dcp_master_flush. */
    master_qw **q; /* in queue order */
    size_t nq, capq;
    master_qw *qkeys;      /* the same entries by key */
    pess_lock **finishing; /* step 10 queued: detached, freed after the flush */
    size_t nfin, capfin;
    char **redrive; /* IDs of locks that found done operations while writing */
    size_t nredrive, capredrive;
    master_echo *echoes; /* committed operation puts whose events are still to come */

    int wake[2]; /* pipe: dc_master_stop and new jobs wake the loop */
    atomic_int stop;
    _Atomic int64_t m1;
    /* for dc_master_get_stats (master_stats.c), under mu */
    double stat_rebuild_ms; /* the last completed rebuild's duration */
    uint64_t stat_answers;  /* admin requests answered */
};

/* The master's clock (unlock deadlines), in ms. */
int64_t dcp_master_now(const dc_master *m);

/* Report a protocol step: one log line, then the callback. Returns DC_OK, or
 * DC_ECLOSED (and m->fatal) when the callback asked to stop. */
int dcp_master_step(dc_master *m, int step, const pess_lock *lock, const char *source, int64_t rev,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* One pass of the event loop, with m->mu held and the loop owned (released
 * only while waiting up to wait_ms): rebuild if needed, handle the events
 * that arrived, then the unlock jobs. DC_OK, or the fatal code that stops
 * the master. */
int dcp_master_pump(dc_master *m, int wait_ms);

/* Record a fatal error (fence, stop): sticky. Returns code. */
int dcp_master_fail(dc_master *m, int code);

/* Drive lock as far as it can go now (steps 4 and 10): its writes are
 * queued, not written, until dcp_master_flush. Step 10 detaches the lock from
 * the keeper (freed by the flush): callers must not use it afterwards. */
int dcp_master_progress(dc_master *m, pess_lock *lock);
/* source reported lock's DDLs after an unlock forced the lock without it:
 * awaited again, and given its exec=false if the others have theirs. */
int dcp_master_rejoin(dc_master *m, pess_lock *lock, const char *source);

/* Commit the queued writes in txns of up to 32 keys, then report their
 * steps, finish the locks of step 10 and drive again the locks whose writes
 * found done operations, until nothing is queued. rc is the caller's result
 * so far: on any error (rc's or the flush's) the batch is dropped (the
 * master rebuilds) and the error returned. */
int dcp_master_flush(dc_master *m, int rc);
/* Write what is queued, so a direct write of the same keys comes after it;
 * reports step 4 but frees no lock (the caller may be holding one). */
int dcp_master_flush_writes(dc_master *m);
/* Forget the batch (a rebuild or an error). */
void dcp_master_queue_drop(dc_master *m);
/* Detach lock's queued writes from it (it is being freed). */
void dcp_master_queue_forget(dc_master *m, pess_lock *lock);

/* Delete the operations of every source of lock with the lock's ID (step 10
 * and unlock), and with infos too (unlock --force-remove) when with_infos. */
int dcp_master_delete_lock_keys(dc_master *m, pess_lock *lock, int with_infos, int64_t *rev);

/* Delete source's operation if it belongs to lock (the source left). */
int dcp_master_delete_op(dc_master *m, pess_lock *lock, const char *source);

/* ---------------------------------------------------------------- takeovers (master_owner.c) */

/* Where source stands with its operation of lock: from the mirrors, or with
 * fresh a read of the store (the mirrors lag behind the master's own writes
 * and the owner's intent until their events come back). */
int dcp_master_owner_state(dc_master *m, const pess_lock *lock, const char *source, int fresh,
                           pess_owner *st);

/* On source's operation of lock: complete = 0 fences it (deletes it, in a
 * txn that requires no intent for it), complete = 1 writes its done txn for
 * it (it executed, per its marker or per an operator). An intent is settled
 * only by an operator: assume_before > 0 lets an intent recorded for an
 * operation at or before that revision be fenced or completed. *found says
 * what was found (OWNER_IDLE after a fence or when nothing was out,
 * OWNER_DONE, OWNER_EXECUTED). Errors: DC_EUNCERTAIN (an intent nobody
 * settled), DC_EINVAL (complete: nothing was executed), DC_ECHANGED, store
 * errors. */
int dcp_master_owner_act(dc_master *m, pess_lock *lock, const char *source, int complete,
                         int64_t assume_before, pess_owner *found);

/* The owner of lock left the task or is replaced by an unlock: fence its
 * operation if it is out (dcp_master_owner_act), then hand the lock to `to` (or
 * dcp_lock_pick_owner's choice). DC_EUNCERTAIN: its intent stands, the
 * lock keeps its owner (logged once). */
int dcp_master_owner_leaves(dc_master *m, pess_lock *lock, const char *to, int64_t assume_before);

/* Log once per intent that lock is uncertain, and why it matters now. */
void dcp_master_warn_uncertain(dc_master *m, pess_lock *lock, const pess_owner *st,
                               const char *why);

/* Write or delete source's conflict report. */
int dcp_master_put_conflict(dc_master *m, const pess_lock *lock, const char *source,
                            int64_t info_rev, const char *message);
int dcp_master_del_conflict(dc_master *m, const char *task, const char *source);

/* 1 if kv is the event of an operation put the master committed itself (its
 * lock ID is then noted in the mirror without decoding the value); forgets
 * entries the event shows are stale. */
int dcp_master_echo_seen(dc_master *m, const dc_kv *kv);
/* Forget every pending echo (rebuild, free). */
void dcp_master_echo_clear(dc_master *m);

/* Remove the lock from the keeper (telling its unlock job, if any, that the
 * lock is gone) and free it. */
void dcp_master_remove_lock(dc_master *m, pess_lock *lock);
/* The lock is going (step 10, removal): its job, if any, finishes with OK. */
void dcp_master_lock_gone(dc_master *m, pess_lock *lock);

/* ---------------------------------------------------------------- jobs (master_unlock.c) */

/* Start an unlock job (o is copied). req_kv: the request it serves, or NULL
 * for a direct call (cutoff = what the master has handled). The job is
 * checked and applied at once; *out (may be NULL) gets it. A job that fails
 * at once is finished (and answered). DC_ENOMEM only. */
int dcp_master_job_start(dc_master *m, const char *lock_id, const dc_unlock_options *o,
                         const dc_kv *req_kv, master_job **out);
/* Check every job: re-apply after a rebuild, finish those whose lock went or
 * whose wait ran out, answer and drop the finished ones from requests. */
int dcp_master_jobs_run(dc_master *m);
/* The earliest deadline of a running job on the master's clock, -1 if none. */
int64_t dcp_master_jobs_deadline(const dc_master *m);
/* Free a finished job (direct calls free their own). */
void dcp_master_job_free(master_job *j);
/* Stop every job (the master stops or is freed): each finishes with code. */
void dcp_master_jobs_abort(dc_master *m, int code);
/* The job serving the request at key, or NULL. */
master_job *dcp_master_job_of_request(dc_master *m, const char *key, size_t key_len);

/* ---------------------------------------------------------------- requests (master_admin.c) */

/* A request key was put (serve it) or deleted (withdrawn: its job gives up). */
int dcp_master_admin_event(dc_master *m, const dc_event *ev);
/* After a rebuild: serve the snapshot's requests that have no answer yet. */
int dcp_master_admin_pending(dc_master *m, const pess_snapshot *snap);
/* Write the answer of a job's request (fenced, guarded by the request). */
int dcp_master_answer(dc_master *m, const char *req_key, size_t req_key_len, int64_t req_create,
                      int64_t lease, int code, const char *message);

#endif
