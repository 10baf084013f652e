#!/usr/bin/env bash
# The command run from the build tree with no variable set: `ddlcoord
# version` lists every driver of the build, found next to the build's
# libddlcoord.so, and a store URI of each driver's scheme reaches the driver
# (it fails to connect to a closed port: "backend unavailable", exit 3), not
# "driver plugin not found" as before.
#   build-tree.sh DDLCOORD_BIN "SCHEMES…"
set -u
[ $# -eq 2 ] || {
    echo "usage: $0 DDLCOORD_BIN 'etcd redis zk'" >&2
    exit 2
}
bin=$1 schemes=$2
unset DDLCOORD_DRIVER_PATH DDLCOORD_STORE
fail=0
out=$("$bin" version 2>&1)
rc=$?
printf '%s\n' "$out"
if [ $rc -ne 0 ]; then
    echo "FAIL: ddlcoord version exited $rc"
    fail=1
fi
grep -q '^ddlcoord [0-9][0-9.]* (library [0-9][0-9.]*)$' <<<"$out" || {
    echo "FAIL: no version line"
    fail=1
}
grep -q 'next to libddlcoord.so' <<<"$out" || {
    echo "FAIL: the directory next to libddlcoord.so is not in the search order"
    fail=1
}
for s in $schemes; do
    # The driver's line, then its file on the next line, under the build tree.
    if ! grep -A1 -E "^  $s +[^ ]" <<<"$out" | grep -q "/ddlcoord/ddlcoord-$s.so\$"; then
        echo "FAIL: ddlcoord version does not list the $s driver next to the library"
        fail=1
    fi
    if grep -A1 -E "^  $s +cannot be loaded" <<<"$out" >/dev/null; then
        echo "FAIL: the $s driver cannot be loaded"
        fail=1
    fi
    out2=$("$bin" locks --store "$s://127.0.0.1:1" 2>&1)
    rc=$?
    echo "locks --store $s://127.0.0.1:1 -> exit $rc: $out2"
    if [ $rc -ne 3 ] || grep -q "driver plugin not found" <<<"$out2"; then
        echo "FAIL: a $s:// store did not reach the $s driver"
        fail=1
    fi
done
# An unknown scheme: the message names the directories and both settings.
out2=$("$bin" locks --store "nosuch://127.0.0.1:1" 2>&1)
echo "locks --store nosuch://… -> $out2"
for want in "driver plugin not found" "(next to libddlcoord.so)" DDLCOORD_DRIVER_PATH driver_dir; do
    grep -qF -- "$want" <<<"$out2" || {
        echo "FAIL: the not-found message lacks '$want'"
        fail=1
    }
done
exit $fail
