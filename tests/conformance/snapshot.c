/*
 * Reads are consistent snapshots. A writer thread keeps an invariant across
 * several keys of one prefix, changing all of them in one txn each time (two
 * keys always hold the same counter, and a token key moves by delete + put),
 * while reader threads read the prefix with plain gets and with txns of
 * several gets, and check the invariant in every snapshot they see.
 */
#include "conformance.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define SNAP_WRITES  200
#define SNAP_READERS 2

typedef struct snap_ctx {
    char x[300], y[300], tok[300];
    pthread_mutex_t mu;
    int writer_done;
    int failed;
    char msg[512];
    long reads;
} snap_ctx;

static void snap_fail(snap_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void snap_fail(snap_ctx *c, const char *fmt, ...)
{
    pthread_mutex_lock(&c->mu);
    if (!c->failed) {
        c->failed = 1;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->msg, sizeof c->msg, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&c->mu);
}

static int snap_stop(snap_ctx *c)
{
    pthread_mutex_lock(&c->mu);
    int stop = c->writer_done || c->failed;
    pthread_mutex_unlock(&c->mu);
    return stop;
}

static void token_key(const snap_ctx *c, int i, char *out, size_t n)
{
    snprintf(out, n, "%s%06d", c->tok, i);
}

static void *snap_writer(void *arg)
{
    snap_ctx *c = arg;
    for (int i = 1; i <= SNAP_WRITES && !c->failed; i++) {
        char v[16], oldk[320], newk[320];
        int vl = snprintf(v, sizeof v, "%d", i);
        token_key(c, i - 1, oldk, sizeof oldk);
        token_key(c, i, newk, sizeof newk);
        dc_txn *t = dc_txn_new();
        if (!t) {
            snap_fail(c, "writer: out of memory at txn %d", i);
            break;
        }
        dc_txn_put(t, DC_THEN, c->x, strlen(c->x), v, (size_t)vl, 0, 0);
        dc_txn_delete(t, DC_THEN, oldk, strlen(oldk), 0);
        dc_txn_put(t, DC_THEN, newk, strlen(newk), v, (size_t)vl, 0, 0);
        dc_txn_put(t, DC_THEN, c->y, strlen(c->y), v, (size_t)vl, 0, 0);
        dc_txn_result *r = NULL;
        int rc = dc_txn_commit(conf_store, t, &r);
        dc_txn_free(t);
        if (rc != DC_OK || !r->succeeded)
            snap_fail(c, "writer: txn %d failed: %s: %s", i, dc_errname(rc), dc_last_error());
        dc_txn_result_free(r);
    }
    pthread_mutex_lock(&c->mu);
    c->writer_done = 1;
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* One snapshot of the prefix: [tok…, x, y] sorted; all three hold one value. */
static void check_snapshot(snap_ctx *c, const dc_kv *kvs, size_t n, int64_t header)
{
    if (n != 3) {
        snap_fail(c, "snapshot at revision %lld has %zu keys, want 3", (long long)header, n);
        return;
    }
    const dc_kv *tok = &kvs[0], *x = &kvs[1], *y = &kvs[2];
    if (strcmp(x->key, c->x) != 0 || strcmp(y->key, c->y) != 0 ||
        strncmp(tok->key, c->tok, strlen(c->tok)) != 0) {
        snap_fail(c, "snapshot at revision %lld has unexpected keys", (long long)header);
        return;
    }
    int64_t vx = atoll(x->value), vy = atoll(y->value), vt = atoll(tok->value);
    if (vx != vy || vx != vt)
        snap_fail(c, "torn snapshot: x = %lld, y = %lld, token = %lld", (long long)vx,
                  (long long)vy, (long long)vt);
    if (atoll(tok->key + strlen(c->tok)) != vt)
        snap_fail(c, "token key does not match its value %lld", (long long)vt);
    if (x->mod_revision != y->mod_revision)
        snap_fail(c, "torn snapshot: x at revision %lld, y at %lld", (long long)x->mod_revision,
                  (long long)y->mod_revision);
    if (header < x->mod_revision)
        snap_fail(c, "header revision %lld below a kv's mod_revision %lld", (long long)header,
                  (long long)x->mod_revision);
}

static void *snap_reader(void *arg)
{
    snap_ctx *c = arg;
    const char *prefix = conf_prefix;
    for (long i = 0; !snap_stop(c); i++) {
        if (i % 2 == 0) {
            dc_kvs *r = NULL;
            int rc = dc_get(conf_store, prefix, strlen(prefix), DC_PREFIX, 0, &r);
            if (rc != DC_OK) {
                snap_fail(c, "reader: get failed: %s: %s", dc_errname(rc), dc_last_error());
                break;
            }
            check_snapshot(c, r->kvs, r->n, r->revision);
            dc_kvs_free(r);
        } else {
            /* two reads in one txn see one snapshot too */
            dc_txn *t = dc_txn_new();
            dc_txn_result *r = NULL;
            if (!t) {
                snap_fail(c, "reader: out of memory");
                break;
            }
            dc_txn_get(t, DC_THEN, c->x, strlen(c->x), 0, 0);
            dc_txn_get(t, DC_THEN, c->tok, strlen(c->tok), DC_PREFIX, 0);
            dc_txn_get(t, DC_THEN, c->y, strlen(c->y), 0, 0);
            int rc = dc_txn_commit(conf_store, t, &r);
            dc_txn_free(t);
            if (rc != DC_OK || r->n_responses != 3) {
                snap_fail(c, "reader: txn failed: %s: %s", dc_errname(rc), dc_last_error());
                dc_txn_result_free(r);
                break;
            }
            if (r->responses[0].n_kvs != 1 || r->responses[1].n_kvs != 1 ||
                r->responses[2].n_kvs != 1) {
                snap_fail(c, "reader: txn gets returned %zu, %zu and %zu kvs",
                          r->responses[0].n_kvs, r->responses[1].n_kvs, r->responses[2].n_kvs);
            } else {
                dc_kv kvs[3] = {r->responses[1].kvs[0], r->responses[0].kvs[0],
                                r->responses[2].kvs[0]};
                check_snapshot(c, kvs, 3, r->revision);
            }
            dc_txn_result_free(r);
        }
        pthread_mutex_lock(&c->mu);
        c->reads++;
        pthread_mutex_unlock(&c->mu);
    }
    return NULL;
}

CONF_TEST(get_is_a_consistent_snapshot_under_concurrent_txns)
{
    snap_ctx *c = conf_malloc(sizeof *c);
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    snprintf(c->x, sizeof c->x, "%s", K("x"));
    snprintf(c->y, sizeof c->y, "%s", K("y"));
    snprintf(c->tok, sizeof c->tok, "%s", K("t/"));

    /* the invariant holds before the threads start */
    char tok0[320];
    token_key(c, 0, tok0, sizeof tok0);
    dc_txn *t = conf_txn();
    OK(dc_txn_put(t, DC_THEN, c->x, strlen(c->x), "0", 1, 0, 0));
    OK(dc_txn_put(t, DC_THEN, c->y, strlen(c->y), "0", 1, 0, 0));
    OK(dc_txn_put(t, DC_THEN, tok0, strlen(tok0), "0", 1, 0, 0));
    dc_txn_result_free(conf_commit(t));

    pthread_t w, r[SNAP_READERS];
    for (int i = 0; i < SNAP_READERS; i++)
        ck_assert_int_eq(pthread_create(&r[i], NULL, snap_reader, c), 0);
    ck_assert_int_eq(pthread_create(&w, NULL, snap_writer, c), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < SNAP_READERS; i++) pthread_join(r[i], NULL);

    ck_assert_msg(!c->failed, "%s", c->msg);
    ck_assert_int_gt(c->reads, 0);
    dc_kv kv;
    ck_assert_int_eq(conf_exists(c->x, &kv), 1);
    ck_assert_int_eq(kv.version, SNAP_WRITES + 1);
    dc_kvs *all = conf_get(c->tok, DC_PREFIX, 0);
    ck_assert_uint_eq(all->n, 1);
    ck_assert_int_eq(atoi(all->kvs[0].value), SNAP_WRITES);
    dc_kvs_free(all);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
END_TEST

TCase *conf_snapshot_tcase(void)
{
    TCase *tc = tcase_create("snapshot");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, get_is_a_consistent_snapshot_under_concurrent_txns);
    return tc;
}
