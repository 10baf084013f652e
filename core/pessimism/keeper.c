/*
 * LockKeeper: every open lock by ID (DM's pessimism.LockKeeper), in a
 * uthash table, private to core/pessimism (lock.h). try_sync finds or
 * creates the lock of an info (the first source to report owns a new lock)
 * and syncs the source into it. The keeper creates every lock, so each gets
 * the per-lock record its user asked for (the master's, master.h).
 */
#include "pess.h"

#include <stdlib.h>
#include <string.h>

struct pess_keeper {
    pess_lock *locks; /* uthash by id */
    size_t data_size;
};

pess_keeper *dcp_keeper_new(size_t data_size)
{
    pess_keeper *k = calloc(1, sizeof *k);
    if (k) k->data_size = data_size;
    return k;
}

void dcp_keeper_clear(pess_keeper *keeper, const char *task)
{
    pess_lock *l, *tmp;
    HASH_ITER(hh, keeper->locks, l, tmp)
    {
        if (task && strcmp(l->task, task)) continue;
        HASH_DEL(keeper->locks, l);
        dcp_lock_free(l);
    }
}

void dcp_keeper_free(pess_keeper *keeper)
{
    if (!keeper) return;
    dcp_keeper_clear(keeper, NULL);
    free(keeper);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **dcp_keeper_task_ids(const pess_keeper *keeper, const char *task, size_t *count)
{
    /* One pass over the table, copying only the task's IDs: the master calls
     * this on every info deletion, where copying and sorting every lock (as
     * dcp_keeper_locks does) was most of its time with many locks in flight. */
    size_t k = 0, cap = 4;
    char **ids = malloc(cap * sizeof *ids);
    int ok = ids != NULL;
    for (const pess_lock *l = keeper->locks; ok && l; l = l->hh.next) {
        if (strcmp(l->task, task) != 0) continue;
        if (k == cap) {
            char **more = realloc(ids, 2 * cap * sizeof *ids);
            if (!(ok = more != NULL)) break;
            ids = more;
            cap *= 2;
        }
        if (!(ok = (ids[k] = strdup(l->id)) != NULL)) break;
        k++;
    }
    if (!ok) {
        for (size_t i = 0; ids && i < k; i++) free(ids[i]);
        free(ids);
        return NULL;
    }
    qsort(ids, k, sizeof *ids, cmp_str);
    *count = k;
    return ids;
}

pess_lock *dcp_keeper_find(const pess_keeper *keeper, const char *id)
{
    pess_lock *l = NULL;
    if (id) HASH_FIND_STR(keeper->locks, id, l);
    return l;
}

int dcp_keeper_get(pess_keeper *keeper, const char *id, const char *task, const char *owner,
                   const char *const *ddls, size_t n_ddls, const char *const *sources,
                   size_t n_sources, pess_lock **lock)
{
    pess_lock *l = dcp_keeper_find(keeper, id);
    if (!l) {
        l = dcp_lock_new(id, task, owner, ddls, n_ddls, sources, n_sources, keeper->data_size);
        if (!l) return dc__error(DC_ENOMEM, "out of memory");
        HASH_ADD_KEYPTR(hh, keeper->locks, l->id, strlen(l->id), l);
        if (!DC_HASH_ADDED(hh, l)) {
            dcp_lock_free(l);
            return dc__error(DC_ENOMEM, "out of memory");
        }
    }
    *lock = l;
    return DC_OK;
}

int dcp_keeper_try_sync(pess_keeper *keeper, const dc_info *info, const char *const *sources,
                        size_t n_sources, pess_lock **lock, int *created)
{
    if (lock) *lock = NULL;
    if (created) *created = 0;
    char *id;
    int rc = dc_info_lock_id(info, &id);
    if (rc) return rc;
    pess_lock *l = dcp_keeper_find(keeper, id);
    if (!l) {
        rc = dcp_keeper_get(keeper, id, info->task, info->source, (const char *const *)info->ddls,
                            info->n_ddls, sources, n_sources, &l);
        if (!rc && created) *created = 1;
    }
    free(id);
    if (rc) return rc;
    if (lock) *lock = l;
    return dcp_lock_try_sync(l, info->source, (const char *const *)info->ddls, info->n_ddls,
                             sources, n_sources);
}

void dcp_keeper_remove(pess_keeper *keeper, pess_lock *lock)
{
    HASH_DEL(keeper->locks, lock);
    dcp_lock_free(lock);
}

void dcp_keeper_detach(pess_keeper *keeper, pess_lock *lock)
{
    HASH_DEL(keeper->locks, lock);
}

size_t dcp_keeper_count(const pess_keeper *keeper)
{
    return HASH_COUNT(keeper->locks);
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(pess_lock *const *)a)->id, (*(pess_lock *const *)b)->id);
}

int dcp_keeper_locks(const pess_keeper *keeper, pess_lock ***locks, size_t *n)
{
    size_t count = HASH_COUNT(keeper->locks), i = 0;
    pess_lock **v = malloc((count ? count : 1) * sizeof *v);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    for (pess_lock *l = keeper->locks; l; l = l->hh.next) v[i++] = l;
    qsort(v, count, sizeof *v, by_id);
    *locks = v;
    *n = count;
    return DC_OK;
}
