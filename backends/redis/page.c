/*
 * Paged reads at a fixed revision (dc_get_page). Redis keeps only the
 * current value of each key, but every event in the log carries the key's
 * previous state, so the state at revision R is rebuilt (docs/DESIGN.md,
 * "Paged reads"): a key of the range unchanged since R is as it is now; a
 * key changed since R is as its first event after R says it was before
 * (absent if that event created it).
 *
 * A page is assembled from chunks. One chunk is read at one instant of the
 * server: the live keys of the range after a bound (at most a chunk of
 * them, with their values), the revision, the compact revision, and the
 * first event after R of every key of the range. In lua mode one no-writes
 * function call (ddlcoord2_page) does it; in multi mode the names are listed
 * first, then listed again with their hashes and the log inside one MULTI
 * (retried if the listing changed in between, as read.c does). The chunk is
 * merged in key order: live keys up to the last one listed (or the end of
 * the range when the listing was not cut), changed keys up to the same
 * point. Chunks at different instants still agree, because each rebuilds
 * the same revision R. Reading goes on until the page is full and one more
 * key of R is known to exist (more = 1), or the range ends (more = 0).
 *
 * The log is read from R on at every chunk; past RD_PAGE_MAX_EVENTS events
 * since R the read gives up with DC_ECOMPACTED (the caller starts again from
 * revision 0, as after a compaction), which bounds the work of one call on
 * the server.
 */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define RD_PAGE_MAX_EVENTS 20000

/* A key's state at R as one chunk says. */
typedef struct rd_state {
    dc_kv kv;   /* key always set; value/metadata when exists */
    int exists; /* changed keys: existed at R; live keys: 1 */
    size_t seq; /* changed keys: position in the log (the first change wins) */
} rd_state;

typedef struct rd_chunk {
    int64_t cur, compact, at;
    int truncated; /* the listing was cut at `chunk` keys */
    int too_long;
    rd_state *live;
    size_t n_live;
    rd_state *changed; /* key order */
    size_t n_changed;
} rd_chunk;

typedef struct page_arg {
    const dc_page_req *req;
    const char *after;
    size_t after_len;
    int64_t at; /* 0 until the first chunk named it */
    int64_t chunk;
    rd_chunk *out;
} page_arg;

static void states_free(rd_state *s, size_t n)
{
    for (size_t i = 0; i < n; i++) dc__kv_clear(&s[i].kv);
    free(s);
}

static void chunk_clear(rd_chunk *c)
{
    states_free(c->live, c->n_live);
    states_free(c->changed, c->n_changed);
    memset(c, 0, sizeof *c);
}

static int state_cmp(const void *a, const void *b)
{
    const rd_state *x = a, *y = b;
    return dc__key_cmp(x->kv.key, x->kv.key_len, y->kv.key, y->kv.key_len);
}

static int in_range(const dc_page_req *req, const char *after, size_t after_len, const char *key,
                    size_t len)
{
    return dc__key_has_prefix(key, len, req->prefix, req->prefix_len) &&
           (!after_len || dc__key_cmp(key, len, after, after_len) > 0);
}

/* Add the first change of a key (events come oldest first: later ones of the
 * same key are skipped by the sort-and-dedup in finish_changed). */
static int add_changed(rd_chunk *c, size_t *cap, const dc_event *ev)
{
    if (c->n_changed == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        rd_state *a = realloc(c->changed, nc * sizeof *a);
        if (!a) return -1;
        c->changed = a;
        *cap = nc;
    }
    rd_state *st = &c->changed[c->n_changed];
    memset(st, 0, sizeof *st);
    st->seq = c->n_changed;
    if (ev->prev_kv) {
        if (dc__kv_copy(&st->kv, ev->prev_kv)) return -1;
        st->exists = 1;
    } else if (dc__kv_set(&st->kv, ev->kv.key, ev->kv.key_len, NULL, 0)) {
        return -1;
    }
    c->n_changed++;
    return 0;
}

/* Sort the changed keys and keep the first change of each (ties are broken
 * by position in the log). */
static int pos_cmp(const void *a, const void *b)
{
    int r = state_cmp(a, b);
    if (r) return r;
    const rd_state *x = a, *y = b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static void finish_changed(rd_chunk *c)
{
    if (!c->n_changed) return;
    qsort(c->changed, c->n_changed, sizeof *c->changed, pos_cmp);
    size_t u = 0;
    for (size_t i = 0; i < c->n_changed; i++) {
        if (u && state_cmp(&c->changed[u - 1], &c->changed[i]) == 0) {
            dc__kv_clear(&c->changed[i].kv);
            continue;
        }
        c->changed[u++] = c->changed[i];
    }
    c->n_changed = u;
}

/* ------------------------------------------------------------ lua mode */

static int states_from_flat(const redisReply *arr, size_t width, rd_state **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (arr->type != REDIS_REPLY_ARRAY || arr->elements % width) return -1;
    size_t cnt = arr->elements / width;
    if (!cnt) return 0;
    rd_state *a = calloc(cnt, sizeof *a);
    if (!a) return -2;
    for (size_t i = 0; i < cnt; i++) {
        redisReply **f = arr->element + i * width;
        int rc;
        if (width == 6) { /* key v c m ver lease */
            rc = rd_kv_from_flat(&a[i].kv, f);
            a[i].exists = 1;
        } else { /* key existed v c m ver lease */
            int64_t ex = 0;
            rc = rd_int(f[1], &ex) ? -1 : 0;
            if (!rc) {
                redisReply *g[6] = {f[0], f[2], f[3], f[4], f[5], f[6]};
                rc = rd_kv_from_flat(&a[i].kv, g);
                a[i].exists = ex != 0;
                a[i].seq = i;
            }
        }
        if (rc) {
            states_free(a, i);
            return rc;
        }
    }
    *out = a;
    *n = cnt;
    return 0;
}

static int chunk_lua(rd_store *s, redisContext *ctx, void *arg, dc_drv_err *err)
{
    page_arg *p = arg;
    rd_chunk *c = p->out;
    rd_cmd cmd;
    rd_cmd_init(&cmd);
    rd_script_cmd(s, &cmd, "page", 1);
    rd_cmd_add(&cmd, p->req->prefix, p->req->prefix_len);
    rd_cmd_add(&cmd, p->after ? p->after : "", p->after_len);
    rd_cmd_int(&cmd, p->at);
    rd_cmd_int(&cmd, p->chunk);
    rd_cmd_str(&cmd, p->req->flags & DC_KEYS_ONLY ? "1" : "0");
    rd_cmd_int(&cmd, RD_PAGE_MAX_EVENTS);
    redisReply *r;
    int rc = rd_script_call(s, ctx, &cmd, &r, err);
    rd_cmd_free(&cmd);
    if (rc != DC_OK) return rc;
    int64_t trunc = 0, too_long = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        rc = rd_reply_retryable(s, r) ? RD_AGAIN : rd_reply_error(s, r, "page", err);
    } else if (r->type != REDIS_REPLY_ARRAY || r->elements != 7 || rd_int(r->element[0], &c->cur) ||
               rd_int(r->element[1], &c->compact) || rd_int(r->element[2], &c->at) ||
               rd_int(r->element[3], &trunc) || rd_int(r->element[6], &too_long)) {
        rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: unexpected reply from ddlcoord2_page");
    } else {
        int k = states_from_flat(r->element[4], 6, &c->live, &c->n_live);
        if (!k) k = states_from_flat(r->element[5], 7, &c->changed, &c->n_changed);
        if (k)
            rc = k == -2 ? rd_err(err, DC_ENOMEM, s, "out of memory")
                         : rd_err(err, DC_ECORRUPT, s, "corrupt data: a page from ddlcoord2_page");
        c->truncated = trunc != 0;
        c->too_long = too_long != 0;
        if (!rc) finish_changed(c);
    }
    freeReplyObject(r);
    if (rc != DC_OK) chunk_clear(c);
    return rc;
}

/* ------------------------------------------------------------ multi mode */

static void add_listing(rd_cmd *c, const rd_store *s, const dc_buf *lo, const dc_buf *hi,
                        int64_t chunk)
{
    rd_cmd_str(c, "ZRANGEBYLEX");
    rd_cmd_key(c, s, "idx", NULL, 0);
    rd_cmd_add(c, lo->p, lo->len);
    rd_cmd_add(c, hi->p, hi->len);
    rd_cmd_str(c, "LIMIT");
    rd_cmd_str(c, "0");
    rd_cmd_int(c, chunk);
}

static int chunk_multi(rd_store *s, redisContext *ctx, void *arg, dc_drv_err *err)
{
    page_arg *p = arg;
    rd_chunk *c = p->out;
    const dc_page_req *req = p->req;
    dc_buf lo = DC_BUF_INIT, hi = DC_BUF_INIT;
    int bad = rd_bounds(req->prefix, req->prefix_len, &lo, &hi);
    if (!bad && p->after_len) {
        dc__buf_reset(&lo);
        bad = dc__buf_puts(&lo, "(") || dc__buf_append(&lo, p->after, p->after_len);
    }
    redisReply *first = NULL, **r = NULL;
    rd_cmd *cs = NULL;
    size_t nc = 0;
    int rc = bad ? rd_err(err, DC_ENOMEM, s, "out of memory") : DC_OK;
    if (rc == DC_OK) {
        rd_cmd c0;
        rd_cmd_init(&c0);
        add_listing(&c0, s, &lo, &hi, p->chunk);
        rc = rd_pipeline(s, ctx, &c0, 1, &first, err);
        rd_cmd_free(&c0);
        if (rc == DC_OK && first->type != REDIS_REPLY_ARRAY)
            rc = rd_reply_retryable(s, first) ? RD_AGAIN : rd_reply_error(s, first, "page", err);
    }
    size_t names = rc == DC_OK ? first->elements : 0;
    int with_log = p->at > 0;
    if (rc == DC_OK) {
        nc = 6 + names + (size_t)with_log + 1;
        cs = calloc(nc, sizeof *cs);
        r = calloc(nc, sizeof *r);
        if (!cs || !r) rc = rd_err(err, DC_ENOMEM, s, "out of memory");
    }
    if (rc == DC_OK) {
        size_t k = 0;
        rd_cmd_str(&cs[k++], "MULTI");
        const char *gets[] = {"epoch", "rev", "compact"};
        for (int i = 0; i < 3; i++) {
            rd_cmd_str(&cs[k], "GET");
            rd_cmd_key(&cs[k++], s, gets[i], NULL, 0);
        }
        add_listing(&cs[k++], s, &lo, &hi, p->chunk);
        const char *fields[] = {"v", "c", "m", "ver", "lease"};
        for (size_t i = 0; i < names; i++) {
            rd_cmd_str(&cs[k], "HMGET");
            rd_cmd_key(&cs[k], s, "kv:", first->element[i]->str, first->element[i]->len);
            for (int f = 0; f < 5; f++) rd_cmd_str(&cs[k], fields[f]);
            k++;
        }
        if (with_log) {
            char from[48];
            snprintf(from, sizeof from, "%lld-0", (long long)p->at + 1);
            rd_cmd_str(&cs[k], "XRANGE");
            rd_cmd_key(&cs[k], s, "log", NULL, 0);
            rd_cmd_str(&cs[k], from);
            rd_cmd_str(&cs[k], "+");
            rd_cmd_str(&cs[k], "COUNT");
            rd_cmd_int(&cs[k++], RD_PAGE_MAX_EVENTS + 1);
        }
        rd_cmd_str(&cs[k++], "EXEC");
        nc = k;
        rc = rd_pipeline(s, ctx, cs, nc, r, err);
    }
    const redisReply *x = rc == DC_OK ? r[nc - 1] : NULL;
    size_t want = 4 + names + (size_t)with_log;
    if (rc == DC_OK && (x->type != REDIS_REPLY_ARRAY || x->elements != want))
        rc = x->type == REDIS_REPLY_ERROR && rd_reply_retryable(s, x)
                 ? RD_AGAIN
                 : rd_err(err, DC_ECORRUPT, s, "corrupt data: unexpected EXEC reply");
    for (size_t i = 0; rc == DC_OK && i < x->elements; i++)
        if (x->element[i]->type == REDIS_REPLY_ERROR)
            rc = rd_reply_retryable(s, x->element[i])
                     ? RD_AGAIN
                     : rd_reply_error(s, x->element[i], "page", err);
    if (rc == DC_OK) rc = rd_epoch_check(s, x->element[0], err);
    if (rc == DC_OK) {
        c->cur = c->compact = 0;
        if (rd_int(x->element[1], &c->cur) < 0 || rd_int(x->element[2], &c->compact) < 0)
            rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: the revision keys are not numbers");
        if (c->cur < 1) c->cur = 1;
        c->at = p->at ? p->at : c->cur;
    }
    if (rc == DC_OK && !rd_same_strings(first, x->element[3])) rc = RD_AGAIN; /* moved: again */
    if (rc == DC_OK && names && !(c->live = calloc(names, sizeof *c->live)))
        rc = rd_err(err, DC_ENOMEM, s, "out of memory");
    for (size_t i = 0; rc == DC_OK && i < names; i++) {
        dc_kv kv = {0};
        int got = rd_hash_to_kv(x->element[4 + i], &kv);
        if (got <= 0) {
            rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: %s",
                        got ? "a key's hash has bad fields" : "the index lists a key without data");
            break;
        }
        int keys_only = (req->flags & DC_KEYS_ONLY) != 0;
        rd_state *st = &c->live[c->n_live];
        st->kv = kv;
        if (dc__kv_set(&st->kv, first->element[i]->str, first->element[i]->len,
                       keys_only ? NULL : kv.value, keys_only ? 0 : kv.value_len)) {
            rc = rd_err(err, DC_ENOMEM, s, "out of memory");
            break;
        }
        st->exists = 1;
        c->n_live++;
    }
    c->truncated = (int64_t)names >= p->chunk;
    if (rc == DC_OK && with_log && c->at <= c->cur && c->at >= c->compact) {
        const redisReply *log = x->element[4 + names];
        if (log->type != REDIS_REPLY_ARRAY)
            rc = rd_err(err, DC_ECORRUPT, s, "corrupt data: the log");
        c->too_long = rc == DC_OK && log->elements > RD_PAGE_MAX_EVENTS;
        size_t cap = 0;
        for (size_t i = 0; rc == DC_OK && !c->too_long && i < log->elements; i++) {
            dc_event ev;
            int64_t rev, seq, n;
            int d = rd_entry_to_event(log->element[i], &ev, &rev, &seq, &n);
            if (d) {
                rc = d == -2 ? rd_err(err, DC_ENOMEM, s, "out of memory")
                             : rd_err(err, DC_ECORRUPT, s, "corrupt data: an event of the log");
                break;
            }
            if (in_range(req, p->after, p->after_len, ev.kv.key, ev.kv.key_len) &&
                add_changed(c, &cap, &ev))
                rc = rd_err(err, DC_ENOMEM, s, "out of memory");
            dc__event_clear(&ev);
        }
        if (rc == DC_OK) finish_changed(c);
    }
    if (rc != DC_OK) chunk_clear(c);
    if (first) freeReplyObject(first);
    if (r) rd_replies_free(r, nc);
    for (size_t i = 0; cs && i < nc; i++) rd_cmd_free(&cs[i]);
    free(cs);
    free(r);
    dc__buf_free(&lo);
    dc__buf_free(&hi);
    return rc;
}

/* ------------------------------------------------------------ the page */

/* Append a copy of kv to out (growing its array). 0 or -1. */
static int emit(dc_kvs *out, size_t *cap, const dc_kv *kv)
{
    if (out->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        dc_kv *a = realloc(out->kvs, nc * sizeof *a);
        if (!a) return -1;
        out->kvs = a;
        *cap = nc;
    }
    if (dc__kv_copy(&out->kvs[out->n], kv)) return -1;
    out->n++;
    return 0;
}

int rd_get_page(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err)
{
    rd_store *s = conn;
    rd_fn fetch = s->mode == RD_MODE_LUA ? chunk_lua : chunk_multi;
    page_arg p = {.req = req,
                  .after = req->after,
                  .after_len = req->after_len,
                  .at = req->revision,
                  .chunk = req->limit < 1000 ? req->limit + 1 : 1000};
    char *bound = NULL; /* owns the moving lower bound after the first chunk */
    size_t cap = 0;
    int rc = DC_OK, full = 0;
    for (;;) {
        rd_chunk c = {0};
        p.out = &c;
        rc = rd_retrying(s, fetch, &p, err);
        if (rc != DC_OK) break;
        if (c.at > c.cur) {
            rc = rd_err(err, DC_EINVAL, s, "revision %lld is in the future (current %lld)",
                        (long long)c.at, (long long)c.cur);
        } else if (c.at < c.compact) {
            err->compact_revision = c.compact;
            rc = rd_err(err, DC_ECOMPACTED, s,
                        "revision %lld has been compacted (compact revision %lld)", (long long)c.at,
                        (long long)c.compact);
        } else if (c.too_long) {
            err->compact_revision = c.cur;
            rc = rd_err(err, DC_ECOMPACTED, s,
                        "more than %d writes since revision %lld: too much history to rebuild "
                        "it; read again from the current revision",
                        RD_PAGE_MAX_EVENTS, (long long)c.at);
        }
        if (rc != DC_OK) {
            chunk_clear(&c);
            break;
        }
        p.at = out->revision = c.at;
        rd_note_rev(s, c.cur);
        /* merge live and changed keys up to the end of what was listed */
        const rd_state *end = c.truncated && c.n_live ? &c.live[c.n_live - 1] : NULL;
        size_t i = 0, j = 0;
        while (rc == DC_OK && (i < c.n_live || j < c.n_changed)) {
            if (j < c.n_changed && end && state_cmp(&c.changed[j], end) > 0) j = c.n_changed;
            if (i == c.n_live && j == c.n_changed) break;
            int cmp = i == c.n_live      ? 1
                      : j == c.n_changed ? -1
                                         : state_cmp(&c.live[i], &c.changed[j]);
            const rd_state *st = cmp < 0 ? &c.live[i] : &c.changed[j];
            if (cmp < 0) {
                i++;
            } else {
                j++;
                if (cmp == 0) i++;
            }
            if (!st->exists) continue;
            if (full) { /* one more key exists at the revision */
                out->more = 1;
                break;
            }
            if (emit(out, &cap, &st->kv)) rc = rd_err(err, DC_ENOMEM, s, "out of memory");
            if ((int64_t)out->n == req->limit) full = 1;
        }
        int again = rc == DC_OK && !out->more && c.truncated && c.n_live;
        if (again) { /* the range goes on after the last key listed */
            free(bound);
            const dc_kv *last = &c.live[c.n_live - 1].kv;
            bound = malloc(last->key_len + 1);
            if (!bound) {
                rc = rd_err(err, DC_ENOMEM, s, "out of memory");
                again = 0;
            } else {
                memcpy(bound, last->key, last->key_len);
                p.after = bound;
                p.after_len = last->key_len;
            }
        }
        chunk_clear(&c);
        if (!again) break;
    }
    free(bound);
    if (rc != DC_OK) {
        dc__kvs_clear(out);
        return rc;
    }
    out->count = (int64_t)out->n;
    return DC_OK;
}
