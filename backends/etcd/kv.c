/*
 * Reads, writes, txns, compaction and paged reads: etcd's KV service.
 *
 * etcd is the model of the store contract, so the mapping is direct: a get
 * is a RangeRequest (sorted by key by default), a txn a TxnRequest with one
 * Compare per compare and one RequestOp per op, and its answer's header
 * revision is the txn's revision (the current one when it wrote nothing).
 * A lone put or delete (how dc_put / dc_delete arrive) goes to KV/Put or
 * KV/DeleteRange, whose answers have the same shape as the nested ones of a
 * txn. etcd enforces its own limits (128 ops per list, 1.5 MiB per request)
 * and those errors come back typed as DC_ETOOBIG.
 *
 * Requests are protobuf-c structs on the stack (or in one scratch block for
 * a txn) that point at the caller's keys and values: nothing is copied until
 * the message is packed.
 */
#include "etcd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv.h"

#define KV_SVC "/etcdserverpb.KV/"

static ProtobufCBinaryData bin(const void *p, size_t len)
{
    ProtobufCBinaryData b = {len, (uint8_t *)(uintptr_t)p};
    return b;
}

static const uint8_t zero_byte = 0;

/* Set key and range_end for op's key (a prefix with DC_PREFIX: an empty one
 * selects every key, "\0".."\0"). *end_buf receives a malloc'd range end to
 * free after the call. 0, or -1 without memory. */
static int key_range(const char *key, size_t key_len, int prefix, ProtobufCBinaryData *k,
                     ProtobufCBinaryData *end, uint8_t **end_buf)
{
    *end_buf = NULL;
    *k = bin(key, key_len);
    end->len = 0;
    end->data = NULL;
    if (!prefix) return 0;
    if (key_len == 0) {
        *k = bin(&zero_byte, 1);
        *end = bin(&zero_byte, 1);
        return 0;
    }
    size_t n;
    *end_buf = etcd_prefix_end(key, key_len, &n);
    if (!*end_buf) return -1;
    *end = bin(*end_buf, n);
    return 0;
}

static int corrupt(etcd_conn *c, dc_drv_err *err, int rc, int wrote, const char *what)
{
    if (rc == -2) return etcd_err(c, err, DC_ENOMEM, "out of memory reading the %s answer", what);
    c->host->log(DC_LOG_ERROR, "etcd", "%s: malformed %s answer from the server", c->label, what);
    /* A write's answer we cannot read leaves its effect unknown to the caller. */
    return etcd_err(c, err, wrote ? DC_EUNKNOWN : DC_ECORRUPT,
                    "malformed %s answer (missing header or mismatched responses)", what);
}

/* ------------------------------------------------------------ get */

static int fill_kvs(const Etcdpb__RangeResponse *r, dc_kvs *out)
{
    if (etcd_kvs_from_pb(r->kvs, r->n_kvs, &out->kvs, &out->n) != 0) return -2;
    out->count = r->count;
    out->more = r->more;
    return 0;
}

int etcd_get(void *conn, const dc_op *op, dc_kvs *out, dc_drv_err *err)
{
    etcd_conn *c = conn;
    Etcdpb__RangeRequest req = ETCDPB__RANGE_REQUEST__INIT;
    uint8_t *end_buf;
    if (key_range(op->key, op->key_len, op->flags & DC_PREFIX, &req.key, &req.range_end,
                  &end_buf) != 0)
        return etcd_err(c, err, DC_ENOMEM, "out of memory building a range request");
    req.keys_only = (op->flags & DC_KEYS_ONLY) != 0;
    req.count_only = (op->flags & DC_COUNT_ONLY) != 0;
    req.limit = op->limit > 0 ? op->limit : 0;
    ProtobufCMessage *m = NULL;
    int rc = etcd_rpc(c, KV_SVC "Range", &req.base, &etcdpb__range_response__descriptor, ETCD_READ,
                      &m, err);
    free(end_buf);
    if (rc != DC_OK) return rc;
    Etcdpb__RangeResponse *r = (Etcdpb__RangeResponse *)m;
    int prc = r->header ? fill_kvs(r, out) : -1;
    if (prc == 0) out->revision = r->header->revision;
    protobuf_c_message_free_unpacked(m, NULL);
    if (prc != 0) {
        dc__kvs_clear(out);
        return corrupt(c, err, prc, 0, "range");
    }
    if (op->flags & DC_COUNT_ONLY) out->n = 0;
    return DC_OK;
}

/* ------------------------------------------------------------ paged reads */

/*
 * etcd 3.4 serves a Range with a limit by first collecting every matching
 * key of its in-memory index from the start key to the range end, then
 * reading `limit` of them: a page costs as much index work as the rest of
 * the prefix, and reading N keys in pages of L costs O(N^2 / L) (measured:
 * 310 000 keys in pages of 1000 took minutes, in one Range 3 s). So a page
 * after the first asks for a bounded range, [after, E), where E is guessed
 * from how densely the previous page's keys lay: the keys read as 8-byte
 * big-endian numbers from the first byte where they differ (a few bytes
 * earlier, so carries fit), and E = number(after) + twice the span that
 * `limit` keys took. Whatever the guess, the answer is right: a bounded
 * page that comes back empty is asked again up to the prefix's end, and a
 * bounded page with keys says "more" (its last key is where the next starts;
 * a page may hold fewer than `limit` keys, docs/DESIGN.md, "Paged reads"). The hint
 * lives on the handle (page_hint) and only serves the read that continues
 * from the key it names at the same revision.
 */

#define PAGE_POS_SLACK 3 /* bytes before the first differing one */
#define PAGE_TRIES     4 /* bounded ranges tried before the unbounded one */

/* The 8 bytes of key from pos as a big-endian number (zeros past the end). */
static uint64_t key_number(const uint8_t *key, size_t len, size_t pos)
{
    uint64_t v = 0;
    for (size_t i = pos; i < pos + 8; i++) v = v << 8 | (i < len ? key[i] : 0);
    return v;
}

static int page_end_is_infinite(ProtobufCBinaryData end)
{
    return end.len == 1 && end.data[0] == 0;
}

/* Does the hint continue this read (same prefix and revision, from the key
 * the last page ended with)? Caller holds page_mu. */
static int hint_serves(const struct etcd_page_hint *h, const dc_page_req *preq)
{
    return h->last && h->step && h->revision == preq->revision && preq->revision != 0 &&
           h->prefix_len == preq->prefix_len &&
           memcmp(h->prefix, preq->prefix, preq->prefix_len) == 0 &&
           h->last_len == preq->after_len && memcmp(h->last, preq->after, preq->after_len) == 0;
}

/* The range end number(from) + step (numbers from byte pos), or NULL (no
 * memory, overflow, or not below the prefix's end). */
static uint8_t *page_bound(size_t pos, uint64_t step, const void *from, size_t from_len,
                           ProtobufCBinaryData full_end, size_t *len)
{
    const uint8_t *a = from;
    uint64_t v = key_number(a, from_len, pos);
    if (v > UINT64_MAX - step) return NULL;
    v += step;
    uint8_t *e = malloc(pos + 8);
    if (!e) return NULL;
    size_t keep = from_len < pos ? from_len : pos;
    memcpy(e, a, keep);
    memset(e + keep, 0, pos - keep);
    for (int i = 7; i >= 0; i--, v >>= 8) e[pos + (size_t)i] = (uint8_t)v;
    *len = pos + 8;
    if (dc__key_cmp(e, *len, from, from_len) <= 0 ||
        (!page_end_is_infinite(full_end) &&
         dc__key_cmp(e, *len, full_end.data, full_end.len) >= 0)) {
        free(e);
        return NULL;
    }
    return e;
}

static size_t common_prefix(const dc_kv *a, const dc_kv *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len, i = 0;
    while (i < n && a->key[i] == b->key[i]) i++;
    return i;
}

/* Remember where this page stopped and how far the next should reach. The
 * hint is dropped when the read is over, or on failure (it is only a hint).
 * Caller holds page_mu. */
static void page_learn(etcd_conn *c, const dc_page_req *preq, const dc_kvs *out, uint64_t used)
{
    struct etcd_page_hint *h = &c->page_hint;
    if (!out->more || out->n == 0) {
        free(h->last);
        h->last = NULL;
        return;
    }
    const dc_kv *first = &out->kvs[0], *last = &out->kvs[out->n - 1];
    if (!used) { /* a page over the whole rest: where do keys differ? */
        size_t lcp = common_prefix(first, last);
        h->pos = lcp > preq->prefix_len + PAGE_POS_SLACK ? lcp - PAGE_POS_SLACK : preq->prefix_len;
    }
    const uint8_t *fk = (const uint8_t *)first->key, *lk = (const uint8_t *)last->key;
    uint64_t a = key_number(fk, first->key_len, h->pos), b = key_number(lk, last->key_len, h->pos);
    uint64_t step = 0;
    if (out->n >= 2 && b > a) {
        uint64_t per = (b - a) / (out->n - 1);
        if (per == 0) per = 1;
        uint64_t want = (uint64_t)preq->limit * 2;
        step = per > UINT64_MAX / want ? 0 : per * want;
    }
    if (used && (int64_t)out->n < preq->limit && used < UINT64_MAX / 4 && step < used * 4)
        step = used * 4; /* too few keys in the range: reach further */
    if (h->prefix_len != preq->prefix_len || !h->prefix ||
        memcmp(h->prefix, preq->prefix, preq->prefix_len) != 0) {
        uint8_t *p = malloc(preq->prefix_len ? preq->prefix_len : 1);
        if (!p) goto drop;
        memcpy(p, preq->prefix, preq->prefix_len);
        free(h->prefix);
        h->prefix = p;
        h->prefix_len = preq->prefix_len;
    }
    uint8_t *l = realloc(h->last, last->key_len ? last->key_len : 1);
    if (!l) goto drop;
    memcpy(l, last->key, last->key_len);
    h->last = l;
    h->last_len = last->key_len;
    h->revision = out->revision;
    h->step = step;
    return;
drop:
    free(h->last);
    h->last = NULL;
}

/* One Range for a page: [start, end) at the request's revision. */
static int page_range(etcd_conn *c, const dc_page_req *preq, ProtobufCBinaryData start,
                      ProtobufCBinaryData end, int64_t limit, dc_kvs *out, dc_drv_err *err)
{
    Etcdpb__RangeRequest req = ETCDPB__RANGE_REQUEST__INIT;
    req.key = start;
    req.range_end = end;
    req.revision = preq->revision;
    req.limit = limit;
    req.keys_only = (preq->flags & DC_KEYS_ONLY) != 0;
    ProtobufCMessage *m = NULL;
    int rc = etcd_rpc(c, KV_SVC "Range", &req.base, &etcdpb__range_response__descriptor, ETCD_READ,
                      &m, err);
    if (rc != DC_OK) return rc;
    Etcdpb__RangeResponse *r = (Etcdpb__RangeResponse *)m;
    int prc = r->header ? fill_kvs(r, out) : -1;
    if (prc == 0) {
        /* The header carries the current revision, not the one read. */
        out->revision = preq->revision ? preq->revision : r->header->revision;
        out->count = (int64_t)out->n;
    }
    protobuf_c_message_free_unpacked(m, NULL);
    if (prc != 0) {
        dc__kvs_clear(out);
        return corrupt(c, err, prc, 0, "range");
    }
    return DC_OK;
}

/* Move part's kvs to the end of acc's (part is left empty). 0, or -1
 * without memory. */
static int kvs_append(dc_kvs *acc, dc_kvs *part)
{
    if (!part->n) return 0;
    if (!acc->n) {
        dc_kv *keep = acc->kvs;
        *acc = *part;
        part->kvs = keep; /* NULL */
        part->n = 0;
        return 0;
    }
    dc_kv *k = realloc(acc->kvs, (acc->n + part->n) * sizeof *k);
    if (!k) return -1;
    memcpy(k + acc->n, part->kvs, part->n * sizeof *k);
    acc->kvs = k;
    acc->n += part->n;
    free(part->kvs);
    part->kvs = NULL;
    part->n = 0;
    return 0;
}

/* The smallest key after key (key + "\0"), or the prefix itself when that
 * lies before it. *buf receives what to free. */
static int start_after(const dc_page_req *preq, const void *key, size_t len,
                       ProtobufCBinaryData *start, uint8_t **buf)
{
    free(*buf);
    *buf = malloc(len + 1);
    if (!*buf) return -1;
    memcpy(*buf, key, len);
    (*buf)[len] = 0;
    if (dc__key_cmp(*buf, len + 1, preq->prefix, preq->prefix_len) > 0) *start = bin(*buf, len + 1);
    return 0;
}

int etcd_get_page(void *conn, const dc_page_req *preq, dc_kvs *out, dc_drv_err *err)
{
    etcd_conn *c = conn;
    ProtobufCBinaryData start, end;
    uint8_t *end_buf, *start_buf = NULL, *bound = NULL;
    size_t bound_len = 0;
    int rc = DC_OK;
    if (key_range(preq->prefix, preq->prefix_len, 1, &start, &end, &end_buf) != 0)
        return etcd_err(c, err, DC_ENOMEM, "out of memory building a range request");
    memset(out, 0, sizeof *out);
    uint64_t step = 0;
    if (preq->after_len) {
        if (start_after(preq, preq->after, preq->after_len, &start, &start_buf) != 0) {
            rc = etcd_err(c, err, DC_ENOMEM, "out of memory building a range request");
            goto done;
        }
        pthread_mutex_lock(&c->page_mu);
        int served = hint_serves(&c->page_hint, preq);
        size_t pos = c->page_hint.pos;
        step = c->page_hint.step;
        pthread_mutex_unlock(&c->page_mu);
        if (served) bound = page_bound(pos, step, preq->after, preq->after_len, end, &bound_len);
        /* Bounded ranges until the page is full. A short one is a gap in
         * the keys (decimal digits carry further than bytes do): reach
         * further from its last key, a few times, before reading to the
         * prefix's end. A page may only be short at the end of the prefix
         * (docs/DESIGN.md, "Paged reads"), so a full page is what a bounded read
         * returns; it says "more", as keys may lie past the bound. */
        for (int tries = 0; bound && tries < PAGE_TRIES; tries++) {
            dc_kvs part = {0};
            rc = page_range(c, preq, start, bin(bound, bound_len), preq->limit - (int64_t)out->n,
                            &part, err);
            free(bound);
            bound = NULL;
            if (rc != DC_OK) goto done;
            int got = part.n > 0;
            if (kvs_append(out, &part) != 0) {
                dc__kvs_clear(&part);
                rc = etcd_err(c, err, DC_ENOMEM, "out of memory reading a page");
                goto done;
            }
            out->revision = part.revision;
            if ((int64_t)out->n == preq->limit) {
                out->more = 1;
                out->count = (int64_t)out->n;
                pthread_mutex_lock(&c->page_mu);
                page_learn(c, preq, out, step);
                pthread_mutex_unlock(&c->page_mu);
                goto done;
            }
            const dc_kv *last = out->n ? &out->kvs[out->n - 1] : NULL;
            if (last && start_after(preq, last->key, last->key_len, &start, &start_buf) != 0) {
                rc = etcd_err(c, err, DC_ENOMEM, "out of memory building a range request");
                goto done;
            }
            uint64_t grow = got ? 4 : 256;
            if (step > UINT64_MAX / grow) break;
            step *= grow;
            bound = last ? page_bound(pos, step, last->key, last->key_len, end, &bound_len)
                         : page_bound(pos, step, preq->after, preq->after_len, end, &bound_len);
        }
        free(bound);
        bound = NULL;
    }
    dc_kvs part = {0};
    rc = page_range(c, preq, start, end, preq->limit - (int64_t)out->n, &part, err);
    if (rc == DC_OK) {
        int more = part.more;
        int64_t revision = part.revision;
        if (kvs_append(out, &part) != 0) {
            dc__kvs_clear(&part);
            rc = etcd_err(c, err, DC_ENOMEM, "out of memory reading a page");
        } else {
            out->more = more;
            out->revision = revision;
            out->count = (int64_t)out->n;
        }
    }
    pthread_mutex_lock(&c->page_mu);
    if (rc == DC_OK) {
        page_learn(c, preq, out, 0);
    } else {
        free(c->page_hint.last);
        c->page_hint.last = NULL;
    }
    pthread_mutex_unlock(&c->page_mu);
done:
    free(end_buf);
    free(start_buf);
    if (rc != DC_OK) dc__kvs_clear(out);
    return rc;
}

/* ------------------------------------------------------------ responses */

static int fill_response(const Etcdpb__ResponseOp *op, dc_op_kind kind, dc_response *r)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    switch (kind) {
    case DC_OP_GET: {
        const Etcdpb__RangeResponse *x = op->response_range;
        if (op->response_case != ETCDPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE || !x) return -1;
        if (etcd_kvs_from_pb(x->kvs, x->n_kvs, &r->kvs, &r->n_kvs) != 0) return -2;
        r->count = x->count;
        r->more = x->more;
        return 0;
    }
    case DC_OP_PUT: {
        const Etcdpb__PutResponse *x = op->response_put;
        if (op->response_case != ETCDPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT || !x) return -1;
        if (!x->prev_kv) return 0;
        r->prev_kvs = calloc(1, sizeof *r->prev_kvs);
        if (!r->prev_kvs || etcd_kv_from_pb(x->prev_kv, r->prev_kvs) != 0) {
            free(r->prev_kvs);
            r->prev_kvs = NULL;
            return -2;
        }
        r->n_prev_kvs = 1;
        return 0;
    }
    case DC_OP_DELETE: {
        const Etcdpb__DeleteRangeResponse *x = op->response_delete_range;
        if (op->response_case != ETCDPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE || !x)
            return -1;
        r->deleted = x->deleted;
        return etcd_kvs_from_pb(x->prev_kvs, x->n_prev_kvs, &r->prev_kvs, &r->n_prev_kvs);
    }
    }
    return -1;
}

/* ------------------------------------------------------------ put / delete */

/* dc_put / dc_delete: one op, no compares, served by KV/Put or KV/DeleteRange. */
static int single_write(etcd_conn *c, const dc_op *op, dc_txn_result *out, dc_drv_err *err)
{
    ProtobufCMessage *m = NULL;
    int rc;
    if (op->kind == DC_OP_PUT) {
        Etcdpb__PutRequest req = ETCDPB__PUT_REQUEST__INIT;
        req.key = bin(op->key, op->key_len);
        req.value = bin(op->value, op->value_len);
        req.lease = op->lease;
        req.prev_kv = (op->flags & DC_PREV_KV) != 0;
        rc = etcd_rpc(c, KV_SVC "Put", &req.base, &etcdpb__put_response__descriptor, ETCD_WRITE, &m,
                      err);
    } else {
        Etcdpb__DeleteRangeRequest req = ETCDPB__DELETE_RANGE_REQUEST__INIT;
        uint8_t *end_buf;
        if (key_range(op->key, op->key_len, op->flags & DC_PREFIX, &req.key, &req.range_end,
                      &end_buf) != 0)
            return etcd_err(c, err, DC_ENOMEM, "out of memory building a delete request");
        req.prev_kv = (op->flags & DC_PREV_KV) != 0;
        rc = etcd_rpc(c, KV_SVC "DeleteRange", &req.base,
                      &etcdpb__delete_range_response__descriptor, ETCD_WRITE, &m, err);
        free(end_buf);
    }
    if (rc != DC_OK) return rc;
    /* Both answers start with the header and then what a ResponseOp holds. */
    Etcdpb__ResponseOp wrap = ETCDPB__RESPONSE_OP__INIT;
    const Etcdpb__ResponseHeader *h;
    if (op->kind == DC_OP_PUT) {
        wrap.response_case = ETCDPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT;
        wrap.response_put = (Etcdpb__PutResponse *)m;
        h = wrap.response_put->header;
    } else {
        wrap.response_case = ETCDPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE;
        wrap.response_delete_range = (Etcdpb__DeleteRangeResponse *)m;
        h = wrap.response_delete_range->header;
    }
    out->responses = calloc(1, sizeof *out->responses);
    int prc = !out->responses ? -2 : !h ? -1 : fill_response(&wrap, op->kind, out->responses);
    if (prc == 0) out->revision = h->revision;
    protobuf_c_message_free_unpacked(m, NULL);
    if (prc != 0) {
        dc__txn_result_clear(out);
        return corrupt(c, err, prc, 1, op->kind == DC_OP_PUT ? "put" : "delete");
    }
    out->n_responses = 1;
    out->succeeded = 1;
    return DC_OK;
}

/* ------------------------------------------------------------ txn */

/* Everything a TxnRequest points at, in a few allocations. */
typedef struct txn_scratch {
    Etcdpb__Compare *cmps;
    Etcdpb__Compare **cmp_ptrs;
    Etcdpb__RequestOp *ops;
    Etcdpb__RequestOp **op_ptrs;
    union inner {
        Etcdpb__RangeRequest range;
        Etcdpb__PutRequest put;
        Etcdpb__DeleteRangeRequest del;
    } * inner;
    uint8_t **ends; /* range ends of prefix ops */
    size_t n_ops;
} txn_scratch;

static void scratch_free(txn_scratch *t)
{
    if (t->ends)
        for (size_t i = 0; i < t->n_ops; i++) free(t->ends[i]);
    free(t->cmps);
    free(t->cmp_ptrs);
    free(t->ops);
    free(t->op_ptrs);
    free(t->inner);
    free(t->ends);
}

static void set_compare(Etcdpb__Compare *m, const dc_compare *cmp)
{
    static const Etcdpb__Compare__CompareTarget targets[] = {
        [DC_TARGET_VALUE] = ETCDPB__COMPARE__COMPARE_TARGET__VALUE,
        [DC_TARGET_VERSION] = ETCDPB__COMPARE__COMPARE_TARGET__VERSION,
        [DC_TARGET_CREATE] = ETCDPB__COMPARE__COMPARE_TARGET__CREATE,
        [DC_TARGET_MOD] = ETCDPB__COMPARE__COMPARE_TARGET__MOD,
        [DC_TARGET_LEASE] = ETCDPB__COMPARE__COMPARE_TARGET__LEASE,
    };
    static const Etcdpb__Compare__CompareResult results[] = {
        [DC_CMP_EQUAL] = ETCDPB__COMPARE__COMPARE_RESULT__EQUAL,
        [DC_CMP_NOT_EQUAL] = ETCDPB__COMPARE__COMPARE_RESULT__NOT_EQUAL,
        [DC_CMP_LESS] = ETCDPB__COMPARE__COMPARE_RESULT__LESS,
        [DC_CMP_GREATER] = ETCDPB__COMPARE__COMPARE_RESULT__GREATER,
    };
    etcdpb__compare__init(m);
    m->key = bin(cmp->key, cmp->key_len);
    m->target = targets[cmp->target];
    m->result = results[cmp->op];
    switch (cmp->target) {
    case DC_TARGET_VALUE:
        m->target_union_case = ETCDPB__COMPARE__TARGET_UNION_VALUE;
        m->value = bin(cmp->value, cmp->value_len);
        break;
    case DC_TARGET_VERSION:
        m->target_union_case = ETCDPB__COMPARE__TARGET_UNION_VERSION;
        m->version = cmp->number;
        break;
    case DC_TARGET_CREATE:
        m->target_union_case = ETCDPB__COMPARE__TARGET_UNION_CREATE_REVISION;
        m->create_revision = cmp->number;
        break;
    case DC_TARGET_MOD:
        m->target_union_case = ETCDPB__COMPARE__TARGET_UNION_MOD_REVISION;
        m->mod_revision = cmp->number;
        break;
    case DC_TARGET_LEASE:
        m->target_union_case = ETCDPB__COMPARE__TARGET_UNION_LEASE;
        m->lease = cmp->number;
        break;
    }
}

/* One RequestOp; 0 or -1 without memory. */
static int set_op(txn_scratch *t, size_t i, const dc_op *op)
{
    Etcdpb__RequestOp *m = &t->ops[i];
    union inner *in = &t->inner[i];
    etcdpb__request_op__init(m);
    switch (op->kind) {
    case DC_OP_GET:
        etcdpb__range_request__init(&in->range);
        if (key_range(op->key, op->key_len, op->flags & DC_PREFIX, &in->range.key,
                      &in->range.range_end, &t->ends[i]) != 0)
            return -1;
        in->range.keys_only = (op->flags & DC_KEYS_ONLY) != 0;
        in->range.count_only = (op->flags & DC_COUNT_ONLY) != 0;
        in->range.limit = op->limit > 0 ? op->limit : 0;
        m->request_case = ETCDPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
        m->request_range = &in->range;
        break;
    case DC_OP_PUT:
        etcdpb__put_request__init(&in->put);
        in->put.key = bin(op->key, op->key_len);
        in->put.value = bin(op->value, op->value_len);
        in->put.lease = op->lease;
        in->put.prev_kv = (op->flags & DC_PREV_KV) != 0;
        m->request_case = ETCDPB__REQUEST_OP__REQUEST_REQUEST_PUT;
        m->request_put = &in->put;
        break;
    case DC_OP_DELETE:
        etcdpb__delete_range_request__init(&in->del);
        if (key_range(op->key, op->key_len, op->flags & DC_PREFIX, &in->del.key, &in->del.range_end,
                      &t->ends[i]) != 0)
            return -1;
        in->del.prev_kv = (op->flags & DC_PREV_KV) != 0;
        m->request_case = ETCDPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
        m->request_delete_range = &in->del;
        break;
    }
    t->op_ptrs[i] = m;
    return 0;
}

static int build_txn(const dc_txn_req *req, Etcdpb__TxnRequest *m, txn_scratch *t)
{
    size_t nc = req->n_compares, n = req->n_ops[0] + req->n_ops[1];
    memset(t, 0, sizeof *t);
    t->n_ops = n;
    t->cmps = calloc(nc ? nc : 1, sizeof *t->cmps);
    t->cmp_ptrs = calloc(nc ? nc : 1, sizeof *t->cmp_ptrs);
    t->ops = calloc(n ? n : 1, sizeof *t->ops);
    t->op_ptrs = calloc(n ? n : 1, sizeof *t->op_ptrs);
    t->inner = calloc(n ? n : 1, sizeof *t->inner);
    t->ends = calloc(n ? n : 1, sizeof *t->ends);
    if (!t->cmps || !t->cmp_ptrs || !t->ops || !t->op_ptrs || !t->inner || !t->ends) return -1;
    for (size_t i = 0; i < nc; i++) {
        set_compare(&t->cmps[i], &req->compares[i]);
        t->cmp_ptrs[i] = &t->cmps[i];
    }
    size_t k = 0;
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < req->n_ops[b]; i++, k++)
            if (set_op(t, k, &req->ops[b][i]) != 0) return -1;
    etcdpb__txn_request__init(m);
    m->n_compare = nc;
    m->compare = t->cmp_ptrs;
    m->n_success = req->n_ops[DC_THEN];
    m->success = t->op_ptrs;
    m->n_failure = req->n_ops[DC_ELSE];
    m->failure = t->op_ptrs + req->n_ops[DC_THEN];
    return 0;
}

static int has_writes(const dc_txn_req *req)
{
    for (int b = 0; b < 2; b++)
        for (size_t i = 0; i < req->n_ops[b]; i++)
            if (req->ops[b][i].kind != DC_OP_GET) return 1;
    return 0;
}

int etcd_txn(void *conn, const dc_txn_req *req, dc_txn_result *out, dc_drv_err *err)
{
    etcd_conn *c = conn;
    if (req->n_compares == 0 && req->n_ops[DC_ELSE] == 0 && req->n_ops[DC_THEN] == 1 &&
        req->ops[DC_THEN][0].kind != DC_OP_GET)
        return single_write(c, &req->ops[DC_THEN][0], out, err);

    Etcdpb__TxnRequest m;
    txn_scratch t;
    if (build_txn(req, &m, &t) != 0) {
        scratch_free(&t);
        return etcd_err(c, err, DC_ENOMEM, "out of memory building a txn request");
    }
    int wrote = has_writes(req);
    ProtobufCMessage *rm = NULL;
    int rc = etcd_rpc(c, KV_SVC "Txn", &m.base, &etcdpb__txn_response__descriptor,
                      wrote ? ETCD_WRITE : ETCD_READ, &rm, err);
    scratch_free(&t);
    if (rc != DC_OK) {
        if (rc == DC_ETOOBIG) {
            char why[sizeof err->msg];
            const char *e = strstr(err->msg, "etcdserver:");
            if (!e) e = strstr(err->msg, "gRPC status");
            snprintf(why, sizeof why, "%s", e ? e : err->msg);
            etcd_err(c, err, rc, "txn of %zu compares and %zu/%zu ops rejected: %s",
                     req->n_compares, req->n_ops[0], req->n_ops[1], why);
        }
        return rc;
    }
    Etcdpb__TxnResponse *r = (Etcdpb__TxnResponse *)rm;
    int prc = r->header ? 0 : -1;
    int branch = r->succeeded ? DC_THEN : DC_ELSE;
    if (prc == 0 && r->n_responses != req->n_ops[branch]) prc = -1;
    if (prc == 0) {
        out->revision = r->header->revision;
        out->succeeded = r->succeeded;
        if (r->n_responses) {
            out->responses = calloc(r->n_responses, sizeof *out->responses);
            if (!out->responses) prc = -2;
        }
    }
    for (size_t i = 0; prc == 0 && i < r->n_responses; i++) {
        prc = fill_response(r->responses[i], req->ops[branch][i].kind, &out->responses[i]);
        out->n_responses = i + 1;
    }
    protobuf_c_message_free_unpacked(rm, NULL);
    if (prc != 0) {
        dc__txn_result_clear(out);
        return corrupt(c, err, prc, wrote, "txn");
    }
    return DC_OK;
}

/* ------------------------------------------------------------ compact */

/* The current revision (a one-key range's header). */
static int current_revision(etcd_conn *c, int64_t *rev, dc_drv_err *err)
{
    static const uint8_t zero = 0;
    Etcdpb__RangeRequest req = ETCDPB__RANGE_REQUEST__INIT;
    req.key = bin(&zero, 1);
    req.count_only = 1;
    ProtobufCMessage *m = NULL;
    int rc = etcd_rpc(c, KV_SVC "Range", &req.base, &etcdpb__range_response__descriptor, ETCD_READ,
                      &m, err);
    if (rc != DC_OK) return rc;
    Etcdpb__RangeResponse *r = (Etcdpb__RangeResponse *)m;
    if (r->header)
        *rev = r->header->revision;
    else
        rc = corrupt(c, err, -1, 0, "range");
    protobuf_c_message_free_unpacked(m, NULL);
    return rc;
}

/*
 * Compaction. The contract: compacting at R removes history before R, and
 * a watch from R replays everything from R on. etcd's Compact(R) also drops
 * the tombstones of deletes made at R itself, so a watch from R would miss
 * those DELETE events (seen in robustness.etcd: a watch reopened at the
 * reported compact revision skipped a delete made there). So the store's
 * compact revision is etcd's plus one: dc_compact(R) is etcd's Compact(R -
 * 1), and an etcd compact revision C is reported as C + 1 (here and in
 * watch.c). A revision above the current one is refused first, as etcd
 * would refuse it (Compact(current) alone would succeed).
 */
int etcd_compact(void *conn, int64_t revision, dc_drv_err *err)
{
    etcd_conn *c = conn;
    int64_t now = 0;
    int rc = current_revision(c, &now, err);
    if (rc != DC_OK) return rc;
    if (revision > now)
        return etcd_err(c, err, DC_EINVAL,
                        "compact at %lld: etcdserver: mvcc: required revision is a future "
                        "revision (current %lld)",
                        (long long)revision, (long long)now);
    Etcdpb__CompactionRequest req = ETCDPB__COMPACTION_REQUEST__INIT;
    /* etcd's revision 1 holds no change (its first write is revision 2), so
     * compacting there loses nothing and still says whether more was done. */
    req.revision = revision > 2 ? revision - 1 : 1;
    ProtobufCMessage *m = NULL;
    rc = etcd_rpc(c, KV_SVC "Compact", &req.base, &etcdpb__compaction_response__descriptor,
                  ETCD_WRITE, &m, err);
    if (m) protobuf_c_message_free_unpacked(m, NULL);
    if (rc == DC_ECOMPACTED) {
        int64_t at = 0;
        dc_drv_err perr = {{0}, 0};
        if (etcd_compact_revision(c, &at, &perr) == DC_OK && at > 0) err->compact_revision = at + 1;
        etcd_err(c, err, rc, "revision %lld is already compacted (compact revision %lld)",
                 (long long)revision, (long long)err->compact_revision);
    }
    return rc;
}
