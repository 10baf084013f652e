/*
 * Watch groups: one Watch stream that serves many watches.
 *
 * Why: libcurl 7.88 visits every transfer of a connection when that
 * connection's socket has news, and each visit costs a poll(2); with a
 * thousand watch streams on one connection an event paid a thousand
 * syscalls (30 ms here, against 0.8 ms with one watch). etcd itself is
 * happy to carry many watches on one stream (clientv3 puts all of its
 * watches on one), but adding a watch to an open stream means sending on
 * it, and libcurl 7.88's HTTP/2 uploads of unknown length are buggy. So:
 *
 * - dc_watch_open gets a stream of its own, as before (watch.c), so it
 *   returns as soon as etcd created the watch;
 * - once GROUP_MIN watches have streams of their own, the loop forms a
 *   group: one new stream whose body is a create request per member, each
 *   from the member's next revision and with watch_id = its slot + 1, sent
 *   whole and half-closed like any watch stream;
 * - as etcd confirms each member ("created"), the member moves over: its
 *   old stream (its own, or an older group's slot) is let go, and events
 *   the group replays below the member's next revision are skipped, so
 *   nothing is lost or repeated across the move;
 * - groups merge like an LSM tree: a new group also takes in every group
 *   that is not bigger than what it collected so far, so a handle keeps
 *   few groups (logarithmic in its watches) and few streams;
 * - a member that stops just leaves its slot (its server-side watcher goes
 *   with the stream); a group without members closes; a group whose stream
 *   ends reconnects its members from their next revisions, as one watch
 *   does (backoff, next endpoint if it never worked, token refresh).
 *
 * Everything here runs on the loop thread. libcurl forbids removing a
 * transfer from inside its callbacks, so streams let go while a group's
 * data is being read are removed by a job that runs right after (sweep).
 */
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define GROUP_MIN 8

struct etcd_wgroup {
    etcd_conn *c;
    etcd_stream *s;
    etcd_watch **m; /* by slot (watch_id - 1); NULL: left */
    size_t n;
    size_t live;         /* members it serves (w->g == this) */
    size_t joining;      /* members still moving in (w->joining == this) */
    size_t next_created; /* slot of the next create answer (they come in order) */
    size_t ep;
    int forming;     /* it is the group being formed */
    int taken;       /* being taken into the group being formed */
    int created_any; /* a member was created on the current stream */
    int reauth_tried, wait_token;
    size_t failures;
    long backoff_ms;
    int64_t retry_at; /* -1: not waiting to reconnect */
    struct etcd_wgroup *next;
};
typedef struct etcd_wgroup wgroup;

static void forming_done(wgroup *g)
{
    if (!g->forming) return;
    g->forming = 0;
    g->c->group_forming = 0;
    g->c->group_due = 1; /* watches may have piled up meanwhile */
}

/* Unlink and free g (no member left; never from inside a curl callback). */
static void group_free(wgroup *g)
{
    etcd_conn *c = g->c;
    for (wgroup **p = &c->groups; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    forming_done(g);
    etcd_loop_remove(c, g->s);
    etcd_stream_free(g->s);
    free(g->m);
    free(g);
}

/* The sweep job: let go of what callbacks could not. */
static void sweep(etcd_conn *c, etcd_job *j)
{
    (void)j;
    for (etcd_watch *w = c->watches; w; w = w->next_all)
        if (w->g && w->s->in_multi) etcd_loop_remove(c, w->s); /* its old own stream */
    for (wgroup *g = c->groups, *next; g; g = next) {
        next = g->next;
        if (!g->live && !g->joining) group_free(g);
    }
}

static void post_sweep(etcd_conn *c)
{
    c->sweep_job.run = sweep;
    etcd_loop_post(c, &c->sweep_job);
}

/* The joining member in slot i has been created in g: move it over. */
static void move_in(wgroup *g, size_t i)
{
    etcd_watch *w = g->m[i];
    wgroup *old = w->g;
    if (old) {
        old->m[w->gid] = NULL;
        old->live--;
    }
    /* Its own stream, if it had one running, is removed by the sweep. */
    w->g = g;
    w->gid = i;
    w->joining = NULL;
    w->created = 1;
    g->live++;
    g->joining--;
    if (!g->joining) forming_done(g);
    post_sweep(g->c);
}

/* Drop slot i of g (the member is gone or did not make it in). */
static void drop_slot(wgroup *g, size_t i)
{
    etcd_watch *w = g->m[i];
    if (!w) return;
    g->m[i] = NULL;
    if (w->joining == g) {
        w->joining = NULL;
        if (!--g->joining) forming_done(g);
    } else if (w->g == g) {
        w->g = NULL;
        g->live--;
    }
}

/* One WatchResponse on g's stream. Returns 0, or 1 to close the stream. */
static int group_handle(wgroup *g, const Etcdpb__WatchResponse *r)
{
    etcd_conn *c = g->c;
    /* Create answers come in request order; a refused create may carry
     * watch_id -1 instead of ours. */
    size_t i = r->watch_id >= 1 ? (size_t)(r->watch_id - 1) : g->next_created;
    if (r->created) g->next_created = i + 1;
    if (i >= g->n) {
        c->host->log(DC_LOG_ERROR, "etcd", "%s: watch group: answer for unknown watch id %lld",
                     c->label, (long long)r->watch_id);
        return 0;
    }
    etcd_watch *w = g->m[i];
    if (!w) return 0; /* it left */
    if (w->joining == g) {
        if (r->canceled) {
            /* It could not move (token, compaction since): it keeps its
             * old stream, which will tell it what is wrong. */
            drop_slot(g, i);
            if (!g->live && !g->joining) return 1;
            return 0;
        }
        if (r->created) move_in(g, i);
        return 0;
    }
    if (w->g != g) return 0;
    if (r->created) {
        g->created_any = 1;
        g->reauth_tried = 0;
        g->failures = 0;
        g->backoff_ms = 50;
    }
    int hr = etcd_watch_handle(w, r, 1);
    if (hr == WH_NEED_TOKEN) {
        if (!g->reauth_tried) {
            g->reauth_tried = 1;
            g->wait_token = 1;
            etcd_auth_want(c, g->s->token_gen);
            return 1;
        }
        char msg[512];
        snprintf(msg, sizeof msg, "%s: watch canceled by the server: %s", c->label,
                 r->cancel_reason ? r->cancel_reason : "token refused");
        etcd_watch_end(w, DC_EAUTH, 0, msg);
        hr = WH_ENDED;
    }
    if (hr == WH_ENDED) {
        drop_slot(g, i);
        if (!g->live && !g->joining) return 1;
    }
    return 0;
}

static int group_on_data(etcd_stream *s)
{
    wgroup *g = s->owner;
    etcd_conn *c = g->c;
    const uint8_t *p = (const uint8_t *)s->resp.p;
    size_t used = 0;
    int stop = 0;
    while (!stop) {
        size_t off, len;
        int r = etcd_grpc_next(p + used, s->resp.len - used, ETCD_MAX_MESSAGE, &off, &len);
        if (r == 0) break;
        if (r < 0) {
            c->host->log(DC_LOG_ERROR, "etcd", "%s: watch group: malformed gRPC frame", c->label);
            return 1; /* reconnect; every member resumes where it was */
        }
        etcd_alloc al;
        etcd_alloc_init(&al);
        Etcdpb__WatchResponse *m = etcdpb__watch_response__unpack(&al.a, len, p + used + off);
        used += off + len;
        if (!m) {
            if (!al.failed)
                c->host->log(DC_LOG_ERROR, "etcd",
                             "%s: watch group: a message is not valid "
                             "protobuf",
                             c->label);
            return 1;
        }
        stop = group_handle(g, m);
        etcdpb__watch_response__free_unpacked(m, NULL);
    }
    if (stop) return 1;
    if (used) {
        memmove(s->resp.p, s->resp.p + used, s->resp.len - used);
        s->resp.len -= used;
    }
    return 0;
}

static void group_on_end(etcd_stream *s)
{
    wgroup *g = s->owner;
    etcd_conn *c = g->c;
    /* Members still joining stay where they were. */
    for (size_t i = 0; i < g->n; i++)
        if (g->m[i] && g->m[i]->joining == g) drop_slot(g, i);
    if (!g->live) {
        group_free(g);
        return;
    }
    if (!c->tls && !s->prior_knowledge && s->result == CURLE_OK &&
        (s->http_version == CURL_HTTP_VERSION_1_0 || s->http_version == CURL_HTTP_VERSION_1_1)) {
        s->force_pk = 1; /* see loop.c */
        g->retry_at = dc__now_ms();
        return;
    }
    if (g->created_any)
        c->host->log(DC_LOG_INFO, "etcd", "%s: stream of a group of %zu watches at %s ended (%s)",
                     c->label, g->live, c->endpoints[g->ep],
                     s->result != CURLE_OK ? curl_easy_strerror(s->result) : "by the server");
    else if (!g->wait_token && ++g->failures)
        g->ep = (g->ep + 1) % c->n_endpoints;
    g->created_any = 0;
    if (g->wait_token) {
        g->retry_at = INT64_MAX;
        return;
    }
    g->retry_at = dc__now_ms() + g->backoff_ms;
    if (g->backoff_ms < 1000) g->backoff_ms *= 2;
}

/* Open g's stream: a create request per occupied slot. */
static void group_connect(wgroup *g)
{
    etcd_conn *c = g->c;
    dc_buf b = DC_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < g->n && rc == 0; i++)
        if (g->m[i]) rc = etcd_watch_frame_create(g->m[i], (int64_t)i + 1, &b);
    if (rc != 0) dc__buf_free(&b);
    g->next_created = 0;
    g->created_any = 0;
    g->retry_at = -1;
    if (rc != 0 ||
        etcd_stream_prepare(g->s, g->ep, "/etcdserverpb.Watch/Watch", (uint8_t *)b.p, b.len,
                            ETCD_READ, 0) != DC_OK ||
        etcd_loop_add(c, g->s) != 0) {
        /* Out of memory: try again in a second rather than end every member. */
        c->host->log(DC_LOG_WARN, "etcd", "%s: cannot open a watch group's stream; retrying",
                     c->label);
        g->retry_at = dc__now_ms() + 1000;
    }
}

/* A new group of cap slots, or NULL without memory. */
static wgroup *group_new(etcd_conn *c, size_t cap)
{
    wgroup *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->c = c;
    g->m = calloc(cap, sizeof *g->m);
    g->s = etcd_stream_new(c);
    if (!g->m || !g->s) {
        free(g->m);
        etcd_stream_free(g->s);
        free(g);
        return NULL;
    }
    g->s->owner = g;
    g->s->on_data = group_on_data;
    g->s->on_end = group_on_end;
    g->backoff_ms = 50;
    g->retry_at = -1;
    g->ep = atomic_load(&c->preferred) % c->n_endpoints;
    return g;
}

static int ready_single(const etcd_watch *w)
{
    return w->sink && !w->g && !w->joining && w->created && !w->ended && !w->stopped &&
           w->s->in_multi;
}

void etcd_group_consolidate(etcd_conn *c)
{
    c->group_due = 0;
    if (c->group_forming) return; /* forming_done asks again */
    size_t k = 0, total = 0;
    for (etcd_watch *w = c->watches; w; w = w->next_all) {
        total++;
        k += ready_single(w);
    }
    if (k < GROUP_MIN) return;
    /* Take in groups, smallest first, while they are not bigger than what
     * is collected so far. Few groups: a quadratic pick is fine. */
    size_t take = k;
    for (;;) {
        wgroup *best = NULL;
        for (wgroup *g = c->groups; g; g = g->next)
            if (g->live && !g->forming && !g->taken && g->retry_at < 0 && g->live <= take &&
                (!best || g->live < best->live))
                best = g;
        if (!best) break;
        take += best->live;
        best->taken = 1;
    }
    wgroup *ng = group_new(c, take);
    if (!ng) {
        for (wgroup *g = c->groups; g; g = g->next) g->taken = 0;
        return;
    }
    size_t n = 0;
    for (etcd_watch *w = c->watches; w && n < take; w = w->next_all) {
        int in_taken = w->g && w->g->taken && !w->ended && !w->joining;
        if (!ready_single(w) && !in_taken) continue;
        w->joining = ng;
        w->jid = n;
        ng->m[n++] = w;
    }
    for (wgroup *g = c->groups; g; g = g->next) g->taken = 0;
    ng->n = n;
    ng->joining = n;
    ng->forming = 1;
    c->group_forming = 1;
    ng->next = c->groups;
    c->groups = ng;
    c->host->log(DC_LOG_DEBUG, "etcd", "%s: forming a stream for %zu of %zu watches", c->label, n,
                 total);
    group_connect(ng);
}

long etcd_group_tick(etcd_conn *c, int64_t now)
{
    int64_t next = INT64_MAX;
    for (wgroup *g = c->groups; g; g = g->next) {
        if (g->retry_at < 0) continue;
        if (g->retry_at <= now) {
            /* Reconnect its members only, in fresh slots. */
            size_t n = 0;
            for (size_t i = 0; i < g->n; i++)
                if (g->m[i] && g->m[i]->g == g) {
                    g->m[n] = g->m[i];
                    g->m[n]->gid = n;
                    n++;
                }
            g->n = n;
            group_connect(g);
            if (g->retry_at >= 0 && g->retry_at < next) next = g->retry_at;
        } else if (g->retry_at < next) {
            next = g->retry_at;
        }
    }
    if (next == INT64_MAX) return -1;
    return next <= now ? 0 : (long)(next - now);
}

void etcd_group_leave(etcd_watch *w)
{
    wgroup *gs[2] = {w->joining, w->g};
    size_t slots[2] = {w->jid, w->gid};
    for (int k = 0; k < 2; k++) {
        wgroup *g = gs[k];
        if (!g) continue;
        drop_slot(g, slots[k]);
        if (!g->live && !g->joining) group_free(g); /* a job: outside callbacks */
    }
}

void etcd_group_token_ready(etcd_conn *c, int64_t now)
{
    for (wgroup *g = c->groups; g; g = g->next)
        if (g->wait_token) {
            g->wait_token = 0;
            g->retry_at = now;
        }
}

void etcd_group_free_all(etcd_conn *c)
{
    while (c->groups) group_free(c->groups);
}
