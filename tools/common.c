/*
 * The parts every subcommand shares: the exit-code table, the common options
 * and the order in which they pick the store and the namespace, and small
 * helpers (errors on stderr, ddlcoord's own keys, number parsing).
 *
 * Store precedence: --store beats $DDLCOORD_STORE, which beats
 * the uri of --config FILE; the config file still supplies every other
 * setting (timeouts, credentials, driver_dir), because the chosen URI is set
 * into the same dc_config before the store is opened from it.
 */
#include "common.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

const char dcx_exit_help_full[] =
    "Exit codes:\n"
    "   0  success\n"
    "   1  the request failed (the master answered with an error), or out of memory\n"
    "   2  usage: unknown option, missing or bad argument\n"
    "   3  store: it cannot be opened, or a store call failed\n"
    "   4  timeout: a wait ran out (worker --timeout)\n"
    "   5  conflict: the worker's DDLs differ from the open lock's\n"
    "   6  exec: the worker's --exec command failed\n"
    "   7  corrupt: a value in the store or the config file is malformed\n"
    "   8  check: the demo found a revision-order or exactly-once violation\n"
    "   9  no master answered an admin request (unlock, remove-meta) in time\n"
    "  10  busy: another live worker runs for the same task and source\n";

const char dcx_common_help_full[] =
    "Common options:\n"
    "  --store URI        store URI (mem://, etcd://h:p, redis://h:p, zk://h:p)\n"
    "  --config FILE      INI configuration (uri, namespace, timeouts, credentials)\n"
    "  --namespace NS     key namespace (default /ddlcoord; /dm-master reads DM's etcd)\n"
    "  --log-level L      debug, info, warn, error or off (default: $DDLCOORD_LOG, else warn)\n"
    "  -h, --help         this help\n"
    "The store is --store, else $DDLCOORD_STORE, else the config file's uri.\n";

/* A subcommand's --help shows its own options, then points here. */
const char dcx_common_help[] =
    "Common options (--store URI, --config FILE, --namespace NS, --log-level L, -h)\n"
    "and the exit codes: see 'ddlcoord --help'.\n";
const char dcx_exit_help[] = "";

static const char *scrub(const char *text, char *buf, size_t len);

int dcx_print_pairs_json(const char *const *kv, size_t n)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o != NULL;
    for (size_t i = 0; ok && i < n; i++)
        if (kv[2 * i + 1]) ok = cJSON_AddStringToObject(o, kv[2 * i], kv[2 * i + 1]) != NULL;
    char *s = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!s) return DCX_EXIT_FAIL;
    printf("%s\n", s);
    free(s);
    return DCX_EXIT_OK;
}

int dcx_output_option(const dcx_ctx *ctx, int c, const char *arg, int *json)
{
    if (c == DCX_OPT_JSON) {
        *json = 1;
        return 1;
    }
    if (c != 'o') return 0;
    if (strcmp(arg, "json") == 0 || strcmp(arg, "text") == 0) {
        *json = arg[0] == 'j';
        return 1;
    }
    dcx_err(ctx, "-o wants text or json: %s", dc__e(arg));
    return -1;
}

static int parse_level(const char *s)
{
    static const char *names[] = {"debug", "info", "warn", "error", "off"};
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    return -1;
}

static int replace(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy) return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

int dcx_common_option(dcx_ctx *ctx, int c, const char *arg)
{
    char **slot = NULL;
    switch (c) {
    case DCX_OPT_STORE:
        slot = &ctx->store_flag;
        break;
    case DCX_OPT_CONFIG:
        slot = &ctx->config_path;
        break;
    case DCX_OPT_NAMESPACE:
        if (arg[0] != '/') {
            dcx_err(ctx, "--namespace must start with '/': %s", arg);
            return -1;
        }
        slot = &ctx->ns_flag;
        break;
    case DCX_OPT_LOG_LEVEL:
        ctx->log_level = parse_level(arg);
        if (ctx->log_level < 0) {
            dcx_err(ctx, "--log-level must be debug, info, warn, error or off: %s", arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
    if (replace(slot, arg) != 0) {
        dcx_err(ctx, "out of memory");
        return -1;
    }
    return 1;
}

void dcx_log_setup(const dcx_ctx *ctx, dc_log_level def)
{
    if (ctx->log_level >= 0)
        dc_log_set_level((dc_log_level)ctx->log_level);
    else if (!getenv("DDLCOORD_LOG"))
        dc_log_set_level(def);
}

int dcx_resolve(dcx_ctx *ctx)
{
    if (ctx->uri) return DCX_EXIT_OK;
    ctx->cfg = dc_config_new();
    if (!ctx->cfg) return dcx_fail(ctx, DC_ENOMEM, "config");
    if (ctx->config_path) {
        int rc = dc_config_load_file(ctx->cfg, ctx->config_path);
        if (rc != DC_OK) {
            dcx_err(ctx, "cannot read config %s: %s (%s)", ctx->config_path, dc_strerror(rc),
                    dc_last_error());
            return rc == DC_EINVAL ? DCX_EXIT_CORRUPT : DCX_EXIT_USAGE;
        }
    }
    const char *env = getenv("DDLCOORD_STORE");
    const char *uri = ctx->store_flag                  ? ctx->store_flag
                      : env && *env                    ? env
                      : dc_config_get(ctx->cfg, "uri") ? dc_config_get(ctx->cfg, "uri")
                                                       : ctx->default_uri;
    if (!uri || !*uri) {
        dcx_err(ctx, "no store: give --store URI, set DDLCOORD_STORE or a config file's uri");
        return DCX_EXIT_USAGE;
    }
    const char *ns = ctx->ns_flag ? ctx->ns_flag : dc_config_get(ctx->cfg, "namespace");
    if (!ns || !*ns) ns = DC_DEFAULT_NAMESPACE;
    if (ns[0] != '/') {
        dcx_err(ctx, "namespace must start with '/': %s", ns);
        return DCX_EXIT_USAGE;
    }
    ctx->uri = strdup(uri);
    ctx->uri_shown = dcx_redact_uri(uri);
    ctx->ns = strdup(ns);
    if (!ctx->uri || !ctx->uri_shown || !ctx->ns) return dcx_fail(ctx, DC_ENOMEM, "config");
    /* A namespace ending in '/' would double the separator in every key. */
    size_t l = strlen(ctx->ns);
    while (l > 1 && ctx->ns[l - 1] == '/') ctx->ns[--l] = '\0';
    int rc = dc_config_set(ctx->cfg, "uri", ctx->uri);
    if (rc == DC_OK) rc = dc_config_set(ctx->cfg, "namespace", ctx->ns);
    if (rc != DC_OK) return dcx_fail(ctx, rc, "config");
    return DCX_EXIT_OK;
}

int dcx_open_store(dcx_ctx *ctx)
{
    int ex = dcx_resolve(ctx);
    if (ex != DCX_EXIT_OK) return ex;
    if (ctx->store) return DCX_EXIT_OK;
    /* The library logs a failed open too; unless asked for logs, let the
     * one-line message below be the only one. */
    dc_log_level saved = dc_log_get_level();
    int quiet = ctx->log_level < 0 && !getenv("DDLCOORD_LOG");
    if (quiet) dc_log_set_level(DC_LOG_OFF);
    int rc = dc_store_open_config(ctx->cfg, &ctx->store);
    if (quiet) dc_log_set_level(saved);
    if (rc == DC_ENODRIVER) {
        /* Most often a typo in the scheme: say which ones work here. */
        char detail[1024];
        snprintf(detail, sizeof detail, "%s", dc_last_error());
        char known[512] = "mem";
        size_t len = strlen(known);
        dc_drivers *d = NULL;
        if (dc_drivers_list(ctx->cfg, &d) == DC_OK) {
            for (size_t i = 0; i < d->n_files && len < sizeof known - 40; i++)
                if (d->files[i].code == DC_OK && !d->files[i].shadowed)
                    len += (size_t)snprintf(known + len, sizeof known - len, ", %s",
                                            d->files[i].scheme);
            dc_drivers_free(d);
        }
        dcx_err(ctx, "cannot open store %s: %s: known schemes: %s (%s)", ctx->uri_shown,
                dc_strerror(rc), known, detail);
        ctx->store = NULL;
        return DCX_EXIT_USAGE;
    }
    if (rc != DC_OK) {
        dcx_err(ctx, "cannot open store %s: %s (%s)", ctx->uri_shown, dc_strerror(rc),
                dc_last_error());
        ctx->store = NULL;
        return rc == DC_EINVAL ? DCX_EXIT_USAGE : DCX_EXIT_STORE;
    }
    /* mem:// lives in this process only: a master, a worker or a task
     * command on it cannot meet the other processes (the demo runs them all
     * in one process and needs no warning). */
    if (strcmp(dc_store_backend(ctx->store), "mem") == 0 && ctx->cmd &&
        (strcmp(ctx->cmd, "master") == 0 || strcmp(ctx->cmd, "worker") == 0 ||
         strcmp(ctx->cmd, "task") == 0))
        dcx_err(ctx,
                "warning: %s keeps its data in this process only: other ddlcoord processes "
                "(master, workers, task) do not see it; use etcd://, redis:// or zk:// to "
                "coordinate processes",
                ctx->uri_shown);
    return DCX_EXIT_OK;
}

void dcx_ctx_clear(dcx_ctx *ctx)
{
    dc_store_close(ctx->store);
    dc_config_free(ctx->cfg);
    free(ctx->store_flag);
    free(ctx->config_path);
    free(ctx->ns_flag);
    free(ctx->uri);
    free(ctx->uri_shown);
    free(ctx->ns);
    ctx->store = NULL;
    ctx->cfg = NULL;
    ctx->store_flag = ctx->config_path = ctx->ns_flag = ctx->uri = ctx->uri_shown = ctx->ns = NULL;
}

void dcx_err(const dcx_ctx *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line, whatever the message holds, and no secret in it. */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    char clean[1100];
    const char *line = scrub(msg, clean, sizeof clean);
    if (ctx && ctx->cmd)
        fprintf(stderr, "ddlcoord %s: %s\n", ctx->cmd, line);
    else
        fprintf(stderr, "ddlcoord: %s\n", line);
}

int dcx_exit_code(int rc)
{
    switch (rc) {
    case DC_OK:
        return DCX_EXIT_OK;
    case DC_ETIMEDOUT:
        return DCX_EXIT_TIMEOUT;
    case DC_ECONFLICT:
        return DCX_EXIT_CONFLICT;
    case DC_ECORRUPT:
        return DCX_EXIT_CORRUPT;
    case DC_EINVAL:
        return DCX_EXIT_USAGE;
    case DC_ENOMEM:
    case DC_EINTERNAL:
    case DC_ENOTFOUND:
    case DC_ECHANGED:
    case DC_ERESOLVED:
        return DCX_EXIT_FAIL;
    default:
        return DCX_EXIT_STORE;
    }
}

int dcx_fail(const dcx_ctx *ctx, int rc, const char *what)
{
    const char *detail = dc_last_error();
    if (detail && *detail)
        dcx_err(ctx, "%s: %s (%s)", what, dc_strerror(rc), detail);
    else
        dcx_err(ctx, "%s: %s", what, dc_strerror(rc));
    return dcx_exit_code(rc);
}

int dcx_usage_error(const dcx_ctx *ctx)
{
    /* getopt has printed what was wrong; say where to look. */
    fprintf(stderr, "Try 'ddlcoord %s --help'.\n", ctx && ctx->cmd ? ctx->cmd : "");
    return DCX_EXIT_USAGE;
}

/* ---------------------------------------------------------------- secrets */

/* The secrets of the store URI in use (its userinfo, its password, and the
 * values of query parameters that look like credentials): every line this
 * command prints, its own or the library's, has them replaced by "***",
 * however the URI was written (a password may hold '/' or '@'; a malformed
 * URI is echoed by the parser's message). */
#define MAX_SECRETS 8
static char *secrets[MAX_SECRETS];
static size_t n_secrets;

static void add_secret(const char *p, size_t len)
{
    if (len == 0 || n_secrets == MAX_SECRETS) return;
    char *s = strndup(p, len);
    if (s) secrets[n_secrets++] = s;
}

static int sensitive(const char *key, size_t len)
{
    static const char *const words[] = {"pass", "secret", "token", "cred", "key", "auth"};
    for (size_t w = 0; w < sizeof words / sizeof *words; w++)
        for (size_t i = 0; i + strlen(words[w]) <= len; i++)
            if (strncasecmp(key + i, words[w], strlen(words[w])) == 0) return 1;
    return 0;
}

static void find_secrets(const char *uri)
{
    const char *auth = strstr(uri, "://");
    const char *start = auth ? auth + 3 : uri;
    const char *q = strchr(start, '?');
    const char *end = q ? q : start + strlen(start);
    const char *at = NULL;
    for (const char *p = start; p < end; p++)
        if (*p == '@') at = p; /* the last one: a password may hold '@' */
    if (at) {
        add_secret(start, (size_t)(at - start));
        const char *colon = memchr(start, ':', (size_t)(at - start));
        if (colon) add_secret(colon + 1, (size_t)(at - colon - 1));
        /* A parser that splits the URI elsewhere echoes pieces of it: a
         * password "a/b" makes "bad port 'a'". Its pieces are secrets too. */
        for (const char *p = start; p < at;) {
            size_t n = strcspn(p, ":/@?#");
            if (p + n > at) n = (size_t)(at - p);
            if (n >= 2) add_secret(p, n);
            p += n + 1;
        }
    }
    for (const char *p = q; p && *p;) {
        const char *k = p + 1, *amp = strchr(k, '&'), *stop = amp ? amp : k + strlen(k);
        const char *eq = memchr(k, '=', (size_t)(stop - k));
        if (eq && sensitive(k, (size_t)(eq - k))) add_secret(eq + 1, (size_t)(stop - eq - 1));
        p = amp;
    }
}

/* text with every secret replaced, into buf. */
static const char *scrub(const char *text, char *buf, size_t len)
{
    if (n_secrets == 0) return text;
    size_t o = 0;
    for (const char *p = text; *p && o + 1 < len;) {
        size_t hit = 0;
        for (size_t i = 0; i < n_secrets && !hit; i++)
            if (strncmp(p, secrets[i], strlen(secrets[i])) == 0) hit = strlen(secrets[i]);
        if (hit) {
            for (const char *r = "***"; *r && o + 1 < len; r++) buf[o++] = *r;
            p += hit;
        } else {
            buf[o++] = *p++;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* The library's log lines, in its own format, with the secrets scrubbed. */
static void scrubbing_log(dc_log_level level, const char *component, const char *message, void *ud)
{
    (void)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32], buf[1200];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03dZ %-5s %s: %s\n", when, (int)(ts.tv_nsec / 1000000),
            dc_log_level_name(level), component ? component : "ddlcoord",
            scrub(message, buf, sizeof buf));
}

char *dcx_redact_uri(const char *uri)
{
    find_secrets(uri);
    if (n_secrets) dc_log_set_handler(scrubbing_log, NULL);
    /* The library redacts what it prints (dc_uri_redact); the scrub catches
     * the pieces a parser's message may echo of a malformed URI. */
    char shown[512], buf[1024];
    return strdup(scrub(dc_uri_redact(uri, shown, sizeof shown), buf, sizeof buf));
}

char *dcx_own_key(const char *ns, const char *rest)
{
    size_t n = strlen(ns) + strlen("/ddlcoord/") + strlen(rest) + 1;
    char *k = malloc(n);
    if (k) snprintf(k, n, "%s/ddlcoord/%s", ns, rest);
    return k;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *dcx_unhex(const char *hex, size_t len)
{
    if (len % 2) return NULL;
    char *out = malloc(len / 2 + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (char)(hi * 16 + lo);
    }
    out[len / 2] = '\0';
    return out;
}

int64_t dcx_parse_seconds_ms(const char *s)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double d = strtod(s, &end);
    if (errno || *end || d < 0 || d > 86400.0 * 365) return -1;
    return (int64_t)(d * 1000.0 + 0.5);
}

long dcx_parse_long(const char *s, long min, long max)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    return v;
}

int64_t dcx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
