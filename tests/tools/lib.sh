# Helpers for the tests of the ddlcoord command (sourced, not run).
#
# Environment: DDLCOORD_BIN (the command), DDLCOORD_TEST_STORE (a store URI;
# with-store.sh sets it from a fixture), DC_TEST_RAW (raw put and count).
# Every test runs in its own namespace on the store, so tests never see each
# other's keys; every process a test starts is recorded and killed by PID when
# the test ends. Waits have generous limits that only guard against hangs:
# nothing here asserts how fast anything happens.
set -u

DC=${DDLCOORD_BIN:?DDLCOORD_BIN must name the ddlcoord command}
STORE=${DDLCOORD_TEST_STORE:-}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ddlcoord-tools.XXXXXX")
NS_BASE=/ddlcoord-test-$$-$RANDOM
NS=$NS_BASE
PIDS=""
LAST_PID=
declare -A MASTER_NAME # PID -> name of the masters started
TTL=2      # election lease TTL of the test masters (etcd's minimum is about 2 s)
GUARD=60   # seconds before a wait is declared hung

LOCK_ID='T-`db`.`tbl`'

dump_logs() {
    local f
    for f in "$WORK"/*.log "$WORK"/*.out "$WORK"/*.err; do
        [ -s "$f" ] || continue
        echo "--- $(basename "$f") (tail)" >&2
        tail -n 30 "$f" >&2
    done
}

fail() {
    echo "FAIL: $*" >&2
    dump_logs
    exit 1
}

note() { echo "--- $*"; }

cleanup() {
    local pid
    for pid in $PIDS; do
        kill -CONT "$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    wait 2>/dev/null
    [ -n "${DC_KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

# dc ARGS…: the command on the test's store and namespace.
dc() { "$DC" --store "$STORE" --namespace "$NS" "$@"; }

track() {
    LAST_PID=$1
    PIDS="$PIDS $1"
}

# start_master NAME [VAR=value…]: a master in the background (LAST_PID).
start_master() {
    local name=$1
    shift
    env "$@" DDLCOORD_LOG=info "$DC" --store "$STORE" --namespace "$NS" master --name "$name" \
        --ttl "$TTL" 2>>"$WORK/$name.log" &
    track $!
    MASTER_NAME[$!]=$name
}

# start_worker NAME SOURCE DDL [extra options…]: a worker for table db.tbl of
# task T in the background (LAST_PID). Its --exec appends to $WORK/exec.log.
start_worker() {
    local name=$1 source=$2 ddl=$3
    shift 3
    "$DC" --store "$STORE" --namespace "$NS" worker --task T --source "$source" --schema db \
        --table tbl --ddl "$ddl" \
        --exec 'echo "$DDLCOORD_LOCK_ID|$DDLCOORD_SOURCE|$DDLCOORD_DDLS" >> "$EXEC_LOG"' \
        "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    track $!
}
export EXEC_LOG="$WORK/exec.log"

# wait_until CMD…: run CMD every 0.1 s until it succeeds (fail after GUARD s).
wait_until() {
    local end=$((SECONDS + GUARD))
    while [ $SECONDS -lt $end ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "waited ${GUARD}s for: $*"
}

# expect_exit CODE PID: wait for PID (our child) and check its exit code.
expect_exit() {
    local want=$1 pid=$2 end=$((SECONDS + GUARD)) rc
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -lt $end ] || fail "process $pid still running after ${GUARD}s"
        sleep 0.1
    done
    wait "$pid"
    rc=$?
    [ "$rc" = "$want" ] || fail "process $pid exited $rc, expected $want"
}

# expect_rc CODE CMD…: run CMD in the foreground and check its exit code.
expect_rc() {
    local want=$1 rc
    shift
    "$@" >"$WORK/last.out" 2>"$WORK/last.err"
    rc=$?
    [ "$rc" = "$want" ] || {
        cat "$WORK/last.out" "$WORK/last.err" >&2
        fail "'$*' exited $rc, expected $want"
    }
}

is_stopped() { [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = T ]; }
log_has() { grep -q -- "$2" "$WORK/$1"; }

# SOURCE has reported the lock's DDLs (it is in the lock's synced list).
lock_has_source() { dc locks --json | grep '"synced":' | grep -q "\"$1\""; }

no_locks() { dc locks | grep -q '^0 locks'; }
dc_locks_has() { dc locks -o wide | grep -q -- "$1"; }

exec_lines() { [ -f "$EXEC_LOG" ] && wc -l <"$EXEC_LOG" || echo 0; }

# expect_execs N: exactly N DDL executions recorded.
expect_execs() {
    local n
    n=$(exec_lines)
    [ "$n" = "$1" ] || {
        cat "$EXEC_LOG" >&2 2>/dev/null
        fail "expected $1 DDL executions, found $n"
    }
}

# stop_master PID: SIGTERM, and the master must exit 0. It is sent once the
# master has said it campaigns (its handlers are installed by then; a
# process still starting up would simply die of the signal).
stop_master() {
    wait_until log_has "${MASTER_NAME[$1]}.log" "campaigns under"
    kill -TERM "$1"
    expect_exit 0 "$1"
}

hex() { printf %s "$1" | od -An -tx1 -v | tr -d ' \n'; }

# raw put KEY VALUE | raw count PREFIX: the store beneath the command.
raw() { "${DC_TEST_RAW:?}" "$STORE" "$@"; }

# expect_keys N PREFIX: exactly N keys under PREFIX.
expect_keys() {
    local n
    n=$(raw count "$2") || fail "cannot count keys under $2"
    [ "$n" = "$1" ] || fail "expected $1 keys under $2, found $n"
}
