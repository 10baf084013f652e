/*
 * explorer: run seeded schedules of the protocol explorer (explorer.h).
 *
 *   explorer [--seed S | --first S --count N] [--max-sources N] [--max-jobs K]
 *            [--break B] [--expect-violation] [--verbose] [--trace-tail L]
 *            [--script SOURCES DDLS "TOKENS"] [--seeds-file FILE] [--hosts step|flow|mix]
 * [--without unlock,remove,meta,master,faults,ckpt,unsynced,reset]
 *
 * Exit status: 0 when every schedule held every invariant (with
 * --expect-violation: when at least one schedule was caught), 1 otherwise,
 * 2 on bad arguments or a harness error. --seeds-file runs the seeds listed
 * in FILE (one "seed max-sources max-jobs without  # note" a line, without
 * being a --without list or "-"; the known findings,
 * tests/explorer/findings.txt) and reports each, failing on none of them
 * unless --must-hold (tests/explorer/reentrancy.txt).
 */
#include "explorer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int num(const char *s, unsigned long long *out)
{
    char *end;
    if (!s || !*s) return -1;
    *out = strtoull(s, &end, 10);
    return *end ? -1 : 0;
}

/* "unlock,remove,..." (see XP_NO_* in explorer.h); "-" is none. */
static unsigned without_bits(const char *list)
{
    static const char *cls[] = {"unlock", "remove", "meta",     "master",
                                "faults", "ckpt",   "unsynced", "reset"};
    unsigned bits = 0;
    for (size_t c = 0; c < sizeof cls / sizeof cls[0]; c++)
        if (strstr(list, cls[c])) bits |= 1u << c;
    return bits;
}

typedef struct totals {
    long runs, bad, errors, execs, crashes, mcrash, fail, unl, rem, faults, ticks, maxsrc, resets,
        metas, fenced;
} totals;

static int one(xp_opts *o, totals *t)
{
    xp_result r;
    int rc = xp_run(o, &r);
    t->runs++;
    if (rc < 0) t->errors++;
    if (rc > 0) t->bad++;
    t->execs += r.execs;
    t->crashes += r.crashes;
    t->mcrash += r.master_crashes;
    t->fail += r.failovers;
    t->unl += r.unlocks;
    t->rem += r.removes;
    t->faults += r.faults;
    t->resets += r.resets;
    t->metas += r.metas;
    t->fenced += r.fenced;
    t->ticks += r.ticks;
    if (r.n_sources > t->maxsrc) t->maxsrc = r.n_sources;
    return rc;
}

int main(int argc, char **argv)
{
    xp_opts o = {0};
    o.max_sources = 64;
    o.max_jobs = 4;
    o.trace_tail = 300;
    unsigned long long first = 1, count = 1, v;
    int expect = 0, must_hold = 0;
    const char *seeds_file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *n = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--seed") && !num(n, &v)) {
            first = v;
            count = 1;
            i++;
        } else if (!strcmp(a, "--first") && !num(n, &v)) {
            first = v;
            i++;
        } else if (!strcmp(a, "--count") && !num(n, &v)) {
            count = v;
            i++;
        } else if (!strcmp(a, "--max-sources") && !num(n, &v) && v >= 2 && v <= 64) {
            o.max_sources = (int)v;
            i++;
        } else if (!strcmp(a, "--max-jobs") && !num(n, &v) && v >= 1 && v <= 16) {
            o.max_jobs = (int)v;
            i++;
        } else if (!strcmp(a, "--break") && !num(n, &v) && v <= 3) {
            o.broken = (int)v;
            i++;
        } else if (!strcmp(a, "--trace-tail") && !num(n, &v) && v < 1000000) {
            o.trace_tail = (int)v;
            i++;
        } else if (!strcmp(a, "--seeds-file") && n) {
            seeds_file = n;
            i++;
        } else if (!strcmp(a, "--without") && n) {
            o.without = without_bits(n);
            i++;
        } else if (!strcmp(a, "--script") && i + 3 < argc && !num(argv[i + 1], &v) && v >= 1 &&
                   v <= 64) {
            o.script_sources = (int)v;
            if (num(argv[i + 2], &v) || v < 1 || v > 16) {
                fprintf(stderr, "explorer: --script SOURCES DDLS TOKENS\n");
                return 2;
            }
            o.script_jobs = (int)v;
            o.script = argv[i + 3];
            i += 3;
        } else if (!strcmp(a, "--hosts") && n) {
            o.hosts = !strcmp(n, "step") ? 1 : !strcmp(n, "flow") ? 2 : !strcmp(n, "mix") ? 3 : -1;
            if (o.hosts < 0) {
                fprintf(stderr, "explorer: --hosts step|flow|mix\n");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--must-hold")) {
            must_hold = 1;
        } else if (!strcmp(a, "--expect-violation")) {
            expect = 1;
        } else if (!strcmp(a, "--verbose")) {
            o.verbose = 1;
        } else if (!strcmp(a, "--trace-store")) {
            o.verbose = 2; /* every store event in the trace, and print it */
        } else {
            fprintf(stderr, "explorer: bad argument: %s (see the comment in main.c)\n", a);
            return 2;
        }
    }
    totals t = {0};
    double t0 = now_s();
    if (seeds_file) {
        FILE *f = fopen(seeds_file, "r");
        if (!f) {
            fprintf(stderr, "explorer: cannot open %s\n", seeds_file);
            return 2;
        }
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "script ", 7)) { /* script SOURCES DDLS TOKENS  # note */
                int ns = 0, nj = 0, off = 0;
                if (sscanf(line + 7, "%d %d %n", &ns, &nj, &off) < 2 || ns < 1 || ns > 64 ||
                    nj < 1 || nj > 16)
                    continue;
                char *tokens = line + 7 + off, *hash = strchr(tokens, '#');
                if (hash) *hash = '\0';
                xp_opts so = o;
                so.seed = 1;
                so.script = tokens;
                so.script_sources = ns;
                so.script_jobs = nj;
                int rc = one(&so, &t);
                printf("explorer: finding script '%s': %s\n", tokens,
                       rc == 0  ? "holds now"
                       : rc > 0 ? "STILL VIOLATED"
                                : "harness error");
                continue;
            }
            unsigned long long s, ms, mj;
            char wo[64] = "";
            int k = sscanf(line, "%llu %llu %llu %63s", &s, &ms, &mj, wo);
            if (line[0] == '#' || k < 3 || ms < 2 || ms > 64 || mj < 1 || mj > 16) continue;
            xp_opts so = o;
            so.seed = s;
            so.max_sources = (int)ms;
            so.max_jobs = (int)mj;
            so.without = k == 4 && wo[0] != '#' ? without_bits(wo) : 0;
            if (k == 4 && strstr(wo, "flow")) so.hosts = 2; /* "...,flow": run_ddl hosts */
            if (k == 4 && strstr(wo, "step")) so.hosts = 1;
            int rc = one(&so, &t);
            printf("explorer: finding seed %llu: %s\n", s,
                   rc == 0  ? "holds now"
                   : rc > 0 ? "STILL VIOLATED"
                            : "harness error");
        }
        fclose(f);
    } else {
        for (unsigned long long s = first; s < first + count; s++) {
            o.seed = s;
            if (one(&o, &t) > 0 && expect) break; /* caught: that is all it has to show */
        }
    }
    double dt = now_s() - t0;
    printf("explorer: %ld schedules (seeds %llu..%llu), %ld violated, %ld harness errors, "
           "%.1f s; %ld executions, %ld worker crashes, %ld master crashes, %ld fail-overs (%ld "
           "deposed masters fenced), "
           "%ld unlocks, %ld source removals, %ld remove-metas, %ld resets, %ld call faults, %ld "
           "ticks, "
           "up to %ld sources\n",
           t.runs, first, first + count - 1, t.bad, t.errors, dt, t.execs, t.crashes, t.mcrash,
           t.fail, t.fenced, t.unl, t.rem, t.metas, t.resets, t.faults, t.ticks, t.maxsrc);
    /* Findings are reported, not failed on; --must-hold: every one must hold. */
    if (seeds_file) return t.errors ? 2 : must_hold && t.bad ? 1 : 0;
    if (t.errors) return 2;
    if (expect) return t.bad > 0 ? 0 : 1;
    return t.bad ? 1 : 0;
}
