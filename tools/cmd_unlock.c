/*
 * `ddlcoord unlock LOCK_ID [--owner SOURCE] [--force-remove]
 * [--assume-executed | --assume-not-executed]` and `ddlcoord remove-meta
 * TASK`: both must run inside the leading master (they change its in-memory
 * locks), so they are admin requests (pessimism_admin.h): this file parses
 * the flags, sends the request, waits for the answer and prints it. Nobody
 * answering within --timeout is its own exit code, with a hint saying
 * whether any master leads at all.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_OWNER = DCX_OPT_FIRST_PRIVATE,
    OPT_FORCE,
    OPT_TIMEOUT,
    OPT_ASSUME_EX,
    OPT_ASSUME_NOT,
    OPT_TASK,
    OPT_SCHEMA,
    OPT_TABLE
};

/* A lock named by its parts (--task, --schema, --table) instead of its ID. */
typedef struct lock_name {
    const char *task, *schema, *table;
} lock_name;

#define DEFAULT_TIMEOUT_MS 30000

static void help_unlock(void)
{
    printf("Usage: ddlcoord unlock {LOCK_ID | --task T --schema DB --table TBL}\n"
           "                       [--owner SOURCE] [--force-remove]\n"
           "                       [--assume-executed | --assume-not-executed] [--timeout S]\n"
           "Ask the leading master to unlock a shard-DDL lock by hand (DM's unlock-ddl-lock):\n"
           "the lock is forced synced, its owner (or SOURCE) executes the DDLs, the synced\n"
           "sources skip them, and unsynced sources are not waited for.\n\n"
           "  --task T --schema DB --table TBL\n"
           "                          name the lock by its parts instead of its ID\n"
           "                          (T-`DB`.`TBL`, as `ddlcoord locks` shows it)\n"
           "  --owner SOURCE          make SOURCE (a source that reported the lock's DDLs)\n"
           "                          the owner that executes them\n"
           "  --force-remove          remove the lock if its sources do not finish in time\n"
           "  --assume-executed       the lock is uncertain (its owner recorded that it was\n"
           "                          executing and never finished): you checked that the\n"
           "                          DDLs ran downstream. Nobody runs them again; the owner's\n"
           "                          operation is completed and every source skips\n"
           "  --assume-not-executed   the lock is uncertain and you checked that the DDLs did\n"
           "                          NOT run: the owner is fenced off and the owner (or\n"
           "                          SOURCE) executes them\n"
           "  --timeout S             seconds to wait for the master's answer (default 30);\n"
           "                          the master waits for the sources 2/3 of it, leaving\n"
           "                          at least 3 s for its answer\n"
           "  -o json, --json         print the answer as {\"request\", \"code\", \"message\",\n"
           "                          \"master\"}\n"
           "An uncertain lock is refused without one of the --assume flags (exit 1).\n\n%s\n%s",
           dcx_common_help, dcx_exit_help);
}

static void help_remove_meta(void)
{
    printf("Usage: ddlcoord remove-meta TASK [--timeout S]\n"
           "Ask the leading master to remove a task's shard-DDL metadata: its infos,\n"
           "operations, resolution markers and conflict reports, and its locks in the\n"
           "master's memory. Task membership is kept ('ddlcoord task remove' drops it).\n\n"
           "  --timeout S      seconds to wait for the master's answer (default 30)\n"
           "  -o json, --json  print the answer as {\"request\", \"code\", \"message\", "
           "\"master\"}\n\n%s\n%s",
           dcx_common_help, dcx_exit_help);
}

/* Wait for the answer to call, print it, return the exit code. */
/* DCX_EXIT_NOMASTER (with one line) when no master campaigns at all, so
 * nobody can answer: an admin request then fails at once. DCX_EXIT_OK when
 * one leads, or when that cannot be told (the wait decides then). */
static int check_leader(dcx_ctx *ctx, const char *what)
{
    char *prefix = dcx_own_key(ctx->ns, "election/");
    if (!prefix) return DCX_EXIT_OK;
    int rc = dc_election_leader(ctx->store, prefix, NULL, NULL);
    if (rc == DC_ENOTFOUND)
        dcx_err(ctx,
                "%s: no master leads under %s: start 'ddlcoord master' (same --store and "
                "--namespace), then retry",
                what, dc__e(prefix));
    free(prefix);
    return rc == DC_ENOTFOUND ? DCX_EXIT_NOMASTER : DCX_EXIT_OK;
}

static int json_out; /* -o json: the answer as JSON */

static int finish(dcx_ctx *ctx, dc_admin_call *call, int64_t timeout_ms, const char *what)
{
    dc_admin_answer ans;
    /* Wait in slices: if every master goes away meanwhile, say so at once. */
    int64_t end = dcx_now_ms() + timeout_ms;
    int rc = DC_ETIMEDOUT;
    for (;;) {
        int64_t left = end - dcx_now_ms();
        if (left <= 0) break;
        rc = dc_admin_wait(call, (int)(left < 1000 ? left : 1000), &ans);
        if (rc != DC_ETIMEDOUT) break;
        if (check_leader(ctx, what) == DCX_EXIT_NOMASTER) {
            dc_admin_call_free(call);
            return DCX_EXIT_NOMASTER;
        }
    }
    dc_admin_call_free(call); /* withdraws the request: answered or not */
    if (rc == DC_ETIMEDOUT) {
        char *prefix = dcx_own_key(ctx->ns, "election/");
        char *leader = NULL;
        int64_t crev = 0;
        int lrc = prefix ? dc_election_leader(ctx->store, prefix, &leader, &crev) : DC_ENOMEM;
        if (lrc == DC_OK)
            dcx_err(ctx, "%s: no answer within %.1f s from the leading master (%s)", what,
                    (double)timeout_ms / 1000, dc__e(leader));
        else
            dcx_err(ctx, "%s: no master answered within %.1f s (no master leads under %s)", what,
                    (double)timeout_ms / 1000, prefix ? dc__e(prefix) : dc__e(ctx->ns));
        free(leader);
        free(prefix);
        return DCX_EXIT_NOMASTER;
    }
    if (rc != DC_OK) return dcx_fail(ctx, rc, what);
    int ex;
    if (json_out) {
        const char *kv[] = {"request", what,        "code",   dc_errname(ans.code),
                            "message", ans.message, "master", ans.master};
        int jx = dcx_print_pairs_json(kv, 4);
        ex = ans.code == DC_OK ? DCX_EXIT_OK : dcx_exit_code(ans.code);
        if (ans.code != DC_OK &&
            (ex == DCX_EXIT_OK || ex == DCX_EXIT_USAGE || ex == DCX_EXIT_STORE))
            ex = DCX_EXIT_FAIL;
        if (jx != DCX_EXIT_OK) ex = jx;
    } else if (ans.code == DC_OK) {
        printf("%s: %s (master %s)\n", what, ans.message, dc__e(ans.master));
        ex = DCX_EXIT_OK;
    } else {
        dcx_err(ctx, "%s: %s: %s (master %s)", what, dc_strerror(ans.code), ans.message,
                dc__e(ans.master));
        ex = dcx_exit_code(ans.code);
        if (ex == DCX_EXIT_OK || ex == DCX_EXIT_USAGE || ex == DCX_EXIT_STORE)
            ex = DCX_EXIT_FAIL; /* the request reached the master and failed there */
    }
    dc_admin_answer_clear(&ans);
    return ex;
}

/* Parse the options of both commands; *positional gets the one argument. */
static int parse(dcx_ctx *ctx, int argc, char **argv, int is_unlock, dc_unlock_options *o,
                 int64_t *timeout_ms, const char **positional, lock_name *ln)
{
    static const struct option unlock_opts[] = {
        {"owner", required_argument, 0, OPT_OWNER},
        {"task", required_argument, 0, OPT_TASK},
        {"schema", required_argument, 0, OPT_SCHEMA},
        {"table", required_argument, 0, OPT_TABLE},
        {"force-remove", no_argument, 0, OPT_FORCE},
        {"assume-executed", no_argument, 0, OPT_ASSUME_EX},
        {"assume-not-executed", no_argument, 0, OPT_ASSUME_NOT},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        DCX_OUTPUT_LONG_OPTIONS,
        DCX_COMMON_LONG_OPTIONS,
        {0, 0, 0, 0}};
    static const struct option rm_opts[] = {{"timeout", required_argument, 0, OPT_TIMEOUT},
                                            DCX_OUTPUT_LONG_OPTIONS,
                                            DCX_COMMON_LONG_OPTIONS,
                                            {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "ho:", is_unlock ? unlock_opts : rm_opts, NULL)) != -1) {
        int out = dcx_output_option(ctx, c, optarg, &json_out);
        if (out < 0) return DCX_EXIT_USAGE;
        if (out) continue;
        switch (c) {
        case 'h':
            if (is_unlock)
                help_unlock();
            else
                help_remove_meta();
            return -1;
        case OPT_OWNER:
            if (!*optarg) {
                dcx_err(ctx, "--owner must not be empty");
                return DCX_EXIT_USAGE;
            }
            o->owner = optarg;
            break;
        case OPT_FORCE:
            o->force_remove = 1;
            break;
        case OPT_TASK:
            ln->task = optarg;
            break;
        case OPT_SCHEMA:
            ln->schema = optarg;
            break;
        case OPT_TABLE:
            ln->table = optarg;
            break;
        case OPT_ASSUME_EX:
        case OPT_ASSUME_NOT:
            if (o->assume) {
                dcx_err(ctx, "--assume-executed and --assume-not-executed exclude each other");
                return DCX_EXIT_USAGE;
            }
            o->assume = c == OPT_ASSUME_EX ? DC_ASSUME_EXECUTED : DC_ASSUME_NOT_EXECUTED;
            break;
        case OPT_TIMEOUT:
            *timeout_ms = dcx_parse_seconds_ms(optarg);
            if (*timeout_ms <= 0 || *timeout_ms > 24 * 3600 * 1000) {
                dcx_err(ctx, "--timeout must be a positive number of seconds (at most a day): %s",
                        optarg);
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
    if (o->assume == DC_ASSUME_EXECUTED && o->owner) {
        dcx_err(ctx, "--assume-executed means nobody executes the DDLs: it takes no --owner");
        return DCX_EXIT_USAGE;
    }
    int by_parts = ln->task || ln->schema || ln->table;
    if (by_parts) {
        if (!ln->task || !ln->schema || !ln->table || !*ln->task || !*ln->schema || !*ln->table) {
            dcx_err(ctx, "--task, --schema and --table name a lock together: give all three");
            return DCX_EXIT_USAGE;
        }
        if (optind < argc) {
            dcx_err(ctx, "give LOCK_ID or --task/--schema/--table, not both");
            return dcx_usage_error(ctx);
        }
        return DCX_EXIT_OK;
    }
    if (optind >= argc || !*argv[optind]) {
        dcx_err(ctx, "missing %s",
                is_unlock ? "LOCK_ID (or --task, --schema and --table)" : "TASK");
        return dcx_usage_error(ctx);
    }
    if (optind + 1 < argc) {
        dcx_err(ctx, "unexpected argument '%s'", argv[optind + 1]);
        return dcx_usage_error(ctx);
    }
    *positional = argv[optind];
    return DCX_EXIT_OK;
}

int dcx_cmd_unlock(dcx_ctx *ctx, int argc, char **argv)
{
    dc_unlock_options o = {0};
    int64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    const char *lock_id = NULL;
    lock_name ln = {0};
    int ex = parse(ctx, argc, argv, 1, &o, &timeout_ms, &lock_id, &ln);
    if (ex < 0) return DCX_EXIT_OK; /* --help */
    if (ex != DCX_EXIT_OK) return ex;
    char *built = NULL;
    if (!lock_id) {
        int brc = dc_lock_id_build(ln.task, ln.schema, ln.table, &built);
        if (brc != DC_OK) return dcx_fail(ctx, brc, "lock name");
        lock_id = built;
    }
    dcx_log_setup(ctx, DC_LOG_WARN);
    ex = dcx_open_store(ctx);
    char what[600];
    snprintf(what, sizeof what, "unlock %s", dc__e(lock_id));
    if (ex == DCX_EXIT_OK) ex = check_leader(ctx, what);
    dc_admin_call *call = NULL;
    int rc = ex == DCX_EXIT_OK
                 ? dc_admin_send_unlock(ctx->store, ctx->ns, lock_id, &o, (int)timeout_ms, &call)
                 : DC_OK;
    free(built);
    if (ex != DCX_EXIT_OK) return ex;
    if (rc != DC_OK) return dcx_fail(ctx, rc, what);
    return finish(ctx, call, timeout_ms, what);
}

int dcx_cmd_remove_meta(dcx_ctx *ctx, int argc, char **argv)
{
    dc_unlock_options unused = {0};
    int64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    const char *task = NULL;
    lock_name unused_name = {0};
    int ex = parse(ctx, argc, argv, 0, &unused, &timeout_ms, &task, &unused_name);
    if (ex < 0) return DCX_EXIT_OK;
    if (ex != DCX_EXIT_OK) return ex;
    dcx_log_setup(ctx, DC_LOG_WARN);
    ex = dcx_open_store(ctx);
    if (ex != DCX_EXIT_OK) return ex;
    char what[600];
    snprintf(what, sizeof what, "remove-meta %s", dc__e(task));
    ex = check_leader(ctx, what);
    if (ex != DCX_EXIT_OK) return ex;
    dc_admin_call *call = NULL;
    int rc = dc_admin_send_remove_meta(ctx->store, ctx->ns, task, (int)timeout_ms, &call);
    if (rc != DC_OK) return dcx_fail(ctx, rc, what);
    return finish(ctx, call, timeout_ms, what);
}
