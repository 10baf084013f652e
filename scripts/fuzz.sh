#!/usr/bin/env bash
# Fuzz every target of tests/fuzz with libFuzzer (tests/fuzz/README.md).
#   scripts/fuzz.sh [SECONDS | -runs=N]   (default 60 seconds per target)
# Builds (or reuses) ./build-fuzz with clang, ASan + UBSan and
# DDLCOORD_FUZZ=ON, then runs each target from its committed corpus
# (tests/fuzz/corpus/<target>, read only); new inputs go to
# build-fuzz/fuzz-work/<target>/corpus, crashes to .../artifacts. Prints the
# executions per target and in total; exits 1 if any target found something.
# Environment: FUZZ_BUILD (build-fuzz), FUZZ_TARGETS (all), FUZZ_JOBS (1).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
arg=${1:-60}
case $arg in
-runs=*) limit=$arg ;;
*[!0-9]* | "") echo "usage: scripts/fuzz.sh [SECONDS | -runs=N]" >&2; exit 2 ;;
*) limit=-max_total_time=$arg ;;
esac
build=${FUZZ_BUILD:-$top/build-fuzz}
targets=${FUZZ_TARGETS:-"pessimism_json uri config redis_reply zk_codec etcd_pb"}

cmake -S "$top" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DDDLCOORD_SANITIZE=ON -DDDLCOORD_FUZZ=ON >/dev/null || exit 2
for t in $targets; do
    cmake --build "$build" -j"$(nproc)" --target "fuzz_$t" 2>&1 | grep -E 'error|warning' && exit 2
done

total=0
status=0
for t in $targets; do
    bin=$(find "$build/tests/fuzz" -maxdepth 1 -name "fuzz_$t" -type f | head -1)
    [ -x "$bin" ] || { echo "fuzz.sh: no fuzz_$t in $build" >&2; status=1; continue; }
    work=$build/fuzz-work/$t
    mkdir -p "$work/corpus" "$work/artifacts"
    "$bin" "$limit" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
        -jobs="${FUZZ_JOBS:-1}" -workers="${FUZZ_JOBS:-1}" \
        -artifact_prefix="$work/artifacts/" "$work/corpus" "$top/tests/fuzz/corpus/$t" \
        >"$work/log" 2>&1
    rc=$?
    n=$(grep -E '^stat::number_of_executed_units' "$work/log" | awk '{s += $2} END {print s + 0}')
    total=$((total + n))
    if [ $rc -eq 0 ]; then
        printf '%-16s %12d executions, no finding\n' "$t" "$n"
    else
        status=1
        printf '%-16s %12d executions, FINDING (exit %d), log %s\n' "$t" "$n" "$rc" "$work/log"
        grep -E 'ERROR|SUMMARY|Test unit written' "$work/log" | head -5
    fi
done
printf '%-16s %12d executions\n' total "$total"
exit $status
