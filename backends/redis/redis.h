/*
 * Private declarations of the Redis driver (ddlcoord-redis.so).
 *
 * Layout in Redis (everything under one hash tag "{<prefix>}", so that MULTI
 * and scripts may touch all of it and several stores can share one server):
 *   {P}rev             string  store revision (an empty store is at 1)
 *   {P}compact         string  compact revision C: events below C are gone
 *   {P}kv:<key>        hash    v c m ver lease
 *   {P}idx             zset    every live key, score 0 (ZRANGEBYLEX = byte order)
 *   {P}log             stream  one entry per event, ID <rev>-<i>
 *   {P}leases          zset    lease id -> deadline (ms, server clock)
 *   {P}lease:<id>      hash    ttl (ms)
 *   {P}lease:<id>:keys set     keys attached to the lease
 *   {P}leaseid         string  lease id counter (its first value is drawn from the clock)
 *   {P}epoch           string  a random token naming this history (guard.c)
 * Event fields: t (P/D) k v c ver lea, n (events in the revision), prev kv
 * pv pc pm pver plea when the key existed, and on the first entry of a
 * revision x (the writer's idempotency token) and b (1 = then-branch ran).
 *
 * Ownership: every rd_* function that fills a result allocates with malloc;
 * replies (redisReply) are freed by whoever received them.
 */
#ifndef DC_REDIS_H
#define DC_REDIS_H

#include <ddlcoord/driver.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "buf.h"

#define RD_MODE_LUA   0
#define RD_MODE_MULTI 1

#define RD_MAX_TXN_OPS    128
#define RD_MAX_VALUE      (1536 * 1024)
#define RD_WATCH_BLOCK_MS 1000
#define RD_READ_BATCH     512

typedef struct rd_pump rd_pump;
typedef struct rd_reaper rd_reaper;

typedef struct rd_store {
    const dc_host *host;
    char *hostname; /* redis://: the server; redis+sentinel://: NULL */
    int port;
    /* redis+sentinel:// (sentinel.c): the sentinels, the master's name,
     * and the master they named last, confirmed by ROLE */
    int sentinel;
    size_t n_sentinels;
    char **s_hosts;
    int *s_ports;
    char *master_name;
    char *s_user, *s_password; /* sentinel_username / sentinel_password */
    pthread_mutex_t master_mu;
    char master_host[256]; /* "" until the first connection */
    int master_port;
    _Atomic int next_sentinel; /* the one to ask first: the last that answered */
    _Atomic int stale;         /* -READONLY seen: pooled connections go to a replica */
    /* min_replicas_ack=N: every write is followed by WAIT N min_replicas_timeout_ms */
    int64_t min_acks, wait_ms;
    int db;
    char *user, *password;
    int mode;         /* RD_MODE_LUA / RD_MODE_MULTI */
    int use_fcall;    /* lua mode: 1 = FUNCTION library, 0 = EVALSHA fallback */
    char sha[41];     /* EVALSHA fallback: SHA1 of the script */
    char *lib_text;   /* the function library (FUNCTION LOAD) */
    char *eval_text;  /* the same code as a plain script (EVAL) */
    char version[17]; /* hash of the library text */
    char *base;       /* "{prefix}" */
    size_t base_len;
    int connect_timeout_ms, request_timeout_ms;
    int64_t max_value, max_ops;
    int allow_unsafe;   /* allow_unsafe_durability=1 */
    char epoch[33];     /* {P}epoch as read at open (guard.c) */
    char endpoint[300]; /* "redis 127.0.0.1:6379" for messages */

    pthread_mutex_t pool_mu;
    redisContext **pool;
    size_t n_pool, cap_pool;

    _Atomic int64_t last_rev; /* highest revision any reply showed: the server must never
                               * be below it (guard.c) */

    pthread_mutex_t pump_mu; /* guards pump creation */
    rd_pump *pump;
    rd_reaper *reaper;
} rd_store;

/* ------------------------------------------------------------ commands (cmd.c) */

/* An argv under construction; every argument is a private copy. */
typedef struct rd_cmd {
    char **v;
    size_t *len;
    size_t n, cap;
    int oom;
} rd_cmd;

void rd_cmd_init(rd_cmd *c);
void rd_cmd_free(rd_cmd *c);
void rd_cmd_add(rd_cmd *c, const void *p, size_t len);
void rd_cmd_str(rd_cmd *c, const char *s);
void rd_cmd_int(rd_cmd *c, int64_t v);
/* base + suffix + tail bytes, e.g. key names "{P}kv:<key>" */
void rd_cmd_key(rd_cmd *c, const rd_store *s, const char *suffix, const void *tail,
                size_t tail_len);

/* ------------------------------------------------------------ connections (conn.c) */

#define RD_IO    (-1000) /* internal: the connection failed mid-call (the request may have gone) */
#define RD_AGAIN (-1001) /* internal: the server did not run it (LOADING, BUSY, lost WATCH…) */

/* Run fn on a pooled connection; RD_IO and RD_AGAIN are retried on a fresh
 * connection until the request timeout, then reported as DC_EUNAVAILABLE.
 * Only for calls that are safe to repeat (reads, or writes that resolve their
 * own outcome first). */
typedef int (*rd_fn)(rd_store *s, redisContext *ctx, void *arg, dc_drv_err *err);
int rd_retrying(rd_store *s, rd_fn fn, void *arg, dc_drv_err *err);
/* ZRANGEBYLEX bounds of a prefix ("-"/"+" for everything). */
int rd_bounds(const char *prefix, size_t len, dc_buf *lo, dc_buf *hi);

/* A fresh, authenticated connection to the server; with Sentinel, to the
 * master the sentinels name, confirmed by ROLE (sentinel.c). */
int rd_connect(rd_store *s, redisContext **out, int timeout_ms, dc_drv_err *err);
/* A connection to host:port (AUTH and SELECT done). */
int rd_connect_to(rd_store *s, const char *host, int port, redisContext **out, int timeout_ms,
                  dc_drv_err *err);
/* Like rd_retrying, for writes: with min_replicas_ack, fn's success is
 * followed by WAIT on the same connection, and too few replicas is
 * DC_EUNKNOWN (the write applied on the master but may not survive it). */
int rd_retrying_write(rd_store *s, rd_fn fn, void *arg, dc_drv_err *err);
/* WAIT min_acks wait_ms on ctx: DC_OK, or DC_EUNKNOWN (err filled). A no-op
 * without min_replicas_ack. */
int rd_wait_acks(rd_store *s, redisContext *ctx, dc_drv_err *err);
/* Block SIGPIPE in the calling thread for good (the driver's own threads). */
void rd_block_sigpipe(void);
/* Borrow a connection from the pool (connecting if none is idle). SIGPIPE is
 * blocked in the calling thread until the matching rd_return. */
int rd_borrow(rd_store *s, redisContext **out, dc_drv_err *err);
/* Give it back; broken ones (ctx->err set or broken != 0) are freed. */
void rd_return(rd_store *s, redisContext *ctx, int broken);
void rd_pool_free(rd_store *s);
/* Free the idle connections (after one turned out dead). */
void rd_pool_drain(rd_store *s);
/* Send cmds[0..n) as one pipeline and read n replies into replies[].
 * Returns DC_OK, RD_IO (connection broken: replies freed), or DC_ENOMEM.
 * Error replies are returned as replies, not as failures. */
int rd_pipeline(rd_store *s, redisContext *ctx, rd_cmd *cmds, size_t n, redisReply **replies,
                dc_drv_err *err);
void rd_replies_free(redisReply **r, size_t n);
/* Map an error reply to a DC_E code and fill err. */
int rd_reply_error(rd_store *s, const redisReply *r, const char *what, dc_drv_err *err);
/* Fill err for a broken connection; returns code. */
int rd_io_error(rd_store *s, redisContext *ctx, int code, const char *what, dc_drv_err *err);
/* 1 if an error reply means "not executed, try again shortly" (LOADING,
 * BUSY…, and -READONLY: the connection reached a replica, which marks the
 * store's connections stale so that the next ones ask Sentinel again). */
int rd_reply_retryable(rd_store *s, const redisReply *r);

/* ------------------------------------------------------------ Sentinel (sentinel.c) */

/* Parse the sentinel list and the master name of a redis+sentinel:// URI
 * into s (hosts: the URI's, path: the master name). DC_EINVAL / DC_ENOMEM. */
struct dc_uri;
int rd_sentinel_setup(rd_store *s, const struct dc_uri *u, dc_drv_err *err);
void rd_sentinel_free(rd_store *s);
/* Ask the sentinels for the master, connect, confirm ROLE master. */
int rd_sentinel_connect(rd_store *s, redisContext **out, int timeout_ms, dc_drv_err *err);
/* Whether a pooled connection may still be used (same address as the
 * master last confirmed, and no -READONLY seen since). */
int rd_sentinel_current(rd_store *s, const redisContext *ctx);
int rd_err(dc_drv_err *err, int code, const rd_store *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void rd_note_rev(rd_store *s, int64_t rev);
/* A random token for idempotent writes (32 hex digits + NUL). */
void rd_token(char out[33]);

/* ------------------------------------------------------------ replies (decode.c) */

int rd_int(const redisReply *r, int64_t *out);  /* integer or decimal string */
int rd_kv_from_flat(dc_kv *kv, redisReply **f); /* 6 elements: key v c m ver lease */
/* 1 if a and b are arrays of the same strings in the same order (a key
 * listing read twice did not move between the reads). */
int rd_same_strings(const redisReply *a, const redisReply *b);
int rd_kvs_from_flat(const redisReply *arr, dc_kv **kvs, size_t *n);
/* The fields of a kv hash (HMGET v c m ver lease) into kv (key set by caller).
 * Returns 1 if present, 0 if missing, -1 if corrupt. */
int rd_hash_to_kv(const redisReply *r, dc_kv *kv);
/* Parse "<rev>-<seq>". */
int rd_parse_id(const redisReply *r, int64_t *rev, int64_t *seq);
/* A stream entry ([id, [f, v, …]]) into an event; *n = its revision's size.
 * Returns 0 or -1 (corrupt; err filled) or -2 (no memory). */
int rd_entry_to_event(const redisReply *entry, dc_event *ev, int64_t *rev, int64_t *seq,
                      int64_t *n);
/* A field of a stream entry's field list, or NULL. */
const redisReply *rd_entry_field(const redisReply *fields, const char *name);

/* ------------------------------------------------------------ guard.c */

/* Refuse (DC_EUNSUPPORTED) a server that can lose acknowledged writes,
 * unless allow_unsafe is set (then one WARN line). */
int rd_durability_check(rd_store *s, redisContext *ctx, dc_drv_err *err);
/* Create {P}epoch if missing and read it into s->epoch. */
int rd_epoch_init(rd_store *s, redisContext *ctx, dc_drv_err *err);
/* A GET {P}epoch reply: DC_OK if it is ours, DC_ERESET (err filled) if it
 * is missing or different, RD_AGAIN or an error for an error reply. */
int rd_epoch_check(rd_store *s, const redisReply *r, dc_drv_err *err);
/* DC_ERESET (err filled) if the server's revision rev is below floor, the
 * highest revision seen before the request was sent; else DC_OK. */
int rd_floor_check(rd_store *s, int64_t rev, int64_t floor, dc_drv_err *err);

/* ------------------------------------------------------------ scripts (script.c) */

extern const char rd_lua_src[];
int rd_script_init(rd_store *s, dc_drv_err *err);
/* Start a function call: FCALL name 1 base epoch floor … or EVALSHA sha 1
 * base name epoch floor …, where floor is the highest revision seen. */
void rd_script_cmd(rd_store *s, rd_cmd *c, const char *fn, int read_only);
/* Run one script command; reloads the library / script once if the server
 * lost it. Returns DC_OK with *reply set (may be an error reply), or an error. */
int rd_script_call(rd_store *s, redisContext *ctx, rd_cmd *c, redisReply **reply, dc_drv_err *err);

/* ------------------------------------------------------------ operations */

int rd_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err);
/* A paged read at a fixed revision (page.c). */
int rd_get_page(void *conn, const dc_page_req *req, dc_kvs *out, dc_drv_err *err);
int rd_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err);
/* retry_after > 0: this is a resend after a lost reply; the write checks, at
 * execution time, that its token is not already in the log above that
 * revision, and answers RD_APPLIED if it is. */
#define RD_APPLIED (-1003)
int rd_txn_lua(rd_store *s, redisContext *ctx, const dc_txn_req *req, const char *token,
               int64_t retry_after, dc_txn_result *out, dc_drv_err *err);
/* A lease revocation done by the multi-mode writer: delete the lease's keys
 * at one revision and its records, if its deadline is <= not_after (ms). */
typedef struct rd_revoke {
    int64_t id;
    int64_t not_after;
    int found; /* out: the lease existed */
} rd_revoke;
/* Multi mode (WATCH + MULTI/EXEC). With rv, req is ignored and the lease is
 * revoked instead. */
/* Whether token is in the first entry of a revision above `after`: *found
 * is the revision, or 0. Reads pages of the log (multi mode, under WATCH). */
int rd_token_in_log(rd_store *s, redisContext *ctx, const char *token, int64_t after,
                    int64_t *found, dc_drv_err *err);
int rd_txn_multi(rd_store *s, redisContext *ctx, const dc_txn_req *req, const char *token,
                 int64_t retry_after, rd_revoke *rv, dc_txn_result *out, dc_drv_err *err);
int rd_compact(void *conn, int64_t revision, dc_drv_err *err);

int rd_watch_start(void *conn, const dc_watch_req *req, dc_watch_sink *sink, void **handle,
                   dc_drv_err *err);
void rd_watch_stop(void *conn, void *handle);
void rd_pump_free(rd_store *s);

int rd_lease_grant(void *conn, int64_t ttl, int64_t *id, int64_t *granted, dc_drv_err *err);
int rd_lease_keepalive(void *conn, int64_t id, int64_t *ttl, dc_drv_err *err);
int rd_lease_revoke(void *conn, int64_t id, dc_drv_err *err);
int rd_reaper_start(rd_store *s);
void rd_reaper_stop(rd_store *s);

#endif
