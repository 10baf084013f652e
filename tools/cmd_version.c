/*
 * ddlcoord version: the library's version, the driver search order and every
 * driver plugin found, with its file and its own version string, so that a
 * user sees what an etcd://, redis:// or zk:// store would load (and why
 * not).
 */
#include "common.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ddlcoord version [--config FILE] [-o json]\n"
            "Print the library's version, where driver plugins are searched (first match\n"
            "wins) and every plugin found. --config's driver_dir is searched too.\n\n"
            "  -o json, --json   print it as JSON\n\n%s",
            dcx_common_help);
}

static int print_json(const dc_drivers *d)
{
    cJSON *o = cJSON_CreateObject(), *dirs = NULL, *drv = NULL;
    int ok = o && cJSON_AddStringToObject(o, "version", DDLCOORD_VERSION) &&
             cJSON_AddStringToObject(o, "library", dc_version()) &&
             (dirs = cJSON_AddArrayToObject(o, "search")) &&
             (drv = cJSON_AddArrayToObject(o, "drivers"));
    for (size_t i = 0; ok && i < d->n_dirs; i++) {
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddItemToArray(dirs, e) &&
             cJSON_AddStringToObject(e, "path", d->dirs[i].path) &&
             cJSON_AddStringToObject(e, "origin", d->dirs[i].origin) &&
             cJSON_AddBoolToObject(e, "exists", d->dirs[i].exists);
    }
    cJSON *mem = ok ? cJSON_CreateObject() : NULL;
    ok = mem && cJSON_AddItemToArray(drv, mem) && cJSON_AddStringToObject(mem, "scheme", "mem") &&
         cJSON_AddStringToObject(mem, "version", "built in");
    for (size_t i = 0; ok && i < d->n_files; i++) {
        const dc_driver_file *f = &d->files[i];
        cJSON *e = cJSON_CreateObject();
        ok = e && cJSON_AddItemToArray(drv, e) && cJSON_AddStringToObject(e, "scheme", f->scheme) &&
             cJSON_AddStringToObject(e, f->code == DC_OK ? "version" : "error",
                                     f->code == DC_OK ? f->version : f->error) &&
             cJSON_AddStringToObject(e, "path", f->path) &&
             cJSON_AddBoolToObject(e, "shadowed", f->shadowed);
    }
    char *s = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!s) return DCX_EXIT_FAIL;
    printf("%s\n", s);
    free(s);
    return DCX_EXIT_OK;
}

int dcx_cmd_version(dcx_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        DCX_OUTPUT_LONG_OPTIONS, DCX_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    int c, json = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return DCX_EXIT_OK;
        }
        int out = dcx_output_option(ctx, c, optarg, &json);
        if (out < 0) return DCX_EXIT_USAGE;
        if (out) continue;
        if (dcx_common_option(ctx, c, optarg) != 1) return dcx_usage_error(ctx);
    }
    if (optind < argc) {
        dcx_err(ctx, "unexpected argument '%s'", argv[optind]);
        return dcx_usage_error(ctx);
    }
    ctx->default_uri = "mem://"; /* only the config file matters here */
    int ex = dcx_resolve(ctx);
    if (ex != DCX_EXIT_OK) return ex;
    dc_drivers *d;
    int rc = dc_drivers_list(ctx->cfg, &d);
    if (rc != DC_OK) return dcx_fail(ctx, rc, "list drivers");

    if (json) {
        ex = print_json(d);
        dc_drivers_free(d);
        if (ex != DCX_EXIT_OK) dcx_err(ctx, "out of memory");
        return ex;
    }
    printf("ddlcoord %s (library %s)\n", DDLCOORD_VERSION, dc_version());
    printf("driver search order (DDLCOORD_DRIVER_PATH, then driver_dir, first match wins):\n");
    for (size_t i = 0; i < d->n_dirs; i++)
        printf("  %zu. %s  [%s%s]\n", i + 1, d->dirs[i].path, d->dirs[i].origin,
               d->dirs[i].exists ? "" : ", missing");
    printf("drivers (scheme, version or why it cannot be loaded, file):\n");
    int w = 6;
    for (size_t i = 0; i < d->n_files; i++)
        if ((int)strlen(d->files[i].scheme) > w) w = (int)strlen(d->files[i].scheme);
    printf("  %-*s built in\n", w, "mem");
    for (size_t i = 0; i < d->n_files; i++) {
        const dc_driver_file *f = &d->files[i];
        if (f->code == DC_OK)
            printf("  %-*s %s\n", w, f->scheme, f->version);
        else
            printf("  %-*s cannot be loaded: %s\n", w, f->scheme, f->error);
        printf("  %-*s %s%s\n", w, "", f->path,
               f->shadowed ? "  (not used: an earlier directory has this scheme)" : "");
    }
    dc_drivers_free(d);
    return DCX_EXIT_OK;
}
