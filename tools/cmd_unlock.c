/*
 * `ddlcoord unlock LOCK_ID [--owner SOURCE] [--force-remove]` and
 * `ddlcoord remove-meta TASK`: both must run inside the leading master (they
 * change its in-memory locks), so they are written as admin requests under
 * NS/ddlcoord/admin/ and the command waits for the master's answer (admin.c).
 * Nobody answering within --timeout is its own exit code, with a hint saying
 * whether any master leads at all.
 */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_OWNER = DCX_OPT_FIRST_PRIVATE, OPT_FORCE, OPT_TIMEOUT };

#define DEFAULT_TIMEOUT_MS 30000

static void help_unlock(void)
{
    printf("Usage: ddlcoord unlock LOCK_ID [--owner SOURCE] [--force-remove] [--timeout S]\n"
           "Ask the leading master to unlock a shard-DDL lock by hand (DM's unlock-ddl-lock):\n"
           "the lock is forced synced, its owner (or SOURCE) executes the DDLs, the synced\n"
           "sources skip them, and unsynced sources are not waited for.\n\n"
           "  --owner SOURCE   make SOURCE the owner that executes the DDLs\n"
           "  --force-remove   remove the lock even if its sources do not finish in time\n"
           "  --timeout S      seconds to wait for the master's answer (default 30);\n"
           "                   the master waits for the sources 2/3 of it, leaving\n"
           "                   at least 3 s for its answer\n\n%s\n%s",
           dcx_common_help, dcx_exit_help);
}

static void help_remove_meta(void)
{
    printf("Usage: ddlcoord remove-meta TASK [--timeout S]\n"
           "Ask the leading master to remove a task's shard-DDL metadata: its infos,\n"
           "operations, resolution markers and conflict reports, and its locks in the\n"
           "master's memory. Task membership is kept ('ddlcoord task remove' drops it).\n\n"
           "  --timeout S      seconds to wait for the master's answer (default 30)\n\n%s\n%s",
           dcx_common_help, dcx_exit_help);
}

/* Send req, print the answer, return the exit code. */
static int call(dcx_ctx *ctx, const dcx_admin_req *req, int64_t timeout_ms, const char *what)
{
    dcx_log_setup(ctx, DC_LOG_WARN);
    int ex = dcx_open_store(ctx);
    if (ex != DCX_EXIT_OK) return ex;
    dcx_admin_answer ans;
    int rc = dcx_admin_call(ctx->store, ctx->ns, req, timeout_ms, &ans);
    if (rc == DC_ETIMEDOUT) {
        char *prefix = dcx_own_key(ctx->ns, "election/");
        char *leader = NULL;
        int64_t crev = 0;
        int lrc = prefix ? dc_election_leader(ctx->store, prefix, &leader, &crev) : DC_ENOMEM;
        if (lrc == DC_OK)
            dcx_err(ctx, "%s: no answer within %.1f s from the leading master (%s)", what,
                    (double)timeout_ms / 1000, leader);
        else
            dcx_err(ctx, "%s: no master answered within %.1f s (no master leads under %s)", what,
                    (double)timeout_ms / 1000, prefix ? prefix : ctx->ns);
        free(leader);
        free(prefix);
        return DCX_EXIT_NOMASTER;
    }
    if (rc != DC_OK) return dcx_fail(ctx, rc, what);
    if (ans.ok) {
        printf("%s: %s (master %s)\n", what, ans.message ? ans.message : "done",
               ans.master ? ans.master : "?");
        ex = DCX_EXIT_OK;
    } else {
        dcx_err(ctx, "%s: %s: %s (master %s)", what, dc_strerror(ans.code),
                ans.message ? ans.message : "", ans.master ? ans.master : "?");
        ex = dcx_exit_code(ans.code);
        if (ex == DCX_EXIT_OK || ex == DCX_EXIT_USAGE || ex == DCX_EXIT_STORE)
            ex = DCX_EXIT_FAIL; /* the request reached the master and failed there */
    }
    dcx_admin_answer_clear(&ans);
    return ex;
}

/* Parse the options of both commands; *positional gets the one argument. */
static int parse(dcx_ctx *ctx, int argc, char **argv, int is_unlock, dcx_admin_req *req,
                 int64_t *timeout_ms, const char **positional)
{
    static const struct option unlock_opts[] = {{"owner", required_argument, 0, OPT_OWNER},
                                                {"force-remove", no_argument, 0, OPT_FORCE},
                                                {"timeout", required_argument, 0, OPT_TIMEOUT},
                                                DCX_COMMON_LONG_OPTIONS,
                                                {0, 0, 0, 0}};
    static const struct option rm_opts[] = {
        {"timeout", required_argument, 0, OPT_TIMEOUT}, DCX_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", is_unlock ? unlock_opts : rm_opts, NULL)) != -1) {
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
            req->owner = optarg;
            break;
        case OPT_FORCE:
            req->force_remove = 1;
            break;
        case OPT_TIMEOUT:
            *timeout_ms = dcx_parse_seconds_ms(optarg);
            if (*timeout_ms <= 0) {
                dcx_err(ctx, "--timeout must be a positive number of seconds: %s", optarg);
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
    if (optind >= argc || !*argv[optind]) {
        dcx_err(ctx, "missing %s", is_unlock ? "LOCK_ID" : "TASK");
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
    dcx_admin_req req = {0};
    int64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    const char *lock_id = NULL;
    int ex = parse(ctx, argc, argv, 1, &req, &timeout_ms, &lock_id);
    if (ex < 0) return DCX_EXIT_OK; /* --help */
    if (ex != DCX_EXIT_OK) return ex;
    req.op = "unlock";
    req.lock_id = (char *)lock_id;
    /* Leave the master time to answer after its wait for the sources: a
     * third of the timeout, and never less than 3 s, so that a loaded
     * master's answer is not mistaken for no answer. */
    int64_t margin = timeout_ms / 3 > 3000 ? timeout_ms / 3 : 3000;
    req.wait_ms = timeout_ms - margin > 500 ? timeout_ms - margin : 500;
    char what[512];
    snprintf(what, sizeof what, "unlock %s", lock_id);
    return call(ctx, &req, timeout_ms, what);
}

int dcx_cmd_remove_meta(dcx_ctx *ctx, int argc, char **argv)
{
    dcx_admin_req req = {0};
    int64_t timeout_ms = DEFAULT_TIMEOUT_MS;
    const char *task = NULL;
    int ex = parse(ctx, argc, argv, 0, &req, &timeout_ms, &task);
    if (ex < 0) return DCX_EXIT_OK;
    if (ex != DCX_EXIT_OK) return ex;
    req.op = "remove-meta";
    req.task = (char *)task;
    char what[512];
    snprintf(what, sizeof what, "remove-meta %s", task);
    return call(ctx, &req, timeout_ms, what);
}
