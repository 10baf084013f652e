#!/usr/bin/env bash
# Quick start 1: install what is missing, build out of tree (./build), and run
# the main job — the shard-DDL demo on the embedded mem:// store.
#   scripts/demo.sh [demo options…]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$top/build" -j"$(nproc)" >/dev/null
if [ -x "$top/build/tools/ddlcoord" ]; then
    exec "$top/build/tools/ddlcoord" demo "$@"
elif [ -x "$top/build/examples/example_shard_ddl" ]; then
    exec "$top/build/examples/example_shard_ddl" "$@"
else
    exec "$top/build/examples/example_store_basics" "$@"
fi
