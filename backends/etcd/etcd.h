/*
 * Private declarations of the etcd driver (ddlcoord-etcd.so), which speaks
 * etcd v3's native gRPC API over HTTP/2 with libcurl, its messages encoded
 * with protobuf-c from our own etcd.proto (see docs/backends/etcd.md).
 *
 * Files, bottom up:
 *   grpc.c    gRPC framing, grpc-status / grpc-message, status -> DC_E… codes
 *             (pure functions, no I/O: unit-tested and fuzzed alone)
 *   loop.c    the handle's one event-loop thread that drives a curl multi
 *             handle: every call and every watch of the handle is an HTTP/2
 *             stream multiplexed on one connection per endpoint
 *   stream.c  one HTTP/2 request (headers, framed body, response capture)
 *   rpc.c     a unary call with endpoint fail-over, deadline and token refresh
 *   auth.c    Authenticate, and the thread that refreshes tokens for watches
 *   pb.c      protobuf-c <-> dc_kv / dc_event conversions
 *   kv.c      Range, Put, DeleteRange, Txn, Compact, paged reads
 *   watch.c   one half-closed Watch stream per watch, resumed on the loop
 *   watch_group.c  many watches moved onto one stream (curl visits every
 *             stream of a connection on each event: fewer streams, less work)
 *   lease.c   LeaseGrant, LeaseRevoke, LeaseKeepAlive
 *   driver.c  the dc_driver table, open/close, options
 *
 * Threads: callers of the driver functions build a request, hand it to the
 * loop (etcd_loop_post) and sleep on the stream's condition variable until
 * the loop finished it. Only the loop thread touches the curl multi handle
 * and streams that are in it; watches live entirely on the loop thread
 * except for the start and stop handshakes.
 */
#ifndef DC_ETCD_H
#define DC_ETCD_H

#include <curl/curl.h>
#include <ddlcoord/driver.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"
#include "etcd.pb-c.h"

#define ETCD_DEFAULT_CONNECT_TIMEOUT_MS 3000
#define ETCD_DEFAULT_REQUEST_TIMEOUT_MS 5000
/* Largest request we send, like clientv3's MaxCallSendMsgSize: etcd's
 * gRPC server reads at most --max-request-bytes + 512 KiB (2 MiB with the
 * defaults) and resets a stream whose message is longer before it answers,
 * which would leave a write's outcome unknown; refusing it here is exact. */
#define ETCD_DEFAULT_MAX_SEND_BYTES (2 * 1024 * 1024)
/* Largest gRPC message we accept from the server (a Range of many keys can
 * be big; the 4-byte length allows up to 4 GiB, which we do not buffer). */
#define ETCD_MAX_MESSAGE (512u * 1024u * 1024u)

typedef struct etcd_conn etcd_conn;
typedef struct etcd_stream etcd_stream;
typedef struct etcd_watch etcd_watch;

/* Work for the loop thread, embedded in whatever it concerns (no malloc). */
typedef struct etcd_job {
    struct etcd_job *next;
    void (*run)(etcd_conn *c, struct etcd_job *job);
    int queued; /* guarded by the loop's mutex */
} etcd_job;

struct etcd_conn {
    const dc_host *host;
    char **endpoints; /* "http://127.0.0.1:2379" (or https), malloc'd */
    size_t n_endpoints;
    atomic_size_t preferred; /* index of the endpoint that answered last */
    char *label;             /* "etcd 127.0.0.1:2379,…" for error messages */
    int tls;
    char *tls_ca, *tls_cert, *tls_key; /* NULL when unset */
    char *username, *password;         /* NULL without auth */
    long connect_timeout_ms, request_timeout_ms;
    int64_t max_send_bytes;

    /* loop.c */
    CURLM *multi;
    pthread_t loop_thread;
    int loop_running;
    pthread_mutex_t loop_mu; /* guards jobs, loop_stop and loop_idle */
    etcd_job *jobs, *jobs_tail;
    int loop_stop;
    int loop_idle; /* the loop is in (or about to enter) curl_multi_poll */
    /* Loop-thread only: watches waiting to reconnect, soonest first not
     * required (few of them, scanned on each pass). */
    etcd_watch *retry;
    /* Loop-thread only (watch.c, watch_group.c): every started watch, the
     * groups (one stream serving many watches), and whether a group is
     * being formed or one is due. */
    etcd_watch *watches;
    struct etcd_wgroup *groups;
    int group_forming, group_due;
    etcd_job sweep_job; /* watch_group.c: removals deferred out of curl callbacks */
    /* Loop-thread only: open sockets per endpoint and the endpoint of each
     * socket by descriptor (loop.c: how a transfer picks its HTTP version). */
    int *ep_sockets;
    int *ep_pk_inflight; /* transfers in the multi that asked for prior knowledge */
    int *sock_ep;
    size_t n_sock_ep;
    int unary_in_multi; /* loop-thread only: calls (not watches) in the multi */

    /* kv.c: where the last paged read stopped, to bound the next page's
     * range (etcd_get_page); guarded by page_mu. */
    pthread_mutex_t page_mu;
    struct etcd_page_hint {
        uint8_t *prefix, *last; /* malloc'd; NULL when there is no hint */
        size_t prefix_len, last_len;
        int64_t revision;
        size_t pos;    /* keys read as 8-byte big-endian numbers from this byte */
        uint64_t step; /* the next page: from last to number(last) + step */
    } page_hint;

    /* stream.c: idle unary streams with their easy handles */
    pthread_mutex_t pool_mu;
    etcd_stream **pool;
    size_t n_pool, cap_pool;

    /* auth.c */
    pthread_mutex_t refresh_mu; /* one authentication at a time */
    pthread_mutex_t auth_mu;    /* guards token, token_gen, auth_* below */
    char *token;                /* NULL until authenticated */
    unsigned token_gen;         /* bumped on every new token */
    pthread_cond_t auth_cv;     /* wakes the refresher thread */
    pthread_t auth_thread;
    int auth_thread_running, auth_stop;
    int auth_wanted;        /* a watch found token generation auth_want_gen rejected */
    unsigned auth_want_gen; /* guarded by auth_mu */
    etcd_job token_job;     /* watch.c: wake the watches that wait for a token */
};

/* Write a one-line message "etcd <endpoints>: …" into err; returns code. */
int etcd_err(etcd_conn *c, dc_drv_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* How a call treats a failure after its request was sent. */
typedef enum etcd_kind {
    ETCD_READ,  /* safe to retry on another endpoint */
    ETCD_WRITE, /* a lost answer is DC_EUNKNOWN */
    ETCD_LOGIN, /* a read sent without the token (Authenticate) */
} etcd_kind;

/* ------------------------------------------------------------ grpc.c */

/* gRPC status codes that the mapping names. */
enum {
    GRPC_OK = 0,
    GRPC_CANCELLED = 1,
    GRPC_UNKNOWN = 2,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_ALREADY_EXISTS = 6,
    GRPC_PERMISSION_DENIED = 7,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_FAILED_PRECONDITION = 9,
    GRPC_ABORTED = 10,
    GRPC_OUT_OF_RANGE = 11,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
    GRPC_DATA_LOSS = 15,
    GRPC_UNAUTHENTICATED = 16,
};

/* Pack msg behind gRPC's 5-byte prefix (flag 0 = uncompressed, big-endian
 * length) into a malloc'd buffer. 0, or -1 without memory. */
int etcd_grpc_frame(const ProtobufCMessage *msg, uint8_t **out, size_t *len);

/* Look for one whole message at the start of p[0..len). Returns 1 and sets
 * *off and *msg_len (the message is p[*off .. *off + *msg_len), the frame ends
 * at *off + *msg_len), 0 when more bytes are needed, -1 when the frame is
 * malformed (compressed, which we never allow, or longer than max). */
int etcd_grpc_next(const uint8_t *p, size_t len, size_t max, size_t *off, size_t *msg_len);

/* Parse one response header line ("name: value\r\n", as curl's header
 * callback hands it over, trailers included). Sets *status for grpc-status
 * and copies the percent-decoded grpc-message into msg (cap bytes, NUL
 * terminated, control bytes replaced by spaces). Returns 1 when the line
 * was one of the two, else 0. */
int etcd_grpc_header(const char *line, size_t len, int *status, char *msg, size_t cap);

/* Map a non-OK grpc status with etcd's message onto a DC_E… code. *retry is
 * set when the request certainly was not applied and another endpoint might
 * serve it; *reauth when the token was rejected or missing. */
int etcd_grpc_map(int status, const char *msg, etcd_kind kind, int *retry, int *reauth);

/* A protobuf-c allocator on malloc that remembers a failed allocation, so a
 * decode that returns NULL tells "no memory" from "malformed". */
typedef struct etcd_alloc {
    ProtobufCAllocator a;
    int failed;
} etcd_alloc;
void etcd_alloc_init(etcd_alloc *al);

/* ------------------------------------------------------------ loop.c */

/* Start / stop the handle's loop thread (and its curl multi handle).
 * etcd_loop_start: DC_OK or DC_ENOMEM. etcd_loop_stop: every stream must
 * already be finished or cancelled. */
int etcd_loop_start(etcd_conn *c);
void etcd_loop_stop(etcd_conn *c);
/* Queue job for the loop thread and wake it. Any thread; a job already in
 * the queue is not queued twice. */
void etcd_loop_post(etcd_conn *c, etcd_job *job);
/* Let the loop see the sockets that s's transfers open and close. */
void etcd_loop_track_sockets(etcd_conn *c, etcd_stream *s);
/* Loop thread only: put a stream into the multi handle / take it out. */
int etcd_loop_add(etcd_conn *c, etcd_stream *s);
void etcd_loop_remove(etcd_conn *c, etcd_stream *s);

/* ------------------------------------------------------------ stream.c */

struct etcd_stream {
    etcd_conn *c;
    CURL *easy;
    struct curl_slist *hdrs;
    size_t ep; /* endpoint index */
    uint8_t *req;
    size_t req_len, req_off;
    int req_started; /* libcurl took body bytes: the request is on the wire */
    dc_buf resp;     /* response bytes not consumed yet */
    int grpc_status; /* -1 until a grpc-status header or trailer arrived */
    char grpc_msg[256];
    unsigned token_gen; /* token generation the request carried */
    CURLcode result;
    long http_status;
    long http_version;
    char cerr[CURL_ERROR_SIZE];
    int in_multi;
    int prior_knowledge; /* plain HTTP: this transfer opens its connection as h2c */
    int force_pk;        /* the next transfer must (an HTTP/1.1 answer came back) */
    /* Streaming: called on the loop thread after bytes were appended to
     * resp (consume what it can); non-zero aborts the transfer. */
    int (*on_data)(etcd_stream *s);
    /* Called on the loop thread once the transfer finished; NULL: wake the
     * thread that waits in etcd_stream_wait. */
    void (*on_end)(etcd_stream *s);
    void *owner;
    etcd_job add_job, cancel_job;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

/* A unary stream from the pool (or a new one): NULL without memory. */
etcd_stream *etcd_stream_take(etcd_conn *c);
/* Back to the pool (or freed). Only when finished. */
void etcd_stream_give(etcd_conn *c, etcd_stream *s);
/* A stream of its own (watches); freed with etcd_stream_free. */
etcd_stream *etcd_stream_new(etcd_conn *c);
void etcd_stream_free(etcd_stream *s);
/* Set s up to call method (such as /etcdserverpb.KV/Range) on endpoint ep with
 * the framed body (taken over: freed by the stream), the token unless
 * ETCD_LOGIN, and a transfer timeout (0 = none, for watches). DC_OK or
 * DC_ENOMEM. The stream must not be in the loop. */
int etcd_stream_prepare(etcd_stream *s, size_t ep, const char *method, uint8_t *body,
                        size_t body_len, etcd_kind kind, long timeout_ms);
/* Hand a prepared stream to the loop (unary) and wait until it finished.
 * The caller then reads result, http_status, grpc_status and resp. */
void etcd_stream_run(etcd_stream *s);
/* Loop thread: the transfer finished with result (also on cancel). */
void etcd_stream_finished(etcd_stream *s, CURLcode result);
/* Free the pool's streams. */
void etcd_pool_free(etcd_conn *c);

/* ------------------------------------------------------------ rpc.c */

/* Call method with req on the preferred endpoint, failing over to the
 * others while nothing can have been applied, within one request timeout.
 * On DC_OK *resp is the decoded answer (free with
 * protobuf_c_message_free_unpacked(*resp, NULL)). Errors are typed from
 * libcurl's result, the HTTP status, grpc-status and etcd's message text.
 * Blocks; thread-safe. */
int etcd_rpc(etcd_conn *c, const char *method, const ProtobufCMessage *req,
             const ProtobufCMessageDescriptor *resp_desc, etcd_kind kind, ProtobufCMessage **resp,
             dc_drv_err *err);
/* A transport failure of stream s (result != CURLE_OK) as a DC_E… code,
 * with *retry set when another endpoint may be tried. */
int etcd_transport_error(etcd_conn *c, const etcd_stream *s, etcd_kind kind, int *retry);

/* ------------------------------------------------------------ auth.c */

/* Fetch a new token unless one newer than gen already replaced it. No-op
 * without a username. DC_EAUTH on bad credentials. Blocks. */
int etcd_auth_refresh(etcd_conn *c, unsigned gen, dc_drv_err *err);
/* Start / stop the thread that refreshes the token for watches (whose
 * streams live on the loop thread, which must never block on a call). */
int etcd_auth_thread_start(etcd_conn *c);
void etcd_auth_thread_stop(etcd_conn *c);
/* Any thread: a watch found token generation gen rejected; refresh it in
 * the background, then restart the watches waiting for it. */
void etcd_auth_want(etcd_conn *c, unsigned gen);
/* The current token generation. */
unsigned etcd_token_gen(etcd_conn *c);

/* ------------------------------------------------------------ pb.c */

/* Copy a KeyValue into kv (malloc'd, NUL-terminated). 0, or -2 without
 * memory (kv cleared). */
int etcd_kv_from_pb(const Etcdpb__KeyValue *p, dc_kv *kv);
/* An array of KeyValue into a malloc'd dc_kv array. 0, -2. */
int etcd_kvs_from_pb(Etcdpb__KeyValue *const *p, size_t n, dc_kv **out, size_t *n_out);
/* The range_end that selects every key starting with prefix (malloc'd,
 * *len set): drop trailing 0xff bytes, increment the last; "\0" if none.
 * NULL without memory. */
uint8_t *etcd_prefix_end(const char *prefix, size_t len, size_t *end_len);

/* ------------------------------------------------------------ kv.c */

int etcd_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err);
int etcd_get_page(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err);
int etcd_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err);
int etcd_compact(void *conn, int64_t revision, dc_drv_err *err);

/* ------------------------------------------------------------ watch.c */

int etcd_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                     dc_drv_err *err);
void etcd_watch_stop(void *conn, void *handle);
/* The store's compact revision, read through a throwaway watch from
 * revision 1 (etcd has no cheaper way to ask). 0 if nothing was compacted. */
int etcd_compact_revision(etcd_conn *c, int64_t *rev, dc_drv_err *err);
/* Loop thread: start the connections of waiting watches that are due;
 * returns the milliseconds until the next one (-1: none waits). */
long etcd_watch_tick(etcd_conn *c);
/* watch_group.c, loop stopped: free every group (no watch is left). */
void etcd_group_free_all(etcd_conn *c);
/* Any thread: watches that wait for a fresh token may reconnect now. */
void etcd_watch_token_ready(etcd_conn *c);

/* ------------------------------------------------------------ lease.c */

int etcd_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err);
int etcd_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err);
int etcd_lease_revoke(void *conn, int64_t id, dc_drv_err *err);

#endif
