#!/usr/bin/env bash
# Fails when the files of one directory include each other in a cycle.
#
#   check_include_cycles.sh DIR [PREFIX]   check DIR
#   check_include_cycles.sh --self-test    feed the check a cycle (must fail) and a
#                                          layered tree (must pass)
#
# Every .c and .h file of DIR is a node named by its file name without the
# extension and without PREFIX (so zk_snap.h and snap.c are one node, "snap").
# #include "X.h" of a header that sits in DIR is an edge; a file including its
# own header is not. tsort(1) then finds any cycle, which is printed.
#
# A call can bypass the headers through a prototype written in a .c file, so
# a file-scope declaration (not a definition) of a non-static PREFIX*
# function in a .c file fails the check too: it belongs in a header.
set -u

check() {
    local dir=$1 prefix=${2:-} f inc from to edges=""
    [ -d "$dir" ] || { echo "check_include_cycles: no directory $dir" >&2; return 2; }
    for f in "$dir"/*.c "$dir"/*.h; do
        [ -e "$f" ] || continue
        from=$(basename "$f"); from=${from%.*}; from=${from#"$prefix"}
        while read -r inc; do
            [ -e "$dir/$inc" ] || continue
            to=${inc%.h}; to=${to#"$prefix"}
            [ "$from" = "$to" ] && continue
            edges+="$from $to"$'\n'
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done
    local bad
    bad=$(awk -v pre="$prefix" '
        FNR == 1 { stmt = "" }
        /^[[:space:]]*#/ || /^[[:space:]]*\/?\*/ || /^[A-Za-z_][A-Za-z0-9_]*:/ { next }
        {
            if (stmt == "" && ($0 ~ /^[[:space:]]/ || $0 ~ /^(static|typedef|struct|enum|union|})/ || $0 == "")) next
            stmt = stmt " " $0
            if (stmt ~ /[;{]/) {
                if (stmt ~ /\)[[:space:]]*;[[:space:]]*$/ && stmt !~ /[={]/ && stmt ~ ("[^A-Za-z0-9_]" pre "[A-Za-z0-9_]+\\("))
                    print FILENAME ": " stmt
                stmt = ""
            }
        }' "$dir"/*.c)
    if [ -n "$bad" ]; then
        echo "check_include_cycles: a prototype in a .c file (declare it in its layer's header):" >&2
        echo "$bad" >&2
        return 1
    fi
    local out
    if ! out=$(printf '%s' "$edges" | tsort 2>&1 >/dev/null) || [ -n "$out" ]; then
        echo "check_include_cycles: $dir has an include cycle:" >&2
        echo "$out" >&2
        return 1
    fi
    echo "check_include_cycles: $dir: $(printf '%s' "$edges" | wc -l) edges, no cycle"
}

self_test() {
    local t rc=0
    t=$(mktemp -d) || return 2
    mkdir "$t/ok" "$t/bad"
    # layered: a <- b <- c (c.c includes both)
    printf '#include "p_a.h"\n' >"$t/ok/p_b.h"
    printf '#include "p_a.h"\n#include "p_b.h"\n' >"$t/ok/c.c"
    printf '#include "p_a.h"\n#include <stdio.h>\n/* p_x(void); */\nstatic int p_s(void);\nint p_a(void)\n{\n    return p_s();\n}\n' >"$t/ok/a.c"
    : >"$t/ok/p_a.h"
    printf '#include "p_a.h"\nint p_ok(void)\n{\n    goto out;\nout:\n    return p_ok2();\n}\n' >"$t/ok/d.c"
    # a cycle through the .c files: a.c -> b, b.c -> c, c.c -> a
    printf '#include "p_b.h"\n' >"$t/bad/a.c"
    printf '#include "p_c.h"\n' >"$t/bad/b.c"
    printf '#  include "p_a.h"\n' >"$t/bad/c.c"
    : >"$t/bad/p_a.h"; : >"$t/bad/p_b.h"; : >"$t/bad/p_c.h"
    if ! check "$t/ok" p_ >/dev/null; then
        echo "self-test: a layered tree was reported as a cycle" >&2
        rc=1
    fi
    if check "$t/bad" p_ >/dev/null 2>&1; then
        echo "self-test: the cycle a -> b -> c -> a was not found" >&2
        rc=1
    fi
    # no cycle, but a call around the headers: a prototype in a .c file
    mkdir "$t/proto"
    printf '#include "p_a.h"\nint p_open(const char *uri,\n           int flags);\n' >"$t/proto/b.c"
    : >"$t/proto/p_a.h"
    if check "$t/proto" p_ >/dev/null 2>&1; then
        echo "self-test: the prototype of p_open in b.c was not found" >&2
        rc=1
    fi
    rm -rf "$t"
    [ $rc = 0 ] && echo "self-test: passed"
    return $rc
}

if [ "${1:-}" = "--self-test" ]; then
    self_test
else
    check "$@"
fi
