#!/usr/bin/env bash
# robust_fault.sh SCRIPT DIR FAULT: one cluster fault for the robustness
# recorder (tests/robustness; dc_robust --fault-cmd "robust_fault.sh SCRIPT
# DIR"), on the cluster that the fixture SCRIPT (etcd_cluster.sh,
# zk_ensemble.sh, redis_sentinel.sh) runs in DIR. Returns once the member is
# back (the next fault finds a whole cluster).
#   kill-leader  kill -9 the leader (etcd leader, ZooKeeper leader, Redis
#                master), let the others elect, restart it on its data
#   kill-member  kill -9 a member that does not lead, restart it
set -u
script=${1:?usage: robust_fault.sh SCRIPT DIR FAULT}
dir=${2:?usage: robust_fault.sh SCRIPT DIR FAULT}
fault=${3:?usage: robust_fault.sh SCRIPT DIR FAULT}
case $script in
*redis_sentinel.sh) members="r0 r1 r2" ;;
*) members="0 1 2" ;;
esac
leader=$("$script" leader "$dir" 60) || exit 1
case $fault in
kill-leader) victim=$leader ;;
kill-member)
    victim=
    for m in $members; do [ "$m" != "$leader" ] && victim=$m && break; done
    ;;
*) echo "robust_fault.sh: unknown fault $fault" >&2; exit 2 ;;
esac
"$script" kill "$dir" "$victim" || exit 1
# a leader's death: the others elect before it comes back
[ "$fault" = kill-leader ] && { "$script" leader "$dir" 60 >/dev/null || exit 1; }
sleep 1
"$script" restart "$dir" "$victim" >/dev/null || exit 1
