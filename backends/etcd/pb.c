/*
 * Conversions between etcd's protobuf messages (etcd.proto, decoded by
 * protobuf-c) and the store API's result structs, plus etcd's prefix rule.
 *
 * protobuf-c decodes bytes fields into buffers that belong to the message;
 * results handed to the core must own malloc'd, NUL-terminated copies
 * (driver.h), so every key and value is copied once here. Missing fields
 * are zero, exactly as etcd means them (proto3 has no "absent").
 */
#include "etcd.h"

#include <stdlib.h>
#include <string.h>

#include "kv.h"

int etcd_kv_from_pb(const Etcdpb__KeyValue *p, dc_kv *kv)
{
    memset(kv, 0, sizeof *kv);
    if (dc__kv_set(kv, p->key.data, p->key.len, p->value.data, p->value.len) != 0) {
        dc__kv_clear(kv);
        return -2;
    }
    kv->create_revision = p->create_revision;
    kv->mod_revision = p->mod_revision;
    kv->version = p->version;
    kv->lease = p->lease;
    return 0;
}

int etcd_kvs_from_pb(Etcdpb__KeyValue *const *p, size_t n, dc_kv **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!n) return 0;
    dc_kv *kvs = calloc(n, sizeof *kvs);
    if (!kvs) return -2;
    for (size_t i = 0; i < n; i++) {
        if (etcd_kv_from_pb(p[i], &kvs[i]) != 0) {
            for (size_t k = 0; k < i; k++) dc__kv_clear(&kvs[k]);
            free(kvs);
            return -2;
        }
    }
    *out = kvs;
    *n_out = n;
    return 0;
}

uint8_t *etcd_prefix_end(const char *prefix, size_t len, size_t *end_len)
{
    const uint8_t *p = (const uint8_t *)prefix;
    while (len && p[len - 1] == 0xff) len--;
    uint8_t *e = malloc(len ? len : 1);
    if (!e) return NULL;
    if (!len) {
        e[0] = 0; /* "\0" as range_end: every key from key on */
        *end_len = 1;
        return e;
    }
    memcpy(e, p, len);
    e[len - 1]++;
    *end_len = len;
    return e;
}
