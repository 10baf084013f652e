#!/usr/bin/env bash
# bench/etcd/run.sh BUILDDIR [OPS]
#
# The etcd driver benchmark (not a test). Starts a throwaway etcd with
# tests/fixtures/etcd.sh, then runs the same workloads two ways in one run:
#   driver    bench_etcd through ddlcoord's store API and ddlcoord-etcd.so
#   clientv3  etcd's own Go client (gRPC), built here offline in GOPATH mode
#             from Debian's golang-go + golang-etcd-server-dev
# Workloads: put, get, txn at 1, 4 and 16 concurrent callers on one handle /
# client; and watch: put->event latency with 1 and with WATCHES (default
# 1000) watches open on one handle / client. Prints p50 / p99 latency,
# throughput and the ratios driver/clientv3, then the issue's targets.
# OPS is the number of operations per caller at one caller (default 1000);
# more callers do OPS/callers each, at least 300; the watch rows do OPS/2
# puts. Everything runs ROUNDS times (default 3), the two clients
# interleaved, and the table shows medians.
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

watches=${WATCHES:-1000}
results=${BENCH_RESULTS:-$work/results}
: >"$results"
# ROUNDS runs of everything, the two clients interleaved, so that a noisy
# machine hurts them alike; the table shows the median of the rounds.
for round in $(seq 1 "$rounds"); do
    for op in put get txn; do
        for callers in 1 4 16; do
            n=$((base_ops / callers))
            [ $n -lt 300 ] && n=300
            "$bench" "$uri" "$op" "$callers" "$n" >>"$results"
            "$work/bench-clientv3" -endpoints "$ep" -op "$op" -callers "$callers" -ops "$n" >>"$results"
        done
    done
    for w in 1 "$watches"; do
        n=$((base_ops / 2))
        "$bench" "$uri" watch "$w" "$n" >>"$results"
        "$work/bench-clientv3" -endpoints "$ep" -op watch -callers "$w" -ops "$n" >>"$results"
    done
    echo "  round $round of $rounds done" >&2
done

echo
echo "etcd benchmark: latency in microseconds, throughput in operations per second (median of $rounds rounds)"
awk -v watches="$watches" '
    # median of the values collected in list[key] (" v1 v2 …")
    function median(str,    a, m, i, j, t) {
        m = split(str, a, " ")
        for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return a[int((m + 1) / 2)]
    }
    { k = $2 " " $3; l50[$1, k] = l50[$1, k] " " $5; l99[$1, k] = l99[$1, k] " " $6; lt[$1, k] = lt[$1, k] " " $7
      if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
    END {
        for (x in l50) { p50[x] = median(l50[x]); p99[x] = median(l99[x]); tput[x] = median(lt[x]) }
        printf "%-5s %4s | %-20s | %-20s | %-21s\n", "op", "n", "driver p50/p99/tput",
               "clientv3 p50/p99/tput", "drv/clientv3 p50,tput"
        for (i = 1; i <= n; i++) {
            k = order[i]; split(k, a, " ")
            printf "%-5s %4s | %5d %6d %7d | %5d %6d %7d | %6.2fx %7.2fx\n",
                a[1], a[2], p50["driver", k], p99["driver", k], tput["driver", k],
                p50["clientv3", k], p99["clientv3", k], tput["clientv3", k],
                p50["driver", k] / p50["clientv3", k], tput["driver", k] / tput["clientv3", k]
        }
        k = "put 1";  printf "\ntarget: sequential put latency <= 1.05x clientv3: %.2fx (%s)\n",
            p50["driver", k] / p50["clientv3", k], (p50["driver", k] <= 1.05 * p50["clientv3", k] ? "met" : "NOT met")
        for (i = 1; i <= n; i++) { k = order[i]; split(k, a, " "); if (a[2] == 16)
            printf "target: %s throughput at 16 callers >= 1.0x clientv3: %.2fx (%s)\n", a[1],
                tput["driver", k] / tput["clientv3", k], ((tput["driver", k] >= tput["clientv3", k]) ? "met" : "NOT met") }
        one = "watch 1"; many = "watch " watches
        printf "target: put->event p50 with %d watches within 1.2x of one watch: %.2fx (%s); clientv3: %.2fx\n",
            watches, p50["driver", many] / p50["driver", one],
            (p50["driver", many] <= 1.2 * p50["driver", one] ? "met" : "NOT met"),
            p50["clientv3", many] / p50["clientv3", one]
    }' "$results"
