#!/usr/bin/env bash
# robust.sh SCRIPT DIR SECONDS OUTDIR [QUERY]: the store history checker of
# tests/robustness on a running cluster (the ctest fixture SCRIPT runs in DIR):
# dc_robust records concurrent clients, watchers and compaction for SECONDS
# while robust_fault.sh kills the leader or another member -9 and restarts
# it, then check.py verifies linearizability and the watch rules. Prints the
# history path and the verdict; exits with check.py's code, or 4 when the
# recording itself failed.
# Environment: DC_ROBUST (the dc_robust binary), DDLCOORD_DRIVER_PATH,
# ROBUST_SEED (from the clock), ROBUST_FAULT_INTERVAL_MS (8000).
set -u
here=$(cd "$(dirname "$0")" && pwd)
script=${1:?usage: robust.sh SCRIPT DIR SECONDS OUTDIR [QUERY]}
dir=${2:?usage: robust.sh SCRIPT DIR SECONDS OUTDIR [QUERY]}
seconds=${3:?usage: robust.sh SCRIPT DIR SECONDS OUTDIR [QUERY]}
out=${4:?usage: robust.sh SCRIPT DIR SECONDS OUTDIR [QUERY]}
# An election takes seconds: calls fail (typed) meanwhile rather than wait.
query=${5:-?request_timeout_ms=2000}
robust=${DC_ROBUST:?DC_ROBUST must name the dc_robust binary}
seed=${ROBUST_SEED:-$(($(date +%s) % 100000))}
# Sanitized builds: libzookeeper-mt's leak of a zoo_multi cut by a lost
# connection (tests/zk/lsan.supp); the client library's, not ours.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/../zk/lsan.supp}
[ -s "$dir/uri" ] || { echo "robust.sh: $dir/uri is missing: the cluster is not running" >&2; exit 4; }
mkdir -p "$out" || exit 4
hist=$(cd "$out" && pwd)/history.jsonl
echo "robust.sh: $(basename "$script" .sh) for $seconds s (seed $seed, faults kill-leader, kill-member + compaction)"
echo "history: $hist"
if ! "$robust" --uri "$(cat "$dir/uri")$query" --out "$hist" --seconds "$seconds" --seed "$seed" \
    --clients 4 --rate 50 --fault-cmd "$here/robust_fault.sh $script $dir" \
    --faults kill-leader,kill-member --fault-interval-ms "${ROBUST_FAULT_INTERVAL_MS:-8000}" \
    2>"$out/recorder.log"; then
    echo "robust.sh: recording failed (history so far: $hist); recorder.log tail:" >&2
    tail -n 20 "$out/recorder.log" >&2
    exit 4
fi
tail -n 1 "$out/recorder.log"
python3 "$here/../robustness/check.py" "$hist"
