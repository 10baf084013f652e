/*
 * The JSON codec of admin requests and answers (admin.h). Decoding is
 * strict: each field has one type, numbers must be integers within their
 * range before they are converted, unknown operations and assumptions are
 * refused; unknown fields are ignored so a newer client's requests parse.
 */
#include "admin.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dcp_admin_req_clear(admin_req *r)
{
    free(r->lock_id);
    free(r->owner);
    free(r->task);
    memset(r, 0, sizeof *r);
}

static const char *assume_name(int a)
{
    return a == DC_ASSUME_EXECUTED       ? "executed"
           : a == DC_ASSUME_NOT_EXECUTED ? "not-executed"
                                         : NULL;
}

int dcp_admin_req_encode(const admin_req *r, char **json)
{
    *json = NULL;
    int unlock = r->op == ADMIN_UNLOCK;
    if ((unlock && !r->lock_id) || (!unlock && (r->op != ADMIN_REMOVE_META || !r->task)))
        return dc__error(DC_EINVAL, "admin request: incomplete");
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "op", unlock ? "unlock" : "remove-meta");
    if (ok && unlock) {
        ok = cJSON_AddStringToObject(o, "lock_id", r->lock_id) &&
             (!r->owner || cJSON_AddStringToObject(o, "owner", r->owner)) &&
             cJSON_AddBoolToObject(o, "force_remove", r->force_remove) &&
             (!assume_name(r->assume) ||
              cJSON_AddStringToObject(o, "assume", assume_name(r->assume))) &&
             cJSON_AddNumberToObject(o, "wait_ms", (double)r->wait_ms);
    } else if (ok) {
        ok = cJSON_AddStringToObject(o, "task", r->task) != NULL;
    }
    *json = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *json ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

/* A string field, copied; NULL (not an error) when absent or null. */
static int opt_string(const cJSON *o, const char *key, const char *name, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return DC_OK;
    if (!cJSON_IsString(v) || !v->valuestring)
        return dc__error(DC_ECORRUPT, "%s: field \"%s\" is not a string", dc__e(key), name);
    *out = strdup(v->valuestring);
    return *out ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

/* An integer field within [min, max], checked before the conversion. */
static int int_field(const cJSON *v, const char *key, const char *name, double min, double max,
                     int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return dc__error(DC_ECORRUPT, "%s: field \"%s\" is not a number", dc__e(key), name);
    double d = v->valuedouble;
    /* The range first: only then is the conversion defined. */
    int ok = isfinite(d) && d >= min && d <= max;
    if (ok) {
        *out = (int64_t)d;
        ok = (double)*out == d; /* an integer */
    }
    if (ok) return DC_OK;
    return dc__error(DC_EINVAL, "%s: field \"%s\" must be an integer in %.0f..%.0f", dc__e(key),
                     name, min, max);
}

int dcp_admin_req_decode(const char *key, const void *value, size_t len, admin_req *out)
{
    memset(out, 0, sizeof *out);
    if (!key) key = "admin request";
    cJSON *o = cJSON_ParseWithLength(value ? value : "", len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return dc__error(DC_ECORRUPT, "%s: not a JSON object", dc__e(key));
    }
    char *op = NULL;
    int rc = opt_string(o, key, "op", &op);
    if (!rc && !op) rc = dc__error(DC_ECORRUPT, "%s: no \"op\"", dc__e(key));
    if (!rc) {
        if (strcmp(op, "unlock") == 0)
            out->op = ADMIN_UNLOCK;
        else if (strcmp(op, "remove-meta") == 0)
            out->op = ADMIN_REMOVE_META;
        else
            rc = dc__error(DC_ECORRUPT, "%s: unknown op \"%s\"", dc__e(key), dc__e(op));
    }
    free(op);
    if (!rc && out->op == ADMIN_UNLOCK) {
        rc = opt_string(o, key, "lock_id", &out->lock_id);
        if (!rc) rc = opt_string(o, key, "owner", &out->owner);
        if (!rc && (!out->lock_id || !*out->lock_id))
            rc = dc__error(DC_EINVAL, "%s: unlock without a lock_id", dc__e(key));
        if (!rc && out->owner && !*out->owner)
            rc = dc__error(DC_EINVAL, "%s: empty owner", dc__e(key));
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "force_remove");
        if (!rc && f && !cJSON_IsBool(f))
            rc = dc__error(DC_ECORRUPT, "%s: field \"force_remove\" is not a boolean", dc__e(key));
        if (!rc) out->force_remove = cJSON_IsTrue(f);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "wait_ms");
        if (!rc && w) rc = int_field(w, key, "wait_ms", 0, DC_UNLOCK_MAX_WAIT_MS, &out->wait_ms);
        char *assume = NULL;
        if (!rc) rc = opt_string(o, key, "assume", &assume);
        if (!rc && assume) {
            if (strcmp(assume, "executed") == 0)
                out->assume = DC_ASSUME_EXECUTED;
            else if (strcmp(assume, "not-executed") == 0)
                out->assume = DC_ASSUME_NOT_EXECUTED;
            else
                rc = dc__error(DC_EINVAL, "%s: unknown assumption \"%s\"", dc__e(key),
                               dc__e(assume));
        }
        free(assume);
    } else if (!rc) {
        rc = opt_string(o, key, "task", &out->task);
        if (!rc && (!out->task || !*out->task))
            rc = dc__error(DC_EINVAL, "%s: remove-meta without a task", dc__e(key));
    }
    cJSON_Delete(o);
    if (rc) dcp_admin_req_clear(out);
    return rc;
}

int dcp_admin_answer_encode(int code, const char *message, const char *master, char **json)
{
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddBoolToObject(o, "ok", code == DC_OK) &&
             cJSON_AddNumberToObject(o, "code", code) &&
             cJSON_AddStringToObject(o, "message", message ? message : "") &&
             cJSON_AddStringToObject(o, "master", master ? master : "");
    *json = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *json ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

void dc_admin_answer_clear(dc_admin_answer *a)
{
    if (!a) return;
    free(a->message);
    free(a->master);
    memset(a, 0, sizeof *a);
}

int dcp_admin_answer_decode(const void *value, size_t len, dc_admin_answer *a)
{
    memset(a, 0, sizeof *a);
    cJSON *o = cJSON_ParseWithLength(value ? value : "", len);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return dc__error(DC_ECORRUPT, "admin answer: not a JSON object");
    }
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(o, "ok");
    int64_t code = 0;
    int rc = cJSON_IsBool(ok) ? DC_OK : dc__error(DC_ECORRUPT, "admin answer: no \"ok\"");
    /* Error codes are small negative numbers; anything else is not an answer. */
    if (!rc)
        rc = int_field(cJSON_GetObjectItemCaseSensitive(o, "code"), "admin answer", "code", -1000,
                       0, &code);
    if (rc == DC_EINVAL) rc = DC_ECORRUPT;
    if (!rc && cJSON_IsTrue(ok) != (code == DC_OK))
        rc = dc__error(DC_ECORRUPT, "admin answer: \"ok\" and \"code\" disagree");
    if (!rc) rc = opt_string(o, "admin answer", "message", &a->message);
    if (!rc) rc = opt_string(o, "admin answer", "master", &a->master);
    if (!rc && !a->message && !(a->message = strdup(""))) rc = DC_ENOMEM;
    if (!rc && !a->master && !(a->master = strdup(""))) rc = DC_ENOMEM;
    cJSON_Delete(o);
    if (rc == DC_ENOMEM) rc = dc__error(rc, "out of memory");
    if (rc) {
        dc_admin_answer_clear(a);
        return rc;
    }
    a->code = (int)code;
    return DC_OK;
}
