/*
 * The worker's private state, shared by worker.c (the steps), worker_put.c
 * (step 2), worker_view.c (what the worker knows of its keys, and its
 * watches) and worker_flow.c (the one-call helper).
 */
#ifndef DC_PESS_WORKER_H
#define DC_PESS_WORKER_H

#include "pess.h"

#include <ddlcoord/election.h>

/* The worker's keys, as indexes into dc_worker.view. */
enum { WK_OP, WK_INFO, WK_MARKER, WK_CONFLICT, WK_N };

/* What the worker believes about one of its keys. A belief is only ever used
 * where a stale one is harmless: as the compare of a guarded txn (a stale one
 * fails it and the else branch returns the truth), as a reason to wait on a
 * watch that starts right after it (so the wait sees every later change), or
 * as the operation to hand out (it was the operation at `seen`). */
typedef struct wk_slot {
    int known;      /* the fields below hold the key's state at `seen` */
    int present;    /* the key existed at `seen` */
    int64_t seen;   /* revision the state is known at: later events apply */
    int64_t mod;    /* its mod_revision (0 if absent) */
    int64_t create; /* its create_revision (0 if absent or not known) */
    char *value;    /* NUL-terminated copy, NULL if absent */
    size_t len;
    dc_watch *watch; /* open from at most seen + 1, or NULL */
} wk_slot;

struct dc_worker {
    dc_store *store;
    char *ns, *task, *source;
    dc_step_fn on_step;
    void *step_ud;
    char *info_key, *op_key, *marker_key, *conflict_key;
    /* the current run */
    char *lock_id;
    char **ddls;
    size_t n_ddls;
    char *position;
    int64_t info_rev; /* W1 */
    dc_operation *op; /* the operation received (step 5) */
    int64_t op_rev;   /* its mod_revision */
    int64_t attempt;  /* the execution attempt its intent recorded (0: none) */
    char conflict[512];
    /* kept across runs: the keys' last known state and the open watches */
    wk_slot view[WK_N];
    /* store resets (docs/DESIGN.md, "Resets") */
    dc_store *own_store; /* a handle the worker opened after a reset (closed when freed) */
    int64_t min_attempt; /* the next intent's attempt is at least this (0: none) */
    /* one live worker per (task, source): worker_claim.c */
    dc_election *claim; /* NULL: not claimed */
    int64_t claim_ttl;
};

/* The store's history was reset: close the watches, forget the view and
 * open a new handle on the store (the old one is left to its owner). */
int dcp_worker_reopen(dc_worker *w, int64_t deadline);

/* A skip (exec=false) whose operation vanished before its done txn: record
 * the marker as done and delete the info (worker.c). DC_ECHANGED if the
 * operation was replaced by another of the same lock instead. */
int dcp_worker_skip_resolved(dc_worker *w, int timeout_ms);

/* The marker of the current run (worker_exec.c): the intent before it
 * executes, its result after, or (done) the result its done txn writes. */
int dcp_worker_marker_json(dc_worker *w, int intent, int done, char **json);

/* Report a worker step (log line + callback); DC_ECLOSED if told to stop. */
int dcp_worker_step(dc_worker *w, int step, int64_t rev, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Forget the current run (not the view). */
void dcp_worker_forget(dc_worker *w);
/* After a transient error: pause and return DC_OK to retry, or rc. */
int dcp_worker_pause(int rc, int64_t deadline);
/* Does the marker say the operation was executed (or skipped) at exactly its
 * current revision, without the done txn that completes it? Then *op and *mk
 * get both (caller frees). */
int dcp_worker_pending_run(const dc_kv *op_kv, const dc_kv *mk_kv, dc_operation **op,
                           pess_marker **mk);
/* Make the run recorded in mk (executed as op at op_rev) the current one;
 * takes mk and op. */
void dcp_worker_take_run(dc_worker *w, pess_marker *mk, dc_operation *op, int64_t op_rev);

/* ---------------------------------------------------------------- view */

/* The key of slot k. */
const char *dcp_view_key(const dc_worker *w, int k);
/* Slot k as a kv (in *buf), or NULL if the key is absent or not known. */
const dc_kv *dcp_view_kv(dc_worker *w, int k, dc_kv *buf);
/* Do all n slots of ks hold a state? */
int dcp_view_known(const dc_worker *w, const int *ks, size_t n);
/* Drop the state of slot k (a lost answer may have changed it); its watch
 * stays open, a read sets a new state and later events apply on top. */
void dcp_view_unknown(dc_worker *w, int k);
/* Set slot k to kv (NULL = absent) as of revision rev, unless it already
 * holds a later state. DC_ENOMEM leaves the slot unknown. */
int dcp_view_set(dc_worker *w, int k, const dc_kv *kv, int64_t rev);
/* Slot k is confirmed unchanged at rev (a compare on it held at rev). */
void dcp_view_confirm(dc_worker *w, int k, int64_t rev);
/* Set slots ks[i] from the responses res->responses[first + i] (gets). */
int dcp_view_set_gets(dc_worker *w, const int *ks, size_t n, const dc_txn_result *res,
                      size_t first);
/* One consistent read of the n keys of ks into the view. */
int dcp_view_read(dc_worker *w, const int *ks, size_t n);
/* Add the compare "slot k is as believed" to t (mod_revision, or
 * create_revision == 0 for an absent key). */
int dcp_view_compare(dc_worker *w, dc_txn *t, int k);
/* Apply every event queued on the open watches. *changed gets 1 if a state
 * changed; a watch that ended is closed and its slot made unknown (*changed
 * too), so the caller re-reads. DC_ENOMEM only. */
int dcp_view_drain(dc_worker *w, int *changed);
/* Wait until a watch of the view has something (DC_OK: drain, decide again)
 * or the deadline passes (DC_ETIMEDOUT). Slots ks must be known; their
 * watches are opened first, from seen + 1. A watch that cannot open makes its
 * slot unknown and returns DC_OK after a pause (a store blip: re-read). */
int dcp_view_wait(dc_worker *w, const int *ks, size_t n, int64_t deadline);
/* Close the watches and forget everything. */
void dcp_view_free(dc_worker *w);

#endif
