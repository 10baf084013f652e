/*
 * Shared by the fuzz targets of tests/fuzz (tests/fuzz/README.md): each
 * target is one LLVMFuzzerTestOneInput, built with libFuzzer when
 * DDLCOORD_FUZZ=ON, else with replay.c's main, which runs it over files.
 */
#ifndef DC_FUZZ_H
#define DC_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Split an input into a selector byte, a key (its length in the next byte)
 * and the rest (the value). Missing parts are empty. key is NUL-terminated
 * in buf (at least 257 bytes). */
static inline void fz_split(const uint8_t *data, size_t size, unsigned *sel, char *key,
                            const uint8_t **val, size_t *vlen)
{
    *sel = size > 0 ? data[0] : 0;
    size_t klen = size > 1 ? data[1] : 0;
    size_t off = size > 2 ? 2 : size;
    if (klen > size - off) klen = size - off;
    for (size_t i = 0; i < klen; i++) key[i] = (char)data[off + i];
    key[klen] = '\0';
    *val = data + off + klen;
    *vlen = size - off - klen;
}

#endif
