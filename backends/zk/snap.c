/*
 * Consistent multi-key reads without a read multi.
 *
 * ZooKeeper cannot read several znodes atomically from C, so a snapshot is
 * built from pipelined reads bracketed by two reads of the revision node
 * (R0 before, R1 after; one session, so the server answers in order):
 *  - R0 == R1: nothing was written meanwhile, the reads are the state at R0;
 *  - else, if no key read changed after R0 (every mzxid <= R0) and the key
 *    set did not change (pzxid of R/kv <= R0), it is still the state at R0;
 *  - else the reads are patched with the event log records in (R0, R1]: a
 *    key those records touch takes its state from the last one (every record
 *    carries whole values), the others did not change in between. The result
 *    is the state at R1.
 * Patching is what keeps snapshots live under continuous writes (pure
 * validate-and-retry starves: under steady writes the bracket rarely holds).
 *
 * Reads for a write (consistent = 0) skip the bracket: the write's multi
 * re-checks every key it read, which makes those reads current at commit.
 * For each single key the deletion generation of its shard is read *before*
 * the key, for the ABA check in txn.c.
 */
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "zk.h"
#include "zk_batch.h"
#include "zk_codec.h"
#include "zk_conn.h"
#include "zk_evlog.h"
#include "zk_layout.h"
#include "zk_session.h"
#include "zk_snap.h"

void zk_snap_init(zk_snap *s)
{
    memset(s, 0, sizeof *s);
}

static void entry_clear(zk_entry *e)
{
    free(e->key);
    free(e->path);
    free(e->value);
    if (e->fvalue_owned) free(e->fvalue);
    memset(e, 0, sizeof *e);
}

void zk_snap_free(zk_snap *s)
{
    for (size_t i = 0; i < s->n; i++) entry_clear(&s->e[i]);
    free(s->e);
    for (size_t i = 0; i < s->n_prefixes; i++) free(s->prefixes[i]);
    free(s->prefixes);
    free(s->prefix_lens);
    memset(s, 0, sizeof *s);
}

int zk_gen_shard(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)key[i]) * 16777619u;
    return (int)(h % ZK_GEN_SHARDS);
}

static zk_entry *entry_add(zk_snap *s, const char *kvdir, const char *key, size_t len)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        zk_entry *e = realloc(s->e, cap * sizeof *e);
        if (!e) return NULL;
        s->e = e;
        s->cap = cap;
    }
    zk_entry *e = &s->e[s->n];
    memset(e, 0, sizeof *e);
    e->key = malloc(len + 1);
    dc_buf p = DC_BUF_INIT;
    if (!e->key || (kvdir && (dc__buf_printf(&p, "%s/", kvdir) || zk_key_escape(&p, key, len)))) {
        free(e->key);
        dc__buf_free(&p);
        e->key = NULL;
        return NULL;
    }
    if (len) memcpy(e->key, key, len);
    e->key[len] = '\0';
    e->key_len = len;
    if (kvdir) {
        e->path = dc__buf_steal(&p);
        e->name = e->path + strlen(kvdir) + 1;
    }
    e->gen_shard = zk_gen_shard(key, len);
    e->gen_version = -1;
    s->n++;
    return e;
}

/* Keys wanted before zk_snap_read have no path yet: it needs the conn. */
int zk_snap_want_key(zk_snap *s, const char *key, size_t len)
{
    for (size_t i = 0; i < s->n; i++)
        if (dc__key_cmp(s->e[i].key, s->e[i].key_len, key, len) == 0) return 0;
    return entry_add(s, NULL, key, len) ? 0 : -1;
}

int zk_snap_want_prefix(zk_snap *s, const char *prefix, size_t len)
{
    for (size_t i = 0; i < s->n_prefixes; i++)
        if (s->prefix_lens[i] == len && memcmp(s->prefixes[i], prefix, len) == 0) return 0;
    char **p = realloc(s->prefixes, (s->n_prefixes + 1) * sizeof *p);
    if (!p) return -1;
    s->prefixes = p;
    size_t *l = realloc(s->prefix_lens, (s->n_prefixes + 1) * sizeof *l);
    if (!l) return -1;
    s->prefix_lens = l;
    char *c = malloc(len + 1);
    if (!c) return -1;
    if (len) memcpy(c, prefix, len);
    c[len] = '\0';
    s->prefixes[s->n_prefixes] = c;
    s->prefix_lens[s->n_prefixes] = len;
    s->n_prefixes++;
    return 0;
}

int zk_snap_covers(const zk_snap *s, const char *key, size_t len)
{
    for (size_t i = 0; i < s->n_prefixes; i++)
        if (dc__key_has_prefix(key, len, s->prefixes[i], s->prefix_lens[i])) return 1;
    for (size_t i = 0; i < s->n; i++)
        if (dc__key_cmp(s->e[i].key, s->e[i].key_len, key, len) == 0) return 1;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const zk_entry *x = a, *y = b;
    return dc__key_cmp(x->key, x->key_len, y->key, y->key_len);
}

static void snap_sort(zk_snap *s)
{
    if (s->n) qsort(s->e, s->n, sizeof *s->e, entry_cmp);
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i].path) s->e[i].name = strrchr(s->e[i].path, '/') + 1;
}

zk_entry *zk_snap_find(zk_snap *s, const char *key, size_t len)
{
    zk_entry probe;
    probe.key = (char *)key;
    probe.key_len = len;
    return s->n ? bsearch(&probe, s->e, s->n, sizeof *s->e, entry_cmp) : NULL;
}

/* Set an entry's state from a GET slot. */
static int entry_from_slot(zk_conn *c, zk_entry *e, const zk_slot *sl, dc_drv_err *err)
{
    free(e->value);
    e->value = NULL;
    e->value_len = 0;
    if (sl->rc == ZNONODE) {
        e->present = 0;
        e->create_rev = e->mod_rev = e->version = e->lease = 0;
        return DC_OK;
    }
    int64_t lease;
    const char *v;
    size_t vl;
    if (zk_kv_decode(sl->data, sl->len, &lease, &v, &vl)) {
        c->host->log(DC_LOG_ERROR, "zk", "zk %s: corrupt kv znode %s", c->cfg.endpoint, e->path);
        return ZKERR(err, DC_ECORRUPT, "zk %s: corrupt data in %s", c->cfg.endpoint, e->path);
    }
    e->value = malloc(vl + 1);
    if (!e->value) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    if (vl) memcpy(e->value, v, vl);
    e->value[vl] = '\0';
    e->value_len = vl;
    e->present = 1;
    e->lease = lease;
    e->create_rev = sl->stat.czxid;
    e->mod_rev = sl->stat.mzxid;
    e->version = (int64_t)sl->stat.version + 1;
    e->mzxid_read = sl->stat.mzxid;
    return DC_OK;
}

/* Apply event records (R0, R1] to the entries the snapshot covers. */
static int apply_records(zk_conn *c, zk_snap *s, zk_rec *recs, size_t n, dc_drv_err *err)
{
    size_t sorted = s->n;
    for (size_t r = 0; r < n; r++) {
        for (size_t i = 0; i < recs[r].n; i++) {
            zk_ev *ev = &recs[r].evs[i];
            zk_entry probe = {.key = ev->key, .key_len = ev->key_len}, *e;
            e = sorted ? bsearch(&probe, s->e, sorted, sizeof *s->e, entry_cmp) : NULL;
            for (size_t j = sorted; !e && j < s->n; j++)
                if (dc__key_cmp(s->e[j].key, s->e[j].key_len, ev->key, ev->key_len) == 0)
                    e = &s->e[j];
            if (!e) {
                if (!zk_snap_covers(s, ev->key, ev->key_len)) continue;
                e = entry_add(s, c->lay.p_kv, ev->key, ev->key_len);
                if (!e) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
            }
            free(e->value);
            e->value = NULL;
            e->value_len = 0;
            if (ev->type == DC_EVENT_DELETE) {
                e->present = 0;
                e->create_rev = e->mod_rev = e->version = e->lease = 0;
                continue;
            }
            e->value = malloc(ev->value_len + 1);
            if (!e->value) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
            if (ev->value_len) memcpy(e->value, ev->value, ev->value_len);
            e->value[ev->value_len] = '\0';
            e->value_len = ev->value_len;
            e->present = 1;
            e->create_rev = ev->create_rev ? ev->create_rev : recs[r].rev;
            e->mod_rev = recs[r].rev;
            e->version = ev->version;
            e->lease = ev->lease;
        }
    }
    snap_sort(s);
    return DC_OK;
}

static int slot_err(zk_conn *c, int zrc, const char *path, dc_drv_err *err)
{
    return ZKERR(err, zrc == ZMARSHALLINGERROR ? DC_ECORRUPT : zk_map_rc(zrc),
                 "zk %s: reading %s: %s", c->cfg.endpoint, path, zerror(zrc));
}

int zk_snap_read(zk_conn *c, zhandle_t *zh, zk_snap *s, int consistent, dc_drv_err *err)
{
    /* give the wanted keys their paths */
    for (size_t i = 0; i < s->n; i++) {
        zk_entry *e = &s->e[i];
        if (e->path) continue;
        dc_buf p = DC_BUF_INIT;
        if (dc__buf_printf(&p, "%s/", c->lay.p_kv) || zk_key_escape(&p, e->key, e->key_len)) {
            dc__buf_free(&p);
            return ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        e->path = dc__buf_steal(&p);
    }
    snap_sort(s);
    size_t nsingle = s->n;
    char gens[ZK_GEN_SHARDS][512];
    for (int i = 0; i < ZK_GEN_SHARDS; i++)
        snprintf(gens[i], sizeof gens[i], "%s/%02d", c->lay.p_gen, i);

    zk_batch b;
    zk_batch_init(&b);
    int rc = DC_OK;
    int r0 = -1, r1 = -1, kvst = -1, list = -1;
    int *gslot = calloc(nsingle + 1, sizeof *gslot), *kslot = calloc(nsingle + 1, sizeof *kslot);
    if (!gslot || !kslot) {
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        goto out;
    }
    if (c->cfg.sync && zk_batch_add(&b, ZK_Q_SYNC, c->lay.p_rev) < 0) rc = DC_ENOMEM;
    int ep = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.epoch_path); /* still our history? */
    if (ep < 0) rc = DC_ENOMEM;
    if (consistent) r0 = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.p_rev);
    for (size_t i = 0; i < nsingle; i++) {
        gslot[i] = s->for_write ? zk_batch_add(&b, ZK_Q_EXISTS, gens[s->e[i].gen_shard]) : 0;
        kslot[i] = zk_batch_add(&b, ZK_Q_GET, s->e[i].path);
        if (gslot[i] < 0 || kslot[i] < 0) rc = DC_ENOMEM;
    }
    if (s->n_prefixes) list = zk_batch_add(&b, ZK_Q_CHILDREN, c->lay.p_kv);
    if (consistent && !s->n_prefixes) {
        kvst = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.p_kv);
        r1 = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.p_rev);
    }
    if (rc || (consistent && (r0 < 0 || (!s->n_prefixes && (kvst < 0 || r1 < 0)))) ||
        (s->n_prefixes && list < 0)) {
        rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
        goto out;
    }
    zk_batch_run(&b, zh, 0);
    if ((rc = zk_epoch_rc(&c->lay, b.slots[ep].rc, err)) != DC_OK) goto out;

    /* prefixes: second round for the matching children */
    size_t round2 = b.n;
    int *pslot = NULL;
    if (s->n_prefixes) {
        zk_slot *ls = &b.slots[list];
        if (ls->rc != ZOK) {
            rc = slot_err(c, ls->rc, c->lay.p_kv, err);
            goto out;
        }
        dc_buf *esc = calloc(s->n_prefixes, sizeof *esc);
        if (!esc) {
            rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            goto out;
        }
        for (size_t i = 0; i < s->n_prefixes && !rc; i++)
            if (zk_key_escape(&esc[i], s->prefixes[i], s->prefix_lens[i])) rc = DC_ENOMEM;
        for (int i = 0; i < ls->n_names && !rc; i++) {
            const char *nm = ls->names[i];
            int match = 0;
            for (size_t j = 0; j < s->n_prefixes && !match; j++)
                match = strncmp(nm, esc[j].p, esc[j].len) == 0;
            if (!match) continue;
            char *key;
            size_t kl;
            int u = zk_key_unescape(nm, &key, &kl);
            if (u == -1) {
                c->host->log(DC_LOG_WARN, "zk", "zk %s: ignoring foreign znode %s/%s",
                             c->cfg.endpoint, c->lay.p_kv, nm);
                continue;
            }
            if (u) {
                rc = DC_ENOMEM;
                break;
            }
            zk_entry probe = {.key = key, .key_len = kl};
            if ((!nsingle || !bsearch(&probe, s->e, nsingle, sizeof *s->e, entry_cmp)) &&
                !entry_add(s, c->lay.p_kv, key, kl))
                rc = DC_ENOMEM;
            free(key);
        }
        for (size_t i = 0; i < s->n_prefixes; i++) dc__buf_free(&esc[i]);
        free(esc);
        pslot = calloc(s->n - nsingle + 1, sizeof *pslot);
        if (!pslot) rc = DC_ENOMEM;
        for (size_t i = nsingle; i < s->n && !rc; i++) {
            s->e[i].name = strrchr(s->e[i].path, '/') + 1;
            if ((pslot[i - nsingle] = zk_batch_add(&b, ZK_Q_GET, s->e[i].path)) < 0) rc = DC_ENOMEM;
        }
        if (consistent && !rc) {
            kvst = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.p_kv);
            r1 = zk_batch_add(&b, ZK_Q_EXISTS, c->lay.p_rev);
            if (kvst < 0 || r1 < 0) rc = DC_ENOMEM;
        }
        if (rc) {
            free(pslot);
            rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            goto out;
        }
        zk_batch_run(&b, zh, round2);
    }

    /* collect */
    if (consistent) {
        if (b.slots[r0].rc != ZOK || b.slots[r1].rc != ZOK || b.slots[kvst].rc != ZOK) {
            int zrc = b.slots[r0].rc != ZOK   ? b.slots[r0].rc
                      : b.slots[r1].rc != ZOK ? b.slots[r1].rc
                                              : b.slots[kvst].rc;
            rc = slot_err(c, zrc, c->lay.p_rev, err);
            free(pslot);
            goto out;
        }
        s->r0 = b.slots[r0].stat.mzxid;
        s->r1 = b.slots[r1].stat.mzxid;
    }
    for (size_t i = 0; i < s->n && !rc; i++) {
        zk_slot *ks = &b.slots[i < nsingle ? kslot[i] : pslot[i - nsingle]];
        if (ks->rc != ZOK && ks->rc != ZNONODE) {
            rc = slot_err(c, ks->rc, s->e[i].path, err);
            break;
        }
        if (i < nsingle && s->for_write) {
            zk_slot *gs = &b.slots[gslot[i]];
            if (gs->rc != ZOK) {
                rc = slot_err(c, gs->rc, gens[s->e[i].gen_shard], err);
                break;
            }
            s->e[i].gen_version = gs->stat.version;
            if (gs->stat.mzxid > s->max_mzxid) s->max_mzxid = gs->stat.mzxid;
        }
        rc = entry_from_slot(c, &s->e[i], ks, err);
        if (ks->rc == ZOK && ks->stat.mzxid > s->max_mzxid) s->max_mzxid = ks->stat.mzxid;
    }
    free(pslot);
    if (rc) goto out;
    snap_sort(s);
    if (!consistent) goto out;
    s->rev = s->r0;
    s->rev_version = b.slots[r0].stat.version;
    if (s->r1 == s->r0) goto out;
    /* stable since R0: no child of R/kv came or went, no key read changed */
    int stable = b.slots[kvst].stat.pzxid <= s->r0;
    for (size_t i = 0; i < s->n && stable; i++)
        if (s->e[i].present && s->e[i].mod_rev > s->r0) stable = 0;
    if (stable) goto out;
    zk_rec *recs;
    size_t nrec;
    rc = zk_log_range(c, zh, s->r0, s->r1, &recs, &nrec, err);
    if (rc) goto out;
    rc = apply_records(c, s, recs, nrec, err);
    zk_recs_free(recs, nrec);
    s->rev = s->r1;
    s->rev_version = b.slots[r1].stat.version;
out:
    free(gslot);
    free(kslot);
    zk_batch_free(&b);
    return rc;
}

static int copy_state(dc_kv *kv, const zk_entry *e, int overlay, int keys_only)
{
    const char *v = overlay && e->written ? e->fvalue : e->value;
    size_t vl = overlay && e->written ? e->fvalue_len : e->value_len;
    if (dc__kv_set(kv, e->key, e->key_len, keys_only ? NULL : v, keys_only ? 0 : vl)) return -1;
    if (overlay && e->written) {
        kv->lease = e->flease;
        kv->version = e->fversion;
        kv->create_revision = e->fcreate;
        kv->mod_revision = 0; /* filled by the caller with the txn's revision */
    } else {
        kv->lease = e->lease;
        kv->version = e->version;
        kv->create_revision = e->create_rev;
        kv->mod_revision = e->mod_rev;
    }
    return 0;
}

int zk_snap_range(zk_snap *s, const dc_op *op, int overlay, dc_kv **kvs, size_t *n, int64_t *count,
                  int *more)
{
    *kvs = NULL;
    *n = 0;
    *count = 0;
    *more = 0;
    int64_t total = 0;
    for (size_t i = 0; i < s->n; i++) {
        zk_entry *e = &s->e[i];
        int live = overlay && e->written ? e->fpresent : e->present;
        if (!live) continue;
        int m = op->flags & DC_PREFIX ? dc__key_has_prefix(e->key, e->key_len, op->key, op->key_len)
                                      : dc__key_cmp(e->key, e->key_len, op->key, op->key_len) == 0;
        total += m;
    }
    *count = total;
    if (op->flags & DC_COUNT_ONLY || total == 0) return 0;
    int64_t want = op->limit > 0 && op->limit < total ? op->limit : total;
    *more = want < total;
    dc_kv *out = calloc((size_t)want, sizeof *out);
    if (!out) return -1;
    size_t k = 0;
    for (size_t i = 0; i < s->n && (int64_t)k < want; i++) {
        zk_entry *e = &s->e[i];
        int live = overlay && e->written ? e->fpresent : e->present;
        if (!live) continue;
        int m = op->flags & DC_PREFIX ? dc__key_has_prefix(e->key, e->key_len, op->key, op->key_len)
                                      : dc__key_cmp(e->key, e->key_len, op->key, op->key_len) == 0;
        if (!m) continue;
        if (copy_state(&out[k], e, overlay, op->flags & DC_KEYS_ONLY)) {
            for (size_t j = 0; j < k; j++) dc__kv_clear(&out[j]);
            free(out);
            return -1;
        }
        k++;
    }
    *kvs = out;
    *n = k;
    return 0;
}
