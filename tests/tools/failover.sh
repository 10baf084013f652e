#!/usr/bin/env bash
# failover.sh: the fail-over scenario of issue #17 on a cluster (run through
# tests/fixtures/with-store.sh on a cluster fixture's state directory).
#
# Two `ddlcoord master`s, and workers for 8 sources that each replicate 3
# tables: every source meets the same DDLs in its stream, ROUNDS successive
# DDLs per table (t1 c1, t2 c1, t3 c1, t1 c2, …), one worker process per DDL,
# each source at its own pace. A source takes part in one lock at a time (its
# info key is per task and source, as in DM), so each source runs its DDLs in
# order and the locks form as the sources reach them.
#
# Mid-lock — 7 of a lock's 8 sources have reported, s8 comes after the fault —
# the backend's leader is killed -9 (etcd's leader member, ZooKeeper's leader,
# the Redis master: the fixture's kill-leader); later, mid-lock again, the
# leading ddlcoord master is killed -9 and a third master is started so two
# stand. Then: every worker exits 0 (a worker may be run again with the same
# --position after a store error, as a restarted process would: the run says
# how many were), every lock resolves, each DDL was executed exactly once, by
# the one source whose worker said "executed", and nothing was unlocked by hand.
#
# Environment, besides tests/tools/lib.sh's:
#   FAILOVER_FIXTURE  the cluster's fixture script (etcd_cluster.sh,
#                     zk_ensemble.sh or redis_sentinel.sh)
#   FAILOVER_DIR      its state directory
#   FAILOVER_ROUNDS   DDLs per table (default 3)
#   FAILOVER_RESET_OK 1: a worker may end with a store reset (Redis without
#                     min_replicas_ack: a fail-over can lose acknowledged
#                     writes); nothing may run twice all the same, but a
#                     source that saw a reset stops there
# The killed member is restarted at the end, so the fixture is whole again.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/../fixtures/lib.sh" # dc_poll
[ -n "$STORE" ] || fail "DDLCOORD_TEST_STORE is not set"
FIX=${FAILOVER_FIXTURE:?FAILOVER_FIXTURE must name the cluster fixture script}
FDIR=${FAILOVER_DIR:?FAILOVER_DIR must name the cluster state directory}
ROUNDS=${FAILOVER_ROUNDS:-3}
RESET_OK=${FAILOVER_RESET_OK:-0}
# shellcheck disable=SC2034 # lib.sh's: the masters' election lease, the hang guard
TTL=5
# shellcheck disable=SC2034
GUARD=180
SOURCES="s1 s2 s3 s4 s5 s6 s7 s8"
HOLD=s8 # the source that reports after a fault
ITEMS=() # the DDLs every source meets, in order: "table round"
for r in $(seq 1 "$ROUNDS"); do
    for t in t1 t2 t3; do ITEMS+=("$t $r"); done
done
# The faults, each inside one lock: the backend's leader in the first lock,
# the leading master in t2's second (or only) one.
FAULT_BACKEND="t1 1"
FAULT_MASTER="t2 $((ROUNDS >= 2 ? 2 : 1))"
RETRIES=0
N_RESET=0
KILLED_MEMBER=
declare -A POS      # source -> index in ITEMS of the DDL it is at
declare -A WPID     # source -> its running worker ("" = none)
declare -A FIRED    # "backend"/"master" -> 1 once done
declare -A FINISHED # "table.round.source" -> 1 once its worker exited 0
declare -A RESET    # source -> 1 if a worker of it ended with a store reset

lock_id() { printf 'T-`db`.`%s`' "$1"; }

# Number of sources that have reported in the open lock of TABLE.
synced_in() {
    dc locks --json 2>/dev/null | awk -v id="\"$(lock_id "$1")\"" '
        /"ID":/ { cur = index($0, id) > 0 }
        cur && /"synced":/ { n = gsub(/"s[0-9]+"/, ""); print n; exit }'
}

# start_tworker SOURCE: the worker for the DDL SOURCE is at.
start_tworker() {
    local s=$1 t r
    read -r t r <<<"${ITEMS[${POS[$s]}]}"
    "$DC" --store "$STORE" --namespace "$NS" worker --task T --source "$s" --schema db \
        --table "$t" --ddl "ALTER TABLE $t ADD COLUMN c$r INT" --position "bin.$r.$t" \
        --exec 'echo "$DDLCOORD_TABLE|$DDLCOORD_SOURCE|$DDLCOORD_DDLS" >> "$EXEC_LOG"' \
        --timeout 120 >>"$WORK/w-$t-$r-$s.out" 2>>"$WORK/w-$t-$r-$s.err" &
    track $!
    WPID[$s]=$!
}

# The master that leads now: alive, and its log's last word on leadership is
# "leads". Printed only when exactly one master says so.
leading_master() {
    local pid name last who="" n=0
    for pid in "${!MASTER_NAME[@]}"; do
        kill -0 "$pid" 2>/dev/null || continue
        name=${MASTER_NAME[$pid]}
        last=$(grep -E " $name (leads|lost its leadership|stands by again)|deposed" \
            "$WORK/$name.log" | tail -n 1)
        case $last in *" $name leads"*) who=$pid; n=$((n + 1)) ;; esac
    done
    [ $n = 1 ] && echo "$who"
}

kill_backend_leader() {
    KILLED_MEMBER=$("$FIX" kill-leader "$FDIR") || fail "could not kill the backend's leader"
    note "killed the backend's leader ($KILLED_MEMBER) mid-lock"
}

kill_leading_master() {
    local m
    m=$(dc_poll 60 leading_master) || fail "no single leading master"
    note "killed the leading master ${MASTER_NAME[$m]} mid-lock"
    kill -KILL "$m"
    start_master m3
}

restart_member() {
    [ -n "$KILLED_MEMBER" ] || return 0
    "$FIX" restart "$FDIR" "$KILLED_MEMBER" >/dev/null || fail "could not restart $KILLED_MEMBER"
    note "restarted $KILLED_MEMBER"
    KILLED_MEMBER=
}
trap 'restart_member >/dev/null 2>&1; cleanup' EXIT

# HOLD waits before a fault's lock until the 7 others are in, then the fault
# happens and it goes on. 0 when SOURCE may start its next worker.
may_start() {
    local s=$1 item=${ITEMS[${POS[$1]}]} kind
    [ "$s" = "$HOLD" ] || return 0
    case $item in
    "$FAULT_BACKEND") kind=backend ;;
    "$FAULT_MASTER") kind=master ;;
    *) return 0 ;;
    esac
    [ -z "${FIRED[$kind]:-}" ] || return 0
    [ "$(synced_in "${item% *}")" = 7 ] || return 1
    if [ $kind = backend ]; then kill_backend_leader; else kill_leading_master; fi
    FIRED[$kind]=1
    return 0
}

# Advance SOURCE: reap its worker if it ended (re-run it after a store
# error), start the next one. 0 while the source has work left.
step_source() {
    local s=$1 pid=${WPID[$1]:-} rc t r
    [ -z "${RESET[$s]:-}" ] || return 1
    if [ -n "$pid" ]; then
        kill -0 "$pid" 2>/dev/null && return 0
        wait "$pid"
        rc=$?
        WPID[$s]=
        read -r t r <<<"${ITEMS[${POS[$s]}]}"
        if [ "$rc" = 0 ]; then
            FINISHED[$t.$r.$s]=1
            POS[$s]=$((POS[$s] + 1))
        elif [ "$rc" = 3 ] && [ "$RESET_OK" = 1 ] && grep -qi 'reset' "$WORK/w-$t-$r-$s.err"; then
            note "source $s saw a store reset at $t $r (allowed on this store): it stops"
            RESET[$s]=1
            N_RESET=$((N_RESET + 1))
            return 1
        elif [ "$rc" = 3 ] || [ "$rc" = 10 ]; then
            # 10 (busy): the run before this one ended on a store error while
            # the backend's leader died, and its worker claim outlived the
            # re-run's wait (etcd extends every lease when a new leader takes
            # over). Its worker is dead: running again is the operator's move.
            RETRIES=$((RETRIES + 1))
            [ $RETRIES -le 40 ] || fail "more than 40 worker re-runs"
            note "worker $s at $t $r: exit $rc (store error or busy), run again (same position)"
        else
            fail "worker $s at $t $r exited $rc"
        fi
    fi
    [ "${POS[$s]}" -lt ${#ITEMS[@]} ] || return 1
    may_start "$s" && start_tworker "$s"
    return 0
}

# ------------------------------------------------------------------ the run
"$FIX" leader "$FDIR" 60 >/dev/null || fail "the cluster has no leader to begin with"
# shellcheck disable=SC2086
dc task add T $SOURCES >/dev/null || fail "task add"
start_master m1
wait_until log_has m1.log "m1 leads"
start_master m2
for s in $SOURCES; do POS[$s]=0; done
end=$((SECONDS + 600))
while :; do
    busy=0
    for s in $SOURCES; do step_source "$s" && busy=1; done
    [ $busy = 1 ] || break
    [ $SECONDS -lt $end ] || fail "the run did not finish in 600 s"
    sleep 0.2
done

# ------------------------------------------------------------------ checks
for kind in backend master; do
    [ -n "${FIRED[$kind]:-}" ] || fail "the $kind fault never happened"
done
restart_member
n_locks=${#ITEMS[@]}
if [ $N_RESET = 0 ]; then
    wait_until no_locks
    [ "$(exec_lines)" = "$n_locks" ] || fail "$(exec_lines) executions for $n_locks DDLs"
fi
for item in "${ITEMS[@]}"; do
    read -r t r <<<"$item"
    pat="^$t|s[0-9]*|ALTER TABLE $t ADD COLUMN c$r INT\$"
    lines=$(grep -c "$pat" "$EXEC_LOG" 2>/dev/null)
    [ "${lines:-0}" -le 1 ] || fail "DDL c$r of $t executed $lines times"
    owners=$(grep -l "^executed $(lock_id "$t")" "$WORK"/w-"$t"-"$r"-s*.out 2>/dev/null | wc -l)
    [ "$owners" -le 1 ] || fail "$owners workers say they executed DDL c$r of $t"
    if [ "$lines" = 1 ]; then
        who=$(grep "$pat" "$EXEC_LOG" | cut -d'|' -f2)
        grep -q "^executed $(lock_id "$t")" "$WORK/w-$t-$r-$who.out" ||
            fail "DDL c$r of $t was executed by $who, whose worker did not say executed"
    fi
    [ $N_RESET != 0 ] && continue
    [ "$lines" = 1 ] || fail "DDL c$r of $t was never executed"
    for s in $SOURCES; do
        [ -n "${FINISHED[$t.$r.$s]:-}" ] || fail "the worker of $s for $t c$r did not finish"
    done
done
for pid in "${!MASTER_NAME[@]}"; do
    kill -0 "$pid" 2>/dev/null && stop_master "$pid"
done
note "ok: $n_locks locks of 8 sources, $(exec_lines) executions, none twice; $RETRIES worker re-runs, $N_RESET sources stopped by a reset"
