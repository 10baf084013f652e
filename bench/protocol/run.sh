#!/usr/bin/env bash
# bench/protocol/run.sh BUILDDIR: the protocol benchmark of issue #8, one
# command. Installs the benchmark-only Debian packages that are missing
# (scripts/debian-packages-bench.txt, with apt-get, as root), starts a
# throwaway etcd, Redis and ZooKeeper with the test fixtures
# (tests/fixtures/<x>.sh, loopback only), runs every measurement of
# bench_protocol on mem:// and on each server in this one run, stops the
# servers by PID, and writes bench/REPORT.md and the PNG plots in bench/
# (bench/protocol/report.sh). Takes about ten minutes on two cores.
#
# Sizes: the issue's sizes on mem://, etcd and Redis (etcd's rebuild of
# 10 000 locks is timed on the first start only: each read takes ~20 s);
# ZooKeeper, the slowest, is scaled down as listed below and in the report. Every
# store is opened with request_timeout_ms=120000: the master's one-read
# rebuild of 10 000 locks takes longer than the default 5 s on etcd.
#
# Environment: BENCH_QUICK=1 runs tiny sizes (a smoke test of the pipeline)
# and writes its report into BUILDDIR/bench/protocol/quick/ instead of bench/;
# BENCH_OUT=DIR writes the report and plots into DIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILDDIR}" && pwd)
bench=$build/bench/protocol/bench_protocol
[ -x "$bench" ] || { echo "run.sh: $bench not built (cmake --build $build)" >&2; exit 1; }
"$root/scripts/install-deps.sh" "$root/scripts/debian-packages-bench.txt"

work=$(mktemp -d /tmp/ddlcoord-bench-proto.XXXXXX)
fixtures=$root/tests/fixtures
cleanup() {
    "$fixtures/etcd.sh" stop "$work/etcd" >/dev/null 2>&1 || true
    "$fixtures/redis.sh" stop "$work/redis" >/dev/null 2>&1 || true
    "$fixtures/zk.sh" stop "$work/zk" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
export DDLCOORD_DRIVER_PATH=$build/drivers
t_start=$(date +%s)

# name sizes: base SAMPLES THREADS SECONDS | latency ROUNDS SOURCES |
# throughput SOURCES THREADS TABLES | rebuild LOCKS SOURCES THREADS RESTARTS
out=${BENCH_OUT:-$root/bench}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    out=${BENCH_OUT:-$build/bench/protocol/quick}
    sizes_mem="base 500 2 0.5; latency 3 2,8,32; throughput 16 2 1,10; rebuild 200 16 2 1"
    sizes_srv="base 100 8 0.5; latency 2 2,8; throughput 16 8 1,10; rebuild 100 16 8 1"
    sizes_etcd=$sizes_srv sizes_redis=$sizes_srv sizes_zk=$sizes_srv
else
    sizes_mem="base 5000 2 2; latency 30 2,8,32; throughput 16 2 1,10,100,1000; rebuild 10000 16 2 3"
    sizes_etcd="base 500 8 3; latency 20 2,8,32; throughput 16 8 1,10,100,1000; rebuild 10000 16 8 0"
    sizes_redis="base 500 8 3; latency 20 2,8,32; throughput 16 8 1,10,100,1000; rebuild 10000 16 8 1"
    sizes_zk="base 300 8 3; latency 10 2,8,32; throughput 16 8 1,10,100; rebuild 1000 16 8 1"
fi

# run BACKEND URI SIZES: every measurement, results appended to $work/BACKEND.txt
run() {
    local name=$1 uri=$2 sizes=$3 part
    echo "== $name: $uri" >&2
    : >"$work/$name.txt"
    IFS=';' read -ra parts <<<"$sizes"
    for part in "${parts[@]}"; do
        # shellcheck disable=SC2086
        set -- $part
        echo "   $name $* ($(date +%T))" >&2
        echo "SIZES $*" >>"$work/$name.txt"
        "$bench" "$uri" "$@" >>"$work/$name.txt" 2>>"$work/$name.err" ||
            { echo "run.sh: $name $1 failed:" >&2; tail -5 "$work/$name.err" >&2; echo "FAILED $1" >>"$work/$name.txt"; }
    done
}

q="request_timeout_ms=120000"
run mem "mem://bench" "$sizes_mem"
echo "== store calls per lock (uprobes; root and perf only)" >&2
"$here/calls.sh" "$build" >"$work/calls.txt" 2>>"$work/calls.err" || true

"$fixtures/etcd.sh" start "$work/etcd" >/dev/null
run etcd "$(cat "$work/etcd/uri")?$q" "$sizes_etcd"
"$fixtures/etcd.sh" stop "$work/etcd"

"$fixtures/redis.sh" start "$work/redis" >/dev/null
run redis "$(cat "$work/redis/uri")?mode=lua&$q" "$sizes_redis"
"$fixtures/redis.sh" stop "$work/redis"

"$fixtures/zk.sh" start "$work/zk" >/dev/null
run zk "$(cat "$work/zk/uri")?max_request_bytes=4194304&$q" "$sizes_zk"
"$fixtures/zk.sh" stop "$work/zk"

echo "ELAPSED $(($(date +%s) - t_start))" >"$work/run.txt"
# the raw RESULT / TRACE lines and stderr stay in the build tree for a look
mkdir -p "$build/bench/protocol/last-run"
cp "$work"/*.txt "$work"/*.err "$build/bench/protocol/last-run/" 2>/dev/null || true
mkdir -p "$out"
"$here/report.sh" "$work" "$out" "$build"
echo "run.sh: wrote $out/REPORT.md and plots in $((($(date +%s) - t_start) / 60)) min" >&2
