/*
 * bench_protocol's shared declarations: the store under test, a monotonic
 * clock, sample statistics, result lines, unique namespaces, and the four
 * measurements (each in its own file):
 *
 *   base.c        the backend alone: one put, put -> watch event, writes/s
 *   latency.c     one lock's resolution with a real master and real workers
 *   throughput.c  many locks in flight: a real master, an event-driven worker pool
 *   rebuild.c     a master restarted over many pending locks: time and memory
 *
 * Every figure is printed on stdout as one line "RESULT <name> <value>", which
 * bench/protocol/run.sh collects into bench/REPORT.md. Progress goes to stderr.
 */
#ifndef BENCH_PROTOCOL_H
#define BENCH_PROTOCOL_H

#include <ddlcoord/ddlcoord.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Seconds on clock (CLOCK_PROCESS_CPUTIME_ID, a thread's CPU clock, ...). */
double bp_clock(clockid_t clock);
/* Seconds on the monotonic clock. */
double bp_now(void);

/* Sort v and return its p-th percentile (0 <= p <= 100, nearest rank); 0 if n == 0. */
double bp_pct(double *v, size_t n, double p);

/* Print "RESULT <name> <value>" (value with %.6g) and flush. */
void bp_result(const char *name, double value);
/* Print "INFO <name> <text>" (context for the report: sizes, counts). */
void bp_info(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Exit with a message naming the failed call, its code and the detail. */
void bp_die(const char *what, int rc) __attribute__((noreturn));
/* bp_die unless rc is DC_OK. */
void bp_check(const char *what, int rc);
/* malloc/calloc that exit on failure. */
void *bp_alloc(size_t n);

/* A namespace no earlier run used: /bench-proto/<pid>-<time>-<n>/<name>. Caller frees. */
char *bp_ns(const char *name);

/* Open the store (exits on failure). */
dc_store *bp_open(const char *uri);

/* Put many key/values with batches of txns (64 puts each) from `threads`
 * threads. keys[i] / values[i] are NUL-terminated. Exits on failure. */
void bp_put_many(dc_store *store, char **keys, char **values, size_t n, int threads);

/* Writes per second from `threads` threads, each writing its own 100 keys
 * under ns/ in turn, for `seconds`, while `watchers` prefix watches on ns/
 * drain every event (0: none). A write is a put, or with txn a txn shaped
 * like the protocol's done txn (compare mod_revision; put one key, delete
 * another) (base.c). Exits on failure. */
double bp_write_throughput(dc_store *s, const char *ns, int threads, double seconds, int watchers,
                           int txn);

/* The measurements. argv holds the sub-command's arguments (after the URI). */
int bp_base(dc_store *store, int argc, char **argv);
int bp_latency(dc_store *store, int argc, char **argv);
int bp_throughput(dc_store *store, int argc, char **argv);
int bp_rebuild(dc_store *store, int argc, char **argv);

#endif
