#!/usr/bin/env bash
# Stop the one-node cluster started by tools/slurm/start-local-cluster.sh.
# Stops slurmd, slurmctld and munged (unless the emulated cluster uses it) by the process ids
# in their pid files, nothing else.
# Jobs still running are killed with slurmd. Safe to call when nothing runs.
set -uo pipefail

say() { echo "[stop-local-cluster] $*"; }

# shellcheck source=tools/slurm/cluster-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-common.sh"

# Cancel what is still queued so that a later start does not resume old jobs.
if [[ -f /run/slurmctld.pid ]] && kill -0 "$(cat /run/slurmctld.pid)" 2>/dev/null; then
    scancel --quiet --user=root 2>/dev/null || true
fi
stop_pid /run/slurmd.pid slurmd
stop_pid /run/slurmctld.pid slurmctld
stop_munge
