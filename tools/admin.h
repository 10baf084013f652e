/*
 * Admin requests: how `ddlcoord unlock` and `ddlcoord remove-meta` reach the
 * leading master through the store (DESIGN §6), with no RPC.
 *
 *   NS/ddlcoord/admin/request/<id>  {"op":"unlock","lock_id":…,"owner":…,
 *                                    "force_remove":bool,"wait_ms":N}
 *                                   {"op":"remove-meta","task":…}
 *   NS/ddlcoord/admin/answer/<id>   {"ok":bool,"code":"DC_…","message":…,"master":…}
 *
 * The client puts its request with a lease of its own; the leader answers
 * with the same lease, in a txn fenced by its leader key and guarded by the
 * request's create_revision. Revoking the lease (the client does once it has
 * the answer, or when it gives up) deletes both keys, so a request nobody
 * answered in time is withdrawn rather than executed later by surprise.
 */
#ifndef DCX_ADMIN_H
#define DCX_ADMIN_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>

/* One decoded request. Strings are malloc'd (NULL when absent). */
typedef struct dcx_admin_req {
    char *op; /* "unlock" or "remove-meta" */
    char *lock_id;
    char *owner;
    int force_remove;
    int64_t wait_ms;
    char *task;
} dcx_admin_req;

void dcx_admin_req_clear(dcx_admin_req *r);

/* The answer as the client sees it. */
typedef struct dcx_admin_answer {
    int ok;
    int code; /* a DC_E… code, DC_OK when ok */
    char *message;
    char *master;
} dcx_admin_answer;

void dcx_admin_answer_clear(dcx_admin_answer *a);

/* Prefix of requests or answers ("request" / "answer"), malloc'd. */
char *dcx_admin_prefix(const char *ns, const char *kind);

/* Client: write req, wait up to timeout_ms for the leader's answer, withdraw
 * the request. DC_OK with *ans filled; DC_ETIMEDOUT when no master answered;
 * DC_ECORRUPT for an undecodable answer; store errors. */
int dcx_admin_call(dc_store *store, const char *ns, const dcx_admin_req *req, int64_t timeout_ms,
                   dcx_admin_answer *ans);

/* Master: decode a request value (DC_ECORRUPT with dc_last_error's detail). */
int dcx_admin_req_decode(const char *value, size_t len, dcx_admin_req *out);

/* Master: answer the request stored at req_key (created at req_create_rev,
 * with lease) in one txn guarded by the fence (fence_key NULL = none) and by
 * the request still being there. DC_ECHANGED: the fence failed (this master
 * is deposed); DC_ENOTFOUND: the request is gone (withdrawn). */
int dcx_admin_answer_put(dc_store *store, const char *ns, const char *req_key, size_t req_key_len,
                         int64_t req_create_rev, int64_t lease, const char *fence_key,
                         size_t fence_key_len, int64_t fence_rev, int code, const char *message,
                         const char *master);

#endif
