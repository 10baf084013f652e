/*
 * A small URI parser for store URIs. Hand-written because the shapes we accept
 * (several comma-separated hosts in the authority) are not standard URIs that
 * a general URI library would parse. Also the redaction every message that
 * shows a URI goes through, so that a password never reaches a log line, an
 * error detail or the command's output; it works on malformed text too,
 * since a typo is exactly when a URI gets printed.
 */
#include "uri.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Percent-decode s[0..n) into a new string; NULL on bad escapes or no memory
 * (*oom tells which). */
static char *decode(const char *s, size_t n, int *oom)
{
    char *o = malloc(n + 1), *w = o;
    if (!o) {
        *oom = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(o);
                return NULL;
            }
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) {
                free(o);
                return NULL;
            }
            *w++ = (char)(h << 4 | l);
            i += 2;
        } else {
            *w++ = s[i];
        }
    }
    *w = '\0';
    return o;
}

void dc__uri_free(dc_uri *u)
{
    if (!u) return;
    free(u->scheme);
    free(u->user);
    free(u->password);
    for (size_t i = 0; i < u->n_hosts; i++) free(u->hosts[i].host);
    free(u->hosts);
    free(u->path);
    for (size_t i = 0; i < u->n_params; i++) {
        free(u->params[i].key);
        free(u->params[i].value);
    }
    free(u->params);
    memset(u, 0, sizeof *u);
}

/* Append s[0..n) to buf at *at (truncating; buf stays NUL-terminated). */
static void put(char *buf, size_t len, size_t *at, const char *s, size_t n)
{
    if (*at + 1 >= len) return;
    size_t room = len - 1 - *at;
    if (n > room) n = room;
    memcpy(buf + *at, s, n);
    *at += n;
    buf[*at] = '\0';
}

static int secret_name(const char *k, size_t n)
{
    static const char *const words[] = {"pass", "secret", "token", "auth"};
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++)
            if (strncasecmp(k + i, words[w], wl) == 0) return 1;
    }
    return 0;
}

/* Does [h, e) look like a host list (name or [v6], optional :digits, comma
 * separated)? Anything else may be a mistyped password. */
static int plain_hosts(const char *h, const char *e)
{
    while (h < e) {
        const char *c = h;
        if (*c == '[') {
            while (c < e && *c != ']') c++;
            if (c == e) return 0;
            c++;
        } else {
            while (c < e && (isalnum((unsigned char)*c) || *c == '.' || *c == '-' || *c == '_'))
                c++;
        }
        if (c < e && *c == ':') {
            c++;
            if (c == e || !isdigit((unsigned char)*c)) return 0;
            while (c < e && isdigit((unsigned char)*c)) c++;
        }
        if (c < e && *c != ',') return 0;
        h = c < e ? c + 1 : c;
    }
    return 1;
}

char *dc__uri_redact(const char *uri, char *buf, size_t len)
{
    if (!buf || !len) return buf;
    buf[0] = '\0';
    size_t at = 0;
    if (!uri) {
        put(buf, len, &at, "(none)", 6);
        return buf;
    }
    const char *sep = strstr(uri, "://");
    int scheme_ok = sep && sep > uri;
    for (const char *p = uri; scheme_ok && p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.') scheme_ok = 0;
    if (!scheme_ok) {
        /* not scheme://…: show it only if nothing in it can be a password */
        if (strpbrk(uri, "@:"))
            put(buf, len, &at, "***", 3);
        else
            put(buf, len, &at, uri, strlen(uri));
        return buf;
    }
    const char *a = sep + 3, *aend = a + strcspn(a, "/?#");
    put(buf, len, &at, uri, (size_t)(a - uri));
    if (strchr(aend, '@')) { /* an '@' past the host part: where does user info end? */
        put(buf, len, &at, "***", 3);
        return buf;
    }
    const char *host = a;
    for (const char *p = a; p < aend; p++)
        if (*p == '@') host = p + 1;
    if (!plain_hosts(host, aend)) { /* "bob:secret" with the '@host' forgotten, say */
        put(buf, len, &at, "***", 3);
        return buf;
    }
    if (host != a) put(buf, len, &at, "***@", 4);
    const char *qm = strchr(aend, '?');
    put(buf, len, &at, host, (size_t)((qm ? qm : aend + strlen(aend)) - host));
    if (!qm) return buf;
    /* the query: hide the values of parameters named like secrets */
    const char *q = qm + 1;
    put(buf, len, &at, "?", 1);
    while (*q) {
        size_t n = strcspn(q, "&#");
        const char *eq = memchr(q, '=', n);
        if (eq && secret_name(q, (size_t)(eq - q))) {
            put(buf, len, &at, q, (size_t)(eq - q) + 1);
            put(buf, len, &at, "***", 3);
        } else if (!eq && secret_name(q, n)) {
            put(buf, len, &at, "***", 3);
        } else {
            put(buf, len, &at, q, n);
        }
        q += n;
        if (*q) put(buf, len, &at, q++, 1);
    }
    return buf;
}

#define FAIL(...)                           \
    do {                                    \
        snprintf(err, errlen, __VA_ARGS__); \
        return -1;                          \
    } while (0)
#define OOM()                                   \
    do {                                        \
        snprintf(err, errlen, "out of memory"); \
        return -2;                              \
    } while (0)

static int parse_host(const char *s, size_t n, dc_uri *u, char *err, size_t errlen)
{
    const char *end = s + n, *colon = NULL;
    const char *hs = s, *he;
    if (n && *s == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb) FAIL("unterminated '[' in host");
        hs = s + 1;
        he = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':') FAIL("junk after ']' in host");
            colon = rb + 1;
        }
    } else {
        colon = memchr(s, ':', n);
        he = colon ? colon : end;
    }
    if (he == hs) FAIL("empty host");
    int port = 0;
    if (colon) {
        if (colon + 1 == end) FAIL("empty port");
        for (const char *p = colon + 1; p < end; p++) {
            if (!isdigit((unsigned char)*p))
                FAIL("a port is not a number"); /* not echoed: it may be a password */
            port = port * 10 + (*p - '0');
            if (port > 65535) FAIL("port out of range");
        }
        if (port == 0) FAIL("port 0");
    }
    dc_uri_host *h = realloc(u->hosts, (u->n_hosts + 1) * sizeof *h);
    if (!h) OOM();
    u->hosts = h;
    char *name = strndup(hs, (size_t)(he - hs));
    if (!name) OOM();
    u->hosts[u->n_hosts].host = name;
    u->hosts[u->n_hosts].port = port;
    u->n_hosts++;
    return 0;
}

int dc__uri_parse(const char *text, dc_uri *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    int oom = 0;
    if (!text) FAIL("no URI");
    char shown[256];
    dc__uri_redact(text, shown, sizeof shown);
    const char *sep = strstr(text, "://");
    if (!sep || sep == text) FAIL("'%s' is not a URI (scheme://…)", shown);
    for (const char *p = text; p < sep; p++)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            FAIL("bad scheme in '%s'", shown);
    u->scheme = strndup(text, (size_t)(sep - text));
    if (!u->scheme) OOM();
    for (char *p = u->scheme; *p; p++) *p = (char)tolower((unsigned char)*p);

    const char *a = sep + 3;
    const char *qm = strchr(a, '?');
    const char *aend = a + strcspn(a, "/?");
    const char *pend = qm ? qm : a + strlen(a);

    /* userinfo: the last '@' inside the authority */
    const char *at = NULL;
    for (const char *p = a; p < aend; p++)
        if (*p == '@') at = p;
    if (at) {
        const char *colon = memchr(a, ':', (size_t)(at - a));
        const char *ue = colon ? colon : at;
        u->user = decode(a, (size_t)(ue - a), &oom);
        if (!u->user) {
            if (oom) OOM();
            FAIL("bad escape in user name");
        }
        if (colon) {
            u->password = decode(colon + 1, (size_t)(at - colon - 1), &oom);
            if (!u->password) {
                if (oom) OOM();
                FAIL("bad escape in password");
            }
        }
        a = at + 1;
    }
    /* hosts */
    const char *h = a;
    while (h < aend) {
        const char *c = h;
        int depth = 0;
        while (c < aend && (depth || *c != ',')) {
            if (*c == '[') depth = 1;
            if (*c == ']') depth = 0;
            c++;
        }
        int rc = parse_host(h, (size_t)(c - h), u, err, errlen);
        if (rc) return rc;
        h = c < aend ? c + 1 : c;
        if (c < aend && h == aend) FAIL("trailing ',' in host list");
    }
    /* path */
    const char *ps = aend < pend && *aend == '/' ? aend + 1 : pend;
    u->path = decode(ps, (size_t)(pend - ps), &oom);
    if (!u->path) {
        if (oom) OOM();
        FAIL("bad escape in path");
    }
    /* query */
    if (qm) {
        const char *q = qm + 1;
        while (*q) {
            size_t n = strcspn(q, "&");
            if (n) {
                const char *eq = memchr(q, '=', n);
                if (!eq || eq == q)
                    FAIL("query parameter %zu of '%s' is not key=value", u->n_params + 1, shown);
                dc_uri_param *np = realloc(u->params, (u->n_params + 1) * sizeof *np);
                if (!np) OOM();
                u->params = np;
                dc_uri_param *pp = &u->params[u->n_params];
                pp->key = decode(q, (size_t)(eq - q), &oom);
                pp->value = pp->key ? decode(eq + 1, (size_t)(q + n - eq - 1), &oom) : NULL;
                if (!pp->key || !pp->value) {
                    free(pp->key);
                    free(pp->value);
                    if (oom) OOM();
                    FAIL("bad escape in query");
                }
                u->n_params++;
            }
            q += n;
            if (*q == '&') q++;
        }
    }
    return 0;
}
