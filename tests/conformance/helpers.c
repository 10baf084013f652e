/*
 * Helpers shared by the conformance tests: opening the store under test for
 * each test (in the forked test process, so that no thread or connection is
 * inherited across fork), the per-test key prefix that keeps tests apart on a
 * shared server that keeps its data between runs, checked writes and reads,
 * and an event log that gathers what a watch delivers batch by batch.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

dc_store *conf_store;
const char *conf_uri;
char conf_prefix[256];
size_t conf_prefix_len;

void conf_begin(const char *test_name)
{
    ck_assert_msg(conf_uri != NULL, "DDLCOORD_TEST_STORE is not set");
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int n = snprintf(conf_prefix, sizeof conf_prefix, "/conformance/%ld-%lld/%s/", (long)getpid(),
                     (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec, test_name);
    ck_assert_int_gt(n, 0);
    ck_assert_int_lt(n, (int)sizeof conf_prefix);
    conf_prefix_len = (size_t)n;
    conf_store = NULL;
    OK(dc_store_open(conf_uri, &conf_store));
    ck_assert_ptr_nonnull(conf_store);
}

void conf_end(void)
{
    /* Leave the shared server as we found it: only our own prefix. */
    OK(dc_delete(conf_store, conf_prefix, conf_prefix_len, DC_PREFIX, NULL, NULL));
    dc_store_close(conf_store);
    conf_store = NULL;
}

void conf_expect_bytes(const char *got, size_t got_len, const char *want, size_t want_len,
                       const char *what)
{
    ck_assert_msg(got != NULL, "%s is NULL", what);
    ck_assert_msg(got_len == want_len && memcmp(got, want, want_len) == 0,
                  "%s is '%.*s' (%zu bytes), want '%.*s' (%zu bytes)", what, (int)got_len, got,
                  got_len, (int)want_len, want, want_len);
    ck_assert_msg(got[got_len] == '\0', "%s is not NUL-terminated", what);
}

const char *K(const char *suffix)
{
    static _Thread_local char bufs[32][512];
    static _Thread_local unsigned next;
    char *b = bufs[next++ % 32];
    int n = snprintf(b, sizeof bufs[0], "%s%s", conf_prefix, suffix);
    ck_assert_msg(n > 0 && n < (int)sizeof bufs[0], "key too long");
    return b;
}

void *conf_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    ck_assert_msg(p != NULL, "out of memory (%zu bytes)", n);
    return p;
}

int64_t conf_put_lease(const char *key, const char *value, int64_t lease)
{
    int64_t rev = -1;
    OK(dc_put(conf_store, key, strlen(key), value, strlen(value), lease, &rev));
    ck_assert_int_gt(rev, 0);
    return rev;
}

int64_t conf_put(const char *key, const char *value)
{
    return conf_put_lease(key, value, 0);
}

int64_t conf_delete(const char *key, unsigned flags, int64_t *deleted)
{
    int64_t rev = -1, d = -1;
    OK(dc_delete(conf_store, key, strlen(key), flags, &d, &rev));
    ck_assert_int_gt(rev, 0);
    ck_assert_int_ge(d, 0);
    if (deleted) *deleted = d;
    return rev;
}

dc_kvs *conf_get(const char *key, unsigned flags, int64_t limit)
{
    dc_kvs *r = NULL;
    OK(dc_get(conf_store, key, strlen(key), flags, limit, &r));
    ck_assert_ptr_nonnull(r);
    ck_assert_int_gt(r->revision, 0);
    ck_assert_msg(r->n == 0 || r->kvs != NULL, "n = %zu but kvs is NULL", r->n);
    return r;
}

int64_t conf_revision(void)
{
    int64_t rev = -1;
    OK(dc_revision(conf_store, &rev));
    ck_assert_int_gt(rev, 0);
    return rev;
}

int conf_exists(const char *key, dc_kv *kv)
{
    dc_kvs *r = conf_get(key, 0, 0);
    ck_assert_msg(r->n <= 1, "exact get returned %zu kvs", r->n);
    int found = r->n == 1;
    if (found && kv) {
        *kv = r->kvs[0];
        kv->key = kv->value = NULL;
    }
    dc_kvs_free(r);
    return found;
}

dc_txn *conf_txn(void)
{
    dc_txn *t = dc_txn_new();
    ck_assert_ptr_nonnull(t);
    return t;
}

dc_txn_result *conf_commit(dc_txn *txn)
{
    dc_txn_result *r = NULL;
    OK(dc_txn_commit(conf_store, txn, &r));
    ck_assert_ptr_nonnull(r);
    ck_assert_int_gt(r->revision, 0);
    dc_txn_free(txn);
    return r;
}

dc_watch *conf_watch(const char *key, int64_t start, unsigned flags)
{
    dc_watch *w = NULL;
    OK(dc_watch_open(conf_store, key, strlen(key), start, flags, &w));
    ck_assert_ptr_nonnull(w);
    return w;
}

void conf_events_add(conf_events *log, dc_events *b)
{
    if (log->nb == log->capb) {
        log->capb = log->capb ? log->capb * 2 : 16;
        log->batches = realloc(log->batches, log->capb * sizeof *log->batches);
        ck_assert_ptr_nonnull(log->batches);
    }
    log->batches[log->nb++] = b;
    for (size_t i = 0; i < b->n; i++) {
        if (log->n == log->cap) {
            log->cap = log->cap ? log->cap * 2 : 64;
            log->ev = realloc(log->ev, log->cap * sizeof *log->ev);
            ck_assert_ptr_nonnull(log->ev);
        }
        log->ev[log->n++] = &b->events[i];
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int conf_collect(dc_watch *w, conf_events *log, size_t want, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    int rc = DC_OK;
    while (log->n < want) {
        int64_t left = deadline - now_ms();
        if (left < 0) left = 0;
        dc_events *b = NULL;
        rc = dc_watch_next(w, (int)left, &b);
        if (rc != DC_OK) {
            ck_assert_ptr_null(b);
            if (rc != DC_ETIMEDOUT || left == 0) return rc;
            continue;
        }
        ck_assert_ptr_nonnull(b);
        ck_assert_msg(b->n > 0 && b->events != NULL, "dc_watch_next returned an empty batch");
        conf_events_add(log, b);
    }
    return DC_OK;
}

void conf_collect_exactly(dc_watch *w, conf_events *log, size_t want)
{
    int rc = conf_collect(w, log, want, CONF_WAIT_MS);
    ck_assert_msg(rc == DC_OK, "waiting for %zu events: got %zu, then %s (%s)", want, log->n,
                  dc_errname(rc), dc_last_error());
    ck_assert_msg(log->n == want, "wanted %zu events, got %zu", want, log->n);
}

void conf_expect_quiet(dc_watch *w)
{
    dc_events *b = NULL;
    int rc = dc_watch_next(w, CONF_QUIET_MS, &b);
    if (rc == DC_OK) {
        ck_assert_ptr_nonnull(b);
        const dc_event *e = &b->events[0];
        ck_abort_msg("unexpected event: %s '%.*s' at revision %lld (%zu in batch)",
                     e->type == DC_EVENT_PUT ? "PUT" : "DELETE", (int)e->kv.key_len, e->kv.key,
                     (long long)e->kv.mod_revision, b->n);
    }
    ck_assert_ptr_null(b);
    EXPECT_RC(rc, DC_ETIMEDOUT);
}

void conf_events_free(conf_events *log)
{
    for (size_t i = 0; i < log->nb; i++) dc_events_free(log->batches[i]);
    free(log->batches);
    free(log->ev);
    memset(log, 0, sizeof *log);
}

void conf_expect_event(const dc_event *ev, dc_event_type type, const char *key, const char *value,
                       int64_t rev)
{
    ck_assert_msg(ev->type == type, "event on '%.*s' is %s, want %s", (int)ev->kv.key_len,
                  ev->kv.key, ev->type == DC_EVENT_PUT ? "PUT" : "DELETE",
                  type == DC_EVENT_PUT ? "PUT" : "DELETE");
    conf_expect_bytes(ev->kv.key, ev->kv.key_len, key, strlen(key), "event key");
    if (type == DC_EVENT_PUT)
        conf_expect_bytes(ev->kv.value, ev->kv.value_len, value, strlen(value), "event value");
    else
        ck_assert_int_eq(ev->kv.value_len, 0);
    if (rev > 0) ck_assert_int_eq(ev->kv.mod_revision, rev);
}
