/* Lower-case hex encoding and strict decoding. */
#include "hex.h"

void dc_hex_encode(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long dc_hex_decode(const char *hex, size_t hex_len, void *out)
{
    if (hex_len % 2) return -1;
    unsigned char *o = out;
    for (size_t i = 0; i < hex_len; i += 2) {
        int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        o[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(hex_len / 2);
}
