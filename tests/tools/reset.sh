#!/bin/bash
# The ddlcoord command across store resets (docs/DESIGN.md, "Resets"): the
# store loses everything (Redis FLUSHALL, $DDLCOORD_TEST_RESET from the
# fixture) while a leader, a standby and a waiting worker run, twice. The
# same processes go on: the masters log the reset, stand as new candidates
# on new handles and one of them leads and rebuilds; the waiting worker
# reports again by itself; every DDL runs exactly once. Task membership is
# lost with the data and put back, as an operator restoring a store does.
. "$(dirname "$0")/lib.sh"

RESET=${DDLCOORD_TEST_RESET:?the fixture gives no reset command}

leads_after_reset() { # the number of "leads" lines in LOG after its last reset line
    awk '/history was reset/ {n = 0; seen = 1} seen && / leads/ {n++} END {print n + 0}' "$WORK/$1"
}

note "store reset on $STORE (namespace $NS)"
dc task add T s1 s2 >/dev/null || fail "task add"
start_master m1
m1=$LAST_PID
wait_until log_has m1.log "leads (leader key"
start_master m2
m2=$LAST_PID
wait_until log_has m2.log "campaigns under"
for round in 1 2; do
    col=c$round
    start_worker w1-$round s1 "ALTER TABLE tbl ADD COLUMN $col INT" --position p$round --timeout 90
    w1=$LAST_PID
    wait_until lock_has_source s1
    note "round $round: reset"
    $RESET >/dev/null || fail "reset command failed: $RESET"
    dc task add T s1 s2 >/dev/null || fail "task add after the reset"
    # s1 reports again by itself, and a master leads the new history
    wait_until lock_has_source s1
    start_worker w2-$round s2 "ALTER TABLE tbl ADD COLUMN $col INT" --position p$round --timeout 90
    expect_exit 0 "$LAST_PID"
    expect_exit 0 "$w1"
    expect_execs "$round"
    wait_until no_locks
    kill -0 "$m1" 2>/dev/null || fail "m1 exited after reset $round"
    kill -0 "$m2" 2>/dev/null || fail "m2 exited after reset $round"
    log_has m1.log "history was reset" || fail "m1 did not log the reset"
    # one leader in the new history: the two logs together say "leads" once
    # after the reset (a lease lost under load may add a hand-over: at most 2)
    n=$(($(leads_after_reset m1.log) + $(leads_after_reset m2.log)))
    [ "$n" -ge 1 ] && [ "$n" -le 2 ] || fail "round $round: $n 'leads' lines after the reset"
done
grep -c "history was reset" "$WORK/m1.log" | grep -qv '^0$' || fail "no reset logged"
stop_master "$m1"
stop_master "$m2"
echo "PASS: store_reset"
