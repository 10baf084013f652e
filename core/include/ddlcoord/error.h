/*
 * ddlcoord error codes.
 *
 * Every dc_ call that can fail returns an int: DC_OK (0) on success or one of
 * the negative DC_E… codes below. The code says *what kind* of failure it was
 * (so callers can decide to retry, re-read, or give up); the detail of the last
 * failure ("etcd 127.0.0.1:2379: txn has 131 ops, limit 128") is kept per
 * thread and can be read with dc_last_error() right after the failing call.
 *
 * Codes are stable: new codes are only ever appended.
 */
#ifndef DDLCOORD_ERROR_H
#define DDLCOORD_ERROR_H

#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    DC_OK = 0,
    /* The key, lease or object asked for does not exist. */
    DC_ENOTFOUND = -1,
    /* The requested revision is older than the compaction point. A watch that
     * ends with this code carries the compact revision (dc_watch_compact_revision). */
    DC_ECOMPACTED = -2,
    /* The backend cannot be reached right now; retrying later may succeed.
     * Nothing was written. */
    DC_EUNAVAILABLE = -3,
    /* The call did not finish within its timeout. For a write, see
     * DC_EUNKNOWN: a timeout before the request was sent is reported as this. */
    DC_ETIMEDOUT = -4,
    /* A write was sent but its answer was lost: it may or may not have been
     * applied. Re-read before retrying anything that is not idempotent. */
    DC_EUNKNOWN = -5,
    /* Authentication failed or permission was denied. */
    DC_EAUTH = -6,
    /* An argument is invalid (empty key, bad flags, bad URI, duplicate key in a txn…). */
    DC_EINVAL = -7,
    /* A key, value, txn or request is larger than the backend accepts. */
    DC_ETOOBIG = -8,
    /* Data read from the backend is not in the expected format. */
    DC_ECORRUPT = -9,
    /* Out of memory. */
    DC_ENOMEM = -10,
    /* The backend or driver does not support this operation. */
    DC_EUNSUPPORTED = -11,
    /* No driver plugin could be loaded for the URI's scheme (file or symbol missing). */
    DC_ENODRIVER = -12,
    /* The driver plugin was built for an ABI this library cannot use. */
    DC_EABI = -13,
    /* The handle was closed, or the watch has ended. */
    DC_ECLOSED = -14,
    /* Protocol: a source reported DDLs that conflict with the open lock's DDLs. */
    DC_ECONFLICT = -15,
    /* Protocol: a compare-guarded write lost its race (the guarded key changed,
     * e.g. a deposed leader's fencing compare failed). */
    DC_ECHANGED = -16,
    /* An internal invariant was broken; this is a bug in ddlcoord. */
    DC_EINTERNAL = -17,
    /* Protocol: this (task, source, position) was already resolved; skip the DDL. */
    DC_ERESOLVED = -18,
    /* The store's history was reset: it lost data or its revisions went
     * backwards (a Redis restart without its AOF, a FLUSHALL, a fail-over to a
     * lagging replica, a restore from an old snapshot). The handle that saw it
     * is poisoned: every later call on it, and every watch open on it, returns
     * this code until it is closed. Close it, open a new one and start over
     * (re-read, re-watch, re-grant leases); nothing learned before still holds. */
    DC_ERESET = -19,
    /* Protocol: another live worker holds this task and source. */
    DC_EBUSY = -20,
    /* Protocol: refused because the lock's owner may have executed its DDLs
     * (an execution intent without a done operation); an operator must say
     * whether it did (unlock --assume-executed / --assume-not-executed). */
    DC_EUNCERTAIN = -21,
};

/* A static, human readable description of code ("key not found"). Never NULL;
 * unknown codes give "unknown error". Thread-safe. */
DC_API const char *dc_strerror(int code);

/* The symbolic name of code ("DC_ENOTFOUND"). Never NULL. Thread-safe. */
DC_API const char *dc_errname(int code);

/* The detail message of the last failing dc_ call made by the calling thread,
 * or "" if none failed yet. The string is owned by the library and valid until
 * the next dc_ call on the same thread. */
DC_API const char *dc_last_error(void);

/* 1 if code is worth retrying as is (DC_EUNAVAILABLE, DC_ETIMEDOUT), else 0.
 * DC_EUNKNOWN is deliberately not retryable: the write may have happened. */
DC_API int dc_error_retryable(int code);

#ifdef __cplusplus
}
#endif
#endif
