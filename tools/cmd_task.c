/*
 * `ddlcoord task add|remove|list`: task membership, i.e. which sources a
 * task has. A lock waits for exactly the sources of its task, so adding and
 * removing sources here is how an operator tells the master who takes part
 * (docs/DESIGN.md, "Beyond DM", item 4: removing a source re-evaluates the locks waiting on
 * it). The keys live under NS/ddlcoord/task/; the master watches them.
 */
#include "common.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("Usage: ddlcoord task add TASK SOURCE... [-o json]\n"
           "       ddlcoord task remove TASK [SOURCE...] [-o json]\n"
           "       ddlcoord task list [TASK] [-o json]\n"
           "Task membership: the sources a task's locks wait for.\n"
           "'remove' without sources removes the whole task; 'list' without a task\n"
           "lists every task with its sources. Adding and removing print what changed.\n\n"
           "  -o json, --json   print JSON: {\"task\", \"sources\"} per task (list), or\n"
           "                    {\"task\", \"added\"|\"removed\", \"unchanged\", "
           "\"sources\"}\n\n%s\n%s",
           dcx_common_help, dcx_exit_help);
}

/* Print every task and its sources: one read of the membership prefix. */
static int print_json(const dcx_ctx *ctx, cJSON *o, int ok);

static int list_all(dcx_ctx *ctx, int json)
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
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *tasks = root ? cJSON_AddArrayToObject(root, "tasks") : NULL, *cur = NULL;
    int ok = !json || tasks;
    for (size_t i = 0; ok && i < kvs->n; i++) {
        const char *rest = kvs->kvs[i].key + plen;
        const char *slash = strchr(rest, '/');
        char *task = slash ? dcx_unhex(rest, (size_t)(slash - rest)) : NULL;
        char *source = slash ? dcx_unhex(slash + 1, strlen(slash + 1)) : NULL;
        if (!task || !source) {
            dcx_err(ctx, "malformed membership key %s", dc__e(kvs->kvs[i].key));
            ex = DCX_EXIT_CORRUPT;
        } else {
            if (!last_task || strcmp(last_task, task) != 0) {
                if (json) {
                    cJSON *t = cJSON_CreateObject();
                    ok = t && cJSON_AddItemToArray(tasks, t) &&
                         cJSON_AddStringToObject(t, "task", task) &&
                         (cur = cJSON_AddArrayToObject(t, "sources")) != NULL;
                } else {
                    if (last_task) printf("\n");
                    printf("%s:", dc__e(task));
                }
                free(last_task);
                last_task = task;
                task = NULL;
            }
            if (json)
                ok = ok && cJSON_AddItemToArray(cur, cJSON_CreateString(source));
            else
                printf(" %s", dc__e(source));
        }
        free(task);
        free(source);
    }
    if (last_task && !json) printf("\n");
    free(last_task);
    dc_kvs_free(kvs);
    free(prefix);
    if (json) {
        int jx = print_json(ctx, root, ok);
        return ex != DCX_EXIT_OK ? ex : jx;
    }
    return ex;
}

/* Print o as JSON and free it; DCX_EXIT_FAIL when out of memory. */
static int print_json(const dcx_ctx *ctx, cJSON *o, int ok)
{
    char *s = ok && o ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!s) {
        dcx_err(ctx, "out of memory");
        return DCX_EXIT_FAIL;
    }
    printf("%s\n", s);
    free(s);
    return DCX_EXIT_OK;
}

static cJSON *strings_json(char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

static int list_one(dcx_ctx *ctx, const char *task, int json)
{
    char **sources = NULL;
    size_t n = 0;
    int rc = dc_task_sources(ctx->store, ctx->ns, task, &sources, &n);
    if (rc != DC_OK) return dcx_fail(ctx, rc, "read task membership");
    if (json) {
        cJSON *o = cJSON_CreateObject();
        int ok = o && cJSON_AddStringToObject(o, "task", task) &&
                 cJSON_AddItemToObject(o, "sources", strings_json(sources, n));
        dc_strings_free(sources, n);
        return print_json(ctx, o, ok);
    }
    for (size_t i = 0; i < n; i++) printf("%s\n", sources[i]);
    dc_strings_free(sources, n);
    return DCX_EXIT_OK;
}

int dcx_cmd_task(dcx_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        DCX_OUTPUT_LONG_OPTIONS, DCX_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    int c, json = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return DCX_EXIT_OK;
        }
        int o = dcx_output_option(ctx, c, optarg, &json);
        if (o < 0) return DCX_EXIT_USAGE;
        if (o) continue;
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
    if (is_list) return task ? list_one(ctx, task, json) : list_all(ctx, json);
    /* Report what actually changed: membership before and after. */
    char **before = NULL, **after = NULL;
    size_t nb = 0, na = 0;
    int rc = dc_task_sources(ctx->store, ctx->ns, task, &before, &nb);
    if (rc == DC_OK)
        rc = is_add ? dc_task_add(ctx->store, ctx->ns, task, sources, n)
                    : dc_task_remove(ctx->store, ctx->ns, task, sources, n);
    if (rc == DC_OK) rc = dc_task_sources(ctx->store, ctx->ns, task, &after, &na);
    if (rc != DC_OK) {
        dc_strings_free(before, nb);
        return dcx_fail(ctx, rc, is_add ? "add sources" : "remove sources");
    }
    char **from = is_add ? after : before, **other = is_add ? before : after;
    size_t nfrom = is_add ? na : nb, nother = is_add ? nb : na;
    cJSON *o = json ? cJSON_CreateObject() : NULL;
    cJSON *chg = NULL, *same = NULL;
    int ok = !json || (o && cJSON_AddStringToObject(o, "task", task) &&
                       (chg = cJSON_AddArrayToObject(o, is_add ? "added" : "removed")) &&
                       (same = cJSON_AddArrayToObject(o, "unchanged")));
    size_t changed = 0;
    if (!json) printf("task %s:", dc__e(task));
    for (size_t i = 0; ok && i < nfrom; i++) {
        int found = 0;
        for (size_t j = 0; j < nother && !found; j++) found = strcmp(from[i], other[j]) == 0;
        if (found) continue;
        if (json)
            ok = cJSON_AddItemToArray(chg, cJSON_CreateString(from[i]));
        else
            printf("%s %s", changed ? "," : (is_add ? " added" : " removed"), dc__e(from[i]));
        changed++;
    }
    if (!changed && !json) printf(" nothing changed");
    for (size_t i = 0; ok && i < n; i++) {
        int in = 0;
        for (size_t j = 0; j < nb && !in; j++) in = strcmp(sources[i], before[j]) == 0;
        if (is_add != in) continue; /* it changed */
        if (json)
            ok = cJSON_AddItemToArray(same, cJSON_CreateString(sources[i]));
        else
            printf("; %s %s", dc__e(sources[i]),
                   is_add ? "was already a source" : "was not a source");
    }
    if (json) {
        ok = ok && cJSON_AddItemToObject(o, "sources", strings_json(after, na));
        dc_strings_free(before, nb);
        dc_strings_free(after, na);
        return print_json(ctx, o, ok);
    }
    printf(" (%zu source%s now)\n", na, na == 1 ? "" : "s");
    dc_strings_free(before, nb);
    dc_strings_free(after, na);
    return DCX_EXIT_OK;
}
