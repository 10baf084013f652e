/*
 * Shared declarations of the store conformance suite: the test macro that
 * opens a store and gives each test its own key prefix, assertion macros that
 * print the error name and detail, and small helpers (keys, writes, reads,
 * txns, watch event logs) that every topic file uses. Everything goes through
 * the public API only, so the same binary checks every backend.
 */
#ifndef DC_CONFORMANCE_H
#define DC_CONFORMANCE_H

#include <check.h>
#include <ddlcoord/ddlcoord.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* How long to wait for events that must come (generous: real servers, CI). */
#define CONF_WAIT_MS 10000
/* How long to wait for lease expiry events beyond the granted TTL (expiry
 * checks and reapers run periodically). */
#define CONF_EXPIRY_GRACE_MS 10000
/* How long to listen for events that must NOT come (duplicates, filtered). */
#define CONF_QUIET_MS 300

/* The store of the current test (opened by conf_begin, closed by conf_end). */
extern dc_store *conf_store;
/* The URI under test (DDLCOORD_TEST_STORE). */
extern const char *conf_uri;
/* The current test's key prefix, "/conformance/<pid>-<ns>/<test>/", and its length. */
extern char conf_prefix[256];
extern size_t conf_prefix_len;

void conf_begin(const char *test_name);
void conf_end(void);

/* A conformance test: opens the store and sets the prefix around the body. */
#define CONF_TEST(name)            \
    static void name##_body(void); \
    START_TEST(name)               \
    {                              \
        conf_begin(#name);         \
        name##_body();             \
        conf_end();                \
    }                              \
    END_TEST                       \
    static void name##_body(void)

#define OK(expr)                                                                       \
    do {                                                                               \
        int ok_rc_ = (expr);                                                           \
        ck_assert_msg(ok_rc_ == DC_OK, "%s failed: %s: %s", #expr, dc_errname(ok_rc_), \
                      dc_last_error());                                                \
    } while (0)

#define EXPECT_RC(expr, want)                                                     \
    do {                                                                          \
        int ex_rc_ = (expr), ex_want_ = (want);                                   \
        ck_assert_msg(ex_rc_ == ex_want_, "%s returned %s, want %s (%s)", #expr,  \
                      dc_errname(ex_rc_), dc_errname(ex_want_), dc_last_error()); \
    } while (0)

/* Assert a kv's key, value (C strings) and that they are NUL-terminated. */
#define EXPECT_KV(kvp, k, v)                                                    \
    do {                                                                        \
        const dc_kv *ek_ = (kvp);                                               \
        conf_expect_bytes(ek_->key, ek_->key_len, (k), strlen(k), "key");       \
        conf_expect_bytes(ek_->value, ek_->value_len, (v), strlen(v), "value"); \
    } while (0)

void conf_expect_bytes(const char *got, size_t got_len, const char *want, size_t want_len,
                       const char *what);

/* prefix + suffix, in one of a few rotating per-thread buffers (valid for the
 * next 31 calls on the same thread). */
const char *K(const char *suffix);

/* Checked allocation. */
void *conf_malloc(size_t n);

/* Writes and reads that must succeed; each returns what its name says. */
int64_t conf_put(const char *key, const char *value);
int64_t conf_put_lease(const char *key, const char *value, int64_t lease);
int64_t conf_delete(const char *key, unsigned flags, int64_t *deleted);
dc_kvs *conf_get(const char *key, unsigned flags, int64_t limit);
int64_t conf_revision(void);
/* 1 if key exists (then *kv, if not NULL, receives its metadata; key/value
 * pointers are not kept), else 0. */
int conf_exists(const char *key, dc_kv *kv);

/* A new txn (asserted), and a commit that must succeed and frees the txn. */
dc_txn *conf_txn(void);
dc_txn_result *conf_commit(dc_txn *txn);

/* Watches and the events they deliver. */
dc_watch *conf_watch(const char *key, int64_t start, unsigned flags);

typedef struct conf_events {
    dc_events **batches; /* each dc_watch_next result, in order */
    size_t nb, capb;
    dc_event **ev; /* all events, flattened, pointing into batches */
    size_t n, cap;
} conf_events;

/* Call dc_watch_next until log holds at least want events, the watch ends or
 * timeout_ms (total) passes. Returns the last dc_watch_next code (DC_OK when
 * want was reached). */
int conf_collect(dc_watch *w, conf_events *log, size_t want, int timeout_ms);
/* Like conf_collect, asserting that exactly want events came. */
void conf_collect_exactly(dc_watch *w, conf_events *log, size_t want);
/* Assert that nothing more arrives within CONF_QUIET_MS. */
void conf_expect_quiet(dc_watch *w);
void conf_events_free(conf_events *log);
/* Append one dc_watch_next result to log, which takes ownership of it. */
void conf_events_add(conf_events *log, dc_events *batch);

/* Check an event's type, key and (for PUT) value; mod_revision if rev > 0. */
void conf_expect_event(const dc_event *ev, dc_event_type type, const char *key, const char *value,
                       int64_t rev);

/* The test cases of each topic file. */
TCase *conf_kv_tcase(void);
TCase *conf_snapshot_tcase(void);
TCase *conf_txn_tcase(void);
TCase *conf_cas_tcase(void);
TCase *conf_threads_tcase(void);
TCase *conf_watch_tcase(void);
TCase *conf_watch_atomic_tcase(void);
TCase *conf_compact_tcase(void);
TCase *conf_lease_tcase(void);
TCase *conf_errors_tcase(void);
TCase *conf_model_tcase(void);
TCase *conf_page_tcase(void);
/* Only where DDLCOORD_TEST_RESET names a command that resets the store. */
TCase *conf_reset_tcase(void);

#endif
