#!/usr/bin/env bash
# bench/zk/run.sh BUILDDIR [SECONDS [OPS [CALLERS]]]: start a throwaway ZooKeeper (the test
# fixture, default settings apart from its loopback port), run bench_zk
# against it, and stop it. Prints a table with the driver/raw ratios.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: $0 BUILDDIR [SECONDS]}" && pwd)
secs=${2:-2}
state=$(mktemp -d /tmp/ddlcoord-bench-zk.XXXXXX)
trap '"$here/../../tests/fixtures/zk.sh" stop "$state"; rm -rf "$state"' EXIT
"$here/../../tests/fixtures/zk.sh" start "$state"
DDLCOORD_DRIVER_PATH="$build/drivers" "$build/bench/zk/bench_zk" "$(cat "$state/uri")?root=/bench" "$secs" "${3:-put,get,txn}" "${4:-1,4,16}"
