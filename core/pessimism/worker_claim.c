/*
 * One live worker per (task, source) (docs/DESIGN.md, "One live worker"):
 * dc_worker_claim makes the worker a candidate in an election of its own
 * under NS/ddlcoord/worker/<hex task>/<hex source>/ (core/election: a
 * lease-backed key, the lowest create revision holds it, a thread keeps the
 * lease alive). Two live workers for one source would both act on its
 * operation; with the claim the second one waits and then gets DC_EBUSY.
 *
 * A worker that crashed (kill -9) cannot revoke its lease: its key stays
 * until the lease expires, one TTL after its last keepalive. So a new
 * worker waits two TTLs (and two seconds) for the key ahead of it to go: a
 * re-run after a crash takes over without failing, a second live worker
 * (whose rival keeps its lease alive) is refused.
 */
#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"

int dc_worker_claim(dc_worker *w, int64_t ttl_seconds)
{
    if (ttl_seconds < 1 || ttl_seconds > 3600)
        return dc__error(DC_EINVAL, "worker claim: the TTL must be 1..3600 seconds");
    if (w->claim && !dc_election_lost(w->claim)) return DC_OK;
    dc_election_free(w->claim);
    w->claim = NULL;
    char *prefix = NULL;
    int rc = dcp_worker_prefix(w->ns, w->task, w->source, &prefix);
    if (rc) return rc;
    char name[320], host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    snprintf(name, sizeof name, "%s:%ld", host, (long)getpid());
    rc = dc_election_new(w->store, prefix, name, ttl_seconds, &w->claim);
    if (rc) {
        free(prefix);
        return rc;
    }
    w->claim_ttl = ttl_seconds;
    /* A dead holder's lease expires one TTL after its last keepalive; some
     * backends reap expired leases a little later (a reaper pass, a loaded
     * server): twice the TTL and two seconds. */
    int64_t wait_s = 2 * ttl_seconds + 2;
    int64_t deadline = dc__now_ms() + wait_s * 1000;
    int logged = 0;
    for (;;) {
        int64_t left = deadline - dc__now_ms();
        if (left <= 0) {
            rc = DC_ETIMEDOUT;
            break;
        }
        rc = dc_election_campaign(w->claim, (int)(left < 1000 ? left : 1000));
        if (rc == DC_OK) {
            dc_log(DC_LOG_INFO, PESS, "worker %s of task %s: live (lease TTL %llds)",
                   dc__e(w->source), dc__e(w->task), (long long)ttl_seconds);
            free(prefix);
            return DC_OK;
        }
        if (rc == DC_ETIMEDOUT && !logged++)
            dc_log(DC_LOG_WARN, PESS,
                   "worker %s of task %s: another worker holds it; waiting up to %llds for its "
                   "lease to expire",
                   dc__e(w->source), dc__e(w->task), (long long)wait_s);
        if (rc != DC_ETIMEDOUT && rc != DC_ECHANGED) break;
    }
    char *holder = NULL;
    if (rc == DC_ETIMEDOUT && dc_election_leader(w->store, prefix, &holder, NULL) != DC_OK)
        holder = NULL;
    dc_election_free(w->claim); /* withdraws our candidacy */
    w->claim = NULL;
    free(prefix);
    if (rc == DC_ETIMEDOUT) {
        rc = dc__error(DC_EBUSY,
                       "worker %s of task %s: another live worker (%s) runs for this source",
                       dc__e(w->source), dc__e(w->task), holder ? dc__e(holder) : "?");
        dc_log(DC_LOG_ERROR, PESS, "%s", dc_last_error());
    }
    free(holder);
    return rc;
}
