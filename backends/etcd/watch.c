/*
 * Watches: one long-lived streaming POST /v3/watch per watch, served by a
 * thread of its own that drives a private curl multi handle.
 *
 * The gateway reads the whole request body before it answers, so each
 * connection carries exactly one create_request (with start_revision) and a
 * watch is cancelled by closing its connection: watch_stop raises a flag and
 * wakes curl_multi_poll with curl_multi_wakeup, so stopping is immediate.
 *
 * The answer is a stream of {"result":WatchResponse} objects separated by
 * newlines; chunk boundaries mean nothing, so bytes are buffered and split on
 * '\n' only. etcd guarantees that one WatchResponse holds whole revisions
 * (without "fragment", which we never ask for), possibly several of them,
 * so each message's events are handed to the core as one batch; an event's
 * revision is its kv.mod_revision, not the header's.
 *
 * Resumption: the thread remembers the next revision it needs (last event
 * revision + 1, or a progress notification's header revision + 1, which
 * etcd only sends to watchers that are fully caught up). Whenever the
 * stream ends (server restart, member killed, network error; a clean end of
 * body counts too) it reconnects, to the next endpoint, from that revision.
 * If that history is gone etcd answers "canceled" with compact_revision and
 * the watch ends with DC_ECOMPACTED: a gap is never hidden.
 */
#include "etcd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "kv.h"

enum { START_PENDING, START_OK, START_FAILED };

typedef struct etcd_watch {
    etcd_conn *c;
    dc_watch_sink *sink; /* NULL for the compact-revision probe */
    char *key;
    size_t key_len;
    unsigned flags;
    int64_t next_rev; /* first revision not yet delivered */

    CURLM *multi;
    CURL *easy;
    pthread_t thread;
    atomic_int stop;

    dc_buf line;  /* bytes after the last '\n' */
    int ended;    /* watch_fail was called (or the probe has its answer) */
    int reauth;   /* the token was rejected: log in again and reconnect */
    unsigned gen; /* token generation the current connection used */
    int created;  /* the current connection's watch was created */

    pthread_mutex_t mu; /* guards start_* for the handshake with watch_start */
    pthread_cond_t cv;
    int start_state, start_rc;
    char start_msg[512];
    int64_t probe_compact; /* probe: the compact revision seen */
    char last_err[512];    /* why the last connection ended, for the starter */
} etcd_watch;

static void start_done(etcd_watch *w, int rc, const char *msg)
{
    pthread_mutex_lock(&w->mu);
    if (w->start_state == START_PENDING) {
        w->start_state = rc == DC_OK ? START_OK : START_FAILED;
        w->start_rc = rc;
        snprintf(w->start_msg, sizeof w->start_msg, "%s", msg ? msg : "");
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
}

/* End the watch with code: the starter hears it if it still waits, else the core. */
static void watch_end(etcd_watch *w, int code, int64_t compact_rev, const char *msg)
{
    if (w->ended) return;
    w->ended = 1;
    pthread_mutex_lock(&w->mu);
    int pending = w->start_state == START_PENDING;
    if (!w->sink) {
        w->probe_compact = compact_rev;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (!w->sink) { /* the compact probe: a cancel is its answer */
        start_done(w, code == DC_ECOMPACTED ? DC_OK : code, msg);
        return;
    }
    if (pending && code != DC_ECOMPACTED) {
        start_done(w, code, msg);
        return;
    }
    start_done(w, DC_OK, NULL);
    w->c->host->watch_fail(w->sink, code, compact_rev, msg);
}

static cJSON *create_body(const etcd_watch *w)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *cr = cJSON_AddObjectToObject(o, "create_request");
    if (!o || !cr || etcd_add_key_range(cr, w->key, w->key_len, w->flags & DC_PREFIX) ||
        etcd_add_i64(cr, "start_revision", w->next_rev) ||
        (w->flags & DC_PREV_KV && etcd_add_bool(cr, "prev_kv", 1)) ||
        etcd_add_bool(cr, "progress_notify", 1))
        goto fail;
    if (w->flags & (DC_NO_PUT | DC_NO_DELETE)) {
        cJSON *f = cJSON_AddArrayToObject(cr, "filters");
        if (!f) goto fail;
        if (w->flags & DC_NO_PUT && !cJSON_AddItemToArray(f, cJSON_CreateString("NOPUT")))
            goto fail;
        if (w->flags & DC_NO_DELETE && !cJSON_AddItemToArray(f, cJSON_CreateString("NODELETE")))
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* Convert the events of one message. 0, -1 corrupt, -2 no memory. */
static int parse_events(const cJSON *arr, dc_event **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    if (!cnt) return 0;
    dc_event *evs = calloc(cnt, sizeof *evs);
    if (!evs) return -2;
    size_t i = 0;
    int rc = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        dc_event *ev = &evs[i];
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
        ev->type = cJSON_IsString(type) && strcmp(type->valuestring, "DELETE") == 0
                       ? DC_EVENT_DELETE
                       : DC_EVENT_PUT;
        if (type && !(cJSON_IsString(type) && (strcmp(type->valuestring, "DELETE") == 0 ||
                                               strcmp(type->valuestring, "PUT") == 0))) {
            rc = -1;
            break;
        }
        rc = etcd_parse_kv(cJSON_GetObjectItemCaseSensitive(it, "kv"), &ev->kv);
        if (rc != 0) break;
        i++;
        const cJSON *prev = cJSON_GetObjectItemCaseSensitive(it, "prev_kv");
        if (prev) {
            ev->prev_kv = calloc(1, sizeof *ev->prev_kv);
            rc = ev->prev_kv ? etcd_parse_kv(prev, ev->prev_kv) : -2;
            if (rc != 0) {
                free(ev->prev_kv);
                ev->prev_kv = NULL;
                break;
            }
        }
        if (ev->kv.mod_revision <= 0 ||
            (i > 1 && ev->kv.mod_revision < evs[i - 2].kv.mod_revision)) {
            rc = -1;
            break;
        }
    }
    if (rc != 0) {
        dc_event_array_free(evs, i);
        return rc;
    }
    *out = evs;
    *n = cnt;
    return 0;
}

/* Handle one message. Returns 0 to go on, -1 to close the connection. */
static int handle_message(etcd_watch *w, const char *text, size_t len)
{
    etcd_conn *c = w->c;
    char msg[512];
    cJSON *j = cJSON_ParseWithLength(text, len);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "result");
    if (!cJSON_IsObject(r)) {
        /* Not a watch response: an error body (HTTP 4xx/5xx) or garbage. */
        int retry = 0, reauth = 0;
        int code =
            cJSON_IsObject(j) ? etcd_map_error(500, j, ETCD_READ, &retry, &reauth) : DC_ECORRUPT;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        if (cJSON_IsObject(e)) e = cJSON_GetObjectItemCaseSensitive(e, "message");
        snprintf(msg, sizeof msg, "%s: watch: %s", c->label,
                 cJSON_IsString(e) ? e->valuestring : "malformed message from the server");
        cJSON_Delete(j);
        if (reauth && c->username && !w->reauth) {
            w->reauth = 1;
            return -1;
        }
        if (code == DC_ECORRUPT) c->host->log(DC_LOG_ERROR, "etcd", "%s", msg);
        if (code == DC_EUNAVAILABLE || code == DC_ETIMEDOUT) { /* reconnect, elsewhere */
            snprintf(w->last_err, sizeof w->last_err, "%s", msg);
            return -1;
        }
        watch_end(w, code, 0, msg);
        return -1;
    }
    int64_t compact = 0, hrev = 0;
    if (etcd_get_i64(r, "compact_revision", &compact) || etcd_header_rev(r, &hrev)) {
        cJSON_Delete(j);
        snprintf(msg, sizeof msg, "%s: watch: malformed number in a watch response", c->label);
        c->host->log(DC_LOG_ERROR, "etcd", "%s", msg);
        watch_end(w, DC_ECORRUPT, 0, msg);
        return -1;
    }
    if (etcd_get_bool(r, "canceled")) {
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(r, "cancel_reason");
        const char *reason = cJSON_IsString(why) ? why->valuestring : "";
        int rc;
        if (compact > 0) {
            snprintf(msg, sizeof msg,
                     "%s: watch from revision %lld: history compacted (compact revision %lld)",
                     c->label, (long long)w->next_rev, (long long)compact);
            rc = DC_ECOMPACTED;
        } else if (strstr(reason, "invalid auth token") && c->username && !w->reauth) {
            w->reauth = 1; /* the token expired between reconnects */
            cJSON_Delete(j);
            return -1;
        } else {
            int retry, reauth;
            cJSON *fake = cJSON_CreateObject();
            if (fake) cJSON_AddStringToObject(fake, "error", reason);
            rc = etcd_map_error(200, fake, ETCD_READ, &retry, &reauth);
            cJSON_Delete(fake);
            if (rc == DC_EUNKNOWN) rc = DC_EUNAVAILABLE;
            snprintf(msg, sizeof msg, "%s: watch canceled by the server: %s", c->label,
                     *reason ? reason : "(no reason given)");
        }
        cJSON_Delete(j);
        watch_end(w, rc, compact, msg);
        return -1;
    }
    if (etcd_get_bool(r, "created")) {
        w->created = 1;
        w->reauth = 0;
        start_done(w, DC_OK, NULL);
    }
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(r, "events");
    if (!w->sink) { /* the compact probe wants nothing but the cancel */
        cJSON_Delete(j);
        return 0;
    }
    if (!events) {
        /* A progress notification: etcd sends them only to watchers that
         * have received everything up to the header revision. */
        if (w->created && !etcd_get_bool(r, "created") && hrev >= w->next_rev)
            w->next_rev = hrev + 1;
        cJSON_Delete(j);
        return 0;
    }
    dc_event *evs;
    size_t n;
    int prc = cJSON_IsArray(events) ? parse_events(events, &evs, &n) : -1;
    cJSON_Delete(j);
    if (prc != 0) {
        snprintf(msg, sizeof msg, "%s: watch: %s", c->label,
                 prc == -2 ? "out of memory reading events" : "malformed event from the server");
        if (prc == -1) c->host->log(DC_LOG_ERROR, "etcd", "%s", msg);
        watch_end(w, prc == -2 ? DC_ENOMEM : DC_ECORRUPT, 0, msg);
        return -1;
    }
    if (!n) return 0;
    int64_t last = evs[n - 1].kv.mod_revision;
    if (c->host->watch_push(w->sink, evs, n) != DC_OK) {
        w->ended = 1; /* closed by the core, or out of memory (already reported) */
        return -1;
    }
    if (last >= w->next_rev) w->next_rev = last + 1;
    return 0;
}

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata)
{
    etcd_watch *w = userdata;
    size_t n = size * nmemb;
    if (atomic_load(&w->stop) || w->ended) return 0;
    if (dc_buf_append(&w->line, data, n) != 0) {
        watch_end(w, DC_ENOMEM, 0, "etcd: out of memory buffering a watch message");
        return 0;
    }
    size_t start = 0;
    for (;;) {
        char *nl = memchr(w->line.p + start, '\n', w->line.len - start);
        if (!nl) break;
        size_t len = (size_t)(nl - (w->line.p + start));
        if (len && handle_message(w, w->line.p + start, len) != 0) return 0;
        start += len + 1;
    }
    if (start) {
        memmove(w->line.p, w->line.p + start, w->line.len - start);
        w->line.len -= start;
        w->line.p[w->line.len] = '\0';
    }
    return n;
}

/* Run one connection until it ends. Returns the CURLcode. */
static CURLcode run_connection(etcd_watch *w, const char *endpoint, long *sent)
{
    etcd_conn *c = w->c;
    char url[512];
    snprintf(url, sizeof url, "%s/v3/watch", endpoint);
    cJSON *body = create_body(w);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    struct curl_slist *hdrs = text ? etcd_headers(c, 1, &w->gen) : NULL;
    if (!hdrs) {
        free(text);
        return CURLE_OUT_OF_MEMORY;
    }
    dc_buf_reset(&w->line);
    w->created = 0;
    w->last_err[0] = '\0';
    curl_easy_setopt(w->easy, CURLOPT_URL, url);
    curl_easy_setopt(w->easy, CURLOPT_COPYPOSTFIELDS, text);
    curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
    /* No overall timeout (the stream lives as long as the watch), but a
     * silent connection is dead: progress notifications arrive at least
     * every 10 minutes, so 15 minutes without a byte means reconnect. */
    curl_easy_setopt(w->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(w->easy, CURLOPT_LOW_SPEED_TIME, 900L);
    free(text);

    CURLcode result = CURLE_OK;
    curl_multi_add_handle(w->multi, w->easy);
    int running = 1;
    while (running && !atomic_load(&w->stop)) {
        if (curl_multi_perform(w->multi, &running) != CURLM_OK) break;
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(w->multi, &left)))
            if (m->msg == CURLMSG_DONE) result = m->data.result;
        if (running) curl_multi_poll(w->multi, NULL, 0, 1000, NULL);
    }
    curl_easy_getinfo(w->easy, CURLINFO_REQUEST_SIZE, sent);
    long status = 0;
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(w->multi, w->easy);
    curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    /* An error body (HTTP 4xx/5xx) may end without '\n'. A stream cut in
     * the middle of a message is just a disconnect: resume re-reads it. */
    if (result == CURLE_OK && status != 200 && !w->ended && !atomic_load(&w->stop) && w->line.len)
        handle_message(w, w->line.p, w->line.len);
    return result;
}

static void *watch_thread(void *arg)
{
    etcd_watch *w = arg;
    etcd_conn *c = w->c;
    size_t ep = atomic_load(&c->preferred) % c->n_endpoints;
    int64_t backoff = 50;
    size_t failures = 0; /* consecutive connections that never got "created" */
    while (!atomic_load(&w->stop) && !w->ended) {
        long sent = 0;
        CURLcode cc = run_connection(w, c->endpoints[ep], &sent);
        if (atomic_load(&w->stop) || w->ended) break;
        if (cc == CURLE_OUT_OF_MEMORY) {
            watch_end(w, DC_ENOMEM, 0, "etcd: out of memory starting a watch");
            break;
        }
        if (w->reauth) {
            dc_drv_err err = {{0}, 0};
            int rc = etcd_auth_refresh(c, w->gen, &err);
            if (rc == DC_EAUTH) {
                watch_end(w, rc, 0, err.msg);
                break;
            }
        }
        if (w->created) {
            failures = 0;
            backoff = 50;
            c->host->log(DC_LOG_INFO, "etcd",
                         "%s: watch stream from %s ended (%s); resuming at %lld", c->label,
                         c->endpoints[ep], curl_easy_strerror(cc), (long long)w->next_rev);
        } else {
            failures++;
        }
        pthread_mutex_lock(&w->mu);
        int pending = w->start_state == START_PENDING;
        pthread_mutex_unlock(&w->mu);
        if (pending && failures >= c->n_endpoints && !w->reauth) {
            /* The first connection found no endpoint: tell watch_start now. */
            char msg[512];
            if (w->last_err[0])
                snprintf(msg, sizeof msg, "%s", w->last_err);
            else
                snprintf(msg, sizeof msg, "%s: watch: no endpoint answered (%s)", c->label,
                         curl_easy_strerror(cc));
            start_done(w, cc == CURLE_OPERATION_TIMEDOUT ? DC_ETIMEDOUT : DC_EUNAVAILABLE, msg);
            w->ended = 1;
            break;
        }
        if (!w->created) ep = (ep + 1) % c->n_endpoints;
        /* Sleep, but wake up at once when stopped. */
        if (!w->reauth || !w->created) curl_multi_poll(w->multi, NULL, 0, (int)backoff, NULL);
        if (backoff < 1000) backoff *= 2;
        (void)sent;
    }
    return NULL;
}

static void watch_free(etcd_watch *w)
{
    if (w->easy) curl_easy_cleanup(w->easy);
    if (w->multi) curl_multi_cleanup(w->multi);
    dc_buf_free(&w->line);
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
    dc_cond_init_monotonic(&w->cv);
    w->c = c;
    w->key = malloc(key_len + 1);
    w->multi = curl_multi_init();
    w->easy = curl_easy_init();
    if (!w->key || !w->multi || !w->easy) {
        watch_free(w);
        return NULL;
    }
    if (key_len) memcpy(w->key, key, key_len);
    w->key[key_len] = '\0';
    w->key_len = key_len;
    w->flags = flags;
    w->next_rev = start;
    etcd_handle_setup(c, w->easy);
    return w;
}

/* Start the thread and wait for the first connection's verdict. */
static int watch_launch(etcd_watch *w, dc_drv_err *err)
{
    etcd_conn *c = w->c;
    if (pthread_create(&w->thread, NULL, watch_thread, w) != 0)
        return etcd_err(c, err, DC_ENOMEM, "cannot start a watch thread");
    int64_t deadline = dc_now_ms() + c->request_timeout_ms;
    pthread_mutex_lock(&w->mu);
    while (w->start_state == START_PENDING)
        if (dc_cond_wait_until(&w->cv, &w->mu, deadline) != 0) break;
    int state = w->start_state, rc = w->start_rc;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", w->start_msg);
    pthread_mutex_unlock(&w->mu);
    if (state == START_OK) return DC_OK;
    atomic_store(&w->stop, 1);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
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
    atomic_store(&w->stop, 1);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
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
        int64_t deadline = dc_now_ms() + 300;
        pthread_mutex_lock(&w->mu);
        while (!w->probe_compact)
            if (dc_cond_wait_until(&w->cv, &w->mu, deadline) != 0) break;
        pthread_mutex_unlock(&w->mu);
        atomic_store(&w->stop, 1);
        curl_multi_wakeup(w->multi);
        pthread_join(w->thread, NULL);
        *rev = w->probe_compact;
    }
    watch_free(w);
    return rc;
}
