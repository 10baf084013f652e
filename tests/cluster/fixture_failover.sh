#!/usr/bin/env bash
# fixture_failover.sh SCRIPT DIR: the Redis Sentinel fixture fails over and
# heals. On the running group in DIR (tests/fixtures/redis_sentinel.sh): a key
# written to the master and acknowledged by both replicas (WAIT) survives a
# kill -9 of the master; the sentinels agree on a new master that answers
# ROLE master; the old master, restarted, rejoins as a replica of the new one
# and the group is back to one master, two replicas. Waits only guard against
# hangs.
set -u
script=$1
dir=$2
fail() {
    echo "FAIL: $*" >&2
    for f in "$dir"/*/log; do echo "--- $f" >&2; tail -n 15 "$f" >&2; done
    exit 1
}
cli() { timeout 5 redis-cli -h 127.0.0.1 -p "$(cat "$dir/$1/port")" "${@:2}" | tr -d '\r'; }

old=$("$script" master "$dir") || fail "no master"
key=fixture-failover-$$
[ "$(cli "$old" SET "$key" v1)" = OK ] || fail "SET on $old"
acks=$(cli "$old" WAIT 2 10000)
[ "$acks" = 2 ] || fail "WAIT 2 on $old answered $acks"

killed=$("$script" kill-master "$dir") || fail "kill-master"
[ "$killed" = "$old" ] || fail "killed $killed, the master was $old"
new=$("$script" wait-failover "$dir" "$old" 90) || fail "no fail-over away from $old"
echo "--- $old killed, sentinels promoted $new"
[ "$(cli "$new" GET "$key")" = v1 ] || fail "the acknowledged key is not on $new"

"$script" restart "$dir" "$old" || fail "restart $old"
end=$((SECONDS + 90))
until [ "$(cli "$old" ROLE | sed -n 2p)" = 127.0.0.1 ] &&
    [ "$(cli "$old" ROLE | sed -n 3p)" = "$(cat "$dir/$new/port")" ] &&
    [ "$(cli "$old" ROLE | sed -n 4p)" = connected ]; do
    [ $SECONDS -lt $end ] || fail "$old did not rejoin as a replica of $new: $(cli "$old" ROLE | paste -sd' ')"
    sleep 0.2
done
[ "$(cli "$old" GET "$key")" = v1 ] || fail "$old lost the key after rejoining"
[ "$("$script" master "$dir")" = "$new" ] || fail "the master moved again"
replicas=$(cli "$new" INFO replication | sed -n 's/^connected_slaves://p')
[ "$replicas" = 2 ] || fail "$new has $replicas replicas, want 2"
cli "$new" DEL "$key" >/dev/null
echo "--- $old rejoined as a replica of $new"
