/*
 * Watches follow the event log (evlog.c) from a cursor (bucket, next
 * sequence number) and push whole records (one record = one revision) to the
 * core.
 *
 * One follower per connection serves every watch that has caught up: it
 * reads each new record once and hands it to each member watch that needs it
 * (the record is at or past the watch's next_rev), so the cost of a write no
 * longer grows with the number of open watches (the protocol's workers keep
 * three watches open for their whole life). A watch that starts below what
 * the follower has read catches up on a thread of its own with the same code
 * and joins the follower, under the follower's mutex, as soon as its
 * next_rev is at or past the follower's floor (every record before the
 * follower's cursor is below its floor, every record after it is above):
 * records it already has are filtered by revision, so nothing is lost or
 * repeated. A watch that starts at or past the floor joins at once. With no
 * member left the follower parks (no thread, no server traffic, no ZooKeeper
 * watch re-armed); the next watch to catch up re-anchors it at its own
 * cursor, so an idle connection costs nothing and a parked follower never
 * has to find its place in the log again.
 *
 * ZooKeeper watches are one-shot and carry no data, so they are only used as
 * wake-ups: a data watch on the bucket pointer R/ev (rollover) and an exists
 * watch on the next event name e-<cursor> (dense sequence numbers make the
 * next name predictable). A pass reads the pointer first: if it has moved
 * past the cursor's bucket, that bucket is sealed, so once its listing is
 * consumed the cursor moves to the next bucket. A missing bucket or a hole in
 * the sequence can only come from compaction: the watch (every member, for
 * the follower) then ends with DC_ECOMPACTED and the compact revision. So
 * does a watch that falls behind the compact revision (R/compact is watched
 * too) while its events are still there, as on etcd. Connection loss is
 * waited out (the log is durable, the cursor survives); session expiry
 * rebuilds the handle (conn.c) and the loop simply goes on from the cursor. A
 * slow safety re-poll covers a wake-up lost across a reconnect.
 *
 * Watcher callbacks may fire after a watch is stopped (ZooKeeper cannot
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

#define SAFETY_POLL_MS 2000

typedef struct zk_watch {
    uint64_t id;
    struct zk_watch *next; /* registry */
    zk_conn *c;
    dc_watch_sink *sink; /* NULL for the follower */
    char *key;
    size_t key_len;
    unsigned flags;
    int64_t start;
    int64_t bucket, seq; /* cursor */
    int64_t next_rev;    /* first revision it still needs: records before the cursor are below */
    int64_t compact_rev; /* last compact revision seen (R/compact is watched) */
    int compact_dirty;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int kick, stop;
    /* A member of the follower (under the follower's mu): the follower pushes
     * to it and its own thread has ended. */
    int member;
    struct zk_watch *mnext;
    /* The follower only (under its mu): members, and whether the cursor is
     * valid (0 while parked or after it failed its members). */
    int follower;
    int anchored;
    struct zk_watch *members;
} zk_watch;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static zk_watch *reg_head;
static uint64_t reg_next = 1;

static void kick(zk_watch *w)
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
    for (zk_watch *w = reg_head; w; w = w->next)
        if (w->id == id) {
            if (path && strcmp(path, w->c->p_compact) == 0) {
                pthread_mutex_lock(&w->mu);
                w->compact_dirty = 1;
                pthread_mutex_unlock(&w->mu);
            }
            kick(w);
            break;
        }
    pthread_mutex_unlock(&reg_mu);
}

static int matches(const zk_watch *w, const zk_ev *ev)
{
    if (w->flags & DC_NO_PUT && ev->type == DC_EVENT_PUT) return 0;
    if (w->flags & DC_NO_DELETE && ev->type == DC_EVENT_DELETE) return 0;
    if (w->flags & DC_PREFIX) return dc_key_has_prefix(ev->key, ev->key_len, w->key, w->key_len);
    return dc_key_cmp(ev->key, ev->key_len, w->key, w->key_len) == 0;
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

/* Outcome of one pass of the loop. */
enum { STEP_MORE = 0, STEP_WAIT = 1 };

/* A hole in the log: report compaction (or damage, if nothing was compacted). */
static int gap(zk_watch *w, zhandle_t *zh, dc_drv_err *err)
{
    zk_conn *c = w->c;
    int64_t crev = 0;
    int rc = zk_compact_rev(c, zh, &crev, err);
    if (rc) return rc;
    err->compact_revision = crev;
    return ZKERR(err, DC_ECOMPACTED,
                 "zk %s: watch overtaken by compaction at bucket %lld seq %lld (compact revision "
                 "%lld)",
                 c->endpoint, (long long)w->bucket, (long long)w->seq, (long long)crev);
}

static int zerr(zk_conn *c, int zrc, const char *what, dc_drv_err *err)
{
    return ZKERR(err, zrc == ZMARSHALLINGERROR ? DC_ECORRUPT : zk_map_rc(zrc),
                 "zk %s: watch: %s: %s", c->endpoint, what, zerror(zrc));
}

/* Hand one record to watch w if it still needs it. DC_OK, DC_ECLOSED when
 * the core no longer wants events, or an error that ends the watch. */
static int hand(zk_watch *w, const zk_rec *rec, int64_t compact_rev, dc_drv_err *err)
{
    zk_conn *c = w->c;
    if (rec->rev < w->next_rev) return DC_OK;
    if (rec->rev < compact_rev) {
        /* fallen below the compact revision: etcd cancels such a watch */
        err->compact_revision = compact_rev;
        return ZKERR(err, DC_ECOMPACTED,
                     "zk %s: watch fell behind compaction: revision %lld < compact revision %lld",
                     c->endpoint, (long long)rec->rev, (long long)compact_rev);
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
                dc_event_array_free(evs, nev);
                return ZKERR(err, DC_ENOMEM, "zk: out of memory");
            }
            evs = e;
            cap = nc;
        }
        if (zk_rec_event(rec, j, w->flags & DC_PREV_KV, &evs[nev])) {
            dc_event_array_free(evs, nev);
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

/* The follower ends member m (f->mu held): it never touches m's sink again. */
static void drop_member(zk_watch *f, zk_watch **link, zk_watch *m, int rc, const dc_drv_err *err)
{
    if (rc != DC_ECLOSED) f->c->host->watch_fail(m->sink, rc, err->compact_revision, err->msg);
    *link = m->mnext;
    m->mnext = NULL;
    m->member = 0;
}

/* Hand the records read to the watch (or, for the follower, to each member
 * under its mutex, so a joining or stopping watch sees a consistent floor)
 * and move the cursor past them. A watch's own error is returned; a member's
 * error ends only that member. */
static int dispatch(zk_watch *w, zk_rec *recs, size_t n, dc_drv_err *err)
{
    if (!w->follower) {
        for (size_t k = 0; k < n; k++) {
            int rc = hand(w, &recs[k], w->compact_rev, err);
            if (rc) return rc;
            w->seq++;
        }
        return DC_OK;
    }
    pthread_mutex_lock(&w->mu);
    for (size_t k = 0; k < n; k++) {
        for (zk_watch **link = &w->members; *link;) {
            zk_watch *m = *link;
            dc_drv_err merr = {{0}, 0};
            int rc = hand(m, &recs[k], w->compact_rev, &merr);
            if (rc)
                drop_member(w, link, m, rc, &merr);
            else
                link = &m->mnext;
        }
        w->next_rev = recs[k].rev + 1;
        w->seq++;
    }
    pthread_mutex_unlock(&w->mu);
    return DC_OK;
}

/* Deliver events of bucket b from seq on (listing names). Returns DC_OK, a
 * DC_E code, or DC_ECLOSED when the core no longer wants events. What was
 * read before a failed read is handed over first, so the cursor moves on. */
static int deliver(zk_watch *w, zhandle_t *zh, const char *bpath, int64_t *seqs, size_t n,
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
                    c->host->log(DC_LOG_ERROR, "zk", "zk %s: corrupt event record %s", c->endpoint,
                                 paths[i]);
                rrc = d == -2 ? ZKERR(&rerr, DC_ENOMEM, "zk: out of memory")
                              : ZKERR(&rerr, DC_ECORRUPT, "zk %s: corrupt event record %s",
                                      c->endpoint, paths[i]);
                break;
            }
            got++;
        }
        zk_batch_free(&b);
        rc = dispatch(w, recs, got, err);
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

static int step(zk_watch *w, zhandle_t *zh, dc_drv_err *err)
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
        int zrc = zoo_wget(zh, c->p_compact, on_watch, ctx, buf, &len, &st);
        if (zrc != ZOK || parse_num(buf, len, &crev)) {
            pthread_mutex_lock(&w->mu);
            w->compact_dirty = 1;
            pthread_mutex_unlock(&w->mu);
            return zrc != ZOK
                       ? zerr(c, zrc, "reading the compact revision", err)
                       : ZKERR(err, DC_ECORRUPT, "zk %s: corrupt compact revision", c->endpoint);
        }
        w->compact_rev = crev;
        len = sizeof buf - 1;
    }
    int zrc = zoo_wget(zh, c->p_ev, on_watch, ctx, buf, &len, &st);
    if (zrc == ZNONODE && zk_epoch_rc(c, zoo_exists(zh, c->epoch_path, 0, NULL), err) == DC_ERESET)
        return DC_ERESET; /* the layout went with the history */
    if (zrc != ZOK) return zerr(c, zrc, "reading the bucket pointer", err);
    int64_t ptr;
    if (parse_num(buf, len, &ptr))
        return ZKERR(err, DC_ECORRUPT, "zk %s: corrupt bucket pointer", c->endpoint);
    char bpath[512];
    zk_bucket_path(c, w->bucket, bpath, sizeof bpath);
    zk_batch lb;
    zk_batch_init(&lb);
    /* with the listing, whether the history is still ours: a wiped server's
     * new layout would otherwise look like a compaction, or go on silently */
    if (zk_batch_add(&lb, ZK_Q_CHILDREN, bpath) < 0 ||
        zk_batch_add(&lb, ZK_Q_EXISTS, c->epoch_path) < 0) {
        zk_batch_free(&lb);
        return ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    zk_batch_run(&lb, zh, 0);
    zk_slot *ls = &lb.slots[0];
    int erc = zk_epoch_rc(c, lb.slots[1].rc, err);
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
        return STEP_MORE;
    }
    char next[600];
    snprintf(next, sizeof next, "%s/e-%010lld", bpath, (long long)w->seq);
    zrc = zoo_wexists(zh, next, on_watch, ctx, &st);
    if (zrc == ZOK) return STEP_MORE;
    if (zrc == ZNONODE) return STEP_WAIT;
    return zerr(c, zrc, "watching the next event", err);
}

/* Hand watch w over to the connection's follower if it has caught up with
 * it: 1 if w is now a member (its own thread must end without touching its
 * sink again), 0 if it goes on by itself. A parked follower takes w's cursor. */
static int try_join(zk_watch *w)
{
    zk_watch *f = w->c->fol;
    if (!f) return 0;
    int ok = 0;
    pthread_mutex_lock(&f->mu);
    if (!f->stop && !f->anchored) {
        f->bucket = w->bucket;
        f->seq = w->seq;
        f->next_rev = w->next_rev;
        f->compact_rev = w->compact_rev;
        f->compact_dirty = 1;
        f->anchored = 1;
        f->kick = 1;
        ok = 1;
    } else if (!f->stop && w->next_rev >= f->next_rev) {
        ok = 1;
    }
    if (ok) {
        w->mnext = f->members;
        f->members = w;
        w->member = 1;
        pthread_cond_broadcast(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

/* The follower hit an error that ends its cursor: end every member with it. */
static void fail_members(zk_watch *f, int rc, const dc_drv_err *err)
{
    pthread_mutex_lock(&f->mu);
    while (f->members) drop_member(f, &f->members, f->members, rc, err);
    f->anchored = 0;
    pthread_mutex_unlock(&f->mu);
}

static void *watch_main(void *arg)
{
    zk_watch *w = arg;
    zk_conn *c = w->c;
    int attempt = 0;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        /* parked: the cursor goes stale, the next member re-anchors it */
        while (w->follower && !w->stop && !w->members) {
            w->anchored = 0;
            pthread_cond_wait(&w->cv, &w->mu);
        }
        int stop = w->stop;
        w->kick = 0;
        pthread_mutex_unlock(&w->mu);
        if (stop) break;
        if (c->debug_watch_delay_ms) dc_sleep_ms(c->debug_watch_delay_ms);
        uint64_t gen;
        dc_drv_err err = {{0}, 0};
        zhandle_t *zh = zk_acquire(c, &gen);
        int rc = step(w, zh, &err);
        int dead = rc == DC_EUNAVAILABLE && is_unrecoverable(zh) == ZINVALIDSTATE;
        zk_release(c);
        if ((rc == STEP_MORE || rc == STEP_WAIT) && !w->follower && try_join(w)) break;
        if (rc == STEP_MORE) {
            attempt = 0;
            continue;
        }
        if (rc == DC_ECLOSED) break;
        if (rc == DC_EUNAVAILABLE || rc == DC_ETIMEDOUT) {
            /* connection trouble: the cursor is safe, wait and go on */
            if (dead) {
                dc_drv_err e2 = {{0}, 0};
                zk_rebuild(c, gen, &e2);
            }
            pthread_mutex_lock(&w->mu);
            if (!w->stop)
                dc_cond_wait_until(&w->cv, &w->mu, dc_now_ms() + (attempt < 5 ? 100 : 500));
            pthread_mutex_unlock(&w->mu);
            attempt++;
            continue;
        }
        if (rc != STEP_WAIT) {
            if (!w->follower) {
                c->host->watch_fail(w->sink, rc, err.compact_revision, err.msg);
                break;
            }
            fail_members(w, rc, &err);
            continue;
        }
        attempt = 0;
        pthread_mutex_lock(&w->mu);
        int64_t deadline = dc_now_ms() + SAFETY_POLL_MS;
        while (!w->kick && !w->stop)
            if (dc_cond_wait_until(&w->cv, &w->mu, deadline) == ETIMEDOUT) break;
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

/* Place the cursor at the first event with revision >= start. */
static int position(zk_watch *w, zhandle_t *zh, dc_drv_err *err)
{
    zk_conn *c = w->c;
    int64_t crev;
    int rc = zk_compact_rev(c, zh, &crev, err);
    if (rc) return rc;
    if (w->start < crev) {
        err->compact_revision = crev;
        return ZKERR(err, DC_ECOMPACTED,
                     "zk %s: watch from revision %lld: compacted (compact revision %lld)",
                     c->endpoint, (long long)w->start, (long long)crev);
    }
    zk_batch lb;
    zk_batch_init(&lb);
    if (zk_batch_add(&lb, ZK_Q_CHILDREN, c->p_ev) < 0) {
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
        return k == 0 && bs && bp ? ZKERR(err, DC_ECORRUPT, "zk %s: no event buckets", c->endpoint)
                                  : ZKERR(err, DC_ENOMEM, "zk: out of memory");
    }
    qsort(bs, k, sizeof *bs, cmp_asc);
    zk_batch eb;
    zk_batch_init(&eb);
    for (size_t i = 0; i < k; i++) {
        zk_bucket_path(c, bs[i], bp[i], sizeof bp[i]);
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
        if (eb.slots[i].stat.czxid < w->start) w->bucket = bs[i];
    }
    zk_batch_free(&eb);
    free(bs);
    free(bp);
    if (rc) return rc == DC_ENOMEM ? ZKERR(err, DC_ENOMEM, "zk: out of memory") : rc;

    /* binary search the first event >= start (czxid grows with the sequence) */
    char bpath[512], ep[600];
    zk_bucket_path(c, w->bucket, bpath, sizeof bpath);
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
        if (st.czxid < w->start)
            lo = mid + 1;
        else
            hi = mid;
    }
    w->seq = lo;
    return DC_OK;
}

static zk_watch *watch_new(zk_conn *c, const char *key, size_t key_len)
{
    zk_watch *w = calloc(1, sizeof *w);
    if (!w || !(w->key = malloc(key_len + 1))) {
        free(w);
        return NULL;
    }
    if (key_len) memcpy(w->key, key, key_len);
    w->key[key_len] = '\0';
    w->key_len = key_len;
    w->c = c;
    w->compact_dirty = 1;
    pthread_mutex_init(&w->mu, NULL);
    dc_cond_init_monotonic(&w->cv);
    return w;
}

static void watch_free(zk_watch *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->key);
    free(w);
}

static void reg_add(zk_watch *w)
{
    pthread_mutex_lock(&reg_mu);
    w->id = reg_next++;
    w->next = reg_head;
    reg_head = w;
    pthread_mutex_unlock(&reg_mu);
}

static void reg_remove(zk_watch *w)
{
    pthread_mutex_lock(&reg_mu);
    for (zk_watch **p = &reg_head; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
}

/* End w's thread (if it has one) and wait for it. */
static void watch_join(zk_watch *w)
{
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    int started = w->started;
    pthread_mutex_unlock(&w->mu);
    if (started) pthread_join(w->th, NULL);
}

/* A watch from at or past the follower's floor joins it at once: every
 * record it needs is still ahead of the follower's cursor. */
static int join_at_once(zk_watch *w)
{
    zk_watch *f = w->c->fol;
    if (!f) return 0;
    pthread_mutex_lock(&f->mu);
    int ok = !f->stop && f->anchored && w->start >= f->next_rev;
    if (ok) {
        w->mnext = f->members;
        f->members = w;
        w->member = 1;
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

int zk_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                   dc_drv_err *err)
{
    zk_conn *c = conn;
    zk_watch *w = watch_new(c, req->key, req->key_len);
    if (!w) return ZKERR(err, DC_ENOMEM, "zk: out of memory starting a watch");
    w->flags = req->flags;
    w->start = req->start_revision;
    w->next_rev = w->start;
    w->sink = sink;
    int64_t deadline = dc_now_ms() + c->request_timeout_ms;
    int rc;
    /* history below the compact revision is gone whichever way the watch goes */
    for (int attempt = 0;; attempt++) {
        uint64_t gen;
        zhandle_t *zh = zk_acquire(c, &gen);
        /* the store's history first: a wiped server has no R/compact either */
        rc = zk_epoch_rc(c, zoo_exists(zh, c->epoch_path, 0, NULL), err);
        if (rc == DC_OK) rc = zk_compact_rev(c, zh, &w->compact_rev, err);
        zk_release(c);
        if (rc == DC_OK || !zk_recover(c, gen, rc, attempt, deadline)) break;
    }
    if (rc == DC_OK && w->start < w->compact_rev) {
        err->compact_revision = w->compact_rev;
        rc = ZKERR(err, DC_ECOMPACTED,
                   "zk %s: watch from revision %lld: compacted (compact revision %lld)",
                   c->endpoint, (long long)w->start, (long long)w->compact_rev);
    }
    if (rc == DC_OK && join_at_once(w)) {
        *handle = w;
        return DC_OK;
    }
    for (int attempt = 0; rc == DC_OK; attempt++) {
        uint64_t gen;
        zhandle_t *zh = zk_acquire(c, &gen);
        rc = position(w, zh, err);
        zk_release(c);
        if (rc == DC_OK || !zk_recover(c, gen, rc, attempt, deadline)) break;
        rc = DC_OK; /* recovered: try again */
    }
    if (rc == DC_OK) {
        reg_add(w);
        pthread_mutex_lock(&w->mu);
        w->started = pthread_create(&w->th, NULL, watch_main, w) == 0;
        pthread_mutex_unlock(&w->mu);
        if (!w->started) {
            zk_watch_stop(conn, w);
            return ZKERR(err, DC_ENOMEM, "zk: cannot start a watch thread");
        }
        *handle = w;
        return DC_OK;
    }
    watch_free(w);
    return rc;
}

void zk_watch_stop(void *conn, void *handle)
{
    zk_conn *c = conn;
    zk_watch *w = handle;
    reg_remove(w);
    /* its own thread first: once it has ended, w cannot join the follower */
    watch_join(w);
    zk_watch *f = c->fol;
    if (f) {
        /* after this the follower never pushes to w's sink again */
        pthread_mutex_lock(&f->mu);
        if (w->member)
            for (zk_watch **p = &f->members; *p; p = &(*p)->mnext)
                if (*p == w) {
                    *p = w->mnext;
                    break;
                }
        w->member = 0;
        pthread_mutex_unlock(&f->mu);
    }
    watch_free(w);
}

int zk_follower_start(zk_conn *c)
{
    zk_watch *f = watch_new(c, "", 0);
    if (!f) return -1;
    f->follower = 1;
    reg_add(f);
    c->fol = f;
    pthread_mutex_lock(&f->mu);
    f->started = pthread_create(&f->th, NULL, watch_main, f) == 0;
    pthread_mutex_unlock(&f->mu);
    if (!f->started) {
        zk_follower_stop(c);
        return -1;
    }
    return 0;
}

void zk_follower_stop(zk_conn *c)
{
    zk_watch *f = c->fol;
    if (!f) return;
    reg_remove(f);
    watch_join(f);
    c->fol = NULL;
    watch_free(f);
}
