#!/usr/bin/env bash
# The master's HTTP endpoint (`ddlcoord master --listen`), against a real
# store (DDLCOORD_TEST_STORE, from a ctest fixture):
#
#   http.sh endpoints   /healthz, /readyz (leader 200, standby 503), /v1/status,
#                       /v1/locks (byte for byte `locks --json`), /metrics (every
#                       series; counters that move when a lock resolves and an
#                       admin request is answered), bad --listen (exit 2)
#   http.sh live_page   the page at / in headless Chromium (chromedriver,
#                       WebDriver over curl): load it, let a lock resolve, check
#                       the DOM shows it resolved at step 10; a screenshot is
#                       written to $DC_SCREENSHOT when that is set
#   http.sh retention   the leader compacts the history (--keep-revisions,
#                       --compact-every): a watch from an early revision finds
#                       it compacted, and locks still resolve; the default is
#                       on for mem://, Redis and ZooKeeper, off for etcd
#   http.sh status      `ddlcoord status`: leader (since, address) and standbys,
#                       text and JSON; a second master with a name in use is
#                       refused (exit 2); standbys log who leads; a leader
#                       killed -9 and restarted on the same host gets its
#                       name back at once
#
# Waits poll with generous limits (lib.sh); nothing asserts a duration.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
[ -n "$STORE" ] || fail "DDLCOORD_TEST_STORE is not set"
NS=$NS_BASE/$1

# start_http_master NAME: a master with --listen 127.0.0.1:0; sets URL.
start_http_master() {
    local name=$1
    env DDLCOORD_LOG=info "$DC" --store "$STORE" --namespace "$NS" master --name "$name" \
        --ttl "$TTL" --listen 127.0.0.1:0 2>>"$WORK/$name.log" &
    track $!
    MASTER_NAME[$!]=$name
    wait_until log_has "$name.log" "serves HTTP on"
    URL=$(grep -o 'http://[0-9.]*:[0-9]*' "$WORK/$name.log" | head -n 1)
    [ -n "$URL" ] || fail "no address in $name.log"
}

# http_code URL: the status code of a GET.
http_code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
code_is() { [ "$(http_code "$1")" = "$2" ]; }

# metric URL NAME: the value of one sample line (NAME with its labels).
metric() { curl -sf "$1/metrics" | awk -v n="$2" '$1 == n {print $2}'; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }

run_lock() { # run one lock of task T through sources s1 and s2
    start_worker "w1-$1" s1 "ALTER TABLE tbl ADD COLUMN c$1 INT"
    local p1=$LAST_PID
    start_worker "w2-$1" s2 "ALTER TABLE tbl ADD COLUMN c$1 INT"
    expect_exit 0 "$p1"
    expect_exit 0 "$LAST_PID"
}

sc_endpoints() {
    expect_rc 2 dc master --listen nonsense
    grep -q -- "--listen wants ADDR:PORT" "$WORK/last.err" || fail "no --listen message"
    dc task add T s1 s2 >/dev/null || fail "task add"
    start_http_master m1
    local u1=$URL m1pid=$LAST_PID
    wait_until code_is "$u1/readyz" 200
    code_is "$u1/healthz" 200 || fail "/healthz is not 200"
    code_is "$u1/nope" 404 || fail "an unknown path is not 404"
    start_http_master m2
    local u2=$URL
    wait_until log_has m2.log "campaigns under"
    code_is "$u2/healthz" 200 || fail "standby /healthz is not 200"
    code_is "$u2/readyz" 503 || fail "a standby must not be ready"
    metric_is "$u2" ddlcoord_master_leader 0 || fail "the standby says it leads"

    note "status: leader name, term, store, revision"
    local st
    st=$(curl -sf "$u1/v1/status") || fail "/v1/status"
    [ "$(jq -r .leader <<<"$st")" = m1 ] || fail "leader is not m1: $st"
    [ "$(jq -r .role <<<"$st")" = leader ] || fail "m1 is not the leader: $st"
    [ "$(jq -r .term <<<"$st")" -gt 0 ] || fail "no term: $st"
    [ "$(jq -r .revision <<<"$st")" -gt 0 ] || fail "no revision: $st"
    [ "$(jq -r .store <<<"$st")" = "${STORE%%\?*}" ] ||
        [ "$(jq -r .store <<<"$st")" = "$STORE" ] || fail "store URI: $st"
    st=$(curl -sf "$u2/v1/status") || fail "standby /v1/status"
    [ "$(jq -r .leader <<<"$st")" = m1 ] || fail "the standby does not name m1: $st"
    [ "$(jq -r .role <<<"$st")" = standby ] || fail "m2 is not a standby: $st"

    note "a lock resolves: the counters move"
    metric_is "$u1" ddlcoord_lock_resolution_seconds_count 0 || fail "resolved before any lock"
    run_lock 1
    wait_until metric_is "$u1" ddlcoord_lock_resolution_seconds_count 1
    metric_is "$u1" 'ddlcoord_lock_resolution_seconds_bucket{le="+Inf"}' 1 ||
        fail "the +Inf bucket does not count the lock"
    [ "$(metric "$u1" 'ddlcoord_store_call_seconds_count{op="txn"}')" -gt 0 ] ||
        fail "no txn counted"
    metric_is "$u1" ddlcoord_master_ready 1 || fail "not ready in /metrics"
    metric_is "$u1" ddlcoord_rebuilds_total 1 || fail "rebuilds_total is not 1"
    awk -v x="$(metric "$u1" ddlcoord_rebuild_duration_seconds)" 'BEGIN { exit !(x > 0) }' ||
        fail "no rebuild duration"
    # the leader catches up with the store: no revision left unhandled
    wait_until metric_is "$u1" ddlcoord_watch_lag_revisions 0
    [ "$(metric "$u1" ddlcoord_store_revision)" -gt 0 ] || fail "no store revision"
    local series
    for series in ddlcoord_master_term 'ddlcoord_locks{state="waiting"}' \
        'ddlcoord_store_call_errors_total{op="get"}' ddlcoord_watch_lag_revisions \
        ddlcoord_rebuild_duration_seconds ddlcoord_admin_requests_served_total \
        ddlcoord_store_revision; do
        [ -n "$(metric "$u1" "$series")" ] || fail "/metrics has no $series"
    done

    note "a waiting lock is counted and listed like locks --json"
    start_worker w1-wait s1 "ALTER TABLE tbl ADD COLUMN w INT"
    local waiting=$LAST_PID
    wait_until metric_is "$u1" 'ddlcoord_locks{state="waiting"}' 1
    local a b
    a=$(curl -sf "$u1/v1/locks") || fail "/v1/locks"
    b=$(dc locks --json) || fail "locks --json"
    # the same document; only the read revision may differ (a lease renewal in between)
    [ "$(jq -S 'del(.revision)' <<<"$a")" = "$(jq -S 'del(.revision)' <<<"$b")" ] ||
        fail "/v1/locks differs from locks --json: $a // $b"
    [ "$(jq -r .revision <<<"$a")" -gt 0 ] || fail "/v1/locks has no revision: $a"
    [ "$(jq -r '.locks[0].unsynced[0]' <<<"$a")" = s2 ] || fail "s2 is not awaited: $a"

    note "an admin request answered"
    metric_is "$u1" ddlcoord_admin_requests_served_total 0 || fail "answered before any request"
    expect_rc 0 dc remove-meta T
    wait_until metric_is "$u1" ddlcoord_admin_requests_served_total 1
    expect_exit 1 "$waiting" # the waiting worker: its lock was removed

    note "the leader stops: the standby becomes ready"
    kill -TERM "$m1pid"
    expect_exit 0 "$m1pid"
    wait_until code_is "$u2/readyz" 200
    st=$(curl -sf "$u2/v1/status") || fail "m2 /v1/status"
    [ "$(jq -r .leader <<<"$st")" = m2 ] || fail "m2 does not lead: $st"
}

registry_has() { [ "$(raw count "$NS/ddlcoord/master/")" = "$1" ]; }
# Whether the history from R0 on is gone. R0 is a revision this scenario
# wrote: the server is shared, and an earlier test may have compacted below it.
watch_compacted() { raw watch-from "${R0:?}" "$NS/" | grep -q '^compacted'; }

sc_retention() {
    note "the default for this backend"
    local ns=$NS
    NS=$ns/defaults
    start_master d
    wait_until log_has d.log "history retention:"
    case $STORE in
    etcd*) log_has d.log "history retention: off (etcd compacts its own history)" ||
        fail "etcd: retention is not off by default" ;;
    *) log_has d.log "keep 10000 revisions and 60 minutes" ||
        fail "retention is not on by default: $(grep 'history retention' "$WORK/d.log")" ;;
    esac
    stop_master "$LAST_PID"
    NS=$ns

    note "keep 5 revisions, checked every 0.2 s"
    R0=$(raw put "$NS/start" x) || fail "put"
    dc task add T s1 s2 >/dev/null || fail "task add"
    watch_compacted && fail "the history is compacted before any master did it"
    env DDLCOORD_LOG=info "$DC" --store "$STORE" --namespace "$NS" master --name m --ttl "$TTL" \
        --keep-revisions 5 --compact-every 0.2 2>>"$WORK/m.log" &
    track $!
    MASTER_NAME[$!]=m
    local mpid=$!
    wait_until log_has m.log "m leads"
    local i
    for i in $(seq 1 20); do raw put "$NS/filler/$i" v >/dev/null || fail "put"; done
    wait_until log_has m.log "history: compacted to revision"
    wait_until watch_compacted
    note "locks still resolve"
    run_lock 1
    run_lock 2
    expect_execs 2
    stop_master "$mpid"
}

status_leader_is() { [ "$(dc status -o json | jq -r .leader.name)" = "$1" ]; }

sc_status() {
    expect_rc 0 dc status
    grep -q '^no master leads' "$WORK/last.out" || fail "status without masters: $(cat "$WORK/last.out")"
    start_http_master m1
    local u1=$URL m1pid=$LAST_PID
    wait_until code_is "$u1/readyz" 200
    start_master m2
    local m2pid=$LAST_PID
    wait_until log_has m2.log "m2 stands by: m1 leads"

    note "a second m1 is refused"
    expect_rc 2 dc master --name m1 --ttl "$TTL"
    grep -q "a master named 'm1' is already running" "$WORK/last.err" ||
        fail "no refusal message: $(cat "$WORK/last.err")"

    note "status: m1 leads (since, address), m2 stands by"
    expect_rc 0 dc status
    grep -q "^leader   m1  since 20.*http ${u1#http://}" "$WORK/last.out" ||
        fail "leader line: $(cat "$WORK/last.out")"
    grep -q "^standby  m2  started 20" "$WORK/last.out" || fail "standby line: $(cat "$WORK/last.out")"
    local st
    st=$(dc status --json) || fail "status --json"
    [ "$(jq -r '.leader.address' <<<"$st")" = "${u1#http://}" ] || fail "address: $st"
    [ "$(jq -r '.leader.pid' <<<"$st")" = "$m1pid" ] || fail "pid: $st"
    [ "$(jq -r '.standbys | length' <<<"$st")" = 1 ] || fail "standbys: $st"
    [ "$(jq -r '.standbys[0].name' <<<"$st")" = m2 ] || fail "standby name: $st"
    [ -n "$(jq -r '.leader.leading_since' <<<"$st")" ] || fail "no leading_since: $st"

    note "m1 killed -9 and restarted on this host: it takes its name back at once"
    kill -KILL "$m1pid"
    wait "$m1pid" 2>/dev/null
    start_master m1
    wait_until log_has m1.log "m1: took over the name from a master that is gone"
    wait_until status_leader_is m2
    wait_until log_has m1.log "m1 stands by: m2 leads"
    registry_has 2 || fail "the registry does not hold m1 and m2"
    stop_master "$m2pid"
}

# ---------------------------------------------------------------- the page in Chromium

CD_PID=
wd() { # wd METHOD PATH [JSON]: one WebDriver call, prints the JSON answer
    local m=$1 p=$2
    if [ $# -ge 3 ]; then
        curl -s --max-time 120 -X "$m" -H 'Content-Type: application/json' -d "$3" "$WD$p"
    else
        curl -s --max-time 120 -X "$m" "$WD$p"
    fi
}
# js EXPR: evaluate EXPR in the page, print its value.
js() {
    wd POST "/session/$SID/execute/sync" "$(jq -cn --arg s "return $1;" '{script: $s, args: []}')" |
        jq -r .value
}
js_is() { [ "$(js "$1")" = "$2" ]; }

start_chromedriver() {
    local port
    command -v chromedriver >/dev/null || fail "chromedriver is not installed (chromium-driver)"
    for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 20000))
        chromedriver --port="$port" >"$WORK/chromedriver.log" 2>&1 &
        CD_PID=$!
        track $CD_PID
        WD=http://127.0.0.1:$port
        local end=$((SECONDS + 20))
        while [ $SECONDS -lt $end ] && kill -0 $CD_PID 2>/dev/null; do
            curl -sf "$WD/status" >/dev/null 2>&1 && return 0
            sleep 0.1
        done
        kill -KILL $CD_PID 2>/dev/null
    done
    fail "chromedriver did not start"
}

sc_live_page() {
    dc task add T s1 s2 >/dev/null || fail "task add"
    dc task add U s1 s2 >/dev/null || fail "task add"
    start_http_master m1
    wait_until code_is "$URL/readyz" 200
    start_chromedriver
    local caps ans
    caps='{"capabilities":{"alwaysMatch":{"goog:chromeOptions":{"binary":"'$(command -v chromium)'",
      "args":["--headless=new","--no-sandbox","--disable-gpu","--disable-dev-shm-usage",
              "--user-data-dir='"$WORK"'/chromium",
              "--window-size=1000,400"]}}}}'
    ans=$(wd POST /session "$caps")
    SID=$(jq -r '.value.sessionId // empty' <<<"$ans")
    [ -n "$SID" ] || fail "no WebDriver session: $ans"
    wd POST "/session/$SID/url" "{\"url\":\"$URL/\"}" >/dev/null
    note "the page loads and shows the master"
    wait_until js_is "document.getElementById('status').textContent.indexOf('m1 (leader)') === 0" \
        true
    js_is "document.querySelectorAll('#locks tr').length" 0 || fail "rows before any lock"

    note "a source reports: the page shows the lock waiting for s2"
    start_worker w1 s1 "ALTER TABLE tbl ADD COLUMN c INT"
    local p1=$LAST_PID row="document.querySelector('#locks tr[data-lock=\"T-\`db\`.\`tbl\`\"]')"
    wait_until js_is "$row && $row.dataset.state" waiting
    js_is "$row.cells[4].textContent" s2 || fail "the row does not wait for s2"
    # a lock of another task stays waiting, for the screenshot
    "$DC" --store "$STORE" --namespace "$NS" worker --task U --source s1 --schema db \
        --table other --ddl 'ALTER TABLE other ADD INDEX i (c)' --exec true \
        >"$WORK/w-other.out" 2>&1 &
    track $!

    note "the lock resolves: the row says so, with step 10"
    start_worker w2 s2 "ALTER TABLE tbl ADD COLUMN c INT"
    expect_exit 0 "$p1"
    expect_exit 0 "$LAST_PID"
    wait_until js_is "$row && $row.dataset.state" resolved
    js_is "$row.dataset.step" 10 || fail "the resolved row is not at step 10"
    js_is "$row.cells[5].textContent.indexOf('step 10: DELETE operations') === 0" true ||
        fail "the last step is not shown: $(js "$row.cells[5].textContent")"
    js_is "document.getElementById('err').textContent" "" || fail "the page shows an error"
    if [ -n "${DC_SCREENSHOT:-}" ]; then
        wait_until js_is "document.querySelectorAll('#locks tr').length" 2
        wd GET "/session/$SID/screenshot" | jq -r .value | base64 -d >"$DC_SCREENSHOT" ||
            fail "screenshot"
    fi
    wd DELETE "/session/$SID" >/dev/null
}

"sc_$1" || fail "scenario $1"
echo "PASS: $1"
