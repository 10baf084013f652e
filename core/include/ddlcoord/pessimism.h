/*
 * ddlcoord pessimism: the values and keys of TiDB DM's pessimistic shard-DDL
 * lock protocol (docs/DESIGN.md, "Key layout" and "The protocol").
 *
 * This header holds the store-free part: Info and Operation codecs (DM's JSON),
 * key builders (DM's hex-encoded layout), lock IDs, DDL multiset comparison,
 * read-only lock status snapshots, and task membership. The master, the
 * worker and the admin requests are in pessimism_master.h,
 * pessimism_worker.h and pessimism_admin.h. The lock model itself is private
 * to the library.
 *
 * Memory: every char * / array a function returns is malloc'd and owned by the
 * caller, who frees it with the matching *_free function (or free() for plain
 * strings). Inputs are copied. NULL passed to a *_free function is a no-op.
 *
 * Errors: functions return DC_OK or a negative DC_E… code; the detail (naming
 * the key for bad values) is available from dc_last_error() on the calling
 * thread. Nothing here blocks, except the dc_task_* / dc_locks_read calls that
 * talk to a store (each bounded by the store's request timeout).
 *
 * Thread-safety: every function here is thread-safe.
 */
#ifndef DDLCOORD_PESSIMISM_H
#define DDLCOORD_PESSIMISM_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The namespace used when an options struct leaves it NULL. */
#define DC_DEFAULT_NAMESPACE "/ddlcoord"

/* Largest Info / Operation value accepted by the decoders (DC_ETOOBIG above). */
#define DC_PESS_MAX_VALUE (1024 * 1024)
/* Most DDL statements accepted in one Info / Operation (DC_ETOOBIG above). */
#define DC_PESS_MAX_DDLS 4096

/* ---------------------------------------------------------------- values */

/* A worker's report of one shard DDL (DM's Info: task, source, schema, table,
 * ddls). schema/table are the *downstream* table the lock is about. */
typedef struct dc_info {
    char *task;
    char *source;
    char *schema;
    char *table;
    char **ddls;
    size_t n_ddls;
} dc_info;

/* The master's answer for one source (DM's Operation). exec = 1: execute the
 * DDLs (the lock owner), 0: skip them. done = 1 once the worker finished. */
typedef struct dc_operation {
    char *id; /* lock ID */
    char *task;
    char *source;
    char **ddls;
    size_t n_ddls;
    int exec;
    int done;
    /* For exec = 1, in a worker's run (ddlcoord's own, not part of the JSON):
     * the execution attempt, 1 on the first run, n + 1 when attempt n may
     * have executed and never finished (check the downstream first); 0
     * otherwise. */
    int attempt;
} dc_operation;

/* Build a dc_info from copies of the arguments (ddls may be NULL when n is 0).
 * Errors: DC_EINVAL (a NULL or empty name), DC_ENOMEM. */
DC_API int dc_info_new(const char *task, const char *source, const char *schema, const char *table,
                       const char *const *ddls, size_t n_ddls, dc_info **out);
DC_API void dc_info_free(dc_info *info);

/* Encode as DM's JSON ({"task","source","schema","table","ddls"}). *json is a
 * malloc'd NUL-terminated string. Errors: DC_EINVAL, DC_ENOMEM. */
DC_API int dc_info_encode(const dc_info *info, char **json);

/* Decode and validate an Info value read from key (key is used only for error
 * messages and may be NULL). Unknown fields are ignored (DM compatibility).
 * Errors: DC_ETOOBIG (value over DC_PESS_MAX_VALUE or too many DDLs),
 * DC_ECORRUPT (invalid JSON, missing field, wrong type, empty name), DC_ENOMEM;
 * the detail names the key. */
DC_API int dc_info_decode(const char *key, const void *value, size_t value_len, dc_info **out);

/* The lock ID of the info ("<task>-`schema`.`table`"). Caller frees. */
DC_API int dc_info_lock_id(const dc_info *info, char **out);

/* As for dc_info_*: build, free, encode ({"id","task","source","ddls","exec",
 * "done"}) and decode (same validation and errors as dc_info_decode). */
DC_API int dc_operation_new(const char *id, const char *task, const char *source,
                            const char *const *ddls, size_t n_ddls, int exec, int done,
                            dc_operation **out);
DC_API void dc_operation_free(dc_operation *op);
DC_API int dc_operation_encode(const dc_operation *op, char **json);
DC_API int dc_operation_decode(const char *key, const void *value, size_t value_len,
                               dc_operation **out);

/* DM's lock ID: task + "-" + "`schema`.`table`" (a backquote inside a name is
 * doubled, as DM's dbutil.TableName does). Caller frees *out. */
DC_API int dc_lock_id_build(const char *task, const char *schema, const char *table, char **out);

/* 1 if the two DDL lists are equal as multisets ([A,B] == [B,A], but
 * [A,B] != [A,A], which DM calls equal), else 0. Never fails: it sorts
 * pointer copies, or without memory for them counts occurrences instead. */
DC_API int dc_ddls_equal(const char *const *a, size_t na, const char *const *b, size_t nb);

/* ---------------------------------------------------------------- keys */

/* Key builders for namespace ns (NULL = DC_DEFAULT_NAMESPACE). Each component
 * is lower-case hex of its bytes; source NULL gives the task prefix (ending in
 * '/'), task NULL too gives the whole prefix. Caller frees *out.
 *   info:       ns/shardddl-pessimism/info/<hex task>/<hex source>
 *   operation:  ns/shardddl-pessimism/operation/<hex task>/<hex source>
 *   member:     ns/ddlcoord/task/<hex task>/<hex source>      (task membership)
 *   marker:     ns/ddlcoord/resolved/<hex task>/<hex source>  (resolution marker)
 *   conflict:   ns/ddlcoord/conflict/<hex task>/<hex source>  (conflict report)
 * Errors: DC_EINVAL (empty task/source), DC_ENOMEM. */
DC_API int dc_info_key(const char *ns, const char *task, const char *source, char **out);
DC_API int dc_operation_key(const char *ns, const char *task, const char *source, char **out);
DC_API int dc_member_key(const char *ns, const char *task, const char *source, char **out);
DC_API int dc_marker_key(const char *ns, const char *task, const char *source, char **out);
DC_API int dc_conflict_key(const char *ns, const char *task, const char *source, char **out);

/* ---------------------------------------------------------------- lock status */

/* One source of a lock, in a status snapshot. */
typedef struct dc_lock_source {
    char *source;
    int synced;           /* reported the lock's DDLs (or the lock is past syncing) */
    int done;             /* its operation is done */
    int removed;          /* excluded by an unlock: not awaited */
    int left;             /* it left the task while the lock was open: not awaited */
    int fenced;           /* a takeover fenced its operation: it skips the DDLs */
    char **conflict_ddls; /* non-NULL: it reported these different DDLs */
    size_t n_conflict_ddls;
} dc_lock_source;

/* A read-only snapshot of one lock (DM's show-ddl-locks row). Sources
 * sorted by name. */
typedef struct dc_lock_status {
    char *id;
    char *task;
    char *owner;
    char **ddls;
    size_t n_ddls;
    int synced;               /* every awaited source reported (or the lock is past syncing) */
    int forced;               /* an operator's unlock forced it synced */
    int executed;             /* the DDLs are known to have run downstream */
    int64_t created_revision; /* the smallest create revision of its keys seen (its instance) */
    /* The owner's execution intent (docs/DESIGN.md, "Execution intent"): the
     * owner records attempt N before it runs the DDLs. uncertain: an intent
     * without a done operation, so the owner may have executed; the lock
     * waits for the owner to come back, or for an operator's decision. */
    int uncertain;
    int64_t attempt;         /* attempt number of the owner's latest intent, 0 if none */
    int64_t intent_revision; /* revision of the operation the intent is for */
    size_t n_sources;
    dc_lock_source *sources;
} dc_lock_status;

/* Free the contents of st (not st itself). */
DC_API void dc_lock_status_clear(dc_lock_status *st);
/* Free an array of n snapshots and the array. */
DC_API void dc_lock_status_free_array(dc_lock_status *arr, size_t n);

/* ---------------------------------------------------------------- steps */

/* One protocol step taken by a master or a worker, as numbered in docs/DESIGN.md, "The protocol"
 * document (1 master GET, 2 worker PUT info, 3 master syncs the lock, 4 master
 * PUT operation, 5 worker got its operation, 6 worker exec/skip, 7 worker
 * checkpoint, 8 worker done txn, 9 master saw done, 10 master DELETE
 * operations). revision is the store revision of the step (the write's, or
 * the event's), 0 when there is none. Strings are valid during the call only;
 * lock_id/task/source may be NULL for steps that are about no single lock. */
typedef struct dc_step {
    int step;
    const char *role; /* "master" or "worker" */
    const char *lock_id;
    const char *task;
    const char *source;
    int64_t revision;
    const char *text; /* a short description, e.g. "PUT exec=true (owner)" */
} dc_step;

/* Called synchronously, from the thread running the step, after the step's
 * write (if any) committed. Return 0 to go on. A non-zero return makes the
 * caller stop right there as if it had crashed (fault injection for tests and
 * the demo): the master's run returns DC_ECLOSED and the object must be freed;
 * a worker call returns DC_ECLOSED. */
typedef int (*dc_step_fn)(const dc_step *step, void *userdata);

/* ---------------------------------------------------------------- store-side */

/* Task membership (which sources a task has), kept under ns/ddlcoord/task/.
 * The master reads and watches it: a lock waits for exactly these sources
 * (plus any other source that reports); a task without members has its
 * locks wait, since nobody could tell when everyone has reported.
 * dc_task_add / dc_task_remove write one key per source, 64 to a txn (a
 * task of up to 64 sources changes at one revision; no txn grows with the
 * number of sources); n == 0 in dc_task_remove removes the whole task. Add a
 * task's sources before its workers report.
 * dc_task_sources returns the task's sources sorted (free with
 * dc_strings_free). Blocking (store calls). Errors: DC_EINVAL, store errors. */
DC_API int dc_task_add(dc_store *store, const char *ns, const char *task,
                       const char *const *sources, size_t n);
DC_API int dc_task_remove(dc_store *store, const char *ns, const char *task,
                          const char *const *sources, size_t n);
DC_API int dc_task_sources(dc_store *store, const char *ns, const char *task, char ***sources,
                           size_t *n);
DC_API void dc_strings_free(char **strings, size_t n);

/* Compute the locks from the store alone, as a master would rebuild them (the
 * `ddlcoord locks` view; no master needed): one consistent read of infos,
 * operations, membership and conflicts. task NULL = every task. Corrupt
 * values are skipped (and logged). *revision (may be NULL) gets the read
 * revision. Free with dc_lock_status_free_array. Blocking. */
DC_API int dc_locks_read(dc_store *store, const char *ns, const char *task, dc_lock_status **out,
                         size_t *n, int64_t *revision);

#ifdef __cplusplus
}
#endif

#include "pessimism_admin.h"
#include "pessimism_master.h"
#include "pessimism_worker.h"

#endif
