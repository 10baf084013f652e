/*
 * Info: a worker's report of one shard DDL, in DM's JSON
 * {"task","source","schema","table","ddls":[…]}. Decoding is strict about
 * what the protocol needs (every field present, of the right type, names not
 * empty, sizes bounded) and lenient about the rest (unknown fields are
 * ignored, so values written by DM or by a newer ddlcoord still parse).
 */
#include "pess.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void dc_info_free(dc_info *info)
{
    if (!info) return;
    free(info->task);
    free(info->source);
    free(info->schema);
    free(info->table);
    dc_strings_free(info->ddls, info->n_ddls);
    free(info);
}

int dc_info_new(const char *task, const char *source, const char *schema, const char *table,
                const char *const *ddls, size_t n_ddls, dc_info **out)
{
    *out = NULL;
    if (!task || !*task || !source || !*source || !schema || !table || (n_ddls && !ddls))
        return dc__error(DC_EINVAL, "info: task, source, schema and table are required");
    dc_info *info = calloc(1, sizeof *info);
    if (!info) return dc__error(DC_ENOMEM, "out of memory");
    info->task = strdup(task);
    info->source = strdup(source);
    info->schema = strdup(schema);
    info->table = strdup(table);
    info->ddls = dcp_strv_dup(ddls, n_ddls);
    info->n_ddls = info->ddls ? n_ddls : 0;
    if (!info->task || !info->source || !info->schema || !info->table || !info->ddls) {
        dc_info_free(info);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    *out = info;
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

int dc_info_encode(const dc_info *info, char **json)
{
    *json = NULL;
    if (!info || !info->task || !info->source || !info->schema || !info->table)
        return dc__error(DC_EINVAL, "info: incomplete");
    /* The tree borrows info's strings (references) and the field names: it is
     * printed and deleted before they can change, and it saves two copies per
     * string on a path every source runs for every DDL. */
    cJSON *o = cJSON_CreateObject();
    if (!o) return dc__error(DC_ENOMEM, "out of memory");
    int ok = add_field(o, "task", cJSON_CreateStringReference(info->task)) &&
             add_field(o, "source", cJSON_CreateStringReference(info->source)) &&
             add_field(o, "schema", cJSON_CreateStringReference(info->schema)) &&
             add_field(o, "table", cJSON_CreateStringReference(info->table));
    cJSON *ddls = ok ? dcp_json_strv_new((const char *const *)info->ddls, info->n_ddls) : NULL;
    if (ddls && !cJSON_AddItemToObjectCS(o, "ddls", ddls)) {
        cJSON_Delete(ddls); /* not attached: still ours */
        ddls = NULL;
    }
    *json = ok && ddls ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return *json ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

int dc_info_decode(const char *key, const void *value, size_t value_len, dc_info **out)
{
    *out = NULL;
    cJSON *j;
    int rc = dcp_json_parse(key, value, value_len, &j);
    if (rc) return rc;
    dc_info *info = calloc(1, sizeof *info);
    if (!info) {
        cJSON_Delete(j);
        return dc__error(DC_ENOMEM, "out of memory");
    }
    rc = dcp_json_str(j, key, "task", 0, &info->task);
    if (!rc) rc = dcp_json_str(j, key, "source", 0, &info->source);
    /* DM writes schema and table of the downstream table; empty is legal
     * for neither, but be as lenient as DM for the schema of a table-less DDL. */
    if (!rc) rc = dcp_json_str(j, key, "schema", 1, &info->schema);
    if (!rc) rc = dcp_json_str(j, key, "table", 1, &info->table);
    if (!rc)
        rc = dcp_json_strv(cJSON_GetObjectItemCaseSensitive(j, "ddls"), key, "ddls", &info->ddls,
                           &info->n_ddls);
    cJSON_Delete(j);
    if (rc) {
        dc_info_free(info);
        return rc;
    }
    *out = info;
    return DC_OK;
}

/* Bytes of name between backquotes, a backquote inside doubled. */
static size_t quoted_len(const char *name)
{
    size_t n = 2;
    for (const char *c = name; *c; c++) n += 1 + (*c == '`');
    return n;
}

static char *put_quoted(char *p, const char *name)
{
    *p++ = '`';
    for (const char *c = name; *c; c++) {
        *p++ = *c;
        if (*c == '`') *p++ = '`';
    }
    *p++ = '`';
    return p;
}

/* dc_lock_id_build's ID ("<task>-`schema`.`table`", keys.c; a unit test
 * holds the two equal), in one exact allocation and no formatting: the
 * master computes it for every Info it sees, and for all of them on a
 * rebuild. */
int dc_info_lock_id(const dc_info *info, char **out)
{
    *out = NULL;
    if (!info || !info->task || !info->schema || !info->table)
        return dc__error(DC_EINVAL, "lock id: NULL name");
    size_t task_len = strlen(info->task);
    size_t n = task_len + 1 + quoted_len(info->schema) + 1 + quoted_len(info->table);
    char *id = malloc(n + 1);
    if (!id) return dc__error(DC_ENOMEM, "out of memory");
    memcpy(id, info->task, task_len);
    char *p = id + task_len;
    *p++ = '-';
    p = put_quoted(p, info->schema);
    *p++ = '.';
    p = put_quoted(p, info->table);
    *p = '\0';
    *out = id;
    return DC_OK;
}
