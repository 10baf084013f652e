/*
 * Watches. One "pump" per store: a thread with its own connection blocking
 * in XREAD on the event log from the last revision it read (never "$"), and
 * the list of the store's watches, each with the next revision it needs.
 * Every whole revision read is handed to each watch that needs it, filtered
 * by key/prefix and type on the client (streams cannot filter by key).
 *
 * A new watch that starts at or below what the pump has already read makes
 * the pump rewind to its start; watches that are further along skip what
 * they already have, so nothing is delivered twice. The pump is woken from
 * its XREAD with CLIENT UNBLOCK (or, if ACLs forbid it, by shutting its
 * socket down, which also serves to stop it).
 *
 * Revisions are dense and each revision's entries are <rev>-0 … <rev>-(n-1)
 * (field n), so the pump checks the sequence itself: a hole means the log was
 * trimmed under it, and every watch that needed the missing revisions ends
 * with DC_ECOMPACTED carrying {P}compact. A batch that ends inside a
 * revision is completed by reading on before anything is delivered. After a
 * connection loss (a server restart, say) the pump reconnects and resumes
 * from the last revision it read; with appendfsync always, the AOF holds
 * every acknowledged write, so nothing is lost or repeated.
 *
 * Every XREAD is pipelined with a GET of the store's epoch (guard.c), which
 * the server runs right after the XREAD returns: a batch is delivered only
 * if the epoch is still the one the handle opened with. Otherwise the store
 * lost its data (after a FLUSHALL the stream starts again at revision 2,
 * below the pump's position, so XREAD would wait in silence until the new
 * history overtook the old one, then deliver it as if nothing had happened)
 * and every watch ends with DC_ERESET.
 */
#include "redis.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "kv.h"

typedef struct rd_watch {
    struct rd_watch *next;
    dc_watch_sink *sink;
    char *key;
    size_t key_len;
    unsigned flags;
    int64_t next_rev; /* first revision it still needs */
    int dead;
} rd_watch;

struct rd_pump {
    rd_store *s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    rd_watch *watches;
    int stopping;
    int64_t pos;         /* last revision read completely */
    int64_t rewind;      /* >= 0: a new watch needs pos lowered to this */
    int in_read;         /* the pump is (about to be) blocked in XREAD */
    int fd;              /* its socket, for shutdown() (valid while in_read) */
    long long client_id; /* for CLIENT UNBLOCK; 0 if unknown */
    /* the revision being assembled from several XREAD batches */
    dc_event *part;
    size_t n_part, cap_part;
    int64_t part_rev, part_n, last_seq;
};

static void part_clear(rd_pump *p)
{
    dc__event_array_free(p->part, p->n_part);
    p->part = NULL;
    p->n_part = p->cap_part = 0;
    p->part_rev = p->part_n = 0;
    p->last_seq = -1;
}

static int match(const rd_watch *w, const dc_event *ev)
{
    return dc__event_wanted(w->flags, w->key, w->key_len, ev->type, ev->kv.key, ev->kv.key_len);
}

static int copy_event(dc_event *d, const dc_event *e, int prev)
{
    memset(d, 0, sizeof *d);
    d->type = e->type;
    if (dc__kv_copy(&d->kv, &e->kv)) return -1;
    if (prev && e->prev_kv && !(d->prev_kv = dc__kv_dup(e->prev_kv))) {
        dc__kv_clear(&d->kv);
        return -1;
    }
    return 0;
}

static void fail_watch(rd_pump *p, rd_watch *w, int code, int64_t compact, const char *msg)
{
    w->dead = 1;
    p->s->host->watch_fail(w->sink, code, compact, msg);
}

/* Hand the complete revisions in evs[0..n) (ascending) to every watch that
 * needs them. mu held. */
static void dispatch(rd_pump *p, const dc_event *evs, size_t n)
{
    if (!n) return;
    int64_t top = evs[n - 1].kv.mod_revision;
    rd_note_rev(p->s, top);
    for (rd_watch *w = p->watches; w; w = w->next) {
        if (w->dead || w->next_rev > top) continue;
        int64_t from = w->next_rev;
        w->next_rev = top + 1;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += evs[i].kv.mod_revision >= from && match(w, &evs[i]);
        if (!k) continue;
        dc_event *out = calloc(k, sizeof *out);
        size_t j = 0;
        for (size_t i = 0; out && i < n; i++) {
            if (evs[i].kv.mod_revision < from || !match(w, &evs[i])) continue;
            if (copy_event(&out[j], &evs[i], w->flags & DC_PREV_KV)) {
                dc__event_array_free(out, j);
                out = NULL;
                break;
            }
            j++;
        }
        if (!out) {
            fail_watch(p, w, DC_ENOMEM, 0, "redis: out of memory delivering watch events");
            continue;
        }
        if (p->s->host->watch_push(w->sink, out, j) != DC_OK) w->dead = 1;
    }
}

/* A hole in the log before revision `upto`: every watch that needed a
 * revision below it ends with DC_ECOMPACTED. mu held; ctx is the pump's. */
static void hole(rd_pump *p, redisContext *ctx, int64_t upto)
{
    rd_store *s = p->s;
    int64_t compact = 0;
    redisReply *r = NULL;
    rd_cmd c;
    rd_cmd_init(&c);
    rd_cmd_str(&c, "GET");
    rd_cmd_key(&c, s, "compact", NULL, 0);
    dc_drv_err err = {{0}, 0};
    if (rd_pipeline(s, ctx, &c, 1, &r, &err) == DC_OK) {
        if (rd_int(r, &compact) < 0) compact = 0;
        freeReplyObject(r);
    }
    rd_cmd_free(&c);
    if (compact < upto) compact = upto; /* the oldest revision we can still deliver */
    char msg[512];
    snprintf(msg, sizeof msg, "%s: watch: history before revision %lld is gone (compacted)",
             s->endpoint, (long long)compact);
    for (rd_watch *w = p->watches; w; w = w->next)
        if (!w->dead && w->next_rev < upto) fail_watch(p, w, DC_ECOMPACTED, compact, msg);
}

static int part_add(rd_pump *p, dc_event *ev)
{
    if (p->n_part == p->cap_part) {
        size_t cap = p->cap_part ? p->cap_part * 2 : 8;
        dc_event *a = realloc(p->part, cap * sizeof *a);
        if (!a) return -1;
        p->part = a;
        p->cap_part = cap;
    }
    p->part[p->n_part++] = *ev;
    return 0;
}

/* Feed the entries of one XREAD reply through the sequence check, delivering
 * each revision as soon as it is complete. mu held. Returns 0, or -1 when
 * the pump must reconnect (no memory, corrupt entry). */
static int process(rd_pump *p, redisContext *ctx, const redisReply *entries)
{
    rd_store *s = p->s;
    for (size_t i = 0; i < entries->elements; i++) {
        dc_event ev;
        int64_t rev, seq, n;
        int rc = rd_entry_to_event(entries->element[i], &ev, &rev, &seq, &n);
        if (rc == -2) return -1;
        if (rc) {
            s->host->log(DC_LOG_ERROR, "redis", "%s: watch: corrupt log entry after revision %lld",
                         s->endpoint, (long long)p->pos);
            hole(p, ctx, p->pos + 2);
            p->pos++;
            part_clear(p);
            continue;
        }
        if (rev <= p->pos) { /* already read (cannot happen with exclusive IDs) */
            dc__event_clear(&ev);
            continue;
        }
        int in_seq = p->n_part ? rev == p->part_rev && seq == p->last_seq + 1
                               : seq == 0 && rev == (p->pos > 1 ? p->pos : 1) + 1;
        if (!in_seq) {
            /* the log was trimmed under us: skip to the next whole revision */
            part_clear(p);
            hole(p, ctx, seq == 0 ? rev : rev + 1);
            if (seq != 0) {
                p->pos = rev;
                dc__event_clear(&ev);
                continue;
            }
            p->pos = rev - 1;
        }
        if (!p->n_part) {
            p->part_rev = rev;
            p->part_n = n;
        }
        if (n != p->part_n || part_add(p, &ev)) {
            dc__event_clear(&ev);
            if (n != p->part_n) {
                hole(p, ctx, rev + 1);
                p->pos = rev;
                part_clear(p);
                continue;
            }
            return -1;
        }
        p->last_seq = seq;
        if ((int64_t)p->n_part == p->part_n) {
            dispatch(p, p->part, p->n_part);
            p->pos = rev;
            part_clear(p);
        }
    }
    return 0;
}

/* Everything the pump read is stale once a rewind is pending. mu held. */
static int apply_rewind(rd_pump *p)
{
    if (p->rewind < 0) return 0;
    p->pos = p->rewind;
    p->rewind = -1;
    part_clear(p);
    return 1;
}

static int any_live(const rd_pump *p)
{
    for (const rd_watch *w = p->watches; w; w = w->next)
        if (!w->dead) return 1;
    return 0;
}

static void *pump_main(void *arg)
{
    rd_pump *p = arg;
    rd_store *s = p->s;
    redisContext *ctx = NULL;
    int failures = 0;
    rd_block_sigpipe();
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        apply_rewind(p);
        if (!any_live(p)) {
            dc__cond_wait_until(&p->cv, &p->mu, -1);
            continue;
        }
        if (!ctx) {
            pthread_mutex_unlock(&p->mu);
            dc_drv_err err = {{0}, 0};
            int rc = rd_connect(s, &ctx, RD_WATCH_BLOCK_MS + s->request_timeout_ms, &err);
            long long id = 0;
            if (rc == DC_OK) {
                redisReply *r = redisCommand(ctx, "CLIENT ID");
                if (r && r->type == REDIS_REPLY_INTEGER) id = r->integer;
                if (r) freeReplyObject(r);
                if (ctx->err) rc = DC_EUNAVAILABLE;
            }
            pthread_mutex_lock(&p->mu);
            if (rc != DC_OK) {
                if (ctx) redisFree(ctx);
                ctx = NULL;
                if (failures++ == 0)
                    s->host->log(DC_LOG_WARN, "redis", "watch: %s; retrying", err.msg);
                int64_t wait = failures < 10 ? 50 * failures : 1000;
                dc__cond_wait_until(&p->cv, &p->mu, dc__now_ms() + wait);
                continue;
            }
            if (failures)
                s->host->log(DC_LOG_INFO, "redis",
                             "%s: watch: reconnected, resuming after "
                             "revision %lld",
                             s->endpoint, (long long)p->pos);
            failures = 0;
            p->client_id = id;
            part_clear(p);
        }
        char id[48];
        int partial = p->n_part > 0;
        if (partial)
            snprintf(id, sizeof id, "%lld-%lld", (long long)p->part_rev, (long long)p->last_seq);
        else
            snprintf(id, sizeof id, "%lld-18446744073709551615", (long long)p->pos);
        rd_cmd c;
        rd_cmd_init(&c);
        rd_cmd_str(&c, "XREAD");
        rd_cmd_str(&c, "COUNT");
        rd_cmd_int(&c, RD_READ_BATCH);
        if (!partial) {
            /* the rest of a partial revision is already there: no blocking */
            rd_cmd_str(&c, "BLOCK");
            rd_cmd_int(&c, RD_WATCH_BLOCK_MS);
        }
        rd_cmd_str(&c, "STREAMS");
        rd_cmd_key(&c, s, "log", NULL, 0);
        rd_cmd_str(&c, id);
        rd_cmd ce, cr; /* run by the server right after the XREAD returns */
        rd_cmd_init(&ce);
        rd_cmd_str(&ce, "GET");
        rd_cmd_key(&ce, s, "epoch", NULL, 0);
        rd_cmd_init(&cr);
        rd_cmd_str(&cr, "GET");
        rd_cmd_key(&cr, s, "rev", NULL, 0);
        rd_cmd cs[3] = {c, ce, cr};
        int64_t floor = atomic_load(&s->last_rev);
        p->in_read = 1;
        p->fd = ctx->fd;
        pthread_mutex_unlock(&p->mu);
        redisReply *rr[3] = {NULL, NULL, NULL};
        dc_drv_err err = {{0}, 0};
        int rc = rd_pipeline(s, ctx, cs, 3, rr, &err);
        rd_cmd_free(&c);
        rd_cmd_free(&ce);
        rd_cmd_free(&cr);
        redisReply *r = rr[0];
        pthread_mutex_lock(&p->mu);
        p->in_read = 0;
        if (rc != DC_OK) {
            redisFree(ctx);
            ctx = NULL;
            if (!p->stopping && failures++ == 0)
                s->host->log(DC_LOG_WARN, "redis", "watch: %s; reconnecting", err.msg);
            continue;
        }
        int erc = rd_epoch_check(s, rr[1], &err);
        int64_t now = 1;
        if (erc == DC_OK && rd_int(rr[2], &now) >= 0) erc = rd_floor_check(s, now, floor, &err);
        freeReplyObject(rr[1]);
        freeReplyObject(rr[2]);
        if (erc != DC_OK) {
            freeReplyObject(r); /* unchecked: read again from the same position */
            if (erc == DC_ERESET) {
                for (rd_watch *w = p->watches; w; w = w->next)
                    if (!w->dead) fail_watch(p, w, DC_ERESET, 0, err.msg);
                continue; /* no live watch is left: the pump parks */
            }
            dc__cond_wait_until(&p->cv, &p->mu, dc__now_ms() + 50);
            continue;
        }
        if (apply_rewind(p) || p->stopping) {
            freeReplyObject(r);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            int retry = rd_reply_retryable(s, r);
            rd_reply_error(s, r, "watch: XREAD", &err);
            freeReplyObject(r);
            if (!retry && strstr(err.msg, "NOPERM")) {
                for (rd_watch *w = p->watches; w; w = w->next)
                    if (!w->dead) fail_watch(p, w, DC_EAUTH, 0, err.msg);
                continue;
            }
            if (!retry) s->host->log(DC_LOG_WARN, "redis", "%s", err.msg);
            dc__cond_wait_until(&p->cv, &p->mu, dc__now_ms() + (retry ? 50 : 1000));
            continue;
        }
        int bad = 0;
        if (r->type == REDIS_REPLY_ARRAY) {
            for (size_t i = 0; i < r->elements && !bad; i++) {
                const redisReply *st = r->element[i];
                if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 ||
                    st->element[1]->type != REDIS_REPLY_ARRAY)
                    continue;
                bad = process(p, ctx, st->element[1]);
            }
        } else if (partial) {
            part_clear(p); /* its rest vanished (trimmed): the next read finds the hole */
        }
        freeReplyObject(r);
        if (bad) {
            s->host->log(DC_LOG_ERROR, "redis", "%s: watch: out of memory, reconnecting",
                         s->endpoint);
            redisFree(ctx);
            ctx = NULL;
            dc__cond_wait_until(&p->cv, &p->mu, dc__now_ms() + 100);
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (ctx) redisFree(ctx);
    return NULL;
}

/* Get the pump out of its XREAD so that it sees a rewind or a stop. */
static void wake(rd_pump *p)
{
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&p->mu);
        int pending = p->rewind >= 0 || p->stopping;
        int in = p->in_read;
        long long id = p->client_id;
        pthread_mutex_unlock(&p->mu);
        if (!pending || !in) return; /* it will look before its next read */
        int done = 0, denied = id <= 0;
        if (!denied) {
            redisContext *ctx;
            dc_drv_err err = {{0}, 0};
            if (rd_borrow(p->s, &ctx, &err) == DC_OK) {
                redisReply *r = redisCommand(ctx, "CLIENT UNBLOCK %lld", id);
                if (r && r->type == REDIS_REPLY_INTEGER)
                    done = r->integer == 1;
                else
                    denied = 1;
                if (r) freeReplyObject(r);
                rd_return(p->s, ctx, !r);
            } else {
                denied = 1;
            }
        }
        if (done) return;
        if (denied) {
            /* no CLIENT UNBLOCK: cut the connection; the pump reconnects */
            pthread_mutex_lock(&p->mu);
            if (p->in_read) shutdown(p->fd, SHUT_RDWR);
            pthread_mutex_unlock(&p->mu);
            return;
        }
        dc__sleep_ms(1); /* the XREAD is not blocked yet: try again */
    }
}

static int read_compact(rd_store *s, redisContext *ctx, void *a, dc_drv_err *err)
{
    rd_cmd c[2];
    rd_cmd_init(&c[0]);
    rd_cmd_init(&c[1]);
    rd_cmd_str(&c[0], "GET");
    rd_cmd_key(&c[0], s, "compact", NULL, 0);
    rd_cmd_str(&c[1], "GET");
    rd_cmd_key(&c[1], s, "epoch", NULL, 0);
    redisReply *r[2];
    int rc = rd_pipeline(s, ctx, c, 2, r, err);
    rd_cmd_free(&c[0]);
    rd_cmd_free(&c[1]);
    if (rc != DC_OK) return rc;
    int64_t v = 0;
    if (r[0]->type == REDIS_REPLY_ERROR)
        rc = rd_reply_retryable(s, r[0]) ? RD_AGAIN : rd_reply_error(s, r[0], "watch", err);
    else if ((rc = rd_epoch_check(s, r[1], err)) == DC_OK && rd_int(r[0], &v) < 0)
        rc = rd_err(err, DC_ECORRUPT, s, "the compact revision is not a number");
    *(int64_t *)a = v;
    rd_replies_free(r, 2);
    return rc;
}

static rd_pump *pump_get(rd_store *s, dc_drv_err *err)
{
    pthread_mutex_lock(&s->pump_mu);
    rd_pump *p = s->pump;
    if (!p && (p = calloc(1, sizeof *p)) != NULL) {
        p->s = s;
        p->rewind = -1;
        p->last_seq = -1;
        pthread_mutex_init(&p->mu, NULL);
        dc__cond_init_monotonic(&p->cv);
        if (pthread_create(&p->thread, NULL, pump_main, p) != 0) {
            pthread_mutex_destroy(&p->mu);
            pthread_cond_destroy(&p->cv);
            free(p);
            p = NULL;
        } else {
            s->pump = p;
        }
    }
    pthread_mutex_unlock(&s->pump_mu);
    if (!p) rd_err(err, DC_ENOMEM, s, "cannot start the watch thread");
    return p;
}

int rd_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                   dc_drv_err *err)
{
    rd_store *s = conn;
    int64_t compact = 0;
    int rc = rd_retrying(s, read_compact, &compact, err);
    if (rc != DC_OK) return rc;
    if (compact && req->start_revision < compact) {
        err->compact_revision = compact;
        return rd_err(err, DC_ECOMPACTED, s,
                      "watch from revision %lld: compacted (compact "
                      "revision %lld)",
                      (long long)req->start_revision, (long long)compact);
    }
    rd_watch *w = calloc(1, sizeof *w);
    if (w) w->key = malloc(req->key_len + 1);
    rd_pump *p = w && w->key ? pump_get(s, err) : NULL;
    if (!p) {
        if (w) free(w->key);
        free(w);
        return err->msg[0] ? DC_ENOMEM : rd_err(err, DC_ENOMEM, s, "out of memory");
    }
    if (req->key_len) memcpy(w->key, req->key, req->key_len);
    w->key[req->key_len] = '\0';
    w->key_len = req->key_len;
    w->flags = req->flags;
    w->sink = sink;
    w->next_rev = req->start_revision;
    pthread_mutex_lock(&p->mu);
    int64_t want = req->start_revision - 1;
    int kick = 0;
    if (!any_live(p)) {
        p->rewind = want; /* nobody else reads: jump straight to the start */
        kick = 1;
    } else if (want < (p->rewind >= 0 ? p->rewind : p->pos)) {
        p->rewind = want;
        kick = 1;
    }
    w->next = p->watches;
    p->watches = w;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (kick) wake(p);
    *handle = w;
    return DC_OK;
}

void rd_watch_stop(void *conn, void *handle)
{
    rd_store *s = conn;
    rd_watch *w = handle;
    rd_pump *p = s->pump;
    pthread_mutex_lock(&p->mu);
    for (rd_watch **pp = &p->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    pthread_mutex_unlock(&p->mu);
    free(w->key);
    free(w);
}

void rd_pump_free(rd_store *s)
{
    rd_pump *p = s->pump;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    if (p->in_read) shutdown(p->fd, SHUT_RDWR);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    while (p->watches) {
        rd_watch *w = p->watches;
        p->watches = w->next;
        free(w->key);
        free(w);
    }
    part_clear(p);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
    s->pump = NULL;
}
