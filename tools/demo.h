/*
 * The pieces of `ddlcoord demo`: the timeline printer (demo_timeline.c), the
 * recorder that checks the revision order and exactly-once execution
 * (demo_check.c), and the driver that runs a master and N workers in one
 * process (cmd_demo.c).
 */
#ifndef DCX_DEMO_H
#define DCX_DEMO_H

#include "common.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- timeline */

typedef struct demo_timeline demo_timeline;

/* One row: seconds, step, role, source, tag (M1…M3, W1, W2), revision, text;
 * and the column titles in the same layout. */
#define DEMO_TIMELINE_ROW    "  %7.3fs  %4d  %-6s  %-10s  %-3s %6s  %s"
#define DEMO_TIMELINE_HEADER "  %8s  %4s  %-6s  %-10s  %-3s %6s  %s"

/* A printer that shows steps in revision order (a step is held back for a
 * short reorder window, because a worker's callback for its write and the
 * master's reaction to it race in different threads). Locks whose index is
 * >= max_locks_shown are not printed (the caller shows progress instead).
 * Returns NULL when out of memory. */
demo_timeline *demo_timeline_new(FILE *out, size_t max_locks_shown, int64_t t0_ms);
/* Queue a step of lock lock_index (SIZE_MAX = not about one lock). */
void demo_timeline_add(demo_timeline *t, size_t lock_index, const char *lock_header,
                       const dc_step *st);
/* Print everything queued, now. */
void demo_timeline_flush(demo_timeline *t);
/* Stop the printer (flushing) and free it. */
void demo_timeline_free(demo_timeline *t);

/* ---------------------------------------------------------------- checks */

typedef struct demo_check demo_check;

/* Records for n_locks locks of n_sources sources. NULL on no memory. */
demo_check *demo_check_new(size_t n_locks, size_t n_sources);
void demo_check_free(demo_check *c);
/* Record a step (thread-safe): the revisions M1, W1, M2, W2, M3. */
void demo_check_step(demo_check *c, size_t lock, size_t source, const dc_step *st);
/* Record one exec callback (exec = 1: executed, 0: skipped). Thread-safe. */
void demo_check_exec(demo_check *c, size_t lock, size_t source, int exec);
/* Record a worker run's result code. Thread-safe. */
void demo_check_result(demo_check *c, size_t lock, size_t source, int rc);
/* 1 once step 10 (M3) of lock was seen. Thread-safe. */
int demo_check_resolved(demo_check *c, size_t lock);
/* Totals so far (thread-safe): locks resolved, executions, skips. */
void demo_check_totals(demo_check *c, size_t *resolved, size_t *execs, size_t *skips);
/* Print the summary; leftovers = locks/infos/operations still in the store
 * (-1 if unknown). Returns 1 when every check passed. */
int demo_check_summary(demo_check *c, FILE *out, long leftovers, const char *uri, int64_t revisions,
                       double seconds);

#endif
