#!/usr/bin/env bash
# bench/zk/sync.sh BUILDDIR [SECONDS [OPS [CALLERS]]]: the cost of zk.sync (a sync
# before every read that must be current, docs/backends/zk.md "Reads on an
# ensemble"). Runs bench_zk with sync=1 (the default) and sync=0 (unsafe),
# first on one standalone server, then against a follower of a 3-server
# ensemble (where the sync is a round trip through the leader). Each server
# is a throwaway started by the test fixtures and stopped by PID.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
fx="$here/../../tests/fixtures"
build=$(cd "${1:?usage: $0 BUILDDIR [SECONDS [OPS [CALLERS]]]}" && pwd)
secs=${2:-2}
ops=${3:-put,get,txn}
callers=${4:-1,16}
one=$(mktemp -d /tmp/ddlcoord-bench-zk1.XXXXXX)
ens=$(mktemp -d /tmp/ddlcoord-bench-zk3.XXXXXX)
cleanup() {
    "$fx/zk.sh" stop "$one" || true
    "$fx/zk_ensemble.sh" stop "$ens" || true
    rm -rf "$one" "$ens"
}
trap cleanup EXIT
export DDLCOORD_DRIVER_PATH="$build/drivers"
"$fx/zk.sh" start "$one"
for s in 1 0; do
    echo "== standalone server, zk.sync=$s"
    "$build/bench/zk/bench_zk" "$(cat "$one/uri")?root=/bench-s$s&sync=$s" "$secs" "$ops" "$callers"
done
"$fx/zk.sh" stop "$one"
"$fx/zk_ensemble.sh" start "$ens"
leader=$("$fx/zk_ensemble.sh" leader "$ens")
follower=$(((leader + 1) % 3))
for s in 1 0; do
    echo "== 3-server ensemble, handle on follower $follower (leader $leader), zk.sync=$s"
    "$build/bench/zk/bench_zk" "$(cat "$ens/uri.$follower")?root=/bench-s$s&sync=$s" "$secs" "$ops" "$callers"
done
