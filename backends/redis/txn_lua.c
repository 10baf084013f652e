/*
 * Writes in lua mode: the whole txn goes to the ddlcoord_txn function in one
 * round trip (compares, branch choice, revision bump, hashes, index, events),
 * so concurrent writers never retry each other. This file only encodes the
 * request as flat arguments and decodes the reply; the logic is in
 * ddlcoord.lua.
 */
#include "redis.h"

#include <stdlib.h>
#include <string.h>

#include "kv.h"

static const char *target_name(dc_target t)
{
    switch (t) {
    case DC_TARGET_VALUE:
        return "v";
    case DC_TARGET_VERSION:
        return "ver";
    case DC_TARGET_CREATE:
        return "c";
    case DC_TARGET_MOD:
        return "m";
    default:
        return "l";
    }
}

static const char *cmp_name(dc_cmp op)
{
    switch (op) {
    case DC_CMP_EQUAL:
        return "=";
    case DC_CMP_NOT_EQUAL:
        return "!";
    case DC_CMP_LESS:
        return "<";
    default:
        return ">";
    }
}

static void add_ops(rd_cmd *c, const dc_op *ops, size_t n)
{
    rd_cmd_int(c, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        const dc_op *op = &ops[i];
        rd_cmd_str(c, op->kind == DC_OP_GET ? "g" : op->kind == DC_OP_PUT ? "p" : "d");
        rd_cmd_int(c, op->flags);
        rd_cmd_add(c, op->key, op->key_len);
        rd_cmd_add(c, op->kind == DC_OP_PUT ? op->value : "",
                   op->kind == DC_OP_PUT ? op->value_len : 0);
        rd_cmd_int(c, op->lease);
        rd_cmd_int(c, op->limit);
    }
}

static int decode(rd_store *s, const dc_txn_req *req, const redisReply *r, dc_txn_result *out,
                  dc_drv_err *err)
{
    int64_t ok, rev;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || rd_int(r->element[0], &ok) ||
        rd_int(r->element[1], &rev) || r->element[2]->type != REDIS_REPLY_ARRAY)
        return rd_err(err, DC_EUNKNOWN, s, "txn: unexpected reply from ddlcoord_txn");
    if (ok == -1) return RD_APPLIED;
    int b = ok ? DC_THEN : DC_ELSE;
    const redisReply *resps = r->element[2];
    if (resps->elements != req->n_ops[b])
        return rd_err(err, DC_EUNKNOWN, s, "txn: reply has %zu responses for %zu ops",
                      resps->elements, req->n_ops[b]);
    out->succeeded = ok != 0;
    out->revision = rev;
    /* with min_replicas_ack the revision counts once WAIT confirmed it (txn.c) */
    if (!s->min_acks) rd_note_rev(s, rev);
    if (!resps->elements) return DC_OK;
    out->responses = calloc(resps->elements, sizeof *out->responses);
    if (!out->responses)
        return rd_err(err, DC_EUNKNOWN, s,
                      "txn: committed at revision %lld but out of memory "
                      "for its responses",
                      (long long)rev);
    out->n_responses = resps->elements;
    for (size_t i = 0; i < resps->elements; i++) {
        const redisReply *x = resps->element[i];
        dc_response *o = &out->responses[i];
        o->kind = req->ops[b][i].kind;
        int64_t more = 0;
        if (x->type != REDIS_REPLY_ARRAY || x->elements != 5 || rd_int(x->element[0], &o->count) ||
            rd_int(x->element[1], &more) || rd_int(x->element[2], &o->deleted))
            return rd_err(err, DC_EUNKNOWN, s,
                          "txn: committed at revision %lld but a response "
                          "is malformed",
                          (long long)rev);
        o->more = more != 0;
        int k = rd_kvs_from_flat(x->element[3], &o->kvs, &o->n_kvs);
        if (!k) k = rd_kvs_from_flat(x->element[4], &o->prev_kvs, &o->n_prev_kvs);
        if (k)
            return rd_err(err, DC_EUNKNOWN, s,
                          "txn: committed at revision %lld but a response "
                          "is %s",
                          (long long)rev, k == -2 ? "out of memory" : "malformed");
    }
    return DC_OK;
}

int rd_txn_lua(rd_store *s, redisContext *ctx, const dc_txn_req *req, const char *token,
               int64_t retry_after, dc_txn_result *out, dc_drv_err *err)
{
    rd_cmd c;
    rd_cmd_init(&c);
    rd_script_cmd(s, &c, "txn", 0);
    rd_cmd_str(&c, token);
    rd_cmd_int(&c, retry_after);
    rd_cmd_int(&c, (int64_t)req->n_compares);
    for (size_t i = 0; i < req->n_compares; i++) {
        const dc_compare *cmp = &req->compares[i];
        rd_cmd_add(&c, cmp->key, cmp->key_len);
        rd_cmd_str(&c, target_name(cmp->target));
        rd_cmd_str(&c, cmp_name(cmp->op));
        if (cmp->target == DC_TARGET_VALUE)
            rd_cmd_add(&c, cmp->value, cmp->value_len);
        else
            rd_cmd_int(&c, cmp->number);
    }
    add_ops(&c, req->ops[DC_THEN], req->n_ops[DC_THEN]);
    add_ops(&c, req->ops[DC_ELSE], req->n_ops[DC_ELSE]);
    redisReply *r;
    int rc = rd_script_call(s, ctx, &c, &r, err);
    rd_cmd_free(&c);
    if (rc != DC_OK) return rc;
    if (r->type == REDIS_REPLY_ERROR)
        rc = rd_reply_retryable(s, r) ? RD_AGAIN : rd_reply_error(s, r, "txn", err);
    else
        rc = decode(s, req, r, out, err);
    freeReplyObject(r);
    if (rc != DC_OK && rc != RD_AGAIN) dc__txn_result_clear(out);
    return rc;
}
