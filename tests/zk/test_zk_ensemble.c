/*
 * Reads on a ZooKeeper ensemble are current (docs/backends/zk.md, "Reads on
 * an ensemble"). On the 3-server ensemble of tests/fixtures/zk_ensemble.sh
 * (the ctest fixture zk3):
 *
 *   writer  - a handle on the leader alone (uri.<leader>)
 *   readers - one handle on each follower alone (uri.<follower>)
 *
 * Round after round the writer puts a key and, as soon as the put is
 * acknowledged, both readers read it. A read whose mod_revision is below the
 * acknowledged revision is stale: it breaks the store's linearizability.
 *
 *   1. With the default zk.sync=1 no read may be stale (ZK_ENS_ROUNDS rounds,
 *      default 2000).
 *   2. The same loop with zk.sync=0 shows that the check can see stale reads
 *      at all, since a check that cannot fail proves nothing. Plain rounds
 *      (ZK_ENS_UNSAFE_ROUNDS, default 1500) usually show some on a loaded
 *      machine; if they do not, rounds with one follower frozen (SIGSTOP)
 *      while the write commits on the leader and the other follower, and
 *      thawed while a read waits on it, provoke them: the thawed server
 *      answers the waiting read and applies the missed commit concurrently.
 *      It fails if neither showed one. ZK_ENS_UNSAFE_OPTIONAL=1 reports
 *      instead of failing.
 *   3. Only with ZK_ENS_MOVE=1 (it prints that it did not run otherwise): a
 *      reader whose session moves to another server mid-run (its server is
 *      frozen past the client's receive timeout; its URI lists both
 *      followers) still reads nothing stale. Not in the default run: in 3 of
 *      6 runs on a loaded machine the reader got no answer at all for 60 s
 *      after the move (connection loss, then operation timeouts), a stall
 *      not yet understood (docs/backends/zk.md, "Reads on an ensemble").
 *
 *   test_zk_ensemble <zk_ensemble.sh> <fixture dir>
 */
#include <ddlcoord/ddlcoord.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *script, *dir;
static int failures;

#define FAIL(...)                                            \
    do {                                                     \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
        fprintf(stderr, __VA_ARGS__);                        \
        fputc('\n', stderr);                                 \
        failures++;                                          \
    } while (0)

static int64_t env_int(const char *name, int64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoll(v, NULL, 10) : def;
}

/* Run the fixture script with args; its first output line into out. */
static int run_script(const char *args, char *out, size_t len)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s", script, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    if (out) {
        out[0] = '\0';
        if (!fgets(out, (int)len, p)) out[0] = '\0';
        out[strcspn(out, "\r\n")] = '\0';
    }
    char sink[256];
    while (fgets(sink, sizeof sink, p)) {
    }
    return pclose(p);
}

static int read_file(const char *path, char *out, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    out[0] = '\0';
    if (!fgets(out, (int)len, f)) out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : -1;
}

/* "host:port" of server i, from DIR/uri.<i> (zk://host:port). */
static int server_addr(int i, char *out, size_t len)
{
    char path[1024], uri[512];
    snprintf(path, sizeof path, "%s/uri.%d", dir, i);
    if (read_file(path, uri, sizeof uri) || strncmp(uri, "zk://", 5) != 0) return -1;
    size_t n = strlen(uri + 5);
    if (n >= len) return -1;
    memcpy(out, uri + 5, n + 1);
    return 0;
}

static dc_store *open_on(const char *hosts, const char *root, int sync)
{
    char uri[1024];
    snprintf(uri, sizeof uri, "zk://%s?root=%s&sync=%d&session_timeout_ms=6000", hosts, root, sync);
    dc_store *s = NULL;
    int rc = dc_store_open(uri, &s);
    if (rc != DC_OK) {
        FAIL("open %s: %s: %s", uri, dc_errname(rc), dc_last_error());
        return NULL;
    }
    return s;
}

/* While a server is down a read may fail with a connection error; only then
 * is it tried again (for up to 60 s, counted here). */
static int tolerant;
static int64_t retried;

/* mod_revision of key on s (0 if missing); -1 on error. */
static int64_t read_rev(dc_store *s, const char *key)
{
    dc_kvs *kvs = NULL;
    time_t until = time(NULL) + 60;
    int rc;
    while ((rc = dc_get(s, key, strlen(key), 0, 0, &kvs)) != DC_OK && tolerant &&
           (rc == DC_EUNAVAILABLE || rc == DC_ETIMEDOUT) && time(NULL) < until)
        retried++;
    if (rc != DC_OK) {
        FAIL("get: %s: %s", dc_errname(rc), dc_last_error());
        return -1;
    }
    int64_t r = kvs->n ? kvs->kvs[0].mod_revision : 0;
    dc_kvs_free(kvs);
    return r;
}

/* Rounds of put-then-read; returns the number of stale reads, stops early
 * once stop_after were seen (0 = never), -1 on an error. */
static int64_t rounds(dc_store *w, dc_store **readers, int nr, int64_t n, int64_t stop_after,
                      int64_t *done)
{
    int64_t stale = 0;
    char val[32];
    for (int64_t i = 0; i < n; i++) {
        snprintf(val, sizeof val, "%" PRId64, i);
        int64_t rev = 0;
        int rc = dc_put(w, "k", 1, val, strlen(val), 0, &rev);
        if (rc != DC_OK) {
            FAIL("put: %s: %s", dc_errname(rc), dc_last_error());
            return -1;
        }
        for (int r = 0; r < nr; r++) {
            int64_t got = read_rev(readers[r], "k");
            if (got < 0) return -1;
            if (got < rev) stale++;
        }
        *done = i + 1;
        if (stop_after && stale >= stop_after) break;
    }
    return stale;
}

/* The pid of server i (DIR/s<i>/pid). */
static pid_t server_pid(int i)
{
    char path[1024], buf[64];
    snprintf(path, sizeof path, "%s/s%d/pid", dir, i);
    return read_file(path, buf, sizeof buf) ? -1 : (pid_t)atol(buf);
}

typedef struct bg_read {
    dc_store *s;
    int64_t rev;
} bg_read;

static void *bg_read_main(void *arg)
{
    bg_read *b = arg;
    b->rev = read_rev(b->s, "k");
    return NULL;
}

/* One round with the follower behind reader r frozen: put on the leader
 * (the other follower makes the quorum), read on r while it is frozen, thaw
 * it. 1 if the read was stale, 0 if not, -1 on an error. */
static int frozen_round(dc_store *w, dc_store *r, pid_t frozen, int64_t i)
{
    char val[32];
    snprintf(val, sizeof val, "f%" PRId64, i);
    if (kill(frozen, SIGSTOP) != 0) {
        FAIL("SIGSTOP %ld", (long)frozen);
        return -1;
    }
    int64_t rev = 0;
    int rc = dc_put(w, "k", 1, val, strlen(val), 0, &rev);
    bg_read b = {r, 0};
    pthread_t th;
    int started = rc == DC_OK && pthread_create(&th, NULL, bg_read_main, &b) == 0;
    usleep(300 * 1000); /* the read is queued at the frozen server */
    kill(frozen, SIGCONT);
    if (started) pthread_join(th, NULL);
    if (rc != DC_OK) {
        FAIL("put: %s: %s", dc_errname(rc), dc_last_error());
        return -1;
    }
    if (!started || b.rev < 0) return -1;
    return b.rev < rev;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s <zk_ensemble.sh> <fixture dir>\n", argv[0]);
        return 2;
    }
    script = argv[1];
    dir = argv[2];
    char line[256], args[1200];
    snprintf(args, sizeof args, "leader '%s' 60", dir);
    if (run_script(args, line, sizeof line) != 0 || !line[0]) {
        fprintf(stderr, "FAIL: no leader in %s (%s)\n", dir, line);
        return 1;
    }
    int leader = atoi(line), f1 = (leader + 1) % 3, f2 = (leader + 2) % 3;
    char hl[256], h1[256], h2[256];
    if (server_addr(leader, hl, sizeof hl) || server_addr(f1, h1, sizeof h1) ||
        server_addr(f2, h2, sizeof h2)) {
        fprintf(stderr, "FAIL: cannot read the servers' URIs in %s\n", dir);
        return 1;
    }
    printf("leader %d (%s), followers %d (%s) and %d (%s)\n", leader, hl, f1, h1, f2, h2);
    char root[128];
    snprintf(root, sizeof root, "/zkens-%ld", (long)getpid());

    /* 1. sync on: nothing stale */
    int64_t n = env_int("ZK_ENS_ROUNDS", 2000), done = 0;
    dc_store *w = open_on(hl, root, 1);
    dc_store *rd[2] = {open_on(h1, root, 1), open_on(h2, root, 1)};
    if (!w || !rd[0] || !rd[1]) return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int64_t stale = rounds(w, rd, 2, n, 0, &done);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("zk.sync=1: %" PRId64 " rounds (%" PRId64 " follower reads), %" PRId64
           " stale, %.1f s\n",
           done, 2 * done, stale, secs);
    if (stale != 0) FAIL("zk.sync=1: %" PRId64 " stale reads in %" PRId64 " rounds", stale, done);
    dc_store_close(rd[0]);
    dc_store_close(rd[1]);

    /* 2. sync off: the check can see stale reads */
    int64_t un = env_int("ZK_ENS_UNSAFE_ROUNDS", 1500);
    rd[0] = open_on(h1, root, 0);
    rd[1] = open_on(h2, root, 0);
    if (!rd[0] || !rd[1]) return 1;
    done = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    stale = rounds(w, rd, 2, un, 5, &done);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("zk.sync=0: %" PRId64 " rounds, %" PRId64 " stale reads, %.1f s\n", done, stale, secs);
    if (stale == 0) {
        pid_t fp = server_pid(f2);
        int64_t frozen_stale = 0, tried = 0;
        for (int64_t i = 0; fp > 0 && stale >= 0 && i < 20 && frozen_stale < 2; i++, tried++) {
            int r = frozen_round(w, rd[1], fp, i);
            if (r < 0)
                stale = -1;
            else
                frozen_stale += r;
        }
        printf("zk.sync=0 with follower %d frozen during the write: %" PRId64 " of %" PRId64
               " reads stale\n",
               f2, frozen_stale, tried);
        if (stale >= 0) stale = frozen_stale;
    }
    if (stale == 0) {
        if (env_int("ZK_ENS_UNSAFE_OPTIONAL", 0))
            printf("NOTE: no stale read provoked with zk.sync=0 in %" PRId64
                   " rounds (ZK_ENS_UNSAFE_OPTIONAL=1: not a failure)\n",
                   done);
        else
            FAIL("zk.sync=0: no stale read in %" PRId64
                 " rounds: the check did not show it can see one",
                 done);
    }
    dc_store_close(rd[0]);
    dc_store_close(rd[1]);

    /* 3. a reader's session moves to the other follower mid-run */
    if (!env_int("ZK_ENS_MOVE", 0)) {
        printf("moving session: not run (set ZK_ENS_MOVE=1; see the comment at the top)\n");
    } else {
        char both[600];
        snprintf(both, sizeof both, "%s,%s", h1, h2);
        dc_store *mv = open_on(both, root, 1);
        if (!mv) return 1;
        done = 0;
        tolerant = 1;
        stale = rounds(w, &mv, 1, 200, 0, &done);
        /* whichever follower it is on, freeze f1 (SIGSTOP) past the client's
         * receive timeout, then f2 after f1 is thawed: the session has to move
         * at least once, to a server it has not read from */
        int frozen[2] = {f1, f2};
        for (int k = 0; k < 2 && stale == 0; k++) {
            pid_t pid = server_pid(frozen[k]);
            if (pid <= 0 || kill(pid, SIGSTOP) != 0) {
                FAIL("cannot freeze server %d", frozen[k]);
                break;
            }
            int64_t s2 = rounds(w, &mv, 1, 150, 0, &done);
            kill(pid, SIGCONT);
            stale = s2 < 0 ? -1 : stale + s2;
            /* back in the ensemble before the next one freezes */
            snprintf(args, sizeof args, "leader '%s' 60", dir);
            if (run_script(args, line, sizeof line) != 0) FAIL("the ensemble did not heal");
        }
        printf("moving session: %" PRId64 " stale reads (%" PRId64
               " reads retried while a server was down)\n",
               stale, retried);
        if (stale != 0) FAIL("a session that moved read %" PRId64 " stale values", stale);
        dc_store_close(mv);
    }

    /* leave nothing behind */
    int64_t deleted = 0;
    if (dc_delete(w, "k", 1, 0, &deleted, NULL) != DC_OK) FAIL("cleanup: %s", dc_last_error());
    dc_store_close(w);
    if (failures) return 1;
    printf("ok\n");
    return 0;
}
