#!/usr/bin/env bash
# The Debian packages, end to end, as CI runs it (.ci/run): a Release build
# configured for /usr, `cpack -G DEB`, a look at each package's control
# fields and files, `dpkg -i` of both INTO THIS MACHINE, then the installed
# command (`version`, `demo --quiet`) and the examples built against the
# installed packages (pkg-config, pkg-config --static, find_package) and run
# on mem://; both packages are purged at the end, also on failure.
# It must run as root on a machine where ddlcoord is not installed, and
# refuses otherwise.
#   tests/install/deb-test.sh [BUILD_DIR]      (default: build-deb)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top/build-deb}
if [ "$(id -u)" -ne 0 ]; then
    echo "deb-test: FAILED: must run as root: it installs the packages into this machine" \
        "with dpkg (CI runs it as root on a throwaway machine)" >&2
    exit 1
fi
for pkg in ddlcoord ddlcoord-dev; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
        echo "deb-test: FAILED: $pkg is already installed here; remove it first (dpkg -r $pkg)" >&2
        exit 1
    fi
done
command -v dpkg-shlibdeps >/dev/null || {
    echo "deb-test: FAILED: dpkg-shlibdeps (package dpkg-dev) is missing" >&2
    exit 1
}

fail=0
bad() {
    echo "FAIL: $*"
    fail=1
}
step() { echo "== $*"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/ddlcoord-deb.XXXXXX") || exit 1
installed=0
cleanup() {
    if [ $installed -eq 1 ]; then
        echo "== dpkg --purge ddlcoord-dev ddlcoord"
        dpkg --purge ddlcoord-dev ddlcoord >/dev/null || echo "FAIL: dpkg --purge failed"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

step "build $build (Release, prefix /usr)"
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DBUILD_TESTING=OFF -DDDLCOORD_BUILD_BENCH=OFF >"$work/configure.log" 2>&1 || {
    cat "$work/configure.log"
    exit 1
}
cmake --build "$build" -j"$(nproc)" >"$work/build.log" 2>&1 || {
    tail -n 50 "$work/build.log"
    exit 1
}
step "cpack -G DEB"
rm -rf "$build/packages"
(cd "$build" && cpack -G DEB) >"$work/cpack.log" 2>&1 || {
    cat "$work/cpack.log"
    exit 1
}
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$build/CMakeCache.txt")
drivers=""
for s in etcd redis zk; do [ -e "$build/drivers/ddlcoord-$s.so" ] && drivers="$drivers $s"; done
run_deb=$build/packages/ddlcoord_${version}_$arch.deb
dev_deb=$build/packages/ddlcoord-dev_${version}_$arch.deb
for f in "$run_deb" "$dev_deb"; do [ -f "$f" ] || bad "cpack made no $f"; done
[ $fail -eq 0 ] || exit 1

step "control fields"
field() { dpkg-deb -f "$1" "$2"; }
for f in "$run_deb" "$dev_deb"; do
    dpkg-deb -I "$f" | sed -n '/Package:/,$p' | sed 's/^/   | /'
    [ "$(field "$f" Version)" = "$version" ] || bad "$f: Version is not $version"
    [ "$(field "$f" Architecture)" = "$arch" ] || bad "$f: Architecture is not $arch"
    field "$f" Maintainer | grep -qE '^[^<]+ <[^@ ]+@[^> ]+>$' || bad "$f: no 'Name <email>' Maintainer"
    [ "$(field "$f" Description | wc -l)" -ge 3 ] || bad "$f: no extended Description"
done
[ "$(field "$run_deb" Package)" = ddlcoord ] || bad "runtime package is not named ddlcoord"
[ "$(field "$dev_deb" Package)" = ddlcoord-dev ] || bad "dev package is not named ddlcoord-dev"
# What the files link, as dpkg-shlibdeps computed it; the -dev package needs
# its runtime package of the same version and what ddlcoord.pc requires.
want="libc6 libcjson1 libinih1"
case $drivers in *etcd*) want="$want libcurl4" ;; esac
case $drivers in *redis*) want="$want libhiredis" ;; esac
case $drivers in *zk*) want="$want libzookeeper-mt" ;; esac
deps=$(field "$run_deb" Depends)
for d in $want; do grep -qE "(^|, )${d}[^,]*" <<<"$deps" || bad "ddlcoord does not depend on $d: $deps"; done
deps=$(field "$dev_deb" Depends)
for d in "ddlcoord (= $version)" libcjson-dev libinih-dev; do
    grep -qF "$d" <<<"$deps" || bad "ddlcoord-dev does not depend on $d: $deps"
done
# Packages built against ddlcoord-dev get their Depends from this shlibs line.
shlibs=$(dpkg-deb --ctrl-tarfile "$run_deb" | tar -xO ./shlibs 2>/dev/null)
echo "   shlibs: $shlibs"
grep -qxF "libddlcoord ${version%%.*} ddlcoord (>= $version)" <<<"$shlibs" ||
    bad "ddlcoord has no shlibs line for libddlcoord.so.${version%%.*}"
dpkg-deb --ctrl-tarfile "$run_deb" | tar -xO ./postinst 2>/dev/null | grep -q ldconfig ||
    bad "ddlcoord does not run ldconfig after installing libddlcoord.so.0"
step "files"
runfiles=$(dpkg-deb -c "$run_deb" | awk '{print $6}')
devfiles=$(dpkg-deb -c "$dev_deb" | awk '{print $6}')
for f in ./usr/bin/ddlcoord "./usr/$libdir/libddlcoord.so.${version%%.*}" \
    "./usr/$libdir/libddlcoord.so.$version"; do
    grep -qxF "$f" <<<"$runfiles" || bad "ddlcoord lacks $f"
done
for s in $drivers; do
    grep -qxF "./usr/$libdir/ddlcoord/ddlcoord-$s.so" <<<"$runfiles" || bad "ddlcoord lacks the $s driver"
done
for f in ./usr/include/ddlcoord/ddlcoord.h "./usr/$libdir/libddlcoord.a" \
    "./usr/$libdir/libddlcoord.so" "./usr/$libdir/pkgconfig/ddlcoord.pc" \
    "./usr/$libdir/cmake/ddlcoord/ddlcoordConfig.cmake"; do
    grep -qxF "$f" <<<"$devfiles" || bad "ddlcoord-dev lacks $f"
done
grep -q include <<<"$runfiles" && bad "ddlcoord holds headers"
[ $fail -eq 0 ] || exit 1

step "dpkg -i"
installed=1
dpkg -i "$run_deb" "$dev_deb" || {
    echo "FAIL: dpkg -i failed (missing dependencies? apt-get install the Depends above)"
    exit 1
}

step "the installed command"
unset DDLCOORD_DRIVER_PATH DDLCOORD_STORE LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH
out=$(/usr/bin/ddlcoord version 2>&1) || bad "ddlcoord version exited $?"
printf '%s\n' "$out" | sed 's/^/   | /'
for s in $drivers; do
    grep -qE " /usr/$libdir/ddlcoord/ddlcoord-$s.so\$" <<<"$out" || bad "version does not list the $s driver"
    grep -qE "^  $s +cannot be loaded" <<<"$out" && bad "the $s driver cannot be loaded"
done
out=$(cd "$work" && ddlcoord demo --quiet 2>&1) || bad "ddlcoord demo --quiet exited $?"
printf '%s\n' "$out" | tail -n 2 | sed 's/^/   | /'

step "examples against the installed packages"
cc=${CC:-cc}
flags=(-std=c11 -Wall -Wextra -Werror -pedantic)
for e in store_basics shard_ddl; do
    args=()
    [ $e = shard_ddl ] && args=(2 2)
    # shellcheck disable=SC2046
    "$cc" "${flags[@]}" -o "$work/pc_$e" "$top/examples/$e.c" $(pkg-config --cflags --libs ddlcoord) -pthread ||
        bad "cc $e with pkg-config"
    # shellcheck disable=SC2046
    "$cc" "${flags[@]}" -o "$work/pcs_$e" "$top/examples/$e.c" $(pkg-config --cflags ddlcoord) \
        $(pkg-config --static --libs ddlcoord | sed 's/-lddlcoord\b/-l:libddlcoord.a/') -pthread ||
        bad "cc $e with pkg-config --static"
    for x in pc pcs; do
        "$work/${x}_$e" "${args[@]}" >"$work/$x.$e.out" 2>&1 || {
            tail -n 5 "$work/$x.$e.out"
            bad "$x $e on mem:// failed"
        }
    done
    readelf -d "$work/pcs_$e" | grep -q 'NEEDED.*libddlcoord' && bad "the static $e needs libddlcoord.so"
done
if ! { cmake -S "$top/examples" -B "$work/ex" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$work/ex" &&
    "$work/ex/example_store_basics" &&
    "$work/ex/example_shard_ddl" 2 2; } >"$work/ex.log" 2>&1; then
    tail -n 20 "$work/ex.log"
    bad "examples with find_package(ddlcoord) against /usr"
fi
grep -F "examples: linking" "$work/ex.log" | sed 's/^/   | /'

step "dpkg --purge"
installed=0
dpkg --purge ddlcoord-dev ddlcoord >/dev/null || bad "dpkg --purge failed"
for f in /usr/bin/ddlcoord "/usr/$libdir/libddlcoord.so.${version%%.*}" /usr/include/ddlcoord; do
    [ -e "$f" ] && bad "$f is still there after dpkg --purge"
done
for pkg in ddlcoord ddlcoord-dev; do
    dpkg-query -W "$pkg" >/dev/null 2>&1 && bad "dpkg still knows $pkg after --purge"
done
if [ $fail -ne 0 ]; then
    echo "deb-test: FAILED"
    exit 1
fi
echo "deb-test: ok"
