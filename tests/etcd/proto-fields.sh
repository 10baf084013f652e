#!/usr/bin/env bash
# proto-fields.sh OURS.proto ETCD_DIR
# Checks that every message, field and enum value of our etcd.proto has the
# same field number, type and label as in etcd's own protos (rpc.proto and
# kv.proto under ETCD_DIR, as Debian's golang-etcd-server-dev installs them
# in /usr/share/gocode/src/go.etcd.io/etcd). The field numbers are etcd's
# wire contract: a wrong one would decode garbage without any error.
# Prints one line per mismatch and exits 1 on any; a missing etcd proto is a
# failure too (install golang-etcd-server-dev), never a skip.
set -u
ours=$1
dir=${2:-/usr/share/gocode/src/go.etcd.io/etcd}
rpc=$dir/etcdserver/etcdserverpb/rpc.proto
kv=$dir/mvcc/mvccpb/kv.proto
for f in "$ours" "$rpc" "$kv"; do
    [ -r "$f" ] || { echo "proto-fields: cannot read $f (install golang-etcd-server-dev)" >&2; exit 1; }
done

# Flatten a proto into "Scope.name<TAB>label type number" lines for fields
# and "Scope.NAME<TAB>enum number" for enum values; package prefixes of
# types are dropped (mvccpb.KeyValue = KeyValue).
flatten() {
    sed 's,//.*,,' "$1" | awk '
        function scope(   s, i) { s = ""; for (i = 1; i <= depth; i++) s = s (s == "" ? "" : ".") name[i]; return s }
        /^[ \t]*(message|enum)[ \t]+[A-Za-z_0-9]+[ \t]*\{/ {
            depth++; name[depth] = $2; kind[depth] = $1; next }
        /^[ \t]*oneof[ \t]+[A-Za-z_0-9]+[ \t]*\{/ { depth++; name[depth] = ""; kind[depth] = "oneof"; next }
        /\}/ { if (depth > 0) depth--; next }
        depth > 0 && kind[depth] == "enum" && /=/ {
            gsub(/[;=]/, " "); printf "%s.%s\tenum %s\n", scope(), $1, $2; next }
        depth > 0 && /=/ {
            line = $0; gsub(/[;=]/, " ", line); n = split(line, t, /[ \t]+/)
            k = 1; while (t[k] == "") k++
            label = "single"; if (t[k] == "repeated") { label = "repeated"; k++ }
            type = t[k]; sub(/^.*\./, "", type); fname = t[k + 1]; num = t[k + 2]
            s = ""; for (i = 1; i <= depth; i++) if (kind[i] != "oneof") s = s (s == "" ? "" : ".") name[i]
            printf "%s.%s\t%s %s %s\n", s, fname, label, type, num }'
}

theirs=$(mktemp)
trap 'rm -f "$theirs"' EXIT
{ flatten "$rpc"; flatten "$kv"; } | sort -u >"$theirs"
bad=0 n=0
while IFS=$'\t' read -r key def; do
    n=$((n + 1))
    want=$(awk -F'\t' -v k="$key" '$1 == k { print $2; exit }' "$theirs")
    if [ -z "$want" ]; then
        echo "proto-fields: $key ($def) is not in etcd's protos"
        bad=1
    elif [ "$want" != "$def" ]; then
        echo "proto-fields: $key is '$def' here but '$want' in etcd"
        bad=1
    fi
done < <(flatten "$ours")
[ $n -gt 50 ] || { echo "proto-fields: only $n definitions read from $ours" >&2; exit 1; }
[ $bad = 0 ] && echo "proto-fields: $n fields and enum values match etcd's protos"
exit $bad
