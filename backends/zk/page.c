/*
 * Paged reads at a fixed revision (dc_get_page). ZooKeeper keeps only the
 * current znode of each key, and the event log records every change with
 * the key's previous state, so the state at revision R is rebuilt
 * (docs/DESIGN.md, "Paged reads"): a key unchanged since R is as it is now,
 * a key changed since R is as the first record after R says it was before.
 *
 * One page:
 *  1. one pipelined batch: the listing of R/kv (the flat layout lists every
 *     key: a prefix cannot be listed alone), then the revision node (R0: at
 *     least as new as the listing), the compact revision; R = the revision
 *     asked for, or R0;
 *  2. the log records (R, R0]: for each key of the range its first change;
 *  3. the keys of R in order, merged from the listing (unchanged ones exist
 *     at R as they are) and the changed ones (as their record says), up to
 *     limit + 1 (the extra one says whether more remain);
 *  4. one batch reads the unchanged keys of the page and the revision node
 *     again (R1); a record in (R0, R1] makes its key changed (its previous
 *     state is the one at R, since nothing touched it before R0), and step 3
 *     runs again until every key of the page has been read with nothing of
 *     the range changing in between.
 * A revision below the compact revision, or whose records are gone, is
 * DC_ECOMPACTED; one above the current revision DC_EINVAL.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"
#include "zk.h"
#include "zk_batch.h"
#include "zk_codec.h"
#include "zk_conn.h"
#include "zk_evlog.h"
#include "zk_layout.h"
#include "zk_ops.h"
#include "zk_session.h"
#include "zk_snap.h"

/* One key of the range: listed now, and/or changed after R. */
typedef struct pkey {
    char *key;
    size_t key_len;
    size_t seq;  /* order of addition: the earliest record wins among twins */
    int listed;  /* in the listing of R/kv (present when listed) */
    int changed; /* a record after R touched it: at_r says what it was at R */
    int at_r;    /* changed: it existed at R, with kv */
    int fetched; /* listed and unchanged: kv read from its znode */
    dc_kv kv;    /* value and metadata at R (key not set) */
} pkey;

typedef struct pset {
    pkey *k;
    size_t n, cap;
    size_t n_sorted; /* k[0..n_sorted) is sorted and without twins */
    size_t seq;
} pset;

static void pset_free(pset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->k[i].key);
        free(s->k[i].kv.value);
    }
    free(s->k);
    memset(s, 0, sizeof *s);
}

static int pkey_cmp(const void *a, const void *b)
{
    const pkey *x = a, *y = b;
    return dc__key_cmp(x->key, x->key_len, y->key, y->key_len);
}

static int pkey_seq_cmp(const void *a, const void *b)
{
    int r = pkey_cmp(a, b);
    if (r) return r;
    const pkey *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sort everything added since the last call in, keeping the earliest of
 * twins (keys added twice by records of the same round). */
static void pset_settle(pset *s)
{
    if (s->n_sorted == s->n) return;
    qsort(s->k, s->n, sizeof *s->k, pkey_seq_cmp);
    size_t u = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (u && pkey_cmp(&s->k[u - 1], &s->k[i]) == 0) {
            free(s->k[i].key);
            free(s->k[i].kv.value);
            continue;
        }
        s->k[u++] = s->k[i];
    }
    s->n = s->n_sorted = u;
}

/* A key of the sorted part, or NULL. */
static pkey *pset_find(pset *s, const char *key, size_t len)
{
    pkey probe = {.key = (char *)key, .key_len = len};
    return s->n_sorted ? bsearch(&probe, s->k, s->n_sorted, sizeof *s->k, pkey_cmp) : NULL;
}

/* Add a key (taking key); NULL when out of memory. */
static pkey *pset_add(pset *s, char *key, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        pkey *k = realloc(s->k, cap * sizeof *k);
        if (!k) return NULL;
        s->k = k;
        s->cap = cap;
    }
    pkey *p = &s->k[s->n++];
    memset(p, 0, sizeof *p);
    p->key = key;
    p->key_len = len;
    p->seq = s->seq++;
    return p;
}

static int in_range(const dc_page_req *req, const char *key, size_t len)
{
    return dc__key_has_prefix(key, len, req->prefix, req->prefix_len) &&
           (!req->after_len || dc__key_cmp(key, len, req->after, req->after_len) > 0);
}

/* Mark the keys of the range that records first touch (records oldest
 * first; a key already changed keeps its earlier state). A key the set does
 * not have yet is appended (pset_settle sorts it in, keeping the earliest
 * record's state). 0 or DC_ENOMEM. */
static int apply_records(pset *s, const dc_page_req *req, const zk_rec *recs, size_t n)
{
    pset_settle(s);
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < recs[r].n; i++) {
            const zk_ev *ev = &recs[r].evs[i];
            if (!in_range(req, ev->key, ev->key_len)) continue;
            pkey *p = pset_find(s, ev->key, ev->key_len);
            if (p && p->changed) continue;
            if (!p) {
                char *k = malloc(ev->key_len + 1);
                if (!k) return DC_ENOMEM;
                memcpy(k, ev->key, ev->key_len);
                k[ev->key_len] = '\0';
                if (!(p = pset_add(s, k, ev->key_len))) {
                    free(k);
                    return DC_ENOMEM;
                }
            }
            p->changed = 1;
            p->at_r = ev->has_prev;
            free(p->kv.value);
            memset(&p->kv, 0, sizeof p->kv);
            if (ev->has_prev) {
                p->kv.value = malloc(ev->pvalue_len + 1);
                if (!p->kv.value) return DC_ENOMEM;
                if (ev->pvalue_len) memcpy(p->kv.value, ev->pvalue, ev->pvalue_len);
                p->kv.value[ev->pvalue_len] = '\0';
                p->kv.value_len = ev->pvalue_len;
                p->kv.create_revision = ev->pcreate;
                p->kv.mod_revision = ev->pmod;
                p->kv.version = ev->pversion;
                p->kv.lease = ev->please;
            }
        }
    pset_settle(s);
    return DC_OK;
}

static int exists_at_r(const pkey *p)
{
    return p->changed ? p->at_r : p->listed;
}

/* The first limit + 1 keys that exist at R, in order; their indexes go to
 * sel. Returns how many. */
static size_t select_keys(pset *s, int64_t limit, size_t *sel)
{
    pset_settle(s);
    size_t n = 0;
    for (size_t i = 0; i < s->n && (int64_t)n <= limit; i++)
        if (exists_at_r(&s->k[i])) sel[n++] = i;
    return n;
}

static int zerr(zk_conn *c, int zrc, const char *what, dc_drv_err *err)
{
    return ZKERR(err, zrc == ZMARSHALLINGERROR ? DC_ECORRUPT : zk_map_rc(zrc),
                 "zk %s: paged read: %s: %s", c->cfg.endpoint, what, zerror(zrc));
}

/* Steps 1 and 2. */
static int page_start(zk_conn *c, zhandle_t *zh, const dc_page_req *req, pset *s, int64_t *rev,
                      int64_t *r0, dc_drv_err *err)
{
    zk_batch b;
    zk_batch_init(&b);
    int rc = DC_OK;
    if (c->cfg.sync && zk_batch_add(&b, ZK_Q_SYNC, c->lay.p_rev) < 0) rc = DC_ENOMEM;
    /* the revision after the listing (one session: answered in order), so
     * that every change the listing shows is in the records up to it */
    int sl = zk_batch_add(&b, ZK_Q_CHILDREN, c->lay.p_kv),
        sr = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.p_rev),
        sc = zk_batch_add(&b, ZK_Q_GET, c->lay.p_compact),
        se = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.epoch_path);
    if (rc || sr < 0 || sl < 0 || sc < 0 || se < 0) {
        zk_batch_free(&b);
        return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    zk_batch_run(&b, zh, 0);
    if ((rc = zk_epoch_rc(&c->lay, b.slots[se].rc, err)) != DC_OK) {
        zk_batch_free(&b);
        return rc;
    }
    for (size_t i = 0; i < b.n && !rc; i++)
        if (b.slots[i].rc != ZOK) rc = zerr(c, b.slots[i].rc, b.slots[i].path, err);
    int64_t compact = 0;
    if (!rc) {
        char *end;
        compact = strtoll(b.slots[sc].data ? b.slots[sc].data : "", &end, 10);
        if (!b.slots[sc].data || *end || compact < 0)
            rc = ZKERR(err, DC_ECORRUPT, "zk %s: corrupt compact revision in %s", c->cfg.endpoint,
                       c->lay.p_compact);
    }
    if (!rc) {
        *r0 = b.slots[sr].stat.mzxid;
        *rev = req->revision ? req->revision : *r0;
        if (*rev > *r0)
            rc = ZKERR(err, DC_EINVAL, "zk %s: revision %lld is in the future (current %lld)",
                       c->cfg.endpoint, (long long)*rev, (long long)*r0);
        else if (*rev < compact) {
            err->compact_revision = compact;
            rc = ZKERR(err, DC_ECOMPACTED,
                       "zk %s: revision %lld has been compacted (compact revision %lld)",
                       c->cfg.endpoint, (long long)*rev, (long long)compact);
        }
    }
    dc_buf esc = DC_BUF_INIT;
    if (!rc && zk_key_escape(&esc, req->prefix, req->prefix_len))
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
    zk_slot *ls = &b.slots[sl];
    for (int i = 0; !rc && i < ls->n_names; i++) {
        if (strncmp(ls->names[i], esc.p, esc.len) != 0) continue;
        char *key;
        size_t kl;
        int u = zk_key_unescape(ls->names[i], &key, &kl);
        if (u == -1) continue; /* not a key of ours: read.c says so, once per read */
        if (u) {
            rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            break;
        }
        if (!in_range(req, key, kl)) {
            free(key);
            continue;
        }
        pkey *p = pset_add(s, key, kl);
        if (!p) {
            free(key);
            rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            break;
        }
        p->listed = 1;
    }
    dc__buf_free(&esc);
    zk_batch_free(&b);
    if (rc || *rev == *r0) return rc;
    zk_rec *recs;
    size_t n;
    rc = zk_log_range(c, zh, *rev, *r0, &recs, &n, err);
    if (rc == DC_ECOMPACTED) err->compact_revision = *r0;
    if (rc) return rc;
    rc = apply_records(s, req, recs, n);
    zk_recs_free(recs, n);
    return rc ? ZKERR(err, rc, "zk: out of memory") : DC_OK;
}

/* Step 4 for the keys of sel that still need their znode: read them and the
 * revision node; records after *r1 are applied. 1 if the page can be built
 * (every key of it is changed or was read, and nothing was written since),
 * 0 to select again (the set may have changed: sel is stale), or a DC_E
 * code. */
static int page_fetch(zk_conn *c, zhandle_t *zh, const dc_page_req *req, pset *s, const size_t *sel,
                      size_t nsel, int64_t *r1, dc_drv_err *err)
{
    zk_batch b;
    zk_batch_init(&b);
    char **paths = calloc(nsel + 1, sizeof *paths);
    int *slot = calloc(nsel + 1, sizeof *slot);
    int rc = paths && slot ? DC_OK : DC_ENOMEM;
    size_t need = 0;
    for (size_t i = 0; !rc && i < nsel; i++) {
        pkey *p = &s->k[sel[i]];
        slot[i] = -1;
        if (p->changed || p->fetched) continue;
        dc_buf path = DC_BUF_INIT;
        if (dc__buf_printf(&path, "%s/", c->lay.p_kv) || zk_key_escape(&path, p->key, p->key_len)) {
            dc__buf_free(&path);
            rc = DC_ENOMEM;
            break;
        }
        paths[i] = dc__buf_steal(&path);
        if (!paths[i] || (slot[i] = zk_batch_add(&b, ZK_Q_GET, paths[i])) < 0) rc = DC_ENOMEM;
        need++;
    }
    int sr = rc || !need ? -1 : zk_batch_add(&b, ZK_Q_EXISTS, c->lay.p_rev);
    if (!rc && need && sr < 0) rc = DC_ENOMEM;
    if (rc) goto out;
    if (!need) {
        rc = 1;
        goto out;
    }
    zk_batch_run(&b, zh, 0);
    if (b.slots[sr].rc != ZOK) {
        rc = zerr(c, b.slots[sr].rc, c->lay.p_rev, err);
        goto out;
    }
    int64_t r2 = b.slots[sr].stat.mzxid;
    for (size_t i = 0; i < nsel && !rc; i++) {
        if (slot[i] < 0) continue;
        zk_slot *sl = &b.slots[slot[i]];
        if (sl->rc == ZNONODE) continue; /* gone since: a record after *r1 says how */
        if (sl->rc != ZOK) {
            rc = zerr(c, sl->rc, paths[i], err);
            break;
        }
        pkey *p = &s->k[sel[i]];
        int64_t lease;
        const char *v;
        size_t vl;
        if (zk_kv_decode(sl->data, sl->len, &lease, &v, &vl)) {
            c->host->log(DC_LOG_ERROR, "zk", "zk %s: corrupt kv znode %s", c->cfg.endpoint,
                         paths[i]);
            rc = ZKERR(err, DC_ECORRUPT, "zk %s: corrupt data in %s", c->cfg.endpoint, paths[i]);
            break;
        }
        free(p->kv.value);
        p->kv.value = malloc(vl + 1);
        if (!p->kv.value) {
            rc = DC_ENOMEM;
            break;
        }
        if (vl) memcpy(p->kv.value, v, vl);
        p->kv.value[vl] = '\0';
        p->kv.value_len = vl;
        p->kv.create_revision = sl->stat.czxid;
        p->kv.mod_revision = sl->stat.mzxid;
        p->kv.version = (int64_t)sl->stat.version + 1;
        p->kv.lease = lease;
        p->fetched = 1;
    }
    if (rc) goto out;
    if (r2 != *r1) {
        zk_rec *recs;
        size_t n;
        rc = zk_log_range(c, zh, *r1, r2, &recs, &n, err);
        if (rc == DC_ECOMPACTED) err->compact_revision = r2;
        if (!rc) {
            rc = apply_records(s, req, recs, n);
            zk_recs_free(recs, n);
        }
        if (rc) goto out;
        *r1 = r2;
    }
    /* select again: the set may have changed; with nothing new to read, the
     * next round builds the page without asking the server */
    rc = 0;
out:
    for (size_t i = 0; paths && i < nsel; i++) free(paths[i]);
    free(paths);
    free(slot);
    zk_batch_free(&b);
    if (rc == DC_ENOMEM) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    return rc;
}

static int page_once(zk_conn *c, zhandle_t *zh, const dc_page_req *req, dc_kvs *out,
                     int64_t deadline, dc_drv_err *err)
{
    pset s = {0};
    int64_t rev = 0, r1 = 0;
    int rc = page_start(c, zh, req, &s, &rev, &r1, err);
    size_t *sel = rc ? NULL : malloc(((size_t)req->limit + 1) * sizeof *sel);
    if (!rc && !sel) rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
    size_t nsel = 0;
    while (!rc) {
        nsel = select_keys(&s, req->limit, sel);
        int f = page_fetch(c, zh, req, &s, sel, nsel, &r1, err);
        if (f == 1) break;
        if (f < 0)
            rc = f;
        else if (dc__now_ms() >= deadline)
            rc = ZKERR(err, DC_EUNAVAILABLE, "zk %s: paged read: the range kept changing for %d ms",
                       c->cfg.endpoint, c->cfg.request_timeout_ms);
    }
    size_t take = nsel > (size_t)req->limit ? (size_t)req->limit : nsel;
    if (!rc && take && !(out->kvs = calloc(take, sizeof *out->kvs)))
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
    int keys_only = (req->flags & DC_KEYS_ONLY) != 0;
    for (size_t i = 0; !rc && i < take; i++) {
        const pkey *p = &s.k[sel[i]];
        dc_kv *kv = &out->kvs[i];
        *kv = p->kv;
        if (dc__kv_set(kv, p->key, p->key_len, keys_only ? NULL : p->kv.value,
                       keys_only ? 0 : p->kv.value_len)) {
            memset(kv, 0, sizeof *kv);
            rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            break;
        }
        out->n++;
    }
    if (!rc) {
        out->revision = rev;
        out->more = nsel > take;
        out->count = (int64_t)out->n;
    }
    free(sel);
    pset_free(&s);
    return rc;
}

int zk_get_page(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err)
{
    zk_conn *c = conn;
    if (req->prefix_len > ZK_MAX_KEY || req->after_len > ZK_MAX_KEY)
        return ZKERR(err, DC_ETOOBIG, "zk: key of more than %d bytes", ZK_MAX_KEY);
    int64_t deadline = dc__now_ms() + c->cfg.request_timeout_ms;
    for (int attempt = 0;; attempt++) {
        uint64_t gen;
        zhandle_t *zh = zk_acquire(&c->s, &gen);
        int rc = page_once(c, zh, req, out, deadline, err);
        zk_release(&c->s);
        if (rc == DC_OK) return DC_OK;
        dc__kvs_clear(out);
        if (!zk_recover(&c->s, gen, rc, attempt, deadline)) return rc;
    }
}
