/*
 * JSON encoding rules of etcd's gateway, in one place.
 *
 * Keys, values and range ends are protobuf "bytes": standard base64 with
 * padding (OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock, from the libcrypto
 * that libcurl already pulls in). Every 64-bit integer travels as a JSON
 * string both ways: cJSON prints large doubles in exponent form (which the
 * gateway rejects) and a double cannot hold a lease ID anyway, so numbers
 * are formatted with %lld and parsed with strtoll. Zero-valued fields are
 * omitted by the gateway (proto3 JSON), so every reader defaults a missing
 * field to 0 / false / empty.
 */
#include "etcd.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

int etcd_add_b64(cJSON *o, const char *name, const void *data, size_t len)
{
    if (len > (size_t)(INT32_MAX / 4 * 3 - 3)) return -1;
    size_t out_len = 4 * ((len + 2) / 3) + 1;
    unsigned char *out = malloc(out_len);
    if (!out) return -1;
    EVP_EncodeBlock(out, data, (int)len);
    cJSON *s = cJSON_AddStringToObject(o, name, (const char *)out);
    free(out);
    return s ? 0 : -1;
}

int etcd_add_i64(cJSON *o, const char *name, int64_t v)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)v);
    return cJSON_AddStringToObject(o, name, num) ? 0 : -1;
}

int etcd_add_bool(cJSON *o, const char *name, int v)
{
    return cJSON_AddBoolToObject(o, name, v ? 1 : 0) ? 0 : -1;
}

int etcd_b64_decode(const char *s, char **out, size_t *len)
{
    size_t n = s ? strlen(s) : 0;
    *out = NULL;
    *len = 0;
    if (n % 4 != 0 || n > INT32_MAX) return -1;
    char *buf = malloc(n / 4 * 3 + 1);
    if (!buf) return -2;
    int got = n ? EVP_DecodeBlock((unsigned char *)buf, (const unsigned char *)s, (int)n) : 0;
    if (got < 0) {
        free(buf);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes; etcd always pads. */
    if (n && s[n - 1] == '=') got--;
    if (n > 1 && s[n - 2] == '=') got--;
    buf[got] = '\0';
    *out = buf;
    *len = (size_t)got;
    return 0;
}

int etcd_get_i64(const cJSON *o, const char *name, int64_t *v)
{
    *v = 0;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!f || cJSON_IsNull(f)) return 0;
    if (cJSON_IsString(f)) {
        const char *s = f->valuestring;
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno || end == s || *end) return -1;
        *v = x;
        return 0;
    }
    /* Only small fields (the error "code") come as numbers. */
    if (cJSON_IsNumber(f) && f->valuedouble >= -9007199254740992.0 &&
        f->valuedouble <= 9007199254740992.0 && f->valuedouble == (double)(int64_t)f->valuedouble) {
        *v = (int64_t)f->valuedouble;
        return 0;
    }
    return -1;
}

int etcd_get_bool(const cJSON *o, const char *name)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

int etcd_header_rev(const cJSON *o, int64_t *rev)
{
    return etcd_get_i64(cJSON_GetObjectItemCaseSensitive(o, "header"), "revision", rev);
}

int etcd_parse_kv(const cJSON *j, dc_kv *kv)
{
    memset(kv, 0, sizeof *kv);
    if (!cJSON_IsObject(j)) return -1;
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(j, "key");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "value");
    if (!cJSON_IsString(k) || (v && !cJSON_IsString(v))) return -1;
    int rc = etcd_b64_decode(k->valuestring, &kv->key, &kv->key_len);
    if (rc == 0) rc = etcd_b64_decode(v ? v->valuestring : NULL, &kv->value, &kv->value_len);
    if (rc == 0 &&
        (etcd_get_i64(j, "create_revision", &kv->create_revision) ||
         etcd_get_i64(j, "mod_revision", &kv->mod_revision) ||
         etcd_get_i64(j, "version", &kv->version) || etcd_get_i64(j, "lease", &kv->lease)))
        rc = -1;
    if (rc == 0 && kv->key_len == 0) rc = -1;
    if (rc != 0) dc_kv_clear(kv);
    return rc;
}

char *etcd_prefix_end(const char *prefix, size_t len, size_t *end_len)
{
    while (len > 0 && (unsigned char)prefix[len - 1] == 0xff) len--;
    char *end = malloc(len ? len : 1);
    if (!end) return NULL;
    if (len == 0) {
        end[0] = '\0';
        *end_len = 1;
        return end;
    }
    memcpy(end, prefix, len);
    end[len - 1] = (char)((unsigned char)end[len - 1] + 1);
    *end_len = len;
    return end;
}

int etcd_add_key_range(cJSON *o, const char *key, size_t key_len, int prefix)
{
    if (!prefix) return etcd_add_b64(o, "key", key, key_len);
    if (key_len == 0) /* every key: key "\0", range_end "\0" */
        return etcd_add_b64(o, "key", "", 1) || etcd_add_b64(o, "range_end", "", 1) ? -1 : 0;
    size_t end_len;
    char *end = etcd_prefix_end(key, key_len, &end_len);
    if (!end) return -1;
    int rc = etcd_add_b64(o, "key", key, key_len) || etcd_add_b64(o, "range_end", end, end_len);
    free(end);
    return rc ? -1 : 0;
}
