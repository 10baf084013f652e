/*
 * Fuzz target: the ZooKeeper driver's codecs of what it reads from znodes
 * (backends/zk/codec.c): a key's data (lease + value), an event record of
 * the event log (every change turned into a dc_event, with and without
 * prev_kv), and a child name back into a key. What decodes is encoded
 * again; that encoding must decode and encode to itself (the decoders accept
 * more spellings than the encoders write, so the input itself need not come
 * back). Input: a selector byte, then the bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "kv.h"
#include "zk_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 20) return 0;
    unsigned sel = data[0] % 3;
    const char *p = (const char *)data + 1;
    int len = (int)size - 1;
    if (sel == 0) {
        int64_t lease;
        const char *v;
        size_t vlen;
        if (zk_kv_decode(p, len, &lease, &v, &vlen) == 0 && (v < p || v + vlen > p + len)) abort();
    } else if (sel == 1) {
        zk_rec rec;
        if (zk_rec_decode(p, len, 42, &rec) == 0) {
            for (size_t i = 0; i < rec.n; i++)
                for (int prev = 0; prev < 2; prev++) {
                    dc_event ev;
                    if (zk_rec_event(&rec, i, prev, &ev) == 0) dc__event_clear(&ev);
                }
            dc_buf b = {0}, b2 = {0};
            if (zk_rec_encode(&b, rec.token, rec.evs, rec.n) == 0) {
                zk_rec again;
                if (zk_rec_decode(b.p, (int)b.len, 42, &again) != 0) abort();
                if (zk_rec_encode(&b2, again.token, again.evs, again.n) == 0 &&
                    (b2.len != b.len || memcmp(b2.p, b.p, b.len) != 0))
                    abort();
                zk_rec_clear(&again);
            }
            dc__buf_free(&b);
            dc__buf_free(&b2);
            zk_rec_clear(&rec);
        }
    } else {
        char *name = malloc((size_t)len + 1);
        if (!name) return 0;
        memcpy(name, p, (size_t)len);
        name[len] = '\0';
        char *key = NULL;
        size_t klen = 0;
        if (zk_key_unescape(name, &key, &klen) == 0) {
            dc_buf b = {0};
            if (zk_key_escape(&b, key, klen) == 0) {
                char *k2 = NULL;
                size_t l2 = 0;
                if (zk_key_unescape(b.p, &k2, &l2) != 0 || l2 != klen || memcmp(k2, key, klen) != 0)
                    abort();
                free(k2);
            }
            dc__buf_free(&b);
            free(key);
        }
        free(name);
    }
    return 0;
}
