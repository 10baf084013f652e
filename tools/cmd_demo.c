/*
 * `ddlcoord demo`: the whole protocol in one process — a master thread and
 * one worker thread per source, on mem:// by default — coordinating one
 * shard-DDL lock per table, one lock after the other. Every step of every
 * lock is shown as it happens (demo_timeline.c); for long runs only the
 * first lock's timeline is shown, then a progress line. At the end the
 * recorded revisions and executions are checked (demo_check.c): DM's
 * order M1 < W1 < M2 < W2 < M3 for each (lock, source), each DDL executed
 * exactly once and skipped by every other source, and nothing left behind in
 * the store. A failed check exits with DCX_EXIT_CHECK.
 *
 * Workers report with a small random delay (--pace) so that the owner — the
 * first source to report — changes from lock to lock, as it would with real
 * binlog streams, and the owner "executes" its DDL for a moment while the
 * others wait.
 */
#include "demo.h"

#include <cjson/cJSON.h>
#include <stdio.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
    OPT_SOURCES = DCX_OPT_FIRST_PRIVATE,
    OPT_TABLES,
    OPT_PACE,
    OPT_TASK,
    OPT_VERBOSE,
    OPT_QUIET,
};

#define MAX_SOURCES       256
#define MAX_TABLES        100000
#define FULL_TIMELINE_MAX 48 /* locks x sources shown in full by default */
#define STEP_TIMEOUT_MS   10000
#define LOCK_TIMEOUT_MS   30000

static int json_out; /* -o json: the summary as one JSON object, no timeline */

static void help(void)
{
    printf("Usage: ddlcoord demo [--store URI] [--sources N] [--tables M] [--pace MS]\n"
           "                     [--verbose | --quiet | -o json]\n"
           "Run a master and N workers in one process (default store mem://). Each of the M\n"
           "tables gets one ALTER TABLE that all N sources report; watch the lock's life\n"
           "step by step (DM's steps 1-10 with their store revisions), then a\n"
           "summary that checks the revision order M1 < W1 < M2 < W2 < M3 and that every\n"
           "DDL was executed exactly once.\n\n"
           "  --sources N   upstream shards (workers), default 3 (max %d)\n"
           "  --tables M    tables, i.e. locks, default 2\n"
           "  --pace MS     workers report within a random 0..MS ms (default 250 when the\n"
           "                timeline is shown, else 0); the owner executes for MS/2 ms\n"
           "  --task NAME   task name (default demo)\n"
           "  --verbose     show every lock's timeline (default: all when M x N <= %d,\n"
           "                else the first lock's, then a progress line)\n"
           "  --quiet       no timeline: only the summary\n"
           "  -o json       no timeline: the summary as JSON (ok, store, sources, locks,\n"
           "                revisions, seconds, keys_left, summary)\n"
           "On a store other than mem:// the demo uses the namespace /ddlcoord-demo-PID\n"
           "(unless --namespace is given) and deletes it afterwards.\n\n%s\n%s",
           MAX_SOURCES, FULL_TIMELINE_MAX, dcx_common_help, dcx_exit_help);
}

typedef struct demo {
    dcx_ctx *ctx;
    const char *task;
    size_t n_sources, n_tables;
    int pace_ms;
    char **sources;  /* "mysql-01"… */
    char **tables;   /* downstream table names */
    char **ddls;     /* one per table */
    char **lock_ids; /* one per table */
    char **headers;  /* timeline header per lock */
    demo_timeline *tl;
    demo_check *chk;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t go;        /* workers may start lock k while k < go */
    size_t *finished; /* workers done with lock k */
    int abort;
    size_t failures;       /* worker runs that did not end with DC_OK */
    atomic_size_t current; /* lock the workers are on (master callback hint) */
} demo;

typedef struct worker_ctx {
    demo *d;
    size_t index;
    size_t lock;
    unsigned seed;
} worker_ctx;

static const char *const table_names[] = {"orders",   "customers", "payments", "shipments",
                                          "invoices", "reviews",   "coupons",  "carts"};
static const char *const changes[] = {
    "ADD COLUMN `note` VARCHAR(255) NULL",    "ADD COLUMN `updated_at` DATETIME NULL",
    "ADD INDEX `idx_created` (`created_at`)", "ADD COLUMN `region` CHAR(2) NOT NULL DEFAULT ''",
    "MODIFY COLUMN `amount` DECIMAL(16,2)",
};

static void sleep_ms(int ms)
{
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The source index of a name "mysql-NN" (SIZE_MAX if it is not one of ours). */
static size_t source_index(const demo *d, const char *source)
{
    if (!source) return SIZE_MAX;
    for (size_t i = 0; i < d->n_sources; i++)
        if (strcmp(d->sources[i], source) == 0) return i;
    return SIZE_MAX;
}

static size_t lock_index(demo *d, const char *lock_id)
{
    if (!lock_id) return SIZE_MAX;
    size_t cur = atomic_load(&d->current);
    if (cur < d->n_tables && strcmp(d->lock_ids[cur], lock_id) == 0) return cur;
    for (size_t i = 0; i < d->n_tables; i++)
        if (strcmp(d->lock_ids[i], lock_id) == 0) return i;
    return SIZE_MAX;
}

static int dcp_master_step(const dc_step *st, void *ud)
{
    demo *d = ud;
    size_t lock = lock_index(d, st->lock_id);
    size_t src = source_index(d, st->source);
    demo_check_step(d->chk, lock, src, st);
    demo_timeline_add(d->tl, lock, lock < d->n_tables ? d->headers[lock] : NULL, st);
    if (st->step == 10) {
        pthread_mutex_lock(&d->mu);
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
    }
    return 0;
}

static int dcp_worker_step(const dc_step *st, void *ud)
{
    worker_ctx *w = ud;
    demo_check_step(w->d->chk, w->lock, w->index, st);
    demo_timeline_add(w->d->tl, w->lock, w->d->headers[w->lock], st);
    return 0;
}

static int exec_cb(const dc_operation *op, void *ud)
{
    worker_ctx *w = ud;
    demo_check_exec(w->d->chk, w->lock, w->index, op->exec);
    if (op->exec) sleep_ms(w->d->pace_ms / 2); /* the downstream ALTER takes a moment */
    return 0;
}

static int checkpoint_cb(const dc_operation *op, const char *position, void *ud)
{
    (void)op;
    (void)position;
    (void)ud;
    return 0;
}

static void *worker_main(void *arg)
{
    worker_ctx *w = arg;
    demo *d = w->d;
    dc_worker_options o = {.ns = d->ctx->ns, .on_step = dcp_worker_step, .step_userdata = w};
    dc_worker *wk = NULL;
    int rc = dc_worker_new(d->ctx->store, d->task, d->sources[w->index], &o, &wk);
    for (size_t k = 0; k < d->n_tables; k++) {
        pthread_mutex_lock(&d->mu);
        while (d->go <= k && !d->abort) pthread_cond_wait(&d->cv, &d->mu);
        int stop = d->abort;
        pthread_mutex_unlock(&d->mu);
        if (stop) break;
        w->lock = k;
        if (rc == DC_OK) {
            sleep_ms(d->pace_ms ? (int)(rand_r(&w->seed) % (unsigned)(d->pace_ms + 1)) : 0);
            char position[64];
            snprintf(position, sizeof position, "binlog.000001:%zu", 4 + k * 1024);
            const char *ddl = d->ddls[k];
            rc = dc_worker_run_ddl(wk, "shop", d->tables[k], &ddl, 1, position, exec_cb,
                                   checkpoint_cb, w, STEP_TIMEOUT_MS, NULL);
            if (rc != DC_OK)
                dcx_err(d->ctx, "worker %s, lock %s: %s (%s)", d->sources[w->index], d->lock_ids[k],
                        dc_strerror(rc), dc_last_error());
        }
        demo_check_result(d->chk, k, w->index, rc);
        pthread_mutex_lock(&d->mu);
        d->finished[k]++;
        if (rc != DC_OK) d->failures++;
        pthread_cond_broadcast(&d->cv);
        pthread_mutex_unlock(&d->mu);
        if (rc != DC_OK) break; /* the lock will not resolve; main reports it */
    }
    dc_worker_free(wk);
    return NULL;
}

typedef struct master_thread {
    dc_master *m;
    atomic_int rc; /* read by the main thread while this one runs */
} master_thread;

static void *master_main(void *arg)
{
    master_thread *mt = arg;
    int rc;
    while ((rc = dc_master_run(mt->m, 500)) == DC_OK) {
    }
    atomic_store(&mt->rc, rc);
    return NULL;
}

static void free_strv(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static void demo_clear(demo *d)
{
    free_strv(d->sources, d->n_sources);
    free_strv(d->tables, d->n_tables);
    free_strv(d->ddls, d->n_tables);
    free_strv(d->lock_ids, d->n_tables);
    free_strv(d->headers, d->n_tables);
    free(d->finished);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
}

/* Names, DDLs, lock IDs and headers. DC_OK or DC_ENOMEM. */
static int demo_build(demo *d)
{
    size_t nt = sizeof table_names / sizeof table_names[0];
    size_t nc = sizeof changes / sizeof changes[0];
    d->sources = calloc(d->n_sources, sizeof *d->sources);
    d->tables = calloc(d->n_tables, sizeof *d->tables);
    d->ddls = calloc(d->n_tables, sizeof *d->ddls);
    d->lock_ids = calloc(d->n_tables, sizeof *d->lock_ids);
    d->headers = calloc(d->n_tables, sizeof *d->headers);
    d->finished = calloc(d->n_tables, sizeof *d->finished);
    if (!d->sources || !d->tables || !d->ddls || !d->lock_ids || !d->headers || !d->finished)
        return DC_ENOMEM;
    char buf[512];
    for (size_t i = 0; i < d->n_sources; i++) {
        snprintf(buf, sizeof buf, "mysql-%02zu", i + 1);
        if (!(d->sources[i] = strdup(buf))) return DC_ENOMEM;
    }
    for (size_t k = 0; k < d->n_tables; k++) {
        if (k < nt)
            snprintf(buf, sizeof buf, "%s", table_names[k]);
        else
            snprintf(buf, sizeof buf, "%s_%zu", table_names[k % nt], k / nt + 1);
        if (!(d->tables[k] = strdup(buf))) return DC_ENOMEM;
        snprintf(buf, sizeof buf, "ALTER TABLE `shop`.`%s` %s", d->tables[k], changes[k % nc]);
        if (!(d->ddls[k] = strdup(buf))) return DC_ENOMEM;
        int rc = dc_lock_id_build(d->task, "shop", d->tables[k], &d->lock_ids[k]);
        if (rc != DC_OK) return rc;
        snprintf(buf, sizeof buf, "lock %zu/%zu  %s\n  DDL: %s", k + 1, d->n_tables, d->lock_ids[k],
                 d->ddls[k]);
        if (!(d->headers[k] = strdup(buf))) return DC_ENOMEM;
    }
    return DC_OK;
}

/* Locks, infos and operations still in the store (-1 when it cannot tell). */
static long leftovers(demo *d)
{
    dc_lock_status *locks = NULL;
    size_t n = 0;
    if (dc_locks_read(d->ctx->store, d->ctx->ns, d->task, &locks, &n, NULL) != DC_OK) return -1;
    dc_lock_status_free_array(locks, n);
    long total = (long)n;
    char *keys[2] = {NULL, NULL};
    int rc = dc_info_key(d->ctx->ns, d->task, NULL, &keys[0]);
    if (rc == DC_OK) rc = dc_operation_key(d->ctx->ns, d->task, NULL, &keys[1]);
    for (int i = 0; i < 2 && rc == DC_OK; i++) {
        dc_kvs *kvs = NULL;
        rc = dc_get(d->ctx->store, keys[i], strlen(keys[i]), DC_PREFIX | DC_COUNT_ONLY, 0, &kvs);
        if (rc == DC_OK) total += (long)kvs->count;
        dc_kvs_free(kvs);
    }
    free(keys[0]);
    free(keys[1]);
    return rc == DC_OK ? total : -1;
}

static void progress(demo *d, int64_t t0, int final)
{
    size_t resolved, execs, skips;
    demo_check_totals(d->chk, &resolved, &execs, &skips);
    int tty = isatty(fileno(stdout));
    if (!tty && !final && resolved % (d->n_tables / 10 ? d->n_tables / 10 : 1) != 0) return;
    printf("%s  progress: %zu/%zu locks resolved, %zu executed, %zu skipped, %.1f s%s",
           tty ? "\r" : "", resolved, d->n_tables, execs, skips,
           (double)(dcx_now_ms() - t0) / 1000.0, tty && !final ? "" : "\n");
    fflush(stdout);
}

/* Let the workers through the locks one by one. 0 when all resolved. */
static int drive(demo *d, size_t shown, int quiet, int64_t t0)
{
    for (size_t k = 0; k < d->n_tables; k++) {
        atomic_store(&d->current, k);
        pthread_mutex_lock(&d->mu);
        d->go = k + 1;
        pthread_cond_broadcast(&d->cv);
        int64_t deadline = dcx_now_ms() + LOCK_TIMEOUT_MS;
        /* A failed worker run means the lock cannot resolve: stop at once. */
        while ((d->finished[k] < d->n_sources || !demo_check_resolved(d->chk, k)) && !d->failures &&
               dcx_now_ms() < deadline) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 50 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        }
        int ok = d->finished[k] == d->n_sources && demo_check_resolved(d->chk, k);
        pthread_mutex_unlock(&d->mu);
        if (!ok) {
            demo_timeline_flush(d->tl);
            dcx_err(d->ctx, "lock %s did not resolve (%zu/%zu workers finished)", d->lock_ids[k],
                    d->finished[k], d->n_sources);
            return -1;
        }
        if (k + 1 == shown) demo_timeline_flush(d->tl);
        if (!quiet && k + 1 >= shown && shown < d->n_tables) progress(d, t0, k + 1 == d->n_tables);
    }
    return 0;
}

static int parse(dcx_ctx *ctx, int argc, char **argv, demo *d, int *verbose, int *quiet,
                 int *pace_set)
{
    static const struct option opts[] = {{"sources", required_argument, 0, OPT_SOURCES},
                                         {"tables", required_argument, 0, OPT_TABLES},
                                         {"pace", required_argument, 0, OPT_PACE},
                                         {"task", required_argument, 0, OPT_TASK},
                                         {"verbose", no_argument, 0, OPT_VERBOSE},
                                         {"quiet", no_argument, 0, OPT_QUIET},
                                         DCX_OUTPUT_LONG_OPTIONS,
                                         DCX_COMMON_LONG_OPTIONS,
                                         {0, 0, 0, 0}};
    int c;
    long v;
    while ((c = getopt_long(argc, argv, "hvqo:", opts, NULL)) != -1) {
        int out = dcx_output_option(ctx, c, optarg, &json_out);
        if (out < 0) return DCX_EXIT_USAGE;
        if (out) {
            if (json_out) *quiet = 1; /* the timeline is text: JSON is the summary alone */
            continue;
        }
        switch (c) {
        case 'h':
            help();
            return -1;
        case OPT_SOURCES:
            if ((v = dcx_parse_long(optarg, 1, MAX_SOURCES)) < 0) {
                dcx_err(ctx, "--sources must be 1..%d: %s", MAX_SOURCES, optarg);
                return DCX_EXIT_USAGE;
            }
            d->n_sources = (size_t)v;
            break;
        case OPT_TABLES:
            if ((v = dcx_parse_long(optarg, 1, MAX_TABLES)) < 0) {
                dcx_err(ctx, "--tables must be 1..%d: %s", MAX_TABLES, optarg);
                return DCX_EXIT_USAGE;
            }
            d->n_tables = (size_t)v;
            break;
        case OPT_PACE:
            if ((v = dcx_parse_long(optarg, 0, 10000)) < 0) {
                dcx_err(ctx, "--pace must be 0..10000 ms: %s", optarg);
                return DCX_EXIT_USAGE;
            }
            d->pace_ms = (int)v;
            *pace_set = 1;
            break;
        case OPT_TASK:
            if (!*optarg) {
                dcx_err(ctx, "--task must not be empty");
                return DCX_EXIT_USAGE;
            }
            d->task = optarg;
            break;
        case 'v':
        case OPT_VERBOSE:
            *verbose = 1;
            break;
        case 'q':
        case OPT_QUIET:
            *quiet = 1;
            break;
        default: {
            int r = dcx_common_option(ctx, c, optarg);
            if (r < 0) return DCX_EXIT_USAGE;
            if (r == 0) return dcx_usage_error(ctx);
        }
        }
    }
    if (optind < argc) {
        dcx_err(ctx, "unexpected argument '%s'", argv[optind]);
        return dcx_usage_error(ctx);
    }
    if (d->n_tables * d->n_sources > 1000000) {
        dcx_err(ctx, "--tables x --sources must be at most 1000000");
        return DCX_EXIT_USAGE;
    }
    if (*verbose && *quiet) {
        dcx_err(ctx, "--verbose and --quiet exclude each other");
        return DCX_EXIT_USAGE;
    }
    return DCX_EXIT_OK;
}

/* Pick the namespace: a private one on a shared store, so the demo never
 * meets a real deployment's locks or masters. */
static int choose_namespace(dcx_ctx *ctx, int *private_ns)
{
    *private_ns = 0;
    int ex = dcx_resolve(ctx);
    if (ex != DCX_EXIT_OK) return ex;
    if (ctx->ns_flag || strncmp(ctx->uri, "mem:", 4) == 0) return DCX_EXIT_OK;
    char ns[64];
    snprintf(ns, sizeof ns, "/ddlcoord-demo-%d", (int)getpid());
    char *copy = strdup(ns);
    if (!copy) return dcx_fail(ctx, DC_ENOMEM, "namespace");
    free(ctx->ns);
    ctx->ns = copy;
    *private_ns = 1;
    return DCX_EXIT_OK;
}

static void drop_namespace(dcx_ctx *ctx)
{
    size_t n = strlen(ctx->ns) + 2;
    char *prefix = malloc(n);
    if (!prefix) return;
    snprintf(prefix, n, "%s/", ctx->ns);
    dc_delete(ctx->store, prefix, n - 1, DC_PREFIX, NULL, NULL);
    free(prefix);
}

/* Run the master and the workers; returns the exit code. */

/* The summary as JSON: the checks' verdict, the run's size and the text. */
static int summary_json(const demo *d, int ok, const char *text, long left, int64_t revs,
                        double secs)
{
    cJSON *o = cJSON_CreateObject();
    int good = o && cJSON_AddBoolToObject(o, "ok", ok) &&
               cJSON_AddStringToObject(o, "store", d->ctx->uri_shown) &&
               cJSON_AddNumberToObject(o, "sources", (double)d->n_sources) &&
               cJSON_AddNumberToObject(o, "locks", (double)d->n_tables) &&
               cJSON_AddNumberToObject(o, "revisions", (double)revs) &&
               cJSON_AddNumberToObject(o, "seconds", secs) &&
               cJSON_AddNumberToObject(o, "keys_left", (double)left) &&
               cJSON_AddStringToObject(o, "summary", text ? text : "");
    char *s = good ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!s) return DCX_EXIT_FAIL;
    printf("%s\n", s);
    free(s);
    return DCX_EXIT_OK;
}

static int run(demo *d, int verbose, int quiet)
{
    dcx_ctx *ctx = d->ctx;
    size_t shown = quiet                                                        ? 0
                   : verbose || d->n_tables * d->n_sources <= FULL_TIMELINE_MAX ? d->n_tables
                                                                                : 1;
    int64_t t0 = dcx_now_ms();
    d->chk = demo_check_new(d->n_tables, d->n_sources);
    d->tl = demo_timeline_new(stdout, shown, t0);
    if (!d->chk || !d->tl) {
        demo_timeline_free(d->tl);
        demo_check_free(d->chk);
        return dcx_fail(ctx, DC_ENOMEM, "demo");
    }
    if (!json_out) {
        printf("ddlcoord demo: 1 master and %zu workers (sources) coordinate %zu shard DDL%s "
               "on %s\n",
               d->n_sources, d->n_tables, d->n_tables == 1 ? "" : "s", ctx->uri_shown);
        printf("Every source reports the same ALTER TABLE; the first to report owns the lock "
               "and\nexecutes it downstream, the others skip it. Revisions are the store's.\n");
    }
    if (shown) {
        printf("Tags: M1 master GET, W1 worker PUT info, M2 master PUT operation, W2 worker\n"
               "done txn, M3 master DELETE; DM's order is M1 < W1 < M2 < W2 < M3.\n");
        printf("\n" DEMO_TIMELINE_HEADER "\n", "time", "step", "who", "source", "tag", "rev",
               "what");
    }

    int ex = DCX_EXIT_OK;
    int rc =
        dc_task_add(ctx->store, ctx->ns, d->task, (const char *const *)d->sources, d->n_sources);
    dc_master_options mo = {.ns = ctx->ns, .on_step = dcp_master_step, .step_userdata = d};
    dc_master *m = NULL;
    if (rc == DC_OK) rc = dc_master_new(ctx->store, &mo, &m);
    if (rc != DC_OK) {
        ex = dcx_fail(ctx, rc, "start the master");
        demo_timeline_free(d->tl);
        demo_check_free(d->chk);
        return ex;
    }
    master_thread mt = {.m = m};
    atomic_init(&mt.rc, DC_OK);
    pthread_t mthread, *wthreads = calloc(d->n_sources, sizeof *wthreads);
    worker_ctx *wctx = calloc(d->n_sources, sizeof *wctx);
    size_t started = 0;
    int master_started = 0;
    if (!wthreads || !wctx) {
        ex = dcx_fail(ctx, DC_ENOMEM, "demo");
        goto out;
    }
    if (pthread_create(&mthread, NULL, master_main, &mt) != 0) {
        ex = dcx_fail(ctx, DC_EINTERNAL, "start the master thread");
        goto out;
    }
    master_started = 1;
    /* DM's order M1 < W1 holds for infos put after the master's first
     * read; infos put earlier are picked up by that read (also correct, but
     * not the sequence the demo shows and checks). */
    for (int64_t end = dcx_now_ms() + LOCK_TIMEOUT_MS;
         dc_master_revision(m) == 0 && atomic_load(&mt.rc) == DC_OK && dcx_now_ms() < end;)
        sleep_ms(5);
    if (dc_master_revision(m) == 0) {
        dcx_err(ctx, "the master did not start (%s)", dc_strerror(atomic_load(&mt.rc)));
        ex = DCX_EXIT_STORE;
        goto out;
    }
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    for (; started < d->n_sources; started++) {
        wctx[started] = (worker_ctx){d, started, 0, seed + (unsigned)started * 7919u};
        if (pthread_create(&wthreads[started], NULL, worker_main, &wctx[started]) != 0) {
            ex = dcx_fail(ctx, DC_EINTERNAL, "start a worker thread");
            goto out;
        }
    }
    if (drive(d, shown, quiet, t0) != 0) ex = DCX_EXIT_CHECK;
out:
    pthread_mutex_lock(&d->mu);
    d->abort = 1;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; i < started; i++) pthread_join(wthreads[i], NULL);
    dc_master_stop(m);
    if (master_started) pthread_join(mthread, NULL);
    dc_master_free(m);
    demo_timeline_free(d->tl); /* prints whatever is still queued */
    if (atomic_load(&mt.rc) != DC_OK && atomic_load(&mt.rc) != DC_ECLOSED) {
        dcx_err(ctx, "master stopped: %s", dc_strerror(atomic_load(&mt.rc)));
        if (ex == DCX_EXIT_OK) ex = DCX_EXIT_CHECK;
    }
    if (master_started && started == d->n_sources) {
        int64_t revs = 0;
        dc_revision(ctx->store, &revs);
        double secs = (double)(dcx_now_ms() - t0) / 1000.0;
        char *text = NULL;
        size_t text_len = 0;
        FILE *out = json_out ? open_memstream(&text, &text_len) : stdout;
        long left = leftovers(d);
        int ok = out && demo_check_summary(d->chk, out, left, ctx->uri_shown, revs, secs);
        if (json_out && out) fclose(out);
        if (!ok) ex = DCX_EXIT_CHECK;
        if (json_out) {
            int jx = summary_json(d, ok, text, left, revs, secs);
            if (jx != DCX_EXIT_OK && ex == DCX_EXIT_OK) ex = jx;
        }
        free(text);
        if (ok && !quiet)
            printf("Next: ddlcoord demo --sources 8 --tables 100, or --store etcd://HOST:PORT;\n"
                   "      ddlcoord --help for the master, worker and admin commands.\n");
    }
    demo_check_free(d->chk);
    free(wthreads);
    free(wctx);
    return ex;
}

int dcx_cmd_demo(dcx_ctx *ctx, int argc, char **argv)
{
    demo d = {.ctx = ctx, .task = "demo", .n_sources = 3, .n_tables = 2, .pace_ms = 250};
    int verbose = 0, quiet = 0, pace_set = 0;
    pthread_mutex_init(&d.mu, NULL);
    pthread_cond_init(&d.cv, NULL);
    atomic_init(&d.current, 0);
    int ex = parse(ctx, argc, argv, &d, &verbose, &quiet, &pace_set);
    if (ex != DCX_EXIT_OK) {
        demo_clear(&d);
        return ex < 0 ? DCX_EXIT_OK : ex;
    }
    int full = !quiet && (verbose || d.n_tables * d.n_sources <= FULL_TIMELINE_MAX);
    if (!pace_set && !full) d.pace_ms = 0; /* nothing to watch: go fast */
    dcx_log_setup(ctx, DC_LOG_WARN);
    ctx->default_uri = "mem://";
    int private_ns = 0;
    ex = choose_namespace(ctx, &private_ns);
    if (ex == DCX_EXIT_OK) ex = dcx_open_store(ctx);
    if (ex == DCX_EXIT_OK && demo_build(&d) != DC_OK) ex = dcx_fail(ctx, DC_ENOMEM, "demo");
    if (ex == DCX_EXIT_OK) {
        ex = run(&d, verbose, quiet);
        if (private_ns) drop_namespace(ctx);
    }
    demo_clear(&d);
    fflush(stdout);
    return ex;
}
