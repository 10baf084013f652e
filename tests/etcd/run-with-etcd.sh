#!/usr/bin/env bash
# run-with-etcd.sh STATEDIR [etcd.sh start options…] -- CMD…
# Start a private etcd (tests/fixtures/etcd.sh) in STATEDIR, run CMD with
# DDLCOORD_TEST_STORE set to its URI, ETCD_TEST_DIR to STATEDIR and
# ETCD_FIXTURE to the fixture script (so a test can kill or restart members),
# then stop the server by PID whatever CMD did. A server that does not start
# fails the test.
set -u
here=$(cd "$(dirname "$0")" && pwd)
fixture=$here/../fixtures/etcd.sh
dir=$1
shift
opts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    opts+=("$1")
    shift
done
[ "${1:-}" = "--" ] || { echo "run-with-etcd.sh: missing -- CMD" >&2; exit 2; }
shift
"$fixture" start "$dir" "${opts[@]}" || exit 1
trap '"$fixture" stop "$dir"' EXIT
export ETCD_TEST_DIR=$dir ETCD_FIXTURE=$fixture
DDLCOORD_TEST_STORE=$(cat "$dir/uri")
export DDLCOORD_TEST_STORE
if [ -f "$dir/env" ]; then . "$dir/env"; fi
"$@"
