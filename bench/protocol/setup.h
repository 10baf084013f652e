/*
 * Bulk setup of protocol state for bench_protocol (see setup.c).
 */
#ifndef BENCH_PROTOCOL_SETUP_H
#define BENCH_PROTOCOL_SETUP_H

#include "bench.h"

/* The one DDL every benchmark lock is about. */
extern const char *const bp_ddl;

/* Task and source names of the bulk layouts ("task00042", "src07"). */
void bp_names(int task, int source, char t[32], char s[32]);

/* The Info JSON of source for task's lock on db.t (malloc'd). */
char *bp_info_json(const char *task, const char *source);

/* Membership of `sources` sources for each of `tasks` tasks, and Infos from
 * the first `infos` sources of each task (infos < sources leaves every lock
 * pending), loaded with `threads` threads. Exits on failure. */
void bp_load_tasks(dc_store *s, const char *ns, int tasks, int sources, int infos, int threads);

/* Delete everything under ns/ (errors are printed, not fatal). */
void bp_wipe(dc_store *s, const char *ns);

#endif
