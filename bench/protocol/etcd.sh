#!/usr/bin/env bash
# bench/protocol/etcd.sh BUILDDIR [LOCKS]: the protocol benchmark's etcd figures
# alone, for work on the etcd driver (bench/protocol/run.sh measures every
# backend and writes bench/REPORT.md; this writes nothing). Starts a throwaway
# etcd (tests/fixtures/etcd.sh), runs bench_protocol's base, latency (2, 8, 32
# sources) and rebuild (LOCKS locks x 16 sources, default 10000, with the
# driver's default timeouts) measurements, and prints the lock latency against
# the protocol's floor as bench/REPORT.md defines it (report.sh, floor_s):
#   floor(S) = 5 x put->watch p50 + put p50 + 2 x txn p50 + 2 (S - 1) / writes/s
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: etcd.sh BUILDDIR [LOCKS]}" && pwd)
locks=${2:-10000}
bench=$build/bench/protocol/bench_protocol
[ -x "$bench" ] || { echo "etcd.sh: $bench not built" >&2; exit 1; }
work=$(mktemp -d /tmp/ddlcoord-bench-etcd-proto.XXXXXX)
cleanup() { "$root/tests/fixtures/etcd.sh" stop "$work/etcd" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
export DDLCOORD_DRIVER_PATH=$build/drivers
"$root/tests/fixtures/etcd.sh" start "$work/etcd" >/dev/null
uri=$(cat "$work/etcd/uri")
out=$work/etcd.txt
for part in "base 500 8 3" "latency 20 2,8,32" "rebuild $locks 16 8 0"; do
    echo "   etcd $part ($(date +%T))" >&2
    # shellcheck disable=SC2086
    "$bench" "$uri" $part >>"$out" 2>>"$work/err" ||
        { echo "etcd.sh: $part failed:" >&2; tail -5 "$work/err" >&2; }
done
grep "^rebuild:" "$work/err" >&2 || true
awk '$1 == "RESULT" { r[$2] = $3 }
    END {
        crit = 5 * r["w2w_p50_ms"] + r["put_p50_ms"]
        printf "put p50 %.3g ms, txn p50 %.3g ms, put->watch p50 %.3g ms, %.0f writes/s\n",
            r["put_p50_ms"], r["txn_p50_ms"], r["w2w_p50_ms"], r["writes_per_s"]
        split("2 8 32", ss, " ")
        for (i = 1; i <= 3; i++) {
            s = ss[i]; fl = crit + 2 * r["txn_p50_ms"] + 1000 * 2 * (s - 1) / r["writes_per_s"]
            l = r["lat_" s "_p50_ms"]
            printf "lock latency, %2d sources: p50 %.3g ms, floor %.3g ms: %.2fx (target <= 1.25x: %s)\n",
                s, l, fl, l / fl, (l <= 1.25 * fl ? "met" : "NOT met")
        }
        if ("rebuild_s" in r && "rebuild_read_s" in r)
            printf "rebuild of %d locks x %d sources: %.3g s (one read of %d keys: %.3g s; target <= 3 s: %s)\n",
                r["rebuild_locks"], r["rebuild_sources"], r["rebuild_s"], r["rebuild_read_keys"],
                r["rebuild_read_s"], (r["rebuild_s"] <= 3 ? "met" : "NOT met")
        else if ("rebuild_s" in r)
            printf "rebuild of %d locks x %d sources: %.3g s (one read of every key: timed out; target <= 3 s: %s)\n",
                r["rebuild_locks"], r["rebuild_sources"], r["rebuild_s"],
                (r["rebuild_s"] <= 3 ? "met" : "NOT met")
        else print "rebuild: no result (see the error above)"
    }' "$out"
