#!/usr/bin/env bash
# fault.sh BACKEND STATEDIR FAULT: inject one fault into the server that the
# fixture tests/fixtures/<backend>.sh runs in STATEDIR, and return once the
# server serves again. dc_robust runs it (--fault-cmd "fault.sh B DIR").
#   kill   kill -9 by PID, wait a little, restart on the same data and port
#   stop   SIGSTOP by PID for ROBUST_STOP_MS (default 3000, past the clients'
#          request timeout of 1 s), then SIGCONT
#   reset  Redis only: FLUSHALL (the store's history is gone; the driver must
#          answer DC_ERESET, docs/DESIGN.md "Resets")
#   wipe   Redis only: kill -9, delete the AOF, restart on the same port (a
#          server that restarted without its data)
# BACKEND: etcd | redis | zk. Processes are found by the PID files the
# fixtures write, never by name.
set -u
here=$(cd "$(dirname "$0")" && pwd)
fixtures=$here/../fixtures
backend=${1:?usage: fault.sh BACKEND STATEDIR FAULT}
dir=${2:?usage: fault.sh BACKEND STATEDIR FAULT}
fault=${3:?usage: fault.sh BACKEND STATEDIR FAULT}

pid_file() {
    case $backend in
    etcd) echo "$dir/pid.0" ;;
    *) echo "$dir/pid" ;;
    esac
}

nap() { sleep "$(awk -v ms="$1" 'BEGIN { printf "%.3f", ms / 1000 }')"; }

case $fault in
kill)
    case $backend in
    etcd) "$fixtures/etcd.sh" kill "$dir" 0 && nap 500 && "$fixtures/etcd.sh" restart "$dir" 0 ;;
    redis) "$fixtures/redis.sh" kill "$dir" && nap 500 && "$fixtures/redis.sh" restart "$dir" ;;
    zk) "$fixtures/zk.sh" kill "$dir" && nap 500 && "$fixtures/zk.sh" restart "$dir" ;;
    *) echo "fault.sh: unknown backend $backend" >&2; exit 2 ;;
    esac
    ;;
stop)
    pf=$(pid_file)
    pid=$(cat "$pf") || { echo "fault.sh: no PID file $pf" >&2; exit 1; }
    kill -STOP "$pid" || exit 1
    nap "${ROBUST_STOP_MS:-3000}"
    kill -CONT "$pid"
    ;;
reset)
    [ "$backend" = redis ] || { echo "fault.sh: reset is for redis" >&2; exit 2; }
    redis-cli -h 127.0.0.1 -p "$(cat "$dir/port")" FLUSHALL >/dev/null || exit 1
    ;;
wipe)
    [ "$backend" = redis ] || { echo "fault.sh: wipe is for redis" >&2; exit 2; }
    "$fixtures/redis.sh" kill "$dir" && rm -rf "$dir/appendonlydir" "$dir/dump.rdb" &&
        nap 500 && "$fixtures/redis.sh" restart "$dir"
    ;;
*)
    echo "fault.sh: unknown fault $fault" >&2
    exit 2
    ;;
esac
