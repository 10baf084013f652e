/*
 * Lower-case hex of bytes, as DM encodes key components (so any byte,
 * including '/', may appear in a task or source name).
 */
#ifndef DC_UTIL_HEX_H
#define DC_UTIL_HEX_H

#include <stddef.h>

/* Write 2*len hex digits and a NUL to out (which must hold 2*len+1 bytes). */
void dc__hex_encode(const void *data, size_t len, char *out);

/* Decode 2*n hex digits (either case) from hex into out (n bytes).
 * Returns n, or -1 if hex_len is odd or a digit is invalid. */
long dc__hex_decode(const char *hex, size_t hex_len, void *out);

#endif
