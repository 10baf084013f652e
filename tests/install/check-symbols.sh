#!/usr/bin/env bash
# Checks what a built ddlcoord binary exports, so that a user's own function
# can never replace one of the library's internal helpers (docs/DESIGN.md,
# "Exported symbols").
#
#   check-symbols.sh so     LIB.so  INCLUDE_DIR   the shared library exports
#                                                 exactly the functions the
#                                                 public headers declare
#   check-symbols.sh driver PLUGIN.so …           each plugin exports only
#                                                 dc_driver_entry
#   check-symbols.sh static LIB.a   INCLUDE_DIR   every global of the archive
#                                                 is public API or carries an
#                                                 internal prefix (dc__, dcp_)
#
# Prints one line per offending name and exits 1 if there is any; exits 2 on
# a usage error or when a file cannot be read (never a silent pass).
set -u
LC_ALL=C
export LC_ALL

die() {
    echo "check-symbols: $*" >&2
    exit 2
}

# The functions the public headers declare with DC_API, one per line, sorted.
declared() {
    local dir=$1 f
    [ -d "$dir/ddlcoord" ] || die "no public headers under $dir/ddlcoord"
    for f in "$dir"/ddlcoord/*.h; do
        # Join each header into one line so a declaration split across lines
        # is still seen whole.
        tr '\n' ' ' <"$f" | grep -oE 'DC_API[^;(]*\(' | grep -oE 'dc_[A-Za-z0-9_]+ *\($' |
            tr -d ' ('
    done | sort -u
}

# Column-0 function declarations of the public headers that lack DC_API
# (a new declaration someone forgot to mark).
unmarked() {
    local dir=$1
    grep -HnE '^[a-z][a-z0-9_ ]*[ *]dc_[A-Za-z0-9_]+\(' "$dir"/ddlcoord/*.h |
        grep -vE ':(typedef|DC_API) ' || true
}

# Defined dynamic symbols of a shared object, one per line, sorted.
dynsyms() {
    local out
    out=$(nm -D --defined-only "$1" 2>&1) || die "nm -D $1 failed: $out"
    # __start_/__stop___sancov_*: section bounds the linker makes for
    # clang's coverage instrumentation (the fuzz build, -fsanitize=fuzzer-no-link),
    # not names of ours.
    printf '%s\n' "$out" | awk 'NF >= 3 {print $NF}' | grep -vE '^__(start|stop)___sancov_' |
        sort -u
}

bad=0
report() { # message, names…
    local msg=$1 name
    shift
    for name in "$@"; do
        echo "$msg: $name"
        bad=1
    done
}

mode=${1:-}
case $mode in
so)
    [ $# -eq 3 ] || die "usage: $0 so LIB.so INCLUDE_DIR"
    [ -r "$2" ] || die "cannot read $2"
    pub=$(declared "$3")
    [ -n "$pub" ] || die "no DC_API declarations found under $3"
    exp=$(dynsyms "$2")
    # shellcheck disable=SC2046
    report "$2: exports an internal name" $(printf '%s\n' "$exp" | grep -E '^dc__|^dcp_')
    # shellcheck disable=SC2046
    report "$2: exports a name outside dc_" $(printf '%s\n' "$exp" | grep -vE '^dc_')
    # shellcheck disable=SC2046
    report "$2: exports a dc_ name no public header declares" \
        $(comm -23 <(printf '%s\n' "$exp" | grep -E '^dc_' | grep -vE '^dc__') <(printf '%s\n' "$pub"))
    # shellcheck disable=SC2046
    report "$2: does not export a function the public headers declare" \
        $(comm -13 <(printf '%s\n' "$exp") <(printf '%s\n' "$pub"))
    while IFS= read -r line; do
        [ -n "$line" ] && report "declared without DC_API" "$line"
    done <<<"$(unmarked "$3")"
    ;;
driver)
    [ $# -ge 2 ] || die "usage: $0 driver PLUGIN.so…"
    shift
    for f in "$@"; do
        [ -r "$f" ] || die "cannot read $f"
        exp=$(dynsyms "$f")
        printf '%s\n' "$exp" | grep -qx dc_driver_entry || report "$f: does not export" dc_driver_entry
        # shellcheck disable=SC2046
        report "$f: exports more than dc_driver_entry" $(printf '%s\n' "$exp" | grep -vx dc_driver_entry)
    done
    ;;
static)
    [ $# -eq 3 ] || die "usage: $0 static LIB.a INCLUDE_DIR"
    [ -r "$2" ] || die "cannot read $2"
    pub=$(declared "$3")
    [ -n "$pub" ] || die "no DC_API declarations found under $3"
    out=$(nm -g --defined-only "$2" 2>&1) || die "nm $2 failed: $out"
    glob=$(printf '%s\n' "$out" | awk 'NF >= 3 {print $NF}' | sort -u)
    # shellcheck disable=SC2046
    report "$2: a global that is neither public API nor prefixed dc__/dcp_" \
        $(comm -23 <(printf '%s\n' "$glob" | grep -vE '^dc__|^dcp_') <(printf '%s\n' "$pub"))
    ;;
*)
    die "usage: $0 so|driver|static …"
    ;;
esac
if [ $bad -ne 0 ]; then
    echo "check-symbols: FAILED ($mode)"
    exit 1
fi
echo "check-symbols: ok ($mode)"
