/*
 * What every subcommand of the ddlcoord command shares: the exit codes, the
 * common options (--store, --config, --namespace, --log-level) and the order
 * in which they choose the store, error printing, and key helpers for
 * ddlcoord's own keys under NS/ddlcoord/.
 */
#ifndef DCX_COMMON_H
#define DCX_COMMON_H

#include <ddlcoord/ddlcoord.h>
#include <ddlcoord/pessimism.h>
#include <getopt.h>
#include <stdint.h>

#include "esc.h" /* dc__e: names from the store, escaped for one-line messages */

/* Exit codes of every subcommand (documented in `ddlcoord --help`). */
enum {
    DCX_EXIT_OK = 0,
    DCX_EXIT_FAIL = 1,     /* the request failed (answered with an error), or no memory */
    DCX_EXIT_USAGE = 2,    /* unknown option, missing or bad argument */
    DCX_EXIT_STORE = 3,    /* the store cannot be opened, or a store call failed */
    DCX_EXIT_TIMEOUT = 4,  /* a wait ran out (worker --timeout) */
    DCX_EXIT_CONFLICT = 5, /* the worker's DDLs conflict with the open lock */
    DCX_EXIT_EXEC = 6,     /* the worker's --exec command failed */
    DCX_EXIT_CORRUPT = 7,  /* a value in the store (or the config file) is malformed */
    DCX_EXIT_CHECK = 8,    /* the demo's checks failed (revision order, exactly once) */
    DCX_EXIT_NOMASTER = 9, /* no master answered an admin request in time */
    DCX_EXIT_BUSY = 10,    /* another live worker runs for the same (task, source) */
};

/* The exit code table as printed by --help (one line per code). */
extern const char dcx_exit_help_full[];
/* For subcommands: empty (their help points to `ddlcoord --help`). */
extern const char dcx_exit_help[];

/* Long-option values of the common options (above any short option). */
enum {
    DCX_OPT_STORE = 1000,
    DCX_OPT_CONFIG,
    DCX_OPT_NAMESPACE,
    DCX_OPT_LOG_LEVEL,
    DCX_OPT_JSON,                 /* --json, the alias of -o json */
    DCX_OPT_FIRST_PRIVATE = 1100, /* subcommands number their own long-only options from here */
};

/* Put this at the end of a subcommand's struct option array (before the
 * terminating zero entry). */
#define DCX_COMMON_LONG_OPTIONS                                 \
    {"store", required_argument, 0, DCX_OPT_STORE},             \
        {"config", required_argument, 0, DCX_OPT_CONFIG},       \
        {"namespace", required_argument, 0, DCX_OPT_NAMESPACE}, \
        {"log-level", required_argument, 0, DCX_OPT_LOG_LEVEL}, \
    {                                                           \
        "help", no_argument, 0, 'h'                             \
    }

/* -o FORMAT and --json, for the struct option array of a command that
 * prints (add "o:" to its short options). */
#define DCX_OUTPUT_LONG_OPTIONS              \
    {"output", required_argument, 0, 'o'},   \
    {                                        \
        "json", no_argument, 0, DCX_OPT_JSON \
    }

/* The common options' help text, for each subcommand's --help. */
extern const char dcx_common_help_full[];
/* For a subcommand's --help: one line pointing to `ddlcoord --help`. */
extern const char dcx_common_help[];

/* State shared by the main program and one subcommand. */
typedef struct dcx_ctx {
    const char *cmd;         /* subcommand name, for messages */
    char *store_flag;        /* --store */
    char *config_path;       /* --config */
    char *ns_flag;           /* --namespace */
    int log_level;           /* --log-level, -1 = not given */
    const char *default_uri; /* used when nothing else names a store (demo: mem://) */
    /* filled by dcx_open_store */
    dc_config *cfg;
    dc_store *store;
    char *uri;
    char *uri_shown; /* uri without credentials, for messages and logs */
    char *ns;
} dcx_ctx;

/* Handle -o/--json (c, arg): 1 if it was one (*json set: 1 json, 0 text),
 * 0 if not, -1 after printing an error (a format other than text/json). */
int dcx_output_option(const dcx_ctx *ctx, int c, const char *arg, int *json);

/* Print {"k1": "v1", ...} (n pairs of strings, NULL values skipped) as
 * one JSON object on stdout. DCX_EXIT_OK, or DCX_EXIT_FAIL (out of memory). */
int dcx_print_pairs_json(const char *const *kv, size_t n);

/* Handle common option c (with optarg arg). Returns 1 if it was one, 0 if
 * not, -1 after printing an error (bad value, no memory). */
int dcx_common_option(dcx_ctx *ctx, int c, const char *arg);

/* Choose the store (--store > $DDLCOORD_STORE > --config's uri >
 * ctx->default_uri), the namespace (--namespace > config's namespace >
 * /ddlcoord) and open the store with the config's other settings. Prints a
 * one-line error and returns an exit code (DCX_EXIT_OK on success). */
int dcx_open_store(dcx_ctx *ctx);

/* Only resolve uri and ns (no store opened); same errors as dcx_open_store. */
int dcx_resolve(dcx_ctx *ctx);

/* Close the store and free everything ctx owns. */
void dcx_ctx_clear(dcx_ctx *ctx);

/* Print "ddlcoord <cmd>: <message>" on stderr. */
void dcx_err(const dcx_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a failed library call: "ddlcoord <cmd>: <what>: <strerror> (<detail>)"
 * and return the exit code for rc. */
int dcx_fail(const dcx_ctx *ctx, int rc, const char *what);

/* The exit code for a DC_E… code. */
int dcx_exit_code(int rc);

/* Print the usage hint after a getopt error and return DCX_EXIT_USAGE. */
int dcx_usage_error(const dcx_ctx *ctx);

/* Set the log level: --log-level if given, else $DDLCOORD_LOG if set, else def. */
void dcx_log_setup(const dcx_ctx *ctx, dc_log_level def);

/* uri with its userinfo and credential-like query values replaced by "***",
 * for messages (malloc'd; NULL when out of memory). It also remembers them
 * as secrets: from then on every line this command prints (dcx_err, and the
 * library's log through a handler it installs) has them replaced too. */
char *dcx_redact_uri(const char *uri);

/* ns + "/ddlcoord/" + rest (malloc'd; NULL when out of memory). */
char *dcx_own_key(const char *ns, const char *rest);

/* Decode lower-case hex into a malloc'd NUL-terminated string (NULL on bad
 * hex or no memory). */
char *dcx_unhex(const char *hex, size_t len);

/* Parse a non-negative decimal number with an optional fraction of seconds
 * ("2", "0.5") into milliseconds. -1 on a bad value. */
int64_t dcx_parse_seconds_ms(const char *s);

/* Parse a positive int within [min, max]; -1 on a bad value. */
long dcx_parse_long(const char *s, long min, long max);

/* Monotonic milliseconds. */
int64_t dcx_now_ms(void);

/* The JSON of `locks --json` (and the master's /v1/locks): malloc'd, NULL
 * when out of memory. */
char *dcx_locks_json(const dc_lock_status *locks, size_t n, int64_t rev);

/* Subcommands: argv[0] is the subcommand's name. Each returns an exit code. */
int dcx_cmd_master(dcx_ctx *ctx, int argc, char **argv);
int dcx_cmd_locks(dcx_ctx *ctx, int argc, char **argv);
int dcx_cmd_unlock(dcx_ctx *ctx, int argc, char **argv);
int dcx_cmd_remove_meta(dcx_ctx *ctx, int argc, char **argv);
int dcx_cmd_task(dcx_ctx *ctx, int argc, char **argv);
int dcx_cmd_worker(dcx_ctx *ctx, int argc, char **argv);
int dcx_cmd_demo(dcx_ctx *ctx, int argc, char **argv);
int dcx_cmd_version(dcx_ctx *ctx, int argc, char **argv);
int dcx_cmd_status(dcx_ctx *ctx, int argc, char **argv);

#endif
