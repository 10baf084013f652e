#!/usr/bin/env bash
# bench/redis/run.sh <builddir> [seconds per cell]
#
# Benchmarks ddlcoord-redis.so against redis-benchmark in the same run, on a
# throwaway redis-server without persistence (started here by the test
# fixture on a free loopback port, stopped by PID on exit): put, get and
# conditional-put txn at 1, 4 and 16 callers in both write modes, SET at the
# same client counts, the ratios, and the watch wake-up latency.
# Not a ctest test: figures depend on the machine; only ratios carry over.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 <builddir> [seconds]" >&2; exit 2; }
build=$(cd "$1" && pwd)
secs=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
fixture=$here/../../tests/fixtures/redis.sh
bench=$build/bench/redis/bench_redis
[ -x "$bench" ] || { echo "no $bench: build the tree first" >&2; exit 1; }
export DDLCOORD_DRIVER_PATH=$build/drivers

state=$(mktemp -d /tmp/ddlcoord-bench-redis.XXXXXX)
trap '"$fixture" stop "$state" >/dev/null 2>&1; rm -rf "$state"' EXIT
# without persistence the driver refuses to open unless told the loss is accepted
REDIS_FIXTURE_PERSIST=no "$fixture" start "$state"
uri=$(cat "$state/uri")
port=$(cat "$state/port")
echo "redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on 127.0.0.1:$port, no persistence, ${secs}s per cell, 100-byte values, $(nproc) CPUs"

declare -A set_rps set_p50
for c in 1 4 16; do
    n=$(( c == 1 ? 20000 * secs : 80000 * secs ))
    line=$(redis-benchmark -h 127.0.0.1 -p "$port" -t set -c "$c" -n "$n" -d 100 -r 100000 --csv | grep '"SET"')
    set_rps[$c]=$(echo "$line" | awk -F'"' '{printf "%.0f", $4}')
    set_p50[$c]=$(echo "$line" | awk -F'"' '{printf "%.0f", $10 * 1000}')
done
redis-cli -p "$port" FLUSHALL >/dev/null

printf '\n%-6s %-4s %7s %10s %8s %8s %6s | %10s %8s | %9s %9s\n' mode op callers ops/s p50_us p99_us errors \
    SET_ops/s SET_p50 ops/SET p50/SET
target=""
for mode in lua multi; do
    for op in put get txn; do
        for c in 1 4 16; do
            read -r _ _ rps p50 p99 errs < <("$bench" "$uri?mode=$mode&allow_unsafe_durability=1" "$op" "$c" "$secs")
            r=$(awk -v a="$rps" -v b="${set_rps[$c]}" 'BEGIN{printf "%.2f", a/b}')
            l=$(awk -v a="$p50" -v b="${set_p50[$c]}" 'BEGIN{printf "%.2f", b ? a/b : 0}')
            printf '%-6s %-4s %7s %10s %8s %8s %6s | %10s %8s | %9s %9s\n' "$mode" "$op" "$c" "$rps" \
                "$p50" "$p99" "$errs" "${set_rps[$c]}" "${set_p50[$c]}" "$r" "$l"
            if [ "$mode" = lua ] && [ "$op" = put ] && [ "$c" = 16 ]; then
                target="lua put at 16 callers: ${r}x SET throughput (target >= 0.6), p50 ${l}x SET's (target <= 2)"
            fi
        done
    done
done
echo
echo "$target"
for mode in lua multi; do
    read -r _ n p50 p90 p99 < <("$bench" "$uri?mode=$mode&allow_unsafe_durability=1" watch 500)
    echo "watch wake-up ($mode, put call -> watcher has the event, $n events): p50 ${p50} us, p90 ${p90} us, p99 ${p99} us (target p50 <= 300 us)"
done
