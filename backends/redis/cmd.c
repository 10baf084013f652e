/*
 * Command builder: an argv/argvlen pair for redisCommandArgv, built argument
 * by argument. Arguments are copied, so callers can pass temporaries; an
 * allocation failure is remembered (c->oom) and reported once when the
 * command is sent, which keeps the call sites free of error checks.
 */
#include "redis.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rd_cmd_init(rd_cmd *c)
{
    memset(c, 0, sizeof *c);
}

void rd_cmd_free(rd_cmd *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->v[i]);
    free(c->v);
    free(c->len);
    memset(c, 0, sizeof *c);
}

static char *slot(rd_cmd *c, size_t len)
{
    if (c->oom) return NULL;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **v = realloc(c->v, cap * sizeof *v);
        if (!v) {
            c->oom = 1;
            return NULL;
        }
        c->v = v;
        size_t *l = realloc(c->len, cap * sizeof *l);
        if (!l) {
            c->oom = 1;
            return NULL;
        }
        c->len = l;
        c->cap = cap;
    }
    char *p = malloc(len + 1);
    if (!p) {
        c->oom = 1;
        return NULL;
    }
    p[len] = '\0';
    c->v[c->n] = p;
    c->len[c->n] = len;
    c->n++;
    return p;
}

void rd_cmd_add(rd_cmd *c, const void *p, size_t len)
{
    char *d = slot(c, len);
    if (d && len) memcpy(d, p, len);
}

void rd_cmd_str(rd_cmd *c, const char *s)
{
    rd_cmd_add(c, s, strlen(s));
}

void rd_cmd_int(rd_cmd *c, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%" PRId64, v);
    rd_cmd_add(c, b, (size_t)n);
}

void rd_cmd_key(rd_cmd *c, const rd_store *s, const char *suffix, const void *tail, size_t tail_len)
{
    size_t sl = strlen(suffix);
    char *d = slot(c, s->base_len + sl + tail_len);
    if (!d) return;
    memcpy(d, s->base, s->base_len);
    memcpy(d + s->base_len, suffix, sl);
    if (tail_len) memcpy(d + s->base_len + sl, tail, tail_len);
}
