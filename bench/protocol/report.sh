#!/usr/bin/env bash
# bench/protocol/report.sh WORKDIR OUTDIR BUILDDIR: turn the RESULT / TRACE
# lines that run.sh collected in WORKDIR/<backend>.txt into OUTDIR/REPORT.md
# (plain sentences a user can act on first, then the machine, each figure
# with its bound and its ratio, the targets) and two gnuplot PNGs: latency against source count and locks per
# second against locks in flight. Appends bench/protocol/findings.md (the
# profile and what to change next, written by hand) verbatim.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=${1:?usage: report.sh WORKDIR OUTDIR BUILDDIR}
out=${2:?usage: report.sh WORKDIR OUTDIR BUILDDIR}
build=${3:?usage: report.sh WORKDIR OUTDIR BUILDDIR}
backends="mem etcd redis zk"
S=16                # sources per lock in the throughput runs
WPL=$((2 * S + 3)) # writes per lock of DM's protocol

# v BACKEND NAME: the value of "RESULT NAME v" (empty if missing)
v() { [ -f "$work/$1.txt" ] && awk -v n="$2" '$1 == "RESULT" && $2 == n {print $3; exit}' "$work/$1.txt"; }
# calc EXPR with variables: calc 'a/b' a=1 b=2 (empty if an input is empty)
calc() {
    local e=$1 a
    shift
    for a in "$@"; do [ -n "${a#*=}" ] || { echo ""; return; }; done
    awk "BEGIN { $(printf '%s; ' "$@") x = $e; printf \"%.4g\", x }"
}
# f VALUE: 3 significant digits (whole numbers from 1000 up), n/a if empty
f() {
    [ -n "$1" ] || { printf 'n/a'; return; }
    awk -v x="$1" 'BEGIN { a = x < 0 ? -x : x; if (a >= 1000) printf "%.0f", x; else printf "%.3g", x }'
}

# A backend's name for sentences.
bname() { case $1 in mem) echo "mem://" ;; redis) echo Redis ;; zk) echo ZooKeeper ;; *) echo "$1" ;; esac; }
# list FIELD-PRINTER: "A on etcd, B on Redis and C on ZooKeeper" over the
# server backends that have a value (the printer gets the backend, prints a
# value with its unit or nothing)
list() {
    local b x i out="" items=()
    for b in etcd redis zk; do
        [ -f "$work/$b.txt" ] || continue
        x=$("$1" "$b")
        [ -n "$x" ] && items+=("$x on $(bname "$b")")
    done
    for ((i = 0; i < ${#items[@]}; i++)); do
        if ((i == 0)); then
            out=${items[0]}
        elif ((i == ${#items[@]} - 1)); then
            out="$out and ${items[i]}"
        else
            out="$out, ${items[i]}"
        fi
    done
    echo "${out:-n/a}"
}
lat8() { local x; x=$(v "$1" lat_8_p50_ms); [ -n "$x" ] && echo "$(f "$x") ms"; }
lat_other() {
    local a b
    a=$(v "$1" lat_2_p50_ms)
    b=$(v "$1" lat_32_p50_ms)
    [ -n "$a" ] && [ -n "$b" ] && echo "$(f "$a") / $(f "$b") ms on $(bname "$1")"
}
tput_big() {
    local big
    big=$(size_of "$1" throughput | awk '{n = split($3, a, ","); print a[n]}')
    [ -n "$big" ] && [ -n "$(v "$1" "tput_${S}_${big}_locks_per_s")" ] &&
        echo "$(f "$(v "$1" "tput_${S}_${big}_locks_per_s")") locks/s"
}
busy_big() {
    local big
    big=$(size_of "$1" throughput | awk '{n = split($3, a, ","); print a[n]}')
    v "$1" "tput_${S}_${big}_master_busy_pct"
}
rebuild() {
    [ -n "$(v "$1" rebuild_s)" ] && echo "$(v "$1" rebuild_locks) locks in $(f "$(v "$1" rebuild_s)") s"
}
# The opening: what a user can plan with, in plain sentences.
in_short() {
    local b lo=100 hi=0 x
    for b in etcd redis zk; do
        x=$(busy_big "$b")
        [ -n "$x" ] || continue
        lo=$(awk -v a="$lo" -v b="$x" 'BEGIN { print (b < a ? b : a) }')
        hi=$(awk -v a="$hi" -v b="$x" 'BEGIN { print (b > a ? b : a) }')
    done
    echo "## In short"
    echo
    echo "On this machine (2 shared cores; each server on loopback, writing every commit to disk):"
    echo
    echo "- A lock with 8 sources takes about $(list lat8) from the last source's report to the"
    echo "  lock's end (the master deleting its operations). With 2 / 32 sources:"
    echo "  $(for b in etcd redis zk; do [ -f "$work/$b.txt" ] && lat_other "$b"; done | paste -sd ';' | sed 's/;/; /g')."
    echo "  Over a network add about 11 round trips: the critical path is 6 writes and 5 watch"
    echo "  deliveries in a row, whatever the number of sources."
    echo "- One master resolves about $(list tput_big) when many locks of $S sources are"
    echo "  open at once. The store's write rate is the limit, not the master: its thread is busy"
    echo "  $(f "$lo")–$(f "$hi")% of the time."
    echo "- A master that takes over rebuilds $(list rebuild) before locks move again."
    [ -f "$work/mem.txt" ] && echo "- mem:// (one process only, for embedding and tests) resolves a lock of 8 sources in $(lat8 mem)."
    echo "- The master keeps about $(f "$(v etcd mem_bytes_per_pair)") bytes per (lock, source) in memory."
    echo
    echo "The rest compares each figure with the fastest the backend allows (its bound), as ratios."
    echo
}
crit() { calc '5 * w + p' w="$(v "$1" w2w_p50_ms)" p="$(v "$1" put_p50_ms)"; }
# floor BACKEND S: this protocol's own floor: the critical path, plus the two
# resolution-marker txns on it (the owner's and the last source's), plus the
# time the server needs for the other S - 1 sources' two writes each (marker,
# done txn) at its writes/s
floor_s() {
    calc 'c + 2 * x + 1000 * 2 * (s - 1) / w' c="$(crit "$1")" x="$(v "$1" txn_p50_ms)" s="$2" \
        w="$(v "$1" writes_per_s)"
}
# the writes/s measured by the throughput run itself, else the base one
bound_tput() {
    local w
    w=$(v "$1" tput_writes_per_s)
    [ -n "$w" ] || w=$(v "$1" writes_per_s)
    calc 'w / k' w="$w" k=$WPL
}
# the protocol's mix while two watchers drain every event (empty if not
# measured): S puts at the watched put rate, S + 3 txns at
# the watched txn rate
bound_tput_mix() {
    calc '1 / (s / p + (s + 3) / t)' s=$S p="$(v "$1" tput_writes_watched_per_s)" \
        t="$(v "$1" tput_txns_watched_per_s)"
}
# size_rows CELLS: a row per backend with CELLS BACKEND S for S = 2, 8, 32
size_rows() {
    local b s row
    for b in $backends; do
        [ -f "$work/$b.txt" ] || continue
        row="| $b "
        for s in 2 8 32; do row="$row| $("$1" "$b" "$s") "; done
        echo "$row|"
    done
}
# the floor of S sources and the latency's ratio to it
floor_cells() {
    local c
    c=$(floor_s "$1" "$2")
    echo "$(f "$c") ms | $(f "$(calc 'l / c' l="$(v "$1" "lat_${2}_p50_ms")" c="$c")")×"
}
# the process's CPU per lock and the latency's ratio to CPU ÷ cores
cpu_cells() {
    local c
    c=$(v "$1" "lat_${2}_cpu_p50_ms")
    echo "$(f "$c") ms | $(f "$(calc 'l / (c / n)' l="$(v "$1" "lat_${2}_p50_ms")" c="$c" n="$(nproc)")")×"
}
size_of() { [ -f "$work/$1.txt" ] && awk -v k="$2" '$1 == "SIZES" && $2 == k {$1 = ""; $2 = ""; print; exit}' "$work/$1.txt"; }

versions() {
    echo "- etcd: $(/usr/bin/etcd --version 2>/dev/null | awk '/etcd Version/ {print $3}') (Debian etcd-server; tests/fixtures/etcd.sh: one member, default fsync per commit)"
    echo "- Redis: $(redis-server --version | awk '{print $3}' | sed 's/v=//') (tests/fixtures/redis.sh: appendonly yes, appendfsync always, no RDB; driver mode=lua: one FCALL per write)"
    echo "- ZooKeeper: $(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null) (Debian; tests/fixtures/zk.sh: standalone, tickTime 500, jute.maxbuffer 4 MiB)"
}

{
    echo "# ddlcoord protocol benchmark"
    echo
    echo "Written by \`bench/protocol/run.sh $(basename "$build")\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
    echo "in $(awk '{print $2}' "$work/run.txt") s."
    src=$(awk -F= '/^CMAKE_HOME_DIRECTORY:/ {print $2}' "$build/CMakeCache.txt" 2>/dev/null)
    bt=$(awk -F= '/^CMAKE_BUILD_TYPE:/ {print $2}' "$build/CMakeCache.txt" 2>/dev/null)
    commit=${BENCH_COMMIT:-$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo "unknown")}
    echo "The build ($bt, gcc) is of commit $commit (sources in \`$src\`)."
    echo "Every figure is measured in this one run, and every bound on the same backend in the same run."
    echo "Nothing here is asserted by a test; the targets are the project's performance targets."
    echo
    in_short
    echo "## Reproduce"
    echo
    echo '```'
    echo 'cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2'
    echo 'bench/protocol/run.sh build-bench      # as root if gnuplot-nox is missing'
    echo '```'
    echo
    echo "run.sh starts one throwaway server at a time with the test fixtures (loopback, temp dirs), runs"
    echo "\`bench_protocol\` against it, stops it by PID, and calls report.sh. Sources: bench/protocol/."
    echo
    echo "## Machine"
    echo
    echo "- CPU: $(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}'), $(nproc) cores"
    echo "- Memory: $(free -g | awk '/Mem:/ {print $2}') GiB; kernel $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
    versions
    echo "- The machine is shared with other engineers' builds and tests while this runs: absolute figures are"
    echo "  noisy; ratios are taken against bounds measured minutes apart on the same server. Load average"
    echo "  when the report was written (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
    echo
    echo "## Headline (ratio to the bound; target in brackets)"
    echo
    echo "| backend | latency 2 src [≤1.25×] | 8 src | 32 src | throughput [≥70%] | rebuild [mem ≤1 s, etcd ≤3 s] (÷ read) | memory/pair [≤1 KiB] | put→watch p50 / p99 |"
    echo "|---|---|---|---|---|---|---|---|"
    for b in $backends; do
        [ -f "$work/$b.txt" ] || continue
        c=$(crit "$b")
        r2=$(calc 'l / c' l="$(v "$b" lat_2_p50_ms)" c="$c")
        r8=$(calc 'l / c' l="$(v "$b" lat_8_p50_ms)" c="$c")
        r32=$(calc 'l / c' l="$(v "$b" lat_32_p50_ms)" c="$c")
        big=$(size_of "$b" throughput | awk '{n = split($3, a, ","); print a[n]}')
        tl=$(v "$b" "tput_${S}_${big}_locks_per_s")
        tp=$(calc '100 * l / b' l="$tl" b="$(bound_tput "$b")")
        tw=$(calc '100 * l / b' l="$tl" b="$(bound_tput_mix "$b")")
        rb=$(v "$b" rebuild_s)
        echo "| $b | $(f "$r2")× | $(f "$r8")× | $(f "$r32")× | $(f "$tp")% ($big in flight; $(f "$tw")% of the mix bound) | $(f "$rb") s ($(v "$b" rebuild_locks) locks; $(f "$(calc 'a / b' a="$rb" b="$(v "$b" rebuild_read_s)")")×) | $(f "$(v "$b" mem_bytes_per_pair)") B | $(f "$(v "$b" w2w_p50_ms)") / $(f "$(v "$b" w2w_p99_ms)") ms |"
    done
    echo
    echo "## The backend alone (the bounds)"
    echo
    echo "\`put\`: one dc_put round trip, sequential. \`put→watch\`: from the start of a put until a watcher"
    echo "thread blocked in dc_watch_next on that key holds the event (the link the protocol chains: one side"
    echo "writes, the other sees it). *Delivery* = put→watch − put (what the watch adds; ≤ 0 when the event"
    echo "beats the put's own answer). \`writes/s\`: that many threads putting their own keys. \`txn\`: one"
    echo "txn shaped like the done txn (compare a mod_revision; put one key, delete another; else get), sequential."
    echo
    echo "| backend | put p50 | put p99 | put→watch p50 | put→watch p99 | delivery p50 | txn p50 | writes/s (threads) | samples |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for b in $backends; do
        [ -f "$work/$b.txt" ] || continue
        d=$(calc 'w - p' w="$(v "$b" w2w_p50_ms)" p="$(v "$b" put_p50_ms)")
        th=$(awk '$1 == "INFO" && $2 == "writes_threads" {print $3}' "$work/$b.txt")
        sm=$(awk '$1 == "INFO" && $2 == "base_samples" {print $3}' "$work/$b.txt")
        echo "| $b | $(f "$(v "$b" put_p50_ms)") ms | $(f "$(v "$b" put_p99_ms)") ms | $(f "$(v "$b" w2w_p50_ms)") ms | $(f "$(v "$b" w2w_p99_ms)") ms | $(f "$d") ms | $(f "$(v "$b" txn_p50_ms)") ms | $(f "$(v "$b" writes_per_s)") ($th) | $sm |"
    done
    echo
    echo "## Lock resolution latency"
    echo
    echo "A real dc_master and one dc_worker thread per source (dc_worker_run_ddl; the threads live across rounds)."
    echo "All sources but one report;"
    echo "once the master has seen them, the clock starts and the last source reports; it stops when the"
    echo "master's step 10 (DELETE operations) has committed. p50 over the rounds. Bound = the critical path,"
    echo "6 sequential writes + 5 watch deliveries = 5 × put→watch p50 + 1 × put p50."
    echo
    echo "| backend | rounds | bound | 2 sources p50 (p90) | ratio | 8 sources p50 (p90) | ratio | 32 sources p50 (p90) | ratio |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for b in $backends; do
        [ -f "$work/$b.txt" ] || continue
        c=$(crit "$b")
        row="| $b | $(v "$b" lat_2_rounds) | $(f "$c") ms "
        for s in 2 8 32; do
            l=$(v "$b" "lat_${s}_p50_ms")
            row="$row| $(f "$l") ms ($(f "$(v "$b" "lat_${s}_p90_ms")")) | $(f "$(calc 'l / c' l="$l" c="$c")")× "
        done
        echo "$row|"
    done
    echo
    echo "The bound above is the same for every source count and has no resolution marker. This protocol's"
    echo "own *floor* adds what it must do on top: the two marker txns on the critical path (the owner's and the"
    echo "last source's: 2 × txn p50), and the link \"the others finish\", where S − 1 workers each write a marker"
    echo "and a done txn at once, 2 (S − 1) writes that the server serves at its writes/s. Floor = bound +"
    echo "2 × txn p50 + 2 (S − 1) ÷ writes/s; the ratio to it is what round trips, wake-ups and CPU still cost."
    echo
    echo "| backend | 2 sources: floor | ratio | 8 sources: floor | ratio | 32 sources: floor | ratio |"
    echo "|---|---|---|---|---|---|---|"
    size_rows floor_cells
    echo
    ncores=$(nproc)
    echo "CPU: the whole bench process's CPU time (user + system: master, workers, and on mem:// the store"
    echo "itself) from the clock's start to step 10, p50 over the rounds. On mem:// nothing waits on another"
    echo "process, so CPU ÷ $ncores cores is a floor too: near it, the latency is CPU, not round trips. On the"
    echo "servers the server's own CPU is not in it."
    echo
    echo "| backend | 2 sources: CPU | latency ÷ (CPU ÷ $ncores) | 8 sources: CPU | latency ÷ (CPU ÷ $ncores) | 32 sources: CPU | latency ÷ (CPU ÷ $ncores) |"
    echo "|---|---|---|---|---|---|---|"
    size_rows cpu_cells
    echo
    echo "Where the time goes: the last round with 8 sources, milliseconds after the clock started (the"
    echo "last source's dc_worker_put_info call), at each step's callback. Callbacks run after the step's write"
    echo "has committed, so the side that sees a write may report before the side that made it (e.g. step 3"
    echo "before step 2). Latest time for the columns about several sources."
    echo
    echo "| backend | last info put (2) | master saw it (3) | exec=true put (4) | owner got it (5) | owner done (8) | master saw (9) | exec=false put (4) | last got it (5) | last done (8) | master saw (9) | ops deleted (10) |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
    for b in $backends; do
        [ -f "$work/$b.txt" ] || continue
        # two passes: the owner is the source of the master's first step 4, but a
        # worker's callback may run before the master's for the same write
        awk -v b="$b" 'NR == FNR { if ($1 == "TRACE" && $2 == 8 && $4 == "master" && $5 == 4 && owner == "") owner = $6; next }
        $1 == "TRACE" && $2 == 8 {
            t = $3; role = $4; step = $5; src = $6
            if (role == "worker" && step == 2) w2 = t
            if (role == "master" && step == 3) m3 = t
            if (role == "master" && step == 4 && src == owner) m4o = t
            else if (role == "master" && step == 4) m4x = t
            if (role == "worker" && step == 5 && src == owner) w5o = t
            else if (role == "worker" && step == 5) w5x = t
            if (role == "worker" && step == 8 && src == owner) w8o = t
            else if (role == "worker" && step == 8) w8x = t
            if (role == "master" && step == 9 && src == owner) m9o = t
            else if (role == "master" && step == 9) m9x = t
            if (role == "master" && step == 10) m10 = t
        } END {
            printf "| %s | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g | %.3g |\n", \
                b, w2, m3, m4o, w5o, w8o, m9o, m4x, w5x, w8x, m9x, m10
        }' "$work/$b.txt" "$work/$b.txt"
    done
    echo
    echo "Store calls one lock costs (bench/protocol/calls.sh: uprobes on libddlcoord's dc_txn_commit,"
    echo "dc_put, dc_get, dc_delete and dc_watch_open, counted over 11 locks minus 1 lock on mem://, ÷ 10;"
    echo "every read and write of the protocol is a txn). DM's protocol needs 2S + 3 writes and S + 1 watches."
    echo
    if [ -s "$work/calls.txt" ]; then
        echo "| sources S | txn commits | dc_put / dc_get / dc_delete | watch opens | DM's writes 2S + 3 | txns ÷ DM's writes |"
        echo "|---|---|---|---|---|---|"
        for s in 2 8 32; do
            t=$(v calls "calls_${s}_dc_txn_commit")
            o=$(calc 'a + b + c' a="$(v calls "calls_${s}_dc_put")" b="$(v calls "calls_${s}_dc_get")" c="$(v calls "calls_${s}_dc_delete")")
            echo "| $s | $(f "$t") | $(f "$o") | $(f "$(v calls "calls_${s}_dc_watch_open")") | $((2 * s + 3)) | $(f "$(calc 't / w' t="$t" w=$((2 * s + 3)))")× |"
        done
    else
        echo "(Not counted in this run: calls.sh needs root and a working \`perf probe\`.)"
    fi
    echo
    echo "## Throughput"
    echo
    echo "N locks in flight = N tasks of $S sources (a source has one Info per task at a time), each lock on one"
    echo "table, all reported at once. The master is the real dc_master; the N × $S workers are an event-driven"
    echo "pool (one operation watch, THREADS threads) doing DM's worker writes: PUT Info, then one txn marking the"
    echo "operation done and deleting the Info. Clock: first Info put → last step 10. Bound = the backend's"
    echo "writes/s (same number of threads, measured by the same process just before) ÷ $WPL writes per lock ($S Info puts, $S done txns, exec=true,"
    echo "one exec=false txn, one delete txn). *revs/lock* = store revisions consumed per lock (the writes really"
    echo "made on mem://, etcd and Redis; ZooKeeper's zxids count more). *master busy* = the master thread's CPU"
    echo "time ÷ the wall time of the run: near 100% the one master thread bounds the figure; *master CPU/lock* ="
    echo "its CPU per lock, so 10⁶ ÷ it is the most locks/s this master could handle on one core."
    echo "*Watched* = the same writes/s measured while two prefix watches drain every event (the run has two: the"
    echo "master's and the pool's operation watch), which costs etcd's JSON gateway, Redis' stream reads and"
    echo "mem:// real work. *Mix bound* = what the server gives the protocol's own mix when watched: $S puts at the"
    echo "watched put rate and $((S + 3)) txns ($S done txns, the master's 3) at the watched rate of done-shaped"
    echo "txns: 1 ÷ ($S ÷ puts/s + $((S + 3)) ÷ txns/s)."
    echo
    echo "| backend | threads | writes/s | watched puts/s | watched txns/s | locks in flight | locks/s | bound | % of bound | mix bound | % of mix bound | master busy | master CPU/lock (µs) | revs/lock | seconds |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for b in $backends; do
        [ -f "$work/$b.txt" ] || continue
        bt=$(bound_tput "$b")
        bw=$(bound_tput_mix "$b")
        th=$(awk '$1 == "INFO" && $2 == "tput_threads" {print $3}' "$work/$b.txt")
        for n in $(size_of "$b" throughput | awk '{print $3}' | tr ',' ' '); do
            l=$(v "$b" "tput_${S}_${n}_locks_per_s")
            echo "| $b | $th | $(f "$(v "$b" tput_writes_per_s)") | $(f "$(v "$b" tput_writes_watched_per_s)") | $(f "$(v "$b" tput_txns_watched_per_s)") | $n | $(f "$l") | $(f "$bt") | $(f "$(calc '100 * l / b' l="$l" b="$bt")")% | $(f "$bw") | $(f "$(calc '100 * l / b' l="$l" b="$bw")")% | $(f "$(v "$b" "tput_${S}_${n}_master_busy_pct")")% | $(f "$(v "$b" "tput_${S}_${n}_master_cpu_us_per_lock")") | $(f "$(v "$b" "tput_${S}_${n}_revs_per_lock")") | $(f "$(v "$b" "tput_${S}_${n}_seconds")") |"
        done
    done
    echo
    echo "## Master rebuild and memory"
    echo
    echo "LOCKS tasks × $S member sources, $((S - 1)) Infos each (every lock pending), loaded in batches. A master"
    echo "is started (timed: *first start*), then restarted n times (n = 0: the first start is the figure), each timed from dc_master_new until its first dc_master_run has"
    echo "rebuilt every lock (step 1: one consistent read, locks rebuilt, watch open); the count is checked."
    echo "Bound = one plain dc_get of every key under the namespace (what the master must read), same run."
    echo "Memory = glibc in-use heap (mallinfo2, one arena) with the rebuilt master alive (the first restart, else the first start) minus after"
    echo "dc_master_free, ÷ (locks × sources). (bench_protocol also prints the RSS growth of the first start,"
    echo "rss_bytes_per_pair; it mixes in transient read buffers and what the allocator keeps, so it is not used.)"
    echo
    echo "| backend | locks × sources | keys read | first start | restart (median of n) | read bound | ratio | target | heap/pair |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for b in $backends; do
        [ -f "$work/$b.txt" ] || continue
        tgt="—"
        [ $b = mem ] && tgt="≤ 1 s"
        [ $b = etcd ] && tgt="≤ 3 s"
        rb=$(v "$b" rebuild_s) rd=$(v "$b" rebuild_read_s)
        echo "| $b | $(v "$b" rebuild_locks) × $(v "$b" rebuild_sources) | $(f "$(v "$b" rebuild_read_keys)") | $(f "$(v "$b" rebuild_first_s)") s | $(f "$rb") s (n=$(v "$b" rebuild_restarts)) | $(f "$rd") s | $(f "$(calc 'a / b' a="$rb" b="$rd")")× | $tgt | $(f "$(v "$b" mem_bytes_per_pair)") B |"
    done
    echo
    echo "## Sizes run (scaled where a backend is too slow for the ten-minute budget)"
    echo
    echo "| backend | base (samples threads seconds) | latency (rounds sources) | throughput (sources threads in-flight) | rebuild (locks sources threads restarts) |"
    echo "|---|---|---|---|---|"
    for b in $backends; do
        [ -f "$work/$b.txt" ] || continue
        echo "| $b | $(size_of "$b" base) | $(size_of "$b" latency) | $(size_of "$b" throughput) | $(size_of "$b" rebuild) |"
    done
    failed=$(grep -h '^FAILED' "$work"/*.txt 2>/dev/null | wc -l)
    [ "$failed" = 0 ] || { echo; echo "**$failed measurement(s) failed in this run** (see the missing figures)."; }
    echo
    echo "## Plots"
    echo
    echo "![lock resolution latency against sources](latency.png)"
    echo
    echo "![locks per second against locks in flight](throughput.png)"
    echo
    [ -f "$here/findings.md" ] && cat "$here/findings.md"
} >"$out/REPORT.md"

# --- plots ------------------------------------------------------------------
for b in $backends; do
    [ -f "$work/$b.txt" ] || continue
    c=$(crit "$b")
    for s in 2 8 32; do
        l=$(v "$b" "lat_${s}_p50_ms")
        [ -n "$l" ] && echo "$s $l $c"
    done >"$work/$b.lat"
    bt=$(bound_tput "$b")
    for n in $(size_of "$b" throughput | awk '{print $3}' | tr ',' ' '); do
        l=$(v "$b" "tput_${S}_${n}_locks_per_s")
        [ -n "$l" ] && echo "$n $l $bt"
    done >"$work/$b.tput"
done
plot_lines() { # EXT TITLE-SUFFIX: a gnuplot "plot" list over the backends with data
    local ext=$1 sep="" i=1 b
    for b in $backends; do
        [ -s "$work/$b.$ext" ] || continue
        printf '%s"%s" using 1:2 with linespoints lw 2 pt 7 lc %d title "%s", "%s" using 1:3 with lines dt 2 lc %d title "%s bound"' \
            "$sep" "$work/$b.$ext" $i "$b" "$work/$b.$ext" $i "$b"
        sep=", "
        i=$((i + 1))
    done
}
gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced font ",11"
set grid
set key outside right
set logscale y
set output "$out/latency.png"
set title "Lock resolution latency (p50): last Info put -> operations deleted"
set xlabel "sources per lock"
set ylabel "milliseconds (log)"
set logscale x 2
set xtics (2, 8, 32)
plot $(plot_lines lat)
set output "$out/throughput.png"
set title "Throughput: locks resolved per second, 16 sources per lock"
set xlabel "locks in flight (log)"
set ylabel "locks per second (log)"
set logscale x 10
set xtics auto
plot $(plot_lines tput)
GP
