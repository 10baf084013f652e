/*
 * One gRPC call on the wire: an HTTP/2 POST of one framed message to
 * /<service>/<method>, its response bytes, and its grpc-status.
 *
 * A stream owns a libcurl easy handle. Unary calls take a stream from the
 * handle's pool and give it back, so their easy handles (and libcurl's
 * per-handle caches) are reused; watches keep one of their own for their
 * whole life, reconnecting with it.
 *
 * Request: h2c with prior knowledge on etcd:// (etcd's client port serves
 * gRPC on any HTTP/2 connection), ALPN "h2" on etcd+https://; headers
 * content-type: application/grpc and te: trailers, which gRPC servers
 * require; the token as "token" metadata; "hasleader: true" (clientv3's
 * WithRequireLeader), so a member cut off from its leader answers "no
 * leader" at once instead of holding the call, and we move on; and
 * grpc-timeout, so the server stops working on a call we gave up on.
 *
 * The body is always sent whole with its length known up front and the
 * stream half-closed after it: libcurl 7.88 has known HTTP/2 bugs with
 * uploads of unknown size, and etcd keeps answering on a half-closed watch
 * or keepalive stream. Writes go through a read callback without a seek
 * callback: libcurl re-sends a request on a fresh connection when a reused
 * one died before answering, which for a write that etcd applied just
 * before dying would apply it twice; unable to rewind, it fails instead,
 * and the read callback tells us whether any of the body left.
 */
#include "etcd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata)
{
    etcd_stream *s = userdata;
    size_t n = size * nmemb;
    if (s->on_data) {
        /* A stream's bytes are gRPC frames only on an HTTP/2 200 answer;
         * anything else (an HTTP/1.1 404 body, say) is dropped here and
         * judged by on_end. */
        long code = 0, ver = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(s->easy, CURLINFO_HTTP_VERSION, &ver);
        if (code != 200 || ver != CURL_HTTP_VERSION_2_0) return n;
    }
    if (dc__buf_append(&s->resp, data, n) != 0) return 0;
    if (s->on_data && s->on_data(s) != 0) return 0;
    return n;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *userdata)
{
    etcd_stream *s = userdata;
    size_t n = size * nitems;
    etcd_grpc_header(data, n, &s->grpc_status, s->grpc_msg, sizeof s->grpc_msg);
    return n;
}

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
    etcd_stream *s = userdata;
    size_t n = size * nitems, left = s->req_len - s->req_off;
    if (n > left) n = left;
    memcpy(buf, s->req + s->req_off, n);
    s->req_off += n;
    s->req_started = 1;
    return n;
}

static void add_job(etcd_conn *c, etcd_job *j)
{
    etcd_stream *s = (etcd_stream *)((char *)j - offsetof(etcd_stream, add_job));
    if (etcd_loop_add(c, s) != 0) {
        snprintf(s->cerr, sizeof s->cerr, "curl_multi_add_handle failed");
        etcd_stream_finished(s, CURLE_OUT_OF_MEMORY);
    }
}

static void cancel_job(etcd_conn *c, etcd_job *j)
{
    etcd_stream *s = (etcd_stream *)((char *)j - offsetof(etcd_stream, cancel_job));
    if (!s->in_multi) return;
    etcd_loop_remove(c, s);
    etcd_stream_finished(s, CURLE_ABORTED_BY_CALLBACK);
}

static void setup_easy(etcd_conn *c, etcd_stream *s)
{
    CURL *h = s->easy;
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    /* HTTP version: TLS negotiates h2 by ALPN; plain HTTP is chosen per
     * transfer by etcd_loop_add (see loop.c). */
    if (c->tls) curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    etcd_loop_track_sockets(c, s);
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->tls ? "https" : "http");
    if (c->tls_ca) curl_easy_setopt(h, CURLOPT_CAINFO, c->tls_ca);
    if (c->tls_cert) curl_easy_setopt(h, CURLOPT_SSLCERT, c->tls_cert);
    if (c->tls_key) curl_easy_setopt(h, CURLOPT_SSLKEY, c->tls_key);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->cerr);
}

etcd_stream *etcd_stream_new(etcd_conn *c)
{
    etcd_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->easy = curl_easy_init();
    if (!s->easy) {
        free(s);
        return NULL;
    }
    s->c = c;
    s->grpc_status = -1;
    s->add_job.run = add_job;
    s->cancel_job.run = cancel_job;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    setup_easy(c, s);
    return s;
}

void etcd_stream_free(etcd_stream *s)
{
    if (!s) return;
    curl_easy_cleanup(s->easy);
    curl_slist_free_all(s->hdrs);
    free(s->req);
    dc__buf_free(&s->resp);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

etcd_stream *etcd_stream_take(etcd_conn *c)
{
    etcd_stream *s = NULL;
    pthread_mutex_lock(&c->pool_mu);
    if (c->n_pool) s = c->pool[--c->n_pool];
    pthread_mutex_unlock(&c->pool_mu);
    return s ? s : etcd_stream_new(c);
}

void etcd_stream_give(etcd_conn *c, etcd_stream *s)
{
    if (!s) return;
    /* Drop what the last call left; a big answer's buffer is not kept. */
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
    free(s->req);
    s->req = NULL;
    if (s->resp.cap > 65536) dc__buf_free(&s->resp);
    pthread_mutex_lock(&c->pool_mu);
    if (c->n_pool == c->cap_pool) {
        size_t cap = c->cap_pool ? c->cap_pool * 2 : 8;
        etcd_stream **p = realloc(c->pool, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&c->pool_mu);
            etcd_stream_free(s); /* losing a cached handle is harmless */
            return;
        }
        c->pool = p;
        c->cap_pool = cap;
    }
    c->pool[c->n_pool++] = s;
    pthread_mutex_unlock(&c->pool_mu);
}

void etcd_pool_free(etcd_conn *c)
{
    for (size_t i = 0; i < c->n_pool; i++) etcd_stream_free(c->pool[i]);
    free(c->pool);
    c->pool = NULL;
    c->n_pool = c->cap_pool = 0;
}

/* The request headers of one call. NULL without memory. */
static struct curl_slist *make_headers(etcd_conn *c, etcd_kind kind, long timeout_ms, unsigned *gen)
{
    static const char *const fixed[] = {
        "content-type: application/grpc",
        "te: trailers",
        "hasleader: true",
        "Expect:", /* never wait for "100 Continue" */
        "Accept:", /* drop curl's default Accept header */
        "user-agent: ddlcoord-etcd",
    };
    struct curl_slist *h = NULL;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        struct curl_slist *t = curl_slist_append(h, fixed[i]);
        if (!t) goto oom;
        h = t;
    }
    char line[64];
    if (timeout_ms > 0) {
        /* grpc-timeout: at most 8 digits, then a unit. */
        if (timeout_ms < 100000000L)
            snprintf(line, sizeof line, "grpc-timeout: %ldm", timeout_ms);
        else
            snprintf(line, sizeof line, "grpc-timeout: %ldS", timeout_ms / 1000);
        struct curl_slist *t = curl_slist_append(h, line);
        if (!t) goto oom;
        h = t;
    }
    pthread_mutex_lock(&c->auth_mu);
    *gen = c->token_gen;
    if (c->token && kind != ETCD_LOGIN) {
        size_t n = strlen(c->token) + 16;
        char *tl = malloc(n);
        struct curl_slist *t = NULL;
        if (tl) {
            snprintf(tl, n, "token: %s", c->token);
            t = curl_slist_append(h, tl);
            free(tl);
        }
        if (!t) {
            pthread_mutex_unlock(&c->auth_mu);
            goto oom;
        }
        h = t;
    }
    pthread_mutex_unlock(&c->auth_mu);
    return h;
oom:
    curl_slist_free_all(h);
    return NULL;
}

int etcd_stream_prepare(etcd_stream *s, size_t ep, const char *method, uint8_t *body,
                        size_t body_len, etcd_kind kind, long timeout_ms)
{
    etcd_conn *c = s->c;
    curl_slist_free_all(s->hdrs);
    free(s->req);
    s->req = body;
    s->req_len = body_len;
    s->req_off = 0;
    s->req_started = 0;
    s->hdrs = make_headers(c, kind, timeout_ms, &s->token_gen);
    if (!s->hdrs) return DC_ENOMEM;
    dc__buf_reset(&s->resp);
    s->grpc_status = -1;
    s->grpc_msg[0] = '\0';
    s->cerr[0] = '\0';
    s->result = CURLE_OK;
    s->http_status = 0;
    s->http_version = 0;
    s->done = 0;
    s->ep = ep;
    char url[512];
    snprintf(url, sizeof url, "%s%s", c->endpoints[ep], method);
    CURL *h = s->easy;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->hdrs);
    if (kind == ETCD_WRITE) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, s);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, (char *)s->req);
    }
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (timeout_ms <= 0) {
        /* A watch lives as long as it is wanted, but a connection that is
         * silent for long is dead: progress notifications arrive at least
         * every 10 minutes (etcd's default), so 15 minutes without a byte
         * means reconnect. */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 900L);
    } else {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 0L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 0L);
    }
    return DC_OK;
}

void etcd_stream_finished(etcd_stream *s, CURLcode result)
{
    s->result = result;
    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->http_status);
    curl_easy_getinfo(s->easy, CURLINFO_HTTP_VERSION, &s->http_version);
    if (!s->req_started) {
        /* Reads are sent from POSTFIELDS without a read callback. */
        curl_off_t up = 0;
        if (curl_easy_getinfo(s->easy, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up > 0)
            s->req_started = 1;
    }
    if (s->on_end) {
        s->on_end(s);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->done = 1;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void etcd_stream_run(etcd_stream *s)
{
    s->on_data = NULL;
    s->on_end = NULL;
    etcd_loop_post(s->c, &s->add_job);
    pthread_mutex_lock(&s->mu);
    while (!s->done) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}
