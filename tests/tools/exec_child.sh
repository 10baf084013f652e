#!/bin/bash
# worker --exec under supervision: the command (and what it starts) dies
# with its worker, even on kill -9; SIGTERM stops it and leaves the lock
# uncertain; each re-run starts CMD again only with DDLCOORD_EXEC_ATTEMPT
# above the last one.
. "$(dirname "$0")/lib.sh"

ATT=$WORK/attempts
# CMD records "attempt pgid", then works for a long time (a long ALTER) in a
# grandchild, then records that it finished.
LONG='echo "$DDLCOORD_EXEC_ATTEMPT $(ps -o pgid= -p $$ | tr -d " ")" >> '"$ATT"'; sleep 60; echo finished >> '"$WORK"'/finished'
SHORT='echo "$DDLCOORD_EXEC_ATTEMPT done" >> '"$ATT"

worker() { # NAME CMD: s1 runs the task's only source
    "$DC" --store "$STORE" --namespace "$NS" worker --task T --source s1 --schema db \
        --table tbl --ddl "ALTER TABLE tbl ADD COLUMN c INT" --position p --timeout 90 --ttl 3 \
        --exec "$2" >"$WORK/$1.out" 2>"$WORK/$1.err" &
    track $!
}
lines() { [ -f "$ATT" ] && wc -l <"$ATT" || echo 0; }
has_lines() { [ "$(lines)" -ge "$1" ]; }
group_gone() { ! pgrep -g "$1" >/dev/null; }
last_attempt() { tail -n 1 "$ATT" | cut -d' ' -f1; }
last_pgid() { tail -n 1 "$ATT" | cut -d' ' -f2; }

note "worker --exec supervision on $STORE (namespace $NS)"
dc task add T s1 >/dev/null || fail "task add"
start_master m
m=$LAST_PID

# 1. SIGTERM while CMD runs: the group is stopped, exit 128+15, lock uncertain.
worker w1 "$LONG"
w1=$LAST_PID
wait_until has_lines 1
[ "$(last_attempt)" = 1 ] || fail "first run: attempt $(last_attempt), expected 1"
pg=$(last_pgid)
[ "$pg" != "$w1" ] || fail "CMD runs in the worker's own process group"
kill -TERM "$w1"
expect_exit 143 "$w1"
wait_until group_gone "$pg"
grep -q "uncertain" "$WORK/w1.err" || fail "w1 did not say the lock is uncertain"
wait_until dc_locks_has "may have executed"

# 2. kill -9 of the worker while CMD runs: no orphan; the re-run was told 2.
worker w2 "$LONG"
w2=$LAST_PID
wait_until has_lines 2
[ "$(last_attempt)" = 2 ] || fail "re-run: attempt $(last_attempt), expected 2"
pg=$(last_pgid)
kill -KILL "$w2"
wait_until group_gone "$pg"
[ ! -e "$WORK/finished" ] || fail "an orphaned CMD finished after its worker died"

# 3. the next re-run (after the dead worker's lease) finishes, as attempt 3.
worker w3 "$SHORT"
expect_exit 0 "$LAST_PID"
[ "$(last_attempt)" = 3 ] || fail "third run: attempt $(last_attempt), expected 3"
wait_until no_locks
[ ! -e "$WORK/finished" ] || fail "an orphaned CMD finished"
stop_master "$m"
echo "PASS: exec_child"
