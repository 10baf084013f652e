/*
 * mem:// failpoints: fault injection into the embedded store, for tests that
 * must reproduce crashes, lost answers, dropped watches, lost data and lease
 * expiry exactly (the protocol explorer in tests/explorer drives them).
 *
 * Every failpoint is off until asked for: a mem:// store nobody calls these
 * functions on behaves exactly as documented in store.h. Each function takes
 * a handle opened on mem:// (any other backend: DC_EINVAL) and acts on that
 * handle or on the instance behind it (every handle of mem://name shares one
 * instance).
 *
 *  - A call hook, per handle: consulted at the start of every driver call
 *    the handle makes (get, txn — dc_put and dc_delete are txns —, watch
 *    start, lease grant / keepalive / revoke, compact). It decides the call's
 *    fate: run normally, fail with DC_EUNAVAILABLE (nothing applied), fail
 *    with DC_EUNKNOWN before applying anything, or apply the call and then
 *    report DC_EUNKNOWN, as when a write commits but its answer is lost.
 *  - Ending watches, as if the history they need were compacted
 *    (DC_ECOMPACTED) or their connection were lost for good
 *    (DC_EUNAVAILABLE): one handle's or the whole instance's, all of them or
 *    those on one key or prefix.
 *  - A reset: every key, lease and event is gone, revisions start again at 1
 *    and lease IDs are handed out again from the first one, as when a Redis
 *    server restarts without its append-only file. The instance's epoch
 *    changes (dc_mem_epoch), and every handle opened before answers
 *    DC_ERESET from then on.
 *  - A virtual clock for lease expiry: once set, time stands still for the
 *    instance's leases; nothing expires on its own (the reaper thread stays
 *    idle) and dc_mem_clock_advance expires what is due synchronously, in
 *    the caller's thread, so that a schedule replays exactly.
 *
 * docs/explorer.md describes how the explorer uses them.
 */
#ifndef DDLCOORD_MEM_H
#define DDLCOORD_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The driver calls a hook is consulted on. */
typedef enum dc_mem_call {
    DC_MEM_CALL_GET = 0,
    DC_MEM_CALL_TXN = 1, /* dc_txn_commit, dc_put, dc_delete */
    DC_MEM_CALL_WATCH = 2,
    DC_MEM_CALL_LEASE_GRANT = 3,
    DC_MEM_CALL_LEASE_KEEPALIVE = 4,
    DC_MEM_CALL_LEASE_REVOKE = 5,
    DC_MEM_CALL_COMPACT = 6,
} dc_mem_call;

/* A hook's verdict on one call. */
typedef enum dc_mem_fault {
    DC_MEM_PASS = 0,           /* run the call normally */
    DC_MEM_UNAVAILABLE = 1,    /* fail with DC_EUNAVAILABLE; nothing is applied */
    DC_MEM_UNKNOWN_BEFORE = 2, /* fail with DC_EUNKNOWN; nothing is applied */
    DC_MEM_UNKNOWN_AFTER = 3,  /* apply the call, then fail with DC_EUNKNOWN (the answer is
                                * lost; a read returns nothing). A watch start is not kept:
                                * for it this is DC_MEM_UNKNOWN_BEFORE. */
} dc_mem_fault;

/* What the hook is told about a call. Pointers are valid during the hook only. */
typedef struct dc_mem_call_info {
    dc_mem_call call;
    /* The key the call names: a get's or a watch's key or prefix; a txn's
     * first op of the branch list DC_THEN (else DC_ELSE, else its first
     * compare); NULL for lease calls and compact. */
    const char *key;
    size_t key_len;
    size_t writes;  /* txn: put and delete ops in both branches; else 0 */
    int64_t number; /* lease calls: the lease ID (grant: the TTL); compact: the revision */
} dc_mem_call_info;

/* Called at the start of each driver call made through the handle, in the
 * calling thread, before the instance's lock is taken. It may call the
 * store API on other handles, never on the handle it was called for. */
typedef dc_mem_fault (*dc_mem_hook_fn)(const dc_mem_call_info *call, void *userdata);

/* Install fn (NULL removes the hook) on this handle only. Not thread-safe
 * with respect to calls on the same handle: set it before the handle is used
 * by other threads, or while none is. Errors: DC_EINVAL (NULL or not mem://). */
DC_API int dc_mem_set_hook(dc_store *store, dc_mem_hook_fn fn, void *userdata);

/* Which handles' watches dc_mem_end_watches ends. */
typedef enum dc_mem_scope {
    DC_MEM_SCOPE_HANDLE = 0,   /* those opened through this handle */
    DC_MEM_SCOPE_INSTANCE = 1, /* those of every handle on the instance */
} dc_mem_scope;

/* End the open watches of the scope whose key (or prefix) is exactly key
 * (key NULL: all of them), as the store would end them: their next
 * dc_watch_next returns code, after the events already queued. code is
 * DC_ECOMPACTED (dc_watch_compact_revision then says the instance's current
 * revision: only a fresh read gets past it) or DC_EUNAVAILABLE (the
 * connection was lost and the driver gave up). *ended (may be NULL) gets the
 * number of watches ended. Thread-safe. Errors: DC_EINVAL. */
DC_API int dc_mem_end_watches(dc_store *store, dc_mem_scope scope, const void *key, size_t key_len,
                              int code, size_t *ended);

/* Reset the instance: every key, lease and event is gone, the revision is 1
 * again (the next write gets 2), the compaction point is cleared, lease IDs
 * start again from the instance's first one, and the epoch moves on. Every
 * handle opened before is then poisoned (store.h, "Resets"): its open
 * watches end with DC_ERESET and its next call answers DC_ERESET, so nothing
 * it prepared before applies to the new history; handles opened after the
 * reset work as usual. Thread-safe. Errors: DC_EINVAL. */
DC_API int dc_mem_reset(dc_store *store);

/* The instance's epoch: 1 when created, +1 per dc_mem_reset. Thread-safe. */
DC_API int dc_mem_epoch(dc_store *store, uint64_t *epoch);

/* Put the instance's leases on a virtual clock that reads now_ms, or move
 * an already virtual clock to now_ms (never backwards). The first call keeps
 * each lease's remaining TTL. From then on nothing expires by itself: lease
 * deadlines are virtual milliseconds, and a call that moves the clock
 * expires what became due, in deadline order (then grant order), each lease
 * at its own revision, before it returns. There is no way back to the
 * real clock for that instance. Thread-safe. Errors: DC_EINVAL (not mem://,
 * now_ms < 0, or earlier than the virtual clock). */
DC_API int dc_mem_clock_set(dc_store *store, int64_t now_ms);

/* Move the virtual clock forward by ms (>= 0) and expire what became due,
 * as dc_mem_clock_set does. *expired (may be NULL) gets the number of leases
 * that expired. Errors: DC_EINVAL (also when the clock is not virtual),
 * DC_ENOMEM (the leases not yet expired stay due for the next move). */
DC_API int dc_mem_clock_advance(dc_store *store, int64_t ms, size_t *expired);

/* The virtual clock's reading, or DC_EINVAL if the clock is not virtual. */
DC_API int dc_mem_clock_now(dc_store *store, int64_t *now_ms);

#ifdef __cplusplus
}
#endif
#endif
