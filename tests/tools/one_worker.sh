#!/bin/bash
# One live worker per (task, source): a second worker for a source whose
# worker is alive exits 10 (busy) after one lease TTL and executes nothing;
# after the live one is killed with -9, a re-run waits for its lease to
# expire and takes over (exit 0), and the DDL runs once.
. "$(dirname "$0")/lib.sh"

note "one live worker per source on $STORE (namespace $NS)"
dc task add T s1 s2 >/dev/null || fail "task add"
start_master m
m=$LAST_PID
# w1's lease is long enough to survive a loaded machine; w1b waits 2 * 1 + 2 s
# for it, then is refused; w1c waits up to 2 * 3 + 2 s for the dead w1's 5 s lease.
start_worker w1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 90 --ttl 5
w1=$LAST_PID
wait_until lock_has_source s1
start_worker w1b s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 90 --ttl 1
expect_exit 10 "$LAST_PID"
grep -q "busy" "$WORK/w1b.err" || fail "the second worker did not say busy"
kill -KILL "$w1"
start_worker w1c s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 90 --ttl 3
w1c=$LAST_PID
start_worker w2 s2 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 90 --ttl 2
expect_exit 0 "$w1c"
expect_exit 0 "$LAST_PID"
expect_execs 1
wait_until no_locks
"$DC" worker --help | grep -q "exits 10" || fail "worker --help does not document exit 10"
stop_master "$m"
echo "PASS: one_worker"
