/*
 * A growable byte buffer (always NUL-terminated), for building requests,
 * messages and keys without fixed-size arrays.
 */
#ifndef DC_UTIL_BUF_H
#define DC_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct dc_buf {
    char *p;    /* NUL-terminated contents, or NULL while empty */
    size_t len; /* bytes used, not counting the terminator */
    size_t cap; /* bytes allocated */
} dc_buf;

#define DC_BUF_INIT \
    {               \
        NULL, 0, 0  \
    }

/* Each returns 0, or -1 when out of memory (the buffer is then unchanged). */
int dc__buf_reserve(dc_buf *b, size_t extra);
int dc__buf_append(dc_buf *b, const void *data, size_t len);
int dc__buf_puts(dc_buf *b, const char *s);
int dc__buf_printf(dc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dc__buf_vprintf(dc_buf *b, const char *fmt, va_list ap);
/* Empty the buffer but keep its memory. */
void dc__buf_reset(dc_buf *b);
/* Free the memory; the buffer is empty and reusable afterwards. */
void dc__buf_free(dc_buf *b);
/* Hand the contents to the caller (malloc'd, never NULL unless out of memory);
 * the buffer is empty afterwards. */
char *dc__buf_steal(dc_buf *b);

#endif
