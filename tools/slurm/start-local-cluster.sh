#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine, for tests and CI.
#
# Idempotent: installs the Debian packages when missing, (re)writes a minimal slurm.conf
# for this host, creates the munge key if needed, starts munged, slurmctld and slurmd
# unless they already run with the same configuration, and waits until the node is idle.
# Everything talks over 127.0.0.1. Needs root. No systemd, no cgroups.
#
# Environment:
#   EQUIGLASS_SLURM_TIMEOUT      seconds to wait for the node to become idle (default 60)
#   EQUIGLASS_SLURM_CRED_EXPIRE  credential lifetime; also how long a requeued job waits
#                                before it may start again (Slurm's default is 120; here 10)
#
# Stop it with tools/slurm/stop-local-cluster.sh.
set -euo pipefail

timeout_s=${EQUIGLASS_SLURM_TIMEOUT:-60}
cred_expire=${EQUIGLASS_SLURM_CRED_EXPIRE:-10}

conf_dir=/etc/slurm
conf=$conf_dir/slurm.conf
log_dir=/var/log/slurm
ctld_spool=/var/spool/slurmctld
slurmd_spool=/var/spool/slurmd
ctld_pid=/run/slurmctld.pid
slurmd_pid=/run/slurmd.pid
marker="# Written by EquiGlass tools/slurm/start-local-cluster.sh"

say() { echo "[start-local-cluster] $*"; }
die() { echo "[start-local-cluster] ERROR: $*" >&2; exit 1; }

# shellcheck source=tools/slurm/cluster-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-common.sh"
logs=(/var/log/munge/munged.log "$log_dir/slurmctld.log" "$log_dir/slurmd.log")

[[ $(id -u) -eq 0 ]] || die "must run as root (it installs packages and starts daemons)"

# --- 1. packages -----------------------------------------------------------------------
install_slurm_packages

# --- 2. slurm.conf ---------------------------------------------------------------------
node=$(hostname -s)
# slurmd -C prints this host's real topology and memory, e.g.
# "NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105"
node_line=$(slurmd -C | head -n1)
[[ $node_line == NodeName=* ]] || die "slurmd -C printed '$node_line', expected a NodeName= line"
node_line="${node_line/NodeName=* CPUs=/NodeName=$node NodeAddr=127.0.0.1 CPUs=}"

mkdir -p "$conf_dir" "$log_dir" "$ctld_spool" "$slurmd_spool"
new_conf=$(mktemp)
cat >"$new_conf" <<CONF
$marker
# A single-node test cluster; see slurm/README.md. Do not use as a production template.
ClusterName=equiglass
SlurmctldHost=$node(127.0.0.1)
$(common_slurm_conf "$cred_expire")
KillWait=30
StateSaveLocation=$ctld_spool
SlurmdSpoolDir=$slurmd_spool
SlurmctldPidFile=$ctld_pid
SlurmdPidFile=$slurmd_pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
$node_line State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

restart=0
if [[ -f $conf ]] && cmp -s "$new_conf" "$conf"; then
    rm -f "$new_conf"
else
    if [[ -f $conf ]] && ! grep -qF "$marker" "$conf"; then
        say "keeping the existing $conf as $conf.before-equiglass"
        cp -p "$conf" "$conf.before-equiglass"
    fi
    mv "$new_conf" "$conf"
    chmod 644 "$conf"
    restart=1
    say "wrote $conf for node $node"
fi

# --- 3. munge ---------------------------------------------------------------------------
start_munge

# --- 4. slurmctld and slurmd ------------------------------------------------------------
stop_daemon() { # pidfile name
    if running "$1"; then
        say "stopping $2 (configuration changed)"
        kill "$(cat "$1" 2>/dev/null)" 2>/dev/null || true
        for _ in $(seq 50); do running "$1" || break; sleep 0.2; done
    fi
}
if ((restart)); then
    stop_daemon "$slurmd_pid" slurmd
    stop_daemon "$ctld_pid" slurmctld
fi
if ! running "$ctld_pid"; then
    say "starting slurmctld"
    slurmctld || { show_logs "${logs[@]}"; die "slurmctld did not start"; }
fi
if ! running "$slurmd_pid"; then
    say "starting slurmd"
    slurmd || { show_logs "${logs[@]}"; die "slurmd did not start"; }
fi

# --- 5. wait for the node ---------------------------------------------------------------
start=$SECONDS
state=""
while ((SECONDS - start < timeout_s)); do
    state=$(sinfo -h -n "$node" -o %T 2>/dev/null | head -n1 || true)
    case $state in
        idle|mixed|allocated) say "node $node is $state after $((SECONDS - start)) s"; exit 0 ;;
        down*|drain*)
            # A node left down by an earlier run: bring it back.
            scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 1
done
echo "[start-local-cluster] ERROR: node $node not idle after $timeout_s s (sinfo state: '${state:-no answer}')" >&2
sinfo -N -l >&2 || true
show_logs "${logs[@]}"
exit 1
