/*
 * Small shared helpers for the protocol's values: string lists (copy, join,
 * compare as multisets) and strict cJSON readers.
 *
 * Values come from a store that anyone may write to, so every reader checks
 * sizes first, then types, and turns anything unexpected into DC_ECORRUPT (or
 * DC_ETOOBIG) with a message naming the key and the field; nothing here ever
 * trusts a value enough to crash on it.
 *
 * The codecs run for every event the master and the workers see, so the
 * readers move strings out of the parsed tree instead of copying them (every
 * caller parses, reads each field once, then deletes the tree: a moved-out
 * field reads as NULL afterwards), and dcp_json_strv_new builds its array of
 * references to the caller's strings (every caller prints the tree before it
 * frees them). Both lean on cJSON's default hooks, malloc and free, which
 * this library never changes.
 */
#include "pess.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

char **dcp_strv_dup(const char *const *v, size_t n)
{
    char **out = calloc(n ? n : 1, sizeof *out);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = strdup(v[i] ? v[i] : "");
        if (!out[i]) {
            dc_strings_free(out, i);
            return NULL;
        }
    }
    return out;
}

void dc_strings_free(char **strings, size_t n)
{
    if (!strings) return;
    for (size_t i = 0; i < n; i++) free(strings[i]);
    free(strings);
}

char *dcp_strv_join(const char *const *v, size_t n)
{
    dc_buf b = DC_BUF_INIT;
    int bad = dc__buf_puts(&b, "[");
    for (size_t i = 0; i < n && !bad; i++) bad = dc__buf_printf(&b, "%s%s", i ? "; " : "", v[i]);
    if (!bad) bad = dc__buf_puts(&b, "]");
    if (bad) {
        dc__buf_free(&b);
        return NULL;
    }
    return dc__buf_steal(&b);
}

int dcp_strcmp_p(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Multiset equality: sort pointer copies of both lists and compare pairwise.
 * DM compares "every element of a is in b", which calls [A,B] and [A,A] equal. */
int dc_ddls_equal(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb) return 0;
    if (na == 0) return 1;
    const char **sa = malloc(na * sizeof *sa), **sb = malloc(nb * sizeof *sb);
    int eq = 0;
    if (sa && sb) {
        memcpy(sa, a, na * sizeof *sa);
        memcpy(sb, b, nb * sizeof *sb);
        qsort(sa, na, sizeof *sa, dcp_strcmp_p);
        qsort(sb, nb, sizeof *sb, dcp_strcmp_p);
        eq = 1;
        for (size_t i = 0; i < na && eq; i++) eq = strcmp(sa[i], sb[i]) == 0;
    } else {
        /* No memory to sort: count each element's occurrences instead (O(n²)). */
        eq = 1;
        for (size_t i = 0; i < na && eq; i++) {
            size_t ca = 0, cb = 0;
            for (size_t j = 0; j < na; j++) ca += strcmp(a[i], a[j]) == 0;
            for (size_t j = 0; j < nb; j++) cb += strcmp(a[i], b[j]) == 0;
            eq = ca == cb;
        }
    }
    free(sa);
    free(sb);
    return eq;
}

int dcp_json_parse(const char *key, const void *value, size_t len, cJSON **out)
{
    *out = NULL;
    if (len > DC_PESS_MAX_VALUE)
        return dc__error(DC_ETOOBIG, "%s: value of %zu bytes, limit %d", dc__e(key ? key : "value"),
                         len, DC_PESS_MAX_VALUE);
    cJSON *j = cJSON_ParseWithLength(value ? value : "", len);
    if (!j) return dc__error(DC_ECORRUPT, "%s: invalid JSON", dc__e(key ? key : "value"));
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return dc__error(DC_ECORRUPT, "%s: not a JSON object", dc__e(key ? key : "value"));
    }
    *out = j;
    return DC_OK;
}

/* The string of a parsed string item, now the caller's (see the top of the
 * file). A reference item's string is not cJSON's to give: copy it. */
static char *take_string(cJSON *item)
{
    if (item->type & cJSON_IsReference) return strdup(item->valuestring);
    char *s = item->valuestring;
    item->valuestring = NULL;
    return s;
}

int dcp_json_str(const cJSON *obj, const char *key, const char *field, int allow_empty, char **out)
{
    *out = NULL;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!f)
        return dc__error(DC_ECORRUPT, "%s: missing field \"%s\"", dc__e(key ? key : "value"),
                         field);
    if (!cJSON_IsString(f) || !f->valuestring)
        return dc__error(DC_ECORRUPT, "%s: field \"%s\" is not a string",
                         dc__e(key ? key : "value"), field);
    if (!allow_empty && !*f->valuestring)
        return dc__error(DC_ECORRUPT, "%s: field \"%s\" is empty", dc__e(key ? key : "value"),
                         field);
    *out = take_string((cJSON *)f);
    return *out ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
}

int dcp_json_strv(const cJSON *arr, const char *key, const char *field, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!arr)
        return dc__error(DC_ECORRUPT, "%s: missing field \"%s\"", dc__e(key ? key : "value"),
                         field);
    if (cJSON_IsNull(arr)) {
        /* Go encodes an empty (nil) slice as null: DM writes "ddls":null. */
        *out = calloc(1, sizeof **out);
        return *out ? DC_OK : dc__error(DC_ENOMEM, "out of memory");
    }
    if (!cJSON_IsArray(arr))
        return dc__error(DC_ECORRUPT, "%s: field \"%s\" is not an array",
                         dc__e(key ? key : "value"), field);
    int count = cJSON_GetArraySize(arr);
    if (count > DC_PESS_MAX_DDLS)
        return dc__error(DC_ETOOBIG, "%s: field \"%s\" has %d entries, limit %d",
                         dc__e(key ? key : "value"), field, count, DC_PESS_MAX_DDLS);
    char **v = calloc(count ? (size_t)count : 1, sizeof *v);
    if (!v) return dc__error(DC_ENOMEM, "out of memory");
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        if (!cJSON_IsString(e) || !e->valuestring) {
            dc_strings_free(v, i);
            return dc__error(DC_ECORRUPT, "%s: field \"%s\" has a non-string entry",
                             dc__e(key ? key : "value"), field);
        }
        v[i] = take_string((cJSON *)e);
        if (!v[i]) {
            dc_strings_free(v, i);
            return dc__error(DC_ENOMEM, "out of memory");
        }
        i++;
    }
    *out = v;
    *n = i;
    return DC_OK;
}

cJSON *dcp_json_strv_new(const char *const *v, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *s = cJSON_CreateStringReference(v[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}
