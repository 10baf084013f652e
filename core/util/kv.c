/* Allocation and comparison helpers for key-values and the result structs. */
#include "kv.h"

#include <stdlib.h>
#include <string.h>

static char *dupmem(const void *p, size_t n)
{
    char *o = malloc(n + 1);
    if (!o) return NULL;
    if (n) memcpy(o, p, n);
    o[n] = '\0';
    return o;
}

int dc__kv_set(dc_kv *kv, const void *key, size_t key_len, const void *value, size_t value_len)
{
    kv->key = dupmem(key, key_len);
    kv->value = dupmem(value ? value : "", value ? value_len : 0);
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        kv->key = kv->value = NULL;
        kv->key_len = kv->value_len = 0;
        return -1;
    }
    kv->key_len = key_len;
    kv->value_len = value ? value_len : 0;
    return 0;
}

int dc__kv_copy(dc_kv *dst, const dc_kv *src)
{
    *dst = *src;
    if (dc__kv_set(dst, src->key, src->key_len, src->value, src->value_len) != 0) {
        memset(dst, 0, sizeof *dst);
        return -1;
    }
    return 0;
}

dc_kv *dc__kv_dup(const dc_kv *src)
{
    dc_kv *kv = malloc(sizeof *kv);
    if (!kv) return NULL;
    if (dc__kv_copy(kv, src) != 0) {
        free(kv);
        return NULL;
    }
    return kv;
}

void dc__kv_clear(dc_kv *kv)
{
    if (!kv) return;
    free(kv->key);
    free(kv->value);
    memset(kv, 0, sizeof *kv);
}

static void kv_array_free(dc_kv *kvs, size_t n)
{
    for (size_t i = 0; i < n; i++) dc__kv_clear(&kvs[i]);
    free(kvs);
}

void dc__kvs_clear(dc_kvs *kvs)
{
    if (!kvs) return;
    kv_array_free(kvs->kvs, kvs->n);
    memset(kvs, 0, sizeof *kvs);
}

void dc__event_clear(dc_event *ev)
{
    if (!ev) return;
    dc__kv_clear(&ev->kv);
    if (ev->prev_kv) {
        dc__kv_clear(ev->prev_kv);
        free(ev->prev_kv);
    }
    memset(ev, 0, sizeof *ev);
}

void dc__event_array_free(dc_event *evs, size_t n)
{
    if (!evs) return;
    for (size_t i = 0; i < n; i++) dc__event_clear(&evs[i]);
    free(evs);
}

void dc__response_clear(dc_response *r)
{
    if (!r) return;
    kv_array_free(r->kvs, r->n_kvs);
    kv_array_free(r->prev_kvs, r->n_prev_kvs);
    memset(r, 0, sizeof *r);
}

void dc__txn_result_clear(dc_txn_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_responses; i++) dc__response_clear(&r->responses[i]);
    free(r->responses);
    memset(r, 0, sizeof *r);
}

int dc__key_cmp(const void *a, size_t alen, const void *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

int dc__key_has_prefix(const void *key, size_t key_len, const void *prefix, size_t prefix_len)
{
    return key_len >= prefix_len && (prefix_len == 0 || memcmp(key, prefix, prefix_len) == 0);
}

int dc__compare_holds(const dc_compare *c, const dc_kv *kv)
{
    int64_t x;
    if (c->target == DC_TARGET_VALUE) {
        if (!kv) return 0;
        int r = dc__key_cmp(kv->value, kv->value_len, c->value, c->value_len);
        x = r < 0 ? -1 : r > 0;
        switch (c->op) {
        case DC_CMP_EQUAL:
            return x == 0;
        case DC_CMP_NOT_EQUAL:
            return x != 0;
        case DC_CMP_LESS:
            return x < 0;
        case DC_CMP_GREATER:
            return x > 0;
        }
        return 0;
    }
    x = 0;
    if (kv) {
        switch (c->target) {
        case DC_TARGET_VERSION:
            x = kv->version;
            break;
        case DC_TARGET_CREATE:
            x = kv->create_revision;
            break;
        case DC_TARGET_MOD:
            x = kv->mod_revision;
            break;
        case DC_TARGET_LEASE:
            x = kv->lease;
            break;
        default:
            return 0;
        }
    }
    switch (c->op) {
    case DC_CMP_EQUAL:
        return x == c->number;
    case DC_CMP_NOT_EQUAL:
        return x != c->number;
    case DC_CMP_LESS:
        return x < c->number;
    case DC_CMP_GREATER:
        return x > c->number;
    }
    return 0;
}

int dc__event_type_wanted(unsigned flags, dc_event_type type)
{
    if (flags & DC_NO_PUT && type == DC_EVENT_PUT) return 0;
    if (flags & DC_NO_DELETE && type == DC_EVENT_DELETE) return 0;
    return 1;
}

int dc__event_wanted(unsigned flags, const void *wkey, size_t wkey_len, dc_event_type type,
                     const void *key, size_t key_len)
{
    if (!dc__event_type_wanted(flags, type)) return 0;
    if (flags & DC_PREFIX) return dc__key_has_prefix(key, key_len, wkey, wkey_len);
    return dc__key_cmp(key, key_len, wkey, wkey_len) == 0;
}
