/*
 * mem:// paged reads at a fixed revision (dc_get_page).
 *
 * The instance keeps each key's current state and a log of every change
 * since the compaction point, each event with the key's previous state. The
 * state of a key at revision R is therefore its current state, unless it
 * changed after R: then it is the previous state carried by its *first*
 * event after R (absent if that event created it). A page walks the live
 * keys of the range in order and, beside them, the keys that changed after
 * R (gathered from the log, sorted, each with its first event), taking from
 * each what it was at R, until the page is full. Keys created after R are
 * skipped, keys deleted after R come back from their delete event, and both
 * walks are in key order, so page boundaries are exact. Everything happens
 * under the instance mutex: a page is a snapshot, and the next page, at the
 * same revision, sees the same state however much was written in between.
 */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define ERR(err, code, ...) (snprintf((err)->msg, sizeof(err)->msg, __VA_ARGS__), (code))

/* Is key in the page's range (under the prefix, after the bound)? */
static int in_range(const dc_page_req *req, const char *key, size_t len)
{
    return dc__key_has_prefix(key, len, req->prefix, req->prefix_len) &&
           (!req->after_len || dc__key_cmp(key, len, req->after, req->after_len) > 0);
}

/* Order log slots by key, then by slot (the first change of a key first). */
static int slot_cmp(const void *a, const void *b, void *arg)
{
    const mem_store *m = arg;
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const dc_kv *kx = &m->log[x].kv, *ky = &m->log[y].kv;
    int c = dc__key_cmp(kx->key, kx->key_len, ky->key, ky->key_len);
    return c ? c : (x > y) - (x < y);
}

/* The log slots of the first change after the revision of each key in the
 * range, sorted by key. mu held. -1 when out of memory. */
static int changed_keys(mem_store *m, const dc_page_req *req, size_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t first = dc__mem_log_search(m, req->revision + 1), k = 0;
    if (first == m->len) return 0;
    size_t *v = malloc((m->len - first) * sizeof *v);
    if (!v) return -1;
    for (size_t i = first; i < m->len; i++)
        if (in_range(req, m->log[i].kv.key, m->log[i].kv.key_len)) v[k++] = i;
    qsort_r(v, k, sizeof *v, slot_cmp, m);
    size_t u = 0; /* keep the first slot of each key */
    for (size_t i = 0; i < k; i++) {
        const dc_kv *kv = &m->log[v[i]].kv;
        if (u && dc__key_cmp(m->log[v[u - 1]].kv.key, m->log[v[u - 1]].kv.key_len, kv->key,
                             kv->key_len) == 0)
            continue;
        v[u++] = v[i];
    }
    *out = v;
    *n = u;
    return 0;
}

/* The first live key of the range. mu held. */
static mem_key *first_live(mem_store *m, const dc_page_req *req)
{
    mem_key *k = req->after_len ? dc__mem_lower_bound(m, req->after, req->after_len)
                                : dc__mem_lower_bound(m, req->prefix, req->prefix_len);
    if (k && req->after_len &&
        dc__key_cmp(k->kv.key, k->kv.key_len, req->after, req->after_len) == 0)
        k = RB_NEXT(dc__mem_tree, &m->keys, k);
    if (k && !dc__key_has_prefix(k->kv.key, k->kv.key_len, req->prefix, req->prefix_len)) k = NULL;
    return k;
}

static int page_locked(mem_store *m, const dc_page_req *req, dc_kvs *out, dc_drv_err *err)
{
    if (req->revision > m->rev)
        return ERR(err, DC_EINVAL, "mem: revision %lld is in the future (current %lld)",
                   (long long)req->revision, (long long)m->rev);
    if (req->revision < m->compact_rev) {
        err->compact_revision = m->compact_rev;
        return ERR(err, DC_ECOMPACTED,
                   "mem: revision %lld has been compacted (compact revision %lld)",
                   (long long)req->revision, (long long)m->compact_rev);
    }
    out->revision = req->revision;
    size_t *chg, nchg;
    if (changed_keys(m, req, &chg, &nchg) != 0) return ERR(err, DC_ENOMEM, "mem: out of memory");
    out->kvs = calloc((size_t)req->limit < 64 ? (size_t)req->limit : 64, sizeof *out->kvs);
    size_t cap = out->kvs ? ((size_t)req->limit < 64 ? (size_t)req->limit : 64) : 0;
    int keys_only = (req->flags & DC_KEYS_ONLY) != 0;
    mem_key *live = first_live(m, req);
    size_t c = 0;
    int rc = out->kvs ? DC_OK : DC_ENOMEM;
    while (rc == DC_OK && (live || c < nchg)) {
        /* the smaller of the next live key and the next changed key */
        const dc_kv *lk = live ? &live->kv : NULL;
        const mem_event *ev = c < nchg ? &m->log[chg[c]] : NULL;
        int cmp = !lk   ? 1
                  : !ev ? -1
                        : dc__key_cmp(lk->key, lk->key_len, ev->kv.key, ev->kv.key_len);
        const dc_kv *at_rev; /* the key's state at the revision, NULL if absent */
        if (cmp < 0) {
            at_rev = lk; /* not changed since */
            live = RB_NEXT(dc__mem_tree, &m->keys, live);
            if (live &&
                !dc__key_has_prefix(live->kv.key, live->kv.key_len, req->prefix, req->prefix_len))
                live = NULL;
        } else {
            at_rev = ev->has_prev ? &ev->prev : NULL;
            c++;
            if (cmp == 0) {
                live = RB_NEXT(dc__mem_tree, &m->keys, live);
                if (live && !dc__key_has_prefix(live->kv.key, live->kv.key_len, req->prefix,
                                                req->prefix_len))
                    live = NULL;
            }
        }
        if (!at_rev) continue;
        if ((int64_t)out->n == req->limit) {
            out->more = 1;
            break;
        }
        if (out->n == cap) {
            size_t nc = cap * 2;
            dc_kv *a = realloc(out->kvs, nc * sizeof *a);
            if (!a) {
                rc = DC_ENOMEM;
                break;
            }
            out->kvs = a;
            cap = nc;
        }
        if (dc__mem_copy_kv(&out->kvs[out->n], at_rev, keys_only) != 0) {
            rc = DC_ENOMEM;
            break;
        }
        out->n++;
    }
    free(chg);
    out->count = (int64_t)out->n;
    if (rc != DC_OK) return ERR(err, rc, "mem: out of memory reading a page");
    return DC_OK;
}

int dc__mem_get_page(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err)
{
    mem_store *m = ((mem_conn *)conn)->m;
    pthread_mutex_lock(&m->mu);
    int rc = dc__mem_check_epoch(conn, err);
    if (rc == DC_OK) {
        dc_page_req at = *req;
        if (!at.revision) at.revision = m->rev;
        rc = page_locked(m, &at, out, err);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}
