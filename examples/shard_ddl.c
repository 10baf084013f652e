/*
 * shard_ddl: the pessimistic shard-DDL lock protocol in one process.
 *
 * A master and N workers (threads) share one mem:// store. Every worker
 * replicates one upstream shard of the same tables and meets the same
 * ALTER TABLE for each of them; for each table, one lock is opened, the
 * first worker to report executes the DDL downstream, the others skip it.
 * Each protocol step is printed with its store revision, and a summary
 * checks DM's revision order M1 < W1 < M2 < W2 < M3 for every source
 * and that every DDL ran downstream exactly once.
 *
 *   example_shard_ddl [WORKERS [TABLES [STORE_URI]]]     (defaults: 4 3 mem://)
 *
 * Exit status: 0 if every check passed, 1 if one failed, 2 on usage/errors.
 */
/* Only standard C and POSIX, so that it builds with -std=c11 as users build it. */
#define _POSIX_C_SOURCE 200809L

#include <ddlcoord/ddlcoord.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_TABLES  32
#define TIMEOUT_MS  60000

typedef struct rec {
    int step;
    int master;
    char lock[96];
    char source[32];
    long long rev;
} rec;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static rec *recs;
static size_t n_recs, cap_recs;
static int execs[MAX_TABLES]; /* how many times each table's DDL ran downstream */
static const char *NS = "/ddlcoord-demo";

static void sleep_1ms(void)
{
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
}

static const char *step_name(int step)
{
    static const char *names[] = {"",
                                  "GET infos + operations",
                                  "PUT info",
                                  "lock synced?",
                                  "PUT operation",
                                  "got operation",
                                  "exec / skip",
                                  "flush checkpoint",
                                  "done txn",
                                  "saw done",
                                  "DELETE operations"};
    return step >= 1 && step <= 10 ? names[step] : "?";
}

static int on_step(const dc_step *st, void *ud)
{
    (void)ud;
    int master = strcmp(st->role, "master") == 0;
    pthread_mutex_lock(&mu);
    if (n_recs == cap_recs) {
        size_t cap = cap_recs ? 2 * cap_recs : 256;
        rec *r = realloc(recs, cap * sizeof *r);
        if (!r) {
            pthread_mutex_unlock(&mu);
            return 1; /* out of memory: stop rather than print a wrong summary */
        }
        recs = r;
        cap_recs = cap;
    }
    rec *r = &recs[n_recs++];
    r->step = st->step;
    r->master = master;
    snprintf(r->lock, sizeof r->lock, "%s", st->lock_id ? st->lock_id : "");
    snprintf(r->source, sizeof r->source, "%s", st->source ? st->source : "");
    r->rev = (long long)st->revision;
    char rev[24] = "";
    if (st->revision) snprintf(rev, sizeof rev, "%lld", (long long)st->revision);
    printf("%6s  %-6s %2d %-22s %-22s %-10s %s\n", rev, st->role, st->step, step_name(st->step),
           st->lock_id ? st->lock_id : "", st->source ? st->source : "", st->text);
    fflush(stdout);
    pthread_mutex_unlock(&mu);
    return 0;
}

typedef struct job {
    dc_store *store;
    char source[32];
    int n_tables;
    int rc;
} job;

static int exec_ddl(const dc_operation *op, void *ud)
{
    (void)ud;
    if (!op->exec) return 0; /* skip: the owner runs it for everyone */
    int t = -1;
    const char *p = strstr(op->id, "`orders_");
    if (p) t = atoi(p + 8) - 1;
    pthread_mutex_lock(&mu);
    if (t >= 0 && t < MAX_TABLES) execs[t]++;
    pthread_mutex_unlock(&mu);
    return 0;
}

static int flush_checkpoint(const dc_operation *op, const char *position, void *ud)
{
    (void)op;
    (void)position;
    (void)ud;
    return 0;
}

static void *worker_main(void *arg)
{
    job *j = arg;
    dc_worker_options o = {.ns = NS, .on_step = on_step};
    dc_worker *w;
    j->rc = dc_worker_new(j->store, "demo", j->source, &o, &w);
    for (int t = 0; t < j->n_tables && j->rc == DC_OK; t++) {
        char table[32], ddl[96], pos[32];
        snprintf(table, sizeof table, "orders_%d", t + 1);
        snprintf(ddl, sizeof ddl, "ALTER TABLE orders_%d ADD COLUMN note VARCHAR(64)", t + 1);
        snprintf(pos, sizeof pos, "mysql-bin.000001:%d", 4 + 100 * t);
        const char *ddls[] = {ddl};
        j->rc = dc_worker_run_ddl(w, "shop", table, ddls, 1, pos, exec_ddl, flush_checkpoint, NULL,
                                  TIMEOUT_MS, NULL);
    }
    if (j->rc)
        fprintf(stderr, "worker %s: %s: %s\n", j->source, dc_errname(j->rc), dc_last_error());
    dc_worker_free(w);
    return NULL;
}

static void *master_main(void *arg)
{
    dc_master *m = arg;
    int rc = dc_master_run(m, -1);
    if (rc != DC_ECLOSED) fprintf(stderr, "master: %s: %s\n", dc_errname(rc), dc_last_error());
    return NULL;
}

static long long find(int master, int step, const char *lock, const char *source)
{
    for (size_t i = 0; i < n_recs; i++) {
        rec *r = &recs[i];
        if (r->master == master && r->step == step && (!lock || !strcmp(r->lock, lock)) &&
            (!source || !strcmp(r->source, source)))
            return r->rev;
    }
    return 0;
}

/* The summary: revision order per source, and exactly-once per DDL. */
static int summarize(int n_workers, int n_tables, char names[][32])
{
    int ok = 1;
    long long m1 = find(1, 1, NULL, NULL);
    printf("\nSummary (M1 = %lld)\n", m1);
    for (int t = 0; t < n_tables; t++) {
        char lock[96];
        snprintf(lock, sizeof lock, "demo-`shop`.`orders_%d`", t + 1);
        long long m3 = find(1, 10, lock, NULL);
        int order = m3 > 0;
        long long w1lo = 0, w1hi = 0, w2hi = 0;
        for (int i = 0; i < n_workers; i++) {
            long long w1 = find(0, 2, lock, names[i]), m2 = find(1, 4, lock, names[i]);
            long long w2 = find(0, 8, lock, names[i]);
            if (!(m1 < w1 && w1 < m2 && m2 < w2 && w2 < m3)) {
                order = 0;
                printf("  %s %s: M1 %lld W1 %lld M2 %lld W2 %lld M3 %lld  out of order\n", lock,
                       names[i], m1, w1, m2, w2, m3);
            }
            if (!w1lo || w1 < w1lo) w1lo = w1;
            if (w1 > w1hi) w1hi = w1;
            if (w2 > w2hi) w2hi = w2;
        }
        int once = execs[t] == 1;
        printf(
            "  %-24s W1 %lld..%lld, last W2 %lld, M3 %lld: order %s, DDL executed %d time%s %s\n",
            lock, w1lo, w1hi, w2hi, m3, order ? "ok" : "WRONG", execs[t], execs[t] == 1 ? "" : "s",
            once ? "ok" : "WRONG");
        ok = ok && order && once;
    }
    printf("%s\n",
           ok ? "All checks passed: M1 < W1 < M2 < W2 < M3, every DDL executed exactly once."
              : "CHECK FAILED");
    return ok;
}

int main(int argc, char **argv)
{
    int n_workers = argc > 1 ? atoi(argv[1]) : 4, n_tables = argc > 2 ? atoi(argv[2]) : 3;
    const char *uri = argc > 3 ? argv[3] : "mem://";
    if (n_workers < 1 || n_workers > MAX_WORKERS || n_tables < 1 || n_tables > MAX_TABLES) {
        fprintf(stderr, "usage: %s [WORKERS 1-%d [TABLES 1-%d [STORE_URI]]]\n", argv[0],
                MAX_WORKERS, MAX_TABLES);
        return 2;
    }
    dc_store *store;
    int rc = dc_store_open(uri, &store);
    if (rc) {
        fprintf(stderr, "open %s: %s: %s\n", uri, dc_errname(rc), dc_last_error());
        return 2;
    }
    /* A fresh namespace per run, so a shared server keeps no old state in the way. */
    static char ns[64];
    snprintf(ns, sizeof ns, "/ddlcoord-demo/%ld", (long)getpid());
    NS = ns;
    static char names[MAX_WORKERS][32];
    const char *srcs[MAX_WORKERS];
    for (int i = 0; i < n_workers; i++) {
        snprintf(names[i], sizeof names[i], "mysql-%02d", i + 1);
        srcs[i] = names[i];
    }
    printf("ddlcoord shard-DDL demo: 1 master, %d worker%s, %d table%s, store %s\n", n_workers,
           n_workers == 1 ? "" : "s", n_tables, n_tables == 1 ? "" : "s", uri);
    printf(
        "task \"demo\" has sources mysql-01..mysql-%02d; each meets ALTER TABLE on every table\n\n",
        n_workers);
    printf("%6s  %-6s %2s %-22s %-22s %-10s %s\n", "rev", "role", "#", "step", "lock", "source",
           "detail");
    printf("%6s  %-6s %2s %-22s %-22s %-10s %s\n", "------", "------", "--",
           "----------------------", "----------------------", "----------", "------");
    if ((rc = dc_task_add(store, NS, "demo", srcs, (size_t)n_workers))) {
        fprintf(stderr, "task add: %s: %s\n", dc_errname(rc), dc_last_error());
        return 2;
    }
    dc_master_options mo = {.ns = NS, .on_step = on_step};
    dc_master *m;
    if ((rc = dc_master_new(store, &mo, &m))) return 2;
    pthread_t mt, wt[MAX_WORKERS];
    pthread_create(&mt, NULL, master_main, m);
    while (dc_master_revision(m) == 0) sleep_1ms(); /* step 1 before any worker: M1 < W1 */
    static job jobs[MAX_WORKERS];
    for (int i = 0; i < n_workers; i++) {
        jobs[i] = (job){.store = store, .n_tables = n_tables};
        memcpy(jobs[i].source, names[i], sizeof jobs[i].source);
        pthread_create(&wt[i], NULL, worker_main, &jobs[i]);
    }
    int failed = 0;
    for (int i = 0; i < n_workers; i++) {
        pthread_join(wt[i], NULL);
        failed |= jobs[i].rc != DC_OK;
    }
    /* The last step 10 may still be on its way: wait for the master to be idle. */
    for (int i = 0; i < 5000; i++) {
        dc_lock_status *st;
        size_t n = 1;
        if (dc_master_locks(m, NULL, &st, &n) == DC_OK) dc_lock_status_free_array(st, n);
        if (n == 0) break;
        sleep_1ms();
    }
    dc_master_stop(m);
    pthread_join(mt, NULL);
    dc_master_free(m);
    /* Leave nothing behind (resolution markers, membership) on a shared server. */
    char prefix[80];
    snprintf(prefix, sizeof prefix, "%s/", NS);
    dc_delete(store, prefix, strlen(prefix), DC_PREFIX, NULL, NULL);
    dc_store_close(store);
    int ok = !failed && summarize(n_workers, n_tables, names);
    free(recs);
    return ok ? 0 : 1;
}
