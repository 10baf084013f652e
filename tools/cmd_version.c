/*
 * ddlcoord version: the library's version, the driver search order and every
 * driver plugin found, with its file and its own version string, so that a
 * user sees what an etcd://, redis:// or zk:// store would load (and why
 * not).
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: ddlcoord version [--config FILE]\n"
            "Print the library's version, where driver plugins are searched (first match\n"
            "wins) and every plugin found. --config's driver_dir is searched too.\n\n%s",
            dcx_common_help);
}

int dcx_cmd_version(dcx_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {DCX_COMMON_LONG_OPTIONS, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return DCX_EXIT_OK;
        }
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
