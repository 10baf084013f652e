#!/usr/bin/env bash
# chaos_run.sh [ROUNDS] [BACKEND...]: the documented chaos run (issue #12):
# tests/tools/chaos.sh for ROUNDS rounds (default 30) on each backend
# (default: etcd redis zk), each on a fresh server that this script starts
# with the test fixtures (tests/fixtures/<backend>.sh) and stops by PID.
#
# Environment: BUILD (build directory, default build); CHAOS_SECONDS,
# CHAOS_SOURCES, CHAOS_DDLS as for chaos.sh. Exit status 0 when every round
# of every backend passed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=$(cd "${BUILD:-$root/build}" && pwd) || exit 2
ROUNDS=${1:-30}
shift 2>/dev/null
BACKENDS=${*:-etcd redis zk}
export DDLCOORD_BIN=$BUILD/tools/ddlcoord DC_TEST_RAW=$BUILD/tests/tools/dc_test_raw
export DDLCOORD_DRIVER_PATH=$BUILD/drivers CHAOS_ROUNDS=$ROUNDS
status=0
for b in $BACKENDS; do
    dir=$(mktemp -d "${TMPDIR:-/tmp}/ddlcoord-chaos-$b.XXXXXX")
    "$root/tests/fixtures/$b.sh" start "$dir" >"$dir/fixture.log" 2>&1 || {
        echo "chaos_run: $b: the fixture did not start (see $dir/fixture.log)"
        status=1
        continue
    }
    suffix=
    [ "$b" = redis ] && suffix='?mode=lua'
    start=$SECONDS
    if DDLCOORD_TEST_STORE_SUFFIX=$suffix "$root/tests/fixtures/with-store.sh" "$dir" \
        bash "$here/chaos.sh" >"$dir/chaos.log" 2>&1; then
        echo "chaos_run: $b: PASS in $((SECONDS - start)) s: $(grep '^--- chaos:' "$dir/chaos.log")"
    else
        echo "chaos_run: $b: FAIL after $((SECONDS - start)) s (log: $dir/chaos.log)"
        tail -n 40 "$dir/chaos.log"
        status=1
    fi
    "$root/tests/fixtures/$b.sh" stop "$dir" >/dev/null 2>&1
done
exit $status
