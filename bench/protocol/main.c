/*
 * bench_protocol: measures ddlcoord's pessimistic shard-DDL protocol against
 * the critical-path bound of the store it runs on (issue #8). One process
 * runs one measurement on one store:
 *
 *   bench_protocol URI base       SAMPLES THREADS SECONDS
 *   bench_protocol URI latency    ROUNDS SOURCES[,SOURCES...]
 *   bench_protocol URI throughput SOURCES THREADS TABLES[,TABLES...]
 *   bench_protocol URI rebuild    LOCKS SOURCES THREADS
 *
 * and prints "RESULT name value" lines (see bench.h). bench/protocol/run.sh
 * runs them all on mem:// and on throwaway etcd, Redis and ZooKeeper servers
 * and writes bench/REPORT.md. Not a test: nothing here asserts a time.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: bench_protocol URI base SAMPLES THREADS SECONDS\n"
                    "       bench_protocol URI latency ROUNDS SOURCES[,SOURCES...]\n"
                    "       bench_protocol URI throughput SOURCES THREADS TABLES[,TABLES...]\n"
                    "       bench_protocol URI rebuild LOCKS SOURCES THREADS\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 3) return usage();
    static const struct {
        const char *name;
        int (*fn)(dc_store *, int, char **);
    } cmds[] = {{"base", bp_base},
                {"latency", bp_latency},
                {"throughput", bp_throughput},
                {"rebuild", bp_rebuild}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (strcmp(argv[2], cmds[i].name)) continue;
        dc_store *store = bp_open(argv[1]);
        bp_info("backend", "%s", dc_store_backend(store));
        int rc = cmds[i].fn(store, argc - 3, argv + 3);
        dc_store_close(store);
        return rc;
    }
    return usage();
}
