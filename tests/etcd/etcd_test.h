/*
 * Helpers shared by the etcd-specific tests: opening the store under test
 * (DDLCOORD_TEST_STORE, plus DDLCOORD_TEST_STORE_QUERY for TLS settings),
 * driving the server fixture (kill, restart, freeze a member), per-test key
 * prefixes, and a watch reader that records every event it gets so tests
 * can check for gaps and duplicates.
 */
#ifndef DC_ETCD_TEST_H
#define DC_ETCD_TEST_H

#include <check.h>
#include <ddlcoord/ddlcoord.h>
#include <stddef.h>
#include <stdint.h>

#define ET_WAIT_MS 15000

#define ET_OK(expr)                                                                    \
    do {                                                                               \
        int ok_rc_ = (expr);                                                           \
        ck_assert_msg(ok_rc_ == DC_OK, "%s failed: %s: %s", #expr, dc_errname(ok_rc_), \
                      dc_last_error());                                                \
    } while (0)

#define ET_EXPECT_RC(expr, want)                                                  \
    do {                                                                          \
        int ex_rc_ = (expr), ex_want_ = (want);                                   \
        ck_assert_msg(ex_rc_ == ex_want_, "%s returned %s, want %s (%s)", #expr,  \
                      dc_errname(ex_rc_), dc_errname(ex_want_), dc_last_error()); \
    } while (0)

/* The URI under test with query appended (query may be NULL or "k=v&…"),
 * in a static buffer. */
const char *et_uri(const char *query);
/* Open the store under test with extra query parameters; asserts success. */
dc_store *et_open(const char *query);
/* Run the fixture script: "<verb> $ETCD_TEST_DIR <args>"; asserts success. */
void et_fixture(const char *verb, const char *args);
/* PID of member i of the private server. */
int et_member_pid(int i);
/* SIGSTOP process pid and wait until every one of its threads is stopped
 * (kill(2) returns before a running thread has actually stopped). */
void et_freeze(int pid);

/* Established TCP connections from this process to 127.0.0.1:port (read
 * from /proc/net/tcp and this process's socket descriptors). */
int et_connections_to(int port);
/* The port of endpoint i of the store under test's URI. */
int et_endpoint_port(int i);
/* Threads of this process. */
int et_thread_count(void);

/* A key unique to this test process: "/etcdtest/<pid>/<suffix>", in one
 * of 8 rotating static buffers (not for several threads at once). */
const char *et_key(const char *suffix);
/* Assert that key reads back through s as exactly one kv holding value. */
void et_expect_value(dc_store *s, const char *key, const char *value);

/* Events seen by a watch, flattened. */
typedef struct et_seen {
    size_t n;
    int64_t revs[4096];
    dc_event_type types[4096];
    char values[4096][32];
} et_seen;

/* Read events from w into seen until it holds want events (asserting they
 * come within ET_WAIT_MS), checking that revisions never go backwards. */
void et_collect(dc_watch *w, et_seen *seen, size_t want);

#endif
