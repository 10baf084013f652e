/*
 * ddlcoord admin requests: how an operator's `unlock` and `remove-meta`
 * reach the leading master through the store, with no RPC (docs/DESIGN.md,
 * "Admin requests").
 *
 *   dc_admin_call *c;
 *   dc_unlock_options o = {.owner = "b"};
 *   dc_admin_send_unlock(store, ns, "task-`db`.`tbl`", &o, 30000, &c);
 *   dc_admin_answer a;
 *   rc = dc_admin_wait(c, 30000, &a);     // DC_ETIMEDOUT: nobody answered yet
 *   ...a.code, a.message, a.master...
 *   dc_admin_answer_clear(&a);
 *   dc_admin_call_free(c);                 // withdraws the request
 *
 * A request is a key NS/ddlcoord/admin/request/<random ID> put with a lease
 * of the caller's own; a master serves it inside dc_master_run
 * (pessimism_master.h) and answers at NS/ddlcoord/admin/answer/<ID>, in a
 * write fenced by its leader key and guarded by the request still being
 * there. Freeing the call revokes the lease, which deletes both keys: a
 * request nobody answered in time is withdrawn, never executed later by
 * surprise. A request only ever acts on what existed when it was written:
 * a lock created later with the same ID (every DDL of a table has the same
 * lock ID) is not touched, and DC_ASSUME_* only decide intents recorded
 * before the request.
 *
 * Thread-safety: a dc_admin_call is used by one thread at a time; the
 * functions are otherwise thread-safe. All calls that talk to the store
 * block (each bounded by the store's request timeout; dc_admin_wait by its
 * own timeout too).
 */
#ifndef DDLCOORD_PESSIMISM_ADMIN_H
#define DDLCOORD_PESSIMISM_ADMIN_H

#include "export.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What an unlock decides about an owner that may have executed (its
 * execution intent is recorded and its operation is not done). */
typedef enum dc_assume {
    DC_ASSUME_NOTHING = 0,      /* decide nothing: an uncertain lock is refused (DC_EUNCERTAIN) */
    DC_ASSUME_EXECUTED = 1,     /* the DDLs ran: the owner's operation is completed, all skip */
    DC_ASSUME_NOT_EXECUTED = 2, /* they did not: the owner is fenced, the (new) owner executes */
} dc_assume;

/* How long a master waits for the sources of an unlock by default, and at most. */
#define DC_UNLOCK_DEFAULT_WAIT_MS 20000
#define DC_UNLOCK_MAX_WAIT_MS     600000

/* Options of an unlock; a zeroed struct is a plain unlock. Strings are copied. */
typedef struct dc_unlock_options {
    const char *owner; /* NULL: keep the owner; else a source that reported the lock's DDLs */
    int force_remove;  /* when the wait runs out: remove the lock instead of putting it back */
    dc_assume assume;  /* the decision about an uncertain owner */
    /* How long the master waits for the sources, in ms: 0 = the default;
     * at most DC_UNLOCK_MAX_WAIT_MS; -1 = no limit (dc_master_unlock only). */
    int wait_ms;
} dc_unlock_options;

/* A master's answer. Strings are malloc'd (never NULL after an answer). */
typedef struct dc_admin_answer {
    int code;      /* DC_OK, or the DC_E… code the request failed with */
    char *message; /* one line: what was done, or why not */
    char *master;  /* the name of the master that answered ("" if it has none) */
} dc_admin_answer;

DC_API void dc_admin_answer_clear(dc_admin_answer *answer);

typedef struct dc_admin_call dc_admin_call;

/* Write an unlock request for lock_id (options NULL = a plain unlock), under
 * namespace ns (NULL = the default), with a lease that outlives timeout_ms
 * (the longest the caller will wait for the answer) by 10 s. options->wait_ms
 * is capped so that the master answers within timeout_ms (it keeps a third,
 * at least 3 s, for its answer). On success *out is the call (free with
 * dc_admin_call_free). Errors: DC_EINVAL, DC_ENOMEM, store errors. */
DC_API int dc_admin_send_unlock(dc_store *store, const char *ns, const char *lock_id,
                                const dc_unlock_options *options, int timeout_ms,
                                dc_admin_call **out);

/* Write a remove-meta request for task (see dc_master_remove_meta). */
DC_API int dc_admin_send_remove_meta(dc_store *store, const char *ns, const char *task,
                                     int timeout_ms, dc_admin_call **out);

/* Wait up to timeout_ms (0: just look; -1: forever) for the answer. DC_OK:
 * *answer filled (clear it with dc_admin_answer_clear); DC_ETIMEDOUT: no
 * answer yet (call again, or give up); DC_ECORRUPT: an answer that cannot be
 * decoded; store errors. */
DC_API int dc_admin_wait(dc_admin_call *call, int timeout_ms, dc_admin_answer *answer);

/* The request's ID (its key is NS/ddlcoord/admin/request/<ID>). Owned by the call. */
DC_API const char *dc_admin_call_id(const dc_admin_call *call);

/* Withdraw the request (revoke its lease, deleting request and answer) and
 * free the call. NULL is a no-op. */
DC_API void dc_admin_call_free(dc_admin_call *call);

#ifdef __cplusplus
}
#endif
#endif
