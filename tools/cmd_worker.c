/*
 * `ddlcoord worker`: one worker's side of one shard-DDL lock, for shell
 * scripts. It reports the DDLs (step 2), waits for the master's operation
 * (step 5), runs --exec CMD with /bin/sh only when this source is told to
 * execute (step 6; the lock ID and DDLs are in CMD's environment), records
 * the result, and marks the operation done (step 8) — dc_worker_run_ddl does
 * the protocol, this file maps its outcome onto exit codes.
 *
 * Re-running the same command after a crash (same --position) finishes the
 * earlier run instead of opening a new lock: the library's resolution marker
 * remembers what was executed, so CMD does not run twice.
 *
 * Test-only: DDLCOORD_TEST_PAUSE_AT_STEP=N stops the process (SIGSTOP) right
 * after worker step N (2, 5, 6, 7 or 8), so a test can kill it there.
 */
#include "common.h"
#include "worker_hint.h"
#include "exec_child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum {
    OPT_TASK = DCX_OPT_FIRST_PRIVATE,
    OPT_SOURCE,
    OPT_SCHEMA,
    OPT_TABLE,
    OPT_DDL,
    OPT_POSITION,
    OPT_EXEC,
    OPT_TIMEOUT,
    OPT_NO_EXEC,
    OPT_TTL,
};

#define WORKER   "worker"
#define MAX_DDLS 4096

static void help(void)
{
    printf(
        "Usage: ddlcoord worker --task T --source S --schema DB --table TBL --ddl SQL\n"
        "                       [--ddl SQL...] [--position P] {--exec CMD | --no-exec}\n"
        "                       [--timeout S] [--ttl S] [-o json]\n"
        "Take one source's part in the shard-DDL lock of DB.TBL: report the DDLs, wait\n"
        "for the master's decision, run CMD if this source must execute them (the owner),\n"
        "skip them otherwise, mark the operation done, and exit 0.\n\n"
        "  --task T, --source S      who reports\n"
        "  --schema DB, --table TBL  the downstream table the lock is about\n"
        "  --ddl SQL                 a DDL statement (repeat for several, in order)\n"
        "  --position P              where the DDL is in the source's stream (e.g. a binlog\n"
        "                            position); re-running with the same P after a crash\n"
        "                            finishes the earlier run without executing twice\n"
        "  --exec CMD                run with /bin/sh -c when told to execute; environment:\n"
        "                            DDLCOORD_LOCK_ID, DDLCOORD_TASK, DDLCOORD_SOURCE,\n"
        "                            DDLCOORD_SCHEMA, DDLCOORD_TABLE, DDLCOORD_POSITION,\n"
        "                            DDLCOORD_DDL_COUNT, DDLCOORD_DDL_1..N, DDLCOORD_DDLS\n"
        "                            (all, one per line), DDLCOORD_EXEC_ATTEMPT (1, or N > 1\n"
        "                            when an earlier run may have executed them and did not\n"
        "                            finish: check the downstream before repeating them).\n"
        "                            A non-zero exit leaves the lock waiting: fix the cause\n"
        "                            and re-run. CMD runs in a process group of its own that\n"
        "                            dies with the worker (even on kill -9); on SIGINT or\n"
        "                            SIGTERM the worker stops the group, leaves the lock\n"
        "                            uncertain and exits 128+signal.\n"
        "  --no-exec                 run nothing even as the owner (the DDLs are applied\n"
        "                            some other way); one of --exec and --no-exec is\n"
        "                            required. The owner then prints 'owner, ran nothing'.\n"
        "  --timeout S               bound each wait (default: wait forever)\n"
        "  --ttl S                   lease TTL of this worker's liveness key (default 5)\n"
        "  -o json, --json           print the result as {\"lock\", \"result\"}\n\n"
        "One live worker per task and source: the worker holds a lease-backed key under\n"
        "NS/ddlcoord/worker/ while it runs. A second one started meanwhile waits two TTLs\n"
        "(and 2 s) for it to go and then exits 10 (busy); a re-run after a crash (kill -9) waits\n"
        "for the dead worker's lease to expire and takes over. While it waits for the\n"
        "master it says why every 10 s when it can tell (no registered sources, no master).\n\n"
        "Prints 'executed LOCK_ID', 'skipped LOCK_ID' or 'already resolved LOCK_ID'.\n"
        "Test only: DDLCOORD_TEST_PAUSE_AT_STEP=N stops the process (SIGSTOP) right after\n"
        "worker step N.\n\n%s\n%s",
        dcx_common_help, dcx_exit_help);
}

typedef struct worker_args {
    const char *task, *source, *schema, *table, *position, *exec;
    int no_exec; /* --no-exec: explicitly nothing to run */
    int json;    /* -o json: the result as JSON */
    const char *ddls[MAX_DDLS];
    size_t n_ddls;
    int64_t timeout_ms; /* -1 = forever */
    int64_t ttl;        /* liveness lease TTL, seconds */
} worker_args;

typedef struct worker_run {
    const worker_args *a;
    int exec_status;    /* -1: CMD not run; else its exit status (128+sig for a signal) */
    int interrupted_by; /* SIGINT / SIGTERM received while CMD ran (0: none) */
    int pause_at;
    int paused;
} worker_run;

static int on_step(const dc_step *st, void *ud)
{
    worker_run *r = ud;
    if (r->pause_at && st->step == r->pause_at && !r->paused) {
        r->paused = 1;
        fflush(stdout);
        raise(SIGSTOP);
    }
    return 0;
}

/* The DDLCOORD_* variables of CMD's environment ("NAME=value", malloc'd). */
typedef struct cmd_env {
    char **v;
    size_t n;
} cmd_env;

static int env_add(cmd_env *e, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 2;
    char *s = malloc(len);
    if (!s) return -1;
    snprintf(s, len, "%s=%s", name, value);
    e->v[e->n++] = s;
    return 0;
}

static void env_free(cmd_env *e)
{
    for (size_t i = 0; i < e->n; i++) free(e->v[i]);
    free(e->v);
}

static int build_env(const worker_args *a, const dc_operation *op, cmd_env *e)
{
    e->n = 0;
    e->v = calloc(op->n_ddls + 10, sizeof *e->v);
    if (!e->v) return -1;
    size_t total = 1;
    for (size_t i = 0; i < op->n_ddls; i++) total += strlen(op->ddls[i]) + 1;
    char *all = malloc(total);
    if (!all) return -1;
    all[0] = '\0';
    for (size_t i = 0; i < op->n_ddls; i++) {
        strcat(all, op->ddls[i]);
        if (i + 1 < op->n_ddls) strcat(all, "\n");
    }
    char num[48], name[48];
    int rc = env_add(e, "DDLCOORD_LOCK_ID", op->id) | env_add(e, "DDLCOORD_TASK", a->task) |
             env_add(e, "DDLCOORD_SOURCE", a->source) | env_add(e, "DDLCOORD_SCHEMA", a->schema) |
             env_add(e, "DDLCOORD_TABLE", a->table) |
             env_add(e, "DDLCOORD_POSITION", a->position ? a->position : "") |
             env_add(e, "DDLCOORD_DDLS", all);
    free(all);
    snprintf(num, sizeof num, "%zu", op->n_ddls);
    rc |= env_add(e, "DDLCOORD_DDL_COUNT", num);
    snprintf(num, sizeof num, "%d", op->attempt > 0 ? op->attempt : 1);
    rc |= env_add(e, "DDLCOORD_EXEC_ATTEMPT", num);
    for (size_t i = 0; i < op->n_ddls; i++) {
        snprintf(name, sizeof name, "DDLCOORD_DDL_%zu", i + 1);
        rc |= env_add(e, name, op->ddls[i]);
    }
    return rc ? -1 : 0;
}

/* Run CMD under the supervisor (exec_child.c); returns its exit status
 * (128+sig when killed). */
static int run_cmd(worker_run *r, const dc_operation *op)
{
    cmd_env e = {NULL, 0};
    int status = 127;
    if (build_env(r->a, op, &e) == 0)
        status = dcx_exec_run(r->a->exec, e.v, e.n, &r->interrupted_by);
    env_free(&e);
    return status;
}

static int exec_cb(const dc_operation *op, void *ud)
{
    worker_run *r = ud;
    if (!op->exec || !r->a->exec) return 0; /* skip, or execute with nothing to run */
    r->exec_status = run_cmd(r, op);
    return r->exec_status;
}

static int checkpoint_cb(const dc_operation *op, const char *position, void *ud)
{
    (void)op;
    (void)position;
    (void)ud;
    return 0; /* the caller's checkpoint is its --position; nothing to flush here */
}

static int parse(dcx_ctx *ctx, int argc, char **argv, worker_args *a)
{
    static const struct option opts[] = {{"task", required_argument, 0, OPT_TASK},
                                         {"source", required_argument, 0, OPT_SOURCE},
                                         {"schema", required_argument, 0, OPT_SCHEMA},
                                         {"table", required_argument, 0, OPT_TABLE},
                                         {"ddl", required_argument, 0, OPT_DDL},
                                         {"position", required_argument, 0, OPT_POSITION},
                                         {"exec", required_argument, 0, OPT_EXEC},
                                         {"no-exec", no_argument, 0, OPT_NO_EXEC},
                                         DCX_OUTPUT_LONG_OPTIONS,
                                         {"timeout", required_argument, 0, OPT_TIMEOUT},
                                         {"ttl", required_argument, 0, OPT_TTL},
                                         DCX_COMMON_LONG_OPTIONS,
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        int out = dcx_output_option(ctx, c, optarg, &a->json);
        if (out < 0) return DCX_EXIT_USAGE;
        if (out) continue;
        switch (c) {
        case 'h':
            help();
            return -1;
        case OPT_TASK:
            a->task = optarg;
            break;
        case OPT_SOURCE:
            a->source = optarg;
            break;
        case OPT_SCHEMA:
            a->schema = optarg;
            break;
        case OPT_TABLE:
            a->table = optarg;
            break;
        case OPT_DDL:
            if (a->n_ddls == MAX_DDLS) {
                dcx_err(ctx, "too many --ddl (at most %d)", MAX_DDLS);
                return DCX_EXIT_USAGE;
            }
            a->ddls[a->n_ddls++] = optarg;
            break;
        case OPT_POSITION:
            a->position = optarg;
            break;
        case OPT_EXEC:
            a->exec = optarg;
            break;
        case OPT_NO_EXEC:
            a->no_exec = 1;
            break;
        case OPT_TIMEOUT:
            a->timeout_ms = dcx_parse_seconds_ms(optarg);
            if (a->timeout_ms <= 0 || a->timeout_ms > 0x7fffffff) {
                dcx_err(ctx, "--timeout must be a positive number of seconds: %s", optarg);
                return DCX_EXIT_USAGE;
            }
            break;
        case OPT_TTL:
            a->ttl = dcx_parse_long(optarg, 1, 3600);
            if (a->ttl < 1) {
                dcx_err(ctx, "--ttl must be 1..3600 seconds: %s", optarg);
                return DCX_EXIT_USAGE;
            }
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
    const char *missing = !a->task || !*a->task       ? "--task"
                          : !a->source || !*a->source ? "--source"
                          : !a->schema || !*a->schema ? "--schema"
                          : !a->table || !*a->table   ? "--table"
                          : a->n_ddls == 0            ? "--ddl"
                                                      : NULL;
    if (missing) {
        dcx_err(ctx, "missing %s", missing);
        return dcx_usage_error(ctx);
    }
    /* "executed" with nothing run would mislead: say which one you mean. */
    if (!a->exec == !a->no_exec) {
        dcx_err(ctx, a->exec ? "--exec and --no-exec exclude each other"
                             : "missing --exec CMD (what runs the DDLs when this source is the "
                               "owner), or --no-exec to run nothing");
        return dcx_usage_error(ctx);
    }
    for (size_t i = 0; i < a->n_ddls; i++)
        if (!*a->ddls[i]) {
            dcx_err(ctx, "a --ddl must not be empty");
            return DCX_EXIT_USAGE;
        }
    return DCX_EXIT_OK;
}

int dcx_cmd_worker(dcx_ctx *ctx, int argc, char **argv)
{
    worker_args a = {.timeout_ms = -1, .ttl = 5};
    int ex = parse(ctx, argc, argv, &a);
    if (ex < 0) return DCX_EXIT_OK;
    if (ex != DCX_EXIT_OK) return ex;
    dcx_log_setup(ctx, DC_LOG_WARN);
    worker_run r = {.a = &a, .exec_status = -1};
    const char *pause = getenv("DDLCOORD_TEST_PAUSE_AT_STEP");
    if (pause && *pause) {
        r.pause_at = (int)dcx_parse_long(pause, 1, 10);
        if (r.pause_at < 1) {
            dcx_err(ctx, "DDLCOORD_TEST_PAUSE_AT_STEP must be 1..10: %s", pause);
            return DCX_EXIT_USAGE;
        }
    }
    ex = dcx_open_store(ctx);
    if (ex != DCX_EXIT_OK) return ex;

    char *lock_id = NULL;
    int rc = dc_lock_id_build(a.task, a.schema, a.table, &lock_id);
    if (rc != DC_OK) return dcx_fail(ctx, rc, "lock ID");
    dc_worker_options o = {.ns = ctx->ns, .on_step = on_step, .step_userdata = &r};
    dc_worker *w = NULL;
    rc = dc_worker_new(ctx->store, a.task, a.source, &o, &w);
    if (rc != DC_OK) {
        free(lock_id);
        return dcx_fail(ctx, rc, "worker");
    }
    rc = dc_worker_claim(w, a.ttl);
    if (rc != DC_OK) {
        if (rc == DC_EBUSY) dcx_err(ctx, "busy: %s", dc_last_error());
        ex = rc == DC_EBUSY ? DCX_EXIT_BUSY : dcx_fail(ctx, rc, "worker");
        dc_worker_free(w);
        free(lock_id);
        return ex;
    }
    int executed = 0;
    dcx_hint *hint = dcx_hint_start(ctx, a.task); /* says why it waits, if it does */
    rc = dc_worker_run_ddl(w, a.schema, a.table, a.ddls, a.n_ddls, a.position, exec_cb,
                           checkpoint_cb, &r, (int)a.timeout_ms, &executed);
    dcx_hint_stop(hint);
    switch (rc) {
    case DC_OK:
    case DC_ERESOLVED: {
        const char *what = rc == DC_ERESOLVED ? "already resolved"
                           : !executed        ? "skipped"
                           : a.no_exec        ? "owner, ran nothing"
                                              : "executed";
        const char *kv[] = {"lock", lock_id, "result", what};
        ex = DCX_EXIT_OK;
        if (a.json)
            ex = dcx_print_pairs_json(kv, 2);
        else
            printf("%s %s\n", what, lock_id);
        break;
    }
    case DC_ECONFLICT:
        dcx_err(ctx, "conflict in lock %s: %s", lock_id, dc_worker_conflict(w));
        ex = DCX_EXIT_CONFLICT;
        break;
    case DC_ENOTFOUND:
        /* The info was deleted under the worker: remove-meta or a forced unlock. */
        dcx_err(ctx, "lock %s was removed while this source waited (%s)", lock_id, dc_last_error());
        ex = DCX_EXIT_FAIL;
        break;
    case DC_EBUSY:
        /* Its claim lapsed before it executed: another worker may own the source now. */
        dcx_err(ctx, "busy: %s", dc_last_error());
        ex = DCX_EXIT_BUSY;
        break;
    case DC_ETIMEDOUT:
        dcx_err(ctx, "timed out waiting in lock %s (%s)", lock_id, dc_last_error());
        ex = DCX_EXIT_TIMEOUT;
        break;
    default:
        if (r.interrupted_by) {
            /* Stopped while CMD ran: its group is gone, but it may have
             * applied the DDLs. The intent stays: the lock is uncertain. */
            dcx_err(ctx,
                    "interrupted by signal %d while --exec ran; lock %s is uncertain: re-run "
                    "this command (CMD then runs with DDLCOORD_EXEC_ATTEMPT > 1) or decide with "
                    "`unlock --assume-executed` / `--assume-not-executed`",
                    r.interrupted_by, lock_id);
            ex = 128 + r.interrupted_by;
        } else if (r.exec_status > 0) {
            dcx_err(ctx, "--exec command failed with status %d; lock %s still waits for %s",
                    r.exec_status, lock_id, a.source);
            ex = DCX_EXIT_EXEC;
        } else {
            ex = dcx_fail(ctx, rc, lock_id);
        }
    }
    dc_worker_free(w);
    free(lock_id);
    return ex;
}
