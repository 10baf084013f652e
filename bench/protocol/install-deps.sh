#!/usr/bin/env bash
# bench/protocol/install-deps.sh LIST: install (as root, with apt-get) every
# Debian package named in LIST (one per line, # comments) that is not
# installed yet. A copy of scripts/install-deps.sh with the list as an
# argument; run.sh calls it with scripts/debian-packages-bench.txt.
set -eu
list=${1:?usage: install-deps.sh PACKAGE-LIST}
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
