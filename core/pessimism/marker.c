/*
 * ddlcoord's own values beside DM's: the resolution marker of a (task,
 * source) and the master's conflict report for one.
 *
 * Marker {"id","ddls","position","op_revision","exec","done","intent",
 * "attempt"}: written by the worker before it executes an operation
 * (intent=true: the execution intent, docs/DESIGN.md "Execution intent"),
 * right after it executed or skipped one (intent=false, done=false) and
 * completed by its done txn (done=true). It lets a restarted worker finish a
 * run that crashed between executing and the done txn, tells a re-run that
 * it may have executed already (attempt n+1), lets the master fence an
 * owner that has not started, and answers a re-sent DDL at an already
 * resolved position with "skip" (docs/DESIGN.md "Beyond DM", item 3).
 * "intent" and "attempt" are optional: markers written before they existed
 * decode as intent=false, attempt=0.
 *
 * Conflict {"id","info_revision","message"}: the master's verdict that the
 * info at info_revision reports DDLs different from the lock's. The worker
 * waiting for that info's operation gets DC_ECONFLICT (docs/DESIGN.md, "Beyond DM", item 1).
 */
#include "pess.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void dcp_marker_free(pess_marker *mk)
{
    if (!mk) return;
    free(mk->id);
    dc_strings_free(mk->ddls, mk->n_ddls);
    free(mk->position);
    free(mk);
}

static char *print_free(cJSON *o, int ok)
{
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

int dcp_marker_encode(const pess_marker *mk, char **json)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return dc__error(DC_ENOMEM, "out of memory");
    cJSON *ddls = dcp_json_strv_new((const char *const *)mk->ddls, mk->n_ddls);
    int ok = ddls && cJSON_AddItemToObject(o, "ddls", ddls);
    if (!ok) cJSON_Delete(ddls);
    ok = ok && cJSON_AddStringToObject(o, "id", mk->id) &&
         (mk->position ? cJSON_AddStringToObject(o, "position", mk->position) != NULL
                       : cJSON_AddNullToObject(o, "position") != NULL) &&
         cJSON_AddNumberToObject(o, "op_revision", (double)mk->op_revision) &&
         cJSON_AddBoolToObject(o, "exec", mk->exec) && cJSON_AddBoolToObject(o, "done", mk->done) &&
         cJSON_AddBoolToObject(o, "intent", mk->intent) &&
         cJSON_AddNumberToObject(o, "attempt", (double)mk->attempt);
    *json = print_free(o, ok);
    return *json ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

/* Revisions are exact in a double up to 2^53, far beyond any store's. */
static int get_rev(const cJSON *j, const char *key, const char *field, int64_t *out)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, field);
    if (!cJSON_IsNumber(f) || f->valuedouble < 0 || f->valuedouble > 9007199254740992.0)
        return dc__error(DC_ECORRUPT, "%s: field \"%s\" is not a revision", dc__e(key), field);
    *out = (int64_t)f->valuedouble;
    return DC_OK;
}

int dcp_marker_decode(const char *key, const void *value, size_t len, pess_marker **out)
{
    *out = NULL;
    cJSON *j;
    int rc = dcp_json_parse(key, value, len, &j);
    if (rc) return rc;
    pess_marker *mk = calloc(1, sizeof *mk);
    if (!mk) {
        cJSON_Delete(j);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    rc = dcp_json_str(j, key, "id", 0, &mk->id);
    if (!rc)
        rc = dcp_json_strv(cJSON_GetObjectItemCaseSensitive(j, "ddls"), key, "ddls", &mk->ddls,
                           &mk->n_ddls);
    const cJSON *pos = cJSON_GetObjectItemCaseSensitive(j, "position");
    if (!rc && pos && !cJSON_IsNull(pos)) rc = dcp_json_str(j, key, "position", 1, &mk->position);
    if (!rc) rc = get_rev(j, key, "op_revision", &mk->op_revision);
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(j, "exec");
    const cJSON *dn = cJSON_GetObjectItemCaseSensitive(j, "done");
    if (!rc && (!cJSON_IsBool(ex) || !cJSON_IsBool(dn)))
        rc = dc__error(DC_ECORRUPT, "%s: exec/done are not booleans", dc__e(key));
    if (!rc) {
        mk->exec = cJSON_IsTrue(ex);
        mk->done = cJSON_IsTrue(dn);
    }
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, "intent");
    if (!rc && in && !cJSON_IsBool(in))
        rc = dc__error(DC_ECORRUPT, "%s: intent is not a boolean", dc__e(key));
    if (!rc) mk->intent = cJSON_IsTrue(in);
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "attempt");
    if (!rc && at) {
        /* Range first, then the conversion (a marker is data from the store). */
        if (!cJSON_IsNumber(at) || !(at->valuedouble >= 0 && at->valuedouble <= 1e9) ||
            at->valuedouble != (double)(int64_t)at->valuedouble)
            rc = dc__error(DC_ECORRUPT, "%s: field \"attempt\" is not an attempt number",
                           dc__e(key));
        else
            mk->attempt = (int64_t)at->valuedouble;
    }
    cJSON_Delete(j);
    if (rc) {
        dcp_marker_free(mk);
        return rc;
    }
    *out = mk;
    return DC_OK;
}

void dcp_conflict_free(pess_conflict *c)
{
    if (!c) return;
    free(c->id);
    free(c->message);
    free(c);
}

int dcp_conflict_encode(const pess_conflict *c, char **json)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return dc__error(DC_ENOMEM, "out of memory");
    int ok = cJSON_AddStringToObject(o, "id", c->id) &&
             cJSON_AddNumberToObject(o, "info_revision", (double)c->info_revision) &&
             cJSON_AddStringToObject(o, "message", c->message ? c->message : "");
    *json = print_free(o, ok);
    return *json ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

int dcp_conflict_decode(const char *key, const void *value, size_t len, pess_conflict **out)
{
    *out = NULL;
    cJSON *j;
    int rc = dcp_json_parse(key, value, len, &j);
    if (rc) return rc;
    pess_conflict *c = calloc(1, sizeof *c);
    if (!c) {
        cJSON_Delete(j);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    rc = dcp_json_str(j, key, "id", 0, &c->id);
    if (!rc) rc = get_rev(j, key, "info_revision", &c->info_revision);
    if (!rc) rc = dcp_json_str(j, key, "message", 1, &c->message);
    cJSON_Delete(j);
    if (rc) {
        dcp_conflict_free(c);
        return rc;
    }
    *out = c;
    return DC_OK;
}
