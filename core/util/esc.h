/*
 * Escaping names for log lines and messages. Task, source, schema, table and
 * lock names come from the store and may hold any byte: printed raw, a
 * newline in one would forge a second log line. dc__esc writes control bytes
 * as \n, \r, \t or \xNN and a backslash as \\, so every line logged is one
 * line and says exactly which bytes the name had. Bytes from 0x80 up are kept
 * (UTF-8 names stay readable).
 */
#ifndef DC_UTIL_ESC_H
#define DC_UTIL_ESC_H

#include <stddef.h>

/* Escape s (NULL prints as "-") into buf of len bytes (len >= 8), always
 * NUL-terminated; input that does not fit ends in "...". Returns buf. */
const char *dc__esc(const char *s, char *buf, size_t len);

/* dc__esc into one of DC_ESC_SLOTS rotating thread-local buffers of
 * DC_ESC_SIZE bytes, so that one log call may escape several names in its
 * arguments: the result is valid until DC_ESC_SLOTS more calls on the same
 * thread. */
#define DC_ESC_SLOTS 8
#define DC_ESC_SIZE  512
const char *dc__e(const char *s);

#endif
