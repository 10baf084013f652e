/*
 * Lock: one shard DDL lock (DM's pessimism.Lock). It knows its DDLs, its
 * owner and, per source (a uthash table by name), whether the source is
 * synced (reported the same DDLs), done (finished its operation), excluded
 * (not awaited, after an unlock) and the DDLs of a conflicting report.
 *
 * Sources join a lock while it syncs: every try_sync brings the task's
 * current source list, and new names are added unsynced. A lock is synced
 * when every source is (or when forced: after a master restart that found
 * operations, or by an unlock), and resolved when every awaited source is
 * done. The master keeps its per-lock progress flags in the same struct.
 */
#include "pess.h"

#include <stdlib.h>
#include <string.h>

pess_src *pess_lock_src_add(dc_lock *lock, const char *name)
{
    pess_src *s = pess_lock_src(lock, name);
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
    free(s->name);
    free(s);
    return NULL;
}

static void src_free(pess_src *s)
{
    free(s->name);
    dc_strings_free(s->conflict, s->n_conflict);
    free(s);
}

pess_src *pess_lock_src(const dc_lock *lock, const char *source)
{
    pess_src *s = NULL;
    if (source) HASH_FIND_STR(lock->srcs, source, s);
    return s;
}

void pess_lock_destroy(dc_lock *lock)
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
    free(lock->saved_owner);
    dc_strings_free(lock->ddls, lock->n_ddls);
    free(lock);
}

void dc_lock_free(dc_lock *lock)
{
    pess_lock_destroy(lock);
}

dc_lock *dc_lock_new(const char *id, const char *task, const char *owner, const char *const *ddls,
                     size_t n_ddls, const char *const *sources, size_t n_sources)
{
    if (!id || !task || !owner || (n_ddls && !ddls) || (n_sources && !sources)) return NULL;
    dc_lock *lock = calloc(1, sizeof *lock);
    if (!lock) return NULL;
    lock->id = strdup(id);
    lock->task = strdup(task);
    lock->owner = strdup(owner);
    lock->ddls = pess_strv_dup(ddls, n_ddls);
    lock->n_ddls = lock->ddls ? n_ddls : 0;
    int bad =
        !lock->id || !lock->task || !lock->owner || !lock->ddls || !pess_lock_src_add(lock, owner);
    for (size_t i = 0; i < n_sources && !bad; i++) bad = !pess_lock_src_add(lock, sources[i]);
    if (bad) {
        pess_lock_destroy(lock);
        return NULL;
    }
    return lock;
}

int dc_lock_try_sync(dc_lock *lock, const char *source, const char *const *ddls, size_t n_ddls,
                     const char *const *sources, size_t n_sources)
{
    for (size_t i = 0; i < n_sources; i++)
        if (!pess_lock_src_add(lock, sources[i])) return dc__error(DC_ENOMEM, "out of memory");
    pess_src *s = pess_lock_src_add(lock, source);
    if (!s) return dc__error(DC_ENOMEM, "out of memory");
    if (!dc_ddls_equal(ddls, n_ddls, (const char *const *)lock->ddls, lock->n_ddls)) {
        char **copy = pess_strv_dup(ddls, n_ddls);
        if (!copy) return dc__error(DC_ENOMEM, "out of memory");
        dc_strings_free(s->conflict, s->n_conflict);
        s->conflict = copy;
        s->n_conflict = n_ddls;
        s->ready = 0;
        char *mine = pess_strv_join(ddls, n_ddls);
        char *theirs = pess_strv_join((const char *const *)lock->ddls, lock->n_ddls);
        int rc = dc__error(DC_ECONFLICT, "lock %s: source %s reported DDLs %s, the lock has %s",
                           dc_e(lock->id), dc_e(source), dc_e(mine ? mine : "?"),
                           dc_e(theirs ? theirs : "?"));
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

int dc_lock_is_synced(const dc_lock *lock, int *remain)
{
    int left = 0;
    pess_src *s, *tmp;
    HASH_ITER(hh, lock->srcs, s, tmp) left += !s->ready && !s->excluded;
    if (lock->forced) left = 0;
    if (remain) *remain = left;
    return left == 0;
}

void dc_lock_force_synced(dc_lock *lock)
{
    lock->forced = 1;
}

void dc_lock_revert_synced(dc_lock *lock, const char *const *sources, size_t n)
{
    lock->forced = 0;
    for (size_t i = 0; i < n; i++) {
        pess_src *s = pess_lock_src(lock, sources[i]);
        if (s) {
            s->ready = 0;
            s->excluded = 0;
        }
    }
}

void dc_lock_unsync(dc_lock *lock, const char *source)
{
    pess_src *s = pess_lock_src(lock, source);
    if (s) s->ready = 0;
}

int dc_lock_mark_done(dc_lock *lock, const char *source)
{
    pess_src *s = pess_lock_src(lock, source);
    if (!s) return dc__error(DC_ENOTFOUND, "lock %s: no source %s", dc_e(lock->id), dc_e(source));
    s->done = 1;
    return DC_OK;
}

int dc_lock_is_done(const dc_lock *lock, const char *source)
{
    pess_src *s = pess_lock_src(lock, source);
    return s && s->done;
}

int dc_lock_is_resolved(const dc_lock *lock)
{
    pess_src *s, *tmp;
    HASH_ITER(hh, lock->srcs, s, tmp)
    {
        if (!s->done && !s->excluded) return 0;
    }
    return 1;
}

int dc_lock_is_empty(const dc_lock *lock)
{
    return HASH_COUNT(lock->srcs) == 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(pess_src *const *)a)->name, (*(pess_src *const *)b)->name);
}

pess_src **pess_lock_sorted(const dc_lock *lock, size_t *n)
{
    size_t count = HASH_COUNT(lock->srcs), i = 0;
    pess_src **v = malloc((count ? count : 1) * sizeof *v);
    if (!v) return NULL;
    pess_src *s, *tmp;
    HASH_ITER(hh, lock->srcs, s, tmp) v[i++] = s;
    qsort(v, count, sizeof *v, by_name);
    *n = count;
    return v;
}

int dc_lock_remove_source(dc_lock *lock, const char *source)
{
    pess_src *s = pess_lock_src(lock, source);
    if (!s) return 0;
    int was_owner = strcmp(lock->owner, source) == 0;
    /* A done owner has run the DDL: whoever owns the lock next only skips. */
    if (was_owner && s->done) lock->executed = 1;
    HASH_DEL(lock->srcs, s);
    src_free(s);
    if (was_owner && HASH_COUNT(lock->srcs) > 0) {
        /* The new owner: the smallest synced source, else the smallest one. */
        size_t n;
        pess_src **v = pess_lock_sorted(lock, &n);
        if (v) {
            pess_src *pick = v[0];
            for (size_t i = 0; i < n; i++)
                if (v[i]->ready) {
                    pick = v[i];
                    break;
                }
            char *o = strdup(pick->name);
            if (o) {
                free(lock->owner);
                lock->owner = o;
                lock->owner_put = 0;
            }
            free(v);
        }
    }
    return 1;
}

int dc_lock_set_owner(dc_lock *lock, const char *owner)
{
    if (!pess_lock_src(lock, owner))
        return dc__error(DC_ENOTFOUND, "lock %s: no source %s", dc_e(lock->id), dc_e(owner));
    char *o = strdup(owner);
    if (!o) return dc__error(DC_ENOMEM, "out of memory");
    free(lock->owner);
    lock->owner = o;
    return DC_OK;
}

const char *dc_lock_get_id(const dc_lock *lock)
{
    return lock->id;
}

const char *dc_lock_get_task(const dc_lock *lock)
{
    return lock->task;
}

const char *dc_lock_get_owner(const dc_lock *lock)
{
    return lock->owner;
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

int dc_lock_status_get(const dc_lock *lock, dc_lock_status *st)
{
    memset(st, 0, sizeof *st);
    size_t n;
    pess_src **v = pess_lock_sorted(lock, &n);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    st->id = strdup(lock->id);
    st->task = strdup(lock->task);
    st->owner = strdup(lock->owner);
    st->ddls = pess_strv_dup((const char *const *)lock->ddls, lock->n_ddls);
    st->n_ddls = st->ddls ? lock->n_ddls : 0;
    st->synced = dc_lock_is_synced(lock, NULL);
    st->forced = lock->forced;
    st->sources = calloc(n ? n : 1, sizeof *st->sources);
    int bad = !st->id || !st->task || !st->owner || !st->ddls || !st->sources;
    for (size_t i = 0; i < n && !bad; i++) {
        dc_lock_source *d = &st->sources[i];
        st->n_sources = i + 1;
        d->source = strdup(v[i]->name);
        d->synced = v[i]->ready || lock->forced;
        d->done = v[i]->done;
        d->removed = v[i]->excluded;
        bad = !d->source;
        if (v[i]->conflict) {
            d->conflict_ddls = pess_strv_dup((const char *const *)v[i]->conflict, v[i]->n_conflict);
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
