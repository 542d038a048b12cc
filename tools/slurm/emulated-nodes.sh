# shellcheck shell=bash
# The emulated cluster's names, addresses and paths (sourced by start-emulated-cluster.sh,
# stop-emulated-cluster.sh and the Slurm test harness), and how a node's slurmd starts.

readonly EG_SUBNET=10.77.0.0/24         # used only inside the namespaces below
readonly EG_CTL_NS=eg-ctl               # the controller's namespace, holding the bridge
readonly EG_CTL_HOST=egctl
readonly EG_CTL_ADDR=10.77.0.1
readonly EG_BRIDGE=egbr0
readonly EG_NODE_IF=eg0                 # each node's interface (the Open MPI TCP traffic)
readonly EG_RUN=/run/equiglass-emulated # pid files, the node count, the client wrappers
readonly EG_CTLD_PID=/run/slurmctld-emulated.pid
readonly EG_CTLD_SPOOL=/var/spool/slurmctld-emulated
readonly EG_SLURMD_SPOOL_BASE=/var/spool/slurmd-emulated
readonly log_dir=/var/log/slurm
readonly EG_CTLD_LOG=$log_dir/slurmctld-emulated.log

eg_node_name() { echo "node$1"; }
eg_node_ns() { echo "eg-node$1"; }
eg_node_addr() { echo "10.77.0.$((10 + $1))"; }
eg_slurmd_log() { echo "$log_dir/slurmd-emulated-node$1.log"; }
eg_slurmd_pid() { echo "$EG_RUN/slurmd-node$1.pid"; }

# eg_enter NS HOSTNAME COMMAND...: run COMMAND in the network namespace NS, in new UTS and
# mount namespaces with hostname HOSTNAME and /etc/netns/NS/* mounted over /etc, as
# `ip netns exec` does (which also remounts /sys and so hides the cgroup file systems that
# slurmd needs). The command's children (job steps, tasks) inherit all three namespaces.
eg_enter() {
    local ns=$1 host=$2
    shift 2
    # shellcheck disable=SC2016
    nsenter --net="/run/netns/$ns" unshare --uts --mount --propagation private sh -c '
        for f in /etc/netns/'"$ns"'/*; do mount --bind "$f" "/etc/${f##*/}" || exit 1; done
        hostname '"$host"' && exec "$@"' sh "$@"
}

# eg_start_slurmd K: slurmd -N nodeK in node K's namespaces, hostname nodeK: the boot of a
# diskless node. Its /tmp, /dev/shm and slurmd spool are fresh memory file systems of its own:
# Slurm's PMIx plugin and Open MPI keep per-job files in /tmp under names that would collide
# between nodes, and a spool that survived a crash keeps the dead step's PMIx socket
# (stepd.slurm.pmix.<job>.<step>), on which the requeued job's step then fails ("Address
# already in use", Slurm 22.05). Returns when slurmd has forked.
eg_start_slurmd() {
    local name spool
    name=$(eg_node_name "$1")
    spool=$EG_SLURMD_SPOOL_BASE/$name
    mkdir -p "$spool"
    # shellcheck disable=SC2016
    eg_enter "$(eg_node_ns "$1")" "$name" sh -c '
        for d in /tmp /dev/shm "$1"; do mount -t tmpfs -o mode=1777,size=2g tmpfs "$d" || exit 1; done
        exec slurmd -N "$0"' "$name" "$spool"
}

# eg_node_pids K: every process in node K's network namespace (its slurmd, slurmstepd, tasks).
eg_node_pids() { ip netns pids "$(eg_node_ns "$1")" 2>/dev/null || true; }
