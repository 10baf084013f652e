/*
 * Master rebuild: LOCKS pending locks (LOCKS tasks of SOURCES member sources,
 * every source but the last has reported, so no lock can move) are loaded
 * into the store; then a master is started, stopped, and restarted RESTARTS
 * times (0 for slow backends: then the first start is the figure). Each start
 * is timed from dc_master_new until dc_master_run has
 * done its step 1 (one consistent read, every lock rebuilt, the watch open):
 * the run is made from this thread with a zero timeout, which returns right
 * after the rebuild. The lock count is checked afterwards. The bound is one
 * plain dc_get of every key under the namespace (the same infos and
 * membership the master reads), timed on the same store in the same run.
 *
 * Memory per (lock, source) pair: glibc's in-use heap (mallinfo2: uordblks +
 * hblkhd, with M_ARENA_MAX = 1 so that every thread's allocations are
 * counted) while the rebuilt master is alive, minus the same after
 * dc_master_free, divided by LOCKS x SOURCES. The RSS growth over the first
 * start is printed too (it includes the transient read buffers and what the
 * allocator keeps; later starts reuse that memory).
 */
#include "bench.h"
#include "setup.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RESTARTS 5

static double heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (double)mi.uordblks + (double)mi.hblkhd;
}

static double rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
        fclose(f);
    }
    return (double)rss * 4096.0;
}

/* Start a master over ns and rebuild; returns the seconds it took. */
static double start_master(dc_store *s, const char *ns, dc_master **out)
{
    dc_master_options mo = {.ns = ns};
    double t0 = bp_now();
    bp_check("master new", dc_master_new(s, &mo, out));
    bp_check("master run", dc_master_run(*out, 0));
    double el = bp_now() - t0;
    if (dc_master_revision(*out) == 0)
        bp_die("master: no step 1 after its first run", DC_EINTERNAL);
    return el;
}

/* The bound: one plain read of everything the master has to read. */
static void read_bound(dc_store *s, const char *ns)
{
    size_t nl = strlen(ns);
    char *p = bp_alloc(nl + 2);
    memcpy(p, ns, nl);
    memcpy(p + nl, "/", 2);
    dc_kvs *kvs;
    double t0 = bp_now();
    /* One answer of every key may outlast the default request timeout on
     * a loaded machine (the reason the master reads in pages): then the
     * bound is reported missing and the rebuild is still measured. */
    int rc = dc_get(s, p, nl + 1, DC_PREFIX, 0, &kvs);
    if (rc == DC_OK) {
        bp_result("rebuild_read_s", bp_now() - t0);
        bp_result("rebuild_read_keys", (double)kvs->n);
        dc_kvs_free(kvs);
    } else {
        fprintf(stderr, "rebuild: read bound: one get of everything failed after %.1f s: %s: %s\n",
                bp_now() - t0, dc_errname(rc), dc_last_error());
    }
    free(p);
}

static void check_count(dc_master *m, int locks, int sources)
{
    dc_lock_status *st;
    size_t n;
    bp_check("master locks", dc_master_locks(m, NULL, &st, &n));
    if (n != (size_t)locks || (n && st[0].n_sources != (size_t)sources)) {
        fprintf(stderr, "rebuild: %zu locks of %zu sources, expected %d of %d\n", n,
                n ? st[0].n_sources : 0, locks, sources);
        exit(1);
    }
    dc_lock_status_free_array(st, n);
}

int bp_rebuild(dc_store *s, int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: rebuild LOCKS SOURCES THREADS [RESTARTS]\n");
        return 2;
    }
    int locks = atoi(argv[0]), sources = atoi(argv[1]), threads = atoi(argv[2]);
    int restarts = argc > 3 ? atoi(argv[3]) : 3;
    if (locks < 1 || sources < 2 || threads < 1 || restarts < 0 || restarts > MAX_RESTARTS)
        return 2;
    mallopt(M_ARENA_MAX, 1);
    char *ns = bp_ns("rebuild");
    double t = bp_now();
    bp_load_tasks(s, ns, locks, sources, sources - 1, threads);
    fprintf(stderr, "rebuild: %d locks x %d sources loaded in %.1f s\n", locks, sources,
            bp_now() - t);
    read_bound(s, ns);
    dc_master *m;
    double pairs = (double)locks * sources, rss0 = rss_bytes(), heap0 = heap_bytes();
    double first = start_master(s, ns, &m);
    double rss_pair = (rss_bytes() - rss0) / pairs, heap1 = heap_bytes();
    check_count(m, locks, sources);
    dc_master_free(m);
    double heap2 = heap_bytes(), per_pair = (heap1 - heap2) / pairs;
    bp_info("rebuild_heap_first_before_alive_freed", "%.0f %.0f %.0f", heap0, heap1, heap2);

    double times[MAX_RESTARTS];
    for (int r = 0; r < restarts; r++) {
        heap0 = heap_bytes();
        times[r] = start_master(s, ns, &m);
        heap1 = heap_bytes();
        check_count(m, locks, sources);
        dc_master_free(m);
        heap2 = heap_bytes();
        if (r == 0) {
            per_pair = (heap1 - heap2) / pairs; /* a restart: the steadier figure */
            bp_info("rebuild_heap_restart_before_alive_freed", "%.0f %.0f %.0f", heap0, heap1,
                    heap2);
        }
    }
    bp_result("rebuild_first_s", first);
    bp_result("rebuild_s", restarts ? bp_pct(times, (size_t)restarts, 50) : first);
    bp_result("rebuild_restarts", restarts);
    bp_result("rebuild_locks", locks);
    bp_result("rebuild_sources", sources);
    bp_result("mem_bytes_per_pair", per_pair);
    bp_result("rss_bytes_per_pair", rss_pair);
    bp_wipe(s, ns);
    free(ns);
    return 0;
}
