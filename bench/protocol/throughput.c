/*
 * Throughput with many locks in flight: TABLES tasks of SOURCES sources each
 * (a source has one Info per task at a time, so N locks in flight with 16
 * sources means N tasks), every lock on one table, all reported at once.
 *
 * The master is the real dc_master. The SOURCES x TABLES workers are not
 * threads (16 000 of them would be absurd): an event-driven pool plays them,
 * doing exactly DM's worker writes over the public store API:
 *   step 2  PUT the Info (a plain put, as DM does), THREADS threads in a
 *           task-major order, so that locks become synced one after another
 *   step 5  one prefix watch on the operation keys hands each new operation
 *           to THREADS threads, which
 *   step 8  mark it done and delete the Info in one txn (compare on the
 *           operation's mod_revision), as dc_worker_mark_done does
 * (dc_worker also writes a resolution marker after step 6; the pool does not,
 * so its writes per lock are DM's: 2 x SOURCES + 3.) The clock runs from
 * the first Info put to the master's last step 10. The store revision advance
 * per lock is printed too: on mem://, etcd and Redis it counts the writes
 * really made. Right before the first size, the backend's writes/s with the
 * same number of threads is measured again in this process (for 2 s), so
 * that the bound is taken as close as possible to the figure it bounds.
 * The master thread's CPU time over the same window is printed as well
 * (busy = CPU ÷ wall): near 100% the one master thread is what bounds the
 * figure, well below it the store or the pool is.
 */
#include "bench.h"
#include "setup.h"

#include <pthread.h>
#include <time.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct job {
    struct job *next;
    char *key;
    char *value;
    size_t len;
    int64_t rev;
} job;

typedef struct pool {
    dc_store *s;
    const char *ns;
    int tasks, sources;
    /* info putters */
    atomic_long next_info;
    /* operation queue */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    job *head, **tail;
    int closed;
    /* resolved locks (master step 10) */
    int resolved;
    double t_last;
    atomic_long done_txns, lost_races;
    dc_watch *watch;
    atomic_int stop;
} pool;

static pool P;

static int on_step(const dc_step *st, void *ud)
{
    (void)ud;
    if (st->step != 10 || !st->lock_id) return 0;
    double t = bp_now();
    pthread_mutex_lock(&P.mu);
    P.resolved++;
    P.t_last = t;
    pthread_cond_broadcast(&P.cond);
    pthread_mutex_unlock(&P.mu);
    return 0;
}

static void *info_main(void *arg)
{
    (void)arg;
    long n = (long)P.tasks * P.sources;
    for (long i; (i = atomic_fetch_add(&P.next_info, 1)) < n;) {
        char t[32], src[32], *key;
        bp_names((int)(i / P.sources), (int)(i % P.sources), t, src);
        bp_check("info key", dc_info_key(P.ns, t, src, &key));
        char *json = bp_info_json(t, src);
        bp_check("info put", dc_put(P.s, key, strlen(key), json, strlen(json), 0, NULL));
        free(key);
        free(json);
    }
    return NULL;
}

static void push(job *j)
{
    pthread_mutex_lock(&P.mu);
    *P.tail = j;
    P.tail = &j->next;
    pthread_cond_signal(&P.cond);
    pthread_mutex_unlock(&P.mu);
}

static job *pop(void)
{
    pthread_mutex_lock(&P.mu);
    while (!P.head && !P.closed) pthread_cond_wait(&P.cond, &P.mu);
    job *j = P.head;
    if (j) {
        P.head = j->next;
        if (!P.head) P.tail = &P.head;
    }
    pthread_mutex_unlock(&P.mu);
    return j;
}

static void *watch_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&P.stop)) {
        dc_events *evs = NULL;
        int rc = dc_watch_next(P.watch, 200, &evs);
        if (rc == DC_ETIMEDOUT) continue;
        if (rc) bp_die("throughput: operation watch", rc);
        for (size_t i = 0; i < evs->n; i++) {
            const dc_event *ev = &evs->events[i];
            /* only operations not done yet; done=true ones are our own */
            if (ev->type != DC_EVENT_PUT || strstr(ev->kv.value, "\"done\":true")) continue;
            job *j = bp_alloc(sizeof *j);
            j->key = strdup(ev->kv.key);
            j->value = strdup(ev->kv.value);
            if (!j->key || !j->value) bp_die("strdup", DC_ENOMEM);
            j->len = ev->kv.value_len;
            j->rev = ev->kv.mod_revision;
            push(j);
        }
        dc_events_free(evs);
    }
    return NULL;
}

static void mark_done(job *j)
{
    dc_operation *op;
    bp_check("operation decode", dc_operation_decode(j->key, j->value, j->len, &op));
    if (op->done) {
        dc_operation_free(op);
        return;
    }
    op->done = 1;
    char *json, *info_key;
    bp_check("operation encode", dc_operation_encode(op, &json));
    bp_check("info key", dc_info_key(P.ns, op->task, op->source, &info_key));
    dc_txn *t = dc_txn_new();
    if (!t) bp_die("dc_txn_new", DC_ENOMEM);
    bp_check("txn",
             dc_txn_compare_int(t, j->key, strlen(j->key), DC_TARGET_MOD, DC_CMP_EQUAL, j->rev));
    bp_check("txn", dc_txn_put(t, DC_THEN, j->key, strlen(j->key), json, strlen(json), 0, 0));
    bp_check("txn", dc_txn_delete(t, DC_THEN, info_key, strlen(info_key), 0));
    dc_txn_result *res;
    bp_check("done txn", dc_txn_commit(P.s, t, &res));
    if (res->succeeded)
        atomic_fetch_add(&P.done_txns, 1);
    else
        atomic_fetch_add(&P.lost_races, 1); /* replaced meanwhile: the newer event follows */
    dc_txn_result_free(res);
    dc_txn_free(t);
    free(json);
    free(info_key);
    dc_operation_free(op);
}

static void *done_main(void *arg)
{
    (void)arg;
    for (job *j; (j = pop());) {
        mark_done(j);
        free(j->key);
        free(j->value);
        free(j);
    }
    return NULL;
}

static void *master_main(void *arg)
{
    dc_master_run(arg, -1);
    return NULL;
}

/* CPU seconds a thread has used so far. */
static double thread_cpu(pthread_t th)
{
    clockid_t cid;
    if (pthread_getcpuclockid(th, &cid)) bp_die("thread cpu", DC_EINTERNAL);
    return bp_clock(cid);
}

static void one_size(dc_store *s, int sources, int threads, int tasks)
{
    char *ns = bp_ns("throughput");
    bp_load_tasks(s, ns, tasks, sources, 0, threads);
    memset(&P, 0, sizeof P);
    P.s = s;
    P.ns = ns;
    P.tasks = tasks;
    P.sources = sources;
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cond, NULL);
    P.tail = &P.head;
    dc_master_options mo = {.ns = ns, .on_step = on_step};
    dc_master *m;
    bp_check("master new", dc_master_new(s, &mo, &m));
    pthread_t mt;
    if (pthread_create(&mt, NULL, master_main, m)) bp_die("pthread_create", DC_ENOMEM);
    while (dc_master_revision(m) == 0) usleep(1000);

    int64_t rev0, rev1;
    bp_check("revision", dc_revision(s, &rev0));
    char *op_pfx;
    bp_check("operation prefix", dc_operation_key(ns, NULL, NULL, &op_pfx));
    bp_check("operation watch",
             dc_watch_open(s, op_pfx, strlen(op_pfx), rev0 + 1, DC_PREFIX, &P.watch));
    pthread_t wt, *dt = bp_alloc((size_t)threads * sizeof *dt),
                  *it = bp_alloc((size_t)threads * sizeof *it);
    if (pthread_create(&wt, NULL, watch_main, NULL)) bp_die("pthread_create", DC_ENOMEM);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&dt[i], NULL, done_main, NULL)) bp_die("pthread_create", DC_ENOMEM);

    double t0 = bp_now(), cpu0 = thread_cpu(mt);
    for (int i = 0; i < threads; i++)
        if (pthread_create(&it[i], NULL, info_main, NULL)) bp_die("pthread_create", DC_ENOMEM);
    for (int i = 0; i < threads; i++) pthread_join(it[i], NULL);
    double t_infos = bp_now() - t0;
    pthread_mutex_lock(&P.mu);
    while (P.resolved < tasks) pthread_cond_wait(&P.cond, &P.mu);
    double el = P.t_last - t0;
    double cpu = thread_cpu(mt) - cpu0;
    P.closed = 1;
    pthread_cond_broadcast(&P.cond);
    pthread_mutex_unlock(&P.mu);
    bp_check("revision", dc_revision(s, &rev1));

    char name[80];
    snprintf(name, sizeof name, "tput_%d_%d_locks_per_s", sources, tasks);
    bp_result(name, tasks / el);
    snprintf(name, sizeof name, "tput_%d_%d_seconds", sources, tasks);
    bp_result(name, el);
    snprintf(name, sizeof name, "tput_%d_%d_revs_per_lock", sources, tasks);
    bp_result(name, (double)(rev1 - rev0) / tasks);
    snprintf(name, sizeof name, "tput_%d_%d_infos_seconds", sources, tasks);
    bp_result(name, t_infos);
    snprintf(name, sizeof name, "tput_%d_%d_master_busy_pct", sources, tasks);
    bp_result(name, 100 * cpu / el);
    snprintf(name, sizeof name, "tput_%d_%d_master_cpu_us_per_lock", sources, tasks);
    bp_result(name, 1e6 * cpu / tasks);
    snprintf(name, sizeof name, "tput_%d_%d_lost_races", sources, tasks);
    bp_result(name, (double)atomic_load(&P.lost_races));

    atomic_store(&P.stop, 1);
    pthread_join(wt, NULL);
    for (int i = 0; i < threads; i++) pthread_join(dt[i], NULL);
    dc_watch_close(P.watch);
    dc_master_stop(m);
    pthread_join(mt, NULL);
    dc_master_free(m);
    bp_wipe(s, ns);
    pthread_mutex_destroy(&P.mu);
    pthread_cond_destroy(&P.cond);
    free(op_pfx);
    free(dt);
    free(it);
    free(ns);
}

int bp_throughput(dc_store *s, int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: throughput SOURCES THREADS TABLES[,TABLES...]\n");
        return 2;
    }
    int sources = atoi(argv[0]), threads = atoi(argv[1]);
    if (sources < 1 || threads < 1) return 2;
    bp_info("tput_threads", "%d", threads);
    char *ns = bp_ns("tput-writes");
    bp_result("tput_writes_per_s", bp_write_throughput(s, ns, threads, 2.0, 0, 0));
    /* The same with two prefix watchers draining every event, as the master
     * and the pool's operation watch do during the run: on a server that
     * serializes watch events itself (etcd's JSON gateway) they cost writes.
     * And done-shaped txns, also watched: 19 of a lock's 35 writes are txns
     * (16 done txns, the master's 3), which cost some servers more. */
    bp_result("tput_writes_watched_per_s", bp_write_throughput(s, ns, threads, 2.0, 2, 0));
    bp_result("tput_txns_watched_per_s", bp_write_throughput(s, ns, threads, 2.0, 2, 1));
    bp_wipe(s, ns);
    free(ns);
    char *list = strdup(argv[2]);
    if (!list) bp_die("strdup", DC_ENOMEM);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int tasks = atoi(tok);
        if (tasks < 1) continue;
        fprintf(stderr, "throughput: %d sources x %d locks in flight, %d threads\n", sources, tasks,
                threads);
        one_size(s, sources, threads, tasks);
    }
    free(list);
    return 0;
}
