/*
 * The Lua side of lua mode. The function library (ddlcoord.lua, compiled in
 * as rd_lua_src) is versioned by a hash of its text: at open the driver asks
 * the server for ddlcoord2_version and loads the library with FUNCTION LOAD
 * REPLACE when it is missing or different, so upgrading the driver upgrades
 * the server side. A change of the functions' arguments gets a new library
 * name (ddlcoord2 added the epoch), so that drivers of both versions can
 * share a server during an upgrade without replacing each other's library. Functions are persisted
 * in the AOF and survive restarts. Where FUNCTION is not available (denied by ACL, or an older
 * server) the same code runs as a plain script through EVALSHA, re-sent with SCRIPT LOAD when the
 * server answers NOSCRIPT (the script cache is not durable). If neither works, lua mode cannot
 * start and says why: the user must pick mode=multi.
 */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTER_MARK "-- @@REGISTER@@"

static uint64_t fnv1a(const char *p)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

/* lib_text = the source with @VERSION@ replaced; eval_text = the same without
 * the shebang and the registrations, dispatching on its first argument. */
static int build_texts(rd_store *s)
{
    snprintf(s->version, sizeof s->version, "%016llx", (unsigned long long)fnv1a(rd_lua_src));
    const char *v = strstr(rd_lua_src, "@VERSION@");
    const char *mark = strstr(rd_lua_src, REGISTER_MARK);
    const char *body = strchr(rd_lua_src, '\n');
    if (!v || !mark || !body || v > mark) return -1;
    dc_buf lib = DC_BUF_INIT, ev = DC_BUF_INIT;
    int bad = dc__buf_append(&lib, rd_lua_src, (size_t)(v - rd_lua_src)) ||
              dc__buf_puts(&lib, s->version) || dc__buf_puts(&lib, v + strlen("@VERSION@"));
    bad = bad || dc__buf_append(&ev, body + 1, (size_t)(v - body - 1)) ||
          dc__buf_puts(&ev, s->version) ||
          dc__buf_append(&ev, v + strlen("@VERSION@"), (size_t)(mark - v - strlen("@VERSION@"))) ||
          dc__buf_puts(&ev, "local fn = table.remove(ARGV, 1)\nreturn M[fn](KEYS, ARGV)\n");
    if (bad) {
        dc__buf_free(&lib);
        dc__buf_free(&ev);
        return -2;
    }
    s->lib_text = dc__buf_steal(&lib);
    s->eval_text = dc__buf_steal(&ev);
    return s->lib_text && s->eval_text ? 0 : -2;
}

static redisReply *run(redisContext *ctx, int argc, const char **argv)
{
    size_t lens[8];
    for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
    return redisCommandArgv(ctx, argc, argv, lens);
}

static int load_library(rd_store *s, redisContext *ctx, char *why, size_t whylen)
{
    const char *a[] = {"FUNCTION", "LOAD", "REPLACE", s->lib_text};
    redisReply *r = run(ctx, 4, a);
    if (!r) return RD_IO;
    int ok = r->type != REDIS_REPLY_ERROR;
    if (!ok) snprintf(why, whylen, "FUNCTION LOAD: %s", r->str);
    freeReplyObject(r);
    return ok ? DC_OK : DC_EUNSUPPORTED;
}

static int load_script(rd_store *s, redisContext *ctx, char *why, size_t whylen)
{
    const char *a[] = {"SCRIPT", "LOAD", s->eval_text};
    redisReply *r = run(ctx, 3, a);
    if (!r) return RD_IO;
    int ok = r->type == REDIS_REPLY_STRING && r->len == 40;
    if (ok)
        memcpy(s->sha, r->str, 41);
    else
        snprintf(why, whylen, "SCRIPT LOAD: %s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "bad reply");
    freeReplyObject(r);
    return ok ? DC_OK : DC_EUNSUPPORTED;
}

/* 1 if the server runs our library version (and lets us call it). */
static int version_ok(rd_store *s, redisContext *ctx, char *why, size_t whylen)
{
    const char *a[] = {"FCALL_RO", "ddlcoord2_version", "0"};
    redisReply *r = run(ctx, 3, a);
    if (!r) return RD_IO;
    int ok = r->type == REDIS_REPLY_STRING && strcmp(r->str, s->version) == 0;
    if (r->type == REDIS_REPLY_ERROR) snprintf(why, whylen, "FCALL: %s", r->str);
    freeReplyObject(r);
    return ok;
}

int rd_script_init(rd_store *s, dc_drv_err *err)
{
    int b = build_texts(s);
    if (b) return rd_err(err, b == -2 ? DC_ENOMEM : DC_EINTERNAL, s, "bad built-in Lua library");
    redisContext *ctx;
    int rc = rd_borrow(s, &ctx, err);
    if (rc != DC_OK) return rc;
    char why1[256] = "", why2[256] = "";
    int v = version_ok(s, ctx, why1, sizeof why1);
    if (v == 0) {
        rc = load_library(s, ctx, why1, sizeof why1);
        if (rc == DC_OK) {
            v = version_ok(s, ctx, why1, sizeof why1);
            if (v == 1)
                s->host->log(DC_LOG_INFO, "redis", "%s: loaded function library %s", s->endpoint,
                             s->version);
        } else if (rc == RD_IO) {
            v = RD_IO;
        }
    }
    if (v == 1) {
        s->use_fcall = 1;
        rd_return(s, ctx, 0);
        return DC_OK;
    }
    if (v != RD_IO) {
        rc = load_script(s, ctx, why2, sizeof why2);
        if (rc == DC_OK) {
            s->use_fcall = 0;
            /* scripts work but the library does not: a deployment choice or a bug */
            s->host->log(strstr(why1, "NOPERM") ? DC_LOG_INFO : DC_LOG_WARN, "redis",
                         "%s: %s; using EVALSHA instead", s->endpoint, why1);
            rd_return(s, ctx, 0);
            return DC_OK;
        }
    }
    if (v == RD_IO || rc == RD_IO) {
        rc = rd_io_error(s, ctx, DC_EUNAVAILABLE, "loading the Lua library", err);
        rd_return(s, ctx, 1);
        return rc;
    }
    rd_return(s, ctx, 0);
    int code = strstr(why1, "NOPERM") || strstr(why2, "NOPERM") ? DC_EAUTH : DC_EUNSUPPORTED;
    return rd_err(err, code, s,
                  "mode=lua needs server-side scripting, which this server or user does not "
                  "allow (%s; %s); use mode=multi",
                  why1, why2);
}

void rd_script_cmd(rd_store *s, rd_cmd *c, const char *fn, int read_only)
{
    if (s->use_fcall) {
        char name[64];
        snprintf(name, sizeof name, "ddlcoord2_%s", fn);
        rd_cmd_str(c, read_only ? "FCALL_RO" : "FCALL");
        rd_cmd_str(c, name);
        rd_cmd_str(c, "1");
        rd_cmd_add(c, s->base, s->base_len);
    } else {
        rd_cmd_str(c, read_only ? "EVALSHA_RO" : "EVALSHA");
        rd_cmd_str(c, s->sha);
        rd_cmd_str(c, "1");
        rd_cmd_add(c, s->base, s->base_len);
        rd_cmd_str(c, fn);
    }
    /* every function checks these first (ddlcoord.lua) */
    rd_cmd_str(c, s->epoch);
    rd_cmd_int(c, atomic_load(&s->last_rev));
}

int rd_script_call(rd_store *s, redisContext *ctx, rd_cmd *c, redisReply **reply, dc_drv_err *err)
{
    for (int attempt = 0;; attempt++) {
        int rc = rd_pipeline(s, ctx, c, 1, reply, err);
        if (rc != DC_OK) return rc;
        redisReply *r = *reply;
        if (attempt > 0 || r->type != REDIS_REPLY_ERROR) return DC_OK;
        char why[256];
        if (!s->use_fcall && !strncmp(r->str, "NOSCRIPT", 8))
            rc = load_script(s, ctx, why, sizeof why);
        else if (s->use_fcall && strstr(r->str, "Function not found"))
            rc = load_library(s, ctx, why, sizeof why);
        else
            return DC_OK;
        /* the server forgot our code (restart without AOF, FLUSH): it ran nothing */
        if (rc == RD_IO) {
            freeReplyObject(r);
            *reply = NULL;
            return rd_io_error(s, ctx, RD_IO, "reloading the Lua library", err);
        }
        if (rc != DC_OK) return DC_OK; /* hand the original error back */
        freeReplyObject(r);
        *reply = NULL;
    }
}
