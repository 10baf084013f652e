/*
 * `ddlcoord status`: which master leads and which stand by, from the store
 * alone: the election's candidates (NS/ddlcoord/election/: the lowest create
 * revision leads) joined by name with the masters' registry
 * (NS/ddlcoord/master/, master_reg.c: host, PID, start, HTTP address, since
 * when it leads).
 */
#include "common.h"
#include "master_reg.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_JSON = DCX_OPT_FIRST_PRIVATE, OPT_OUTPUT };

static void help(void)
{
    printf("Usage: ddlcoord status [-o text|json]\n"
           "Show which master leads (name, since when, HTTP address, term) and which\n"
           "stand by, read from the store (no master needs to answer).\n\n"
           "  -o, --output FORMAT  text (default) or json\n"
           "  --json               the same as -o json\n\n%s",
           dcx_common_help);
}

typedef struct cand {
    char *name;
    int64_t create_revision;
    cJSON *info; /* the registry value, or NULL */
} cand;

static int by_rev(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->create_revision < y->create_revision ? -1 : x->create_revision > y->create_revision;
}

static const char *info_str(const cJSON *info, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(info, field);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static cJSON *cand_json(const cand *c, int leads)
{
    cJSON *o = cJSON_CreateObject();
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(c->info, "pid");
    const char *since = info_str(c->info, "leading_since");
    int ok = o && cJSON_AddStringToObject(o, "name", c->name) &&
             cJSON_AddStringToObject(o, "role", leads ? "leader" : "standby") &&
             cJSON_AddNumberToObject(o, "candidate_revision", (double)c->create_revision) &&
             cJSON_AddStringToObject(o, "leading_since", leads && since ? since : "") &&
             cJSON_AddStringToObject(
                 o, "started", info_str(c->info, "started") ? info_str(c->info, "started") : "") &&
             cJSON_AddStringToObject(
                 o, "address", info_str(c->info, "address") ? info_str(c->info, "address") : "") &&
             cJSON_AddStringToObject(o, "host",
                                     info_str(c->info, "host") ? info_str(c->info, "host") : "") &&
             cJSON_AddNumberToObject(o, "pid", cJSON_IsNumber(pid) ? pid->valuedouble : 0);
    if (ok) return o;
    cJSON_Delete(o);
    return NULL;
}

static void print_text(const cand *v, size_t n, int64_t rev)
{
    if (!n) {
        printf("no master leads (no candidate under the election prefix; store revision %lld)\n",
               (long long)rev);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const cand *c = &v[i];
        const char *since = info_str(c->info, "leading_since");
        const char *started = info_str(c->info, "started");
        const char *addr = info_str(c->info, "address");
        const char *host = info_str(c->info, "host");
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(c->info, "pid");
        printf("%-8s %s", i == 0 ? "leader" : "standby", dc__e(c->name));
        if (i == 0)
            printf("  since %s", since ? since : "?");
        else if (started)
            printf("  started %s", started);
        printf("  http %s", addr ? dc__e(addr) : "-");
        if (host && cJSON_IsNumber(pid)) printf("  (%s pid %d)", dc__e(host), pid->valueint);
        if (i == 0) printf("  term %lld", (long long)c->create_revision);
        printf("\n");
    }
}

int dcx_cmd_status(dcx_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, OPT_JSON},
                                         {"output", required_argument, 0, 'o'},
                                         DCX_COMMON_LONG_OPTIONS,
                                         {0, 0, 0, 0}};
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        if (c == 'h') {
            help();
            return DCX_EXIT_OK;
        }
        if (c == OPT_JSON) {
            json = 1;
            continue;
        }
        if (c == 'o') {
            if (strcmp(optarg, "json") == 0)
                json = 1;
            else if (strcmp(optarg, "text") == 0)
                json = 0;
            else {
                dcx_err(ctx, "-o wants text or json: %s", dc__e(optarg));
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
    dcx_log_setup(ctx, DC_LOG_WARN);
    int ex = dcx_open_store(ctx);
    if (ex != DCX_EXIT_OK) return ex;
    char *eprefix = dcx_own_key(ctx->ns, "election/");
    char *rprefix = dcx_own_key(ctx->ns, "master/");
    dc_txn *t = eprefix && rprefix ? dc_txn_new() : NULL;
    dc_txn_result *res = NULL;
    int rc = t ? DC_OK : DC_ENOMEM;
    /* one txn: both prefixes at the same revision */
    if (!rc) rc = dc_txn_get(t, DC_THEN, eprefix, strlen(eprefix), DC_PREFIX, 0);
    if (!rc) rc = dc_txn_get(t, DC_THEN, rprefix, strlen(rprefix), DC_PREFIX, 0);
    if (!rc) rc = dc_txn_commit(ctx->store, t, &res);
    dc_txn_free(t);
    free(eprefix);
    free(rprefix);
    if (rc != DC_OK) return dcx_fail(ctx, rc, "read the masters");
    const dc_response *el = &res->responses[0], *rg = &res->responses[1];
    cand *v = calloc(el->n_kvs ? el->n_kvs : 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; v && i < el->n_kvs; i++) {
        const dc_kv *kv = &el->kvs[i];
        cand *cd = &v[n];
        if (!(cd->name = strndup(kv->value, kv->value_len))) break;
        cd->create_revision = kv->create_revision;
        for (size_t j = 0; j < rg->n_kvs && !cd->info; j++) {
            cJSON *o = cJSON_ParseWithLength(rg->kvs[j].value, rg->kvs[j].value_len);
            const char *nm = info_str(o, "name");
            if (nm && strcmp(nm, cd->name) == 0)
                cd->info = o;
            else
                cJSON_Delete(o);
        }
        n++;
    }
    if (v) qsort(v, n, sizeof *v, by_rev);
    int64_t rev = res->revision;
    if (!v || n < el->n_kvs) ex = DCX_EXIT_FAIL;
    dc_txn_result_free(res);
    if (ex == DCX_EXIT_OK && json) {
        cJSON *root = cJSON_CreateObject();
        cJSON *st = NULL;
        int ok = root && cJSON_AddNumberToObject(root, "revision", (double)rev) &&
                 (n ? cJSON_AddItemToObject(root, "leader", cand_json(&v[0], 1))
                    : cJSON_AddNullToObject(root, "leader") != NULL) &&
                 (st = cJSON_AddArrayToObject(root, "standbys")) != NULL;
        for (size_t i = 1; ok && i < n; i++) ok = cJSON_AddItemToArray(st, cand_json(&v[i], 0));
        char *s = ok ? cJSON_Print(root) : NULL;
        cJSON_Delete(root);
        if (s)
            printf("%s\n", s);
        else
            ex = DCX_EXIT_FAIL;
        free(s);
    } else if (ex == DCX_EXIT_OK) {
        print_text(v, n, rev);
    }
    if (ex == DCX_EXIT_FAIL) dcx_err(ctx, "out of memory");
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        cJSON_Delete(v[i].info);
    }
    free(v);
    return ex;
}
