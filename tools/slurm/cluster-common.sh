# shellcheck shell=bash
# What the test-cluster scripts share (sourced by start-local-cluster.sh and
# start-emulated-cluster.sh): the Debian packages, munge, pid files, daemon logs.
# The sourcing script defines say() and die().

# True if the pid file names a live process.
# (A daemon removes its pid file while it shuts down: read it once, quietly.)
running() { local pid; pid=$(cat "$1" 2>/dev/null) && [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; }

# show_logs FILE...: the tail of each daemon log, for errors.
show_logs() {
    local f
    for f in "$@"; do
        if [[ -f $f ]]; then
            echo "----- last lines of $f -----" >&2
            tail -n 40 "$f" >&2
        else
            echo "----- $f does not exist -----" >&2
        fi
    done
}

# install_slurm_packages [PACKAGE...]: munge, slurmctld, slurmd, the clients and the PMIx
# plugin, and the packages named, with apt-get when missing (a fresh machine: update the lists
# and retry once).
install_slurm_packages() {
    local packages=(munge slurmctld slurmd slurm-client slurm-wlm-basic-plugins "$@") missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/equiglass-slurm-apt.log 2>&1 ||
            { apt-get update >>/tmp/equiglass-slurm-apt.log 2>&1 &&
              apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/equiglass-slurm-apt.log 2>&1; } ||
            { tail -n 30 /tmp/equiglass-slurm-apt.log >&2; die "apt-get install ${missing[*]} failed"; }
    fi
    [[ -f /usr/lib/x86_64-linux-gnu/slurm-wlm/mpi_pmix.so || -n $(find /usr/lib -name mpi_pmix.so 2>/dev/null | head -n1) ]] ||
        die "Slurm's PMIx plugin (mpi_pmix.so) is missing; it ships in slurm-wlm-basic-plugins"
}

readonly munge_key=/etc/munge/munge.key
readonly munge_pid=/run/munge/munged.pid

# start_munge [MARKER]: create the key if needed and start munged unless it runs; if it was
# started here and MARKER is given, touch MARKER (so that the matching stop script stops it).
start_munge() {
    if [[ ! -s $munge_key ]]; then
        say "creating $munge_key"
        mkdir -p /etc/munge
        mungekey --create --keyfile="$munge_key" --force
    fi
    chown munge:munge "$munge_key" /etc/munge
    chmod 0400 "$munge_key"
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    if ! running "$munge_pid"; then
        say "starting munged"
        runuser -u munge -- /usr/sbin/munged || { show_logs /var/log/munge/munged.log; die "munged did not start"; }
        if [[ -n ${1:-} ]]; then touch "$1"; fi
    fi
    local _
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.2; done
    munge -n | unmunge >/dev/null || { show_logs /var/log/munge/munged.log; die "munge does not round-trip a credential"; }
}

# stop_pid PIDFILE NAME [SECONDS]: SIGTERM the process named by the pid file, SIGKILL after
# SECONDS (default 10); remove the pid file.
stop_pid() {
    local pid _ tenths=$((${3:-10} * 10))
    [[ -f $1 ]] || return 0
    pid=$(cat "$1" 2>/dev/null)
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        say "stopping $2 (pid $pid)"
        kill "$pid" 2>/dev/null
        for _ in $(seq "$tenths"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            say "$2 still alive after ${3:-10} s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null
        fi
    fi
    rm -f "$1"
}

# stop_munge: stop munged unless the controller of one of the two test clusters still runs
# (they share it: the emulated nodes reach its socket through the common filesystem).
stop_munge() {
    if running /run/slurmctld.pid || running /run/slurmctld-emulated.pid; then
        say "munged kept: a test cluster still uses it"
        return 0
    fi
    stop_pid "$munge_pid" munged
}

# common_slurm_conf CRED_EXPIRE: the slurm.conf lines both test clusters share (root daemons,
# munge, PMIx, no cgroups, no accounting, a quick scheduler, requeue allowed).
common_slurm_conf() {
    cat <<CONF
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also delays the restart of a requeued job.
AuthInfo=cred_expire=$1
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Look at pending jobs every 2 s (default 60) so that a requeued job restarts promptly.
SchedulerParameters=sched_interval=2,bf_interval=5
JobRequeue=1
ReturnToService=2
# Keep finished jobs visible to 'scontrol show job' for 30 min (no accounting database here).
MinJobAge=1800
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
CONF
}
