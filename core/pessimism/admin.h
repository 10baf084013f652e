/*
 * Admin requests inside core/pessimism: the JSON codec of requests and
 * answers, shared by the client side (admin_client.c) and the master that
 * serves them (master_admin.c). Key layout and life cycle are in
 * pessimism_admin.h and docs/DESIGN.md ("Admin requests").
 *
 *   request  {"op":"unlock","lock_id":…,"owner":…,"force_remove":bool,
 *             "assume":"executed"|"not-executed","wait_ms":N}
 *            {"op":"remove-meta","task":…}
 *   answer   {"ok":bool,"code":N,"message":…,"master":…}
 *
 * Every number is range-checked before it is converted (a request or an
 * answer is data from the store, and a double out of an int's range is
 * undefined behaviour to cast).
 */
#ifndef DC_PESS_ADMIN_H
#define DC_PESS_ADMIN_H

#include "pess.h"

enum { ADMIN_UNLOCK = 1, ADMIN_REMOVE_META = 2 };

/* One request. Strings are malloc'd, NULL when absent. */
typedef struct admin_req {
    int op;
    char *lock_id; /* unlock */
    char *owner;
    int force_remove;
    int assume;      /* dc_assume */
    int64_t wait_ms; /* 0 = the master's default */
    char *task;      /* remove-meta */
} admin_req;

void dcp_admin_req_clear(admin_req *r);
/* *json malloc'd. DC_EINVAL (incomplete request), DC_ENOMEM. */
int dcp_admin_req_encode(const admin_req *r, char **json);
/* Decode a request read from key (for messages). DC_ECORRUPT (not JSON, a
 * field of the wrong type, an unknown op), DC_EINVAL (a field out of range:
 * wait_ms beyond 0..DC_UNLOCK_MAX_WAIT_MS, an unknown assumption, a missing
 * lock ID or task); the detail says which. */
int dcp_admin_req_decode(const char *key, const void *value, size_t len, admin_req *out);

/* *json malloc'd. DC_ENOMEM. */
int dcp_admin_answer_encode(int code, const char *message, const char *master, char **json);
/* DC_ECORRUPT for anything but a well-formed answer with an error code in range. */
int dcp_admin_answer_decode(const void *value, size_t len, dc_admin_answer *out);

#endif
