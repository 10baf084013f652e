/*
 * Watches: one gRPC Watch stream per watch, multiplexed with everything
 * else on the handle's HTTP/2 connection and driven by its loop thread.
 *
 * Watch is a bidirectional stream in gRPC. We send a single framed
 * WatchRequest (a create request with start_revision and progress_notify)
 * as the whole body and half-close: etcd reads the create request, then the
 * end of the requests, and keeps streaming WatchResponses on the open half.
 * No bidirectional upload, so none of libcurl 7.88's HTTP/2 upload bugs. A
 * watch is cancelled by resetting its stream (removing its transfer), which
 * costs the other streams nothing.
 *
 * Each WatchResponse holds whole revisions (we never ask for fragments), so
 * its events go to the core as one batch; an event's revision is its
 * kv.mod_revision, not the header's.
 *
 * Resumption: the watch remembers the next revision it needs: the last
 * event's revision + 1. Progress notifications (progress_notify) keep an
 * idle stream's bytes flowing but do not move that point: with etcd 3.4.23
 * a watch resumed from a progress notification's revision + 1 once skipped
 * a revision that was still on its way (tests/robustness, history checker;
 * etcd fixed several progress-notification races after 3.4.23). Resuming
 * from the last event is always safe; at worst that revision was compacted
 * meanwhile and the watch ends with DC_ECOMPACTED instead. Whenever the
 * stream ends (server restart and its GOAWAY, member killed, network error,
 * or a clean end) the watch reconnects from that revision, after a short
 * backoff, to the same endpoint if its stream had worked and to the next one
 * if it had not. If that history is gone etcd answers "canceled" with
 * compact_revision and the watch ends with DC_ECOMPACTED: a gap is never
 * hidden.
 *
 * Threads: everything here runs on the loop thread except the start and
 * stop handshakes (etcd_watch_start / _stop wait on the watch's condition
 * variable for the loop's verdict).
 */
#include "etcd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"
#include "watch.h"

#define WATCH_OF(job, field) ((etcd_watch *)(void *)((char *)(job)-offsetof(etcd_watch, field)))

static void start_done(etcd_watch *w, int rc, const char *msg)
{
    pthread_mutex_lock(&w->mu);
    if (w->start_state == START_PENDING) {
        w->start_state = rc == DC_OK ? START_OK : START_FAILED;
        w->start_rc = rc;
        /* A longer detail is cut: the caller gets its start. */
        snprintf(w->start_msg, sizeof w->start_msg, "%.*s", (int)sizeof w->start_msg - 1,
                 msg ? msg : "");
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

static int start_pending(etcd_watch *w)
{
    pthread_mutex_lock(&w->mu);
    int p = w->start_state == START_PENDING;
    pthread_mutex_unlock(&w->mu);
    return p;
}

/* End the watch with code: the starter hears it if it still waits, else the core. */
void etcd_watch_end(etcd_watch *w, int code, int64_t compact_rev, const char *msg)
{
    if (w->ended) return;
    w->ended = 1;
    if (!w->sink) { /* the compact probe: a cancel is its answer */
        pthread_mutex_lock(&w->mu);
        w->probe_compact = compact_rev;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        start_done(w, code == DC_ECOMPACTED ? DC_OK : code, msg);
        return;
    }
    if (start_pending(w) && code != DC_ECOMPACTED) {
        start_done(w, code, msg);
        return;
    }
    start_done(w, DC_OK, NULL);
    w->c->host->watch_fail(w->sink, code, compact_rev, msg);
}

/* ------------------------------------------------------------ retry list */

static void retry_unlink(etcd_watch *w)
{
    if (!w->in_retry) return;
    for (etcd_watch **p = &w->c->retry; *p; p = &(*p)->next_retry)
        if (*p == w) {
            *p = w->next_retry;
            break;
        }
    w->in_retry = 0;
    w->next_retry = NULL;
}

static void retry_at(etcd_watch *w, int64_t at)
{
    w->retry_at = at;
    if (w->in_retry) return;
    w->next_retry = w->c->retry;
    w->c->retry = w;
    w->in_retry = 1;
}

/* ------------------------------------------------------------ messages */

/* Convert one message's events from index first on. 0, -1 malformed, -2
 * no memory. */
static int convert_events(const Etcdpb__WatchResponse *r, size_t first, dc_event **out)
{
    *out = NULL;
    dc_event *evs = calloc(r->n_events - first, sizeof *evs);
    if (!evs) return -2;
    size_t i = 0;
    int rc = 0;
    for (; i < r->n_events - first; i++) {
        const Etcdpb__Event *e = r->events[first + i];
        dc_event *ev = &evs[i];
        if (!e->kv || (e->type != ETCDPB__EVENT__EVENT_TYPE__PUT &&
                       e->type != ETCDPB__EVENT__EVENT_TYPE__DELETE)) {
            rc = -1;
            break;
        }
        ev->type = e->type == ETCDPB__EVENT__EVENT_TYPE__DELETE ? DC_EVENT_DELETE : DC_EVENT_PUT;
        if (e->kv->mod_revision <= 0 ||
            (i > 0 && e->kv->mod_revision < r->events[first + i - 1]->kv->mod_revision)) {
            rc = -1;
            break;
        }
        if (etcd_kv_from_pb(e->kv, &ev->kv) != 0) {
            rc = -2;
            break;
        }
        if (e->prev_kv) {
            ev->prev_kv = calloc(1, sizeof *ev->prev_kv);
            if (!ev->prev_kv || etcd_kv_from_pb(e->prev_kv, ev->prev_kv) != 0) {
                free(ev->prev_kv);
                ev->prev_kv = NULL;
                i++; /* its kv is filled: free it with the others */
                rc = -2;
                break;
            }
        }
    }
    if (rc != 0) {
        dc__event_array_free(evs, i);
        return rc;
    }
    *out = evs;
    return 0;
}

/* The token was refused: ask the refresher for a new one, then reconnect.
 * Returns 1 if that will happen, 0 if the watch must end instead. */
static int want_token(etcd_watch *w)
{
    etcd_conn *c = w->c;
    if (!c->username || w->reauth_tried) return 0;
    w->reauth_tried = 1;
    w->wait_token = 1;
    etcd_auth_want(c, w->s->token_gen);
    return 1;
}

int etcd_watch_handle(etcd_watch *w, const Etcdpb__WatchResponse *r, int grouped)
{
    etcd_conn *c = w->c;
    char msg[512];
    if (r->canceled) {
        const char *reason = r->cancel_reason ? r->cancel_reason : "";
        int code;
        /* etcd's compact revision C keeps C's puts but drops its deletes
         * (tombstones): the store's compact revision is C + 1 (kv.c). */
        int64_t store_compact = r->compact_revision > 0 ? r->compact_revision + 1 : 0;
        if (r->compact_revision > 0) {
            snprintf(msg, sizeof msg,
                     "%s: watch from revision %lld: history compacted (compact revision %lld)",
                     c->label, (long long)w->next_rev, (long long)store_compact);
            code = DC_ECOMPACTED;
        } else {
            int retry, reauth;
            code = etcd_grpc_map(GRPC_UNKNOWN, reason, ETCD_READ, &retry, &reauth);
            if (reauth && grouped && c->username) return WH_NEED_TOKEN;
            if (reauth && !grouped && want_token(w)) return WH_CLOSE;
            if (code == DC_EUNKNOWN) code = DC_EUNAVAILABLE;
            snprintf(msg, sizeof msg, "%s: watch canceled by the server: %s", c->label,
                     *reason ? reason : "(no reason given)");
        }
        etcd_watch_end(w, code, store_compact, msg);
        return grouped ? WH_ENDED : WH_CLOSE;
    }
    if (r->created) {
        w->created = 1;
        w->reauth_tried = 0;
        w->failures = 0;
        w->backoff_ms = 50;
        start_done(w, DC_OK, NULL);
        if (!grouped && w->sink) w->c->group_due = 1; /* one more to group */
    }
    if (!w->sink) return WH_OK;     /* the compact probe wants nothing but the cancel */
    if (!r->n_events) return WH_OK; /* created, or a progress notification (see above) */
    /* A group's stream replays from where the watch's old stream stood
     * when the group was formed: skip what was delivered since. */
    size_t skip = 0;
    while (skip < r->n_events && r->events[skip]->kv &&
           r->events[skip]->kv->mod_revision < w->next_rev)
        skip++;
    if (skip == r->n_events) return WH_OK;
    dc_event *evs;
    int prc = convert_events(r, skip, &evs);
    if (prc != 0) {
        snprintf(msg, sizeof msg, "%s: watch: %s", c->label,
                 prc == -2 ? "out of memory reading events" : "malformed event from the server");
        if (prc == -1) c->host->log(DC_LOG_ERROR, "etcd", "%s", msg);
        etcd_watch_end(w, prc == -2 ? DC_ENOMEM : DC_ECORRUPT, 0, msg);
        return grouped ? WH_ENDED : WH_CLOSE;
    }
    int64_t last = r->events[r->n_events - 1]->kv->mod_revision;
    if (c->host->watch_push(w->sink, evs, r->n_events - skip) != DC_OK) {
        w->ended = 1; /* closed by the core, or out of memory (already reported) */
        return grouped ? WH_ENDED : WH_CLOSE;
    }
    if (last >= w->next_rev) w->next_rev = last + 1;
    return WH_OK;
}

/* The stream's data callback: decode every whole message received so far. */
static int on_data(etcd_stream *s)
{
    etcd_watch *w = s->owner;
    etcd_conn *c = w->c;
    if (w->ended || w->stopped || w->g) return 1; /* w->g: a group serves it now */
    const uint8_t *p = (const uint8_t *)s->resp.p;
    size_t used = 0;
    for (;;) {
        size_t off, len;
        int r = etcd_grpc_next(p + used, s->resp.len - used, ETCD_MAX_MESSAGE, &off, &len);
        if (r == 0) break;
        char msg[256];
        if (r < 0) {
            snprintf(msg, sizeof msg, "%s: watch: malformed gRPC frame from the server", c->label);
            c->host->log(DC_LOG_ERROR, "etcd", "%s", msg);
            etcd_watch_end(w, DC_ECORRUPT, 0, msg);
            return 1;
        }
        etcd_alloc al;
        etcd_alloc_init(&al);
        Etcdpb__WatchResponse *m = etcdpb__watch_response__unpack(&al.a, len, p + used + off);
        used += off + len;
        if (!m) {
            snprintf(msg, sizeof msg, "%s: watch: %s", c->label,
                     al.failed ? "out of memory decoding a message"
                               : "a message from the server is not valid protobuf");
            if (!al.failed) c->host->log(DC_LOG_ERROR, "etcd", "%s", msg);
            etcd_watch_end(w, al.failed ? DC_ENOMEM : DC_ECORRUPT, 0, msg);
            return 1;
        }
        int hr = etcd_watch_handle(w, m, 0);
        etcdpb__watch_response__free_unpacked(m, NULL);
        if (hr != 0) return 1;
    }
    if (used) {
        memmove(s->resp.p, s->resp.p + used, s->resp.len - used);
        s->resp.len -= used;
    }
    return 0;
}

static void connect_now(etcd_watch *w);

/* The stream ended (loop thread): decide whether and when to reconnect. */
static void on_end(etcd_stream *s)
{
    etcd_watch *w = s->owner;
    etcd_conn *c = w->c;
    if (w->stopped || w->ended || w->g) return; /* w->g: a group serves it now */
    char why[300];
    int code = DC_EUNAVAILABLE;
    if (!c->tls && !s->prior_knowledge && s->result == CURLE_OK &&
        (s->http_version == CURL_HTTP_VERSION_1_0 || s->http_version == CURL_HTTP_VERSION_1_1)) {
        /* The connection we meant to share was gone: open one as h2c (loop.c). */
        s->force_pk = 1;
        c->host->log(DC_LOG_INFO, "etcd", "%s: a watch went out as HTTP/1.1 to %s; again as h2c",
                     c->label, c->endpoints[w->ep]);
        retry_at(w, dc__now_ms());
        return;
    }
    if (s->result != CURLE_OK) {
        int retry;
        code = etcd_transport_error(c, s, ETCD_READ, &retry);
        snprintf(why, sizeof why, "%s", s->cerr[0] ? s->cerr : curl_easy_strerror(s->result));
        if (!retry && code != DC_EAUTH) code = DC_EUNAVAILABLE;
    } else if (s->http_status != 200) {
        snprintf(why, sizeof why, "HTTP %ld: not an etcd gRPC endpoint", s->http_status);
    } else if (s->grpc_status > 0) {
        int retry, reauth;
        code = etcd_grpc_map(s->grpc_status, s->grpc_msg, ETCD_READ, &retry, &reauth);
        snprintf(why, sizeof why, "gRPC status %d: %s", s->grpc_status, s->grpc_msg);
        if (reauth && want_token(w)) code = DC_OK;
        if (code == DC_ETIMEDOUT) code = DC_EUNAVAILABLE;
    } else {
        snprintf(why, sizeof why, "the stream ended");
    }
    if (code != DC_OK && code != DC_EUNAVAILABLE) {
        /* Not a disconnect: TLS refused, auth refused, a bad request. */
        char msg[700];
        snprintf(msg, sizeof msg, "%s: watch at %s: %s", c->label, c->endpoints[w->ep], why);
        etcd_watch_end(w, code, 0, msg);
        return;
    }
    snprintf(w->last_err, sizeof w->last_err, "%s: watch at %s: %s", c->label, c->endpoints[w->ep],
             why);
    if (w->created) {
        c->host->log(DC_LOG_INFO, "etcd", "%s: watch stream from %s ended (%s); resuming at %lld",
                     c->label, c->endpoints[w->ep], why, (long long)w->next_rev);
    } else if (!w->wait_token) {
        w->failures++;
        w->ep = (w->ep + 1) % c->n_endpoints;
        if (start_pending(w) && w->failures >= c->n_endpoints) {
            /* The first connection found no endpoint: tell watch_start now. */
            int rc = s->result == CURLE_OPERATION_TIMEDOUT ? DC_ETIMEDOUT : DC_EUNAVAILABLE;
            w->ended = 1;
            start_done(w, rc, w->last_err);
            return;
        }
    }
    w->created = 0;
    if (w->wait_token) {
        retry_at(w, INT64_MAX); /* etcd_watch_token_ready moves it up */
        return;
    }
    retry_at(w, dc__now_ms() + w->backoff_ms);
    if (w->backoff_ms < 1000) w->backoff_ms *= 2;
}

int etcd_watch_frame_create(const etcd_watch *w, int64_t id, dc_buf *out)
{
    Etcdpb__WatchCreateRequest cr = ETCDPB__WATCH_CREATE_REQUEST__INIT;
    Etcdpb__WatchRequest req = ETCDPB__WATCH_REQUEST__INIT;
    Etcdpb__WatchCreateRequest__FilterType filters[2];
    static const uint8_t zero = 0;
    uint8_t *end_buf = NULL;
    cr.key.data = (uint8_t *)w->key;
    cr.key.len = w->key_len;
    if (w->flags & DC_PREFIX) {
        size_t n = 1;
        if (w->key_len == 0) {
            cr.key.data = (uint8_t *)(uintptr_t)&zero;
            cr.key.len = 1;
            cr.range_end = cr.key;
        } else if ((end_buf = etcd_prefix_end(w->key, w->key_len, &n))) {
            cr.range_end.data = end_buf;
            cr.range_end.len = n;
        } else {
            return -1;
        }
    }
    /* One revision early: etcd accepts a watch from its own compact
     * revision C, whose deletes it has dropped, and the store's compact
     * revision is C + 1 (kv.c, etcd_compact). A watch from C must be
     * DC_ECOMPACTED, not a watch that silently starts after those deletes:
     * from C - 1 etcd refuses it. The extra revision is skipped on arrival
     * (events below next_rev are). robustness.etcd caught a replaying watch
     * from C that skipped revision C. */
    cr.start_revision = w->next_rev > 1 ? w->next_rev - 1 : w->next_rev;
    cr.progress_notify = 1;
    cr.prev_kv = (w->flags & DC_PREV_KV) != 0;
    cr.watch_id = id;
    if (w->flags & DC_NO_PUT)
        filters[cr.n_filters++] = ETCDPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NOPUT;
    if (w->flags & DC_NO_DELETE)
        filters[cr.n_filters++] = ETCDPB__WATCH_CREATE_REQUEST__FILTER_TYPE__NODELETE;
    cr.filters = filters;
    req.request_union_case = ETCDPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
    req.create_request = &cr;
    uint8_t *body;
    size_t len;
    int fr = etcd_grpc_frame(&req.base, &body, &len);
    free(end_buf);
    if (fr != 0) return -1;
    int ar = dc__buf_append(out, body, len);
    free(body);
    return ar;
}

/* Open a stream for w from next_rev (loop thread). */
static void connect_now(etcd_watch *w)
{
    etcd_conn *c = w->c;
    if (w->g || w->ended || w->stopped) return; /* a group's stream serves it */
    dc_buf b = DC_BUF_INIT;
    int fr = etcd_watch_frame_create(w, 0, &b);
    if (fr != 0) dc__buf_free(&b);
    /* the stream owns the body from here on, also when prepare fails */
    if (fr != 0 || etcd_stream_prepare(w->s, w->ep, "/etcdserverpb.Watch/Watch", (uint8_t *)b.p,
                                       b.len, ETCD_READ, 0) != DC_OK) {
        etcd_watch_end(w, DC_ENOMEM, 0, "etcd: out of memory starting a watch");
        return;
    }
    w->s->owner = w;
    w->s->on_data = on_data;
    w->s->on_end = on_end;
    w->created = 0;
    if (etcd_loop_add(c, w->s) != 0) {
        snprintf(w->s->cerr, sizeof w->s->cerr, "curl_multi_add_handle failed");
        etcd_stream_finished(w->s, CURLE_OUT_OF_MEMORY);
    }
}

long etcd_watch_tick(etcd_conn *c)
{
    if (c->group_due) etcd_group_consolidate(c);
    long gwait = c->groups ? etcd_group_tick(c, dc__now_ms()) : -1;
    if (!c->retry) return gwait;
    int64_t now = dc__now_ms(), next = INT64_MAX;
    if (gwait >= 0) next = now + gwait;
    /* Collect the due ones first: connecting may put a watch back. */
    etcd_watch *due = NULL;
    for (etcd_watch **p = &c->retry; *p;) {
        etcd_watch *w = *p;
        if (w->retry_at <= now) {
            *p = w->next_retry;
            w->in_retry = 0;
            w->next_retry = due;
            due = w;
        } else {
            if (w->retry_at < next) next = w->retry_at;
            p = &w->next_retry;
        }
    }
    while (due) {
        etcd_watch *w = due;
        due = w->next_retry;
        w->next_retry = NULL;
        connect_now(w);
    }
    if (c->retry && next == INT64_MAX) {
        /* connect_now may have queued watches again; look once more soon */
        for (etcd_watch *w = c->retry; w; w = w->next_retry)
            if (w->retry_at < next) next = w->retry_at;
    }
    if (next == INT64_MAX) return -1;
    int64_t left = next - dc__now_ms();
    return left < 0 ? 0 : (long)left;
}

static void token_job(etcd_conn *c, etcd_job *j)
{
    (void)j;
    int64_t now = dc__now_ms();
    etcd_group_token_ready(c, now);
    for (etcd_watch *w = c->retry; w; w = w->next_retry)
        if (w->wait_token) {
            w->wait_token = 0;
            w->retry_at = now;
        }
}

void etcd_watch_token_ready(etcd_conn *c)
{
    c->token_job.run = token_job;
    etcd_loop_post(c, &c->token_job);
}

/* ------------------------------------------------------------ start / stop */

static void start_job(etcd_conn *c, etcd_job *j)
{
    etcd_watch *w = WATCH_OF(j, start_job);
    if (w->sink) { /* the compact probe is never grouped */
        w->next_all = c->watches;
        c->watches = w;
    }
    connect_now(w);
}

static void stop_job(etcd_conn *c, etcd_job *j)
{
    etcd_watch *w = WATCH_OF(j, stop_job);
    w->stopped = 1;
    etcd_loop_remove(c, w->s);
    retry_unlink(w);
    etcd_group_leave(w);
    for (etcd_watch **p = &c->watches; *p; p = &(*p)->next_all)
        if (*p == w) {
            *p = w->next_all;
            break;
        }
    pthread_mutex_lock(&w->mu);
    w->stop_done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void watch_free(etcd_watch *w)
{
    etcd_stream_free(w->s);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->key);
    free(w);
}

static etcd_watch *watch_new(etcd_conn *c, const char *key, size_t key_len, unsigned flags,
                             int64_t start)
{
    etcd_watch *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    pthread_mutex_init(&w->mu, NULL);
    dc__cond_init_monotonic(&w->cv);
    w->c = c;
    w->key = malloc(key_len + 1);
    w->s = etcd_stream_new(c);
    if (!w->key || !w->s) {
        watch_free(w);
        return NULL;
    }
    if (key_len) memcpy(w->key, key, key_len);
    w->key[key_len] = '\0';
    w->key_len = key_len;
    w->flags = flags;
    w->next_rev = start;
    w->ep = atomic_load(&c->preferred) % c->n_endpoints;
    w->backoff_ms = 50;
    w->start_job.run = start_job;
    w->stop_job.run = stop_job;
    return w;
}

/* Stop w on the loop thread and wait until the loop let go of it. */
static void watch_halt(etcd_watch *w)
{
    etcd_loop_post(w->c, &w->stop_job);
    pthread_mutex_lock(&w->mu);
    while (!w->stop_done) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* Start w on the loop and wait for the first stream's verdict. */
static int watch_launch(etcd_watch *w, dc_drv_err *err)
{
    etcd_conn *c = w->c;
    etcd_loop_post(c, &w->start_job);
    int64_t deadline = dc__now_ms() + c->request_timeout_ms;
    pthread_mutex_lock(&w->mu);
    while (w->start_state == START_PENDING)
        if (dc__cond_wait_until(&w->cv, &w->mu, deadline) != 0) break;
    int state = w->start_state, rc = w->start_rc;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", w->start_msg);
    pthread_mutex_unlock(&w->mu);
    if (state == START_OK) return DC_OK;
    watch_halt(w);
    if (state == START_PENDING)
        return etcd_err(c, err, DC_ETIMEDOUT, "watch not created within %ld ms",
                        c->request_timeout_ms);
    snprintf(err->msg, sizeof err->msg, "%s", msg);
    return rc;
}

int etcd_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                     dc_drv_err *err)
{
    etcd_conn *c = conn;
    etcd_watch *w = watch_new(c, req->key, req->key_len, req->flags, req->start_revision);
    if (!w) return etcd_err(c, err, DC_ENOMEM, "out of memory starting a watch");
    w->sink = sink;
    int rc = watch_launch(w, err);
    if (rc != DC_OK) {
        watch_free(w);
        return rc;
    }
    *handle = w;
    return DC_OK;
}

void etcd_watch_stop(void *conn, void *handle)
{
    (void)conn;
    etcd_watch *w = handle;
    if (!w) return;
    watch_halt(w);
    watch_free(w);
}

int etcd_compact_revision(etcd_conn *c, int64_t *rev, dc_drv_err *err)
{
    *rev = 0;
    /* A watch from revision 1 on an unused key is cancelled at once with the
     * compact revision if anything was compacted, and just created if not. */
    static const char probe[] = "\0ddlcoord-compact-probe";
    etcd_watch *w = watch_new(c, probe, sizeof probe - 1, 0, 1);
    if (!w) return etcd_err(c, err, DC_ENOMEM, "out of memory probing the compact revision");
    int rc = watch_launch(w, err);
    if (rc == DC_OK) {
        /* created; the cancel, if any, follows right after */
        int64_t deadline = dc__now_ms() + 300;
        pthread_mutex_lock(&w->mu);
        while (!w->probe_compact)
            if (dc__cond_wait_until(&w->cv, &w->mu, deadline) != 0) break;
        *rev = w->probe_compact;
        pthread_mutex_unlock(&w->mu);
        watch_halt(w);
    }
    watch_free(w);
    return rc;
}
