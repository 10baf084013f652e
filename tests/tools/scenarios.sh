#!/usr/bin/env bash
# scenarios.sh NAME: one multi-process test of the ddlcoord command against the
# store in $DDLCOORD_TEST_STORE (a real server: etcd, Redis or ZooKeeper; the
# processes share nothing but the store). Registered once per backend and
# scenario by tests/tools/CMakeLists.txt. Each scenario states the rule it
# checks; every DDL a worker executes is appended to $WORK/exec.log, which is
# how "exactly once" is checked.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
[ -n "$STORE" ] || fail "DDLCOORD_TEST_STORE is not set"

# 1 master and 8 worker processes through 20 consecutive DDLs on one table:
# every DDL runs exactly once, every lock resolves, one log line per step.
scenario_workers_20_ddls() {
    dc task add T s1 s2 s3 s4 s5 s6 s7 s8 >/dev/null || fail "task add"
    start_master m1
    local m=$LAST_PID i s pids
    for i in $(seq 1 20); do
        pids=""
        for s in s1 s2 s3 s4 s5 s6 s7 s8; do
            start_worker "w-$s-$i" "$s" "ALTER TABLE tbl ADD COLUMN c$i INT" --position "bin.$i" \
                --timeout 60
            pids="$pids $LAST_PID"
        done
        for s in $pids; do expect_exit 0 "$s"; done
    done
    expect_execs 20
    for i in $(seq 1 20); do
        [ "$(grep -c "ADD COLUMN c$i INT\$" "$EXEC_LOG")" = 1 ] || fail "DDL $i not executed once"
    done
    wait_until no_locks # step 10 follows the last done: the master may still be deleting
    # One line per protocol step, with lock ID, source and revision.
    log_has m1.log "master step 4: lock $LOCK_ID source s[1-8] rev [0-9]" ||
        fail "no step-4 log line"
    [ "$(grep -c "master step 10: lock $LOCK_ID" "$WORK/m1.log")" = 20 ] ||
        fail "expected 20 step-10 lines"
    stop_master "$m"
}

# Two masters; the leader is killed -9 in mid-lock (right after it put the
# owner's operation): the standby takes over and finishes the lock.
scenario_failover_mid_lock() {
    dc task add T s1 s2 s3 >/dev/null || fail "task add"
    start_master m1 DDLCOORD_TEST_PAUSE_AT_STEP=4
    local m1=$LAST_PID
    wait_until log_has m1.log "m1 leads"
    start_master m2
    local m2=$LAST_PID s pids=""
    for s in s1 s2 s3; do
        start_worker "w-$s" "$s" "ALTER TABLE tbl ADD COLUMN c INT" --position p1 --timeout 60
        pids="$pids $LAST_PID"
    done
    wait_until is_stopped "$m1"
    kill -KILL "$m1"
    for s in $pids; do expect_exit 0 "$s"; done
    log_has m2.log "m2 leads" || fail "the standby never led"
    expect_execs 1
    wait_until no_locks # the new leader deletes the lock after the last done it sees
    stop_master "$m2"
    # SIGTERM resigned: the lease was revoked, so no election key is left
    # (m1's expired before m2 could lead).
    expect_keys 0 "$NS/ddlcoord/election/"
}

# The master is killed -9 at each of DM's ten steps (a pause point in
# the master for steps 1, 3, 4, 9, 10; in a worker for 2, 5, 6, 7, 8, with
# the master killed while that worker is stopped there); a new master takes
# over: every lock resolves and its DDL runs exactly once.
scenario_master_killed_at_each_step() {
    local step s pids a b w1
    for step in 1 2 3 4 5 6 7 8 9 10; do
        NS=$NS_BASE-step$step
        EXEC_LOG=$WORK/exec-$step.log
        note "master killed at step $step"
        dc task add T s1 s2 s3 >/dev/null || fail "task add"
        pids=""
        case $step in
        1 | 3 | 4 | 9 | 10)
            if [ "$step" = 1 ]; then
                # Step 1 is the master's first read: have infos waiting for it.
                for s in s1 s2 s3; do
                    start_worker "w-$step-$s" "$s" "ALTER TABLE tbl ADD COLUMN c INT" \
                        --position p --timeout 60
                    pids="$pids $LAST_PID"
                done
                for s in s1 s2 s3; do wait_until lock_has_source "$s"; done
                start_master "a$step" DDLCOORD_TEST_PAUSE_AT_STEP=$step
                a=$LAST_PID
            else
                start_master "a$step" DDLCOORD_TEST_PAUSE_AT_STEP=$step
                a=$LAST_PID
                wait_until log_has "a$step.log" "a$step leads"
                for s in s1 s2 s3; do
                    start_worker "w-$step-$s" "$s" "ALTER TABLE tbl ADD COLUMN c INT" \
                        --position p --timeout 60
                    pids="$pids $LAST_PID"
                done
            fi
            wait_until is_stopped "$a"
            kill -KILL "$a"
            start_master "b$step"
            b=$LAST_PID
            ;;
        *)
            start_master "a$step"
            a=$LAST_PID
            wait_until log_has "a$step.log" "a$step leads"
            DDLCOORD_TEST_PAUSE_AT_STEP=$step start_worker "w-$step-s1" s1 \
                "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
            w1=$LAST_PID
            for s in s2 s3; do
                start_worker "w-$step-$s" "$s" "ALTER TABLE tbl ADD COLUMN c INT" \
                    --position p --timeout 60
                pids="$pids $LAST_PID"
            done
            wait_until is_stopped "$w1"
            kill -KILL "$a"
            start_master "b$step"
            b=$LAST_PID
            kill -CONT "$w1"
            pids="$pids $w1"
            ;;
        esac
        for s in $pids; do expect_exit 0 "$s"; done
        expect_execs 1
        wait_until no_locks
        stop_master "$b"
    done
}

# A leader stopped (SIGSTOP) past its lease loses the election; the new
# leader finishes the lock; the old one, resumed, tries to write and the
# store rejects it (fencing): nothing it does lands.
scenario_paused_leader_is_fenced() {
    dc task add T s1 >/dev/null || fail "task add"
    start_master a DDLCOORD_TEST_PAUSE_AT_STEP=3
    local a=$LAST_PID
    wait_until log_has a.log "a leads"
    start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    local w=$LAST_PID
    wait_until is_stopped "$a" # synced the lock; its next write is the owner's operation
    start_master b
    local b=$LAST_PID
    wait_until log_has b.log "b leads"
    expect_exit 0 "$w"
    expect_execs 1
    # Resume a only once b has deleted the operation: a's next step is then
    # certainly a write (the owner's operation is missing), not a read that
    # finds b's work done and has nothing to write.
    wait_until log_has b.log "master step 10: lock $LOCK_ID"
    kill -CONT "$a"
    wait_until log_has a.log "rejected by the fence"
    wait_until log_has a.log "a stands by again"
    no_locks || fail "the deposed leader's write landed"
    expect_execs 1
    stop_master "$a"
    stop_master "$b"
}

# A worker killed between executing and its done txn, then re-run with the
# same --position, finishes the lock without a manual unlock and without
# executing the DDL again.
scenario_worker_crash_rerun() {
    dc task add T s1 s2 >/dev/null || fail "task add"
    start_master m
    local m=$LAST_PID
    DDLCOORD_TEST_PAUSE_AT_STEP=7 start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" \
        --position bin.7 --timeout 60
    local w1=$LAST_PID
    wait_until lock_has_source s1 # s1 reports first: it owns the lock
    start_worker w-s2 s2 "ALTER TABLE tbl ADD COLUMN c INT" --position bin.9 --timeout 60
    local w2=$LAST_PID
    wait_until is_stopped "$w1"
    expect_execs 1
    kill -KILL "$w1"
    start_worker w-s1-rerun s1 "ALTER TABLE tbl ADD COLUMN c INT" --position bin.7 --timeout 60
    expect_exit 0 "$LAST_PID"
    expect_exit 0 "$w2"
    expect_execs 1
    wait_until no_locks
    stop_master "$m"
}

# unlock --owner: a lock whose third source never reports is unlocked by
# hand; the named owner executes, the other synced source skips.
scenario_unlock_owner() {
    dc task add T s1 s2 s3 >/dev/null || fail "task add"
    start_master m
    local m=$LAST_PID
    start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    local w1=$LAST_PID
    wait_until lock_has_source s1
    start_worker w-s2 s2 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    local w2=$LAST_PID
    wait_until lock_has_source s2
    expect_rc 0 dc unlock "$LOCK_ID" --owner s2 --timeout 30
    grep -q "unlock $LOCK_ID" "$WORK/last.out" || fail "unlock printed no answer"
    expect_exit 0 "$w1"
    expect_exit 0 "$w2"
    expect_execs 1
    grep -q "|s2|" "$EXEC_LOG" || fail "s2 (the named owner) did not execute"
    wait_until no_locks
    expect_rc 1 dc unlock 'T-`db`.`nosuch`' --timeout 30
    expect_keys 0 "$NS/ddlcoord/admin/" # answered requests are cleaned up
    stop_master "$m"
}

# Removing a source that never reports lets the lock it blocks go on.
scenario_task_remove_unblocks_lock() {
    dc task add T s1 s2 s3 >/dev/null || fail "task add"
    start_master m
    local m=$LAST_PID
    start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    local w1=$LAST_PID
    start_worker w-s2 s2 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    local w2=$LAST_PID
    wait_until lock_has_source s1
    wait_until lock_has_source s2
    expect_execs 0
    expect_rc 0 dc task remove T s3
    expect_exit 0 "$w1"
    expect_exit 0 "$w2"
    expect_execs 1
    wait_until no_locks
    stop_master "$m"
}

# DM's own values, in DM's key layout, are read as they are (the layout
# --namespace /dm-master reads in a DM cluster's etcd).
scenario_dm_values() {
    local src=mysql-replica-01
    raw put "$NS/shardddl-pessimism/info/$(hex test)/$(hex $src)" \
        '{"task":"test","source":"mysql-replica-01","schema":"foo","table":"bar","ddls":["ALTER TABLE bar ADD COLUMN c1 INT"]}' \
        >/dev/null || fail "cannot plant DM's info"
    expect_rc 0 dc locks --json
    grep -q '"ID":.*"test-`foo`.`bar`"' "$WORK/last.out" || fail "DM's lock not shown"
    grep -q '"owner":.*"mysql-replica-01"' "$WORK/last.out" || fail "DM's owner not shown"
    grep -q '"ALTER TABLE bar ADD COLUMN c1 INT"' "$WORK/last.out" || fail "DM's DDL not shown"
}

# unlock without --force-remove times out when the owner cannot finish and
# leaves the lock; with --force-remove the lock is removed.
scenario_unlock_force_remove() {
    dc task add T s1 s2 s3 >/dev/null || fail "task add"
    start_master m
    local m=$LAST_PID
    start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    local w1=$LAST_PID
    wait_until lock_has_source s1
    kill -STOP "$w1" # the owner hangs
    start_worker w-s2 s2 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    wait_until lock_has_source s2
    expect_rc 4 dc unlock "$LOCK_ID" --timeout 5 # the master waits 2 s of it
    no_locks && fail "the lock vanished without --force-remove"
    expect_rc 0 dc unlock "$LOCK_ID" --force-remove --timeout 5
    wait_until no_locks
    expect_execs 0
    stop_master "$m"
}

# Admin requests with no master running: exit code 9, nothing left behind.
# The unanswered requests are withdrawn: a master started later does not
# execute them by surprise.
scenario_admin_without_master() {
    expect_rc 9 dc unlock "$LOCK_ID" --timeout 1
    grep -q "no master" "$WORK/last.err" || fail "no 'no master' message"
    expect_rc 9 dc remove-meta T --timeout 1
    expect_keys 0 "$NS/ddlcoord/admin/"
    start_master m
    local m=$LAST_PID
    wait_until log_has m.log "master step 1:"
    stop_master "$m"
    log_has m.log "admin: " && fail "a withdrawn request was executed"
    return 0
}

# remove-meta clears a task's infos, operations and the master's lock; task
# membership stays; the same table can then be locked again normally.
scenario_remove_meta() {
    dc task add T s1 s2 >/dev/null || fail "task add"
    start_master m
    local m=$LAST_PID
    wait_until log_has m.log "master step 1:" # so that s1's info comes after M1: step 3
    start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN old INT" --position p1 --timeout 60
    local w1=$LAST_PID
    # Once the master has the lock in memory too: remove-meta clears both.
    wait_until log_has m.log "master step 3: lock $LOCK_ID source s1"
    expect_rc 0 dc remove-meta T --timeout 30
    no_locks || fail "remove-meta left the lock"
    kill -KILL "$w1"
    [ "$(dc task list T | tr '\n' ' ')" = "s1 s2 " ] || fail "membership changed"
    start_worker w2-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p2 --timeout 60
    local a=$LAST_PID
    start_worker w2-s2 s2 "ALTER TABLE tbl ADD COLUMN c INT" --position p2 --timeout 60
    expect_exit 0 "$a"
    expect_exit 0 "$LAST_PID"
    expect_execs 1
    stop_master "$m"
}

# A corrupt value in an info key: the master reports it and keeps
# coordinating the other locks; `locks` still works.
scenario_corrupt_info() {
    dc task add T s1 s2 >/dev/null || fail "task add"
    dc task add BAD x1 >/dev/null || fail "task add"
    start_master m
    local m=$LAST_PID
    wait_until log_has m.log "m leads"
    local key="$NS/shardddl-pessimism/info/$(hex BAD)/$(hex x1)"
    raw put "$key" '{"task": "BAD", not json' >/dev/null ||
        fail "cannot plant the corrupt value"
    wait_until log_has m.log "$key"
    start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    local a=$LAST_PID
    start_worker w-s2 s2 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    expect_exit 0 "$a"
    expect_exit 0 "$LAST_PID"
    expect_execs 1
    # locks shows the rest, names the bad key in one line, and exits 7.
    expect_rc 7 dc locks
    grep -q "^0 locks" "$WORK/last.out" || fail "locks did not print the view"
    [ "$(wc -l <"$WORK/last.err")" = 1 ] || fail "expected one line on stderr"
    grep -q -- "$key" "$WORK/last.err" || fail "locks does not name the corrupt key"
    stop_master "$m"
}

# Worker outcomes with their exit codes: a conflicting DDL (5), a failing
# --exec (6, and a re-run finishes the lock), and store selection through
# the config file and DDLCOORD_STORE.
scenario_worker_exit_codes() {
    dc task add T s1 s2 >/dev/null || fail "task add"
    start_master m
    local m=$LAST_PID
    start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    local w1=$LAST_PID
    wait_until lock_has_source s1
    start_worker w-s2 s2 "ALTER TABLE tbl DROP COLUMN d" --position p --timeout 30
    expect_exit 5 "$LAST_PID"
    grep -q "conflict" "$WORK/w-s2.err" || fail "no conflict message"
    dc locks --json | grep -q '"source":.*"s2"' || fail "locks does not show the conflict"
    start_worker w-s2b s2 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    expect_exit 0 "$LAST_PID"
    expect_exit 0 "$w1"
    expect_execs 1

    # A failing --exec: exit 6, the lock waits; a re-run executes and finishes.
    dc task add T s1 >/dev/null
    dc task remove T s2 >/dev/null
    "$DC" --store "$STORE" --namespace "$NS" worker --task T --source s1 --schema db \
        --table tbl --ddl "ALTER TABLE tbl ADD COLUMN e INT" --position q --timeout 60 \
        --exec 'exit 3' >"$WORK/fail.out" 2>"$WORK/fail.err"
    [ $? = 6 ] || fail "a failing --exec did not exit 6"
    no_locks && fail "the lock should still wait after a failed --exec"
    start_worker w-s1-again s1 "ALTER TABLE tbl ADD COLUMN e INT" --position q --timeout 60
    expect_exit 0 "$LAST_PID"
    expect_execs 2
    wait_until no_locks

    # Store precedence: --store > DDLCOORD_STORE > --config's uri.
    printf '[store]\nuri = %s\nnamespace = %s\n' "$STORE" "$NS" >"$WORK/ddlcoord.ini"
    [ "$("$DC" --config "$WORK/ddlcoord.ini" task list T)" = s1 ] ||
        fail "config file's uri/namespace not used"
    [ "$(DDLCOORD_STORE=$STORE "$DC" --namespace "$NS" task list T)" = s1 ] ||
        fail "DDLCOORD_STORE not used"
    [ "$(DDLCOORD_STORE=nosuch://x "$DC" --store "$STORE" --namespace "$NS" task list T)" = s1 ] ||
        fail "--store does not beat DDLCOORD_STORE"
    # A master configured by the file alone: store, namespace, [master] name and ttl.
    printf '[master]\nname = cfgm\nttl = 3\n' >>"$WORK/ddlcoord.ini"
    DDLCOORD_LOG=info "$DC" --config "$WORK/ddlcoord.ini" master 2>"$WORK/cfgm.log" &
    track $!
    MASTER_NAME[$LAST_PID]=cfgm
    wait_until log_has cfgm.log "cfgm campaigns under $NS/ddlcoord/election/ .*lease TTL 3s"
    stop_master "$LAST_PID"
    stop_master "$m"
}

# An owner killed while its --exec runs leaves the lock uncertain: `locks`
# says so, a plain unlock (with or without --owner) is refused naming both
# decisions, and a re-run executes again as attempt 2. Then the same with an
# operator's --assume-executed: nobody executes again, everyone skips, the
# owner's re-run is "already resolved".
# (CMD's parent is the --exec supervisor; the worker is the supervisor's parent.)
scenario_uncertain_lock_waits_for_a_decision() {
    dc task add T s1 s2 >/dev/null || fail "task add"
    start_master m
    local m=$LAST_PID kill_me='echo "$DDLCOORD_EXEC_ATTEMPT|$DDLCOORD_SOURCE" >>"$EXEC_LOG"; kill -9 $(ps -o ppid= -p $PPID)'
    "$DC" --store "$STORE" --namespace "$NS" worker --task T --source s1 --schema db --table tbl \
        --ddl "ALTER TABLE tbl ADD COLUMN c INT" --position p1 --timeout 60 --exec "$kill_me" \
        >"$WORK/w1.out" 2>"$WORK/w1.err" &
    track $!
    local w1=$LAST_PID
    wait_until lock_has_source s1
    start_worker w-s2 s2 "ALTER TABLE tbl ADD COLUMN c INT" --position p1 --timeout 60
    local w2=$LAST_PID
    expect_exit 137 "$w1"
    expect_execs 1
    wait_until dc_locks_has "UNCERTAIN  owner s1 may have executed: attempt 1"
    dc locks --json | grep -q '"uncertain":[[:space:]]*true' || fail "locks --json: not uncertain"
    expect_rc 1 dc unlock "$LOCK_ID" --timeout 10
    grep -q -- "--assume-executed" "$WORK/last.err" || fail "the refusal names no decision"
    grep -q -- "--assume-not-executed" "$WORK/last.err" || fail "the refusal names no decision"
    expect_rc 1 dc unlock "$LOCK_ID" --owner s2 --timeout 10
    grep -q "uncertain" "$WORK/last.err" || fail "unlock --owner was not refused as uncertain"
    expect_rc 2 dc unlock "$LOCK_ID" --owner s2 --assume-executed
    # The owner comes back: it runs CMD again, told it is attempt 2.
    start_worker w-s1-rerun s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p1 --timeout 60
    expect_exit 0 "$LAST_PID"
    expect_exit 0 "$w2"
    grep -q "skipped" "$WORK/w-s2.out" || fail "s2 did not skip"
    expect_execs 2
    tail -n 1 "$EXEC_LOG" | grep -q "|s1|" || fail "the re-run did not execute"
    wait_until no_locks

    # Again, and this time the operator decides that the DDL ran.
    NS=$NS_BASE-assume
    EXEC_LOG=$WORK/exec-assume.log
    dc task add T s1 s2 >/dev/null || fail "task add"
    stop_master "$m"
    start_master m2
    m=$LAST_PID
    "$DC" --store "$STORE" --namespace "$NS" worker --task T --source s1 --schema db --table tbl \
        --ddl "ALTER TABLE tbl ADD COLUMN d INT" --position p2 --timeout 60 --exec "$kill_me" \
        >"$WORK/w1b.out" 2>"$WORK/w1b.err" &
    track $!
    w1=$LAST_PID
    wait_until lock_has_source s1
    start_worker w-s2b s2 "ALTER TABLE tbl ADD COLUMN d INT" --position p2 --timeout 60
    w2=$LAST_PID
    expect_exit 137 "$w1"
    wait_until dc_locks_has "UNCERTAIN"
    expect_rc 0 dc unlock "$LOCK_ID" --assume-executed --timeout 30
    expect_exit 0 "$w2"
    grep -q "skipped" "$WORK/w-s2b.out" || fail "s2 did not skip"
    start_worker w-s1b-rerun s1 "ALTER TABLE tbl ADD COLUMN d INT" --position p2 --timeout 60
    expect_exit 0 "$LAST_PID"
    grep -q "already resolved" "$WORK/w-s1b-rerun.out" || fail "the owner's re-run was not resolved"
    expect_execs 1
    wait_until no_locks
    stop_master "$m"
}

# An unlock request nobody answered, written before the lock it names
# existed, must not unlock the lock that comes later with that ID (lock IDs
# are reused by every DDL on a table): the master refuses it.
scenario_admin_request_for_a_later_lock() {
    dc task add T s1 s2 >/dev/null || fail "task add"
    raw put "$NS/ddlcoord/admin/request/early" \
        '{"op":"unlock","lock_id":"T-`db`.`tbl`","force_remove":false,"wait_ms":5000}' \
        >/dev/null || fail "cannot plant the request"
    start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    local w1=$LAST_PID
    wait_until lock_has_source s1
    start_master m
    local m=$LAST_PID
    wait_until raw get "$NS/ddlcoord/admin/answer/early"
    raw get "$NS/ddlcoord/admin/answer/early" >"$WORK/answer.json"
    grep -q '"ok":false' "$WORK/answer.json" || fail "the early request was executed: $(cat "$WORK/answer.json")"
    expect_execs 0
    start_worker w-s2 s2 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    expect_exit 0 "$LAST_PID"
    expect_exit 0 "$w1"
    expect_execs 1
    stop_master "$m"
}

# Malformed admin requests (numbers out of range, wrong types, unknown
# operations, bad JSON) each get an error answer; the master goes on.
scenario_admin_bad_requests() {
    dc task add T s1 >/dev/null || fail "task add"
    local p="$NS/ddlcoord/admin/request"
    raw put "$p/big" '{"op":"unlock","lock_id":"T-`db`.`tbl`","wait_ms":1e300}' >/dev/null &&
        raw put "$p/neg" '{"op":"unlock","lock_id":"T-`db`.`tbl`","wait_ms":-1e300}' >/dev/null &&
        raw put "$p/type" '{"op":"unlock","lock_id":5}' >/dev/null &&
        raw put "$p/op" '{"op":"nonsense"}' >/dev/null &&
        raw put "$p/json" '{"op":' >/dev/null || fail "cannot plant the requests"
    start_master m
    local m=$LAST_PID r
    for r in big neg type op json; do
        wait_until raw get "$NS/ddlcoord/admin/answer/$r"
        raw get "$NS/ddlcoord/admin/answer/$r" >"$WORK/answer-$r.json"
        grep -q '"ok":false' "$WORK/answer-$r.json" || fail "request $r was not refused"
    done
    grep -q 'wait_ms' "$WORK/answer-big.json" || fail "wait_ms 1e300 not refused as such"
    grep -q 'wait_ms' "$WORK/answer-neg.json" || fail "wait_ms -1e300 not refused as such"
    start_worker w-s1 s1 "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 60
    expect_exit 0 "$LAST_PID"
    expect_execs 1
    stop_master "$m"
}

# The demo runs on a real store too, in a namespace of its own.
scenario_demo() {
    expect_rc 0 "$DC" demo --store "$STORE" --sources 4 --tables 5 --quiet
    grep -q "All checks passed" "$WORK/last.out" || fail "demo did not pass its checks"
}

name=${1:?usage: scenarios.sh SCENARIO}
declare -F "scenario_$name" >/dev/null || fail "no scenario $name"
note "scenario $name on $STORE (namespace $NS)"
"scenario_$name"
echo "PASS: $name"
