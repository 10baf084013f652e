#!/usr/bin/env bash
# cli.sh: the ddlcoord command's single-process behaviour, on mem:// (no
# server): --help everywhere, exit codes for bad input, store selection
# precedence, the demo's checks, and the waits that end in a timeout or "no
# master" exit code. The multi-process behaviour is in scenarios.sh.
here=$(cd "$(dirname "$0")" && pwd)
DDLCOORD_TEST_STORE=${DDLCOORD_TEST_STORE:-mem://}
. "$here/lib.sh"
unset DDLCOORD_STORE

# --help: exit 0 and say what the command does; the top level lists exit codes.
expect_rc 0 "$DC" --help
grep -q "^Exit codes:" "$WORK/last.out" || fail "--help lacks the exit codes"
cp "$WORK/last.out" "$WORK/help.out"
grep -q "^  --store URI" "$WORK/help.out" || fail "--help lacks the common options"
for c in demo master worker locks unlock remove-meta task status; do
    grep -q "^  $c " "$WORK/help.out" || fail "--help does not list $c"
    expect_rc 0 "$DC" "$c" --help
    grep -q "^Usage: ddlcoord $c" "$WORK/last.out" || fail "$c --help has no usage line"
    # its own options first, then a pointer to the common ones
    tail -n 2 "$WORK/last.out" | grep -q "see 'ddlcoord --help'" ||
        fail "$c --help does not end pointing to ddlcoord --help"
    grep -q "^  --store URI" "$WORK/last.out" && fail "$c --help repeats the common options"
done

# A non-numeric number in the config: the file, the line and the key.
printf '[store]\nuri = mem://\n[master]\nttl = ten\n' >"$WORK/t.ini"
expect_rc 2 "$DC" --config "$WORK/t.ini" master
grep -q "master.ttl=ten (.*t.ini:4)" "$WORK/last.err" || fail "bad ttl: $(cat "$WORK/last.err")"
printf '[store]\nuri = mem://\n[master]\nkeep_revisions = lots\n' >"$WORK/k.ini"
expect_rc 2 "$DC" --config "$WORK/k.ini" master
grep -q "master.keep_revisions=lots (.*k.ini:4)" "$WORK/last.err" ||
    fail "bad keep_revisions: $(cat "$WORK/last.err")"

# demo -o json: the summary alone, as JSON.
expect_rc 0 "$DC" demo -o json --pace 0
[ "$(jq -c '[.ok, .locks, .sources, .keys_left]' "$WORK/last.out")" = '[true,2,3,0]' ] ||
    fail "demo -o json: $(cat "$WORK/last.out")"

# version -o json: the library and the built-in driver.
expect_rc 0 "$DC" version -o json
[ "$(jq -r '.drivers[0].scheme' "$WORK/last.out")" = mem ] || fail "version -o json"
[ "$(jq -r '.version' "$WORK/last.out")" != null ] || fail "version -o json: no version"

# Bad input: one line on stderr and exit 2, never a crash.
one_line_error() {
    [ "$(wc -l <"$WORK/last.err")" -le 2 ] || fail "more than one message for: $*"
    [ -s "$WORK/last.err" ] || fail "no message for: $*"
}
for args in "" "nosuch" "--bogus demo" "demo --bogus" "demo --sources 0" "demo --tables x" \
    "locks extra" "task" "task add" "task add T" "task frob T" "unlock" "unlock --timeout 0 X" \
    "remove-meta" "worker --task T" "worker --task T --source S --schema D --table X" \
    "master --ttl 0" "locks --namespace relative" "locks --log-level loud"; do
    # shellcheck disable=SC2086
    expect_rc 2 "$DC" --store mem:// $args
    one_line_error "$args"
done
expect_rc 2 "$DC" worker --task T --source S --schema D --table X --ddl ""

# An unknown scheme: a usage error (exit 2), one line naming the URI and the
# schemes that work here.
expect_rc 2 "$DC" --store nosuch://x locks
grep -q "cannot open store nosuch://x" "$WORK/last.err" || fail "store error message"
grep -q "known schemes: mem" "$WORK/last.err" || fail "the known schemes are not listed"
one_line_error "nosuch://x"
# A password in the store URI never appears in what the command prints, its
# own lines or the library's, at any log level, however the URI is written
# (issue #12 case 10, the command's side).
for uri in 'redis://bob:s3cr3tpw@127.0.0.1:1' 'redis://bob:s3cr3t/pw@127.0.0.1:1' \
    'bob:s3cr3tpw@127.0.0.1:1' 'redis://127.0.0.1:1?password=s3cr3tpw' \
    'redis://:s3cr3t@pw@127.0.0.1:1/x' 'etcd://u:s3cr3tpw@[::1'; do
    for level in debug warn; do
        "$DC" --store "$uri" --log-level "$level" locks >"$WORK/last.out" 2>"$WORK/last.err"
        [ $? = 0 ] && fail "locks on $uri succeeded"
        grep -q "s3cr3t" "$WORK/last.out" "$WORK/last.err" &&
            fail "the password is printed for $uri: $(cat "$WORK/last.err")"
        grep -q '\*\*\*' "$WORK/last.err" || fail "no redacted URI for $uri"
    done
done
# No store at all: a usage error.
expect_rc 2 "$DC" locks
# A config file that does not parse: exit 7 (corrupt).
printf '[store\nuri = mem://\n' >"$WORK/bad.ini"
expect_rc 7 "$DC" --config "$WORK/bad.ini" locks
# A config file that does not exist: usage error.
expect_rc 2 "$DC" --config "$WORK/none.ini" locks

# Precedence --store > DDLCOORD_STORE > config uri, shown by which scheme
# the loader tries; the config file still supplies the namespace.
printf '[store]\nuri = fromconfig://x\nnamespace = /fromconfig\n' >"$WORK/c.ini"
expect_rc 2 "$DC" --config "$WORK/c.ini" locks
grep -q "fromconfig://x" "$WORK/last.err" || fail "config uri not used"
DDLCOORD_STORE=fromenv://x expect_rc 2 "$DC" --config "$WORK/c.ini" locks
grep -q "fromenv://x" "$WORK/last.err" || fail "DDLCOORD_STORE does not beat the config"
DDLCOORD_STORE=fromenv://x expect_rc 2 "$DC" --config "$WORK/c.ini" --store fromflag://x locks
grep -q "fromflag://x" "$WORK/last.err" || fail "--store does not beat DDLCOORD_STORE"
printf '[store]\nuri = mem://\nnamespace = /fromconfig\n' >"$WORK/m.ini"
expect_rc 0 "$DC" --config "$WORK/m.ini" locks
grep -q "^0 locks" "$WORK/last.out" || fail "locks on an empty store"

# The demo: the Quick-start run and a bigger quiet one both pass their checks.
expect_rc 0 "$DC" demo
grep -q "All checks passed" "$WORK/last.out" || fail "demo checks"
grep -q "M1 < W1 < M2 < W2 < M3 .*ok" "$WORK/last.out" || fail "demo revision-order line"
expect_rc 0 "$DC" demo --sources 12 --tables 40 --pace 0
grep -q "progress: 40/40 locks resolved" "$WORK/last.out" || fail "demo progress line"
expect_rc 0 "$DC" demo --quiet --sources 1 --tables 3
grep -q "locks resolved *3/3" "$WORK/last.out" || fail "demo with one source"

# Waits that nobody answers on mem:// (no master in this process).
expect_rc 4 "$DC" --store mem:// worker --task T --source S --schema d --table t --ddl X \
    --timeout 0.5 --no-exec
expect_rc 9 "$DC" --store mem:// unlock 'T-`d`.`t`' --timeout 0.5
expect_rc 9 "$DC" --store mem:// remove-meta T --timeout 0.5
expect_rc 0 "$DC" --store mem:// task add T s1 s2
expect_rc 0 "$DC" --store mem:// task list
echo "PASS: cli"
