#!/usr/bin/env bash
# run.sh BACKEND SECONDS OUTDIR: one robustness run, recorded and checked.
#   BACKEND  mem | etcd | redis-lua | redis-multi | zk
# Faults: kill -9 + restart and SIGSTOP/SIGCONT of the server, compaction,
# and on mem:// and Redis store resets (dc_mem_reset; FLUSHALL, and a server
# restarted without its data), which must surface as DC_ERESET.
# Starts a private server for the run (tests/fixtures/<backend>.sh, in
# OUTDIR/server; it is killed and frozen during the run, so it is nobody
# else's), runs dc_robust for SECONDS with its faults, stops the server by
# PID, then checks the history with check.py. Prints the history path, the
# checker's summary and its verdict; exits with check.py's code (0 ok,
# 1 violation, 2 inconclusive, 3 unreadable) or 4 when the run itself failed.
# Environment: DC_ROBUST (the dc_robust binary), DDLCOORD_DRIVER_PATH,
# ROBUST_CLIENTS (4), ROBUST_RATE (ops/s per client, 100),
# ROBUST_FAULT_INTERVAL_MS (4000), ROBUST_SEED (from the clock), ROBUST_BUDGET
# (the checker's search steps per partition; check.py's default).
set -u
here=$(cd "$(dirname "$0")" && pwd)
fixtures=$here/../fixtures
backend=${1:?usage: run.sh BACKEND SECONDS OUTDIR}
seconds=${2:?usage: run.sh BACKEND SECONDS OUTDIR}
out=${3:?usage: run.sh BACKEND SECONDS OUTDIR}
robust=${DC_ROBUST:?DC_ROBUST must name the dc_robust binary}
seed=${ROBUST_SEED:-$(( $(date +%s) % 100000 ))}
# Sanitized builds: libzookeeper-mt leaks the completion list of a zoo_multi
# cut by a lost connection, which the kill and stop faults provoke on every
# run (tests/zk/lsan.supp says where). It is the client library's leak, not
# ours; LeakSanitizer still checks everything else.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/../zk/lsan.supp}

mkdir -p "$out" || exit 4
out=$(cd "$out" && pwd)
hist=$out/history-$backend.jsonl
server=$out/server
fixture=""
faults=""
query=""
case $backend in
mem) uri="mem://robust-$$"; faults=reset ;;
etcd) fixture=etcd; faults=kill,stop; query="?request_timeout_ms=1000" ;;
redis-lua) fixture=redis; faults=reset,kill,wipe,stop; query="?mode=lua&request_timeout_ms=1000" ;;
redis-multi) fixture=redis; faults=reset,kill,wipe,stop; query="?mode=multi&request_timeout_ms=1000" ;;
zk) fixture=zk; faults=kill,stop; query="?request_timeout_ms=1000&session_timeout_ms=2000" ;;
*) echo "run.sh: unknown backend $backend" >&2; exit 4 ;;
esac

stop_server() {
    [ -n "$fixture" ] && "$fixtures/$fixture.sh" stop "$server" >/dev/null 2>&1
    return 0
}
trap stop_server EXIT

fault_args=()
if [ -z "$fixture" ]; then # mem://: resets in-process (dc_mem_reset)
    fault_args=(--faults "$faults" --fault-interval-ms "${ROBUST_FAULT_INTERVAL_MS:-4000}")
else
    rm -rf "$server"
    if ! "$fixtures/$fixture.sh" start "$server" >"$out/fixture.log" 2>&1; then
        echo "run.sh: the $fixture server did not start:" >&2
        cat "$out/fixture.log" >&2
        exit 4
    fi
    uri=$(cat "$server/uri")$query
    fault_args=(--fault-cmd "$here/fault.sh $fixture $server" --faults "$faults"
        --fault-interval-ms "${ROBUST_FAULT_INTERVAL_MS:-4000}")
fi

echo "run.sh: $backend for $seconds s (seed $seed, faults: ${faults:-none} + compaction)"
echo "history: $hist"
if ! "$robust" --uri "$uri" --out "$hist" --seconds "$seconds" --seed "$seed" \
    --clients "${ROBUST_CLIENTS:-4}" --rate "${ROBUST_RATE:-100}" "${fault_args[@]}" \
    2>"$out/recorder.log"; then
    echo "run.sh: recording failed (history so far: $hist); recorder.log tail:" >&2
    tail -n 20 "$out/recorder.log" >&2
    exit 4
fi
tail -n 1 "$out/recorder.log"
echo "recorder log (the driver's warnings during faults): $out/recorder.log"
stop_server
trap - EXIT
python3 "$here/check.py" ${ROBUST_BUDGET:+--budget "$ROBUST_BUDGET"} "$hist"
