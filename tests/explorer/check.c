/*
 * The explorer's invariant checkers (explorer.h). Each takes what a schedule
 * observed and records a violation in plain words; none of them looks at the
 * library's internals, only at the downstream model, the store's events and
 * the public lock status.
 */
#include "explorer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int xc_init(xc_state *s, size_t n_jobs)
{
    memset(s, 0, sizeof *s);
    s->jobs = calloc(n_jobs ? n_jobs : 1, sizeof *s->jobs);
    if (!s->jobs) return -1;
    s->n_jobs = n_jobs;
    return 0;
}

void xc_free(xc_state *s)
{
    free(s->jobs);
    s->jobs = NULL;
}

int xc_fail(xc_state *s, const char *fmt, ...)
{
    if (s->n_viol < XC_MAX_VIOL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->viol[s->n_viol], sizeof s->viol[0], fmt, ap);
        va_end(ap);
    }
    s->n_viol++;
    return 1;
}

int xc_exec(xc_state *s, size_t job, const char *source, int64_t attempt)
{
    if (job >= s->n_jobs) return xc_fail(s, "exec of unknown job %zu by %s", job, source);
    xc_job *j = &s->jobs[job];
    if (j->applied == 0) {
        j->applied = 1;
        snprintf(j->by, sizeof j->by, "%s", source);
        return 0;
    }
    if (attempt >= 2) { /* told to check first: it finds the DDL applied */
        j->tolerated++;
        return 0;
    }
    j->applied++;
    if (j->exempt) return 0;
    return xc_fail(s, "job %zu executed twice: by %s (attempt %lld) after %s", job, source,
                   (long long)attempt, j->by);
}

int xc_op_put(xc_state *s, const char *key, const char *prev, size_t prev_len, const char *value,
              size_t value_len)
{
    if (!prev) return 0;
    dc_operation *op = NULL;
    if (dc_operation_decode(key, prev, prev_len, &op) != DC_OK) return 0;
    int done = op->done;
    dc_operation_free(op);
    if (!done) return 0;
    if (value_len == prev_len && memcmp(prev, value, prev_len) == 0) return 0;
    return xc_fail(s, "done operation overwritten at %s: %.*s -> %.*s", key, (int)prev_len, prev,
                   (int)value_len, value);
}

int xc_resend(xc_state *s, size_t job, const char *source, int rc, int op_done)
{
    if (rc == DC_ERESOLVED || (rc == DC_OK && op_done)) return 0;
    return xc_fail(s,
                   "re-entrancy (after step 8): %s re-sent job %zu after its done txn and got "
                   "%s%s instead of 'already resolved'",
                   source, job, dc_errname(rc), rc == DC_OK ? " (a pending operation)" : "");
}

int xc_quiescent(xc_state *s, const dc_lock_status *locks, size_t n_locks, size_t unfinished,
                 int allow_uncertain)
{
    int bad = 0;
    for (size_t i = 0; i < n_locks; i++) {
        if (locks[i].uncertain && allow_uncertain) continue;
        bad |=
            xc_fail(s, "lock %s (owner %s, %zu sources, synced %d, uncertain %d) did not resolve",
                    locks[i].id, locks[i].owner ? locks[i].owner : "-", locks[i].n_sources,
                    locks[i].synced, locks[i].uncertain);
    }
    if (unfinished) bad |= xc_fail(s, "%zu sources did not finish their DDLs", unfinished);
    return bad;
}

int xc_final(xc_state *s)
{
    int bad = 0;
    for (size_t i = 0; i < s->n_jobs; i++) {
        const xc_job *j = &s->jobs[i];
        if (j->applied == 0 && !j->exempt) bad |= xc_fail(s, "job %zu never executed", i);
    }
    return bad;
}
