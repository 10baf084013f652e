/*
 * Lock: one shard DDL lock (DM's pessimism.Lock), private to core/pessimism
 * (lock.h). It knows its DDLs, its owner and, per source (a uthash table by
 * name), whether the source is synced, done, excluded, gone from the task
 * or fenced, and the DDLs of a conflicting report.
 *
 * Sources join a lock while it syncs: every try_sync brings the task's
 * current source list, and new names are added unsynced. A lock is synced
 * when every awaited source is (or once forced: operations are out, or an
 * unlock forced it), and resolved when every awaited source is done. Who
 * owns it next when its owner cannot is dcp_lock_pick_owner, the one rule.
 */
#include "pess.h"

#include <stdlib.h>
#include <string.h>

static void src_free(pess_src *s)
{
    free(s->name);
    dc_strings_free(s->conflict, s->n_conflict);
    free(s);
}

pess_src *dcp_lock_src(const pess_lock *lock, const char *source)
{
    pess_src *s = NULL;
    if (source) HASH_FIND_STR(lock->srcs, source, s);
    return s;
}

pess_src *dcp_lock_src_add(pess_lock *lock, const char *name)
{
    pess_src *s = dcp_lock_src(lock, name);
    if (s) return s;
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->name = strdup(name);
    if (!s->name) {
        free(s);
        return NULL;
    }
    HASH_ADD_KEYPTR(hh, lock->srcs, s->name, strlen(s->name), s);
    if (DC_HASH_ADDED(hh, s)) return s;
    src_free(s);
    return NULL;
}

void dcp_lock_free(pess_lock *lock)
{
    if (!lock) return;
    pess_src *s, *tmp;
    HASH_ITER(hh, lock->srcs, s, tmp)
    {
        HASH_DEL(lock->srcs, s);
        src_free(s);
    }
    free(lock->id);
    free(lock->task);
    free(lock->owner);
    dc_strings_free(lock->ddls, lock->n_ddls);
    free(lock->data);
    free(lock);
}

pess_lock *dcp_lock_new(const char *id, const char *task, const char *owner,
                        const char *const *ddls, size_t n_ddls, const char *const *sources,
                        size_t n_sources, size_t data_size)
{
    if (!id || !task || !owner || (n_ddls && !ddls) || (n_sources && !sources)) return NULL;
    pess_lock *lock = calloc(1, sizeof *lock);
    if (!lock) return NULL;
    lock->id = strdup(id);
    lock->task = strdup(task);
    lock->owner = strdup(owner);
    lock->ddls = dcp_strv_dup(ddls, n_ddls);
    lock->n_ddls = lock->ddls ? n_ddls : 0;
    lock->data = data_size ? calloc(1, data_size) : NULL;
    int bad = !lock->id || !lock->task || !lock->owner || !lock->ddls ||
              (data_size && !lock->data) || !dcp_lock_src_add(lock, owner);
    for (size_t i = 0; i < n_sources && !bad; i++) bad = !dcp_lock_src_add(lock, sources[i]);
    if (bad) {
        dcp_lock_free(lock);
        return NULL;
    }
    return lock;
}

int dcp_lock_try_sync(pess_lock *lock, const char *source, const char *const *ddls, size_t n_ddls,
                      const char *const *sources, size_t n_sources)
{
    for (size_t i = 0; i < n_sources; i++)
        if (!dcp_lock_src_add(lock, sources[i])) return dc__error(DC_ENOMEM, "out of memory");
    pess_src *s = dcp_lock_src_add(lock, source);
    if (!s) return dc__error(DC_ENOMEM, "out of memory");
    if (!dc_ddls_equal(ddls, n_ddls, (const char *const *)lock->ddls, lock->n_ddls)) {
        char **copy = dcp_strv_dup(ddls, n_ddls);
        if (!copy) return dc__error(DC_ENOMEM, "out of memory");
        dc_strings_free(s->conflict, s->n_conflict);
        s->conflict = copy;
        s->n_conflict = n_ddls;
        s->ready = 0;
        char *mine = dcp_strv_join(ddls, n_ddls);
        char *theirs = dcp_strv_join((const char *const *)lock->ddls, lock->n_ddls);
        int rc = dc__error(DC_ECONFLICT, "lock %s: source %s reported DDLs %s, the lock has %s",
                           dc__e(lock->id), dc__e(source), dc__e(mine ? mine : "?"),
                           dc__e(theirs ? theirs : "?"));
        free(mine);
        free(theirs);
        return rc;
    }
    dc_strings_free(s->conflict, s->n_conflict);
    s->conflict = NULL;
    s->n_conflict = 0;
    s->ready = 1;
    return DC_OK;
}

static int awaited(const pess_src *s)
{
    return !s->excluded && !s->left;
}

int dcp_lock_is_synced(const pess_lock *lock, int *remain)
{
    int left = 0;
    for (const pess_src *s = lock->srcs; s; s = s->hh.next) left += !s->ready && awaited(s);
    if (lock->forced) left = 0;
    if (remain) *remain = left;
    return left == 0;
}

void dcp_lock_unsync(pess_lock *lock, const char *source)
{
    pess_src *s = dcp_lock_src(lock, source);
    if (s) s->ready = 0;
}

int dcp_lock_mark_done(pess_lock *lock, const char *source)
{
    pess_src *s = dcp_lock_src(lock, source);
    if (!s) return dc__error(DC_ENOTFOUND, "lock %s: no source %s", dc__e(lock->id), dc__e(source));
    s->done = 1;
    return DC_OK;
}

int dcp_lock_is_done(const pess_lock *lock, const char *source)
{
    pess_src *s = dcp_lock_src(lock, source);
    return s && s->done;
}

int dcp_lock_is_resolved(const pess_lock *lock)
{
    for (const pess_src *s = lock->srcs; s; s = s->hh.next)
        if (!s->done && awaited(s)) return 0;
    return 1;
}

int dcp_lock_is_empty(const pess_lock *lock)
{
    for (const pess_src *s = lock->srcs; s; s = s->hh.next)
        if (!s->left) return 0;
    return 1;
}

int dcp_lock_leave(pess_lock *lock, const char *source)
{
    pess_src *s = dcp_lock_src(lock, source);
    if (!s || s->left) return 0;
    s->left = 1;
    return 1;
}

int dcp_lock_rejoin(pess_lock *lock, const char *source)
{
    pess_src *s = dcp_lock_src(lock, source);
    if (!s || !s->left) return 0;
    s->left = 0;
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(pess_src *const *)a)->name, (*(pess_src *const *)b)->name);
}

pess_src **dcp_lock_sorted(const pess_lock *lock, size_t *n)
{
    size_t count = HASH_COUNT(lock->srcs), i = 0;
    pess_src **v = malloc((count ? count : 1) * sizeof *v);
    if (!v) return NULL;
    for (pess_src *s = lock->srcs; s; s = s->hh.next) v[i++] = s;
    qsort(v, count, sizeof *v, by_name);
    *n = count;
    return v;
}

const char *dcp_lock_pick_owner(const pess_lock *lock, const char *except)
{
    const pess_src *synced = NULL, *any = NULL;
    for (const pess_src *s = lock->srcs; s; s = s->hh.next) {
        if (s->left || s->excluded || s->fenced || (except && strcmp(s->name, except) == 0))
            continue;
        if (!any || strcmp(s->name, any->name) < 0) any = s;
        if (s->ready && (!synced || strcmp(s->name, synced->name) < 0)) synced = s;
    }
    return synced ? synced->name : any ? any->name : NULL;
}

int dcp_lock_set_owner(pess_lock *lock, const char *owner)
{
    if (!dcp_lock_src(lock, owner))
        return dc__error(DC_ENOTFOUND, "lock %s: no source %s", dc__e(lock->id), dc__e(owner));
    if (strcmp(lock->owner, owner) == 0) return DC_OK;
    char *o = strdup(owner);
    if (!o) return dc__error(DC_ENOMEM, "out of memory");
    free(lock->owner);
    lock->owner = o;
    return DC_OK;
}

void dc_lock_status_clear(dc_lock_status *st)
{
    if (!st) return;
    free(st->id);
    free(st->task);
    free(st->owner);
    dc_strings_free(st->ddls, st->n_ddls);
    for (size_t i = 0; i < st->n_sources; i++) {
        free(st->sources[i].source);
        dc_strings_free(st->sources[i].conflict_ddls, st->sources[i].n_conflict_ddls);
    }
    free(st->sources);
    memset(st, 0, sizeof *st);
}

void dc_lock_status_free_array(dc_lock_status *arr, size_t n)
{
    if (!arr) return;
    for (size_t i = 0; i < n; i++) dc_lock_status_clear(&arr[i]);
    free(arr);
}

int dcp_lock_status(const pess_lock *lock, dc_lock_status *st)
{
    memset(st, 0, sizeof *st);
    size_t n;
    pess_src **v = dcp_lock_sorted(lock, &n);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    st->id = strdup(lock->id);
    st->task = strdup(lock->task);
    st->owner = strdup(lock->owner);
    st->ddls = dcp_strv_dup((const char *const *)lock->ddls, lock->n_ddls);
    st->n_ddls = st->ddls ? lock->n_ddls : 0;
    st->synced = dcp_lock_is_synced(lock, NULL);
    st->forced = lock->unlocked;
    st->executed = lock->executed;
    st->created_revision = lock->born;
    st->sources = calloc(n ? n : 1, sizeof *st->sources);
    int bad = !st->id || !st->task || !st->owner || !st->ddls || !st->sources;
    for (size_t i = 0; i < n && !bad; i++) {
        dc_lock_source *d = &st->sources[i];
        st->n_sources = i + 1;
        d->source = strdup(v[i]->name);
        d->synced = v[i]->ready || (lock->forced && !v[i]->excluded && !v[i]->left);
        d->done = v[i]->done;
        d->removed = v[i]->excluded;
        d->left = v[i]->left;
        d->fenced = v[i]->fenced;
        bad = !d->source;
        if (v[i]->conflict) {
            d->conflict_ddls = dcp_strv_dup((const char *const *)v[i]->conflict, v[i]->n_conflict);
            d->n_conflict_ddls = d->conflict_ddls ? v[i]->n_conflict : 0;
            bad = bad || !d->conflict_ddls;
        }
    }
    free(v);
    if (bad) {
        dc_lock_status_clear(st);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    return DC_OK;
}
