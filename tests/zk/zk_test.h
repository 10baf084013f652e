/*
 * Helpers shared by the ZooKeeper driver's own tests (tests/zk). They use the
 * public store API only, against a real ZooKeeper started by
 * tests/fixtures/zk.sh; every test works under its own store root so that
 * compaction and auth settings never leak between tests.
 */
#ifndef DC_ZK_TEST_H
#define DC_ZK_TEST_H

#include <check.h>
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ZK_OK(call)                                                                                \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        ck_assert_msg(rc_ == DC_OK, "%s failed: %s: %s", #call, dc_errname(rc_), dc_last_error()); \
    } while (0)

/* The server's base URI (zk://host:port), from DDLCOORD_TEST_STORE. */
static inline const char *zt_base(void)
{
    const char *u = getenv("DDLCOORD_TEST_STORE");
    ck_assert_msg(u && strncmp(u, "zk://", 5) == 0, "DDLCOORD_TEST_STORE must be a zk:// URI");
    return u;
}

/* base + "?root=/<tag>-<pid>" + extra ("&k=v…"), in a static buffer per slot. */
static inline const char *zt_uri(const char *base, const char *tag, const char *extra)
{
    static char bufs[4][1024];
    static int slot;
    char *b = bufs[slot++ & 3];
    const char *q = strchr(base, '?');
    snprintf(b, sizeof bufs[0], "%.*s?root=/zktest-%s-%ld%s%s",
             q ? (int)(q - base) : (int)strlen(base), base, tag, (long)getpid(), extra ? "&" : "",
             extra ? extra : "");
    return b;
}

static inline dc_store *zt_open(const char *uri)
{
    dc_store *s = NULL;
    ZK_OK(dc_store_open(uri, &s));
    return s;
}

static inline int64_t zt_put(dc_store *s, const char *k, const char *v)
{
    int64_t rev = 0;
    ZK_OK(dc_put(s, k, strlen(k), v, strlen(v), 0, &rev));
    return rev;
}

/* Collect events from w until n arrived or timeout_ms passed. Returns the
 * count; events go to out (caller frees each with dc_events_free). */
typedef struct zt_log {
    dc_event *ev[4096];
    dc_events *batches[4096];
    size_t n, nb;
    int end_code;
} zt_log;

static inline size_t zt_collect(dc_watch *w, zt_log *log, size_t n, int timeout_ms)
{
    int waited = 0;
    while (log->n < n && waited < timeout_ms && log->nb < 4096) {
        dc_events *e = NULL;
        int rc = dc_watch_next(w, 200, &e);
        if (rc == DC_ETIMEDOUT) {
            waited += 200;
            continue;
        }
        if (rc != DC_OK) {
            log->end_code = rc;
            break;
        }
        log->batches[log->nb++] = e;
        for (size_t i = 0; i < e->n && log->n < 4096; i++) log->ev[log->n++] = &e->events[i];
    }
    return log->n;
}

static inline void zt_log_free(zt_log *log)
{
    for (size_t i = 0; i < log->nb; i++) dc_events_free(log->batches[i]);
    memset(log, 0, sizeof *log);
}

/* main() of a test that runs on a server of its own (it stops, kills or
 * freezes it): argv is <zk.sh> <statedir>. Starts the server with the fixture
 * script, fills uri with its URI plus suffix, runs the suite, and stops the
 * server. A server that does not start or stop fails the test. */
static inline int zt_own_server_main(int argc, char **argv, const char **fixture,
                                     const char **statedir, char *uri, size_t uri_len,
                                     const char *suffix, Suite *suite)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s <zk.sh> <statedir>\n", argv[0]);
        return 2;
    }
    *fixture = argv[1];
    *statedir = argv[2];
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s start %s", *fixture, *statedir);
    if (system(cmd) != 0) return 1;
    snprintf(cmd, sizeof cmd, "%s/uri", *statedir);
    FILE *f = fopen(cmd, "r");
    if (!f || !fgets(uri, (int)uri_len, f)) {
        if (f) fclose(f);
        return 1;
    }
    fclose(f);
    uri[strcspn(uri, "\n")] = '\0';
    strncat(uri, suffix, uri_len - strlen(uri) - 1);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    snprintf(cmd, sizeof cmd, "%s stop %s", *fixture, *statedir);
    if (system(cmd) != 0) failed++;
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
