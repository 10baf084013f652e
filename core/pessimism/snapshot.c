/*
 * Step 1 of the master: one consistent read of the protocol's state, and the
 * rebuild of every lock from it. Also serves dc_locks_read, which is the
 * same rebuild without a master (the `ddlcoord locks` view).
 *
 * The read covers the protocol's prefixes (infos, operations, task
 * membership, conflict reports, resolution markers, and for a master the
 * admin requests and answers) at one revision (M1), so the master can watch from
 * M1 + 1 without a gap or a double. It is read in pages of
 * PESS_SNAPSHOT_PAGE keys at that revision (dc_get_page), not as one txn:
 * the time and memory of one request then no longer grow with the number of
 * locks, and the default request timeout works at any size.
 *
 * Rebuild order matters for who owns a lock and which DDLs it has: infos are
 * synced in key order (so the owner is the smallest source name, as docs/DESIGN.md,
 * "The protocol", says), with infos the master had reported as conflicting synced last, so a
 * restart never promotes a conflicting report to the lock's DDLs. Then every
 * operation is applied: a lock with operations is past syncing (forced), an
 * exec=true operation names the owner, done operations mark their sources,
 * and an operation whose lock lost all its infos (all done, or step 10 cut
 * short) recreates the lock. In a forced lock a source with neither an info
 * nor an operation already finished (step 10 deleted its operation) or never
 * joined, so it is not awaited.
 *
 * Operations of a lock are always written after all of its infos (step 4
 * follows step 3), and a source reports its next DDL only after its previous
 * operation was deleted. So an operation older than every info of the lock
 * with its ID is a leftover of an earlier lock on the same table, whose
 * step 10 was cut short by a crash: it must not mark the new lock synced or
 * done. The master deletes such leftovers (finishing that step 10).
 */
#include "pess.h"

#include <stdlib.h>
#include <string.h>

static const char *const snap_kinds[7] = {"info",   "operation", "member", "conflict",
                                          "marker", "request",   "answer"};

/* Keys per page of the snapshot read: large enough that a page costs little
 * more than its keys, small enough to stay far from every backend's request
 * limits (a page of 1000 infos of a few hundred bytes is well under 1 MiB). */
#define PESS_SNAPSHOT_PAGE 1000

void dcp_snapshot_clear(pess_snapshot *snap)
{
    dc_txn_result_free(snap->res);
    memset(snap, 0, sizeof *snap);
}

/* Append every key under prefix, read page by page at *rev (0: now, then
 * the revision the first page named), to r's kvs. The pages' key-values
 * move into r (no copy). */
static int read_paged(dc_store *store, const char *prefix, unsigned flags, int64_t *rev,
                      dc_response *r)
{
    const char *after = NULL;
    size_t after_len = 0, cap = r->n_kvs;
    for (;;) {
        dc_kvs *page;
        int rc = dc_get_page(store, prefix, strlen(prefix), after, after_len, *rev,
                             PESS_SNAPSHOT_PAGE, flags, &page);
        if (rc) return rc;
        *rev = page->revision;
        if (r->n_kvs + page->n > cap) {
            size_t nc = cap ? cap : 64;
            while (nc < r->n_kvs + page->n) nc *= 2;
            dc_kv *grown = realloc(r->kvs, nc * sizeof *grown);
            if (!grown) {
                dc_kvs_free(page);
                return dc__error(DC_ENOMEM, "out of memory");
            }
            r->kvs = grown;
            cap = nc;
        }
        if (page->n) memcpy(r->kvs + r->n_kvs, page->kvs, page->n * sizeof *page->kvs);
        r->n_kvs += page->n;
        r->count = (int64_t)r->n_kvs;
        int more = page->more && page->n;
        free(page->kvs); /* the strings now belong to r */
        free(page);
        if (!more) return DC_OK;
        after = r->kvs[r->n_kvs - 1].key;
        after_len = r->kvs[r->n_kvs - 1].key_len;
    }
}

/* The prefixes read at one revision, in pages (dc_get_page), so that a store
 * of any size is read with requests of bounded size and time. The result has
 * the shape the rebuild reads: a txn result of one GET response per kind, at
 * one revision. */
static int read_at_one_revision(dc_store *store, char *const *prefixes, const unsigned *flags,
                                int kinds, pess_snapshot *snap)
{
    dc_txn_result *res = calloc(1, sizeof *res);
    dc_response *resp = res ? calloc((size_t)kinds, sizeof *resp) : NULL;
    if (!resp) {
        free(res);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    res->succeeded = 1;
    res->responses = resp;
    res->n_responses = (size_t)kinds;
    int64_t rev = 0; /* the first page says which */
    int rc = DC_OK;
    for (int i = 0; i < kinds && !rc; i++) {
        resp[i].kind = DC_OP_GET;
        rc = read_paged(store, prefixes[i], flags[i], &rev, &resp[i]);
    }
    if (rc) {
        dc_txn_result_free(res);
        return rc;
    }
    res->revision = rev;
    snap->res = res;
    return DC_OK;
}

/* The prefixes in one txn: for a driver that cannot read a past revision (a
 * plugin built before paged reads), whose one-page fallback cannot serve a
 * second prefix once the store has moved on. */
static int read_in_one_txn(dc_store *store, char *const *prefixes, const unsigned *flags, int kinds,
                           pess_snapshot *snap)
{
    dc_txn *t = dc_txn_new();
    if (!t) return dc__error(DC_ENOMEM, "out of memory");
    int rc = DC_OK;
    for (int i = 0; i < kinds && !rc; i++)
        rc = dc_txn_get(t, DC_THEN, prefixes[i], strlen(prefixes[i]), DC_PREFIX | flags[i], 0);
    if (!rc) rc = dc_txn_commit(store, t, &snap->res);
    dc_txn_free(t);
    if (!rc && snap->res->n_responses != (size_t)kinds)
        rc = dc__error(DC_EINTERNAL, "snapshot: %zu responses", snap->res->n_responses);
    return rc;
}

int dcp_snapshot_read(dc_store *store, const char *ns, const char *task, int with_admin,
                      pess_snapshot *snap)
{
    memset(snap, 0, sizeof *snap);
    if (task && with_admin) return dc__error(DC_EINVAL, "snapshot: admin keys are not per task");
    int kinds = with_admin ? 7 : 5;
    char *prefixes[7] = {NULL};
    unsigned flags[7] = {0};
    int rc = DC_OK;
    for (int i = 0; i < kinds && !rc; i++) {
        char *all = NULL, *prefix = NULL;
        rc = dcp_prefix(ns, snap_kinds[i], &all);
        if (!rc && task) {
            /* The task's prefix: kind prefix + hex task + '/'. */
            int (*fn)(const char *, const char *, const char *, char **) =
                i == SNAP_INFOS     ? dc_info_key
                : i == SNAP_OPS     ? dc_operation_key
                : i == SNAP_MEMBERS ? dc_member_key
                : i == SNAP_MARKERS ? dc_marker_key
                                    : dc_conflict_key;
            rc = fn(ns, task, NULL, &prefix);
        }
        if (!rc) snap->pfx_len[i] = strlen(all);
        prefixes[i] = prefix ? prefix : all;
        if (prefix) free(all);
        flags[i] = i == SNAP_ANSWERS ? DC_KEYS_ONLY : 0;
    }
    /* A compaction that passes the revision between two pages makes it
     * unreadable: read again at a newer one (a few times; a compaction is rare). */
    for (int attempt = 0; !rc; attempt++) {
        rc = read_at_one_revision(store, prefixes, flags, kinds, snap);
        if (rc == DC_EUNSUPPORTED) {
            rc = read_in_one_txn(store, prefixes, flags, kinds, snap);
            break;
        }
        if (rc != DC_ECOMPACTED || attempt == 4) break;
        dc_log(DC_LOG_INFO, PESS, "snapshot: the revision was compacted between pages; again");
        rc = DC_OK;
    }
    for (int i = 0; i < kinds; i++) free(prefixes[i]);
    if (rc) {
        dcp_snapshot_clear(snap);
        return rc;
    }
    snap->revision = snap->res->revision;
    return DC_OK;
}

static void report_bad(pess_bad **bad, const char *key, int rc)
{
    dc_log(DC_LOG_WARN, PESS, "skipping %s: %s: %s", dc__e(key), dc_errname(rc), dc_last_error());
    if (bad) dcp_bad_set(bad, key, dc_last_error());
}

/* Is the info at kv the one a conflict report names? */
static int reported_conflicting(const pess_snapshot *snap, const dc_kv *info_kv, const char *task,
                                const char *source)
{
    const dc_response *c = &snap->res->responses[SNAP_CONFLICTS];
    for (size_t i = 0; i < c->n_kvs; i++) {
        char *t, *s;
        if (dcp_key_split(c->kvs[i].key, c->kvs[i].key_len, snap->pfx_len[SNAP_CONFLICTS], &t, &s))
            continue;
        int same = strcmp(t, task) == 0 && strcmp(s, source) == 0;
        free(t);
        free(s);
        if (!same) continue;
        pess_conflict *cf;
        if (dcp_conflict_decode(c->kvs[i].key, c->kvs[i].value, c->kvs[i].value_len, &cf)) return 0;
        int hit = cf->info_revision == info_kv->mod_revision;
        dcp_conflict_free(cf);
        return hit;
    }
    return 0;
}

static int sync_infos(const pess_snapshot *snap, pess_keeper *keeper, pess_task **tasks,
                      pess_bad **bad, int conflicted_pass)
{
    const dc_response *r = &snap->res->responses[SNAP_INFOS];
    for (size_t i = 0; i < r->n_kvs; i++) {
        const dc_kv *kv = &r->kvs[i];
        /* Pick the pass from the key, so each info is decoded once (decoding
         * was most of a large rebuild). A key that does not split goes to the
         * first pass, where decoding reports it. */
        char *ktask, *ksource;
        int rc = dcp_key_split(kv->key, kv->key_len, snap->pfx_len[SNAP_INFOS], &ktask, &ksource);
        if (rc == DC_ENOMEM) return rc;
        int conflicted = rc == DC_OK && reported_conflicting(snap, kv, ktask, ksource);
        free(ktask);
        free(ksource);
        if (conflicted != conflicted_pass) continue;
        dc_info *info;
        rc = dc_info_decode(kv->key, kv->value, kv->value_len, &info);
        if (rc == DC_OK) {
            rc = dcp_key_matches(kv->key, kv->key_len, snap->pfx_len[SNAP_INFOS], info->task,
                                 info->source);
            if (rc) dc_info_free(info);
        }
        if (rc == DC_ENOMEM) return rc;
        if (rc) {
            report_bad(bad, kv->key, rc);
            continue;
        }
        const pess_task *t = dcp_task_find(tasks, info->task);
        pess_lock *lock;
        rc = dcp_keeper_try_sync(keeper, info, t ? (const char *const *)t->sources : NULL,
                                 t ? t->n : 0, &lock, NULL);
        if (lock) {
            pess_src *s = dcp_lock_src(lock, info->source);
            if (s) s->seen = 1;
            if (!lock->min_info_rev || kv->mod_revision < lock->min_info_rev)
                lock->min_info_rev = kv->mod_revision;
            if (!lock->born || kv->create_revision < lock->born) lock->born = kv->create_revision;
        }
        dc_info_free(info);
        if (rc == DC_ENOMEM) return rc;
    }
    return DC_OK;
}

static int apply_operation(pess_keeper *keeper, pess_task *const *tasks, const dc_operation *op,
                           const dc_kv *kv)
{
    const pess_task *t = dcp_task_find(tasks, op->task);
    pess_lock *lock;
    int rc =
        dcp_keeper_get(keeper, op->id, op->task, op->source, (const char *const *)op->ddls,
                       op->n_ddls, t ? (const char *const *)t->sources : NULL, t ? t->n : 0, &lock);
    if (rc) return rc;
    pess_src *s = dcp_lock_src_add(lock, op->source);
    if (!s) return dc__error(DC_ENOMEM, "out of memory");
    s->seen = 1;
    if (!lock->born || kv->create_revision < lock->born) lock->born = kv->create_revision;
    lock->forced = 1;
    if (op->exec && dcp_lock_set_owner(lock, op->source)) return dc__error(DC_ENOMEM, "no memory");
    /* exec=false goes out only after the owner is done: the DDL has run, even
     * if the owner's own operation is gone (the owner left the task). */
    if (!op->exec) lock->executed = 1;
    if (op->done) s->done = 1;
    return DC_OK;
}

void dcp_leftovers_free(pess_leftover *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i].key);
    free(v);
}

static int add_leftover(const dc_kv *kv, pess_leftover **v, size_t *n)
{
    if (!v) return DC_OK;
    pess_leftover *grown = realloc(*v, (*n + 1) * sizeof **v);
    if (!grown) return dc__error(DC_ENOMEM, "out of memory");
    *v = grown;
    if (!(grown[*n].key = strdup(kv->key))) return dc__error(DC_ENOMEM, "out of memory");
    grown[*n].mod_revision = kv->mod_revision;
    (*n)++;
    return DC_OK;
}

int dcp_rebuild(const pess_snapshot *snap, pess_keeper *keeper, pess_task **tasks, pess_bad **bad,
                pess_leftover **leftovers, size_t *n_leftovers)
{
    if (leftovers) {
        *leftovers = NULL;
        *n_leftovers = 0;
    }
    const dc_response *m = &snap->res->responses[SNAP_MEMBERS];
    for (size_t i = 0; i < m->n_kvs; i++) {
        char *t, *s;
        if (dcp_key_split(m->kvs[i].key, m->kvs[i].key_len, snap->pfx_len[SNAP_MEMBERS], &t, &s))
            continue;
        int rc = dcp_task_add_source(tasks, t, s);
        free(t);
        free(s);
        if (rc) return rc;
    }
    int rc = sync_infos(snap, keeper, tasks, bad, 0);
    if (!rc) rc = sync_infos(snap, keeper, tasks, bad, 1);
    if (rc) return rc;
    const dc_response *o = &snap->res->responses[SNAP_OPS];
    for (size_t i = 0; i < o->n_kvs && !rc; i++) {
        const dc_kv *kv = &o->kvs[i];
        dc_operation *op;
        rc = dc_operation_decode(kv->key, kv->value, kv->value_len, &op);
        if (rc == DC_OK) {
            rc = dcp_key_matches(kv->key, kv->key_len, snap->pfx_len[SNAP_OPS], op->task,
                                 op->source);
            if (rc) dc_operation_free(op);
        }
        if (rc == DC_ENOMEM) return rc;
        if (rc) {
            report_bad(bad, kv->key, rc);
            rc = DC_OK;
            continue;
        }
        pess_lock *lock = dcp_keeper_find(keeper, op->id);
        if (lock && lock->min_info_rev && kv->mod_revision < lock->min_info_rev) {
            dc_log(DC_LOG_INFO, PESS, "%s: operation of an earlier lock %s (rev %lld)%s",
                   dc__e(kv->key), dc__e(op->id), (long long)kv->mod_revision,
                   op->done ? ": to delete" : "");
            if (op->done) rc = add_leftover(kv, leftovers, n_leftovers);
        } else {
            rc = apply_operation(keeper, tasks, op, kv);
        }
        dc_operation_free(op);
    }
    if (rc) return rc;
    pess_lock **locks;
    size_t n;
    rc = dcp_keeper_locks(keeper, &locks, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        if (!locks[i]->forced) continue;
        for (pess_src *s = locks[i]->srcs; s; s = s->hh.next) s->excluded = !s->seen;
    }
    /* A source whose info is still there but which is no longer in the task
     * left it (the live master marks it so when the removal comes): it is
     * not awaited, as it was not before the restart (explorer finding F2: a
     * rebuild gave a removed skipper exec=false again and the lock waited
     * for it forever). The owner stays: a takeover decides about it. */
    for (size_t i = 0; i < n; i++) {
        const pess_task *t = dcp_task_find(tasks, locks[i]->task);
        if (!t || t->n == 0) continue; /* no membership at all: the lock waits for it */
        for (pess_src *s = locks[i]->srcs; s; s = s->hh.next) {
            if (locks[i]->owner && strcmp(s->name, locks[i]->owner) == 0) continue;
            int member = 0;
            for (size_t j = 0; j < t->n && !member; j++) member = !strcmp(t->sources[j], s->name);
            if (!member) s->left = 1;
        }
    }
    free(locks);
    return DC_OK;
}

int dcp_status_array(const pess_keeper *keeper, const char *task, pess_status_fn fill, void *ctx,
                     dc_lock_status **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pess_lock **v;
    size_t count;
    int rc = dcp_keeper_locks(keeper, &v, &count);
    if (rc) return rc;
    dc_lock_status *arr = calloc(count ? count : 1, sizeof *arr);
    if (!arr) {
        free(v);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < count && !rc; i++) {
        if (task && strcmp(v[i]->task, task)) continue;
        rc = dcp_lock_status(v[i], &arr[k]);
        if (!rc) k++;
        if (!rc && fill) rc = fill(ctx, v[i], &arr[k - 1]);
    }
    free(v);
    if (rc) {
        dc_lock_status_free_array(arr, k);
        return rc;
    }
    *out = arr;
    *n = k;
    return DC_OK;
}

/* The kv of key in a read response (sorted by key), or NULL. */
static const dc_kv *find_kv(const dc_response *r, const char *key)
{
    size_t lo = 0, hi = r->n_kvs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->kvs[mid].key, key);
        if (c == 0) return &r->kvs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

typedef struct view_ctx {
    const pess_snapshot *snap;
    const char *ns;
} view_ctx;

/* The owner's intent, from the snapshot's operations and markers. */
static int view_fill(void *vctx, const pess_lock *lock, dc_lock_status *st)
{
    const view_ctx *c = vctx;
    char *opk = NULL, *mkk = NULL;
    int rc = dc_operation_key(c->ns, lock->task, lock->owner, &opk);
    if (!rc) rc = dc_marker_key(c->ns, lock->task, lock->owner, &mkk);
    pess_owner o;
    if (!rc)
        rc = dcp_owner_of(find_kv(&c->snap->res->responses[SNAP_OPS], opk),
                          find_kv(&c->snap->res->responses[SNAP_MARKERS], mkk), lock->id, &o);
    if (!rc) dcp_status_owner(&o, st);
    free(opk);
    free(mkk);
    return rc;
}

int dc_locks_read(dc_store *store, const char *ns, const char *task, dc_lock_status **out,
                  size_t *n, int64_t *revision)
{
    *out = NULL;
    *n = 0;
    if (!store) return dc__error(DC_EINVAL, "locks: no store");
    pess_snapshot snap;
    int rc = dcp_snapshot_read(store, ns, task, 0, &snap);
    if (rc) return rc;
    pess_keeper *k = dcp_keeper_new(0);
    pess_task *tasks = NULL;
    rc =
        k ? dcp_rebuild(&snap, k, &tasks, NULL, NULL, NULL) : dc__error(DC_ENOMEM, "out of memory");
    view_ctx vc = {&snap, ns ? ns : DC_DEFAULT_NAMESPACE};
    if (!rc) rc = dcp_status_array(k, task, view_fill, &vc, out, n);
    if (!rc && revision) *revision = snap.revision;
    dcp_tasks_free(&tasks);
    dcp_keeper_free(k);
    dcp_snapshot_clear(&snap);
    return rc;
}
