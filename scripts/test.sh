#!/usr/bin/env bash
# Quick start 2: install what is missing, then build and run every test twice,
# out of tree: with gcc (./build) and with clang + AddressSanitizer +
# UndefinedBehaviorSanitizer (./build-asan, with the libFuzzer targets). The tests start their own etcd,
# Redis and ZooKeeper servers on free loopback ports (ctest fixtures) and fail
# if one cannot start.
#   scripts/test.sh [--fast]   (--fast: the gcc build only)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/scripts/install-deps.sh"
jobs=$(nproc)
status=0

run_build() { # dir, cmake args…
    local dir=$1
    shift
    echo "== build $dir"
    cmake -S "$top" -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^Consolidate|^Scanning' || true
    echo "== test $dir"
    (cd "$dir" && ctest --output-on-failure --timeout 900 -j"$jobs") || status=1
}

# The builds must not reuse a cache configured with another compiler.
run_build "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc
if [ "${1:-}" != "--fast" ]; then
    # DDLCOORD_FUZZ: the fuzz targets are libFuzzer binaries here; ctest -L fuzz
    # replays their corpora and fuzzes each for a few seconds (tests/fuzz).
    run_build "$top/build-asan" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
        -DDDLCOORD_SANITIZE=ON -DDDLCOORD_FUZZ=ON
fi
exit $status
