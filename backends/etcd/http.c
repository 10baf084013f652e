/*
 * One unary gateway call: POST a JSON body to /v3/<service>/<method> and
 * read the JSON answer, over kept-alive HTTP/1.1 connections.
 *
 * Connections: libcurl easy handles are not thread-safe, so the connection
 * keeps a pool of idle handles; a call takes one (each holds its own
 * kept-alive connection), uses it and puts it back, so N concurrent callers
 * end up with N connections and no lock is held during I/O.
 *
 * Fail-over: a call starts at the endpoint that answered last and moves on
 * to the next one only while the request certainly was not applied
 * (connection refused, no leader) or is a read. The whole call, fail-over
 * included, is bounded by one request timeout, because a made-up token or a
 * member without quorum can make etcd hold a request indefinitely.
 *
 * Outcome of writes: once the request has started to leave (libcurl asked
 * the read callback for body bytes, or CURLINFO_REQUEST_SIZE > 0) a dropped
 * connection or a timeout makes the write's fate unknown (DC_EUNKNOWN);
 * before that it is DC_EUNAVAILABLE / DC_ETIMEDOUT. Writes have no seek
 * callback on purpose: libcurl re-sends a request by itself when a reused
 * connection dies without answering, which for a write that etcd applied
 * just before dying would apply it twice; without a way to rewind it fails
 * instead, and the caller hears DC_EUNKNOWN.
 */
#include "etcd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

int etcd_err(etcd_conn *c, dc_drv_err *err, int code, const char *fmt, ...)
{
    if (!err) return code;
    int n = snprintf(err->msg, sizeof err->msg, "%s: ", c ? c->label : "etcd");
    if (n < 0 || (size_t)n >= sizeof err->msg) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof err->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

/* The body of a write, handed to libcurl piece by piece. */
typedef struct upload {
    const char *p;
    size_t len, off;
    int started; /* libcurl asked for body bytes: the request is on the wire */
} upload;

static size_t send_body(char *buf, size_t size, size_t nitems, void *userdata)
{
    upload *u = userdata;
    size_t n = size * nitems, left = u->len - u->off;
    if (n > left) n = left;
    memcpy(buf, u->p + u->off, n);
    u->off += n;
    u->started = 1;
    return n;
}

static size_t collect(char *data, size_t size, size_t nmemb, void *userdata)
{
    dc_buf *b = userdata;
    return dc_buf_append(b, data, size * nmemb) == 0 ? size * nmemb : 0;
}

void etcd_handle_setup(etcd_conn *c, CURL *h)
{
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->tls ? "https" : "http");
    if (c->tls_ca) curl_easy_setopt(h, CURLOPT_CAINFO, c->tls_ca);
    if (c->tls_cert) curl_easy_setopt(h, CURLOPT_SSLCERT, c->tls_cert);
    if (c->tls_key) curl_easy_setopt(h, CURLOPT_SSLKEY, c->tls_key);
}

CURL *etcd_handle_take(etcd_conn *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_mu);
    if (c->n_pool) h = c->pool[--c->n_pool];
    pthread_mutex_unlock(&c->pool_mu);
    if (h) return h;
    h = curl_easy_init();
    if (h) etcd_handle_setup(c, h);
    return h;
}

void etcd_handle_give(etcd_conn *c, CURL *h)
{
    if (!h) return;
    pthread_mutex_lock(&c->pool_mu);
    if (c->n_pool == c->cap_pool) {
        size_t cap = c->cap_pool ? c->cap_pool * 2 : 8;
        CURL **p = realloc(c->pool, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&c->pool_mu);
            curl_easy_cleanup(h); /* losing a cached connection is harmless */
            return;
        }
        c->pool = p;
        c->cap_pool = cap;
    }
    c->pool[c->n_pool++] = h;
    pthread_mutex_unlock(&c->pool_mu);
}

void etcd_pool_free(etcd_conn *c)
{
    for (size_t i = 0; i < c->n_pool; i++) curl_easy_cleanup(c->pool[i]);
    free(c->pool);
    c->pool = NULL;
    c->n_pool = c->cap_pool = 0;
}

struct curl_slist *etcd_headers(etcd_conn *c, int with_token, unsigned *gen)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    /* An empty Expect: stops curl from waiting for "100 Continue" on big bodies. */
    struct curl_slist *t = h ? curl_slist_append(h, "Expect:") : NULL;
    /* gRPC metadata "hasleader" (clientv3's WithRequireLeader): a member cut
     * off from its leader answers "no leader" at once, for calls and watches,
     * instead of holding the request, so we can fail over to another one. */
    t = t ? curl_slist_append(t, "Grpc-Metadata-hasleader: true") : NULL;
    if (!t) {
        curl_slist_free_all(h);
        return NULL;
    }
    h = t;
    pthread_mutex_lock(&c->auth_mu);
    if (gen) *gen = c->token_gen;
    if (c->token && with_token) {
        /* etcd wants the raw token: "Bearer <token>" is rejected as invalid. */
        size_t n = strlen(c->token) + 16;
        char *line = malloc(n);
        if (line) {
            snprintf(line, n, "Authorization: %s", c->token);
            t = curl_slist_append(h, line);
            free(line);
        }
        if (!line || !t) {
            pthread_mutex_unlock(&c->auth_mu);
            curl_slist_free_all(h);
            return NULL;
        }
    }
    pthread_mutex_unlock(&c->auth_mu);
    return h;
}

static int has(const char *msg, const char *what)
{
    return msg && strstr(msg, what) != NULL;
}

int etcd_map_error(long status, const cJSON *body, etcd_kind kind, int *retry, int *reauth)
{
    *retry = *reauth = 0;
    int64_t code = -1;
    const char *msg = NULL;
    if (cJSON_IsObject(body)) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "error");
        if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(body, "message");
        msg = cJSON_IsString(m) ? m->valuestring : NULL;
        if (etcd_get_i64(body, "code", &code) != 0) code = -1;
    }
    /* The message text is more specific than the code: 400 covers both
     * "bad request" and "compacted". */
    if (has(msg, "required revision has been compacted")) return DC_ECOMPACTED;
    if (has(msg, "required revision is a future revision")) return DC_EINVAL;
    if (has(msg, "too many operations in txn request") || has(msg, "request is too large") ||
        has(msg, "received message larger than max") || has(msg, "database space exceeded") ||
        has(msg, "too large lease TTL"))
        return DC_ETOOBIG;
    if (has(msg, "requested lease not found") || has(msg, "key not found")) return DC_ENOTFOUND;
    if (has(msg, "invalid auth token") || code == 16 || status == 401) {
        *reauth = 1;
        return DC_EAUTH;
    }
    if (has(msg, "user name is empty")) {
        *reauth = 1; /* a request raced with a token refresh, or auth was just enabled */
        return DC_EAUTH;
    }
    if (has(msg, "authentication failed") || has(msg, "permission denied") || code == 7 ||
        status == 403)
        return DC_EAUTH;
    if (has(msg, "no leader") || has(msg, "not capable") || has(msg, "too many requests") ||
        has(msg, "not enough started members") || has(msg, "unhealthy cluster")) {
        *retry = 1; /* refused before proposing: nothing was applied */
        return DC_EUNAVAILABLE;
    }
    if (code == 14 || code == 4 || code == 10 || status == 503 || status == 504) {
        /* "request timed out", "leader changed": a proposal may have been made. */
        *retry = kind != ETCD_WRITE;
        return kind == ETCD_WRITE ? DC_EUNKNOWN
                                  : (code == 4 || status == 504 ? DC_ETIMEDOUT : DC_EUNAVAILABLE);
    }
    if (code == 5 || status == 404) return code == 5 ? DC_ENOTFOUND : DC_EUNSUPPORTED;
    if (code == 3 || code == 11 || code == 9 || code == 6 || status == 400 || status == 412)
        return DC_EINVAL;
    if (code == 8 || status == 429) return DC_ETOOBIG;
    if (code == 12 || status == 405 || status == 501) return DC_EUNSUPPORTED;
    return kind == ETCD_WRITE ? DC_EUNKNOWN : DC_EUNAVAILABLE;
}

/* The message of an error body, or its first bytes. */
static void error_text(const dc_buf *b, const cJSON *body, char *out, size_t n)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "error");
    if (cJSON_IsString(m))
        snprintf(out, n, "%s", m->valuestring);
    else
        snprintf(out, n, "%.120s", b->p ? b->p : "(empty body)");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
}

int etcd_call(etcd_conn *c, const char *path, const cJSON *req, etcd_kind kind, cJSON **resp,
              dc_drv_err *err)
{
    *resp = NULL;
    char *body = cJSON_PrintUnformatted(req);
    CURL *h = body ? etcd_handle_take(c) : NULL;
    if (!h) {
        free(body);
        return etcd_err(c, err, DC_ENOMEM, "out of memory building a request to %s", path);
    }
    size_t body_len = strlen(body);
    int64_t deadline = dc_now_ms() + c->request_timeout_ms;
    size_t first = atomic_load(&c->preferred) % c->n_endpoints;
    size_t tried = 0;
    int reauthed = 0, rc = DC_EUNAVAILABLE;
    dc_buf out = DC_BUF_INIT;
    char url[512];

    while (tried < c->n_endpoints) {
        size_t ep = (first + tried) % c->n_endpoints;
        int64_t left = deadline - dc_now_ms();
        if (left <= 0) {
            rc = etcd_err(c, err, DC_ETIMEDOUT, "%s: no answer within %ld ms", path,
                          c->request_timeout_ms);
            break;
        }
        unsigned gen = 0;
        struct curl_slist *hdrs = etcd_headers(c, kind != ETCD_LOGIN, &gen);
        if (!hdrs) {
            rc = etcd_err(c, err, DC_ENOMEM, "out of memory building headers");
            break;
        }
        dc_buf_reset(&out);
        snprintf(url, sizeof url, "%s%s", c->endpoints[ep], path);
        curl_easy_setopt(h, CURLOPT_URL, url);
        upload up = {body, body_len, 0, 0};
        if (kind == ETCD_WRITE) {
            /* Writes go through a read callback without a seek callback, so
             * libcurl cannot silently re-send one on a fresh connection
             * after a reused one died (its "retry a dead reused connection"
             * rule), and so we know whether any of it left. */
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
            curl_easy_setopt(h, CURLOPT_POST, 1L);
            curl_easy_setopt(h, CURLOPT_READFUNCTION, send_body);
            curl_easy_setopt(h, CURLOPT_READDATA, &up);
        } else {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        }
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
        char cerr[CURL_ERROR_SIZE] = "";
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
        CURLcode cc = curl_easy_perform(h);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        curl_slist_free_all(hdrs);
        const char *epname = c->endpoints[ep];

        if (cc != CURLE_OK) {
            long sent = up.started;
            if (!sent) curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent);
            int timeout = cc == CURLE_OPERATION_TIMEDOUT;
            if (cc == CURLE_WRITE_ERROR) { /* collect() could not grow the buffer */
                rc = etcd_err(c, err, kind == ETCD_WRITE ? DC_EUNKNOWN : DC_ENOMEM,
                              "%s: out of memory reading the answer", path);
                break;
            }
            if (sent > 0 && kind == ETCD_WRITE) {
                rc = etcd_err(c, err, DC_EUNKNOWN,
                              "%s at %s: %s after the request was sent; it may or may not "
                              "have been applied",
                              path, epname, cerr[0] ? cerr : curl_easy_strerror(cc));
                break;
            }
            const char *why = cerr[0] ? cerr : curl_easy_strerror(cc);
            rc = etcd_err(c, err, timeout ? DC_ETIMEDOUT : DC_EUNAVAILABLE, "%s at %s: %s", path,
                          epname, why);
            /* TLS 1.3 reports a refused client certificate as an alert on
             * the first read, after the handshake. */
            if (cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
                cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR ||
                (c->tls && strstr(why, "alert") && strstr(why, "certificate"))) {
                rc = etcd_err(c, err, DC_EAUTH, "%s at %s: TLS: %s", path, epname, why);
                break;
            }
            tried++;
            continue;
        }

        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        cJSON *j = out.p ? cJSON_ParseWithLength(out.p, out.len) : NULL;
        if (status == 200) {
            if (!cJSON_IsObject(j)) {
                cJSON_Delete(j);
                rc = etcd_err(c, err, kind == ETCD_WRITE ? DC_EUNKNOWN : DC_ECORRUPT,
                              "%s at %s: answer is not a JSON object (%zu bytes)", path, epname,
                              out.len);
                break;
            }
            atomic_store(&c->preferred, ep);
            *resp = j;
            rc = DC_OK;
            break;
        }
        int retry, reauth;
        rc = etcd_map_error(status, j, kind, &retry, &reauth);
        char text[256];
        error_text(&out, j, text, sizeof text);
        cJSON_Delete(j);
        etcd_err(c, err, rc, "%s at %s: HTTP %ld: %s", path, epname, status, text);
        if (reauth && c->username && !reauthed && kind != ETCD_LOGIN) {
            /* The token expired (idle TTL) or the server lost it: fetch a new one once. */
            reauthed = 1;
            int arc = etcd_auth_refresh(c, gen, err);
            if (arc != DC_OK) {
                rc = arc;
                break;
            }
            continue;
        }
        if (!retry) break;
        if (++tried == c->n_endpoints && rc == DC_EUNAVAILABLE && deadline - dc_now_ms() > 300) {
            /* Every member said "no leader" (an election is running): wait a
             * little and go round again within the same deadline. */
            dc_sleep_ms(100);
            tried = 0;
        }
    }
    if (rc != DC_OK && tried >= c->n_endpoints && c->n_endpoints > 1 &&
        (rc == DC_EUNAVAILABLE || rc == DC_ETIMEDOUT))
        c->host->log(DC_LOG_WARN, "etcd", "no endpoint of %s answered %s", c->label, path);
    dc_buf_free(&out);
    free(body);
    etcd_handle_give(c, h);
    return rc;
}
