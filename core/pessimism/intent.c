/*
 * Where a lock's owner stands with its operation, read from the two keys
 * that say it: its operation (the master's decision, and done) and its
 * resolution marker (the worker's execution intent and its result). This is
 * the one place that reads the execution intent (docs/DESIGN.md,
 * "Execution intent"), for the master's takeovers and for every status view.
 *
 *   no operation of this lock        OWNER_IDLE
 *   operation done                   OWNER_DONE
 *   marker: intent for this op rev   OWNER_INTENT    (uncertain: it may have executed)
 *   marker: executed, not done       OWNER_EXECUTED  (it ran; its done txn is to come)
 *   anything else                    OWNER_IDLE      (nothing ran: it may be fenced)
 *
 * "For this op rev": a marker speaks about the operation at exactly the
 * mod_revision it names. An intent for an earlier revision of the same lock
 * (the owner was fenced since, or its operation put again) is about another
 * decision: it does not make the current one uncertain.
 */
#include "pess.h"

#include <string.h>

int dcp_owner_of(const dc_kv *op_kv, const dc_kv *mk_kv, const char *lock_id, pess_owner *st)
{
    memset(st, 0, sizeof *st);
    if (!op_kv) return DC_OK;
    dc_operation *op = NULL;
    int rc = dc_operation_decode(op_kv->key, op_kv->value, op_kv->value_len, &op);
    if (rc == DC_ENOMEM) return rc;
    if (rc || strcmp(op->id, lock_id) != 0) {
        dc_operation_free(op);
        return DC_OK; /* not this lock's (or unreadable): nothing of it is out */
    }
    st->op_rev = op_kv->mod_revision;
    st->exec = op->exec;
    st->state = op->done ? OWNER_DONE : OWNER_IDLE;
    dc_operation_free(op);
    if (st->state == OWNER_DONE || !mk_kv) return DC_OK;
    pess_marker *mk = NULL;
    rc = dcp_marker_decode(mk_kv->key, mk_kv->value, mk_kv->value_len, &mk);
    if (rc == DC_ENOMEM) return rc;
    if (!rc && !mk->done && mk->op_revision == op_kv->mod_revision &&
        strcmp(mk->id, lock_id) == 0) {
        st->state = mk->intent ? OWNER_INTENT : OWNER_EXECUTED;
        st->attempt = mk->attempt > 0 ? mk->attempt : 1;
    }
    dcp_marker_free(mk);
    return DC_OK;
}

void dcp_status_owner(const pess_owner *o, dc_lock_status *st)
{
    st->uncertain = o->state == OWNER_INTENT;
    st->attempt = o->state == OWNER_INTENT || o->state == OWNER_EXECUTED ? o->attempt : 0;
    st->intent_revision = st->attempt ? o->op_rev : 0;
    if (o->state == OWNER_EXECUTED || (o->state == OWNER_DONE && o->exec)) st->executed = 1;
}
