/*
 * Turning replies into results. Everything read from the server is checked
 * for its shape before it is used (a wrong type, a missing field or a number
 * that does not parse is corrupt data, reported as such, never a crash), and
 * copied into malloc'd dc_kv / dc_event structs as the driver contract asks.
 */
#include "redis.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

static int parse_i64(const char *p, size_t len, int64_t *out)
{
    if (len == 0 || len > 20) return -1;
    char b[24];
    memcpy(b, p, len);
    b[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(b, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int rd_int(const redisReply *r, int64_t *out)
{
    if (!r) return -1;
    if (r->type == REDIS_REPLY_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        return parse_i64(r->str, r->len, out);
    if (r->type == REDIS_REPLY_NIL) return 1;
    return -1;
}

static int is_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

int rd_kv_from_flat(dc_kv *kv, redisReply **f)
{
    memset(kv, 0, sizeof *kv);
    if (!is_str(f[0]) || !(is_str(f[1]) || f[1]->type == REDIS_REPLY_NIL)) return -1;
    if (rd_int(f[2], &kv->create_revision) || rd_int(f[3], &kv->mod_revision) ||
        rd_int(f[4], &kv->version) || rd_int(f[5], &kv->lease))
        return -1;
    /* dc__kv_set leaves the metadata alone */
    if (dc__kv_set(kv, f[0]->str, f[0]->len, is_str(f[1]) ? f[1]->str : NULL,
                   is_str(f[1]) ? f[1]->len : 0) != 0)
        return -2;
    return 0;
}

int rd_kvs_from_flat(const redisReply *arr, dc_kv **kvs, size_t *n)
{
    *kvs = NULL;
    *n = 0;
    if (!arr || arr->type != REDIS_REPLY_ARRAY || arr->elements % 6) return -1;
    size_t cnt = arr->elements / 6;
    if (!cnt) return 0;
    dc_kv *a = calloc(cnt, sizeof *a);
    if (!a) return -2;
    for (size_t i = 0; i < cnt; i++) {
        int rc = rd_kv_from_flat(&a[i], arr->element + i * 6);
        if (rc) {
            for (size_t j = 0; j < i; j++) dc__kv_clear(&a[j]);
            free(a);
            return rc;
        }
    }
    *kvs = a;
    *n = cnt;
    return 0;
}

int rd_hash_to_kv(const redisReply *r, dc_kv *kv)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 5) return -1;
    redisReply **e = r->element;
    if (e[1]->type == REDIS_REPLY_NIL) return 0;
    if (!is_str(e[0]) || rd_int(e[1], &kv->create_revision) || rd_int(e[2], &kv->mod_revision) ||
        rd_int(e[3], &kv->version))
        return -1;
    kv->lease = 0;
    if (e[4]->type != REDIS_REPLY_NIL && rd_int(e[4], &kv->lease)) return -1;
    kv->value = e[0]->str; /* borrowed; callers copy */
    kv->value_len = e[0]->len;
    return 1;
}

int rd_parse_id(const redisReply *r, int64_t *rev, int64_t *seq)
{
    if (!is_str(r)) return -1;
    const char *dash = memchr(r->str, '-', r->len);
    if (!dash) return -1;
    if (parse_i64(r->str, (size_t)(dash - r->str), rev)) return -1;
    return parse_i64(dash + 1, r->len - (size_t)(dash - r->str) - 1, seq);
}

const redisReply *rd_entry_field(const redisReply *fields, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *f = fields->element[i];
        if (is_str(f) && f->len == nl && memcmp(f->str, name, nl) == 0)
            return fields->element[i + 1];
    }
    return NULL;
}

static int field_int(const redisReply *fields, const char *name, int64_t *out)
{
    const redisReply *f = rd_entry_field(fields, name);
    if (!f) {
        *out = 0;
        return 0;
    }
    return rd_int(f, out) ? -1 : 0;
}

int rd_entry_to_event(const redisReply *entry, dc_event *ev, int64_t *rev, int64_t *seq, int64_t *n)
{
    memset(ev, 0, sizeof *ev);
    if (!entry || entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) return -1;
    const redisReply *fields = entry->element[1];
    if (rd_parse_id(entry->element[0], rev, seq) || !fields || fields->type != REDIS_REPLY_ARRAY ||
        fields->elements % 2)
        return -1;
    for (size_t i = 0; i < fields->elements; i++)
        if (!is_str(fields->element[i])) return -1;
    const redisReply *t = rd_entry_field(fields, "t"), *k = rd_entry_field(fields, "k");
    if (!t || !k || t->len != 1 || (t->str[0] != 'P' && t->str[0] != 'D')) return -1;
    if (field_int(fields, "n", n) || *n < 1) return -1;
    dc_kv kv = {0};
    const redisReply *v = rd_entry_field(fields, "v");
    ev->type = t->str[0] == 'P' ? DC_EVENT_PUT : DC_EVENT_DELETE;
    if (ev->type == DC_EVENT_PUT) {
        if (field_int(fields, "c", &kv.create_revision) || field_int(fields, "ver", &kv.version) ||
            field_int(fields, "lea", &kv.lease))
            return -1;
    }
    if (dc__kv_set(&ev->kv, k->str, k->len, ev->type == DC_EVENT_PUT && v ? v->str : NULL,
                   ev->type == DC_EVENT_PUT && v ? v->len : 0) != 0)
        return -2;
    ev->kv.create_revision = kv.create_revision;
    ev->kv.version = kv.version;
    ev->kv.lease = kv.lease;
    ev->kv.mod_revision = *rev;
    const redisReply *pc = rd_entry_field(fields, "pc");
    if (pc) {
        dc_kv p = {0};
        const redisReply *pv = rd_entry_field(fields, "pv");
        if (rd_int(pc, &p.create_revision) || field_int(fields, "pm", &p.mod_revision) ||
            field_int(fields, "pver", &p.version) || field_int(fields, "plea", &p.lease)) {
            dc__event_clear(ev);
            return -1;
        }
        ev->prev_kv = calloc(1, sizeof *ev->prev_kv);
        if (!ev->prev_kv ||
            dc__kv_set(ev->prev_kv, k->str, k->len, pv ? pv->str : NULL, pv ? pv->len : 0) != 0) {
            dc__event_clear(ev);
            return -2;
        }
        ev->prev_kv->create_revision = p.create_revision;
        ev->prev_kv->mod_revision = p.mod_revision;
        ev->prev_kv->version = p.version;
        ev->prev_kv->lease = p.lease;
    }
    return 0;
}

int rd_same_strings(const redisReply *a, const redisReply *b)
{
    if (a->type != REDIS_REPLY_ARRAY || b->type != REDIS_REPLY_ARRAY || a->elements != b->elements)
        return 0;
    for (size_t i = 0; i < a->elements; i++)
        if (a->element[i]->len != b->element[i]->len ||
            memcmp(a->element[i]->str, b->element[i]->str, a->element[i]->len))
            return 0;
    return 1;
}
