#!/usr/bin/env bash
# Stop the emulated cluster started by tools/slurm/start-emulated-cluster.sh and remove what it
# made: the processes inside its namespaces (slurmd, slurmstepd, job tasks, slurmctld), the
# namespaces (with their bridge and veth pairs), /etc/netns/eg-*, /run/equiglass-emulated,
# and munged if the start script started it and no other test cluster uses it. Only processes
# inside the namespaces it made are signalled. Safe to call when nothing runs.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/slurm/emulated-nodes.sh
source "$here/emulated-nodes.sh"
say() { echo "[stop-emulated-cluster] $*"; }
# shellcheck source=tools/slurm/cluster-common.sh
source "$here/cluster-common.sh"

# kill_namespace NS: SIGTERM every process in the network namespace NS, SIGKILL after 10 s.
kill_namespace() {
    local pids _
    pids=$(ip netns pids "$1" 2>/dev/null | tr '\n' ' ')
    [[ -n ${pids// } ]] || return 0
    say "stopping the processes of $1: $pids"
    # shellcheck disable=SC2086
    kill $pids 2>/dev/null
    for _ in $(seq 100); do
        [[ -z $(ip netns pids "$1" 2>/dev/null) ]] && return 0
        sleep 0.1
    done
    pids=$(ip netns pids "$1" 2>/dev/null | tr '\n' ' ')
    say "still alive in $1 after 10 s, sending SIGKILL: $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    for _ in $(seq 50); do [[ -z $(ip netns pids "$1" 2>/dev/null) ]] && return 0; sleep 0.1; done
}

# Our namespaces: the controller's and eg-node<K>, whatever node count the last start used.
mapfile -t namespaces < <(ip netns list 2>/dev/null | awk '{print $1}' | grep -xE "$EG_CTL_NS|eg-node[0-9]+" || true)

# Cancel the jobs first (a later start must not resume them), then the nodes, then the controller.
if running "$EG_CTLD_PID"; then
    ip netns exec "$EG_CTL_NS" scancel --quiet --user=root 2>/dev/null || true
fi
for ns in "${namespaces[@]}"; do
    [[ $ns == "$EG_CTL_NS" ]] || kill_namespace "$ns"
done
stop_pid "$EG_CTLD_PID" slurmctld
for ns in "${namespaces[@]}"; do
    kill_namespace "$ns"
    ip netns del "$ns" 2>/dev/null && say "removed namespace $ns"
done
rm -rf /etc/netns/"$EG_CTL_NS" /etc/netns/eg-node[0-9]*
rmdir /etc/netns 2>/dev/null || true
if [[ -f $EG_RUN/started-munge ]]; then
    rm -f "$EG_RUN/started-munge"
    stop_munge
fi
rm -rf "$EG_RUN"
