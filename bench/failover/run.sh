#!/usr/bin/env bash
# bench/failover/run.sh BUILDDIR [--backends "etcd zk redis"] [--trials N] [--ttl S]
#                                [--sources N] [--redis-query Q] [--etcd-query Q]
#                                [--zk-query Q] [--variant NAME BACKEND Q]… [--no-report]
#                                [--keep DIR | --from DIR]
#
# How long a fail-over stops the shard-DDL protocol, beside what bounds it,
# on each cluster of the test fixtures (tests/fixtures/etcd_cluster.sh,
# zk_ensemble.sh, redis_sentinel.sh: loopback, temp dirs, stopped by PID).
# Per backend and trial, in one run:
#   1. start the cluster, two `ddlcoord master`s (lease TTL S, default 5) and
#      bench_failover_stream (one worker thread per source, one lock after
#      another, each lock's resolution time on stdout);
#   2. kill -9 the backend's leader (the fixture's kill-leader) and time, by
#      polling the fixture's `leader` every 0.1 s, until the survivors agree
#      on a new one: the backend's own election (etcd's leader change,
#      ZooKeeper's new leader, Sentinel's switch-master confirmed by ROLE);
#      the protocol's pause is the longest time without a lock resolving
#      around the kill. Target (issue #17): pause <= election + 1 s;
#   3. restart the member; kill -9 the leading master: the pause, beside
#      the lease TTL after which the standby may lead.
# Writes bench/failover/REPORT.md and puts it into bench/REPORT.md between
# the failover markers (replacing an earlier one; bench/protocol/report.sh
# includes it when it rewrites that file).
#
# Redis is reached as redis+sentinel://…/ddlcoord plus --redis-query (default
# "?min_replicas_ack=1", as docs/deploy.md recommends); --etcd-query and
# --zk-query add driver options the same way (default none). --variant adds a
# row NAME: BACKEND's cluster with the driver options Q instead (e.g.
# --variant etcd-rt2s etcd "?request_timeout_ms=2000"), run after the
# backends of --backends. The 1-minute load
# average is noted at each kill. --keep DIR keeps the trials' results in DIR;
# --from DIR writes the report again from such results (after findings.md,
# the plain-sentence summary that leads the section, was edited) without
# running anything.
#
# etcd runs with etcd's own raft timers here (heartbeat 100 ms, election
# 1000 ms), not the slow ones of the tests, so its election time is what a
# default deployment has. Sentinel: down-after-milliseconds 2000 (fixture).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$top/tests/fixtures/lib.sh"
build=$(cd "${1:?usage: $0 BUILDDIR [--backends LIST] [--trials N] [--ttl S]}" && pwd)
shift
backends="etcd zk redis" trials=3 ttl=5 sources=8 report=1 redis_query="?min_replicas_ack=1"
keep="" from="" etcd_query="" zk_query="" variants=""
declare -A vbase=() vquery=()
while [ $# -gt 0 ]; do
    case $1 in
    --redis-query) redis_query=$2; shift 2 ;;
    --etcd-query) etcd_query=$2; shift 2 ;;
    --zk-query) zk_query=$2; shift 2 ;;
    --variant) variants="$variants $2"; vbase[$2]=$3; vquery[$2]=$4; shift 4 ;;
    --keep) keep=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --backends) backends=$2; shift 2 ;;
    --trials) trials=$2; shift 2 ;;
    --ttl) ttl=$2; shift 2 ;;
    --sources) sources=$2; shift 2 ;;
    --no-report) report=0; shift ;;
    *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
DC=$build/tools/ddlcoord
STREAM=$build/bench/failover/bench_failover_stream
for f in "$DC" "$STREAM"; do [ -x "$f" ] || { echo "run.sh: $f is not built" >&2; exit 1; }; done
export DDLCOORD_DRIVER_PATH=$build/drivers
if [ -n "$from" ]; then
    work=$(cd "$from" && pwd) || exit 1
    KEEP=1
elif [ -n "$keep" ]; then
    mkdir -p "$keep" && work=$(cd "$keep" && pwd) || exit 1
    KEEP=1
else
    work=$(mktemp -d /tmp/ddlcoord-bench-failover.XXXXXX)
fi
PIDS=""
CLUSTER_FIX="" CLUSTER_DIR=""
cleanup() {
    local p
    for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "$CLUSTER_FIX" ] && "$CLUSTER_FIX" stop "$CLUSTER_DIR" >/dev/null 2>&1
    if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
say() { echo "run.sh: $*" >&2; }
now_ms() { date +%s%3N; }

# Locks resolved so far in the stream's output.
locks_done() { awk '$1 == "LOCK" { n++ } END { print n + 0 }' "$1" 2>/dev/null || echo 0; }
# wait_locks FILE N LIMIT: until N more locks than now resolve (0) or LIMIT s pass (1).
wait_locks() {
    local want=$(($(locks_done "$1") + $2)) end=$((SECONDS + $3))
    while [ "$(locks_done "$1")" -lt $want ]; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.1
    done
}
# pause FILE K: the longest time without a lock resolving, from the last
# resolution before K (ms) through the 10 after it (the stall includes up to
# one ordinary gap from before the kill: it errs long, never short).
pause() {
    awk -v k="$2" '$1 != "LOCK" { next }
        $4 <= k { last = $4; next }
        { if (last && $4 - last > max) max = $4 - last; last = $4; if (++n == 10) exit }
        END { if (n) print max }' "$1"
}

# The pid of the master that leads now (its log's last word is "leads").
leading_master() {
    local d=$1 m last who="" n=0
    for m in a b c; do
        [ -f "$d/$m.pid" ] && kill -0 "$(cat "$d/$m.pid")" 2>/dev/null || continue
        last=$(grep -E " $m (leads|lost its leadership|stands by again)" "$d/$m.log" | tail -n 1)
        case $last in *" $m leads"*) who=$(cat "$d/$m.pid"); n=$((n + 1)) ;; esac
    done
    [ $n = 1 ] && echo "$who"
}

start_master() { # DIR NAME
    "$DC" --store "$URI" --namespace "$NS" --log-level info master --name "$2" --ttl "$ttl" \
        2>>"$1/$2.log" &
    echo $! >"$1/$2.pid"
    PIDS="$PIDS $!"
}

# One trial on one backend; appends "name value" lines to $d/result.
trial() {
    local b=${vbase[$1]:-$1} d=$2 fix k e p m killed
    case $b in
    etcd) fix=$top/tests/fixtures/etcd_cluster.sh; export ETCD_RAFT_FLAGS="" ;;
    zk) fix=$top/tests/fixtures/zk_ensemble.sh ;;
    redis) fix=$top/tests/fixtures/redis_sentinel.sh ;;
    esac
    CLUSTER_FIX=$fix CLUSTER_DIR=$d/cluster
    "$fix" start "$CLUSTER_DIR" >"$d/cluster.log" 2>&1 || { say "$b: the cluster did not start"; return 1; }
    URI=$(cat "$CLUSTER_DIR/uri")
    case $b in
    etcd) URI=$URI$etcd_query ;;
    zk) URI=$URI$zk_query ;;
    redis) URI=$URI$redis_query ;;
    esac
    [ -n "${vbase[$1]:-}" ] && URI=$(cat "$CLUSTER_DIR/uri")${vquery[$1]}
    NS=/bench-failover-$$-$RANDOM
    "$DC" --store "$URI" --namespace "$NS" task add T $(seq -f 's%g' 1 "$sources") >/dev/null ||
        { say "$b: task add failed"; return 1; }
    start_master "$d" a
    dc_wait_for 60 grep -q " a leads" "$d/a.log" || { say "$b: no master leads"; return 1; }
    start_master "$d" b
    "$STREAM" "$URI" "$NS" "$sources" >"$d/stream.out" 2>"$d/stream.err" &
    local stream=$!
    PIDS="$PIDS $stream"
    wait_locks "$d/stream.out" 20 120 || { say "$b: the lock stream does not run"; return 1; }

    # the backend's leader
    killed=$("$fix" leader "$CLUSTER_DIR" 60) || { say "$b: no leader"; return 1; }
    echo "load_backend $(cut -d' ' -f1 /proc/loadavg)" >>"$d/result"
    k=$(now_ms)
    "$fix" kill "$CLUSTER_DIR" "$killed" || { say "$b: kill failed"; return 1; }
    if [ "$b" = redis ]; then
        "$fix" wait-failover "$CLUSTER_DIR" "$killed" 60 >/dev/null
    else
        "$fix" leader "$CLUSTER_DIR" 60 >/dev/null
    fi || { say "$b: no new leader"; return 1; }
    e=$(now_ms)
    wait_locks "$d/stream.out" 10 120 || { say "$b: the stream did not resume"; return 1; }
    p=$(pause "$d/stream.out" "$k")
    echo "election_ms $((e - k))" >>"$d/result"
    echo "backend_pause_ms $p" >>"$d/result"
    "$fix" restart "$CLUSTER_DIR" "$killed" >/dev/null 2>&1 || { say "$b: restart failed"; return 1; }
    wait_locks "$d/stream.out" 20 120 || { say "$b: the stream stopped after the restart"; return 1; }

    # the leading master
    m=$(dc_poll 60 leading_master "$d") || { say "$b: no single leading master"; return 1; }
    echo "load_master $(cut -d' ' -f1 /proc/loadavg)" >>"$d/result"
    k=$(now_ms)
    kill -KILL "$m"
    wait_locks "$d/stream.out" 10 120 || { say "$b: the stream did not resume"; return 1; }
    p=$(pause "$d/stream.out" "$k")
    echo "master_pause_ms $p" >>"$d/result"
    start_master "$d" c
    wait_locks "$d/stream.out" 10 120

    kill -TERM "$stream"
    wait "$stream" || { say "$b: the stream reported an error (see $d/stream.out)"; return 1; }
    grep -q '^TWICE' "$d/stream.out" && { say "$b: a DDL ran twice"; return 1; }
    awk '$1 == "LOCK" { if (prev) print $4 - prev; prev = $4 }' "$d/stream.out" | sort -n |
        awk '{ v[NR] = $1 } END { print "gap_p50_ms", v[int((NR + 1) / 2)] }' >>"$d/result"
    echo "locks $(locks_done "$d/stream.out")" >>"$d/result"
    for m in a b c; do [ -f "$d/$m.pid" ] && kill -TERM "$(cat "$d/$m.pid")" 2>/dev/null; done
    wait 2>/dev/null
    "$fix" stop "$CLUSTER_DIR" >/dev/null 2>&1
    CLUSTER_FIX=""
    unset ETCD_RAFT_FLAGS
    return 0
}

# values of NAME over a backend's trials: "a / b / c"
vals() { cat "$work/$1".*/result 2>/dev/null | awk -v n="$2" '$1 == n { printf "%s%s", sep, $2; sep = " / " }'; }
# how many trials met election + 1 s
met() {
    local b=$1 t ok=0 all=0 e p
    for t in "$work/$b".*/result; do
        [ -f "$t" ] || continue
        e=$(awk '$1 == "election_ms" { print $2 }' "$t")
        p=$(awk '$1 == "backend_pause_ms" { print $2 }' "$t")
        [ -n "$e" ] && [ -n "$p" ] || continue
        all=$((all + 1))
        [ "$p" -le $((e + 1000)) ] && ok=$((ok + 1))
    done
    echo "$ok of $all"
}

t_start=$(date +%s)
[ -n "$from" ] && t_start=$(cat "$work/t_start" 2>/dev/null || echo "$t_start") && trials=$(cat "$work/trials")
[ -n "$from" ] || { echo "$t_start" >"$work/t_start"; echo "$trials" >"$work/trials"; }
if [ -z "$from" ]; then
    backends="$backends$variants"
    echo "$backends" >"$work/backends"
    q="etcd:${etcd_query:-} zk:${zk_query:-} redis:${redis_query:-}"
    for v in $variants; do q="$q $v:${vquery[$v]}"; done
    printf '%s\n' "$q" >"$work/queries"
else
    backends=$(cat "$work/backends" 2>/dev/null || echo "$backends")
fi
queries=$(cat "$work/queries" 2>/dev/null)
[ -n "$from" ] || for b in $backends; do
    for i in $(seq 1 "$trials"); do
        d=$work/$b.$i
        mkdir -p "$d"
        say "$b trial $i"
        if ! trial "$b" "$d"; then
            echo "failed" >>"$d/result"
            tail -n 5 "$d"/*.log "$d/stream.err" >&2 2>/dev/null
            [ -n "$CLUSTER_FIX" ] && "$CLUSTER_FIX" stop "$CLUSTER_DIR" >/dev/null 2>&1
            CLUSTER_FIX=""
        fi
        say "$b trial $i: $(paste -sd' ' "$d/result")"
    done
done

section() {
    echo "<!-- failover: written by bench/failover/run.sh; do not edit by hand -->"
    echo "## Fail-over: how long the protocol stops (issue #17)"
    echo
    [ -f "$here/findings.md" ] && { cat "$here/findings.md"; echo; }
    echo "Written by \`bench/failover/run.sh\` for a run that started on $(date -u -d "@$t_start" '+%Y-%m-%d %H:%M') UTC and took $(($(cat "$work/t_end" 2>/dev/null || date +%s) - t_start)) s,"
    echo "build of commit $(git -C "$top" rev-parse --short HEAD 2>/dev/null), $trials trial(s) per backend (values: trial 1 / 2 / …)."
    echo "Clusters of the test fixtures on one 2-core machine: etcd 3 members (etcd's default raft"
    echo "timers), ZooKeeper 3 servers (tickTime 1000), Redis master + 2 replicas + 3 sentinels"
    echo "(down-after 2000 ms). Driver options per backend: \`$queries\`. Two \`ddlcoord master\`s (lease TTL ${ttl} s); $sources sources, one"
    echo "worker thread each (bench_failover_stream), one lock after another."
    echo
    echo "- *election*: from kill -9 of the backend's leader until the survivors agree on a new one,"
    echo "  polled every 0.1 s (etcd: every live member's status names the same leader; ZooKeeper: \`srvr\`"
    echo "  shows one leader; Sentinel: a majority gives the new master and it answers ROLE master)."
    echo "- *pause*: the longest time without a lock resolving (all $sources sources done), from the last"
    echo "  resolution before the kill through the 10 after it; it includes up to one ordinary gap from"
    echo "  before the kill, so it errs long."
    echo "- *gap p50*: the usual time between two resolved locks, for scale."
    echo "- *load*: the 1-minute load average at the kill of the backend's leader / of the master (2 cores)."
    echo
    echo "| backend | election (ms) | pause, backend leader killed (ms) | ≤ election + 1 s | pause, leading master killed (ms) | lease TTL | gap p50 (ms) | locks | load at the kills |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for b in $backends; do
        echo "| $b | $(vals "$b" election_ms) | $(vals "$b" backend_pause_ms) | $(met "$b") | $(vals "$b" master_pause_ms) | ${ttl} s | $(vals "$b" gap_p50_ms) | $(vals "$b" locks) | $(vals "$b" load_backend) ; $(vals "$b" load_master) |"
    done
    local failed
    failed=$(cat "$work"/*/result 2>/dev/null | grep -c '^failed')
    [ "$failed" = 0 ] || { echo; echo "**$failed trial(s) failed** (see the missing values)."; }
    echo "<!-- /failover -->"
}
[ -n "$from" ] || date +%s >"$work/t_end"
section >"$work/section.md"
cat "$work/section.md"
if [ $report = 1 ]; then
    cp "$work/section.md" "$here/REPORT.md"
    r=$top/bench/REPORT.md
    if grep -q '^<!-- failover:' "$r"; then
        awk -v f="$work/section.md" '
            /^<!-- failover:/ { while ((getline l < f) > 0) print l; skip = 1; next }
            /^<!-- \/failover -->/ { skip = 0; next }
            !skip' "$r" >"$work/r.md" && cp "$work/r.md" "$r"
    else
        { echo; cat "$work/section.md"; } >>"$r"
    fi
    say "wrote $here/REPORT.md and its section of $r"
fi
