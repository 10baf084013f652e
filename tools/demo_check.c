/*
 * The demo's checks: it records, for every (lock, source), the revisions of
 * DM's five writes — M1 (master GET), W1 (info PUT), M2 (operation
 * PUT), W2 (done txn), M3 (operations DELETE) — and every execute/skip, then
 * verifies DM's order M1 < W1 < M2 < W2 < M3 and that each lock's
 * DDLs were executed exactly once (by one source) and skipped by all the
 * others, and prints the summary. A violation makes the demo exit non-zero.
 */
#include "demo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct pair_rec {
    int64_t w1, m2, w2;
    int execs, skips;
    int rc, finished;
} pair_rec;

struct demo_check {
    size_t n_locks, n_sources;
    pthread_mutex_t mu;
    int64_t m1;
    int64_t *m3;     /* per lock */
    pair_rec *pairs; /* n_locks * n_sources */
};

demo_check *demo_check_new(size_t n_locks, size_t n_sources)
{
    demo_check *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->n_locks = n_locks;
    c->n_sources = n_sources;
    c->m3 = calloc(n_locks, sizeof *c->m3);
    c->pairs = calloc(n_locks * n_sources, sizeof *c->pairs);
    if (!c->m3 || !c->pairs) {
        free(c->m3);
        free(c->pairs);
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void demo_check_free(demo_check *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c->m3);
    free(c->pairs);
    free(c);
}

static pair_rec *pair(demo_check *c, size_t lock, size_t source)
{
    if (lock >= c->n_locks || source >= c->n_sources) return NULL;
    return &c->pairs[lock * c->n_sources + source];
}

void demo_check_step(demo_check *c, size_t lock, size_t source, const dc_step *st)
{
    pthread_mutex_lock(&c->mu);
    pair_rec *p = pair(c, lock, source);
    switch (st->step) {
    case 1:
        if (!c->m1) c->m1 = st->revision;
        break;
    case 2:
        if (p) p->w1 = st->revision;
        break;
    case 4:
        if (p) p->m2 = st->revision;
        break;
    case 8:
        if (p) p->w2 = st->revision;
        break;
    case 10:
        if (lock < c->n_locks) c->m3[lock] = st->revision;
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&c->mu);
}

void demo_check_exec(demo_check *c, size_t lock, size_t source, int exec)
{
    pthread_mutex_lock(&c->mu);
    pair_rec *p = pair(c, lock, source);
    if (p) {
        if (exec)
            p->execs++;
        else
            p->skips++;
    }
    pthread_mutex_unlock(&c->mu);
}

void demo_check_result(demo_check *c, size_t lock, size_t source, int rc)
{
    pthread_mutex_lock(&c->mu);
    pair_rec *p = pair(c, lock, source);
    if (p) {
        p->rc = rc;
        p->finished = 1;
    }
    pthread_mutex_unlock(&c->mu);
}

int demo_check_resolved(demo_check *c, size_t lock)
{
    pthread_mutex_lock(&c->mu);
    int r = lock < c->n_locks && c->m3[lock] != 0;
    pthread_mutex_unlock(&c->mu);
    return r;
}

void demo_check_totals(demo_check *c, size_t *resolved, size_t *execs, size_t *skips)
{
    pthread_mutex_lock(&c->mu);
    *resolved = *execs = *skips = 0;
    for (size_t l = 0; l < c->n_locks; l++) *resolved += c->m3[l] != 0;
    for (size_t i = 0; i < c->n_locks * c->n_sources; i++) {
        *execs += (size_t)c->pairs[i].execs;
        *skips += (size_t)c->pairs[i].skips;
    }
    pthread_mutex_unlock(&c->mu);
}

static void line(FILE *out, const char *what, const char *value, int ok)
{
    fprintf(out, "  %-30s %-44s %s\n", what, value, ok ? "ok" : "FAILED");
}

int demo_check_summary(demo_check *c, FILE *out, long leftovers, const char *uri, int64_t revisions,
                       double seconds)
{
    pthread_mutex_lock(&c->mu);
    size_t resolved = 0, once = 0, skipped_ok = 0, order_ok = 0, failed_runs = 0;
    size_t execs = 0, skips = 0;
    size_t first_bad_lock = SIZE_MAX, first_bad_src = 0;
    for (size_t l = 0; l < c->n_locks; l++) {
        resolved += c->m3[l] != 0;
        int lock_execs = 0, lock_skips_ok = 1;
        for (size_t s = 0; s < c->n_sources; s++) {
            const pair_rec *p = &c->pairs[l * c->n_sources + s];
            execs += (size_t)p->execs;
            skips += (size_t)p->skips;
            lock_execs += p->execs;
            if (p->execs + p->skips != 1) lock_skips_ok = 0;
            if (!p->finished || p->rc != DC_OK) failed_runs++;
            int ordered = c->m1 && p->w1 && p->m2 && p->w2 && c->m3[l] && c->m1 < p->w1 &&
                          p->w1 < p->m2 && p->m2 < p->w2 && p->w2 < c->m3[l];
            if (ordered)
                order_ok++;
            else if (first_bad_lock == SIZE_MAX) {
                first_bad_lock = l;
                first_bad_src = s;
            }
        }
        once += lock_execs == 1;
        skipped_ok += lock_skips_ok && lock_execs == 1;
    }
    size_t pairs = c->n_locks * c->n_sources;
    char v[160];
    fprintf(out, "\nSummary: %zu lock%s x %zu sources on %s (at revision %lld), %.2f s\n",
            c->n_locks, c->n_locks == 1 ? "" : "s", c->n_sources, uri, (long long)revisions,
            seconds);
    snprintf(v, sizeof v, "%zu/%zu", resolved, c->n_locks);
    line(out, "locks resolved", v, resolved == c->n_locks);
    snprintf(v, sizeof v, "%zu/%zu ran to the end", pairs - failed_runs, pairs);
    line(out, "worker runs", v, failed_runs == 0);
    snprintf(v, sizeof v, "%zu executions, exactly 1 per lock in %zu/%zu", execs, once, c->n_locks);
    line(out, "DDL executed exactly once", v, once == c->n_locks);
    snprintf(v, sizeof v, "%zu skips, every other source once in %zu/%zu", skips, skipped_ok,
             c->n_locks);
    line(out, "DDL skipped by the others", v, skipped_ok == c->n_locks);
    snprintf(v, sizeof v, "held for %zu/%zu (lock, source) pairs", order_ok, pairs);
    line(out, "M1 < W1 < M2 < W2 < M3", v, order_ok == pairs);
    if (first_bad_lock != SIZE_MAX) {
        const pair_rec *p = &c->pairs[first_bad_lock * c->n_sources + first_bad_src];
        fprintf(out,
                "    first violation: lock %zu source %zu: M1=%lld W1=%lld M2=%lld W2=%lld "
                "M3=%lld\n",
                first_bad_lock + 1, first_bad_src + 1, (long long)c->m1, (long long)p->w1,
                (long long)p->m2, (long long)p->w2, (long long)c->m3[first_bad_lock]);
    }
    if (leftovers >= 0) {
        snprintf(v, sizeof v, "%ld locks, infos or operations left", leftovers);
        line(out, "store left clean", v, leftovers == 0);
    }
    int all = resolved == c->n_locks && failed_runs == 0 && once == c->n_locks &&
              skipped_ok == c->n_locks && order_ok == pairs && leftovers <= 0;
    pthread_mutex_unlock(&c->mu);
    fprintf(out, "%s\n", all ? "All checks passed." : "CHECKS FAILED.");
    return all;
}
