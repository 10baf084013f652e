#!/usr/bin/env bash
# What a new user trips on, each fixed and checked here against a real store
# (DDLCOORD_TEST_STORE, from a ctest fixture), in one scenario:
#   - a waiting worker says why (no registered sources, no master leads);
#   - an owner must say --exec CMD or --no-exec; --no-exec does not claim
#     it executed anything;
#   - admin commands fail at once with exit 9 when no master leads;
#   - unlock names a lock by --task/--schema/--table as well as by ID;
#   - task add/remove report what actually changed;
#   - locks: one row per lock, a task without sources shown as such,
#     -o wide, -o json (and --json);
#   - mem:// in a master/worker/task process gets a warning.
# Waits poll with generous limits (lib.sh); nothing asserts a duration.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
[ -n "$STORE" ] || fail "DDLCOORD_TEST_STORE is not set"
NS=$NS_BASE/newuser

note "a worker waits: no registered sources, no master"
"$DC" --store "$STORE" --namespace "$NS" worker --task T --source s1 --schema db --table tbl \
    --ddl 'ALTER TABLE tbl ADD COLUMN c INT' --no-exec -o json >"$WORK/wait.out" 2>"$WORK/wait.err" &
track $!
wpid=$!
wait_until log_has wait.err "waiting: task T has no registered sources"
wait_until log_has wait.err "waiting: no master leads under"

note "locks: one row, the task has no sources"
expect_rc 0 dc locks
grep -q '^1 lock ' "$WORK/last.out" || fail "locks header: $(cat "$WORK/last.out")"
grep -q '^T-`db`.`tbl`  *no-sources  *s1  *1/1 ' "$WORK/last.out" ||
    fail "no-sources row: $(cat "$WORK/last.out")"
grep -q "ddlcoord task add" "$WORK/last.out" || fail "no hint to add the sources"
[ "$(wc -l <"$WORK/last.out")" = 4 ] || fail "not one row per lock: $(cat "$WORK/last.out")"
expect_rc 0 dc locks -o wide
grep -q '^  mode       pessimistic' "$WORK/last.out" || fail "-o wide has no details"
a=$(dc locks -o json) || fail "-o json"
b=$(dc locks --json) || fail "--json"
[ "$a" = "$b" ] || fail "-o json differs from --json"
[ "$(jq -r '.locks[0].ID' <<<"$a")" = "$LOCK_ID" ] || fail "-o json: $a"
expect_rc 2 dc locks -o yaml

note "admin commands: exit 9 at once without a master"
expect_rc 9 timeout 60 "$DC" --store "$STORE" --namespace "$NS" unlock "$LOCK_ID" --timeout 600
grep -q "no master leads" "$WORK/last.err" || fail "unlock: $(cat "$WORK/last.err")"
expect_rc 9 timeout 60 "$DC" --store "$STORE" --namespace "$NS" remove-meta T --timeout 600
expect_rc 2 dc unlock --task T --schema db
grep -q "give all three" "$WORK/last.err" || fail "partial lock name: $(cat "$WORK/last.err")"
expect_rc 2 dc unlock "$LOCK_ID" --task T --schema db --table tbl

note "task add/remove say what changed"
expect_rc 0 dc task add T s1 s2
grep -qx "task T: added s1, s2 (2 sources now)" "$WORK/last.out" || fail "$(cat "$WORK/last.out")"
expect_rc 0 dc task add T s2 s3
grep -qx "task T: added s3; s2 was already a source (3 sources now)" "$WORK/last.out" ||
    fail "$(cat "$WORK/last.out")"
expect_rc 0 dc task remove T s3 s9
grep -qx "task T: removed s3; s9 was not a source (2 sources now)" "$WORK/last.out" ||
    fail "$(cat "$WORK/last.out")"
expect_rc 0 dc task add T s1
grep -qx "task T: nothing changed; s1 was already a source (2 sources now)" "$WORK/last.out" ||
    fail "$(cat "$WORK/last.out")"
a=$(dc task add T s1 s4 -o json) || fail "task add -o json"
[ "$(jq -c '[.added, .unchanged, .sources]' <<<"$a")" = '[["s4"],["s1"],["s1","s2","s4"]]' ] ||
    fail "task add -o json: $a"
a=$(dc task remove T s4 --json) || fail "task remove --json"
[ "$(jq -c '[.removed, .sources]' <<<"$a")" = '[["s4"],["s1","s2"]]' ] || fail "task remove: $a"
a=$(dc task list -o json) || fail "task list -o json"
[ "$(jq -c '.tasks' <<<"$a")" = '[{"task":"T","sources":["s1","s2"]}]' ] || fail "task list: $a"
expect_rc 2 dc task list -o xml

note "the lock now waits for s2; a master leads; unlock by its parts"
wait_until dc_locks_has "unsynced   s2"
start_master m
mpid=$LAST_PID
wait_until log_has m.log "m leads"
expect_rc 0 dc unlock --task T --schema db --table tbl --timeout 30 -o json
[ "$(jq -r .request "$WORK/last.out")" = "unlock $LOCK_ID" ] ||
    fail "unlock by parts: $(cat "$WORK/last.out")"
[ "$(jq -r .master "$WORK/last.out")" = m ] || fail "unlock -o json: $(cat "$WORK/last.out")"
expect_exit 0 "$wpid"
[ "$(jq -c '[.lock, .result]' "$WORK/wait.out")" = "[\"$LOCK_ID\",\"owner, ran nothing\"]" ] ||
    fail "--no-exec owner: $(cat "$WORK/wait.out")"

note "--exec or --no-exec is required"
expect_rc 2 dc worker --task T --source s1 --schema db --table tbl --ddl X
grep -q "missing --exec CMD" "$WORK/last.err" || fail "$(cat "$WORK/last.err")"
expect_rc 2 dc worker --task T --source s1 --schema db --table tbl --ddl X --exec true --no-exec

note "mem:// in a separate process: a warning for task, none for locks"
expect_rc 0 "$DC" --store mem:// task add T s1
grep -q "keeps its data in this process only" "$WORK/last.err" || fail "no mem:// warning"
expect_rc 0 "$DC" --store mem:// locks
[ -s "$WORK/last.err" ] && fail "locks on mem:// warns: $(cat "$WORK/last.err")"
stop_master "$mpid"
echo "PASS: newuser"
