/*
 * Name escaping for log lines (see esc.h): control bytes and backslashes
 * become C-style escapes, everything else is copied, and what does not fit
 * is cut with "...".
 */
#include "esc.h"

#include <stdio.h>

const char *dc__esc(const char *s, char *buf, size_t len)
{
    if (!s) s = "-";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[5];
        size_t n = 1;
        tmp[0] = (char)*p;
        if (*p == '\\' || *p == '\n' || *p == '\r' || *p == '\t') {
            tmp[0] = '\\';
            tmp[1] = *p == '\\' ? '\\' : *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
            n = 2;
        } else if (*p < 0x20 || *p == 0x7f) {
            snprintf(tmp, sizeof tmp, "\\x%02x", *p);
            n = 4;
        }
        if (o + n + 4 > len) { /* keep room for "..." and the NUL */
            buf[o++] = '.';
            buf[o++] = '.';
            buf[o++] = '.';
            break;
        }
        for (size_t i = 0; i < n; i++) buf[o++] = tmp[i];
    }
    buf[o] = '\0';
    return buf;
}

const char *dc__e(const char *s)
{
    static _Thread_local char ring[DC_ESC_SLOTS][DC_ESC_SIZE];
    static _Thread_local unsigned next;
    char *buf = ring[next++ % DC_ESC_SLOTS];
    return dc__esc(s, buf, DC_ESC_SIZE);
}
