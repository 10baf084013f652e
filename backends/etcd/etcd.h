/*
 * Private declarations of the etcd driver (ddlcoord-etcd.so), which speaks
 * etcd v3's gRPC-JSON gateway over HTTP/1.1 with libcurl and cJSON.
 *
 * Files: driver.c (the dc_driver table, open/close, options), http.c (one
 * unary POST with endpoint fail-over, timeouts and error mapping), auth.c
 * (token fetch and refresh), json.c (base64, int64-as-string, kv parsing),
 * kv.c (get, txn, put, delete, compact), watch.c (streaming watches, one
 * thread each), lease.c (grant, keepalive, revoke).
 *
 * Memory: every function that returns a pointer says who frees it; cJSON
 * trees returned by etcd_call belong to the caller (cJSON_Delete).
 */
#ifndef DC_ETCD_H
#define DC_ETCD_H

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <ddlcoord/driver.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

#define ETCD_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define ETCD_DEFAULT_REQUEST_TIMEOUT_MS 5000

typedef struct etcd_conn {
    const dc_host *host;
    char **endpoints; /* "http://127.0.0.1:2379" (or https), malloc'd */
    size_t n_endpoints;
    atomic_size_t preferred; /* index of the endpoint that answered last */
    char *label;             /* "etcd 127.0.0.1:2379,…" for error messages */
    int tls;
    char *tls_ca, *tls_cert, *tls_key; /* NULL when unset */
    char *username, *password;         /* NULL without auth */
    long connect_timeout_ms, request_timeout_ms;

    pthread_mutex_t pool_mu; /* guards pool: idle easy handles (kept-alive connections) */
    CURL **pool;
    size_t n_pool, cap_pool;

    pthread_mutex_t refresh_mu; /* one authentication at a time */
    pthread_mutex_t auth_mu;    /* guards token and token_gen */
    char *token;                /* NULL until authenticated */
    unsigned token_gen;         /* bumped on every new token */
} etcd_conn;

/* Write a one-line message "etcd <endpoints>: …" into err; returns code. */
int etcd_err(etcd_conn *c, dc_drv_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ------------------------------------------------------------ http.c */

/* How a call treats a failure after its request was sent. */
typedef enum etcd_kind {
    ETCD_READ,  /* safe to retry on another endpoint */
    ETCD_WRITE, /* a lost answer is DC_EUNKNOWN */
    ETCD_LOGIN, /* a read sent without the token (auth/authenticate) */
} etcd_kind;

/* POST req (not consumed) as JSON to path on the preferred endpoint, failing
 * over to the others while nothing can have been applied, within one
 * request timeout overall. On DC_OK *resp is the parsed 200 answer (caller
 * frees). Errors are typed from curl's result, the HTTP status, the JSON
 * "code" and etcd's message text. Blocks; thread-safe. */
int etcd_call(etcd_conn *c, const char *path, const cJSON *req, etcd_kind kind, cJSON **resp,
              dc_drv_err *err);

/* Map a gateway error body (or NULL) with HTTP status to a DC_E… code. *retry
 * is set when the request certainly was not applied and another endpoint
 * might serve it; *reauth when the token was rejected. */
int etcd_map_error(long status, const cJSON *body, etcd_kind kind, int *retry, int *reauth);

/* A configured easy handle from the pool (or a new one), and back. */
CURL *etcd_handle_take(etcd_conn *c);
void etcd_handle_give(etcd_conn *c, CURL *h);
/* Apply the connection-wide options (TLS files, timeouts, HTTP/1.1) to h. */
void etcd_handle_setup(etcd_conn *c, CURL *h);
/* Request headers, with the current token if any (caller frees with
 * curl_slist_free_all); *gen receives the token generation. NULL: no memory. */
struct curl_slist *etcd_headers(etcd_conn *c, int with_token, unsigned *gen);
/* Free the pool. */
void etcd_pool_free(etcd_conn *c);

/* ------------------------------------------------------------ auth.c */

/* Fetch a new token unless one newer than gen already replaced it. No-op
 * without a username. DC_EAUTH on bad credentials. */
int etcd_auth_refresh(etcd_conn *c, unsigned gen, dc_drv_err *err);

/* ------------------------------------------------------------ json.c */

/* Add data as standard padded base64 (etcd's "bytes"). 0, or -1 without memory. */
int etcd_add_b64(cJSON *o, const char *name, const void *data, size_t len);
/* Add v as a JSON string: cJSON would print large numbers in exponent form. */
int etcd_add_i64(cJSON *o, const char *name, int64_t v);
int etcd_add_bool(cJSON *o, const char *name, int v);
/* Decode base64 into a malloc'd NUL-terminated buffer. NULL s = empty.
 * 0, -1 for invalid base64, -2 without memory. */
int etcd_b64_decode(const char *s, char **out, size_t *len);
/* An int64 field (string or number); missing = 0. 0, or -1 when malformed. */
int etcd_get_i64(const cJSON *o, const char *name, int64_t *v);
/* A bool field; missing = 0. */
int etcd_get_bool(const cJSON *o, const char *name);
/* header.revision of a response. */
int etcd_header_rev(const cJSON *o, int64_t *rev);
/* Fill kv from an etcd KeyValue object (missing fields are zero). 0, -1
 * corrupt, -2 no memory; kv is cleared on error. */
int etcd_parse_kv(const cJSON *j, dc_kv *kv);
/* The range_end that selects every key starting with prefix (malloc'd,
 * *len set): drop trailing 0xff bytes, increment the last; "\0" if none. */
char *etcd_prefix_end(const char *prefix, size_t len, size_t *end_len);
/* key (+ range_end for DC_PREFIX) of a request; an empty prefix selects all. */
int etcd_add_key_range(cJSON *o, const char *key, size_t key_len, int prefix);

/* ------------------------------------------------------------ kv.c */

int etcd_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err);
int etcd_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err);
int etcd_compact(void *conn, int64_t revision, dc_drv_err *err);

/* ------------------------------------------------------------ watch.c */

int etcd_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                     dc_drv_err *err);
void etcd_watch_stop(void *conn, void *handle);
/* The store's compact revision, read through a throwaway watch from
 * revision 1 (etcd has no cheaper way to ask). 0 if nothing was compacted. */
int etcd_compact_revision(etcd_conn *c, int64_t *rev, dc_drv_err *err);

/* ------------------------------------------------------------ lease.c */

int etcd_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err);
int etcd_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err);
int etcd_lease_revoke(void *conn, int64_t id, dc_drv_err *err);

#endif
