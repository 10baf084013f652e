/*
 * Reading the event log (evlog.c) from a cursor (bucket, next sequence
 * number) for watches: whole records (one record = one revision) go to the
 * cursor's owner, a watch catching up (watch.c) or the connection's
 * follower (follower.c).
 *
 * ZooKeeper watches are one-shot and carry no data, so they are only used as
 * wake-ups: a data watch on the bucket pointer R/ev (rollover) and an exists
 * watch on the next event name e-<cursor> (dense sequence numbers make the
 * next name predictable). A pass reads the pointer first: if it has moved
 * past the cursor's bucket, that bucket is sealed, so once its listing is
 * consumed the cursor moves to the next bucket. A missing bucket or a hole in
 * the sequence can only come from compaction: the owner then ends with
 * DC_ECOMPACTED and the compact revision. So does a watch that falls behind
 * the compact revision (R/compact is watched too) while its events are still
 * there, as on etcd. Connection loss is waited out (the log is durable, the
 * cursor survives); session expiry rebuilds the handle (session.c) and the
 * loop simply goes on from the cursor. A slow safety re-poll covers a
 * wake-up lost across a reconnect.
 *
 * Watcher callbacks may fire after a cursor is gone (ZooKeeper cannot
 * cancel them reliably), so their context is a never-reused id looked up in
 * a registry, not a pointer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"
#include "zk.h"
#include "zk_batch.h"
#include "zk_codec.h"
#include "zk_config.h"
#include "zk_conn.h"
#include "zk_cursor.h"
#include "zk_evlog.h"
#include "zk_layout.h"
#include "zk_session.h"

#define SAFETY_POLL_MS 2000

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static zk_cursor *reg_head;
static uint64_t reg_next = 1;

static void kick(zk_cursor *w)
{
    pthread_mutex_lock(&w->mu);
    w->kick = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void on_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)type;
    (void)state;
    (void)path;
    uint64_t id = (uint64_t)(uintptr_t)ctx;
    pthread_mutex_lock(&reg_mu);
    for (zk_cursor *w = reg_head; w; w = w->next)
        if (w->id == id) {
            if (path && strcmp(path, w->c->lay.p_compact) == 0) {
                pthread_mutex_lock(&w->mu);
                w->compact_dirty = 1;
                pthread_mutex_unlock(&w->mu);
            }
            kick(w);
            break;
        }
    pthread_mutex_unlock(&reg_mu);
}

void zk_cursor_register(zk_cursor *w)
{
    pthread_mutex_lock(&reg_mu);
    w->id = reg_next++;
    w->next = reg_head;
    reg_head = w;
    pthread_mutex_unlock(&reg_mu);
}

void zk_cursor_unregister(zk_cursor *w)
{
    pthread_mutex_lock(&reg_mu);
    for (zk_cursor **p = &reg_head; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
}

void zk_cursor_init(zk_cursor *cur, zk_conn *c, zk_take_fn take)
{
    memset(cur, 0, sizeof *cur);
    cur->c = c;
    cur->take = take;
    cur->compact_dirty = 1;
    pthread_mutex_init(&cur->mu, NULL);
    dc__cond_init_monotonic(&cur->cv);
}

void zk_cursor_fini(zk_cursor *cur)
{
    pthread_mutex_destroy(&cur->mu);
    pthread_cond_destroy(&cur->cv);
}

void zk_cursor_stop(zk_cursor *cur)
{
    pthread_mutex_lock(&cur->mu);
    cur->stop = 1;
    pthread_cond_broadcast(&cur->cv);
    pthread_mutex_unlock(&cur->mu);
}

static int matches(const zk_sub *w, const zk_ev *ev)
{
    return dc__event_wanted(w->flags, w->key, w->key_len, ev->type, ev->key, ev->key_len);
}

static int parse_num(const char *s, int len, int64_t *out)
{
    char tmp[24];
    if (len <= 0 || len > 20) return -1;
    memcpy(tmp, s, (size_t)len);
    tmp[len] = '\0';
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end || v < 0) return -1;
    *out = v;
    return 0;
}

/* A hole in the log: report compaction (or damage, if nothing was compacted). */
static int gap(zk_cursor *w, zhandle_t *zh, dc_drv_err *err)
{
    zk_conn *c = w->c;
    int64_t crev = 0;
    int rc = zk_compact_rev(c, zh, &crev, err);
    if (rc) return rc;
    err->compact_revision = crev;
    return ZKERR(err, DC_ECOMPACTED,
                 "zk %s: watch overtaken by compaction at bucket %lld seq %lld (compact revision "
                 "%lld)",
                 c->cfg.endpoint, (long long)w->bucket, (long long)w->seq, (long long)crev);
}

static int zerr(zk_conn *c, int zrc, const char *what, dc_drv_err *err)
{
    return ZKERR(err, zrc == ZMARSHALLINGERROR ? DC_ECORRUPT : zk_map_rc(zrc),
                 "zk %s: watch: %s: %s", c->cfg.endpoint, what, zerror(zrc));
}

int zk_sub_hand(zk_conn *c, zk_sub *w, const zk_rec *rec, int64_t compact_rev, dc_drv_err *err)
{
    if (rec->rev < w->next_rev) return DC_OK;
    if (rec->rev < compact_rev) {
        /* fallen below the compact revision: etcd cancels such a watch */
        err->compact_revision = compact_rev;
        return ZKERR(err, DC_ECOMPACTED,
                     "zk %s: watch fell behind compaction: revision %lld < compact revision %lld",
                     c->cfg.endpoint, (long long)rec->rev, (long long)compact_rev);
    }
    w->next_rev = rec->rev + 1;
    dc_event *evs = NULL;
    size_t nev = 0, cap = 0;
    for (size_t j = 0; j < rec->n; j++) {
        if (!matches(w, &rec->evs[j])) continue;
        if (nev == cap) {
            size_t nc = cap ? cap * 2 : 4;
            dc_event *e = realloc(evs, nc * sizeof *e);
            if (!e) {
                dc__event_array_free(evs, nev);
                return ZKERR(err, DC_ENOMEM, "zk: out of memory");
            }
            evs = e;
            cap = nc;
        }
        if (zk_rec_event(rec, j, w->flags & DC_PREV_KV, &evs[nev])) {
            dc__event_array_free(evs, nev);
            return ZKERR(err, DC_ENOMEM, "zk: out of memory");
        }
        nev++;
    }
    if (!nev) {
        free(evs);
        return DC_OK;
    }
    int prc = c->host->watch_push(w->sink, evs, nev);
    if (prc == DC_ECLOSED) return DC_ECLOSED;
    if (prc != DC_OK) return ZKERR(err, prc, "zk: the core refused events");
    return DC_OK;
}

/* Deliver events of bucket b from seq on (listing names). Returns DC_OK, a
 * DC_E code, or DC_ECLOSED when the core no longer wants events. What was
 * read before a failed read is handed over first, so the cursor moves on. */
static int deliver(zk_cursor *w, zhandle_t *zh, const char *bpath, int64_t *seqs, size_t n,
                   dc_drv_err *err)
{
    zk_conn *c = w->c;
    enum { CHUNK = 64 };
    char(*paths)[560] = malloc(CHUNK * sizeof *paths);
    zk_rec *recs = malloc(CHUNK * sizeof *recs);
    if (!paths || !recs) {
        free(paths);
        free(recs);
        return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    int rc = DC_OK;
    for (size_t at = 0; at < n && !rc; at += CHUNK) {
        size_t m = n - at < CHUNK ? n - at : CHUNK;
        zk_batch b;
        zk_batch_init(&b);
        for (size_t i = 0; i < m; i++) {
            snprintf(paths[i], sizeof paths[i], "%s/e-%010lld", bpath, (long long)seqs[at + i]);
            if (zk_batch_add(&b, ZK_Q_GET, paths[i]) < 0) rc = DC_ENOMEM;
        }
        if (rc) {
            zk_batch_free(&b);
            rc = ZKERR(err, DC_ENOMEM, "zk: out of memory");
            break;
        }
        zk_batch_run(&b, zh, 0);
        size_t got = 0;
        dc_drv_err rerr = {{0}, 0};
        int rrc = DC_OK;
        for (size_t i = 0; i < m; i++) {
            zk_slot *s = &b.slots[i];
            if (s->rc == ZNONODE) {
                rrc = gap(w, zh, &rerr);
                break;
            }
            if (s->rc != ZOK) {
                rrc = zerr(c, s->rc, paths[i], &rerr);
                break;
            }
            int d = zk_rec_decode(s->data, s->len, s->stat.czxid, &recs[got]);
            if (d) {
                if (d == -1)
                    c->host->log(DC_LOG_ERROR, "zk", "zk %s: corrupt event record %s",
                                 c->cfg.endpoint, paths[i]);
                rrc = d == -2 ? ZKERR(&rerr, DC_ENOMEM, "zk: out of memory")
                              : ZKERR(&rerr, DC_ECORRUPT, "zk %s: corrupt event record %s",
                                      c->cfg.endpoint, paths[i]);
                break;
            }
            got++;
        }
        zk_batch_free(&b);
        rc = w->take(w, recs, got, err);
        for (size_t i = 0; i < got; i++) zk_rec_clear(&recs[i]);
        if (!rc && rrc) {
            *err = rerr;
            rc = rrc;
        }
    }
    free(paths);
    free(recs);
    return rc;
}

static int cmp_asc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int step(zk_cursor *w, zhandle_t *zh, dc_drv_err *err)
{
    zk_conn *c = w->c;
    void *ctx = (void *)(uintptr_t)w->id;
    char buf[32];
    int len = sizeof buf - 1;
    struct Stat st;
    pthread_mutex_lock(&w->mu);
    int dirty = w->compact_dirty;
    w->compact_dirty = 0;
    pthread_mutex_unlock(&w->mu);
    if (dirty) {
        int64_t crev;
        int zrc = zoo_wget(zh, c->lay.p_compact, on_watch, ctx, buf, &len, &st);
        if (zrc != ZOK || parse_num(buf, len, &crev)) {
            pthread_mutex_lock(&w->mu);
            w->compact_dirty = 1;
            pthread_mutex_unlock(&w->mu);
            return zrc != ZOK ? zerr(c, zrc, "reading the compact revision", err)
                              : ZKERR(err, DC_ECORRUPT, "zk %s: corrupt compact revision",
                                      c->cfg.endpoint);
        }
        w->compact_rev = crev;
        len = sizeof buf - 1;
    }
    int zrc = zoo_wget(zh, c->lay.p_ev, on_watch, ctx, buf, &len, &st);
    if (zrc == ZNONODE &&
        zk_epoch_rc(&c->lay, zoo_exists(zh, c->lay.epoch_path, 0, NULL), err) == DC_ERESET)
        return DC_ERESET; /* the layout went with the history */
    if (zrc != ZOK) return zerr(c, zrc, "reading the bucket pointer", err);
    int64_t ptr;
    if (parse_num(buf, len, &ptr))
        return ZKERR(err, DC_ECORRUPT, "zk %s: corrupt bucket pointer", c->cfg.endpoint);
    char bpath[512];
    zk_bucket_path(&c->lay, w->bucket, bpath, sizeof bpath);
    zk_batch lb;
    zk_batch_init(&lb);
    /* with the listing, whether the history is still ours: a wiped server's
     * new layout would otherwise look like a compaction, or go on silently */
    if (zk_batch_add(&lb, ZK_Q_CHILDREN, bpath) < 0 ||
        zk_batch_add(&lb, ZK_Q_EXISTS, c->lay.epoch_path) < 0) {
        zk_batch_free(&lb);
        return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    zk_batch_run(&lb, zh, 0);
    zk_slot *ls = &lb.slots[0];
    int erc = zk_epoch_rc(&c->lay, lb.slots[1].rc, err);
    if (erc == DC_ERESET) {
        zk_batch_free(&lb);
        return erc;
    }
    if (ls->rc != ZOK) {
        zrc = ls->rc;
        zk_batch_free(&lb);
        return zrc == ZNONODE ? gap(w, zh, err) : zerr(c, zrc, "listing a bucket", err);
    }
    int64_t *seqs = malloc(((size_t)ls->n_names + 1) * sizeof *seqs);
    size_t n = 0;
    for (int i = 0; seqs && i < ls->n_names; i++) {
        int64_t q;
        if (strncmp(ls->names[i], "e-", 2) == 0 &&
            !parse_num(ls->names[i] + 2, (int)strlen(ls->names[i] + 2), &q) && q >= w->seq)
            seqs[n++] = q;
    }
    zk_batch_free(&lb);
    if (!seqs) return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    qsort(seqs, n, sizeof *seqs, cmp_asc);
    for (size_t i = 0; i < n; i++)
        if (seqs[i] != w->seq + (int64_t)i) {
            free(seqs);
            return gap(w, zh, err);
        }
    int rc = n ? deliver(w, zh, bpath, seqs, n, err) : DC_OK;
    free(seqs);
    if (rc) return rc;
    if (ptr > w->bucket) {
        /* sealed: everything it will ever hold was listed after the pointer moved */
        w->bucket++;
        w->seq = 0;
        return ZK_STEP_MORE;
    }
    char next[600];
    snprintf(next, sizeof next, "%s/e-%010lld", bpath, (long long)w->seq);
    zrc = zoo_wexists(zh, next, on_watch, ctx, &st);
    if (zrc == ZOK) return ZK_STEP_MORE;
    if (zrc == ZNONODE) return ZK_STEP_WAIT;
    return zerr(c, zrc, "watching the next event", err);
}

/* Place the cursor at the first event with revision >= start. */
int zk_cursor_position(zk_cursor *w, zhandle_t *zh, int64_t start, dc_drv_err *err)
{
    zk_conn *c = w->c;
    int64_t crev;
    int rc = zk_compact_rev(c, zh, &crev, err);
    if (rc) return rc;
    if (start < crev) {
        err->compact_revision = crev;
        return ZKERR(err, DC_ECOMPACTED,
                     "zk %s: watch from revision %lld: compacted (compact revision %lld)",
                     c->cfg.endpoint, (long long)start, (long long)crev);
    }
    zk_batch lb;
    zk_batch_init(&lb);
    if (zk_batch_add(&lb, ZK_Q_CHILDREN, c->lay.p_ev) < 0) {
        zk_batch_free(&lb);
        return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    zk_batch_run(&lb, zh, 0);
    if (lb.slots[0].rc != ZOK) {
        int zrc = lb.slots[0].rc;
        zk_batch_free(&lb);
        return zerr(c, zrc, "listing buckets", err);
    }
    int nb = lb.slots[0].n_names;
    int64_t *bs = malloc(((size_t)nb + 1) * sizeof *bs);
    char(*bp)[512] = malloc(((size_t)nb + 1) * sizeof *bp);
    size_t k = 0;
    for (int i = 0; bs && bp && i < nb; i++) {
        const char *nm = lb.slots[0].names[i];
        int64_t v;
        if (nm[0] == 'b' && !parse_num(nm + 1, (int)strlen(nm + 1), &v)) bs[k++] = v;
    }
    zk_batch_free(&lb);
    if (!bs || !bp || k == 0) {
        free(bs);
        free(bp);
        return k == 0 && bs && bp
                   ? ZKERR(err, DC_ECORRUPT, "zk %s: no event buckets", c->cfg.endpoint)
                   : ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    qsort(bs, k, sizeof *bs, cmp_asc);
    zk_batch eb;
    zk_batch_init(&eb);
    for (size_t i = 0; i < k; i++) {
        zk_bucket_path(&c->lay, bs[i], bp[i], sizeof bp[i]);
        if (zk_batch_add(&eb, ZK_Q_EXISTS, bp[i]) < 0) rc = DC_ENOMEM;
    }
    if (!rc) zk_batch_run(&eb, zh, 0);
    w->bucket = bs[0];
    for (size_t i = 0; !rc && i < k; i++) {
        if (eb.slots[i].rc == ZNONODE) continue; /* compacted meanwhile */
        if (eb.slots[i].rc != ZOK) {
            rc = zerr(c, eb.slots[i].rc, "reading buckets", err);
            break;
        }
        if (eb.slots[i].stat.czxid < start) w->bucket = bs[i];
    }
    zk_batch_free(&eb);
    free(bs);
    free(bp);
    if (rc) return rc == DC_ENOMEM ? ZKERR(err, DC_ENOMEM, "zk: out of memory") : rc;

    /* binary search the first event >= start (czxid grows with the sequence) */
    char bpath[512], ep[600];
    zk_bucket_path(&c->lay, w->bucket, bpath, sizeof bpath);
    struct Stat st;
    int zrc = zoo_exists(zh, bpath, 0, &st);
    if (zrc != ZOK) return zrc == ZNONODE ? gap(w, zh, err) : zerr(c, zrc, "reading a bucket", err);
    int64_t lo = 0, hi = st.numChildren; /* dense: names 0 .. n-1 (no compaction inside) */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        snprintf(ep, sizeof ep, "%s/e-%010lld", bpath, (long long)mid);
        zrc = zoo_exists(zh, ep, 0, &st);
        if (zrc == ZNONODE) { /* not dense after all: start at the bucket's head */
            lo = 0;
            break;
        }
        if (zrc != ZOK) return zerr(c, zrc, "reading an event", err);
        if (st.czxid < start)
            lo = mid + 1;
        else
            hi = mid;
    }
    w->seq = lo;
    return DC_OK;
}

int zk_cursor_pass(zk_cursor *cur, int *attempt, dc_drv_err *err)
{
    zk_conn *c = cur->c;
    if (c->cfg.debug_watch_delay_ms) dc__sleep_ms(c->cfg.debug_watch_delay_ms);
    uint64_t gen;
    zhandle_t *zh = zk_acquire(&c->s, &gen);
    int rc;
    /* Within one session ZooKeeper never serves a state older than one it
     * has shown; a new session (after an expiry) has no such floor, so its
     * server is synced first, once per session (docs/backends/zk.md, "Reads
     * on an ensemble"). */
    int zrc =
        c->cfg.sync && (!cur->synced || cur->synced_gen != gen) ? zk_sync(zh, c->lay.p_rev) : ZOK;
    if (zrc != ZOK) {
        rc = ZKERR(err, zk_map_rc(zrc), "zk %s: watch: sync: %s", c->cfg.endpoint, zerror(zrc));
    } else {
        if (c->cfg.sync) {
            cur->synced = 1;
            cur->synced_gen = gen;
        }
        rc = step(cur, zh, err);
    }
    int dead = rc == DC_EUNAVAILABLE && is_unrecoverable(zh) == ZINVALIDSTATE;
    zk_release(&c->s);
    if (rc == DC_EUNAVAILABLE || rc == DC_ETIMEDOUT) {
        /* connection trouble: the cursor is safe, wait and go on */
        if (dead) {
            dc_drv_err e2 = {{0}, 0};
            zk_rebuild(&c->s, gen, &e2);
        }
        pthread_mutex_lock(&cur->mu);
        if (!cur->stop)
            dc__cond_wait_until(&cur->cv, &cur->mu, dc__now_ms() + (*attempt < 5 ? 100 : 500));
        pthread_mutex_unlock(&cur->mu);
        (*attempt)++;
        return ZK_STEP_RETRY;
    }
    if (rc == ZK_STEP_MORE || rc == ZK_STEP_WAIT) *attempt = 0;
    return rc;
}

void zk_cursor_wait(zk_cursor *cur)
{
    pthread_mutex_lock(&cur->mu);
    int64_t deadline = dc__now_ms() + SAFETY_POLL_MS;
    while (!cur->kick && !cur->stop)
        if (dc__cond_wait_until(&cur->cv, &cur->mu, deadline) == ETIMEDOUT) break;
    pthread_mutex_unlock(&cur->mu);
}
