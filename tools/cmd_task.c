/*
 * `ddlcoord task add|remove|list`: task membership, i.e. which sources a
 * task has. A lock waits for exactly the sources of its task, so adding and
 * removing sources here is how an operator tells the master who takes part
 * (docs/DESIGN.md, "Beyond DM", item 4: removing a source re-evaluates the locks waiting on
 * it). The keys live under NS/ddlcoord/task/; the master watches them.
 */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("Usage: ddlcoord task add TASK SOURCE...\n"
           "       ddlcoord task remove TASK [SOURCE...]\n"
           "       ddlcoord task list [TASK]\n"
           "Task membership: the sources a task's locks wait for.\n"
           "'remove' without sources removes the whole task; 'list' without a task\n"
           "lists every task with its sources.\n\n%s\n%s",
           dcx_common_help, dcx_exit_help);
}

/* Print every task and its sources: one read of the membership prefix. */
static int list_all(dcx_ctx *ctx)
{
    char *prefix = NULL;
    int rc = dc_member_key(ctx->ns, NULL, NULL, &prefix);
    if (rc != DC_OK) return dcx_fail(ctx, rc, "member key");
    dc_kvs *kvs = NULL;
    rc = dc_get(ctx->store, prefix, strlen(prefix), DC_PREFIX | DC_KEYS_ONLY, 0, &kvs);
    if (rc != DC_OK) {
        free(prefix);
        return dcx_fail(ctx, rc, "read task membership");
    }
    size_t plen = strlen(prefix);
    char *last_task = NULL;
    int ex = DCX_EXIT_OK;
    for (size_t i = 0; i < kvs->n; i++) {
        const char *rest = kvs->kvs[i].key + plen;
        const char *slash = strchr(rest, '/');
        char *task = slash ? dcx_unhex(rest, (size_t)(slash - rest)) : NULL;
        char *source = slash ? dcx_unhex(slash + 1, strlen(slash + 1)) : NULL;
        if (!task || !source) {
            dcx_err(ctx, "malformed membership key %s", kvs->kvs[i].key);
            ex = DCX_EXIT_CORRUPT;
        } else {
            if (!last_task || strcmp(last_task, task) != 0) {
                if (last_task) printf("\n");
                printf("%s:", task);
                free(last_task);
                last_task = task;
                task = NULL;
            }
            printf(" %s", source);
        }
        free(task);
        free(source);
    }
    if (last_task) printf("\n");
    free(last_task);
    dc_kvs_free(kvs);
    free(prefix);
    return ex;
}

static int list_one(dcx_ctx *ctx, const char *task)
{
    char **sources = NULL;
    size_t n = 0;
    int rc = dc_task_sources(ctx->store, ctx->ns, task, &sources, &n);
    if (rc != DC_OK) return dcx_fail(ctx, rc, "read task membership");
    for (size_t i = 0; i < n; i++) printf("%s\n", sources[i]);
    dc_strings_free(sources, n);
    return DCX_EXIT_OK;
}

int dcx_cmd_task(dcx_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {DCX_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return DCX_EXIT_OK;
        }
        int r = dcx_common_option(ctx, c, optarg);
        if (r < 0) return DCX_EXIT_USAGE;
        if (r == 0) return dcx_usage_error(ctx);
    }
    if (optind >= argc) {
        dcx_err(ctx, "missing action: add, remove or list");
        return dcx_usage_error(ctx);
    }
    const char *action = argv[optind++];
    const char *task = optind < argc ? argv[optind++] : NULL;
    const char *const *sources = (const char *const *)(argv + optind);
    size_t n = (size_t)(argc - optind);
    int is_add = strcmp(action, "add") == 0, is_remove = strcmp(action, "remove") == 0;
    int is_list = strcmp(action, "list") == 0;
    if (!is_add && !is_remove && !is_list) {
        dcx_err(ctx, "unknown action '%s' (add, remove or list)", action);
        return dcx_usage_error(ctx);
    }
    if ((is_add || is_remove) && (!task || !*task)) {
        dcx_err(ctx, "%s: missing TASK", action);
        return dcx_usage_error(ctx);
    }
    if (is_add && n == 0) {
        dcx_err(ctx, "add: missing SOURCE");
        return dcx_usage_error(ctx);
    }
    if (is_list && n > 0) {
        dcx_err(ctx, "list takes at most one TASK");
        return dcx_usage_error(ctx);
    }
    for (size_t i = 0; i < n; i++)
        if (!*sources[i]) {
            dcx_err(ctx, "a SOURCE must not be empty");
            return dcx_usage_error(ctx);
        }
    dcx_log_setup(ctx, DC_LOG_WARN);
    int ex = dcx_open_store(ctx);
    if (ex != DCX_EXIT_OK) return ex;
    if (is_list) return task ? list_one(ctx, task) : list_all(ctx);
    int rc = is_add ? dc_task_add(ctx->store, ctx->ns, task, sources, n)
                    : dc_task_remove(ctx->store, ctx->ns, task, sources, n);
    if (rc != DC_OK) return dcx_fail(ctx, rc, is_add ? "add sources" : "remove sources");
    if (is_add)
        printf("task %s: added %zu source%s\n", task, n, n == 1 ? "" : "s");
    else if (n)
        printf("task %s: removed %zu source%s\n", task, n, n == 1 ? "" : "s");
    else
        printf("task %s: removed\n", task);
    return DCX_EXIT_OK;
}
