#!/usr/bin/env bash
# smoke.sh FUZZER SECONDS CORPUS WORKDIR: fuzz one libFuzzer target for
# SECONDS, starting from CORPUS (read only) with new inputs and any crash
# file going to WORKDIR (the build tree). Prints the executions done; exits
# non-zero on a finding (libFuzzer's own exit code), naming the crash file.
set -u
fuzzer=${1:?usage: smoke.sh FUZZER SECONDS CORPUS WORKDIR}
seconds=${2:?}
corpus=${3:?}
work=${4:?}
mkdir -p "$work/corpus" "$work/artifacts" || exit 2
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" "$corpus" >"$work/log" 2>&1
rc=$?
grep -E '^stat::number_of_executed_units' "$work/log" | sed "s|^|$(basename "$fuzzer"): |"
if [ $rc -ne 0 ]; then
    echo "smoke.sh: $(basename "$fuzzer") found something (exit $rc); log $work/log:" >&2
    grep -E 'ERROR|SUMMARY|Test unit written|artifact' "$work/log" | head -20 >&2
fi
exit $rc
