/*
 * Store URI parsing: scheme://[user[:password]@]host[:port][,host[:port]…][/path][?k=v&…]
 * User, password, path and query parts are percent-decoded. Hosts may be
 * bracketed IPv6 literals ([::1]:2379).
 */
#ifndef DC_UTIL_URI_H
#define DC_UTIL_URI_H

#include <stddef.h>

typedef struct dc_uri_host {
    char *host;
    int port; /* 0 if absent */
} dc_uri_host;

typedef struct dc_uri_param {
    char *key;
    char *value;
} dc_uri_param;

typedef struct dc_uri {
    char *scheme;   /* lower-cased, e.g. "etcd+https" */
    char *user;     /* NULL if absent */
    char *password; /* NULL if absent */
    dc_uri_host *hosts;
    size_t n_hosts;
    char *path; /* "" if absent; without the leading '/' */
    dc_uri_param *params;
    size_t n_params;
} dc_uri;

/* Parse text into *out (which the caller frees with dc__uri_free, also on
 * error). Returns 0, -1 on a syntax error (a message goes to err), -2 when
 * out of memory. The message never holds the URI's user info (see
 * dc__uri_redact). */
int dc__uri_parse(const char *text, dc_uri *out, char *err, size_t errlen);
void dc__uri_free(dc_uri *uri);

/* A copy of uri fit to print into buf (always NUL-terminated, truncated to
 * len): user info becomes "***", and so do the values of query parameters
 * whose name says secret (password, secret, token, auth). What cannot be
 * parsed with confidence is hidden rather than guessed at: with an '@' after
 * the host part, or a host part that is not host[:port],… only the scheme
 * shows (then three stars); text without a scheme shows only when it holds
 * no '@' and no ':'. Returns buf. Works on any input and
 * allocates nothing, so it is safe in error paths. dc_uri_redact (store.h)
 * is the public name of the same function. */
char *dc__uri_redact(const char *uri, char *buf, size_t len);

#endif
