/*
 * The ddlcoord command: parses the common options that may come before the
 * subcommand, then hands the rest of the command line to the subcommand
 * (one file each: cmd_master.c, cmd_locks.c, cmd_unlock.c, cmd_task.c,
 * cmd_worker.c, cmd_demo.c). `ddlcoord --help` lists the subcommands and the
 * exit codes every one of them uses.
 */
#include "common.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct subcommand {
    const char *name;
    int (*run)(dcx_ctx *ctx, int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand commands[] = {
    {"demo", dcx_cmd_demo, "a master and N workers in one process, with a live timeline"},
    {"master", dcx_cmd_master, "the coordinator daemon (leader election, fenced writes)"},
    {"worker", dcx_cmd_worker, "one worker's side of one lock, for scripts"},
    {"locks", dcx_cmd_locks, "show the shard-DDL locks, computed from the store"},
    {"unlock", dcx_cmd_unlock, "ask the leading master to unlock a lock by hand"},
    {"remove-meta", dcx_cmd_remove_meta, "ask the leading master to remove a task's metadata"},
    {"task", dcx_cmd_task, "add, remove or list a task's sources"},
    {"status", dcx_cmd_status, "which master leads (since when, where) and which stand by"},
    {"version", dcx_cmd_version, "the library's version and the driver plugins it finds"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: ddlcoord [COMMON OPTIONS] COMMAND [OPTIONS] [ARGS]\n"
               "Coordinate shard DDL (TiDB DM's pessimistic shard-DDL lock protocol)\n"
               "over a revisioned key-value store.\n\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'ddlcoord COMMAND --help' for a command's options.\n\n%s\n%s",
            dcx_common_help_full, dcx_exit_help_full);
    fprintf(f, "\nEnvironment: DDLCOORD_STORE (store URI), DDLCOORD_LOG (log level),\n"
               "DDLCOORD_DRIVER_PATH (where driver plugins are searched first).\n");
}

int main(int argc, char **argv)
{
    /* A store connection the server closed must fail a call with EPIPE, not
     * kill the command: network clients ignore SIGPIPE (worker --exec
     * children get the default back). */
    signal(SIGPIPE, SIG_IGN);
    dcx_ctx ctx = {.log_level = -1};
    static const struct option opts[] = {
        DCX_COMMON_LONG_OPTIONS, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0}};
    int c, ex = DCX_EXIT_OK;
    /* '+': stop at the subcommand, whose options are its own. */
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            goto out;
        }
        if (c == 'V') {
            printf("ddlcoord %s\n", DDLCOORD_VERSION);
            goto out;
        }
        int r = dcx_common_option(&ctx, c, optarg);
        if (r < 0) {
            ex = DCX_EXIT_USAGE;
            goto out;
        }
        if (r == 0) {
            fprintf(stderr, "Try 'ddlcoord --help'.\n");
            ex = DCX_EXIT_USAGE;
            goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "ddlcoord: missing command\n");
        fprintf(stderr, "Try 'ddlcoord --help'.\n");
        ex = DCX_EXIT_USAGE;
        goto out;
    }
    const char *name = argv[optind];
    if (strcmp(name, "help") == 0) {
        usage(stdout);
        goto out;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(name, commands[i].name) == 0) {
            ctx.cmd = commands[i].name;
            int sub_argc = argc - optind;
            char **sub_argv = argv + optind;
            /* getopt prefixes its messages with argv[0]. */
            char prog[64];
            snprintf(prog, sizeof prog, "ddlcoord %s", commands[i].name);
            sub_argv[0] = prog;
            optind = 0; /* glibc: re-initialise getopt for the subcommand */
            ex = commands[i].run(&ctx, sub_argc, sub_argv);
            goto out;
        }
    }
    fprintf(stderr, "ddlcoord: unknown command '%s'\n", name);
    fprintf(stderr, "Try 'ddlcoord --help'.\n");
    ex = DCX_EXIT_USAGE;
out:
    dcx_ctx_clear(&ctx);
    fflush(stdout);
    return ex;
}
