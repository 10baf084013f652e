/*
 * Fuzz target: what the Redis driver decodes from the server
 * (backends/redis/decode.c): the input is RESP, parsed by hiredis's reader
 * as the driver's connection does, and each reply (and each element of an
 * array reply, one level down, as the scripts' results nest) is handed to
 * every decoder: integers, flat key-value lists (the get and txn scripts'
 * results), kv hashes, stream IDs and stream entries (watch events).
 *
 * Inputs that declare an aggregate of more than 65536 elements are skipped:
 * hiredis 0.14 (Debian's) allocates the element array as declared before
 * the elements arrive ("*677777777\r\n" is a 5 GB calloc), which is the
 * client library's behaviour (hiredis 1.x bounds it with maxelements), not a
 * decoder's; libFuzzer would report only that, over and over.
 */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "kv.h"
#include "redis.h"

static void decode_all(const redisReply *r)
{
    int64_t v, rev, seq, n;
    (void)rd_int(r, &v);
    (void)rd_parse_id(r, &rev, &seq);
    dc_kv *kvs = NULL;
    size_t nk = 0;
    if (rd_kvs_from_flat(r, &kvs, &nk) == 0) {
        for (size_t i = 0; i < nk; i++) dc__kv_clear(&kvs[i]);
        free(kvs);
    }
    dc_kv kv = {0};
    (void)rd_hash_to_kv(r, &kv); /* borrows the value */
    dc_event ev;
    if (rd_entry_to_event(r, &ev, &rev, &seq, &n) == 0) dc__event_clear(&ev);
}

/* 1 if some line starting with '*', '%', '~', '>' or '|' declares more than
 * 65536 elements. */
static int huge_aggregate(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((i == 0 || d[i - 1] == '\n') && memchr("*%~>|", d[i], 5)) {
            unsigned long long v = 0;
            size_t k = i + 1;
            while (k < n && d[k] >= '0' && d[k] <= '9' && v <= 65536) v = v * 10 + (d[k++] - '0');
            if (v > 65536) return 1;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (huge_aggregate(data, size)) return 0;
    redisReader *rd = redisReaderCreate();
    if (!rd) return 0;
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
        for (int i = 0; i < 16; i++) {
            void *reply = NULL;
            if (redisReaderGetReply(rd, &reply) != REDIS_OK || !reply) break;
            const redisReply *r = reply;
            decode_all(r);
            if (r->type == REDIS_REPLY_ARRAY)
                for (size_t k = 0; k < r->elements; k++) decode_all(r->element[k]);
            freeReplyObject(reply);
        }
    }
    redisReaderFree(rd);
    return 0;
}
