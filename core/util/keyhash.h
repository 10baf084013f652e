/*
 * The key hash of mem://: a word-at-a-time 64-bit hash (the protocol's keys
 * are 60-100 bytes that share long prefixes, which a byte-wise hash or a tree
 * walk goes over again and again). Written once for the key table (mem.c)
 * and the watch index (mem_watch.c), which also hashes every prefix of an
 * event's key in one pass: dc_keyhash_word folds 8 bytes at a time, and
 * dc_keyhash_finish completes the hash of any length from a partial state.
 * Values are only compared within one process; they are not stable across
 * versions.
 */
#ifndef DC_UTIL_KEYHASH_H
#define DC_UTIL_KEYHASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DC_KEYHASH_SEED 0x9e3779b97f4a7c15ULL

/* Fold the 8 bytes at p into the partial hash h. */
static inline uint64_t dc_keyhash_word(uint64_t h, const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 29);
}

/* The hash of key[0, len) when its first `done` bytes (a multiple of 8) are
 * already folded into h (start with DC_KEYHASH_SEED and done = 0). */
static inline uint64_t dc_keyhash_finish(uint64_t h, const char *key, size_t done, size_t len)
{
    for (; done + 8 <= len; done += 8) h = dc_keyhash_word(h, key + done);
    uint64_t w = 0;
    if (len > done) memcpy(&w, key + done, len - done);
    h = (h ^ w ^ len) * 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 32);
}

static inline uint64_t dc_keyhash(const char *key, size_t len)
{
    return dc_keyhash_finish(DC_KEYHASH_SEED, key, 0, len);
}

#endif
