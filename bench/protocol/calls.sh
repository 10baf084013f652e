#!/usr/bin/env bash
# bench/protocol/calls.sh BUILDDIR: count the store calls one lock costs, on
# mem:// with a real master and real workers (bench_protocol latency), for 2,
# 8 and 32 sources. Uprobes (perf probe, needs root) on dc_txn_commit,
# dc_put, dc_get, dc_delete and dc_watch_open in BUILDDIR's libddlcoord count
# every call, whoever makes it; "latency 11 S" minus "latency 1 S", divided by
# 10, is the cost of one lock. Prints "RESULT calls_<S>_<function> <count>"
# lines; prints nothing (and exits 0) where perf probe is not usable. The
# probes are removed on exit (group ddlcoordbench only).
set -u
build=$(cd "${1:?usage: calls.sh BUILDDIR}" && pwd)
bench=$build/bench/protocol/bench_protocol
lib=$(ls "$build"/core/libddlcoord.so.*.*.* 2>/dev/null | head -1)
fns="dc_txn_commit dc_put dc_get dc_delete dc_watch_open"
[ -n "$lib" ] && command -v perf >/dev/null || exit 0
cleanup() { perf probe -q -d 'ddlcoordbench:*' >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup
for f in $fns; do
    # the function itself, by address (a name would also probe its PLT entry)
    a=$(nm -D --defined-only "$lib" | awk -v f="$f" '$3 == f {print $1}')
    [ -n "$a" ] && perf probe -q -x "$lib" --add "ddlcoordbench:$f=0x$a" >/dev/null 2>&1 || exit 0
done
# count ROUNDS S: "function count" lines
count() {
    perf stat -x, -e 'ddlcoordbench:*' "$bench" mem://calls latency "$1" "$2" 2>&1 >/dev/null |
        awk -F, '/ddlcoordbench:/ {sub(/.*ddlcoordbench:/, "", $3); print $3, $1}'
}
for s in 2 8 32; do
    count 1 "$s" >"$build/calls.1" || exit 0
    count 11 "$s" >"$build/calls.11" || exit 0
    awk -v s="$s" 'NR == FNR {one[$1] = $2; next}
        {printf "RESULT calls_%s_%s %.1f\n", s, $1, ($2 - one[$1]) / 10}' \
        "$build/calls.1" "$build/calls.11"
done
rm -f "$build/calls.1" "$build/calls.11"
