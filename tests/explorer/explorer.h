/*
 * The protocol explorer (issue #12, "Prove it"): seeded random schedules that
 * run the real dc_master and dc_worker code in one thread on mem://, with
 * crashes, fail-overs, operator actions and injected store faults, and
 * invariant checkers that judge each schedule (docs/explorer.md).
 *
 * Everything runs in the calling thread: the master is driven one pass at a
 * time (dc_master_run with timeout 0), each worker one protocol call at a
 * time with timeout 0, and mem:// delivers watch events synchronously, so a
 * schedule is a pure function of its seed and replays exactly.
 */
#ifndef EXPLORER_H
#define EXPLORER_H

#include <ddlcoord/ddlcoord.h>
#include <ddlcoord/mem.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- checkers
 *
 * The invariants, as functions of what a schedule observed. They are kept
 * apart from the runner so that tests/explorer/test_check.c can feed them
 * violations (a checker that cannot fail is caught there). */

#define XC_MAX_VIOL 16

typedef struct xc_job {
    int applied;   /* times the DDL really changed the downstream table */
    int tolerated; /* executions at attempt >= 2 that found it applied (checked first) */
    int exempt;    /* an operator said --assume-not-executed for this DDL's lock */
    char by[32];   /* the source that applied it first */
} xc_job;

typedef struct xc_state {
    size_t n_jobs;
    xc_job *jobs;
    int n_viol;
    char viol[XC_MAX_VIOL][256];
} xc_state;

int xc_init(xc_state *s, size_t n_jobs);
void xc_free(xc_state *s);
/* Record a violation (printf format); returns 1. */
int xc_fail(xc_state *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Invariant 1 (no DDL runs twice): source executes job at attempt. Attempt
 * 1 applies the DDL blindly; a later attempt was told that an earlier one
 * may have run it, so it checks the downstream first (tolerated). A blind
 * second execution is a violation unless the job is exempt. Returns 1 on a
 * violation. */
int xc_exec(xc_state *s, size_t job, const char *source, int64_t attempt);

/* Invariant 3 (no done operation is overwritten): a PUT on an operation key
 * whose previous value was a done operation. prev may be NULL (a create).
 * Returns 1 on a violation. */
int xc_op_put(xc_state *s, const char *key, const char *prev, size_t prev_len, const char *value,
              size_t value_len);

/* Invariant 4 (DM's re-entrancy table (docs/DESIGN.md, "The protocol"), "after step 8"): a worker
 * that lost its checkpoint re-sends a DDL its done txn already resolved. rc is what
 * dc_worker_put_info said, op_done whether the operation it then got was already done. Anything but
 * "already resolved" is a violation. */
int xc_resend(xc_state *s, size_t job, const char *source, int rc, int op_done);

/* Invariant 2 (every lock resolves at quiescence with no manual unlock),
 * after the quiet phase: locks still held (uncertain ones are allowed only
 * when allow_uncertain), sources that did not finish. */
int xc_quiescent(xc_state *s, const dc_lock_status *locks, size_t n_locks, size_t unfinished,
                 int allow_uncertain);

/* At the very end: every DDL ran downstream exactly once (0 times only for
 * an exempt job whose lock an operator removed). */
int xc_final(xc_state *s);

/* ---------------------------------------------------------------- runner */

typedef struct xp_opts {
    uint64_t seed;
    int max_sources; /* upper bound of N (<= 64) */
    int max_jobs;    /* upper bound of K */
    int verbose;     /* print the trace even when the schedule passes */
    int trace_tail;  /* lines of trace printed on failure (0: all) */
    /* Deliberately broken hosts, to prove the checkers catch them
     * (--break=...): 0 none, 1 a worker executes on exec=false too,
     * 2 the owner executes without recording its intent first and at
     * attempt 1 always, 3 the master's done operations get overwritten. */
    int broken;
    /* A scripted schedule instead of a random one (--script): tokens, one
     * tick each, for script_sources sources and script_jobs DDLs on one
     * table: wI[*n] (n steps of worker I), xI (crash it), m[*n] (passes of
     * the leading master; the first campaigns), o (a pass of the deposed
     * one), K (master crash), F (fail-over), rI / aI (task remove / add
     * source I), u / ue / un / uoI (unlock the master's first lock: plain,
     * --assume-executed, --assume-not-executed, --owner sI), X (reset),
     * C (compact), E (end the master's watches), LI (worker I loses its
     * last checkpoint: it restarts one DDL back). The quiet phase and the
     * checks follow as for a random schedule. */
    const char *script;
    /* Worker hosts (--hosts step|flow|mix): 0 = drawn per schedule, 1 = the
     * step API, 2 = dc_worker_run_ddl, 3 = both, drawn per source. */
    int hosts;
    int script_sources, script_jobs;
    /* Event classes left out (--without LIST): XP_NO_* bits. */
    unsigned without;
} xp_opts;

#define XP_NO_UNLOCK          0x01u /* operator unlocks */
#define XP_NO_REMOVE          0x02u /* source remove / re-add */
#define XP_NO_META            0x04u /* remove-meta */
#define XP_NO_MASTER          0x08u /* master crashes and fail-overs */
#define XP_NO_FAULTS          0x10u /* store faults: call faults, ended watches, compaction */
#define XP_NO_CKPT            0x20u /* lost checkpoints */
#define XP_NO_UNSYNCED_UNLOCK 0x40u /* unlocks of locks some source has not reported */
#define XP_NO_RESET           0x80u /* store resets (all data lost) */

typedef struct xp_result {
    int ok;
    int n_sources, n_jobs, n_tables;
    long ticks;
    long execs, crashes, master_crashes, failovers, unlocks, removes, faults, resets, metas, fenced;
} xp_result;

/* Run one schedule. Returns 0 when every invariant held, 1 on a violation
 * (the seed and the trace are printed to stdout), -1 on a harness error. */
int xp_run(const xp_opts *o, xp_result *res);

#endif
