#!/usr/bin/env bash
# Start an emulated multi-node Slurm cluster on this machine, for tests and CI.
#
# Each node is a network namespace with its own hostname (a UTS namespace) and its own
# slurmd; the controller is one more namespace; the machine's filesystem stands in for a
# cluster's shared one. Layout (EQUIGLASS_SLURM_NODES=2):
#
#   namespace eg-ctl    hostname egctl   bridge egbr0 10.77.0.1/24     slurmctld
#   namespace eg-node1  hostname node1   eg0 10.77.0.11/24 (veth egv1)  slurmd -N node1
#   namespace eg-node2  hostname node2   eg0 10.77.0.12/24 (veth egv2)  slurmd -N node2
#
# Every address of the test subnet lives inside these namespaces (nothing is added to the
# host's own network). munged runs on the host: its socket is a file, shared by all.
# Each namespace sees its own /etc/hosts and /etc/slurm/slurm.conf (from
# /etc/netns/<namespace>/, which `ip netns exec` mounts over /etc). Slurm commands reach the
# controller from inside a namespace: use the wrappers in /run/equiglass-emulated/bin
# (PATH=/run/equiglass-emulated/bin:$PATH), which run the command in eg-ctl when called
# from the host and unchanged inside a node.
#
# slurm.conf: nodes node1..N with CPUs=$EQUIGLASS_SLURM_NODE_CPUS each
# (SlurmdParameters=config_overrides: they may claim more CPUs than the machine has),
# SlurmdTimeout=$EQUIGLASS_SLURMD_TIMEOUT (a dead node is DOWN within it), ReturnToService=2
# (a node that registers again is back in service), MpiDefault=pmix, and two partitions over
# all nodes for preemption (PreemptType=preempt/partition_prio, PreemptMode=REQUEUE):
#   low   Default=YES PriorityTier=1 GraceTime=$EQUIGLASS_SLURM_GRACE_TIME
#   high  PriorityTier=2 (its jobs preempt those of low)
#
# Needs root and network namespaces (CAP_SYS_ADMIN; in a container: --privileged); installs
# iproute2 when missing. Stop it with stop-emulated-cluster.sh;
# starting again stops what runs and builds everything anew.
#
# Environment:
#   EQUIGLASS_SLURM_NODES        nodes (default 2)
#   EQUIGLASS_SLURM_NODE_CPUS    CPUs each node claims (default 2)
#   EQUIGLASS_SLURMD_TIMEOUT     SlurmdTimeout in seconds (default 10)
#   EQUIGLASS_SLURM_GRACE_TIME   GraceTime of the low partition in seconds (default 60)
#   EQUIGLASS_SLURM_CRED_EXPIRE  credential lifetime, also the hold of a requeued job (default 10)
#   EQUIGLASS_SLURM_TIMEOUT      seconds to wait for the nodes to become idle (default 60)
set -euo pipefail

nodes=${EQUIGLASS_SLURM_NODES:-2}
node_cpus=${EQUIGLASS_SLURM_NODE_CPUS:-2}
slurmd_timeout=${EQUIGLASS_SLURMD_TIMEOUT:-10}
grace_time=${EQUIGLASS_SLURM_GRACE_TIME:-60}
cred_expire=${EQUIGLASS_SLURM_CRED_EXPIRE:-10}
timeout_s=${EQUIGLASS_SLURM_TIMEOUT:-60}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The names, paths and the subnet, shared with the stop script.
# shellcheck source=tools/slurm/emulated-nodes.sh
source "$here/emulated-nodes.sh"

say() { echo "[start-emulated-cluster] $*"; }
die() { echo "[start-emulated-cluster] ERROR: $*" >&2; exit 1; }
# shellcheck source=tools/slurm/cluster-common.sh
source "$here/cluster-common.sh"

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages, makes namespaces, starts daemons)"
[[ $nodes =~ ^[0-9]+$ ]] && ((nodes >= 1 && nodes <= 9)) || die "EQUIGLASS_SLURM_NODES must be 1..9, not '$nodes'"

# iproute2 (ip) is not in every minimal image; unshare and nsenter come with util-linux.
install_slurm_packages iproute2
command -v unshare >/dev/null && command -v nsenter >/dev/null || die "unshare or nsenter (util-linux) not found"

# Whatever an earlier start left (a failed run) goes first.
bash "$here/stop-emulated-cluster.sh" >/dev/null 2>&1 || true
# A fresh controller state: no job of an earlier cluster comes back.
rm -rf "$EG_CTLD_SPOOL" "$EG_SLURMD_SPOOL_BASE"
mkdir -p "$EG_RUN" "$EG_RUN/bin" "$log_dir" "$EG_CTLD_SPOOL" "$EG_SLURMD_SPOOL_BASE"
echo "$nodes" >"$EG_RUN/nodes"
logs=(/var/log/munge/munged.log "$EG_CTLD_LOG")
for k in $(seq "$nodes"); do logs+=("$(eg_slurmd_log "$k")"); done

# On any failure below (an error or die): the logs, then everything torn down again.
up=0
on_exit() {
    local status=$?
    ((up)) && return 0
    show_logs "${logs[@]}"
    say "tearing down after the failure"
    bash "$here/stop-emulated-cluster.sh" || true
    exit "$((status == 0 ? 1 : status))"
}
trap on_exit EXIT

# --- 1. namespaces, bridge, veth pairs ---------------------------------------------------------
ip netns add "$EG_CTL_NS"
ip -n "$EG_CTL_NS" link set lo up
ip -n "$EG_CTL_NS" link add "$EG_BRIDGE" type bridge
ip -n "$EG_CTL_NS" addr add "$EG_CTL_ADDR/24" dev "$EG_BRIDGE"
ip -n "$EG_CTL_NS" link set "$EG_BRIDGE" up
hosts="127.0.0.1 localhost
$EG_CTL_ADDR $EG_CTL_HOST"
for k in $(seq "$nodes"); do
    ns=$(eg_node_ns "$k")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    # One end in the controller's namespace on the bridge, the other in the node as eg0.
    ip link add "egv$k" netns "$EG_CTL_NS" type veth peer name "$EG_NODE_IF" netns "$ns"
    ip -n "$EG_CTL_NS" link set "egv$k" master "$EG_BRIDGE" up
    ip -n "$ns" addr add "$(eg_node_addr "$k")/24" dev "$EG_NODE_IF"
    ip -n "$ns" link set "$EG_NODE_IF" up
    hosts+="
$(eg_node_addr "$k") $(eg_node_name "$k")"
done
say "namespaces $EG_CTL_NS and $(eg_node_ns 1)..$(eg_node_ns "$nodes") on $EG_SUBNET"

# --- 2. /etc/hosts and slurm.conf seen inside the namespaces --------------------------------
node_names="$(eg_node_name 1)"
((nodes == 1)) || node_names="node[1-$nodes]"
conf=$(mktemp)
cat >"$conf" <<CONF
# Written by EquiGlass tools/slurm/start-emulated-cluster.sh: an emulated $nodes-node test
# cluster in network namespaces (see slurm/README.md). Not a production template.
ClusterName=equiglass-emulated
SlurmctldHost=$EG_CTL_HOST($EG_CTL_ADDR)
$(common_slurm_conf "$cred_expire")
# (ReturnToService=2 above: a node that registers again after being DOWN is back in service.)
# The nodes claim the CPUs below whatever the machine has.
SlurmdParameters=config_overrides
# A node that stops answering is DOWN after this many seconds (default 300).
SlurmdTimeout=$slurmd_timeout
# Ranks blocked in a collective after a node failure are killed this long after SIGTERM.
KillWait=15
# Real preemption: jobs of a higher PriorityTier partition requeue those of a lower one,
# which get SIGTERM and the low partition's GraceTime to checkpoint.
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
StateSaveLocation=$EG_CTLD_SPOOL
SlurmdSpoolDir=$EG_SLURMD_SPOOL_BASE/%n
SlurmctldPidFile=$EG_CTLD_PID
SlurmdPidFile=$EG_RUN/slurmd-%n.pid
SlurmctldLogFile=$EG_CTLD_LOG
SlurmdLogFile=$log_dir/slurmd-emulated-%n.log
CONF
for k in $(seq "$nodes"); do
    echo "NodeName=$(eg_node_name "$k") NodeAddr=$(eg_node_addr "$k") CPUs=$node_cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$node_cpus ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN" >>"$conf"
done
cat >>"$conf" <<CONF
PartitionName=low Nodes=$node_names Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO PriorityTier=1 PreemptMode=REQUEUE GraceTime=$grace_time
PartitionName=high Nodes=$node_names MaxTime=INFINITE State=UP OverSubscribe=NO PriorityTier=2 PreemptMode=OFF
CONF
for ns in "$EG_CTL_NS" $(for k in $(seq "$nodes"); do eg_node_ns "$k"; done); do
    mkdir -p "/etc/netns/$ns/slurm"
    cp "$conf" "/etc/netns/$ns/slurm/slurm.conf"
    chmod 644 "/etc/netns/$ns/slurm/slurm.conf"
    echo "$hosts" >"/etc/netns/$ns/hosts"
done
# The host's /etc/slurm is the mount point: it must exist.
mkdir -p /etc/slurm
cp "$conf" "$EG_RUN/slurm.conf"
rm -f "$conf"

# --- 3. client wrappers ---------------------------------------------------------------------
for cmd in sbatch srun salloc scontrol scancel squeue sinfo sprio sshare sstat; do
    cat >"$EG_RUN/bin/$cmd" <<WRAP
#!/bin/sh
# $cmd for the emulated cluster: inside its namespaces as is, from the host in $EG_CTL_NS.
if [ -n "\$(ip netns identify \$\$ 2>/dev/null)" ]; then exec /usr/bin/$cmd "\$@"; fi
exec ip netns exec $EG_CTL_NS /usr/bin/$cmd "\$@"
WRAP
    chmod 755 "$EG_RUN/bin/$cmd"
done

# --- 4. daemons -------------------------------------------------------------------------------
start_munge "$EG_RUN/started-munge"
say "starting slurmctld in $EG_CTL_NS (hostname $EG_CTL_HOST)"
eg_enter "$EG_CTL_NS" "$EG_CTL_HOST" slurmctld ||
    die "slurmctld did not start"
for k in $(seq "$nodes"); do
    eg_start_slurmd "$k" || die "slurmd of $(eg_node_name "$k") did not start"
done
say "started slurmd -N node1..node$nodes"

# --- 5. wait for the nodes ------------------------------------------------------------------
start=$SECONDS
while ((SECONDS - start < timeout_s)); do
    states=$("$EG_RUN/bin/sinfo" -h -N -o '%T' 2>/dev/null | sort -u | tr '\n' ' ' || true)
    if [[ $("$EG_RUN/bin/sinfo" -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l) -eq $nodes ]]; then
        up=1
        say "$nodes nodes idle after $((SECONDS - start)) s; Slurm commands: PATH=$EG_RUN/bin:\$PATH"
        exit 0
    fi
    sleep 1
done
"$EG_RUN/bin/sinfo" -N -l >&2 || true
die "the nodes are not all idle after $timeout_s s (states: ${states:-no answer})"
