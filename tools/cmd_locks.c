/*
 * `ddlcoord locks [--task T] [--json]`: DM's show-ddl-locks view (ID, task,
 * mode, owner, DDLs, synced, unsynced, conflicts), computed from the store
 * alone by dc_locks_read, so it works with no master running and shows the
 * same thing whichever master leads. Values that cannot be decoded are
 * skipped, so one corrupt key does not hide the other locks; each gets one
 * line on stderr and the exit code says the store holds bad data.
 * dc_locks_read does not say which values it skipped, so this file checks
 * the infos and operations itself with the library's decoders. Names in the
 * text view are escaped (dc__e): a newline in a source name cannot forge a
 * line of the view; the JSON view is JSON-escaped.
 */
#include "common.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_TASK = DCX_OPT_FIRST_PRIVATE, OPT_JSON };
enum { OUT_TABLE, OUT_WIDE, OUT_JSON };

static void help(void)
{
    printf("Usage: ddlcoord locks [--task TASK] [-o wide|json]\n"
           "Show the shard-DDL locks, computed from the store: no master is needed. One\n"
           "row per lock: ID, state, owner, synced sources, the sources it waits for.\n\n"
           "  --task TASK   only this task's locks\n"
           "  -o wide       every detail: task, mode, owner, DDLs, synced, unsynced, done,\n"
           "                excluded, left, fenced and conflicting sources\n"
           "  -o json       JSON (DM's show-ddl-locks fields, plus done, excluded, left,\n"
           "                fenced, forced, executed, uncertain, attempt, intent_revision,\n"
           "                conflicts, revision); --json is the same\n"
           "A lock whose task has no registered sources waits until 'ddlcoord task add'.\n"
           "An UNCERTAIN lock's owner recorded that it was executing the DDLs and did not\n"
           "finish: the lock waits for it (a re-run executes again as the next attempt),\n"
           "or for an operator's decision (see 'ddlcoord unlock --help').\n\n%s\n%s",
           dcx_common_help, dcx_exit_help);
}

/* Print names of the sources for which pick() holds, comma-separated, or "-". */
static void print_sources(const dc_lock_status *st, int (*pick)(const dc_lock_source *))
{
    int any = 0;
    for (size_t i = 0; i < st->n_sources; i++)
        if (pick(&st->sources[i])) {
            printf("%s%s", any ? ", " : "", dc__e(st->sources[i].source));
            any = 1;
        }
    printf("%s\n", any ? "" : "-");
}

static int is_synced(const dc_lock_source *s)
{
    return s->synced && !s->removed;
}
static int is_unsynced(const dc_lock_source *s)
{
    return !s->synced && !s->removed;
}
static int is_done(const dc_lock_source *s)
{
    return s->done;
}
static int is_removed(const dc_lock_source *s)
{
    return s->removed;
}
static int has_left(const dc_lock_source *s)
{
    return s->left;
}
static int is_fenced(const dc_lock_source *s)
{
    return s->fenced;
}

/* "  label      a, b" when any source is picked, else nothing. */
static void print_if_any(const dc_lock_status *st, const char *label,
                         int (*pick)(const dc_lock_source *))
{
    for (size_t s = 0; s < st->n_sources; s++)
        if (pick(&st->sources[s])) {
            printf("  %-10s ", label);
            print_sources(st, pick);
            return;
        }
}

/* The row's state: what the lock waits for, in one word. */
static const char *row_state(const dc_lock_status *st, int no_sources)
{
    if (st->uncertain) return "UNCERTAIN";
    for (size_t s = 0; s < st->n_sources; s++)
        if (st->sources[s].conflict_ddls) return "conflict";
    if (no_sources) return "no-sources";
    return st->synced ? "resolving" : "waiting";
}

/* One row per lock. no_sources[i]: lock i's task has no registered source. */
static void print_table(const dc_lock_status *locks, size_t n, int64_t rev, const int *no_sources)
{
    printf("%zu lock%s (store revision %lld)\n", n, n == 1 ? "" : "s", (long long)rev);
    if (!n) return;
    int w = 4;
    for (size_t i = 0; i < n; i++) {
        int l = (int)strlen(dc__e(locks[i].id));
        if (l > w) w = l;
    }
    printf("%-*s  %-10s  %-12s  %-7s  %s\n", w, "LOCK", "STATE", "OWNER", "SYNCED", "WAITING FOR");
    int any_no_sources = 0;
    for (size_t i = 0; i < n; i++) {
        const dc_lock_status *st = &locks[i];
        size_t awaited = 0, synced = 0;
        for (size_t s = 0; s < st->n_sources; s++) {
            if (st->sources[s].removed || st->sources[s].left) continue;
            awaited++;
            if (st->sources[s].synced) synced++;
        }
        char count[32];
        snprintf(count, sizeof count, "%zu/%zu", synced, awaited);
        printf("%-*s  %-10s  %-12s  %-7s  ", w, dc__e(st->id), row_state(st, no_sources[i]),
               st->owner && *st->owner ? dc__e(st->owner) : "-", count);
        if (no_sources[i]) {
            printf("registered sources of task %s (none)\n", dc__e(st->task));
            any_no_sources = 1;
        } else {
            print_sources(st, is_unsynced);
        }
    }
    if (any_no_sources)
        printf("A task without registered sources cannot complete a lock: run 'ddlcoord task "
               "add TASK SOURCE...' with every source of the task.\n");
}

static void print_text(const dc_lock_status *locks, size_t n, int64_t rev)
{
    printf("%zu lock%s (store revision %lld)\n", n, n == 1 ? "" : "s", (long long)rev);
    for (size_t i = 0; i < n; i++) {
        const dc_lock_status *st = &locks[i];
        printf("\n%s\n", dc__e(st->id));
        printf("  task       %s\n", dc__e(st->task));
        printf("  mode       pessimistic\n");
        printf("  owner      %s\n", dc__e(st->owner));
        if (st->uncertain)
            printf(
                "  UNCERTAIN  owner %s may have executed: attempt %lld at rev %lld; it waits for "
                "%s to finish, or for: unlock --assume-executed | unlock --owner SOURCE "
                "--assume-not-executed\n",
                dc__e(st->owner), (long long)st->attempt, (long long)st->intent_revision,
                dc__e(st->owner));
        else if (st->executed)
            printf("  executed   yes (attempt %lld)\n", (long long)(st->attempt ? st->attempt : 1));
        for (size_t d = 0; d < st->n_ddls; d++)
            printf("  %s  %s\n", d == 0 ? "DDLs     " : "         ", dc__e(st->ddls[d]));
        if (st->n_ddls == 0) printf("  DDLs       -\n");
        printf("  synced     ");
        print_sources(st, is_synced);
        printf("  unsynced   ");
        print_sources(st, is_unsynced);
        printf("  done       ");
        print_sources(st, is_done);
        print_if_any(st, "excluded", is_removed);
        print_if_any(st, "left", has_left);
        print_if_any(st, "fenced", is_fenced);
        int any = 0;
        for (size_t s = 0; s < st->n_sources; s++) {
            const dc_lock_source *src = &st->sources[s];
            if (!src->conflict_ddls) continue;
            printf("  %s  %s: ", any ? "         " : "conflicts", dc__e(src->source));
            for (size_t d = 0; d < src->n_conflict_ddls; d++)
                printf("%s%s", d ? "; " : "", dc__e(src->conflict_ddls[d]));
            printf("\n");
            any = 1;
        }
        if (!any) printf("  conflicts  -\n");
        if (st->forced) printf("  (forced synced by an unlock)\n");
    }
}

static cJSON *names_json(const dc_lock_status *st, int (*pick)(const dc_lock_source *))
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < st->n_sources; i++)
        if (pick(&st->sources[i]) &&
            !cJSON_AddItemToArray(a, cJSON_CreateString(st->sources[i].source))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

static cJSON *strv_json(char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++)
        if (!cJSON_AddItemToArray(a, cJSON_CreateString(v[i]))) {
            cJSON_Delete(a);
            return NULL;
        }
    return a;
}

static cJSON *lock_json(const dc_lock_status *st)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON *conf = cJSON_CreateArray();
    int ok = conf && cJSON_AddStringToObject(o, "ID", st->id) &&
             cJSON_AddStringToObject(o, "task", st->task) &&
             cJSON_AddStringToObject(o, "mode", "pessimistic") &&
             cJSON_AddStringToObject(o, "owner", st->owner ? st->owner : "") &&
             cJSON_AddItemToObject(o, "DDLs", strv_json(st->ddls, st->n_ddls)) &&
             cJSON_AddItemToObject(o, "synced", names_json(st, is_synced)) &&
             cJSON_AddItemToObject(o, "unsynced", names_json(st, is_unsynced)) &&
             cJSON_AddItemToObject(o, "done", names_json(st, is_done)) &&
             cJSON_AddItemToObject(o, "excluded", names_json(st, is_removed)) &&
             cJSON_AddItemToObject(o, "left", names_json(st, has_left)) &&
             cJSON_AddItemToObject(o, "fenced", names_json(st, is_fenced)) &&
             cJSON_AddBoolToObject(o, "forced", st->forced) &&
             cJSON_AddBoolToObject(o, "executed", st->executed) &&
             cJSON_AddBoolToObject(o, "uncertain", st->uncertain) &&
             cJSON_AddNumberToObject(o, "attempt", (double)st->attempt) &&
             cJSON_AddNumberToObject(o, "intent_revision", (double)st->intent_revision);
    for (size_t s = 0; ok && s < st->n_sources; s++) {
        const dc_lock_source *src = &st->sources[s];
        if (!src->conflict_ddls) continue;
        cJSON *c = cJSON_CreateObject();
        ok = c && cJSON_AddItemToArray(conf, c) &&
             cJSON_AddStringToObject(c, "source", src->source) &&
             cJSON_AddItemToObject(c, "DDLs", strv_json(src->conflict_ddls, src->n_conflict_ddls));
    }
    if (ok && cJSON_AddItemToObject(o, "conflicts", conf)) return o;
    if (!ok) cJSON_Delete(conf);
    cJSON_Delete(o);
    return NULL;
}

char *dcx_locks_json(const dc_lock_status *locks, size_t n, int64_t rev)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = NULL;
    int ok = root && cJSON_AddBoolToObject(root, "result", 1) &&
             cJSON_AddStringToObject(root, "msg", "") &&
             cJSON_AddNumberToObject(root, "revision", (double)rev) &&
             (arr = cJSON_AddArrayToObject(root, "locks")) != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *l = lock_json(&locks[i]);
        ok = l && cJSON_AddItemToArray(arr, l);
    }
    char *s = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return s;
}

static int print_json(const dc_lock_status *locks, size_t n, int64_t rev)
{
    char *s = dcx_locks_json(locks, n, rev);
    if (!s) return DCX_EXIT_FAIL;
    printf("%s\n", s);
    free(s);
    return DCX_EXIT_OK;
}

/* One line per info or operation under prefix that does not decode;
 * returns how many, or -1 when the read failed. */
static long scan_prefix(dcx_ctx *ctx, const char *prefix, int is_info)
{
    dc_kvs *kvs = NULL;
    if (dc_get(ctx->store, prefix, strlen(prefix), DC_PREFIX, 0, &kvs) != DC_OK) return -1;
    long bad = 0;
    for (size_t i = 0; i < kvs->n; i++) {
        const dc_kv *kv = &kvs->kvs[i];
        int rc;
        if (is_info) {
            dc_info *info = NULL;
            rc = dc_info_decode(kv->key, kv->value, kv->value_len, &info);
            dc_info_free(info);
        } else {
            dc_operation *op = NULL;
            rc = dc_operation_decode(kv->key, kv->value, kv->value_len, &op);
            dc_operation_free(op);
        }
        if (rc == DC_ECORRUPT || rc == DC_ETOOBIG) {
            dcx_err(ctx, "skipped a corrupt %s: %s", is_info ? "info" : "operation",
                    dc_last_error());
            bad++;
        }
    }
    dc_kvs_free(kvs);
    return bad;
}

/* The number of undecodable infos and operations of task (NULL = all). */
static long scan_values(dcx_ctx *ctx, const char *task)
{
    char *info = NULL, *op = NULL;
    long bad = -1;
    if (dc_info_key(ctx->ns, task, NULL, &info) == DC_OK &&
        dc_operation_key(ctx->ns, task, NULL, &op) == DC_OK) {
        long a = scan_prefix(ctx, info, 1), b = a < 0 ? -1 : scan_prefix(ctx, op, 0);
        bad = b < 0 ? -1 : a + b;
    }
    free(info);
    free(op);
    return bad;
}

int dcx_cmd_locks(dcx_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"task", required_argument, 0, OPT_TASK},
                                         {"json", no_argument, 0, OPT_JSON},
                                         {"output", required_argument, 0, 'o'},
                                         {"output", required_argument, 0, 'o'},
                                         DCX_COMMON_LONG_OPTIONS,
                                         {0, 0, 0, 0}};
    const char *task = NULL;
    int out = OUT_TABLE, c;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return DCX_EXIT_OK;
        }
        if (c == OPT_TASK) {
            task = optarg;
            continue;
        }
        if (c == OPT_JSON) {
            out = OUT_JSON;
            continue;
        }
        if (c == 'o') {
            if (strcmp(optarg, "json") == 0)
                out = OUT_JSON;
            else if (strcmp(optarg, "wide") == 0)
                out = OUT_WIDE;
            else if (strcmp(optarg, "table") == 0)
                out = OUT_TABLE;
            else {
                dcx_err(ctx, "-o wants table, wide or json: %s", dc__e(optarg));
                return DCX_EXIT_USAGE;
            }
            continue;
        }
        int r = dcx_common_option(ctx, c, optarg);
        if (r < 0) return DCX_EXIT_USAGE;
        if (r == 0) return dcx_usage_error(ctx);
    }
    if (optind < argc) {
        dcx_err(ctx, "unexpected argument '%s'", argv[optind]);
        return dcx_usage_error(ctx);
    }
    if (task && !*task) {
        dcx_err(ctx, "--task must not be empty");
        return DCX_EXIT_USAGE;
    }
    dcx_log_setup(ctx, DC_LOG_WARN);
    int ex = dcx_open_store(ctx);
    if (ex != DCX_EXIT_OK) return ex;
    dc_lock_status *locks = NULL;
    size_t n = 0;
    int64_t rev = 0;
    /* The library logs each value it skips; scan_values says it in one line. */
    dc_log_level saved = dc_log_get_level();
    int quiet = ctx->log_level < 0 && !getenv("DDLCOORD_LOG");
    if (quiet) dc_log_set_level(DC_LOG_ERROR);
    int rc = dc_locks_read(ctx->store, ctx->ns, task, &locks, &n, &rev);
    if (quiet) dc_log_set_level(saved);
    if (rc != DC_OK) return dcx_fail(ctx, rc, "read locks");
    if (out == OUT_JSON) {
        ex = print_json(locks, n, rev);
        if (ex != DCX_EXIT_OK) dcx_err(ctx, "out of memory");
    } else if (out == OUT_WIDE) {
        print_text(locks, n, rev);
    } else {
        /* Which locks' tasks have no registered source (one read per task). */
        int *none = calloc(n ? n : 1, sizeof *none);
        for (size_t i = 0; none && i < n; i++) {
            if (i && strcmp(locks[i].task, locks[i - 1].task) == 0) {
                none[i] = none[i - 1];
                continue;
            }
            char **srcs = NULL;
            size_t ns = 0;
            if (dc_task_sources(ctx->store, ctx->ns, locks[i].task, &srcs, &ns) == DC_OK)
                none[i] = ns == 0;
            dc_strings_free(srcs, ns);
        }
        if (none)
            print_table(locks, n, rev, none);
        else
            ex = DCX_EXIT_FAIL;
        free(none);
        if (ex != DCX_EXIT_OK) dcx_err(ctx, "out of memory");
    }
    dc_lock_status_free_array(locks, n);
    fflush(stdout);
    long bad = scan_values(ctx, task);
    if (bad < 0 && ex == DCX_EXIT_OK) {
        dcx_err(ctx, "cannot read the values to check them: %s", dc_last_error());
        ex = DCX_EXIT_STORE;
    }
    if (bad > 0 && ex == DCX_EXIT_OK) ex = DCX_EXIT_CORRUPT;
    return ex;
}
