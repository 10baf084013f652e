#!/usr/bin/env bash
# install-deps.sh [LIST]: install (as root, with apt-get) every Debian
# package named in LIST (one per line, # comments) that is not installed yet.
# LIST defaults to scripts/debian-packages.txt (build and tests);
# scripts/debian-packages-bench.txt adds what only the benchmarks need.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
list=${1:-$here/debian-packages.txt}
want=$(grep -v '^#' "$list" | awk 'NF {print $1}')
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "install-deps: missing:$missing (run as root to install them)" >&2
        exit 1
    fi
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
fi
