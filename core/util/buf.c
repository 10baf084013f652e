/*
 * Growable byte buffer. Capacity doubles so appends are amortised O(1); the
 * contents stay NUL-terminated so text users can read b->p directly.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dc__buf_reserve(dc_buf *b, size_t extra)
{
    if (extra > (size_t)-1 - b->len - 1) return -1;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int dc__buf_append(dc_buf *b, const void *data, size_t len)
{
    if (dc__buf_reserve(b, len) != 0) return -1;
    if (len) memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return 0;
}

int dc__buf_puts(dc_buf *b, const char *s)
{
    return dc__buf_append(b, s, strlen(s));
}

int dc__buf_vprintf(dc_buf *b, const char *fmt, va_list ap)
{
    /* Format straight into the free room (at least 64 bytes), and a second
     * time only when the result is longer: keys and messages are short. */
    if (dc__buf_reserve(b, 64) != 0) return -1;
    size_t room = b->cap - b->len; /* counting the terminator */
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(b->p + b->len, room, fmt, cp);
    va_end(cp);
    if (n >= 0 && (size_t)n >= room) {
        if (dc__buf_reserve(b, (size_t)n) != 0)
            n = -1;
        else
            vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    }
    if (n < 0) { /* the contents stay as they were */
        b->p[b->len] = '\0';
        return -1;
    }
    b->len += (size_t)n;
    return 0;
}

int dc__buf_printf(dc_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = dc__buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void dc__buf_reset(dc_buf *b)
{
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

void dc__buf_free(dc_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *dc__buf_steal(dc_buf *b)
{
    char *p = b->p;
    if (!p) p = calloc(1, 1);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
