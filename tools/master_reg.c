/*
 * The masters' registry: every running `ddlcoord master` keeps one key
 * NS/ddlcoord/master/<hex name> alive with a lease of its own (the election
 * TTL), holding what `ddlcoord status` shows and the election key cannot:
 * host, PID, start time, the HTTP address (--listen), and since when it
 * leads. The key is created only if absent, so a second master with a name
 * in use is refused at start; a master that dies frees its name when its
 * lease expires (a clean stop revokes it at once), or at once for a master
 * restarted on the same host: a key naming this host and a PID that no
 * longer exists is taken over (a crashed master restarted by its supervisor
 * is not refused for a TTL).
 *
 * The master's loop calls dcx_reg_tick between its passes (at most every
 * 500 ms while standing by, 200 ms while leading), which renews the lease
 * every third of the TTL. A lease lost meanwhile (the process was paused
 * past its TTL) is granted again and the key re-created, unless another
 * master took the name meanwhile: that is logged, and this master goes on
 * (its election and fencing are unaffected).
 */
#include "master_reg.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hex.h"

#define REG "master"

struct dcx_reg {
    dcx_ctx *ctx;
    char *name;
    char *key;
    char *address;
    int64_t ttl;
    int64_t lease;
    int64_t next_keepalive_ms;
    char started[40];
    char leading_since[40];
    int64_t term;
};

void dcx_iso_now(char *buf, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char s[32];
    strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", s, (int)(ts.tv_nsec / 1000000));
}

char *dcx_reg_key(const char *ns, const char *name)
{
    size_t n = strlen(name);
    char *hex = malloc(2 * n + 8);
    if (!hex) return NULL;
    memcpy(hex, "master/", 7);
    dc__hex_encode(name, n, hex + 7);
    hex[7 + 2 * n] = 0;
    char *key = dcx_own_key(ns, hex);
    free(hex);
    return key;
}

static char *value_json(const dcx_reg *r)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "name", r->name) &&
             cJSON_AddStringToObject(o, "host", host) &&
             cJSON_AddNumberToObject(o, "pid", (double)getpid()) &&
             cJSON_AddStringToObject(o, "address", r->address ? r->address : "") &&
             cJSON_AddStringToObject(o, "started", r->started) &&
             cJSON_AddStringToObject(o, "leading_since", r->leading_since) &&
             cJSON_AddNumberToObject(o, "term", (double)r->term);
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

/* Create the key with a new lease if it is absent. DC_OK, DC_EBUSY (the
 * name is in use: *holder gets the value found, malloc'd), or an error. */
static int create(dcx_reg *r, char **holder)
{
    int rc = dc_lease_grant(r->ctx->store, r->ttl, &r->lease, NULL);
    if (rc != DC_OK) return rc;
    char *v = value_json(r);
    dc_txn *t = v ? dc_txn_new() : NULL;
    dc_txn_result *res = NULL;
    size_t kl = strlen(r->key);
    rc = t ? DC_OK : DC_ENOMEM;
    if (!rc) rc = dc_txn_compare_int(t, r->key, kl, DC_TARGET_CREATE, DC_CMP_EQUAL, 0);
    if (!rc) rc = dc_txn_put(t, DC_THEN, r->key, kl, v, strlen(v), r->lease, 0);
    if (!rc) rc = dc_txn_get(t, DC_ELSE, r->key, kl, 0, 0);
    if (!rc) rc = dc_txn_commit(r->ctx->store, t, &res);
    if (!rc && !res->succeeded) {
        rc = DC_EBUSY;
        const dc_response *g = res->n_responses ? &res->responses[0] : NULL;
        if (holder && g && g->n_kvs) *holder = strndup(g->kvs[0].value, g->kvs[0].value_len);
    }
    if (rc != DC_OK) {
        dc_lease_revoke(r->ctx->store, r->lease);
        r->lease = 0;
    }
    dc_txn_result_free(res);
    dc_txn_free(t);
    free(v);
    return rc;
}

/* 1 if the registry value json names this host and a process that is gone. */
static int holder_is_dead_here(const char *json)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "host");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pid");
    int dead = cJSON_IsString(h) && strcmp(h->valuestring, host) == 0 && cJSON_IsNumber(p) &&
               p->valueint > 0 && p->valueint != (int)getpid() && kill(p->valueint, 0) != 0 &&
               errno == ESRCH;
    cJSON_Delete(o);
    return dead;
}

/* Delete the key if it still holds exactly json (the dead holder's). */
static int take_over(dcx_reg *r, const char *json)
{
    dc_txn *t = dc_txn_new();
    dc_txn_result *res = NULL;
    size_t kl = strlen(r->key);
    int rc = t ? DC_OK : DC_ENOMEM;
    if (!rc) rc = dc_txn_compare_value(t, r->key, kl, DC_CMP_EQUAL, json, strlen(json));
    if (!rc) rc = dc_txn_delete(t, DC_THEN, r->key, kl, 0);
    if (!rc) rc = dc_txn_commit(r->ctx->store, t, &res);
    if (!rc && !res->succeeded) rc = DC_EBUSY;
    dc_txn_result_free(res);
    dc_txn_free(t);
    return rc;
}

/* "host H pid P, started S" of a registry value, for messages. */
static void describe(const char *json, char *buf, size_t len)
{
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "host");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pid");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "started");
    if (cJSON_IsString(h) && cJSON_IsNumber(p) && cJSON_IsString(s))
        snprintf(buf, len, "host %s, pid %d, started %s", dc__e(h->valuestring), p->valueint,
                 dc__e(s->valuestring));
    else
        snprintf(buf, len, "no details");
    cJSON_Delete(o);
}

int dcx_reg_new(dcx_ctx *ctx, const char *name, int64_t ttl, const char *address, dcx_reg **out)
{
    *out = NULL;
    dcx_reg *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(name)) || !(r->key = dcx_reg_key(ctx->ns, name)) ||
        (address && !(r->address = strdup(address)))) {
        dcx_reg_free(r);
        dcx_err(ctx, "out of memory");
        return DCX_EXIT_FAIL;
    }
    r->ctx = ctx;
    r->ttl = ttl;
    dcx_iso_now(r->started, sizeof r->started);
    char *holder = NULL;
    int rc = create(r, &holder);
    if (rc == DC_EBUSY && holder_is_dead_here(holder) && take_over(r, holder) == DC_OK) {
        char who[400];
        describe(holder, who, sizeof who);
        dc_log(DC_LOG_INFO, REG, "%s: took over the name from a master that is gone (%s)",
               dc__e(name), who);
        free(holder);
        holder = NULL;
        rc = create(r, &holder);
    }
    if (rc == DC_EBUSY) {
        char who[400];
        describe(holder, who, sizeof who);
        free(holder);
        dcx_err(ctx,
                "a master named '%s' is already running (%s): give this one another --name, "
                "or stop that one first",
                dc__e(name), who);
        r->ctx = NULL; /* nothing to revoke */
        dcx_reg_free(r);
        return DCX_EXIT_USAGE;
    }
    if (rc != DC_OK) {
        r->ctx = NULL;
        dcx_reg_free(r);
        return dcx_fail(ctx, rc, "register the master's name");
    }
    r->next_keepalive_ms = dcx_now_ms() + ttl * 1000 / 3;
    *out = r;
    return DCX_EXIT_OK;
}

static void rewrite(dcx_reg *r)
{
    char *v = value_json(r);
    if (!v) return;
    /* Only while the key is still ours (our lease): never overwrite another
     * master that took the name after our lease ran out. */
    dc_txn *t = dc_txn_new();
    dc_txn_result *res = NULL;
    size_t kl = strlen(r->key);
    int rc = t ? DC_OK : DC_ENOMEM;
    if (!rc) rc = dc_txn_compare_int(t, r->key, kl, DC_TARGET_LEASE, DC_CMP_EQUAL, r->lease);
    if (!rc) rc = dc_txn_put(t, DC_THEN, r->key, kl, v, strlen(v), r->lease, 0);
    if (!rc) rc = dc_txn_commit(r->ctx->store, t, &res);
    if (rc != DC_OK)
        dc_log(DC_LOG_WARN, REG, "cannot update %s: %s (%s)", dc__e(r->key), dc_strerror(rc),
               dc_last_error());
    dc_txn_result_free(res);
    dc_txn_free(t);
    free(v);
}

void dcx_reg_tick(dcx_reg *r)
{
    if (!r || dcx_now_ms() < r->next_keepalive_ms) return;
    r->next_keepalive_ms = dcx_now_ms() + r->ttl * 1000 / 3;
    int rc = r->lease ? dc_lease_keepalive(r->ctx->store, r->lease, NULL) : DC_ENOTFOUND;
    if (rc == DC_OK) return;
    if (rc != DC_ENOTFOUND) {
        dc_log(DC_LOG_WARN, REG, "keepalive of %s: %s (%s); retrying", dc__e(r->key),
               dc_strerror(rc), dc_last_error());
        return;
    }
    /* The lease is gone (paused past the TTL): register again. */
    char *holder = NULL;
    rc = create(r, &holder);
    if (rc == DC_EBUSY) {
        char who[400];
        describe(holder, who, sizeof who);
        dc_log(DC_LOG_ERROR, REG,
               "the name %s was taken by another master (%s) while this one "
               "was away: stop one of them",
               dc__e(r->name), who);
    } else if (rc != DC_OK) {
        dc_log(DC_LOG_WARN, REG, "registering %s again: %s (%s)", dc__e(r->key), dc_strerror(rc),
               dc_last_error());
    }
    free(holder);
}

void dcx_reg_leading(dcx_reg *r, int64_t term)
{
    if (!r) return;
    r->term = term;
    if (term)
        dcx_iso_now(r->leading_since, sizeof r->leading_since);
    else
        r->leading_since[0] = 0;
    if (r->lease) rewrite(r);
}

void dcx_reg_free(dcx_reg *r)
{
    if (!r) return;
    if (r->ctx && r->lease) {
        int rc = dc_lease_revoke(r->ctx->store, r->lease);
        if (rc != DC_OK && rc != DC_ENOTFOUND)
            dc_log(DC_LOG_WARN, REG, "revoking the lease of %s: %s", dc__e(r->key),
                   dc_strerror(rc));
    }
    free(r->name);
    free(r->key);
    free(r->address);
    free(r);
}
