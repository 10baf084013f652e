/*
 * LockKeeper: every open lock by ID (DM's pessimism.LockKeeper), in a
 * uthash table. try_sync finds or creates the lock of an info (the first
 * source to report owns a new lock) and syncs the source into it.
 */
#include "pess.h"

#include <stdlib.h>
#include <string.h>

struct dc_keeper {
    dc_lock *locks; /* uthash by id */
};

dc_keeper *dc_keeper_new(void)
{
    return calloc(1, sizeof(dc_keeper));
}

void pess_keeper_clear(dc_keeper *keeper, const char *task)
{
    dc_lock *l, *tmp;
    HASH_ITER(hh, keeper->locks, l, tmp)
    {
        if (task && strcmp(l->task, task)) continue;
        HASH_DEL(keeper->locks, l);
        pess_lock_destroy(l);
    }
}

void dc_keeper_free(dc_keeper *keeper)
{
    if (!keeper) return;
    pess_keeper_clear(keeper, NULL);
    free(keeper);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **pess_keeper_task_ids(const dc_keeper *keeper, const char *task, size_t *count)
{
    /* One pass over the table, copying only the task's IDs: the master calls
     * this on every info deletion, where copying and sorting every lock (as
     * dc_keeper_locks does) was most of its time with many locks in flight. */
    size_t k = 0, cap = 4;
    char **ids = malloc(cap * sizeof *ids);
    int ok = ids != NULL;
    for (const dc_lock *l = keeper->locks; ok && l; l = l->hh.next) {
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

dc_lock *dc_keeper_find(const dc_keeper *keeper, const char *id)
{
    dc_lock *l = NULL;
    if (id) HASH_FIND_STR(keeper->locks, id, l);
    return l;
}

int dc_keeper_add(dc_keeper *keeper, dc_lock *lock)
{
    if (dc_keeper_find(keeper, lock->id))
        return dc__error(DC_EINVAL, "lock %s already exists", dc_e(lock->id));
    HASH_ADD_KEYPTR(hh, keeper->locks, lock->id, strlen(lock->id), lock);
    return DC_HASH_ADDED(hh, lock) ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

int dc_keeper_try_sync(dc_keeper *keeper, const dc_info *info, const char *const *sources,
                       size_t n_sources, dc_lock **lock, int *created)
{
    if (lock) *lock = NULL;
    if (created) *created = 0;
    char *id;
    int rc = dc_info_lock_id(info, &id);
    if (rc) return rc;
    dc_lock *l = dc_keeper_find(keeper, id);
    if (!l) {
        l = dc_lock_new(id, info->task, info->source, (const char *const *)info->ddls, info->n_ddls,
                        sources, n_sources);
        if (!l) {
            free(id);
            return dc__error(DC_ENOMEM, "out of memory");
        }
        HASH_ADD_KEYPTR(hh, keeper->locks, l->id, strlen(l->id), l);
        if (!DC_HASH_ADDED(hh, l)) {
            pess_lock_destroy(l);
            free(id);
            return dc__error(DC_ENOMEM, "out of memory");
        }
        if (created) *created = 1;
    }
    free(id);
    if (lock) *lock = l;
    return dc_lock_try_sync(l, info->source, (const char *const *)info->ddls, info->n_ddls, sources,
                            n_sources);
}

int dc_keeper_remove(dc_keeper *keeper, const char *id)
{
    dc_lock *l = dc_keeper_find(keeper, id);
    if (!l) return 0;
    HASH_DEL(keeper->locks, l);
    pess_lock_destroy(l);
    return 1;
}

void pess_keeper_detach(dc_keeper *keeper, dc_lock *lock)
{
    HASH_DEL(keeper->locks, lock);
}

size_t dc_keeper_count(const dc_keeper *keeper)
{
    return HASH_COUNT(keeper->locks);
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(dc_lock *const *)a)->id, (*(dc_lock *const *)b)->id);
}

int dc_keeper_locks(const dc_keeper *keeper, dc_lock ***locks, size_t *n)
{
    size_t count = HASH_COUNT(keeper->locks), i = 0;
    dc_lock **v = malloc((count ? count : 1) * sizeof *v);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    dc_lock *l, *tmp;
    HASH_ITER(hh, keeper->locks, l, tmp) v[i++] = l;
    qsort(v, count, sizeof *v, by_id);
    *locks = v;
    *n = count;
    return DC_OK;
}

int dc_keeper_status(const dc_keeper *keeper, const char *task, dc_lock_status **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    dc_lock **v;
    size_t count;
    int rc = dc_keeper_locks(keeper, &v, &count);
    if (rc) return rc;
    dc_lock_status *arr = calloc(count ? count : 1, sizeof *arr);
    if (!arr) {
        free(v);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        if (task && strcmp(v[i]->task, task)) continue;
        rc = dc_lock_status_get(v[i], &arr[k]);
        if (rc) {
            dc_lock_status_free_array(arr, k);
            free(v);
            return rc;
        }
        k++;
    }
    free(v);
    *out = arr;
    *n = k;
    return DC_OK;
}
