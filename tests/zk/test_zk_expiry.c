/*
 * Session expiry of a watcher: a child process watches, is frozen with
 * SIGSTOP well past its 1 s session timeout (the server expires the session
 * meanwhile), and is thawed. The driver must notice the expiry, open a new
 * session and resume the watch from its cursor: the child reports every
 * write exactly once and in order, including those made while it was frozen.
 * Runs on a server of its own (tickTime 500, minSessionTimeout 1000).
 *
 * usage: test_zk_expiry <tests/fixtures/zk.sh> <statedir>
 */
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "zk_test.h"

static const char *fixture, *statedir;
static char uri[512];
static int report_fd = -1;

static void on_log(dc_log_level level, const char *component, const char *message, void *ud)
{
    (void)level;
    (void)component;
    (void)ud;
    if (strstr(message, "session expired")) dprintf(report_fd, "EXPIRED\n");
}

/* The watcher: one line per event ("<rev> <key>"), "READY" once watching. */
static void child(int fd)
{
    report_fd = fd;
    dc_log_set_handler(on_log, NULL);
    char u[600];
    snprintf(u, sizeof u, "%s&session_timeout_ms=1000", uri);
    dc_store *s = NULL;
    if (dc_store_open(u, &s) != DC_OK) _exit(3);
    dc_watch *w = NULL;
    if (dc_watch_open(s, "x/", 2, 0, DC_PREFIX, &w) != DC_OK) _exit(4);
    dprintf(fd, "READY\n");
    for (int waited = 0; waited < 60000;) {
        dc_events *e = NULL;
        int rc = dc_watch_next(w, 500, &e);
        if (rc == DC_ETIMEDOUT) {
            waited += 500;
            continue;
        }
        if (rc != DC_OK) {
            dprintf(fd, "ERROR %s\n", dc_errname(rc));
            _exit(5);
        }
        for (size_t i = 0; i < e->n; i++) {
            dprintf(fd, "%lld %s\n", (long long)e->events[i].kv.mod_revision, e->events[i].kv.key);
            if (strcmp(e->events[i].kv.key, "x/end") == 0) {
                dc_events_free(e);
                dc_watch_close(w);
                dc_store_close(s);
                _exit(0);
            }
        }
        dc_events_free(e);
    }
    _exit(6);
}

/* Read one line from fd within timeout_ms; 0 on success. */
static int read_line(int fd, char *buf, size_t len, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < len) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) return -1;
        if (read(fd, &buf[n], 1) != 1) return -1;
        if (buf[n] == '\n') break;
        n++;
    }
    buf[n] = '\0';
    return 0;
}

START_TEST(watcher_frozen_past_its_session_timeout_resumes_without_loss_or_duplicates)
{
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid_t pid = fork(); /* before this process starts any client thread */
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pfd[0]);
        child(pfd[1]);
    }
    close(pfd[1]);
    char line[256];
    ck_assert_int_eq(read_line(pfd[0], line, sizeof line, 20000), 0);
    ck_assert_str_eq(line, "READY");

    dc_store *s = zt_open(uri);
    enum { N = 31 };
    int64_t revs[N];
    char keys[N][16];
    int got = 0, expired = 0;
    for (int i = 0; i < N; i++) {
        if (i == N - 1)
            snprintf(keys[i], sizeof keys[i], "x/end");
        else
            snprintf(keys[i], sizeof keys[i], "x/%02d", i);
        if (i == 10) {
            /* the child has seen the first ten: freeze it past its timeout */
            while (got < 10) {
                ck_assert_int_eq(read_line(pfd[0], line, sizeof line, 20000), 0);
                if (strcmp(line, "EXPIRED") == 0) continue;
                long long r;
                char k[64];
                ck_assert_int_eq(sscanf(line, "%lld %63s", &r, k), 2);
                ck_assert_int_eq(r, revs[got]);
                ck_assert_str_eq(k, keys[got]);
                got++;
            }
            ck_assert_int_eq(kill(pid, SIGSTOP), 0);
            usleep(1500 * 1000);
        }
        revs[i] = zt_put(s, keys[i], "v");
        if (i == 19) {
            usleep(2500 * 1000); /* 4 s frozen in all: the session is long gone */
            ck_assert_int_eq(kill(pid, SIGCONT), 0);
        }
    }
    while (got < N) {
        ck_assert_msg(read_line(pfd[0], line, sizeof line, 30000) == 0, "child silent after %d",
                      got);
        if (strcmp(line, "EXPIRED") == 0) {
            expired = 1;
            continue;
        }
        long long r;
        char k[64];
        ck_assert_msg(sscanf(line, "%lld %63s", &r, k) == 2, "child said: %s", line);
        ck_assert_msg(r == revs[got] && strcmp(k, keys[got]) == 0,
                      "event %d: got %lld %s, expected %lld %s", got, r, k, (long long)revs[got],
                      keys[got]);
        got++;
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child exit status %d", st);
    /* anything after x/end would be a duplicate */
    ck_assert_int_ne(read_line(pfd[0], line, sizeof line, 100), 0);
    ck_assert_msg(expired, "the child's session never expired: the test did not test anything");
    close(pfd[0]);
    dc_store_close(s);
}
END_TEST

int main(int argc, char **argv)
{
    Suite *su = suite_create("zk-expiry");
    TCase *tc = tcase_create("expiry");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, watcher_frozen_past_its_session_timeout_resumes_without_loss_or_duplicates);
    suite_add_tcase(su, tc);
    return zt_own_server_main(argc, argv, &fixture, &statedir, uri, sizeof uri, "?root=/expiry",
                              su);
}
