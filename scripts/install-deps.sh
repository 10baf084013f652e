#!/usr/bin/env bash
# Install (as root, with apt-get) every Debian package in
# scripts/debian-packages.txt that is not installed yet.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
want=$(grep -v '^#' "$here/debian-packages.txt" | awk 'NF {print $1}')
missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing
fi
