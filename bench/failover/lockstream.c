/*
 * bench_failover_stream URI NS SOURCES: an endless stream of shard-DDL locks
 * for bench/failover/run.sh, which kills the backend's leader and the
 * leading `ddlcoord master` under it and reads off how long the stream
 * stops.
 *
 * One thread per source, each with its own store handle and dc_worker (as
 * separate worker processes would have), runs dc_worker_run_ddl for DDL 1,
 * 2, 3, … of task "T", table db.t, one lock after the other; the masters are
 * separate processes started by run.sh. A call that fails (the store is
 * electing, the master is gone) is repeated at the same position, as a
 * restarted worker would, after 50 ms. When every source has finished lock
 * n, one line goes to stdout:
 *
 *   LOCK <n> <first report, ms since the epoch> <resolved, ms since the epoch>
 *
 * (CLOCK_REALTIME, so run.sh can set it beside the times of its kills.)
 * Every execution is counted per lock: a lock executed other than once is a
 * line "TWICE <n> <count>" and exit status 1 at the end. Runs until SIGTERM
 * or SIGINT, then finishes the locks some source has started, and exits.
 */
#include <ddlcoord/ddlcoord.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOURCES 64
#define MAX_LOCKS   100000
#define CALL_MS     60000

static const char *uri, *ns;
static int n_sources;
static volatile sig_atomic_t stopping;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int finished[MAX_LOCKS + 1]; /* sources done with lock n */
static int execs[MAX_LOCKS + 1];
static int64_t first_ms[MAX_LOCKS + 1];
static int bad;
static int max_started, stop_at; /* after a stop request: finish locks up to stop_at */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* Called for the owner (op->exec) and for the others (skip). */
static int exec_cb(const dc_operation *op, void *ud)
{
    if (!op->exec) return 0;
    int n = *(int *)ud;
    pthread_mutex_lock(&mu);
    execs[n]++;
    pthread_mutex_unlock(&mu);
    return 0;
}

static int checkpoint_cb(const dc_operation *op, const char *position, void *ud)
{
    (void)op;
    (void)position;
    (void)ud;
    return 0;
}

static void *source_main(void *arg)
{
    const char *name = arg;
    dc_store *s = NULL;
    dc_worker *w = NULL;
    int rc;
    while ((rc = dc_store_open(uri, &s)) != DC_OK) {
        fprintf(stderr, "%s: open: %s (%s); again\n", name, dc_errname(rc), dc_last_error());
        usleep(200 * 1000);
    }
    dc_worker_options wo = {.ns = ns};
    if ((rc = dc_worker_new(s, "T", name, &wo, &w)) != DC_OK) {
        fprintf(stderr, "%s: worker: %s\n", name, dc_errname(rc));
        exit(2);
    }
    for (int n = 1; n <= MAX_LOCKS; n++) {
        char ddl[64], pos[32];
        snprintf(ddl, sizeof ddl, "ALTER TABLE t ADD COLUMN c%d INT", n);
        snprintf(pos, sizeof pos, "bin.%d", n);
        const char *ddls[] = {ddl};
        pthread_mutex_lock(&mu);
        /* a lock another source has started must be finished by all */
        if (stopping && !stop_at) stop_at = max_started;
        int last = stop_at && n > stop_at;
        if (!last && n > max_started) max_started = n;
        if (!last && !first_ms[n]) first_ms[n] = now_ms();
        pthread_mutex_unlock(&mu);
        if (last) break;
        int64_t give_up = now_ms() + 120000;
        for (;;) {
            rc = dc_worker_run_ddl(w, "db", "t", ddls, 1, pos, exec_cb, checkpoint_cb, &n, CALL_MS,
                                   NULL);
            if (rc == DC_OK || rc == DC_ERESOLVED) break;
            if (now_ms() > give_up) {
                fprintf(stderr, "%s: lock %d: %s (%s); giving up\n", name, n, dc_errname(rc),
                        dc_last_error());
                exit(2);
            }
            fprintf(stderr, "%s: lock %d: %s (%s); again\n", name, n, dc_errname(rc),
                    dc_last_error());
            usleep(50 * 1000);
        }
        pthread_mutex_lock(&mu);
        if (++finished[n] == n_sources) {
            printf("LOCK %d %lld %lld\n", n, (long long)first_ms[n], (long long)now_ms());
            if (execs[n] != 1) {
                printf("TWICE %d %d\n", n, execs[n]);
                bad = 1;
            }
            fflush(stdout);
        }
        pthread_mutex_unlock(&mu);
    }
    dc_worker_free(w);
    dc_store_close(s);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (n_sources = atoi(argv[3])) < 1 || n_sources > MAX_SOURCES) {
        fprintf(stderr, "usage: bench_failover_stream URI NS SOURCES (1..%d)\n", MAX_SOURCES);
        return 2;
    }
    uri = argv[1];
    ns = argv[2];
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_t th[MAX_SOURCES];
    char names[MAX_SOURCES][16];
    for (int i = 0; i < n_sources; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i + 1);
        if (pthread_create(&th[i], NULL, source_main, names[i])) {
            fprintf(stderr, "bench_failover_stream: cannot start a thread\n");
            return 2;
        }
    }
    for (int i = 0; i < n_sources; i++) pthread_join(th[i], NULL);
    return bad;
}
