/* Lower-case hex encoding and strict decoding. */
#include "hex.h"

void dc__hex_encode(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Digit value + 1 of each byte (0: not a hex digit): decoding keys is on
 * the master's path for every Info and operation it reads. */
static const unsigned char nibbles[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
    ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

long dc__hex_decode(const char *hex, size_t hex_len, void *out)
{
    if (hex_len % 2) return -1;
    const unsigned char *h = (const unsigned char *)hex;
    unsigned char *o = out;
    for (size_t i = 0; i < hex_len; i += 2) {
        int hi = nibbles[h[i]], lo = nibbles[h[i + 1]];
        if (!hi || !lo) return -1;
        o[i / 2] = (unsigned char)((hi - 1) << 4 | (lo - 1));
    }
    return (long)(hex_len / 2);
}
