#!/usr/bin/env bash
# Stop the one-node cluster started by tools/slurm/start-local-cluster.sh.
# Stops slurmd, slurmctld and munged by the process ids in their pid files, nothing else.
# Jobs still running are killed with slurmd. Safe to call when nothing runs.
set -uo pipefail

say() { echo "[stop-local-cluster] $*"; }

stop() { # pidfile name
    local pid
    [[ -f $1 ]] || return 0
    pid=$(cat "$1")
    if kill -0 "$pid" 2>/dev/null; then
        say "stopping $2 (pid $pid)"
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            say "$2 still alive after 10 s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    rm -f "$1"
}

# Cancel what is still queued so that a later start does not resume old jobs.
if [[ -f /run/slurmctld.pid ]] && kill -0 "$(cat /run/slurmctld.pid)" 2>/dev/null; then
    scancel --quiet --user=root 2>/dev/null || true
fi
stop /run/slurmd.pid slurmd
stop /run/slurmctld.pid slurmctld
stop /run/munge/munged.pid munged
