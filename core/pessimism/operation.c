/*
 * Operation: the master's answer to one source for one lock, in DM's JSON
 * {"id","task","source","ddls":[…],"exec":bool,"done":bool}. Same strictness
 * as Info: required fields checked by type, unknown fields ignored, so DM
 * reads ours and we read DM's.
 */
#include "pess.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void dc_operation_free(dc_operation *op)
{
    if (!op) return;
    free(op->id);
    free(op->task);
    free(op->source);
    dc_strings_free(op->ddls, op->n_ddls);
    free(op);
}

int dc_operation_new(const char *id, const char *task, const char *source, const char *const *ddls,
                     size_t n_ddls, int exec, int done, dc_operation **out)
{
    *out = NULL;
    if (!id || !*id || !task || !*task || !source || !*source || (n_ddls && !ddls))
        return dc__error(DC_EINVAL, "operation: id, task and source are required");
    dc_operation *op = calloc(1, sizeof *op);
    if (!op) return dc__error(DC_ENOMEM, "out of memory");
    op->id = strdup(id);
    op->task = strdup(task);
    op->source = strdup(source);
    op->ddls = dcp_strv_dup(ddls, n_ddls);
    op->n_ddls = op->ddls ? n_ddls : 0;
    op->exec = !!exec;
    op->done = !!done;
    if (!op->id || !op->task || !op->source || !op->ddls) {
        dc_operation_free(op);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    *out = op;
    return DC_OK;
}

/* Add field → item to o, without copying the field's name (a literal).
 * 0 when out of memory (item is then freed). */
static int add_field(cJSON *o, const char *field, cJSON *item)
{
    if (item && cJSON_AddItemToObjectCS(o, field, item)) return 1;
    cJSON_Delete(item);
    return 0;
}

int dc_operation_encode(const dc_operation *op, char **json)
{
    *json = NULL;
    if (!op || !op->id || !op->task || !op->source)
        return dc__error(DC_EINVAL, "operation: incomplete");
    /* Borrowed strings and field names, as in dc_info_encode. */
    cJSON *o = cJSON_CreateObject();
    if (!o) return dc__error(DC_ENOMEM, "out of memory");
    int ok = add_field(o, "id", cJSON_CreateStringReference(op->id)) &&
             add_field(o, "task", cJSON_CreateStringReference(op->task)) &&
             add_field(o, "source", cJSON_CreateStringReference(op->source));
    cJSON *ddls = ok ? dcp_json_strv_new((const char *const *)op->ddls, op->n_ddls) : NULL;
    if (ddls && !cJSON_AddItemToObjectCS(o, "ddls", ddls)) {
        cJSON_Delete(ddls);
        ddls = NULL;
    }
    ok = ok && ddls && add_field(o, "exec", cJSON_CreateBool(op->exec)) &&
         add_field(o, "done", cJSON_CreateBool(op->done));
    *json = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *json ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

static int get_bool(const cJSON *j, const char *key, const char *field, int *out)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, field);
    if (!f)
        return dc__error(DC_ECORRUPT, "%s: missing field \"%s\"", dc__e(key ? key : "value"),
                         field);
    if (!cJSON_IsBool(f))
        return dc__error(DC_ECORRUPT, "%s: field \"%s\" is not a boolean",
                         dc__e(key ? key : "value"), field);
    *out = cJSON_IsTrue(f);
    return DC_OK;
}

int dc_operation_decode(const char *key, const void *value, size_t value_len, dc_operation **out)
{
    *out = NULL;
    cJSON *j;
    int rc = dcp_json_parse(key, value, value_len, &j);
    if (rc) return rc;
    dc_operation *op = calloc(1, sizeof *op);
    if (!op) {
        cJSON_Delete(j);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    rc = dcp_json_str(j, key, "id", 0, &op->id);
    if (!rc) rc = dcp_json_str(j, key, "task", 0, &op->task);
    if (!rc) rc = dcp_json_str(j, key, "source", 0, &op->source);
    if (!rc)
        rc = dcp_json_strv(cJSON_GetObjectItemCaseSensitive(j, "ddls"), key, "ddls", &op->ddls,
                           &op->n_ddls);
    if (!rc) rc = get_bool(j, key, "exec", &op->exec);
    if (!rc) rc = get_bool(j, key, "done", &op->done);
    cJSON_Delete(j);
    if (rc) {
        dc_operation_free(op);
        return rc;
    }
    *out = op;
    return DC_OK;
}
