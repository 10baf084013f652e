/*
 * Leader election over the store API (etcd's election recipe, built once so
 * that it works on every backend).
 *
 * Each candidate grants a lease and creates the key <prefix><lease id in hex>
 * with it (value: the candidate's name). The live key with the lowest
 * create_revision leads; every other candidate watches the key just ahead of
 * its own and re-checks when it goes away, so a leader's death wakes exactly
 * one successor. A background thread keeps the lease alive; if a keepalive
 * fails (the lease expired, e.g. the process was paused past its TTL) or the
 * key disappears, the handle reports the leadership as lost.
 *
 * Fencing: while leading, dc_election_fence() gives the leader key and its
 * create_revision. A leader adds the compare create_revision(key) == rev to
 * every write it makes, so once its key is gone (lease expired, resigned) its
 * writes fail even if it has not noticed yet.
 *
 * A dc_election is used by one thread at a time, except dc_election_lost and
 * dc_election_fence, which may be called from any thread.
 */
#ifndef DDLCOORD_ELECTION_H
#define DDLCOORD_ELECTION_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dc_election dc_election;

/* Create a candidate named name (any bytes, NUL-terminated) under prefix
 * (e.g. "/ddlcoord/ddlcoord/election/"), with a lease of ttl_seconds. Does not
 * campaign yet. The store must outlive the handle. Errors: DC_EINVAL,
 * DC_ENOMEM. */
DC_API int dc_election_new(dc_store *store, const char *prefix, const char *name,
                           int64_t ttl_seconds, dc_election **out);

/* Become a candidate (first call: grant the lease, create the key, start the
 * keepalive thread) and wait up to timeout_ms (-1 forever) to become leader.
 * DC_OK: this candidate leads. DC_ETIMEDOUT: not yet (call again to keep
 * waiting; the candidacy stays). DC_ECHANGED: the candidacy was lost (lease
 * expired); call again to start a new one. Store errors otherwise. Blocks. */
DC_API int dc_election_campaign(dc_election *e, int timeout_ms);

/* 1 if this candidate led and has since lost the lease or its key (a deposed
 * leader must stop acting), else 0. Thread-safe, does not block. */
DC_API int dc_election_lost(dc_election *e);

/* While leading: the leader key (owned by e, valid until the next campaign or
 * close) and its create_revision, for fencing compares. DC_ENOTFOUND if not
 * leading. Thread-safe. */
DC_API int dc_election_fence(dc_election *e, const char **key, size_t *key_len,
                             int64_t *create_revision);

/* Step down: revoke the lease (deleting the key, so the next candidate leads
 * at once) and stop the keepalive thread. The handle may campaign again. */
DC_API int dc_election_resign(dc_election *e);

/* The current leader's name (malloc'd, caller frees) and create_revision, read
 * from the store. DC_ENOTFOUND when nobody leads. Needs no handle. */
DC_API int dc_election_leader(dc_store *store, const char *prefix, char **name,
                              int64_t *create_revision);

/* Resign if needed and free. NULL is a no-op. */
DC_API void dc_election_free(dc_election *e);

#ifdef __cplusplus
}
#endif
#endif
