#!/usr/bin/env bash
# The symbol checker fed violations: each bad artifact must fail with exit 1
# and name every offending symbol; the good archive must pass.
#   test-check-symbols.sh CHECKER BAD.so BAD_PLUGIN.so NOSYM_PLUGIN.so BAD.a GOOD.a BAD_INCLUDE
set -u
[ $# -eq 7 ] || {
    echo "usage: $0 CHECKER BAD.so BAD_PLUGIN.so NOSYM_PLUGIN.so BAD.a GOOD.a BAD_INCLUDE" >&2
    exit 2
}
checker=$1 badso=$2 badplugin=$3 nosym=$4 bada=$5 gooda=$6 inc=$7
fail=0

expect() { # want_rc, "names…", checker args…
    local want=$1 names=$2 out rc n
    shift 2
    out=$(bash "$checker" "$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL: check-symbols.sh $* exited $rc, want $want; it said:"
        printf '%s\n' "$out"
        fail=1
        return
    fi
    for n in $names; do
        if ! printf '%s\n' "$out" | grep -qE "[: ]$n([^A-Za-z0-9_]|$)"; then
            echo "FAIL: check-symbols.sh $* did not name $n; it said:"
            printf '%s\n' "$out"
            fail=1
        fi
    done
    echo "ok: check-symbols.sh $1 $(basename "$2") -> exit $rc${names:+, named $names}"
}

expect 1 "mem_find dc__internal dc_not_declared dc_declared_but_missing dc_unmarked" \
    so "$badso" "$inc"
expect 1 "mem_find dc__internal dc_not_declared" driver "$badplugin"
expect 1 "dc_driver_entry dc_driver_entry_misspelled" driver "$nosym"
expect 1 "mem_find dc_not_declared" static "$bada" "$inc"
expect 0 "" static "$gooda" "$inc"
# A file that is not there is a usage error, never a pass.
expect 2 "" so "$badso.missing" "$inc"
exit $fail
