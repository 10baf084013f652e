#!/usr/bin/env bash
# The long robustness run (tests/robustness/README.md): record and check a
# history on every backend with faults, for SECONDS each (default 600).
#   scripts/robustness.sh [SECONDS] [BACKEND…]   (default: mem etcd redis-lua redis-multi zk)
# Uses an existing build (ROBUST_BUILD, default ./build; `cmake --build build
# --target dc_robust` first). Each run goes to $ROBUST_OUT/<backend>
# (default build/robustness-long) with its history, recorder log and the
# checker's output. ROBUST_JOBS backends run at once (default 1). Prints one
# line per backend: operations, events, faults and the verdict, then exits 0
# only if every backend was linearizable with every watch rule held.
# Other knobs pass through to tests/robustness/run.sh (ROBUST_CLIENTS,
# ROBUST_RATE, ROBUST_FAULT_INTERVAL_MS, ROBUST_SEED).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
shift || true
backends=("$@")
[ ${#backends[@]} -gt 0 ] || backends=(mem etcd redis-lua redis-multi zk)
build=${ROBUST_BUILD:-$top/build}
out=${ROBUST_OUT:-$build/robustness-long}
export DC_ROBUST=${DC_ROBUST:-$build/tests/robustness/dc_robust}
export DDLCOORD_DRIVER_PATH=${DDLCOORD_DRIVER_PATH:-$build/drivers}
[ -x "$DC_ROBUST" ] || { echo "robustness.sh: no $DC_ROBUST (build the dc_robust target)" >&2; exit 2; }
mkdir -p "$out" || exit 2

one() {
    local b=$1
    "$top/tests/robustness/run.sh" "$b" "$seconds" "$out/$b" >"$out/$b.out" 2>&1
    echo $? >"$out/$b.rc"
}

running=0
for b in "${backends[@]}"; do
    one "$b" &
    running=$((running + 1))
    if [ "$running" -ge "${ROBUST_JOBS:-1}" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait

status=0
for b in "${backends[@]}"; do
    rc=$(cat "$out/$b.rc" 2>/dev/null || echo 4)
    ops=$(grep -m1 '^ops:' "$out/$b.out" | sed 's/^ops: //')
    events=$(grep -m1 '^events:' "$out/$b.out" | sed 's/^events: //')
    faults=$(grep -m1 '^faults:' "$out/$b.out" | sed 's/^faults: //')
    verdict=$(grep -m1 '^result:' "$out/$b.out" | sed 's/^result: //')
    [ -n "$verdict" ] || verdict="run failed (exit $rc), see $out/$b.out"
    printf '%-12s %s s | ops %s | events %s | faults %s | %s\n' "$b" "$seconds" "${ops:-?}" \
        "${events:-?}" "${faults:-?}" "$verdict"
    [ "$rc" = 0 ] || status=1
done
exit $status
