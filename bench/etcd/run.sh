#!/usr/bin/env bash
# bench/etcd/run.sh BUILDDIR [OPS]
#
# The etcd driver benchmark (not a test). Starts a throwaway etcd with
# tests/fixtures/etcd.sh, then runs one workload (put, get, txn at 1, 4 and
# 16 concurrent callers) three ways in the same run:
#   driver    bench_etcd through ddlcoord's store API and ddlcoord-etcd.so
#   clientv3  etcd's own Go client (gRPC), built here offline in GOPATH mode
#             from Debian's golang-go + golang-etcd-server-dev
#   curl      the curl command, one process per caller, every request on its
#             one kept-alive connection (a -K config with many "next" requests)
# and prints p50 / p99 latency, throughput, and the ratios driver/clientv3
# and driver/curl. OPS is the number of operations per caller at one caller
# (default 1000); more callers do OPS/callers each, at least 300. Everything
# runs ROUNDS times (default 3) and the table shows medians.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILDDIR [OPS]}" && pwd)
base_ops=${2:-1000}
rounds=${ROUNDS:-3}
bench=$build/bench/etcd/bench_etcd
[ -x "$bench" ] || { echo "run.sh: $bench not built (cmake --build $build)" >&2; exit 1; }

work=$(mktemp -d /tmp/ddlcoord-bench-etcd.XXXXXX)
state=$work/etcd
cleanup() { "$root/tests/fixtures/etcd.sh" stop "$state" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

"$root/scripts/install-deps.sh" "$root/scripts/debian-packages-bench.txt"

# --- etcd's Go client, built offline (GOPATH mode, Debian's sources) -------
gocache=$build/bench/etcd/go-cache
mkdir -p "$work/go/src/ddlcoordbench" "$gocache"
cp "$here/clientv3/main.go" "$work/go/src/ddlcoordbench/"
echo "building the clientv3 benchmark (GOPATH mode, offline)…" >&2
(cd "$work/go/src/ddlcoordbench" &&
    GO111MODULE=off GOPATH=/usr/share/gocode:$work/go GOCACHE=$gocache GOPROXY=off \
        go build -o "$work/bench-clientv3" .) || { echo "run.sh: clientv3 build failed" >&2; exit 1; }

"$root/tests/fixtures/etcd.sh" start "$state" >/dev/null
uri=$(cat "$state/uri")
ep=${uri#etcd://}
export DDLCOORD_DRIVER_PATH=$build/drivers
echo "etcd $(/usr/bin/etcd --version | head -1 | awk '{print $3}') at $ep; $(nproc) CPUs" >&2

# --- curl: one process per caller, requests from a config file -------------
b64() { printf '%s' "$1" | base64 -w0; }
value64=$(b64 "$(printf 'v%.0s' $(seq 1 64))")

# curl_config OP CALLER OPS > file
curl_config() {
    local op=$1 c=$2 n=$3 i k0 keys=()
    k0=$(b64 "bench/curl/$c/0")
    if [ "$op" = put ]; then
        for i in $(seq 0 99); do keys[i]=$(b64 "bench/curl/$c/$i"); done
    fi
    for ((i = 0; i < n; i++)); do
        case $op in
        put) body="{\"key\":\"${keys[i % 100]}\",\"value\":\"$value64\"}"; path=kv/put ;;
        get) body="{\"key\":\"$k0\"}"; path=kv/range ;;
        txn) body="{\"compare\":[{\"key\":\"$k0\",\"target\":\"CREATE\",\"result\":\"GREATER\",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{\"key\":\"$k0\",\"value\":\"$value64\"}}],\"failure\":[{\"request_range\":{\"key\":\"$k0\"}}]}"; path=kv/txn ;;
        esac
        printf 'url = "http://%s/v3/%s"\ndata = "%s"\noutput = "/dev/null"\nwrite-out = "%%{time_total}\\n"\n' \
            "$ep" "$path" "${body//\"/\\\"}"
        if [ $i -lt $((n - 1)) ]; then echo next; fi
    done
}

# run_curl OP CALLERS OPS: prints the same line format as the other two
run_curl() {
    local op=$1 callers=$2 n=$3 c pids=()
    for ((c = 0; c < callers; c++)); do
        curl -s -X POST "http://$ep/v3/kv/put" \
            -d "{\"key\":\"$(b64 "bench/curl/$c/0")\",\"value\":\"$value64\"}" >/dev/null
        curl_config "$op" "$c" "$n" >"$work/curl.$c.cfg"
    done
    local t0 t1
    t0=$(date +%s%N)
    for ((c = 0; c < callers; c++)); do
        curl -s -K "$work/curl.$c.cfg" \
            >"$work/curl.$c.out" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done
    t1=$(date +%s%N)
    cat "$work"/curl.*.out | sort -g | awk -v op="$op" -v c="$callers" -v ns=$((t1 - t0)) '
        { v[NR] = $1 * 1e6 }
        END { n = NR; printf "curl %s %d %d %d %d %.0f\n", op, c, n, v[int((n - 1) * 0.5) + 1],
              v[int((n - 1) * 0.99) + 1], n / (ns / 1e9) }'
    rm -f "$work"/curl.*
}

results=${BENCH_RESULTS:-$work/results}
: >"$results"
# ROUNDS runs of everything, the three clients interleaved, so that a noisy
# machine hurts them alike; the table shows the median of the rounds.
for round in $(seq 1 "$rounds"); do
    for op in put get txn; do
        for callers in 1 4 16; do
            n=$((base_ops / callers))
            [ $n -lt 300 ] && n=300
            "$bench" "$uri" "$op" "$callers" "$n" >>"$results"
            "$work/bench-clientv3" -endpoints "$ep" -op "$op" -callers "$callers" -ops "$n" >>"$results"
            run_curl "$op" "$callers" "$n" >>"$results"
        done
    done
    echo "  round $round of $rounds done" >&2
done

echo
echo "etcd benchmark: latency in microseconds, throughput in operations per second (median of $rounds rounds)"
awk '
    # median of the values collected in list[key] ("v1 v2 …")
    function median(str,    a, m, i, j, t) {
        m = split(str, a, " ")
        for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return a[int((m + 1) / 2)]
    }
    { k = $2 " " $3; l50[$1, k] = l50[$1, k] " " $5; l99[$1, k] = l99[$1, k] " " $6; lt[$1, k] = lt[$1, k] " " $7
      if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
    END {
        for (x in l50) { p50[x] = median(l50[x]); p99[x] = median(l99[x]); tput[x] = median(lt[x]) }
        printf "%-4s %3s | %-20s | %-20s | %-20s | %-17s | %-17s\n", "op", "n", "driver p50/p99/tput",
               "clientv3 p50/p99/tput", "curl p50/p99/tput", "drv/clientv3 p50,tput", "drv/curl p50,tput"
        for (i = 1; i <= n; i++) {
            k = order[i]; split(k, a, " ")
            printf "%-4s %3s | %5d %6d %7d | %5d %6d %7d | %5d %6d %7d | %6.2fx %7.2fx | %6.2fx %7.2fx\n",
                a[1], a[2], p50["driver", k], p99["driver", k], tput["driver", k],
                p50["clientv3", k], p99["clientv3", k], tput["clientv3", k],
                p50["curl", k], p99["curl", k], tput["curl", k],
                p50["driver", k] / p50["clientv3", k], tput["driver", k] / tput["clientv3", k],
                p50["driver", k] / p50["curl", k], tput["driver", k] / tput["curl", k]
        }
        k = "put 1";  printf "\ntarget: sequential put latency <= 1.2x clientv3: %.2fx (%s)\n",
            p50["driver", k] / p50["clientv3", k], (p50["driver", k] <= 1.2 * p50["clientv3", k] ? "met" : "NOT met")
        for (i = 1; i <= n; i++) { k = order[i]; split(k, a, " "); if (a[2] == 16)
            printf "target: %s throughput at 16 callers >= 0.8x clientv3: %.2fx (%s)\n", a[1],
                tput["driver", k] / tput["clientv3", k], ((tput["driver", k] >= 0.8 * tput["clientv3", k]) ? "met" : "NOT met") }
    }' "$results"
