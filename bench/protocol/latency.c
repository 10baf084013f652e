/*
 * Lock resolution latency: a real dc_master and real dc_workers (each worker
 * in its own thread, running dc_worker_run_ddl as an application would), one
 * lock per round. The worker threads live for all the rounds of one size
 * (a round starts them with a condition variable, so thread creation and
 * exit stay out of the measured window). All sources but one report first; once the master has seen
 * them (its step 3), the clock starts and the last source reports from this
 * thread. The round ends when the master's step 10 (DELETE operations) has
 * committed. That is "from the last info put to the last operation deleted",
 * whose critical path is 6 sequential writes and 5 watch deliveries (base.c
 * measures both). The steps of the last round are printed as TRACE lines
 * (milliseconds after the clock started), to show where the time goes.
 * The process's CPU time over the same window is printed too: on mem://,
 * where the store is in the process, CPU ÷ cores is a floor of its own.
 */
#include "bench.h"
#include "setup.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 120000
#define MAX_TRACE  1024

typedef struct trace_ev {
    double t;
    int step;
    char role;
    char source[32];
} trace_ev;

typedef struct lat_ctx {
    pthread_mutex_t mu;
    pthread_cond_t cond; /* steps and finished runs: the main thread waits */
    pthread_cond_t go;   /* a new round (or quit): the runners wait */
    int round;           /* the round started last (-1: none yet) */
    int finished;        /* runner rounds finished so far */
    int quit;
    int step3;       /* master step-3 callbacks so far */
    int resolved;    /* master step-10 callbacks for a lock so far */
    double t_done;   /* time of the last step 10 */
    double cpu_done; /* the process's CPU time then */
    double t0;       /* clock start of the round being traced (0 = no trace) */
    trace_ev trace[MAX_TRACE];
    size_t n_trace;
} lat_ctx;

static lat_ctx ctx = {.mu = PTHREAD_MUTEX_INITIALIZER,
                      .cond = PTHREAD_COND_INITIALIZER,
                      .go = PTHREAD_COND_INITIALIZER};

/* CPU seconds used by the whole process (master, workers, and on mem://
 * the store itself) so far. */
static double process_cpu(void)
{
    return bp_clock(CLOCK_PROCESS_CPUTIME_ID);
}

static int on_step(const dc_step *st, void *ud)
{
    (void)ud;
    double t = bp_now();
    pthread_mutex_lock(&ctx.mu);
    if (st->role[0] == 'm' && st->step == 3) ctx.step3++;
    if (st->role[0] == 'm' && st->step == 10 && st->lock_id) {
        ctx.resolved++;
        ctx.t_done = t;
        ctx.cpu_done = process_cpu();
    }
    if (ctx.t0 > 0 && ctx.n_trace < MAX_TRACE) {
        trace_ev *e = &ctx.trace[ctx.n_trace++];
        e->t = t - ctx.t0;
        e->step = st->step;
        e->role = st->role[0];
        snprintf(e->source, sizeof e->source, "%s", st->source ? st->source : "-");
    }
    pthread_cond_broadcast(&ctx.cond);
    pthread_mutex_unlock(&ctx.mu);
    return 0;
}

static int exec_ok(const dc_operation *op, void *ud)
{
    (void)op;
    (void)ud;
    return 0;
}

static int checkpoint_ok(const dc_operation *op, const char *pos, void *ud)
{
    (void)op;
    (void)pos;
    (void)ud;
    return 0;
}

typedef struct runner {
    pthread_t th;
    dc_worker *w;
    int rc;
} runner;

/* One source's whole flow for round r (table t<r>). */
static void run_round(runner *r, int round)
{
    char table[32], pos[64];
    snprintf(table, sizeof table, "t%d", round);
    snprintf(pos, sizeof pos, "binlog.000001:%d", 1000 + round);
    int rc = dc_worker_run_ddl(r->w, "db", table, &bp_ddl, 1, pos, exec_ok, checkpoint_ok, NULL,
                               TIMEOUT_MS, NULL);
    if (rc && !r->rc) r->rc = rc;
}

static void *runner_main(void *arg)
{
    runner *r = arg;
    for (int next = 0;; next++) {
        pthread_mutex_lock(&ctx.mu);
        while (ctx.round < next && !ctx.quit) pthread_cond_wait(&ctx.go, &ctx.mu);
        int quit = ctx.quit;
        pthread_mutex_unlock(&ctx.mu);
        if (quit) return NULL;
        run_round(r, next);
        pthread_mutex_lock(&ctx.mu);
        ctx.finished++;
        pthread_cond_broadcast(&ctx.cond);
        pthread_mutex_unlock(&ctx.mu);
    }
}

static void *master_main(void *arg)
{
    dc_master_run(arg, -1);
    return NULL;
}

static void wait_for(const int *counter, int target)
{
    pthread_mutex_lock(&ctx.mu);
    while (*counter < target) pthread_cond_wait(&ctx.cond, &ctx.mu);
    pthread_mutex_unlock(&ctx.mu);
}

static void one_size(dc_store *s, int sources, int rounds)
{
    char *ns = bp_ns("latency");
    char **names = bp_alloc((size_t)sources * sizeof *names);
    for (int i = 0; i < sources; i++) {
        names[i] = bp_alloc(16);
        snprintf(names[i], 16, "src%02d", i);
    }
    bp_check("task add", dc_task_add(s, ns, "task", (const char *const *)names, (size_t)sources));
    dc_worker **ws = bp_alloc((size_t)sources * sizeof *ws);
    dc_worker_options wo = {.ns = ns, .on_step = on_step};
    for (int i = 0; i < sources; i++)
        bp_check("worker new", dc_worker_new(s, "task", names[i], &wo, &ws[i]));
    dc_master_options mo = {.ns = ns, .on_step = on_step};
    dc_master *m;
    bp_check("master new", dc_master_new(s, &mo, &m));
    pthread_mutex_lock(&ctx.mu);
    ctx.step3 = ctx.resolved = ctx.finished = ctx.quit = 0;
    ctx.round = -1;
    ctx.t0 = 0;
    ctx.n_trace = 0;
    pthread_mutex_unlock(&ctx.mu);
    pthread_t mt;
    if (pthread_create(&mt, NULL, master_main, m)) bp_die("pthread_create", DC_ENOMEM);
    while (dc_master_revision(m) == 0) usleep(1000);

    double *lat = bp_alloc((size_t)rounds * sizeof *lat);
    double *cpu = bp_alloc((size_t)rounds * sizeof *cpu);
    runner *rs = bp_alloc((size_t)sources * sizeof *rs);
    for (int i = 0; i < sources; i++) {
        rs[i].w = ws[i];
        if (i < sources - 1 && pthread_create(&rs[i].th, NULL, runner_main, &rs[i]))
            bp_die("pthread_create", DC_ENOMEM);
    }
    for (int r = 0; r < rounds; r++) {
        pthread_mutex_lock(&ctx.mu);
        ctx.round = r;
        pthread_cond_broadcast(&ctx.go);
        pthread_mutex_unlock(&ctx.mu);
        wait_for(&ctx.step3, r * sources + sources - 1);
        double t0 = bp_now(), cpu0 = process_cpu();
        pthread_mutex_lock(&ctx.mu);
        if (r == rounds - 1) ctx.t0 = t0;
        pthread_mutex_unlock(&ctx.mu);
        run_round(&rs[sources - 1], r);
        wait_for(&ctx.resolved, r + 1);
        lat[r] = ctx.t_done - t0;
        cpu[r] = ctx.cpu_done - cpu0;
        wait_for(&ctx.finished, (r + 1) * (sources - 1));
        for (int i = 0; i < sources; i++)
            if (rs[i].rc) bp_die("worker run", rs[i].rc);
    }
    pthread_mutex_lock(&ctx.mu);
    ctx.quit = 1;
    pthread_cond_broadcast(&ctx.go);
    pthread_mutex_unlock(&ctx.mu);
    for (int i = 0; i < sources - 1; i++) pthread_join(rs[i].th, NULL);
    for (size_t i = 0; i < ctx.n_trace; i++)
        printf("TRACE %d %.3f %s %d %s\n", sources, 1e3 * ctx.trace[i].t,
               ctx.trace[i].role == 'm' ? "master" : "worker", ctx.trace[i].step,
               ctx.trace[i].source);
    char name[64];
    snprintf(name, sizeof name, "lat_%d_p50_ms", sources);
    bp_result(name, 1e3 * bp_pct(lat, (size_t)rounds, 50));
    snprintf(name, sizeof name, "lat_%d_p90_ms", sources);
    bp_result(name, 1e3 * bp_pct(lat, (size_t)rounds, 90));
    snprintf(name, sizeof name, "lat_%d_cpu_p50_ms", sources);
    bp_result(name, 1e3 * bp_pct(cpu, (size_t)rounds, 50));
    snprintf(name, sizeof name, "lat_%d_rounds", sources);
    bp_result(name, rounds);

    dc_master_stop(m);
    pthread_join(mt, NULL);
    dc_master_free(m);
    for (int i = 0; i < sources; i++) {
        dc_worker_free(ws[i]);
        free(names[i]);
    }
    bp_wipe(s, ns);
    free(ws);
    free(names);
    free(rs);
    free(lat);
    free(cpu);
    free(ns);
}

int bp_latency(dc_store *s, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: latency ROUNDS SOURCES[,SOURCES...]\n");
        return 2;
    }
    int rounds = atoi(argv[0]);
    if (rounds < 1) return 2;
    char *list = strdup(argv[1]);
    if (!list) bp_die("strdup", DC_ENOMEM);
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int sources = atoi(tok);
        if (sources < 2) continue;
        fprintf(stderr, "latency: %d sources, %d rounds\n", sources, rounds);
        one_size(s, sources, rounds);
    }
    free(list);
    return 0;
}
