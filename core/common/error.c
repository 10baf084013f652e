/*
 * Error codes, their names and messages, and the per-thread detail of the
 * last failure (like errno plus sqlite3_errmsg, but per thread so that a
 * store shared by threads never mixes up two callers' messages).
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[512];

static const struct {
    int code;
    const char *name;
    const char *text;
} errors[] = {
    {DC_OK, "DC_OK", "success"},
    {DC_ENOTFOUND, "DC_ENOTFOUND", "not found"},
    {DC_ECOMPACTED, "DC_ECOMPACTED", "revision has been compacted"},
    {DC_EUNAVAILABLE, "DC_EUNAVAILABLE", "backend unavailable"},
    {DC_ETIMEDOUT, "DC_ETIMEDOUT", "timed out"},
    {DC_EUNKNOWN, "DC_EUNKNOWN", "outcome unknown (the write may or may not have been applied)"},
    {DC_EAUTH, "DC_EAUTH", "authentication failed or permission denied"},
    {DC_EINVAL, "DC_EINVAL", "invalid argument"},
    {DC_ETOOBIG, "DC_ETOOBIG", "too large"},
    {DC_ECORRUPT, "DC_ECORRUPT", "corrupt data"},
    {DC_ENOMEM, "DC_ENOMEM", "out of memory"},
    {DC_EUNSUPPORTED, "DC_EUNSUPPORTED", "not supported"},
    {DC_ENODRIVER, "DC_ENODRIVER", "driver plugin not found"},
    {DC_EABI, "DC_EABI", "driver plugin ABI mismatch"},
    {DC_ECLOSED, "DC_ECLOSED", "closed"},
    {DC_ECONFLICT, "DC_ECONFLICT", "conflicting DDL"},
    {DC_ECHANGED, "DC_ECHANGED", "guarded key changed"},
    {DC_EINTERNAL, "DC_EINTERNAL", "internal error"},
    {DC_ERESOLVED, "DC_ERESOLVED", "already resolved"},
    {DC_ERESET, "DC_ERESET", "store history was reset"},
    {DC_EBUSY, "DC_EBUSY", "another live worker holds this task and source"},
    {DC_EUNCERTAIN, "DC_EUNCERTAIN", "the lock's owner may have executed: an operator must decide"},
};

const char *dc_strerror(int code)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == code) return errors[i].text;
    return "unknown error";
}

const char *dc_errname(int code)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == code) return errors[i].name;
    return "DC_E?";
}

int dc_error_retryable(int code)
{
    return code == DC_EUNAVAILABLE || code == DC_ETIMEDOUT;
}

const char *dc_last_error(void)
{
    return last_error;
}

int dc__error(int code, const char *fmt, ...)
{
    if (code == DC_OK) {
        last_error[0] = '\0';
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code;
}

int dc__error_store(dc_store *s, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (s) {
        pthread_mutex_lock(&s->err_mu);
        snprintf(s->errmsg, sizeof s->errmsg, "%s", last_error);
        pthread_mutex_unlock(&s->err_mu);
    }
    return code;
}

int dc__nomem(const char *where)
{
    return where ? dc__error(DC_ENOMEM, "%s: out of memory", where)
                 : dc__error(DC_ENOMEM, "out of memory");
}

int dc__nomem_store(dc_store *s, const char *where)
{
    return where ? dc__error_store(s, DC_ENOMEM, "%s: out of memory", where)
                 : dc__error_store(s, DC_ENOMEM, "out of memory");
}

