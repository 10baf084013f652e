#!/usr/bin/env bash
# Quick start 2: install what is missing, then build and run every test twice,
# out of tree: with gcc (./build) and with clang + AddressSanitizer +
# UndefinedBehaviorSanitizer (./build-asan, with the libFuzzer targets; the
# cluster label runs in the gcc build only). The tests start their own etcd,
# Redis and ZooKeeper servers on free loopback ports (ctest fixtures) and fail
# if one cannot start.
# A third build, clang + ThreadSanitizer (./build-tsan), builds only what the
# threaded tests need and runs them (ctest label tsan, tests/CMakeLists.txt);
# about 3 minutes on 2 cores.
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
    (cd "$dir" && ctest --output-on-failure --timeout 900 -j"$jobs" ${ctest_extra:-}) || status=1
}

# The builds must not reuse a cache configured with another compiler.
run_build "$top/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=gcc
if [ "${1:-}" != "--fast" ]; then
    # DDLCOORD_FUZZ: the fuzz targets are libFuzzer binaries here; ctest -L fuzz
    # replays their corpora and fuzzes each for a few seconds (tests/fuzz).
    # The cluster label (3-member etcd, 3-server ZooKeeper, Redis with
    # Sentinel: fail-overs and histories with members killed) runs in the gcc
    # build only: it tests behaviour across servers, not memory safety, and
    # a second run under ASan would take CI past its 40-minute budget.
    ctest_extra="-LE cluster"
    run_build "$top/build-asan" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
        -DDDLCOORD_SANITIZE=ON -DDDLCOORD_FUZZ=ON
    ctest_extra=
    echo "== build $top/build-tsan (ThreadSanitizer)"
    tsan=$top/build-tsan
    cmake -S "$top" -B "$tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
        -DDDLCOORD_SANITIZE=thread -DDDLCOORD_BUILD_BENCH=OFF >/dev/null
    targets=(ddlcoord test_mem test_mem_fault test_store_core test_conformance test_election
        test_protocol dc_robust ddlcoord-scripted)
    for d in etcd redis zk; do [ -d "$top/backends/$d" ] && targets+=("ddlcoord-$d"); done
    cmake --build "$tsan" -j"$jobs" --target "${targets[@]}" 2>&1 |
        grep -Ev '^\[ *[0-9]+%\]|^Consolidate|^Scanning' || true
    echo "== test $tsan (label tsan)"
    (cd "$tsan" && ctest -L tsan --output-on-failure --timeout 600 -j"$jobs") || status=1
fi
exit $status
