/*
 * A watch and a writer ride out a ZooKeeper crash and restart (SIGKILL, then
 * the same port and data again) on a server of their own. The watch must
 * deliver every acknowledged write exactly once, in revision order, and
 * nothing that was not written: no loss, no duplicate, no phantom — also
 * for writes that were in flight when the server died (the driver resolves
 * those by their idempotency token).
 *
 * A second test freezes the server (SIGSTOP) while a put's multi is in
 * flight, so the client gives the connection up before the answer comes:
 * the driver must find out from the log, by the put's token, whether it was
 * applied, and answer with its revision, never apply it twice.
 *
 * A third wipes the server's data (a reset): the old handle must answer
 * DC_ERESET, never apply what it prepared, never deliver the new history.
 *
 * usage: test_zk_restart <tests/fixtures/zk.sh> <statedir>
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "zk_test.h"

static const char *fixture, *statedir;
static char uri[512];

static void sh(const char *what)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s %s", fixture, what, statedir);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

enum { N = 60 };

typedef struct writer {
    dc_store *s;
    int rc[N];
    int64_t rev[N];
    atomic_int done;
} writer;

static void *write_all(void *p)
{
    writer *w = p;
    for (int i = 0; i < N; i++) {
        char k[16], v[16];
        snprintf(k, sizeof k, "r/%03d", i);
        snprintf(v, sizeof v, "v%d", i);
        w->rc[i] = dc_put(w->s, k, strlen(k), v, strlen(v), 0, &w->rev[i]);
        atomic_store(&w->done, i + 1);
        usleep(20 * 1000);
    }
    return NULL;
}

START_TEST(server_crash_and_restart_during_a_watch_loses_and_duplicates_nothing)
{
    dc_store *ws = zt_open(uri);
    dc_watch *w;
    ZK_OK(dc_watch_open(ws, "r/", 2, 0, DC_PREFIX, &w));
    writer *wr = calloc(1, sizeof *wr);
    wr->s = zt_open(uri);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, write_all, wr), 0);
    while (atomic_load(&wr->done) < 15) usleep(10 * 1000);
    sh("kill");
    usleep(1000 * 1000);
    sh("restart");
    pthread_join(th, NULL);

    size_t acked = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(wr->rc[i] == DC_OK || wr->rc[i] == DC_EUNAVAILABLE ||
                          wr->rc[i] == DC_ETIMEDOUT || wr->rc[i] == DC_EUNKNOWN,
                      "put %d: %s", i, dc_errname(wr->rc[i]));
        acked += wr->rc[i] == DC_OK;
    }
    ck_assert_int_eq(wr->rc[N - 1], DC_OK); /* the writer got going again */
    zt_log *log = calloc(1, sizeof *log);
    zt_collect(w, log, acked, 30000);
    /* give a phantom or duplicate a moment to show up */
    dc_events *extra = NULL;
    int rc = dc_watch_next(w, 500, &extra);
    ck_assert_msg(rc == DC_ETIMEDOUT, "unexpected extra events (%s)", dc_errname(rc));
    ck_assert_msg(log->n >= acked, "%zu events for %zu acknowledged writes", log->n, acked);
    int64_t prev = 0;
    for (size_t j = 0; j < log->n; j++) {
        dc_event *e = log->ev[j];
        ck_assert_int_gt(e->kv.mod_revision, prev);
        prev = e->kv.mod_revision;
        int i = atoi(e->kv.key + 2);
        ck_assert_int_lt(i, N);
        /* an event is an acknowledged write (at its revision), or one whose
         * fate the writer was told is unknown */
        if (wr->rc[i] == DC_OK)
            ck_assert_int_eq(e->kv.mod_revision, wr->rev[i]);
        else
            ck_assert_msg(wr->rc[i] == DC_EUNKNOWN, "put %d failed with %s but was written", i,
                          dc_errname(wr->rc[i]));
        for (size_t k = 0; k < j; k++) ck_assert_str_ne(log->ev[k]->kv.key, e->kv.key);
    }
    for (int i = 0; i < N; i++) {
        if (wr->rc[i] != DC_OK) continue;
        int seen = 0;
        for (size_t j = 0; j < log->n; j++) seen += log->ev[j]->kv.mod_revision == wr->rev[i];
        ck_assert_msg(seen == 1, "acknowledged put %d delivered %d times", i, seen);
    }
    zt_log_free(log);
    free(log);
    dc_watch_close(w);
    dc_store_close(wr->s);
    dc_store_close(ws);
    free(wr);
}
END_TEST

static atomic_int unknown_seen;

static void on_log(dc_log_level level, const char *component, const char *message, void *ud)
{
    (void)level;
    (void)component;
    (void)ud;
    if (strstr(message, "outcome unknown")) atomic_store(&unknown_seen, 1);
}

typedef struct one_put {
    dc_store *s;
    int rc;
    int64_t rev;
} one_put;

static void *do_put(void *p)
{
    one_put *o = p;
    o->rc = dc_put(o->s, "u/k", 3, "v", 1, 0, &o->rev);
    return NULL;
}

static pid_t server_pid(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/pid", statedir);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1) pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

START_TEST(put_whose_answer_is_lost_is_resolved_by_its_token_exactly_once)
{
    dc_log_set_handler(on_log, NULL);
    dc_log_set_level(DC_LOG_INFO);
    char u[700];
    /* the client declares the connection lost after 2/3 of 4 s of silence;
     * the put may keep trying for 15 s, past the 5 s freeze */
    snprintf(u, sizeof u,
             "%s&session_timeout_ms=4000&request_timeout_ms=15000&debug_commit_delay_ms=2000", uri);
    dc_store *ws = zt_open(uri);
    dc_watch *w;
    ZK_OK(dc_watch_open(ws, "u/", 2, 0, DC_PREFIX, &w));
    one_put o = {zt_open(u), 0, 0};
    pid_t srv = server_pid();
    ck_assert_int_gt(srv, 0);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, do_put, &o), 0);
    usleep(1000 * 1000); /* the put has read and waits before sending its multi */
    ck_assert_int_eq(kill(srv, SIGSTOP), 0);
    usleep(5000 * 1000); /* the multi is sent into the frozen server and times out */
    ck_assert_int_eq(kill(srv, SIGCONT), 0);
    pthread_join(th, NULL);
    ck_assert_msg(o.rc == DC_OK, "put: %s", dc_errname(o.rc));
    ck_assert_msg(atomic_load(&unknown_seen), "the multi's answer was not lost: nothing tested");
    zt_log *log = calloc(1, sizeof *log);
    zt_collect(w, log, 1, 10000);
    dc_events *extra = NULL;
    ck_assert_int_eq(dc_watch_next(w, 1000, &extra), DC_ETIMEDOUT);
    ck_assert_uint_eq(log->n, 1);
    ck_assert_int_eq(log->ev[0]->kv.mod_revision, o.rev);
    ck_assert_int_eq(log->ev[0]->kv.version, 1);
    zt_log_free(log);
    free(log);
    dc_watch_close(w);
    dc_store_close(o.s);
    dc_store_close(ws);
}
END_TEST

/* The server loses its disk (killed, data directory wiped, started again
 * empty): its zxids start again, and the old client cannot even reconnect
 * until the new history's zxids pass what it saw. A new handle builds that
 * history (a new layout, a new epoch). The old handle's txn, prepared
 * before, then fails with DC_ERESET and changes nothing; its watch ends with
 * DC_ERESET and delivers nothing of the new history. */
START_TEST(a_wiped_server_is_a_reset)
{
    char u[700];
    snprintf(u, sizeof u, "%s&request_timeout_ms=30000", uri);
    dc_store *old = zt_open(u);
    int64_t lock;
    ZK_OK(dc_put(old, "w/lock", 6, "old", 3, 0, &lock));
    dc_watch *w;
    ZK_OK(dc_watch_open(old, "w/", 2, lock + 1, DC_PREFIX, &w));
    dc_txn *t = dc_txn_new();
    dc_txn_compare_int(t, "w/lock", 6, DC_TARGET_MOD, DC_CMP_LESS, INT64_MAX);
    dc_txn_put(t, DC_THEN, "w/lock", 6, "stale", 5, 0, 0);

    sh("wipe");
    dc_store *fresh = zt_open(u);
    int64_t rev = 0;
    for (int i = 0; rev <= lock + 20; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        ZK_OK(dc_put(fresh, "w/lock", 6, v, strlen(v), 0, &rev));
        ck_assert_int_lt(i, 100000);
    }
    int64_t before = rev;

    dc_txn_result *res = NULL;
    int rc = dc_txn_commit(old, t, &res);
    ck_assert_msg(rc == DC_ERESET, "the old handle's txn: %s (%s)", dc_errname(rc),
                  dc_last_error());
    dc_txn_free(t);
    dc_events *ev = NULL;
    while ((rc = dc_watch_next(w, 30000, &ev)) == DC_OK) {
        ck_abort_msg("the old watch delivered revision %lld",
                     (long long)ev->events[0].kv.mod_revision);
    }
    ck_assert_msg(rc == DC_ERESET, "the old watch: %s (%s)", dc_errname(rc), dc_last_error());
    dc_kvs *kvs;
    ZK_OK(dc_get(fresh, "w/lock", 6, 0, 0, &kvs));
    ck_assert_int_eq(kvs->kvs[0].mod_revision, before);
    dc_kvs_free(kvs);
    ck_assert_int_eq(dc_get(old, "w/lock", 6, 0, 0, &kvs), DC_ERESET);
    dc_watch_close(w);
    dc_store_close(old);
    dc_store_close(fresh);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *su = suite_create("zk-restart");
    TCase *tc = tcase_create("restart");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, server_crash_and_restart_during_a_watch_loses_and_duplicates_nothing);
    tcase_add_test(tc, put_whose_answer_is_lost_is_resolved_by_its_token_exactly_once);
    tcase_add_test(tc, a_wiped_server_is_a_reset);
    suite_add_tcase(su, tc);
    return zt_own_server_main(argc, argv, &fixture, &statedir, uri, sizeof uri, "?root=/restart",
                              su);
}
