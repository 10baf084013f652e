/*
 * A unary gRPC call with etcd's fail-over rules.
 *
 * A call starts at the endpoint that answered last and moves on to the next
 * one only while the request certainly was not applied (connection refused,
 * "no leader") or is a read. The whole call, fail-over included, is bounded
 * by one request timeout, because a made-up token or a member without
 * quorum can make etcd hold a request indefinitely.
 *
 * Outcome of writes: once the body has started to leave, a dropped
 * connection or a timeout makes the write's fate unknown (DC_EUNKNOWN);
 * before that it is DC_EUNAVAILABLE / DC_ETIMEDOUT. A rejected token ("invalid
 * auth token": it expired after its idle TTL, or the server restarted and
 * forgot it) is refreshed once and the call retried.
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

/* A TLS server that refuses our client certificate (or our lack of one)
 * under TLS 1.3 says so in an alert after the handshake and closes. Over
 * HTTP/2 our connection preface is already on its way by then, so the
 * server's kernel answers it with a reset that usually wipes out the alert
 * before we read it: what we see is a reset, or a socket that is no longer
 * connected, on a connection whose handshake succeeded, before any answer.
 * That is an authentication failure, not an outage: failing over or
 * retrying would meet the same refusal. */
static int tls_dropped_after_handshake(const etcd_stream *s, CURLcode cc, const char *why)
{
    curl_off_t handshake = 0;
    curl_easy_getinfo(s->easy, CURLINFO_APPCONNECT_TIME_T, &handshake);
    int reset = cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
                (cc == CURLE_COULDNT_CONNECT && strstr(why, "getpeername"));
    return reset && (handshake > 0 || strstr(why, "getpeername"));
}

int etcd_transport_error(etcd_conn *c, const etcd_stream *s, etcd_kind kind, int *retry)
{
    CURLcode cc = s->result;
    const char *why = s->cerr[0] ? s->cerr : curl_easy_strerror(cc);
    *retry = 0;
    if (cc == CURLE_WRITE_ERROR || cc == CURLE_OUT_OF_MEMORY)
        return kind == ETCD_WRITE ? DC_EUNKNOWN : DC_ENOMEM;
    /* TLS 1.3 reports a refused client certificate as an alert on the first
     * read, after the handshake. */
    if (cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
        cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR ||
        (c->tls && strstr(why, "alert") && strstr(why, "certificate")))
        return DC_EAUTH;
    if (c->tls && s->http_status == 0 && tls_dropped_after_handshake(s, cc, why)) return DC_EAUTH;
    if (s->req_started && kind == ETCD_WRITE) return DC_EUNKNOWN;
    *retry = 1;
    return cc == CURLE_OPERATION_TIMEDOUT ? DC_ETIMEDOUT : DC_EUNAVAILABLE;
}

/* Decode the one message of a finished OK call. DC_OK, DC_ENOMEM, or
 * DC_ECORRUPT with a reason in why. */
static int decode(const etcd_stream *s, const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **out, const char **why)
{
    size_t off, len;
    const uint8_t *p = (const uint8_t *)s->resp.p;
    int r = p ? etcd_grpc_next(p, s->resp.len, ETCD_MAX_MESSAGE, &off, &len) : 0;
    if (r <= 0) {
        *why = r < 0 ? "a malformed gRPC frame" : "no complete message";
        return DC_ECORRUPT;
    }
    if (off + len != s->resp.len) {
        *why = "bytes after the message";
        return DC_ECORRUPT;
    }
    etcd_alloc al;
    etcd_alloc_init(&al);
    *out = protobuf_c_message_unpack(desc, &al.a, len, p + off);
    if (*out) return DC_OK;
    *why = "a message that is not valid protobuf";
    return al.failed ? DC_ENOMEM : DC_ECORRUPT;
}

/* The method's short name for messages: "/etcdserverpb.KV/Range" -> "KV/Range". */
static const char *short_name(const char *method)
{
    const char *dot = strchr(method, '.');
    return dot ? dot + 1 : method;
}

int etcd_rpc(etcd_conn *c, const char *method, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, etcd_kind kind, ProtobufCMessage **resp,
             dc_drv_err *err)
{
    *resp = NULL;
    const char *name = short_name(method);
    uint8_t *body;
    size_t body_len;
    if (etcd_grpc_frame(req, &body, &body_len) != 0)
        return etcd_err(c, err, DC_ENOMEM, "out of memory building a %s request", name);
    if ((int64_t)body_len - 5 > c->max_send_bytes) {
        free(body);
        return etcd_err(c, err, DC_ETOOBIG,
                        "%s request of %zu bytes is larger than max_send_bytes (%lld); etcd "
                        "reads at most --max-request-bytes + 512 KiB",
                        name, body_len - 5, (long long)c->max_send_bytes);
    }
    etcd_stream *s = etcd_stream_take(c);
    if (!s) {
        free(body);
        return etcd_err(c, err, DC_ENOMEM, "out of memory starting a %s call", name);
    }
    int64_t deadline = dc__now_ms() + c->request_timeout_ms;
    size_t first = atomic_load(&c->preferred) % c->n_endpoints;
    size_t tried = 0;
    int reauthed = 0, repk = 0, rc = DC_EUNAVAILABLE;

    while (tried < c->n_endpoints) {
        size_t ep = (first + tried) % c->n_endpoints;
        int64_t left = deadline - dc__now_ms();
        if (left <= 0) {
            rc = etcd_err(c, err, DC_ETIMEDOUT, "%s: no answer within %ld ms", name,
                          c->request_timeout_ms);
            break;
        }
        /* The stream owns the body it is given: each attempt sends a copy. */
        uint8_t *copy = malloc(body_len);
        if (!copy) {
            rc = etcd_err(c, err, DC_ENOMEM, "out of memory building a %s request", name);
            break;
        }
        memcpy(copy, body, body_len);
        if (etcd_stream_prepare(s, ep, method, copy, body_len, kind, (long)left) != DC_OK) {
            rc = etcd_err(c, err, DC_ENOMEM, "out of memory building headers");
            break;
        }
        etcd_stream_run(s);
        const char *epname = c->endpoints[ep];

        /* A server that refuses a request it has not read whole (one above
         * its receive limit) sends its status and then resets the stream,
         * which libcurl reports as an error: the status is the answer. */
        if (s->result != CURLE_OK && s->grpc_status <= 0) {
            int retry;
            rc = etcd_transport_error(c, s, kind, &retry);
            const char *why = s->cerr[0] ? s->cerr : curl_easy_strerror(s->result);
            if (rc == DC_EUNKNOWN)
                etcd_err(c, err, rc,
                         "%s at %s: %s after the request was sent; it may or may not have been "
                         "applied",
                         name, epname, why);
            else if (rc == DC_EAUTH)
                etcd_err(c, err, rc,
                         "%s at %s: TLS: %s (a refused or missing client certificate, "
                         "tls_cert/tls_key)",
                         name, epname, why);
            else
                etcd_err(c, err, rc, "%s at %s: %s", name, epname, why);
            if (!retry) break;
            tried++;
            continue;
        }
        if (s->result == CURLE_OK && !c->tls && !s->prior_knowledge && !repk &&
            (s->http_version == CURL_HTTP_VERSION_1_0 ||
             s->http_version == CURL_HTTP_VERSION_1_1)) {
            /* Our guess that a connection to reuse existed was wrong: the
             * request went out as HTTP/1.1, which etcd does not serve (and
             * so did not apply). Again, opening the connection as h2c. */
            repk = 1;
            s->force_pk = 1;
            c->host->log(DC_LOG_INFO, "etcd", "%s: %s went out as HTTP/1.1 to %s; again as h2c",
                         c->label, name, epname);
            continue;
        }
        if (s->http_status != 200 ||
            (s->http_version != CURL_HTTP_VERSION_2_0 && s->http_version != CURL_HTTP_VERSION_3)) {
            /* Not a gRPC server (a proxy, an HTTP/1.1-only port). */
            rc = etcd_err(c, err, DC_EUNAVAILABLE,
                          "%s at %s: HTTP %ld over HTTP version code %ld: not an etcd gRPC "
                          "endpoint",
                          name, epname, s->http_status, s->http_version);
            tried++;
            continue;
        }
        if (s->grpc_status != GRPC_OK) {
            int retry = 0, reauth = 0;
            if (s->grpc_status < 0) {
                /* The stream ended without a status: cut short. */
                rc = kind == ETCD_WRITE ? DC_EUNKNOWN : DC_EUNAVAILABLE;
                retry = kind != ETCD_WRITE;
                etcd_err(c, err, rc, "%s at %s: the answer ended without a gRPC status", name,
                         epname);
            } else {
                rc = etcd_grpc_map(s->grpc_status, s->grpc_msg, kind, &retry, &reauth);
                etcd_err(c, err, rc, "%s at %s: gRPC status %d: %s", name, epname, s->grpc_status,
                         s->grpc_msg[0] ? s->grpc_msg : "(no message)");
            }
            if (reauth && c->username && !reauthed && kind != ETCD_LOGIN) {
                reauthed = 1;
                int arc = etcd_auth_refresh(c, s->token_gen, err);
                if (arc != DC_OK) {
                    rc = arc;
                    break;
                }
                continue;
            }
            if (!retry) break;
            if (++tried == c->n_endpoints && rc == DC_EUNAVAILABLE &&
                deadline - dc__now_ms() > 300) {
                /* Every member said "no leader" (an election is running):
                 * wait a little and go round again within the deadline. */
                dc__sleep_ms(100);
                tried = 0;
            }
            continue;
        }
        const char *why = NULL;
        rc = decode(s, resp_desc, resp, &why);
        if (rc == DC_ENOMEM) {
            etcd_err(c, err, rc, "%s: out of memory decoding the answer", name);
        } else if (rc != DC_OK) {
            c->host->log(DC_LOG_ERROR, "etcd", "%s: %s answered %s with %s (%zu bytes)", c->label,
                         epname, name, why, s->resp.len);
            rc = etcd_err(c, err, kind == ETCD_WRITE ? DC_EUNKNOWN : DC_ECORRUPT,
                          "%s at %s: malformed answer: %s", name, epname, why);
        } else {
            atomic_store(&c->preferred, ep);
        }
        break;
    }
    if (rc != DC_OK && tried >= c->n_endpoints && c->n_endpoints > 1 &&
        (rc == DC_EUNAVAILABLE || rc == DC_ETIMEDOUT))
        c->host->log(DC_LOG_WARN, "etcd", "no endpoint of %s answered %s", c->label, name);
    free(body);
    etcd_stream_give(c, s);
    return rc;
}
