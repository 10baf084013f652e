/*
 * Fuzz target: what the etcd driver decodes from the network
 * (backends/etcd): a gRPC frame (etcd_grpc_next), the protobuf response in it
 * (protobuf-c with the driver's allocator), and the key-values in it turned
 * into dc_kv (etcd_kvs_from_pb, as kv.c and watch.c do); also a response
 * header line (etcd_grpc_header: grpc-status, grpc-message). Input: a
 * selector byte, then the bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "etcd.h"
#include "fuzz.h"
#include "kv.h"

static void kvs(Etcdpb__KeyValue *const *p, size_t n)
{
    dc_kv *out = NULL;
    size_t m = 0;
    if (etcd_kvs_from_pb(p, n, &out, &m) == 0) {
        for (size_t i = 0; i < m; i++) dc__kv_clear(&out[i]);
        free(out);
    }
}

static void one(Etcdpb__KeyValue *p)
{
    if (p) kvs(&p, 1);
}

static void walk(const ProtobufCMessageDescriptor *d, ProtobufCMessage *m)
{
    if (d == &etcdpb__range_response__descriptor) {
        Etcdpb__RangeResponse *r = (Etcdpb__RangeResponse *)m;
        kvs(r->kvs, r->n_kvs);
    } else if (d == &etcdpb__put_response__descriptor) {
        one(((Etcdpb__PutResponse *)m)->prev_kv);
    } else if (d == &etcdpb__delete_range_response__descriptor) {
        Etcdpb__DeleteRangeResponse *r = (Etcdpb__DeleteRangeResponse *)m;
        kvs(r->prev_kvs, r->n_prev_kvs);
    } else if (d == &etcdpb__txn_response__descriptor) {
        Etcdpb__TxnResponse *t = (Etcdpb__TxnResponse *)m;
        for (size_t i = 0; i < t->n_responses; i++) {
            Etcdpb__ResponseOp *o = t->responses[i];
            switch (o->response_case) {
            case ETCDPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE:
                walk(&etcdpb__range_response__descriptor, &o->response_range->base);
                break;
            case ETCDPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT:
                walk(&etcdpb__put_response__descriptor, &o->response_put->base);
                break;
            case ETCDPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE:
                walk(&etcdpb__delete_range_response__descriptor, &o->response_delete_range->base);
                break;
            default:
                break;
            }
        }
    } else if (d == &etcdpb__watch_response__descriptor) {
        Etcdpb__WatchResponse *w = (Etcdpb__WatchResponse *)m;
        for (size_t i = 0; i < w->n_events; i++) {
            one(w->events[i]->kv);
            one(w->events[i]->prev_kv);
        }
    }
}

static const ProtobufCMessageDescriptor *const descs[] = {
    &etcdpb__range_response__descriptor,
    &etcdpb__put_response__descriptor,
    &etcdpb__delete_range_response__descriptor,
    &etcdpb__txn_response__descriptor,
    &etcdpb__compaction_response__descriptor,
    &etcdpb__watch_response__descriptor,
    &etcdpb__lease_grant_response__descriptor,
    &etcdpb__lease_revoke_response__descriptor,
    &etcdpb__lease_keep_alive_response__descriptor,
    &etcdpb__authenticate_response__descriptor,
    &etcdpb__status_response__descriptor,
};
#define N_DESCS (sizeof descs / sizeof descs[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned sel = data[0];
    data++;
    size--;
    if (sel % (N_DESCS + 1) == N_DESCS) { /* a header line */
        int status = -1;
        char msg[128];
        if (etcd_grpc_header((const char *)data, size, &status, msg, sizeof msg) &&
            !memchr(msg, '\0', sizeof msg))
            abort();
        return 0;
    }
    const ProtobufCMessageDescriptor *d = descs[sel % (N_DESCS + 1)];
    /* a stream of frames, as a watch reads them */
    size_t used = 0;
    while (used < size) {
        size_t off = 0, len = 0;
        int r = etcd_grpc_next(data + used, size - used, ETCD_MAX_MESSAGE, &off, &len);
        if (r <= 0) break;
        if (off + len > size - used) abort(); /* the frame must lie inside the bytes */
        etcd_alloc al;
        etcd_alloc_init(&al);
        ProtobufCMessage *m = protobuf_c_message_unpack(d, &al.a, len, data + used + off);
        if (m) {
            walk(d, m);
            protobuf_c_message_free_unpacked(m, &al.a);
        }
        used += off + len;
    }
    return 0;
}
