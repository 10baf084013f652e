/*
 * Task membership: which sources a task has. The master waits, for each lock,
 * for exactly the sources its task has in the store (keys under
 * NS/ddlcoord/task/<hex task>/<hex source>, value "{}"), and re-evaluates the
 * task's locks when a source is added or removed (docs/DESIGN.md, "Beyond DM", item 4).
 *
 * The in-memory side (pess_task: task → sorted sources, in uthash) is what
 * the master and dc_locks_read keep; the dc_task_* calls write one key per
 * source, 64 to a txn (one revision for tasks up to that size, and no txn
 * that grows with the number of sources). The bad-value
 * list the master reports (pess_bad) lives here too, being the same kind of
 * small keyed bookkeeping.
 */
#include "pess.h"

#include <stdlib.h>
#include <string.h>

const pess_task *dcp_task_find(pess_task *const *tasks, const char *task)
{
    pess_task *t = NULL;
    HASH_FIND_STR(*tasks, task, t);
    return t;
}

int dcp_task_add_source(pess_task **tasks, const char *task, const char *source)
{
    pess_task *t = NULL;
    HASH_FIND_STR(*tasks, task, t);
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t || !(t->task = strdup(task))) {
            free(t);
            return dc__error(DC_ENOMEM, "out of memory");
        }
        HASH_ADD_KEYPTR(hh, *tasks, t->task, strlen(t->task), t);
        if (!DC_HASH_ADDED(hh, t)) {
            free(t->task);
            free(t);
            return dc__error(DC_ENOMEM, "out of memory");
        }
    }
    size_t pos = 0;
    while (pos < t->n && strcmp(t->sources[pos], source) < 0) pos++;
    if (pos < t->n && strcmp(t->sources[pos], source) == 0) return DC_OK;
    char **v = realloc(t->sources, (t->n + 1) * sizeof *v);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    t->sources = v;
    char *s = strdup(source);
    if (!s) return dc__error(DC_ENOMEM, "out of memory");
    memmove(v + pos + 1, v + pos, (t->n - pos) * sizeof *v);
    v[pos] = s;
    t->n++;
    return DC_OK;
}

int dcp_task_del_source(pess_task **tasks, const char *task, const char *source)
{
    pess_task *t = NULL;
    HASH_FIND_STR(*tasks, task, t);
    if (!t) return 0;
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->sources[i], source)) continue;
        free(t->sources[i]);
        memmove(t->sources + i, t->sources + i + 1, (t->n - i - 1) * sizeof *t->sources);
        t->n--;
        return 1;
    }
    return 0;
}

void dcp_tasks_free(pess_task **tasks)
{
    pess_task *t, *tmp;
    HASH_ITER(hh, *tasks, t, tmp)
    {
        HASH_DEL(*tasks, t);
        dc_strings_free(t->sources, t->n);
        free(t->task);
        free(t);
    }
}

void dcp_bad_set(pess_bad **bad, const char *key, const char *msg)
{
    pess_bad *b = NULL;
    HASH_FIND_STR(*bad, key, b);
    char *m = strdup(msg);
    if (!m) return; /* the log line already told the story */
    if (b) {
        free(b->msg);
        b->msg = m;
        return;
    }
    b = calloc(1, sizeof *b);
    if (!b || !(b->key = strdup(key))) {
        free(b);
        free(m);
        return;
    }
    b->msg = m;
    HASH_ADD_KEYPTR(hh, *bad, b->key, strlen(b->key), b);
    if (!DC_HASH_ADDED(hh, b)) { /* as above: the log line said it */
        free(b->key);
        free(b->msg);
        free(b);
    }
}

void dcp_bad_del(pess_bad **bad, const char *key)
{
    pess_bad *b = NULL;
    HASH_FIND_STR(*bad, key, b);
    if (!b) return;
    HASH_DEL(*bad, b);
    free(b->key);
    free(b->msg);
    free(b);
}

void dcp_bad_free(pess_bad **bad)
{
    pess_bad *b, *tmp;
    HASH_ITER(hh, *bad, b, tmp) dcp_bad_del(bad, b->key);
}

/* Put (value != NULL) or delete the member keys of sources, up to 64 per
 * txn: a task of up to 64 sources changes at one revision (so the master
 * never sees half of it), and no txn grows past etcd's 128 ops. */
static int write_members(dc_store *store, const char *ns, const char *task,
                         const char *const *sources, size_t n, const char *value)
{
    for (size_t base = 0; base < n; base += 64) {
        dc_txn *t = dc_txn_new();
        if (!t) return dc__error(DC_ENOMEM, "out of memory");
        int rc = DC_OK;
        for (size_t i = base; i < n && i < base + 64 && !rc; i++) {
            char *key;
            rc = dc_member_key(ns, task, sources[i], &key);
            if (!rc)
                rc = value ? dc_txn_put(t, DC_THEN, key, strlen(key), value, strlen(value), 0, 0)
                           : dc_txn_delete(t, DC_THEN, key, strlen(key), 0);
            free(key);
        }
        dc_txn_result *res = NULL;
        if (!rc) rc = dc_txn_commit(store, t, &res);
        dc_txn_result_free(res);
        dc_txn_free(t);
        if (rc) return rc;
    }
    return DC_OK;
}

int dc_task_add(dc_store *store, const char *ns, const char *task, const char *const *sources,
                size_t n)
{
    if (!store || !task || !*task || (n && !sources))
        return dc__error(DC_EINVAL, "task add: a task and sources are required");
    return write_members(store, ns, task, sources, n, "{}");
}

int dc_task_remove(dc_store *store, const char *ns, const char *task, const char *const *sources,
                   size_t n)
{
    if (!store || !task || !*task || (n && !sources))
        return dc__error(DC_EINVAL, "task remove: a task is required");
    if (n == 0) {
        char *prefix;
        int rc = dc_member_key(ns, task, NULL, &prefix);
        if (rc) return rc;
        rc = dc_delete(store, prefix, strlen(prefix), DC_PREFIX, NULL, NULL);
        free(prefix);
        return rc;
    }
    return write_members(store, ns, task, sources, n, NULL);
}

int dc_task_sources(dc_store *store, const char *ns, const char *task, char ***sources, size_t *n)
{
    *sources = NULL;
    *n = 0;
    if (!store || !task || !*task) return dc__error(DC_EINVAL, "task sources: a task is required");
    char *prefix;
    int rc = dc_member_key(ns, task, NULL, &prefix);
    if (rc) return rc;
    dc_kvs *kvs;
    rc = dc_get(store, prefix, strlen(prefix), DC_PREFIX | DC_KEYS_ONLY, 0, &kvs);
    if (rc) {
        free(prefix);
        return rc;
    }
    char *all;
    rc = dcp_prefix(ns, "member", &all);
    char **v = rc ? NULL : calloc(kvs->n ? kvs->n : 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; v && i < kvs->n; i++) {
        char *t, *s;
        if (dcp_key_split(kvs->kvs[i].key, kvs->kvs[i].key_len, strlen(all), &t, &s)) continue;
        free(t);
        v[k++] = s;
    }
    /* Keys are sorted by hex, which sorts like the bytes they encode. */
    free(all);
    free(prefix);
    dc_kvs_free(kvs);
    if (!v) return rc ? rc : dc__error(DC_ENOMEM, "out of memory");
    *sources = v;
    *n = k;
    return DC_OK;
}
