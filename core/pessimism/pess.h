/*
 * Private declarations shared by the files of core/pessimism: string-list
 * helpers, key helpers, the resolution marker and conflict codecs, the
 * guarded batch writer and the snapshot loader (the lock model is lock.h).
 * Nothing here is installed.
 */
#ifndef DC_PESS_H
#define DC_PESS_H

#include <ddlcoord/ddlcoord.h>
#include <ddlcoord/pessimism.h>
#include "dc_hash.h"
#include "esc.h"
#include "lock.h"

#define PESS "pessimism" /* log component */

/* Set the calling thread's dc_last_error detail and return code (defined in
 * core/store/error.c, part of the same library). */
int dc__error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- strings */

/* Deep copy of n strings (NULL on no memory; an empty list gives a valid
 * non-NULL pointer). */
char **dcp_strv_dup(const char *const *v, size_t n);
/* Format a DDL list for logs: "[A; B]" (malloc'd, NULL on no memory). */
char *dcp_strv_join(const char *const *v, size_t n);
/* Sorted copy of strings as an array (borrowed pointers) — qsort helper. */
int dcp_strcmp_p(const void *a, const void *b);
/* Decode a JSON array of strings; DC_ECORRUPT / DC_ETOOBIG / DC_ENOMEM. */
struct cJSON;
int dcp_json_strv(const struct cJSON *arr, const char *key, const char *field, char ***out,
                  size_t *n);
/* Read a required string field. */
int dcp_json_str(const struct cJSON *obj, const char *key, const char *field, int allow_empty,
                 char **out);
/* Parse value as a JSON object with size checks. */
int dcp_json_parse(const char *key, const void *value, size_t len, struct cJSON **out);
/* Append a JSON string array. */
struct cJSON *dcp_json_strv_new(const char *const *v, size_t n);

/* Split a key "<prefix><hex task>/<hex source>" into decoded task and
 * source (malloc'd). DC_ECORRUPT if it does not have that shape. */
int dcp_key_split(const char *key, size_t key_len, size_t prefix_len, char **task, char **source);
/* DC_OK if key (under a prefix of prefix_len bytes) is the key of (task,
 * source), else DC_ECORRUPT naming the key: a value copied to the wrong key
 * must not be acted upon (its operation would go to another source). */
int dcp_key_matches(const char *key, size_t key_len, size_t prefix_len, const char *task,
                    const char *source);
/* The prefix of a kind ("info", "operation", "member", "marker",
 * "conflict") under ns, e.g. "/ddlcoord/shardddl-pessimism/info/". */
int dcp_prefix(const char *ns, const char *kind, char **out);
/* The prefix of (task, source)'s live-worker candidacies:
 * NS/ddlcoord/worker/<hex task>/<hex source>/ (caller frees). */
int dcp_worker_prefix(const char *ns, const char *task, const char *source, char **out);

/* ---------------------------------------------------------------- markers */

/* The resolution marker of (task, source): what it last did with an
 * operation (docs/DESIGN.md, "Execution intent"). For the operation of lock
 * id at op_revision: intent = it is about to execute (or is executing, or
 * crashed in between) attempt `attempt`; !intent && !done = it executed (or
 * skipped) and its done txn is still to come; done = finished. */
typedef struct pess_marker {
    char *id;
    char **ddls;
    size_t n_ddls;
    char *position;      /* NULL = none */
    int64_t op_revision; /* mod_revision of the operation it is about */
    int exec;
    int done;
    int intent;      /* recorded before executing: the outcome is not known */
    int64_t attempt; /* execution attempt, 1 for the first (0 in older markers: 1) */
} pess_marker;

int dcp_marker_encode(const pess_marker *mk, char **json);
int dcp_marker_decode(const char *key, const void *value, size_t len, pess_marker **out);
void dcp_marker_free(pess_marker *mk);

/* Where a lock's owner stands (intent.c, docs/DESIGN.md "Execution intent"). */
enum { OWNER_IDLE = 0, OWNER_INTENT = 1, OWNER_EXECUTED = 2, OWNER_DONE = 3 };
typedef struct pess_owner {
    int state;       /* OWNER_* */
    int exec;        /* its operation says execute */
    int64_t attempt; /* OWNER_INTENT / OWNER_EXECUTED: the attempt the marker names */
    int64_t op_rev;  /* mod_revision of its operation of this lock (0: none) */
} pess_owner;

/* From the owner's operation and marker (NULL = absent) for lock_id. Values
 * that do not decode count as absent. DC_ENOMEM only. */
int dcp_owner_of(const dc_kv *op_kv, const dc_kv *mk_kv, const char *lock_id, pess_owner *st);

/* A conflict report for (task, source), written by the master. */
typedef struct pess_conflict {
    char *id;
    int64_t info_revision;
    char *message;
} pess_conflict;

int dcp_conflict_encode(const pess_conflict *c, char **json);
int dcp_conflict_decode(const char *key, const void *value, size_t len, pess_conflict **out);
void dcp_conflict_free(pess_conflict *c);

/* ---------------------------------------------------------------- guarded writes */

typedef struct pess_fence {
    char *key; /* NULL = no guard */
    size_t key_len;
    int64_t create_revision;
} pess_fence;

/* Add the fence compare (and an else-branch get of the fence key, first) to
 * txn. DC_OK when there is no fence. */
int dcp_fence_add(const pess_fence *f, dc_txn *txn);
/* After a failed txn built with dcp_fence_add: 1 if the fence is what
 * failed (its key's create_revision differs). */
int dcp_fence_failed(const pess_fence *f, const dc_txn_result *res);

typedef enum pess_act { PESS_SKIP = 0, PESS_PUT = 1, PESS_DELETE = 2 } pess_act;

/* Decide what to do with key i given its current state (cur NULL = missing).
 * For PESS_PUT set *value (malloc'd; the writer frees it). Called again with
 * fresh state when a compare lost a race, so it must be repeatable. Return
 * DC_OK or an error that stops the batch. */
typedef int (*pess_decide_fn)(void *ctx, size_t i, const dc_kv *cur, pess_act *act, char **value);

/* The master's belief about every key under one prefix (the operation
 * keys): present with its mod_revision and value, or absent. Seeded from the
 * step-1 snapshot and fed only by the watch, in order, so it is exactly the
 * store at the last handled revision. A belief is only ever used as the
 * compare of a write, so a stale one costs a lost race, never a wrong write. */
typedef struct pess_mirror_ent {
    UT_hash_handle hh;
    int64_t create_revision;
    int64_t mod_revision;
    size_t key_len;
    size_t value_len;
    char *op_id; /* the value's lock ID once the master decoded it (NULL: not yet) */
    char *value; /* in the same allocation, after key */
    char key[];  /* NUL-terminated */
} pess_mirror_ent;

typedef struct pess_mirror {
    const char *prefix; /* borrowed: keys under it are covered */
    size_t prefix_len;
    int valid; /* seeded since the last clear */
    pess_mirror_ent *ents;
} pess_mirror;

/* 1 if key is under the mirror's prefix and the mirror is seeded. */
int dcp_mirror_covers(const pess_mirror *mr, const char *key, size_t key_len);
/* The entry of key, or NULL when the mirror believes it absent. */
pess_mirror_ent *dcp_mirror_find(const pess_mirror *mr, const char *key, size_t key_len);
/* Record kv as the key's state (a PUT event or a snapshot row). DC_ENOMEM. */
int dcp_mirror_put(pess_mirror *mr, const dc_kv *kv);
/* Remember the lock ID the value of key at revision rev decoded to, so a
 * decision on the mirror need not decode it again (best effort: nothing is
 * remembered when out of memory). */
void dcp_mirror_note_id(pess_mirror *mr, const char *key, size_t key_len, int64_t rev,
                        const char *id);
/* The lock ID noted for exactly kv (same key, same mod_revision), or NULL. */
const char *dcp_mirror_id(const pess_mirror *mr, const dc_kv *kv);
/* Record the key as absent (a DELETE event). */
void dcp_mirror_del(pess_mirror *mr, const char *key, size_t key_len);
/* Forget everything (not valid until seeded again). */
void dcp_mirror_clear(pess_mirror *mr);
/* Clear, then seed from the kvs of one read of the whole prefix. DC_ENOMEM. */
int dcp_mirror_seed(pess_mirror *mr, const dc_kv *kvs, size_t n);

/* For each key: take its state (from mirror when it covers every key of a
 * chunk, else from a read), decide, and write it with a compare on exactly
 * that state (missing: create_revision == 0; present: mod_revision == r), in
 * txns of at most 32 keys (plus the fence), retrying a chunk with the state
 * its else-branch returned when a compare lost. mirror may be NULL (always
 * read). *max_rev (may be NULL) gets the highest revision written (0 if
 * nothing was), revs[i] (revs may be NULL) the revision key i was written at
 * (0 = not written). Errors: DC_ECHANGED (fence failed), DC_ETIMEDOUT (16
 * lost races), store errors, decide's errors. */
int dcp_write_keys(dc_store *store, const pess_fence *fence, const pess_mirror *mirror,
                   char *const *keys, size_t n, pess_decide_fn decide, void *ctx, int64_t *max_rev,
                   int64_t *revs);

/* ---------------------------------------------------------------- snapshot */

/* Membership: task → sorted sources. */
typedef struct pess_task {
    char *task;
    char **sources;
    size_t n;
    UT_hash_handle hh;
} pess_task;

int dcp_task_add_source(pess_task **tasks, const char *task, const char *source);
int dcp_task_del_source(pess_task **tasks, const char *task, const char *source);
const pess_task *dcp_task_find(pess_task *const *tasks, const char *task);
void dcp_tasks_free(pess_task **tasks);

/* A bad value seen while loading: key → message (uthash). */
typedef struct pess_bad {
    char *key;
    char *msg;
    UT_hash_handle hh;
} pess_bad;
void dcp_bad_set(pess_bad **bad, const char *key, const char *msg);
void dcp_bad_del(pess_bad **bad, const char *key);
void dcp_bad_free(pess_bad **bad);

/* The ddlcoord state read at one revision. */
typedef struct pess_snapshot {
    int64_t revision;
    dc_txn_result *res; /* one response per SNAP_* kind read */
    size_t pfx_len[7];  /* length of each kind's prefix (to split keys) */
} pess_snapshot;

enum {
    SNAP_INFOS = 0,
    SNAP_OPS = 1,
    SNAP_MEMBERS = 2,
    SNAP_CONFLICTS = 3,
    SNAP_MARKERS = 4,
    SNAP_REQUESTS = 5, /* admin requests (with_admin only) */
    SNAP_ANSWERS = 6,  /* admin answers, keys only (with_admin only) */
};

/* One consistent read of infos, operations, membership, conflicts and
 * markers under ns (task NULL = all tasks), and with_admin (task must be
 * NULL) the admin requests and answers too. */
int dcp_snapshot_read(dc_store *store, const char *ns, const char *task, int with_admin,
                      pess_snapshot *snap);
void dcp_snapshot_clear(pess_snapshot *snap);

/* A done operation left over by an earlier lock with the same ID (step 10
 * was cut short, and the next DDL of that table is already reporting). */
typedef struct pess_leftover {
    char *key;
    int64_t mod_revision;
} pess_leftover;

/* Rebuild locks from a snapshot (step 1): membership into *tasks, infos via
 * try_sync, then operations (a lock with any operation is forced synced;
 * exec=true restores the owner; done marks; an operation whose lock has no
 * info left recreates it). An operation older than every info of its lock
 * belongs to an earlier lock with that ID: it is not applied, and if done it
 * is listed in *leftovers (may be NULL; free with dcp_leftovers_free) for
 * the master to delete. Bad values go to *bad (may be NULL) and the log. */
int dcp_rebuild(const pess_snapshot *snap, pess_keeper *keeper, pess_task **tasks, pess_bad **bad,
                pess_leftover **leftovers, size_t *n_leftovers);
void dcp_leftovers_free(pess_leftover *v, size_t n);

/* Fill a status snapshot's intent fields from where its owner stands. */
void dcp_status_owner(const pess_owner *o, dc_lock_status *st);

/* Status snapshots of the keeper's locks (task NULL = all), sorted by ID;
 * fill (may be NULL) completes each one (the intent fields). Free with
 * dc_lock_status_free_array. DC_ENOMEM, or fill's error. */
typedef int (*pess_status_fn)(void *ctx, const pess_lock *lock, dc_lock_status *st);
int dcp_status_array(const pess_keeper *keeper, const char *task, pess_status_fn fill, void *ctx,
                     dc_lock_status **out, size_t *n);

#endif
