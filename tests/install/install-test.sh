#!/usr/bin/env bash
# What a user gets from `cmake --install`: installs the build into a
# temporary prefix, checks the layout (headers, libddlcoord.so with its
# SONAME, libddlcoord.a, the drivers, the command, ddlcoord.pc, the CMake
# package), builds examples/ out of tree against it four ways and runs each on
# mem://
#   - pkg-config (shared),     - pkg-config --static (libddlcoord.a),
#   - find_package (shared),   - find_package, ddlcoord::ddlcoord_static,
# then runs the installed command (`version`, `demo --quiet`) with no
# variable set, moves the prefix elsewhere and runs it again (relocatable).
#   install-test.sh BUILD_DIR SOURCE_DIR LIBDIR C_COMPILER "DRIVER SCHEMES"
set -u
[ $# -eq 5 ] || {
    echo "usage: $0 BUILD_DIR SOURCE_DIR LIBDIR C_COMPILER 'etcd redis zk'" >&2
    exit 2
}
build=$1 src=$2 libdir=$3 cc=$4 schemes=$5
unset DDLCOORD_DRIVER_PATH DDLCOORD_STORE LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH
work=$(mktemp -d "${TMPDIR:-/tmp}/ddlcoord-install.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
fail=0
bad() {
    echo "FAIL: $*"
    fail=1
}
step() { echo "== $*"; }
# run WHAT CMD…: run a command, print its output, fail if it fails.
run() {
    local what=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\n' "$out" | tail -n 3 | sed 's/^/   | /'
    [ $rc -eq 0 ] || bad "$what exited $rc: $*"
    return $rc
}

p=$work/prefix
step "cmake --install $build --prefix $p"
cmake --install "$build" --prefix "$p" >"$work/install.log" 2>&1 || {
    cat "$work/install.log"
    bad "cmake --install failed"
    exit 1
}

step "layout"
lib=$p/$libdir
so=""
for f in "$lib"/libddlcoord.so.*.*.*; do [ -e "$f" ] && so=${f##*/}; done
for f in include/ddlcoord/ddlcoord.h include/ddlcoord/export.h include/ddlcoord/version.h \
    include/ddlcoord/driver.h "$libdir/libddlcoord.so" "$libdir/libddlcoord.a" \
    "$libdir/${so:-libddlcoord.so.X.Y.Z}" "$libdir/pkgconfig/ddlcoord.pc" \
    "$libdir/cmake/ddlcoord/ddlcoordConfig.cmake" \
    "$libdir/cmake/ddlcoord/ddlcoordConfigVersion.cmake" \
    "$libdir/cmake/ddlcoord/ddlcoordTargets.cmake" bin/ddlcoord; do
    [ -e "$p/$f" ] || bad "not installed: $f"
done
for s in $schemes; do
    [ -e "$lib/ddlcoord/ddlcoord-$s.so" ] || bad "driver not installed: $libdir/ddlcoord/ddlcoord-$s.so"
done
soname=$(readelf -d "$lib/${so:-libddlcoord.so}" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
echo "   SONAME $soname"
[ "$soname" = "libddlcoord.so.${so#libddlcoord.so.}" ] && bad "SONAME carries the full version"
case $soname in libddlcoord.so.[0-9]*) ;; *) bad "libddlcoord.so has no SONAME libddlcoord.so.N" ;; esac
[ -e "$lib/$soname" ] || bad "no $soname link"
runpath=$(readelf -d "$p/bin/ddlcoord" | sed -n 's/.*(RUNPATH).*\[\(.*\)\]/\1/p')
echo "   bin/ddlcoord RUNPATH $runpath"
case $runpath in \$ORIGIN/*) ;; *) bad "bin/ddlcoord has no \$ORIGIN-relative RUNPATH" ;; esac

examples="store_basics shard_ddl"
ex_args() { [ "$1" = shard_ddl ] && echo "2 2"; }
warn=(-std=c11 -Wall -Wextra -Werror -pedantic)

# pkgconfig_build DIR PREFIX STATIC(0|1): build the examples with pkg-config.
pkgconfig_build() {
    local dir=$1 pre=$2 static=$3 e flags libs
    mkdir -p "$dir"
    export PKG_CONFIG_PATH=$pre/$libdir/pkgconfig
    flags=$(pkg-config --cflags ddlcoord) || {
        bad "pkg-config --cflags ddlcoord"
        return 1
    }
    if [ "$static" = 1 ]; then
        # Every library libddlcoord.a needs comes from the .pc file's
        # Requires.private and Libs.private.
        libs=$(pkg-config --static --libs ddlcoord | sed 's/-lddlcoord\b/-l:libddlcoord.a/')
    else
        libs=$(pkg-config --libs ddlcoord)
    fi
    echo "   cflags: $flags"
    echo "   libs:   $libs"
    for e in $examples; do
        # shellcheck disable=SC2086
        run "cc $e" "$cc" "${warn[@]}" $flags -o "$dir/example_$e" "$src/examples/$e.c" $libs -pthread
    done
    unset PKG_CONFIG_PATH
}

# cmake_build DIR PREFIX STATIC(OFF|ON): build the examples with find_package.
cmake_build() {
    local dir=$1 pre=$2 static=$3
    run "cmake configure" cmake -S "$src/examples" -B "$dir" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_PREFIX_PATH="$pre" -DDDLCOORD_EXAMPLES_STATIC="$static" \
        -DCMAKE_C_FLAGS="${warn[*]}" -DCMAKE_BUILD_TYPE=Release || return 1
    run "cmake build" cmake --build "$dir" -j2
}

# run_examples DIR SHARED(0|1) [LD_LIBRARY_PATH]: run them on mem:// (their
# default store); a static one must not need libddlcoord.so.
run_examples() {
    local dir=$1 shared=$2 ldp=${3:-} e
    for e in $examples; do
        [ -x "$dir/example_$e" ] || {
            bad "$dir/example_$e was not built"
            continue
        }
        if [ "$shared" = 0 ] && readelf -d "$dir/example_$e" | grep -q 'NEEDED.*libddlcoord'; then
            bad "$dir/example_$e needs libddlcoord.so"
        fi
        # shellcheck disable=SC2046
        run "example_$e" env ${ldp:+LD_LIBRARY_PATH=$ldp} "$dir/example_$e" $(ex_args "$e")
    done
}

step "examples with pkg-config (libddlcoord.so)"
pkgconfig_build "$work/ex-pc" "$p" 0 && run_examples "$work/ex-pc" 1 "$lib"
step "examples with pkg-config --static (libddlcoord.a)"
pkgconfig_build "$work/ex-pc-static" "$p" 1 && run_examples "$work/ex-pc-static" 0
step "examples with find_package(ddlcoord) (ddlcoord::ddlcoord)"
cmake_build "$work/ex-cmake" "$p" OFF && run_examples "$work/ex-cmake" 1
step "examples with find_package(ddlcoord) (ddlcoord::ddlcoord_static)"
cmake_build "$work/ex-cmake-static" "$p" ON && run_examples "$work/ex-cmake-static" 0

# check_command PREFIX: the installed command starts with no variable set,
# finds the drivers installed next to its library, and runs the demo.
check_command() {
    local pre=$1 out s
    out=$("$pre/bin/ddlcoord" version 2>&1) || bad "$pre/bin/ddlcoord version exited $?"
    printf '%s\n' "$out" | sed 's/^/   | /'
    for s in $schemes; do
        grep -qE " $pre/$libdir/ddlcoord/ddlcoord-$s.so\$" <<<"$out" ||
            bad "ddlcoord version under $pre does not list $pre/$libdir/ddlcoord/ddlcoord-$s.so"
        grep -qE "^  $s +cannot be loaded" <<<"$out" && bad "the installed $s driver cannot be loaded"
    done
    grep -qF "$pre/$libdir/ddlcoord  [next to libddlcoord.so]" <<<"$out" ||
        bad "the search order does not start next to $pre/$libdir/libddlcoord.so"
    run "ddlcoord demo --quiet" "$pre/bin/ddlcoord" demo --quiet
}

step "the installed command"
check_command "$p"

moved=$work/moved/elsewhere
step "moved to $moved"
mkdir -p "$work/moved"
mv "$p" "$moved"
check_command "$moved"
[ -e "$p" ] && bad "$p still exists after the move"
step "examples with pkg-config from the moved prefix"
pkgconfig_build "$work/ex-pc-moved" "$moved" 0 && run_examples "$work/ex-pc-moved" 1 "$moved/$libdir"

if [ $fail -ne 0 ]; then
    echo "install test: FAILED"
    exit 1
fi
echo "install test: ok"
