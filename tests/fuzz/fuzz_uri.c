/*
 * Fuzz target: the store URI parser (core/util/uri.c) and its redaction for
 * log lines. A parse that succeeds must give a non-empty scheme; the
 * redacted copy must be NUL-terminated inside its buffer whatever the input.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    dc_uri u;
    char err[256];
    int rc = dc__uri_parse(text, &u, err, sizeof err);
    if (rc == 0 && (!u.scheme || !u.scheme[0])) abort();
    if (rc == 0)
        for (size_t i = 0; i < u.n_hosts; i++)
            if (u.hosts[i].port < 0 || u.hosts[i].port > 65535) abort();
    dc__uri_free(&u);
    char red[64];
    memset(red, 'x', sizeof red);
    dc__uri_redact(text, red, sizeof red);
    if (!memchr(red, '\0', sizeof red)) abort();
    free(text);
    return 0;
}
