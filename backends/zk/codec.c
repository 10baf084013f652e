/*
 * Byte formats of the ZooKeeper driver: key names, kv znode data and event
 * records.
 *
 * Keys become child names "k" + a byte-wise percent escape that keeps only
 * [A-Za-z0-9_-] literal, so any byte string (".", "..", control bytes,
 * invalid UTF-8) is a valid znode name, and prefixes are preserved: a prefix
 * read is a strncmp over child names.
 *
 * kv data and event records are small length-prefixed binary records (big
 * endian), not JSON: values are opaque bytes, and JSON would need base64,
 * which inflates them by a third in a request that is capped at 1 MiB and
 * already carries each value twice. Every decoder checks every length against
 * the buffer, so data damaged on the server gives DC_ECORRUPT, never a crash.
 */
#include <stdlib.h>
#include <string.h>

#include "kv.h"
#include "zk.h"
#include "zk_codec.h"

static int lit(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

int zk_key_escape(dc_buf *out, const char *key, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (dc__buf_reserve(out, 1 + len * 3) != 0) return -1;
    out->p[out->len++] = 'k';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (lit(ch)) {
            out->p[out->len++] = (char)ch;
        } else {
            out->p[out->len++] = '%';
            out->p[out->len++] = hex[ch >> 4];
            out->p[out->len++] = hex[ch & 15];
        }
    }
    out->p[out->len] = '\0';
    return 0;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

int zk_key_unescape(const char *name, char **key, size_t *len)
{
    *key = NULL;
    if (name[0] != 'k') return -1;
    size_t n = strlen(name + 1);
    char *k = malloc(n + 1);
    if (!k) return -2;
    size_t o = 0;
    for (const char *p = name + 1; *p;) {
        if (*p == '%') {
            int h = p[1] ? hexval(p[1]) : -1, l = h >= 0 && p[2] ? hexval(p[2]) : -1;
            if (h < 0 || l < 0) {
                free(k);
                return -1;
            }
            k[o++] = (char)(h << 4 | l);
            p += 3;
        } else if (lit((unsigned char)*p)) {
            k[o++] = *p++;
        } else {
            free(k);
            return -1;
        }
    }
    k[o] = '\0';
    *key = k;
    *len = o;
    return 0;
}

/* ------------------------------------------------------------ primitives */

static int put_u8(dc_buf *b, unsigned v)
{
    unsigned char ch = (unsigned char)v;
    return dc__buf_append(b, &ch, 1);
}

static int put_u32(dc_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    return dc__buf_append(b, x, 4);
}

static int put_i64(dc_buf *b, int64_t sv)
{
    uint64_t v = (uint64_t)sv;
    unsigned char x[8];
    for (int i = 0; i < 8; i++) x[i] = (unsigned char)(v >> (56 - 8 * i));
    return dc__buf_append(b, x, 8);
}

static int put_bytes(dc_buf *b, const char *p, size_t n)
{
    if (n > UINT32_MAX) return -1;
    return put_u32(b, (uint32_t)n) || dc__buf_append(b, p, n);
}

typedef struct rd {
    const unsigned char *p;
    size_t left;
} rd;

static int get_u8(rd *r, unsigned *v)
{
    if (r->left < 1) return -1;
    *v = r->p[0];
    r->p++;
    r->left--;
    return 0;
}

static int get_u32(rd *r, uint32_t *v)
{
    if (r->left < 4) return -1;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    r->left -= 4;
    return 0;
}

static int get_i64(rd *r, int64_t *v)
{
    if (r->left < 8) return -1;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) x = x << 8 | r->p[i];
    *v = (int64_t)x;
    r->p += 8;
    r->left -= 8;
    return 0;
}

/* A malloc'd NUL-terminated copy of a length-prefixed byte string. */
static int get_bytes(rd *r, char **out, size_t *len)
{
    uint32_t n = 0;
    if (get_u32(r, &n) || r->left < n) return -1;
    char *s = malloc((size_t)n + 1);
    if (!s) return -2;
    if (n) memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    r->left -= n;
    *out = s;
    *len = n;
    return 0;
}

/* ------------------------------------------------------------ kv data */

int zk_kv_encode(dc_buf *out, int64_t lease, const char *value, size_t len)
{
    if (lease) {
        if (put_u8(out, 1) || put_i64(out, lease)) return -1;
    } else if (put_u8(out, 0)) {
        return -1;
    }
    return dc__buf_append(out, value, len);
}

int zk_kv_decode(const char *data, int len, int64_t *lease, const char **value, size_t *vlen)
{
    if (!data || len < 1) return -1;
    rd r = {(const unsigned char *)data, (size_t)len};
    unsigned tag = 0;
    get_u8(&r, &tag);
    *lease = 0;
    if (tag == 1) {
        if (get_i64(&r, lease)) return -1;
    } else if (tag != 0) {
        return -1;
    }
    *value = (const char *)r.p;
    *vlen = r.left;
    return 0;
}

/* ------------------------------------------------------------ event records */

static const char REC_MAGIC[3] = {'Z', 'E', '1'};

int zk_rec_encode(dc_buf *out, const unsigned char token[ZK_TOKEN_LEN], const zk_ev *evs, size_t n)
{
    if (dc__buf_append(out, REC_MAGIC, 3) || dc__buf_append(out, token, ZK_TOKEN_LEN) ||
        put_u32(out, (uint32_t)n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        const zk_ev *e = &evs[i];
        if (put_u8(out, e->type == DC_EVENT_DELETE) || put_bytes(out, e->key, e->key_len) ||
            put_bytes(out, e->value, e->value_len) || put_i64(out, e->create_rev) ||
            put_i64(out, e->version) || put_i64(out, e->lease) || put_u8(out, e->has_prev != 0))
            return -1;
        if (e->has_prev &&
            (put_bytes(out, e->pvalue, e->pvalue_len) || put_i64(out, e->pcreate) ||
             put_i64(out, e->pmod) || put_i64(out, e->pversion) || put_i64(out, e->please)))
            return -1;
    }
    return 0;
}

void zk_ev_clear(zk_ev *e)
{
    free(e->key);
    free(e->value);
    free(e->pvalue);
    memset(e, 0, sizeof *e);
}

void zk_rec_clear(zk_rec *rec)
{
    for (size_t i = 0; i < rec->n; i++) zk_ev_clear(&rec->evs[i]);
    free(rec->evs);
    memset(rec, 0, sizeof *rec);
}

int zk_rec_decode(const char *data, int len, int64_t rev, zk_rec *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->rev = rev;
    if (!data || len < 3 + ZK_TOKEN_LEN + 4 || memcmp(data, REC_MAGIC, 3) != 0) return -1;
    rd r = {(const unsigned char *)data + 3, (size_t)len - 3};
    memcpy(rec->token, r.p, ZK_TOKEN_LEN);
    r.p += ZK_TOKEN_LEN;
    r.left -= ZK_TOKEN_LEN;
    uint32_t n = 0;
    get_u32(&r, &n);
    /* each change takes at least 34 bytes: a count beyond that is damage */
    if (n == 0 || n > r.left / 34) return -1;
    rec->evs = calloc(n, sizeof *rec->evs);
    if (!rec->evs) return -2;
    for (uint32_t i = 0; i < n; i++) {
        zk_ev *e = &rec->evs[i];
        rec->n = i + 1;
        unsigned type = 0, hp = 0;
        int rc = get_u8(&r, &type);
        if (!rc) rc = get_bytes(&r, &e->key, &e->key_len);
        if (!rc) rc = get_bytes(&r, &e->value, &e->value_len);
        if (!rc)
            rc = get_i64(&r, &e->create_rev) || get_i64(&r, &e->version) ||
                 get_i64(&r, &e->lease) || get_u8(&r, &hp);
        if (!rc && type > 1) rc = -1;
        if (!rc) {
            e->type = type ? DC_EVENT_DELETE : DC_EVENT_PUT;
            e->has_prev = hp != 0;
            if (e->has_prev) {
                rc = get_bytes(&r, &e->pvalue, &e->pvalue_len);
                if (!rc)
                    rc = get_i64(&r, &e->pcreate) || get_i64(&r, &e->pmod) ||
                         get_i64(&r, &e->pversion) || get_i64(&r, &e->please);
            }
        }
        if (rc) {
            zk_rec_clear(rec);
            return rc == -2 ? -2 : -1;
        }
    }
    if (r.left != 0) {
        zk_rec_clear(rec);
        return -1;
    }
    return 0;
}

int zk_rec_event(const zk_rec *rec, size_t i, int with_prev, dc_event *out)
{
    const zk_ev *e = &rec->evs[i];
    memset(out, 0, sizeof *out);
    out->type = e->type;
    int put = e->type == DC_EVENT_PUT;
    if (dc__kv_set(&out->kv, e->key, e->key_len, put ? e->value : NULL, put ? e->value_len : 0))
        return -1;
    out->kv.mod_revision = rec->rev;
    if (put) {
        out->kv.create_revision = e->create_rev ? e->create_rev : rec->rev;
        out->kv.version = e->version;
        out->kv.lease = e->lease;
    }
    if (with_prev && e->has_prev) {
        dc_kv *p = calloc(1, sizeof *p);
        if (!p || dc__kv_set(p, e->key, e->key_len, e->pvalue, e->pvalue_len)) {
            free(p);
            dc__kv_clear(&out->kv);
            return -1;
        }
        p->create_revision = e->pcreate;
        p->mod_revision = e->pmod;
        p->version = e->pversion;
        p->lease = e->please;
        out->prev_kv = p;
    }
    return 0;
}
