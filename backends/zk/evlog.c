/*
 * The event log: the history that ZooKeeper does not keep.
 *
 * Every write multi appends one PERSISTENT_SEQUENTIAL znode (a record of the
 * txn's changes with their previous values, codec.c) to the current bucket
 * R/ev/bNNNNNNNNNN, so its czxid is the txn's revision. Every write also
 * checks the version of the bucket pointer R/ev; a rollover (create bucket
 * N+1 and move the pointer, in one multi) therefore makes every later write
 * land in N+1, so all events of bucket N precede all events of N+1, and a
 * bucket whose pointer has moved on is sealed. A bucket holds only event
 * znodes, so their sequence numbers are dense (0, 1, 2, ...): a missing
 * number is a gap that only compaction can cause.
 *
 * Compaction is logical and physical: R/compact records the requested
 * revision (watches from below it end with "compacted", exactly as on etcd),
 * then whole buckets whose events all precede it are deleted, in multis of
 * at most 1000 deletes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "zk.h"
#include "zk_batch.h"
#include "zk_codec.h"
#include "zk_conn.h"
#include "zk_evlog.h"
#include "zk_layout.h"
#include "zk_session.h"

void zk_evlog_init(zk_conn *c)
{
    pthread_mutex_init(&c->ptr_mu, NULL);
    c->ptr_version = -1;
}

void zk_evlog_fini(zk_conn *c)
{
    pthread_mutex_destroy(&c->ptr_mu);
}

static int parse_i64(const char *s, int len, int64_t *out)
{
    if (len <= 0 || len > 20) return -1;
    char tmp[24];
    memcpy(tmp, s, (size_t)len);
    tmp[len] = '\0';
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end || v < 0) return -1;
    *out = v;
    return 0;
}

void zk_ptr_invalidate(zk_conn *c)
{
    pthread_mutex_lock(&c->ptr_mu);
    c->ptr_version = -1;
    pthread_mutex_unlock(&c->ptr_mu);
}

int zk_ptr_get(zk_conn *c, zhandle_t *zh, int refresh, int64_t *bucket, int *version)
{
    if (!refresh) {
        pthread_mutex_lock(&c->ptr_mu);
        int ok = c->ptr_version >= 0;
        *bucket = c->ptr_bucket;
        *version = c->ptr_version;
        pthread_mutex_unlock(&c->ptr_mu);
        if (ok) return ZOK;
    }
    char buf[32];
    int len = sizeof buf - 1;
    struct Stat st;
    int zrc = zoo_get(zh, c->lay.p_ev, 0, buf, &len, &st);
    if (zrc != ZOK) return zrc;
    int64_t b;
    if (parse_i64(buf, len, &b)) {
        c->host->log(DC_LOG_ERROR, "zk", "zk %s: corrupt bucket pointer in %s", c->cfg.endpoint,
                     c->lay.p_ev);
        return ZMARSHALLINGERROR;
    }
    pthread_mutex_lock(&c->ptr_mu);
    if (st.version >= c->ptr_version) {
        c->ptr_bucket = b;
        c->ptr_version = st.version;
    }
    pthread_mutex_unlock(&c->ptr_mu);
    *bucket = b;
    *version = st.version;
    return ZOK;
}

void zk_maybe_rollover(zk_conn *c, zhandle_t *zh, int64_t b, int64_t seq)
{
    if (seq < c->cfg.bucket_size - 1) return;
    int64_t cb;
    int ver;
    if (zk_ptr_get(c, zh, 0, &cb, &ver) != ZOK || cb != b) return;
    char next[512], data[24];
    zk_bucket_path(&c->lay, b + 1, next, sizeof next);
    int dl = snprintf(data, sizeof data, "%lld", (long long)(b + 1));
    zoo_op_t ops[2];
    zoo_op_result_t res[2];
    zoo_create_op_init(&ops[0], next, "", 0, zk_acl(&c->cfg), ZOO_PERSISTENT, NULL, 0);
    struct Stat st;
    zoo_set_op_init(&ops[1], c->lay.p_ev, data, dl, ver, &st);
    int zrc = zoo_multi(zh, 2, ops, res);
    pthread_mutex_lock(&c->ptr_mu);
    if (zrc == ZOK && st.version > c->ptr_version) {
        c->ptr_bucket = b + 1;
        c->ptr_version = st.version;
    } else if (zrc != ZOK) {
        c->ptr_version = -1; /* somebody else rolled over: re-read next time */
    }
    pthread_mutex_unlock(&c->ptr_mu);
}

/* Sequence numbers of the event names of a bucket listing, descending. */
static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int64_t *event_seqs(const zk_slot *s, size_t *n)
{
    int64_t *v = malloc((s->n_names ? (size_t)s->n_names : 1) * sizeof *v);
    if (!v) return NULL;
    size_t k = 0;
    for (int i = 0; i < s->n_names; i++) {
        const char *nm = s->names[i];
        int64_t q;
        if (strncmp(nm, "e-", 2) == 0 && !parse_i64(nm + 2, (int)strlen(nm + 2), &q)) v[k++] = q;
    }
    qsort(v, k, sizeof *v, cmp_desc);
    *n = k;
    return v;
}

void zk_recs_free(zk_rec *recs, size_t n)
{
    for (size_t i = 0; i < n; i++) zk_rec_clear(&recs[i]);
    free(recs);
}

#define CHUNK 64

/* Walk bucket b from its newest event down, decoding records with rev > lo.
 * Calls visit(rec) for each (ownership passes when visit returns 1); stops
 * when visit returns -1 or a record with rev <= lo is seen (*reached_lo).
 * Returns ZOK or a ZooKeeper error (ZNONODE: bucket or event gone). */
static int walk_bucket(zk_conn *c, zhandle_t *zh, int64_t b, int64_t lo, int64_t *bucket_czxid,
                       int *reached_lo, int (*visit)(zk_rec *, void *), void *arg)
{
    char bpath[512];
    zk_bucket_path(&c->lay, b, bpath, sizeof bpath);
    zk_batch lb;
    zk_batch_init(&lb);
    if (zk_batch_add(&lb, ZK_Q_CHILDREN, bpath) < 0) {
        zk_batch_free(&lb);
        return ZSYSTEMERROR;
    }
    zk_batch_run(&lb, zh, 0);
    int zrc = lb.slots[0].rc;
    *bucket_czxid = lb.slots[0].stat.czxid;
    size_t ns = 0;
    int64_t *seqs = zrc == ZOK ? event_seqs(&lb.slots[0], &ns) : NULL;
    zk_batch_free(&lb);
    if (zrc != ZOK) return zrc;
    if (!seqs) return ZSYSTEMERROR;
    *reached_lo = 0;
    char(*paths)[560] = malloc(CHUNK * sizeof *paths);
    if (!paths) {
        free(seqs);
        return ZSYSTEMERROR;
    }
    for (size_t at = 0; at < ns && zrc == ZOK && !*reached_lo; at += CHUNK) {
        size_t m = ns - at < CHUNK ? ns - at : CHUNK;
        zk_batch qb;
        zk_batch_init(&qb);
        for (size_t i = 0; i < m; i++) {
            snprintf(paths[i], sizeof paths[i], "%s/e-%010lld", bpath, (long long)seqs[at + i]);
            if (zk_batch_add(&qb, ZK_Q_GET, paths[i]) < 0) zrc = ZSYSTEMERROR;
        }
        if (zrc == ZOK) zk_batch_run(&qb, zh, 0);
        for (size_t i = 0; zrc == ZOK && i < m; i++) {
            zk_slot *s = &qb.slots[i];
            if (s->rc != ZOK) {
                zrc = s->rc;
                break;
            }
            if (s->stat.czxid <= lo) {
                *reached_lo = 1;
                break;
            }
            zk_rec rec;
            int d = zk_rec_decode(s->data, s->len, s->stat.czxid, &rec);
            if (d == -2) {
                zrc = ZSYSTEMERROR;
                break;
            }
            if (d) {
                c->host->log(DC_LOG_ERROR, "zk", "zk %s: corrupt event record %s", c->cfg.endpoint,
                             paths[i]);
                zrc = ZMARSHALLINGERROR;
                break;
            }
            int v = visit(&rec, arg);
            if (v != 1) zk_rec_clear(&rec);
            if (v < 0) {
                *reached_lo = 1;
                break;
            }
        }
        zk_batch_free(&qb);
    }
    free(paths);
    free(seqs);
    return zrc;
}

typedef struct range_acc {
    int64_t hi;
    zk_rec *recs;
    size_t n, cap;
} range_acc;

static int range_visit(zk_rec *rec, void *arg)
{
    range_acc *a = arg;
    if (rec->rev > a->hi) return 0;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        zk_rec *r = realloc(a->recs, cap * sizeof *r);
        if (!r) return -1;
        a->recs = r;
        a->cap = cap;
    }
    a->recs[a->n++] = *rec;
    return 1;
}

int zk_log_range(zk_conn *c, zhandle_t *zh, int64_t lo, int64_t hi, zk_rec **recs, size_t *n,
                 dc_drv_err *err)
{
    *recs = NULL;
    *n = 0;
    int64_t b;
    int ver;
    int zrc = zk_ptr_get(c, zh, 1, &b, &ver);
    range_acc a = {hi, NULL, 0, 0};
    for (; zrc == ZOK && b >= 0; b--) {
        int64_t czxid = 0;
        int reached = 0;
        zrc = walk_bucket(c, zh, b, lo, &czxid, &reached, range_visit, &a);
        if (zrc != ZOK || reached || czxid <= lo) break;
    }
    if (zrc == ZNONODE || (zrc == ZOK && b < 0)) {
        zk_recs_free(a.recs, a.n);
        return ZKERR(err, DC_ECOMPACTED, "zk %s: events (%lld, %lld] were compacted away",
                     c->cfg.endpoint, (long long)lo, (long long)hi);
    }
    if (zrc != ZOK) {
        zk_recs_free(a.recs, a.n);
        return ZKERR(err, zrc == ZMARSHALLINGERROR ? DC_ECORRUPT : zk_map_rc(zrc),
                     "zk %s: reading the event log: %s", c->cfg.endpoint, zerror(zrc));
    }
    /* collected newest first: reverse */
    for (size_t i = 0; i < a.n / 2; i++) {
        zk_rec t = a.recs[i];
        a.recs[i] = a.recs[a.n - 1 - i];
        a.recs[a.n - 1 - i] = t;
    }
    *recs = a.recs;
    *n = a.n;
    return DC_OK;
}

typedef struct token_acc {
    const unsigned char *token;
    int64_t rev;
} token_acc;

static int token_visit(zk_rec *rec, void *arg)
{
    token_acc *a = arg;
    if (memcmp(rec->token, a->token, ZK_TOKEN_LEN) != 0) return 0;
    a->rev = rec->rev;
    return -1;
}

int zk_log_find_token(zk_conn *c, zhandle_t *zh, int64_t b, int64_t lo,
                      const unsigned char token[ZK_TOKEN_LEN], int64_t *rev)
{
    token_acc a = {token, 0};
    int64_t czxid;
    int reached = 0;
    int zrc = walk_bucket(c, zh, b, lo, &czxid, &reached, token_visit, &a);
    if (zrc != ZOK) return zrc == ZNONODE ? DC_EUNKNOWN : zk_map_rc(zrc);
    if (a.rev) {
        *rev = a.rev;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ compaction */

int zk_compact_rev(zk_conn *c, zhandle_t *zh, int64_t *rev, dc_drv_err *err)
{
    char buf[32];
    int len = sizeof buf - 1;
    struct Stat st;
    int zrc = zoo_get(zh, c->lay.p_compact, 0, buf, &len, &st);
    if (zrc != ZOK)
        return ZKERR(err, zk_map_rc(zrc), "zk %s: reading %s: %s", c->cfg.endpoint,
                     c->lay.p_compact, zerror(zrc));
    if (parse_i64(buf, len, rev))
        return ZKERR(err, DC_ECORRUPT, "zk %s: corrupt compact revision in %s", c->cfg.endpoint,
                     c->lay.p_compact);
    return DC_OK;
}

static int delete_bucket(zk_conn *c, zhandle_t *zh, int64_t b)
{
    char bpath[512];
    zk_bucket_path(&c->lay, b, bpath, sizeof bpath);
    zk_batch lb;
    zk_batch_init(&lb);
    if (zk_batch_add(&lb, ZK_Q_CHILDREN, bpath) < 0) {
        zk_batch_free(&lb);
        return ZSYSTEMERROR;
    }
    zk_batch_run(&lb, zh, 0);
    zk_slot *s = &lb.slots[0];
    int zrc = s->rc;
    enum { MAXOPS = 1000 };
    zoo_op_t *ops = zrc == ZOK ? calloc(MAXOPS, sizeof *ops) : NULL;
    zoo_op_result_t *res = ops ? calloc(MAXOPS, sizeof *res) : NULL;
    char(*paths)[560] = res ? malloc(MAXOPS * sizeof *paths) : NULL;
    if (zrc == ZOK && !paths) zrc = ZSYSTEMERROR;
    for (int at = 0; zrc == ZOK && at < s->n_names; at += MAXOPS) {
        int m = s->n_names - at < MAXOPS ? s->n_names - at : MAXOPS;
        for (int i = 0; i < m; i++) {
            snprintf(paths[i], sizeof paths[i], "%s/%s", bpath, s->names[at + i]);
            zoo_delete_op_init(&ops[i], paths[i], -1);
        }
        zrc = zoo_multi(zh, m, ops, res);
        if (zrc == ZNONODE) zrc = ZOK; /* a concurrent compaction got there first */
    }
    if (zrc == ZOK) {
        zrc = zoo_delete(zh, bpath, -1);
        if (zrc == ZNONODE) zrc = ZOK;
    }
    free(paths);
    free(res);
    free(ops);
    zk_batch_free(&lb);
    return zrc;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int zk_compact(void *conn, int64_t revision, dc_drv_err *err)
{
    zk_conn *c = conn;
    uint64_t gen;
    zhandle_t *zh = zk_acquire(&c->s, &gen);
    int rc = DC_OK;
    struct Stat st;
    int zrc = zoo_exists(zh, c->lay.p_rev, 0, &st);
    if (zrc != ZOK) {
        rc = ZKERR(err, zk_map_rc(zrc), "zk %s: compact: %s", c->cfg.endpoint, zerror(zrc));
        goto out;
    }
    if (revision > st.mzxid) {
        rc =
            ZKERR(err, DC_EINVAL, "zk %s: cannot compact at %lld: a future revision (current %lld)",
                  c->cfg.endpoint, (long long)revision, (long long)st.mzxid);
        goto out;
    }
    /* publish the compact revision first, so no watch starts below it */
    for (;;) {
        char buf[32];
        int len = sizeof buf - 1;
        struct Stat cs;
        int64_t cur;
        zrc = zoo_get(zh, c->lay.p_compact, 0, buf, &len, &cs);
        if (zrc != ZOK) {
            rc = ZKERR(err, zk_map_rc(zrc), "zk %s: compact: %s", c->cfg.endpoint, zerror(zrc));
            goto out;
        }
        if (parse_i64(buf, len, &cur)) {
            rc = ZKERR(err, DC_ECORRUPT, "zk %s: corrupt compact revision", c->cfg.endpoint);
            goto out;
        }
        if (revision <= cur) {
            err->compact_revision = cur;
            rc = ZKERR(err, DC_ECOMPACTED,
                       "zk %s: revision %lld already compacted (compact revision %lld)",
                       c->cfg.endpoint, (long long)revision, (long long)cur);
            goto out;
        }
        len = snprintf(buf, sizeof buf, "%lld", (long long)revision);
        zrc = zoo_set(zh, c->lay.p_compact, buf, len, cs.version);
        if (zrc == ZOK) break;
        if (zrc != ZBADVERSION) {
            rc = ZKERR(err, zk_map_rc(zrc), "zk %s: compact: %s", c->cfg.endpoint, zerror(zrc));
            goto out;
        }
    }
    /* then drop every whole bucket whose events all precede the revision:
     * bucket b's events precede the creation of bucket b+1 */
    int64_t ptr;
    int ver;
    zrc = zk_ptr_get(c, zh, 1, &ptr, &ver);
    zk_batch lb;
    zk_batch_init(&lb);
    if (zrc == ZOK && zk_batch_add(&lb, ZK_Q_CHILDREN, c->lay.p_ev) >= 0) {
        zk_batch_run(&lb, zh, 0);
        zrc = lb.slots[0].rc;
    }
    int64_t *bs = NULL;
    size_t nb = 0;
    if (zrc == ZOK && lb.n) {
        bs = malloc(((size_t)lb.slots[0].n_names + 1) * sizeof *bs);
        for (int i = 0; bs && i < lb.slots[0].n_names; i++) {
            const char *nm = lb.slots[0].names[i];
            int64_t v;
            if (nm[0] == 'b' && !parse_i64(nm + 1, (int)strlen(nm + 1), &v)) bs[nb++] = v;
        }
        if (!bs) zrc = ZSYSTEMERROR;
    }
    zk_batch_free(&lb);
    if (bs) qsort(bs, nb, sizeof *bs, cmp_i64);
    for (size_t i = 0; zrc == ZOK && i + 1 < nb && bs[i] < ptr; i++) {
        char next[512];
        zk_bucket_path(&c->lay, bs[i + 1], next, sizeof next);
        struct Stat ns;
        zrc = zoo_exists(zh, next, 0, &ns);
        if (zrc != ZOK || ns.czxid > revision) break;
        zrc = delete_bucket(c, zh, bs[i]);
    }
    free(bs);
    if (zrc != ZOK && zrc != ZNONODE)
        c->host->log(DC_LOG_WARN, "zk",
                     "zk %s: compacted at %lld, but deleting old buckets failed (%s); the next "
                     "compaction retries",
                     c->cfg.endpoint, (long long)revision, zerror(zrc));
out:
    zk_release(&c->s);
    return rc;
}
