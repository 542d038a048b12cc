#!/usr/bin/env bash
# Slurm test harness: starts the one-node cluster, submits the job templates of slurm/ and
# checks that they train, resume after preemption, sweep and evaluate; then starts the emulated
# multi-node cluster (network namespaces, tools/slurm/start-emulated-cluster.sh) for the cases
# that need several nodes. Run as root from the repository root:
#
#   bash Tests/slurm/run.sh [TEST...]        (default: all tests, in this order)
#
# Tests on the one-node cluster:
#   mpi_pmix        srun --mpi=pmix starts 2 tasks that form one MPI world (Tests/slurm/mpi_probe.c)
#   train           slurm/train.sbatch, 2 tasks, on the bundled dataset (data/) when present:
#                   COMPLETED 0:0, metrics.jsonl parses, no restart
#   evaluate        slurm/evaluate.sbatch chained with --dependency=afterok on the train job: JSON stored
#   preempt_usr1    scancel --signal=USR1 --batch mid-run: checkpoint, requeue, resume, COMPLETED
#   requeue_term    scontrol requeue mid-run (SIGTERM path): checkpoint, Slurm requeues, resume, COMPLETED
#   mpirun_fallback train.sbatch with EQUIGLASS_MPI_LAUNCH=mpirun, preempted by USR1: resumes, COMPLETED
#   sweep           slurm/sweep.sbatch over 3 rows with throttle %1: 3 run directories, never 2 at once
#   time_limit      --time=2 --signal=B:USR1@75: Slurm's own warning signal requeues the job
#                   until it completes (about 2 min; the training, on 1 task with the real
#                   launcher, must outlast the first signal, 15-45 s into the run)
# Tests on the emulated cluster (2 nodes x 2 CPUs; real launcher only, skipped with the stand-in):
#   multinode_selftest  launcher selftest on 2 nodes x 2 ranks passes, ranks on node1 and node2;
#                   the same without Open MPI's TCP transport fails
#   multinode_bitwise   train.sbatch on 2 nodes x 2 ranks: bitwise equal to 1 rank, one metrics file
#   node_failure    node2's processes killed mid-run: NODE_FAIL, requeue by Slurm, resume from the
#                   last checkpoint once node2's slurmd is back, bitwise equal
#   preempt_partition  a job of partition high preempts the training in low: SIGTERM, checkpoint
#                   within the GraceTime, requeue, resume after the high job, bitwise equal
# With the real launcher every interrupted run (preempt_usr1, requeue_term, mpirun_fallback,
# time_limit, and the emulated cluster's) must end bitwise equal (parameters, Adam moments,
# random state: Tests/slurm/compare_checkpoints.py) to one uninterrupted run on 1 rank, made
# once outside Slurm by the first test that needs it.
#
# Environment:
#   EQUIGLASS_LAUNCHER           the launcher under test; default: the real one, built
#                                (debug) if missing, at `swift build $SWIFTPM_FLAGS --show-bin-path`;
#                                "standin" selects Tests/slurm/fake_launcher.py (same contract, no
#                                real training, quicker)
#   EQUIGLASS_SLURM_DATA         training data; default with the real launcher: a synthetic file
#                                (Tests/slurm/make_dataset.py: 16 snapshots of 125 particles)
#                                written in the work directory; with the stand-in a placeholder
#   EQUIGLASS_SLURM_TRAIN_ARGS   launcher train options added to every job; default with the real
#                                launcher: "--config Tests/slurm/small-config.json" (8 channels,
#                                the fast tensor-product path; lmax 1, 2 layers; global batch 4:
#                                4 steps per epoch, a few seconds per epoch in a debug build)
#   EQUIGLASS_SLURM_EPOCHS       epochs of the train, evaluate and sweep jobs (default 2)
#   EQUIGLASS_SLURM_TRAIN_EPOCHS epochs of the train job (default EPOCHS; 1 on the bundled dataset)
#   EQUIGLASS_SLURM_PREEMPT_EPOCHS  epochs of the interrupted jobs and of the reference run
#                                (default 3; real launcher: measured, see the next line; they
#                                must still run when the signal comes, after PREEMPT_AFTER lines)
#   EQUIGLASS_SLURM_REFERENCE_SECONDS  real launcher: the interrupted and reference runs train as
#                                many epochs as take this long on 1 rank (default 70, at least
#                                8 epochs), measured by a 2-epoch run first
#   EQUIGLASS_SLURM_PREEMPT_AFTER   metrics.jsonl lines to wait for before the signal (default 3,
#                                real launcher 2: it writes one line per epoch)
#   EQUIGLASS_SLURM_TIME_LIMIT_EPOCHS  epochs of the time_limit job with the stand-in (default 6;
#                                it takes 0.75 s a step there); the real launcher trains the
#                                reference's epochs on 1 task (~REFERENCE_SECONDS)
#   EQUIGLASS_SLURM_TIME_LIMIT_SIGNAL  seconds before the limit of --time=2 --signal=B:USR1@N
#                                (default 75)
#   EQUIGLASS_SLURM_PROGRESS_KEY the metrics field that must increase across restarts (default step)
#   EQUIGLASS_SLURM_JOB_TIMEOUT  seconds a job may take (default 300)
#   EQUIGLASS_SLURMD_TIMEOUT, EQUIGLASS_SLURM_GRACE_TIME  the emulated cluster's SlurmdTimeout and
#                                low-partition GraceTime (default 10 and 60)
#   EQUIGLASS_SLURM_NO_CLUSTER=1 use the running clusters; neither start nor stop them
#   EQUIGLASS_SLURM_KEEP=1       keep the work directory and leave the clusters running
#   FAKE_STEPS_PER_EPOCH, FAKE_STEP_SECONDS  the stand-in's pace (default 10 and 0.2)
#
# Prints one PASS/FAIL line per test and "N passed, N failed" at the end; exits 1 on failure.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
# shellcheck source=Tests/slurm/lib.sh
source "$here/lib.sh"
# shellcheck source=Tests/slurm/multinode.sh
source "$here/multinode.sh"
# shellcheck source=tools/slurm/emulated-nodes.sh
source "$repo/tools/slurm/emulated-nodes.sh"

# The launcher under test: the real one unless told otherwise.
STANDIN=0
if [[ ${EQUIGLASS_LAUNCHER:-} == standin || ${EQUIGLASS_LAUNCHER:-} == "$here/fake_launcher.py" ]]; then
    export EQUIGLASS_LAUNCHER=$here/fake_launcher.py
    STANDIN=1
elif [[ -z ${EQUIGLASS_LAUNCHER:-} ]]; then
    # shellcheck disable=SC2086
    bin=$(swift build ${SWIFTPM_FLAGS:-} --show-bin-path) || { say "ERROR: swift build --show-bin-path failed"; exit 1; }
    if [[ ! -x $bin/launcher ]]; then
        say "building the launcher (debug) in $bin"
        # shellcheck disable=SC2086
        swift build ${SWIFTPM_FLAGS:-} --product launcher || { say "ERROR: the launcher did not build"; exit 1; }
    fi
    export EQUIGLASS_LAUNCHER=$bin/launcher
fi

JOB_TIMEOUT=${EQUIGLASS_SLURM_JOB_TIMEOUT:-300}
EPOCHS=${EQUIGLASS_SLURM_EPOCHS:-2}
if ((STANDIN)); then
    PREEMPT_EPOCHS=${EQUIGLASS_SLURM_PREEMPT_EPOCHS:-3}
    PREEMPT_AFTER=${EQUIGLASS_SLURM_PREEMPT_AFTER:-3}
    read -r -a TRAIN_ARGS <<<"${EQUIGLASS_SLURM_TRAIN_ARGS:-}"
else
    # Set by reference_run: as given, or measured (see lib.sh).
    PREEMPT_EPOCHS=
    PREEMPT_AFTER=${EQUIGLASS_SLURM_PREEMPT_AFTER:-2}
    read -r -a TRAIN_ARGS <<<"${EQUIGLASS_SLURM_TRAIN_ARGS:---config $repo/Tests/slurm/small-config.json}"
fi
PROGRESS_KEY=${EQUIGLASS_SLURM_PROGRESS_KEY:-step}
# The real launcher's interrupted runs all train REF_EPOCHS epochs and end bitwise equal to
# one uninterrupted reference run of as many epochs (on 1 rank, outside Slurm): reference_run
# (lib.sh) sets REF_EPOCHS, measured so that training takes about REF_SECONDS on 1 rank.
REF_SECONDS=${EQUIGLASS_SLURM_REFERENCE_SECONDS:-70}
REF_EPOCHS=
if ((STANDIN)); then
    TIME_LIMIT_EPOCHS=${EQUIGLASS_SLURM_TIME_LIMIT_EPOCHS:-8}
    TIME_LIMIT_TASKS=2
else
    # On 1 rank: the slowest pace, so that the training outlasts the first warning signal.
    TIME_LIMIT_TASKS=1
fi
TIME_LIMIT_SIGNAL=${EQUIGLASS_SLURM_TIME_LIMIT_SIGNAL:-75}
# The emulated cluster's SlurmdTimeout and preemption GraceTime (start-emulated-cluster.sh).
export EQUIGLASS_SLURMD_TIMEOUT=${EQUIGLASS_SLURMD_TIMEOUT:-10} EQUIGLASS_SLURM_GRACE_TIME=${EQUIGLASS_SLURM_GRACE_TIME:-60}
SLURMD_TIMEOUT=$EQUIGLASS_SLURMD_TIMEOUT
GRACE_TIME=$EQUIGLASS_SLURM_GRACE_TIME
TIME_LIMIT_STEP_SECONDS=${FAKE_TIME_LIMIT_STEP_SECONDS:-0.75}
export FAKE_STEPS_PER_EPOCH=${FAKE_STEPS_PER_EPOCH:-10}
export FAKE_STEP_SECONDS=${FAKE_STEP_SECONDS:-0.2}

# The work directory holds the data placeholder, the run directories and the job logs.
# Not in /tmp: the emulated nodes have a /tmp of their own each, like real ones; /var/tmp is
# the "shared filesystem".
WORK=$(mktemp -d /var/tmp/equiglass-slurm-tests.XXXXXX)
export WORK
REF_RUN=$WORK/runs/reference
: >"$WORK/submitted-jobs"

[[ -x $EQUIGLASS_LAUNCHER ]] || { say "ERROR: EQUIGLASS_LAUNCHER=$EQUIGLASS_LAUNCHER is not executable"; exit 1; }
# The job templates choose srun or mpirun themselves, except where a test says otherwise.
unset EQUIGLASS_MPI_LAUNCH EQUIGLASS_SWEEP_DIR
export EQUIGLASS_ROOT=$repo

if [[ -n ${EQUIGLASS_SLURM_DATA:-} ]]; then
    DATA=$EQUIGLASS_SLURM_DATA
    [[ $DATA == /* ]] || DATA=$repo/$DATA
    [[ -f $DATA ]] || { say "ERROR: training data $DATA not found (EQUIGLASS_SLURM_DATA)"; exit 1; }
elif ((STANDIN)); then
    DATA=$WORK/placeholder-train.h5
    echo "placeholder: the stand-in launcher only checks that the file exists" >"$DATA"
else
    DATA=$WORK/synthetic-train.h5
    python3 "$here/make_dataset.py" "$DATA" || { say "ERROR: could not write the synthetic dataset"; exit 1; }
fi
# The train and evaluate tests run on the bundled Kob–Andersen dataset when it is there (real
# launcher, no EQUIGLASS_SLURM_DATA); the preemption and sweep tests keep the small, quick file.
TRAIN_DATA=$DATA
if ((!STANDIN)) && [[ -z ${EQUIGLASS_SLURM_DATA:-} && -f $repo/data/ka-N1000-T0.60-train.h5 ]]; then
    TRAIN_DATA=$repo/data/ka-N1000-T0.60-train.h5
fi
# The train job's epochs: on the bundled dataset (32 snapshots of 1000 particles) one epoch
# already takes over a minute in a debug build with the C = 8 network.
TRAIN_EPOCHS=${EQUIGLASS_SLURM_TRAIN_EPOCHS:-$EPOCHS}
[[ -n ${EQUIGLASS_SLURM_TRAIN_EPOCHS:-} || $TRAIN_DATA == "$DATA" ]] || TRAIN_EPOCHS=1

# --- the cluster -----------------------------------------------------------------------------
started_cluster=0
started_emulated=0
cleanup() {
    local cluster id t
    # Each cluster numbers its jobs from 1: cancel each job on the cluster it was submitted to.
    while read -r cluster id; do
        if [[ $cluster == emulated ]]; then "$EG_RUN/bin/scancel" "$id"; else scancel "$id"; fi 2>/dev/null || true
    done <"$WORK/submitted-jobs"
    if [[ -n ${EQUIGLASS_SLURM_KEEP:-} ]]; then
        say "kept $WORK (and the cluster)"
        return
    fi
    if ((started_emulated)); then
        t=$(now)
        bash "$repo/tools/slurm/stop-emulated-cluster.sh"
        say "emulated cluster stopped in $(elapsed "$t") s"
    fi
    if ((started_cluster)); then
        t=$(now)
        bash "$repo/tools/slurm/stop-local-cluster.sh"
        say "cluster stopped in $(elapsed "$t") s"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
# Interrupted (Ctrl-C, a CI timeout): stop the running test and its processes (the test runs in
# the background, so that the signal is handled at once), then clean up through the EXIT trap.
test_pid=""
on_interrupt() { # SIGNAL EXIT-STATUS
    say "interrupted by SIG$1: stopping the running test, then cleaning up"
    if [[ -n $test_pid ]]; then kill_tree "$test_pid"; fi
    exit "$2"
}
trap 'on_interrupt INT 130' INT
trap 'on_interrupt TERM 143' TERM

total_start=$(now)
if [[ -z ${EQUIGLASS_SLURM_NO_CLUSTER:-} ]]; then
    if ! sinfo -h >/dev/null 2>&1; then started_cluster=1; fi
    t=$(now)
    bash "$repo/tools/slurm/start-local-cluster.sh" || { say "ERROR: the cluster did not start"; exit 1; }
    say "cluster up in $(elapsed "$t") s"
fi
say "launcher: $EQUIGLASS_LAUNCHER$( ((STANDIN)) && echo ' (the stand-in)'); data: $DATA; work: $WORK"

# Common sbatch options: logs in the work directory.
train_job() { # NAME [extra sbatch options...] -- [launcher options...]
    local name=$1; shift
    local sb=() 
    while (($#)) && [[ $1 != -- ]]; do sb+=("$1"); shift; done
    shift
    submit --job-name="eg-$name" --output="$WORK/$name-%j.out" --nodes="${JOB_NODES:-1}" --ntasks-per-node="${JOB_TASKS_PER_NODE:-2}" \
        --cpus-per-task=1 "${sb[@]}" slurm/train.sbatch --data "${JOB_DATA:-$DATA}" "${TRAIN_ARGS[@]}" "$@"
}

# --- tests -------------------------------------------------------------------------------------

test_mpi_pmix() {
    mpicc -O1 -o "$WORK/mpi_probe" "$here/mpi_probe.c" || fail_test "mpicc could not build mpi_probe.c"
    local job log="$WORK/mpi-probe.out"
    job=$(submit --job-name=eg-mpi-probe --output="$log" --ntasks=2 --cpus-per-task=1 \
        --wrap="srun --mpi=pmix $WORK/mpi_probe")
    wait_job "$job" "$log" >/dev/null
    expect_completed "$job" "$log"
    grep -qx 'mpi_probe size=2 sum=3 ok' "$log" || { cat "$log"; fail_test "the 2 srun tasks are not one MPI world of size 2"; }
}

TRAIN_RUN=$WORK/runs/train
test_train() {
    local job log state n
    job=$(JOB_DATA=$TRAIN_DATA train_job train -- --out "$TRAIN_RUN" --epochs "$TRAIN_EPOCHS")
    echo "$job" >"$WORK/train-job-id"
    log=$WORK/train-$job.out
    state=$(wait_job "$job" "$log")
    expect_completed "$job" "$log"
    [[ $(job_field "$job" Restarts) == 0 ]] || fail_test "job $job restarted without a signal"
    grep -q 'tasks x 1 cpus, srun$' "$log" || { cat "$log"; fail_test "train.sbatch did not launch with srun --mpi=pmix"; }
    n=$(check_metrics "$TRAIN_RUN/metrics.jsonl")
    if ((STANDIN)); then
        # The stand-in shows what each rank saw: 2 ranks, threads tied to --cpus-per-task.
        grep -q 'rank 0 of 2 threads omp=1 openblas=1 option=1' "$log" &&
            grep -q 'rank 1 of 2 threads omp=1 openblas=1 option=1' "$log" ||
            { cat "$log"; fail_test "the ranks did not see 2 tasks with 1 thread each"; }
        ((n == TRAIN_EPOCHS * FAKE_STEPS_PER_EPOCH)) || fail_test "$n metrics records, expected $((TRAIN_EPOCHS * FAKE_STEPS_PER_EPOCH))"
    fi
    say "train: job $job $state on $(basename "$TRAIN_DATA"), $n metrics records"
}

test_evaluate() {
    local train_job job log out
    train_job=$(cat "$WORK/train-job-id" 2>/dev/null) || fail_test "needs the train test first"
    out=$WORK/evaluation.json
    log=$WORK/evaluate.out
    # afterok: the evaluation waits for the training job (already finished here) to succeed.
    job=$(submit --job-name=eg-evaluate --output="$log" --dependency="afterok:$train_job" \
        slurm/evaluate.sbatch "$TRAIN_RUN" "$TRAIN_DATA" "$out")
    wait_job "$job" "$log" >/dev/null
    expect_completed "$job" "$log"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d, dict), d' "$out" ||
        fail_test "$out is not a JSON object"
    if ((STANDIN)); then
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["step"] == int(sys.argv[2]), d' \
            "$out" "$((TRAIN_EPOCHS * FAKE_STEPS_PER_EPOCH))" || fail_test "the evaluation did not read the final checkpoint"
    fi
}

# preempt NAME HOW [sbatch options]: a training job is interrupted mid-run by HOW (usr1 or
# requeue) and must come back, resume from its checkpoint and complete.
preempt() {
    local name=$1 how=$2; shift 2
    local run=$WORK/runs/$name job log t0 restarts steps
    if ((!STANDIN)); then reference_run; PREEMPT_EPOCHS=$REF_EPOCHS; fi
    job=$(train_job "$name" "$@" -- --out "$run" --epochs "$PREEMPT_EPOCHS")
    log=$WORK/$name-$job.out
    wait_progress "$run/metrics.jsonl" "$PREEMPT_AFTER" "$job" "$log"
    cp "$run/metrics.jsonl" "$WORK/$name-before.jsonl"
    t0=$(now)
    case $how in
        usr1) scancel --signal=USR1 --batch "$job" || fail_test "scancel --signal=USR1 --batch $job failed" ;;
        requeue) scontrol requeue "$job" || fail_test "scontrol requeue $job failed" ;;
    esac
    # Wait for the restart, to measure how long the job was away.
    local start=$SECONDS
    until [[ $(job_field "$job" Restarts) -ge 1 && $(job_field "$job" JobState) == RUNNING ]] ||
        is_final_state "$(job_field "$job" JobState)"; do
        ((SECONDS - start < JOB_TIMEOUT)) || { show_job "$job" "$log"; fail_test "job $job did not restart"; }
        sleep 0.2
    done
    say "$name: job $job running again $(elapsed "$t0") s after the signal"
    wait_job "$job" "$log" >/dev/null
    expect_completed "$job" "$log"
    restarts=$(job_field "$job" Restarts)
    ((restarts >= 1)) || { show_job "$job" "$log"; fail_test "job $job was not requeued (Restarts=$restarts)"; }
    check_metrics "$run/metrics.jsonl" >/dev/null
    steps=$(check_resumed "$WORK/$name-before.jsonl" "$run/metrics.jsonl" "$PROGRESS_KEY")
    if ((STANDIN)); then
        # The restart resumed from the checkpoint written at the signal, not from an earlier one.
        local resumed
        resumed=$(grep -oE 'resumed from .* at step [0-9]+' "$log" | grep -oE '[0-9]+$' | head -n1 || true)
        [[ -n $resumed ]] || { cat "$log"; fail_test "no 'resumed from' line in $log"; }
        ((resumed >= ${steps% *})) || fail_test "resumed at step $resumed, before the step ${steps% *} seen at the signal"
        ((${steps#* } == PREEMPT_EPOCHS * FAKE_STEPS_PER_EPOCH)) || fail_test "finished at step ${steps#* }"
    else
        # The real launcher: the restart resumed from the checkpoint written at the signal
        # ("resuming from .../checkpoint-N.h5: step N, ..."), at or after the last step the
        # metrics showed before the signal, and the run went on to its last epoch.
        local resumed
        resumed=$(grep -oE 'resuming from .*: step [0-9]+' "$log" | grep -oE '[0-9]+$' | head -n1 || true)
        [[ -n $resumed ]] || { cat "$log"; fail_test "no 'resuming from' line in $log"; }
        ((resumed >= ${steps% *})) || fail_test "resumed at step $resumed, before the step ${steps% *} seen at the signal"
        grep -q "^done: ${steps#* } steps" "$log" || { cat "$log"; fail_test "no 'done: ${steps#* } steps' line"; }
        [[ $(wc -l <"$run/metrics.jsonl") == "$PREEMPT_EPOCHS" ]] || fail_test "not one metrics line per epoch"
        say "$name: resumed from the checkpoint at step $resumed"
        expect_bitwise "$run"
    fi
    case $how in
        usr1) grep -q 'checkpointed; requeueing job' "$log" || { cat "$log"; fail_test "train.sbatch did not requeue"; } ;;
        requeue) grep -q 'checkpointed after SIGTERM' "$log" || { cat "$log"; fail_test "no checkpoint after SIGTERM"; } ;;
    esac
    say "$name: job $job restarts=$restarts, $PROGRESS_KEY ${steps% *} at the signal, ${steps#* } at the end"
}

test_preempt_usr1() { preempt preempt-usr1 usr1; }
test_requeue_term() { preempt requeue-term requeue; }
test_mpirun_fallback() {
    preempt mpirun-fallback usr1 --export=ALL,EQUIGLASS_MPI_LAUNCH=mpirun
    grep -q 'tasks x 1 cpus, mpirun$' "$WORK"/mpirun-fallback-*.out || fail_test "train.sbatch did not use mpirun"
}

# The time limit itself: with --time=2 --signal=B:USR1@75 Slurm signals the batch shell
# 15-45 s into each run (its time-limit check runs every 30 s and sends the warning when fewer
# than 75 + 30 s are left); the run checkpoints, is requeued with a fresh time limit, and the
# training (longer than 45 s) ends after restarts. (With --time=1 --signal=B:USR1@45 the warning
# is due at the first check, which may come while the job is still launching: the signal is
# lost and the job ends TIMEOUT.)
test_time_limit() {
    local run=$WORK/runs/time-limit job log restarts steps
    if ((!STANDIN)); then reference_run; TIME_LIMIT_EPOCHS=$REF_EPOCHS; fi
    job=$(JOB_TASKS_PER_NODE=$TIME_LIMIT_TASKS train_job time-limit --time=2 --signal=B:USR1@"$TIME_LIMIT_SIGNAL" \
        --export=ALL,FAKE_STEP_SECONDS="$TIME_LIMIT_STEP_SECONDS" -- --out "$run" --epochs "$TIME_LIMIT_EPOCHS")
    log=$WORK/time-limit-$job.out
    wait_job "$job" "$log" >/dev/null
    expect_completed "$job" "$log"
    restarts=$(job_field "$job" Restarts)
    ((restarts >= 1)) || { cat "$log"; fail_test "no SIGUSR1 before the time limit: the job was never requeued"; }
    grep -q 'received SIGUSR1' "$log" || { cat "$log"; fail_test "the batch shell never received SIGUSR1"; }
    : >"$WORK/empty.jsonl"
    steps=$(check_resumed "$WORK/empty.jsonl" "$run/metrics.jsonl" "$PROGRESS_KEY")
    if ((STANDIN)); then
        ((${steps#* } == TIME_LIMIT_EPOCHS * FAKE_STEPS_PER_EPOCH)) || fail_test "finished at step ${steps#* }"
    else
        grep -q 'USR1: checkpoint at step' "$log" || { cat "$log"; fail_test "the launcher did not checkpoint on SIGUSR1"; }
        expect_one_metrics_file "$run" "$TIME_LIMIT_EPOCHS"
        expect_bitwise "$run"
    fi
    say "time-limit: job $job restarts=$restarts, $PROGRESS_KEY ${steps#* } at the end"
}

test_sweep() {
    local rows=$WORK/sweep-rows.txt job i n expected
    cat >"$rows" <<ROWS
# one row per array task; comments and blank lines do not count
--epochs 1

--epochs $EPOCHS
--epochs 1
ROWS
    n=$(grep -cvE '^[[:space:]]*(#|$)' "$rows")
    ((n == 3)) || fail_test "the rows file has $n rows"
    job=$(submit --job-name=eg-sweep --output="$WORK/sweep-%A_%a.out" --array="0-$((n - 1))%1" \
        --export=ALL,EQUIGLASS_SWEEP_DIR="$WORK/runs/sweep" \
        slurm/sweep.sbatch "$rows" --data "$DATA" "${TRAIN_ARGS[@]}")
    local start=$SECONDS states
    while :; do
        states=$(scontrol show job -o "$job" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | sort | uniq -c | tr -s ' ' || true)
        [[ $(scontrol show job -o "$job" | grep -c 'JobState=COMPLETED') == "$n" ]] && break
        if scontrol show job -o "$job" | grep -qE 'JobState=(FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY)'; then
            show_job "$job"; cat "$WORK/sweep-${job}"_*.out >&2; fail_test "a sweep task failed: $states"
        fi
        ((SECONDS - start < JOB_TIMEOUT)) || { show_job "$job"; fail_test "sweep not done after $JOB_TIMEOUT s: $states"; }
        sleep 0.5
    done
    # The throttle: %1 lets no two tasks run at the same time.
    scontrol show job -o "$job" | grep -q 'ArrayTaskThrottle=1' || fail_test "no ArrayTaskThrottle=1 on job $job"
    python3 - "$job" <<'PY' || fail_test "two sweep tasks overlapped despite %1"
import subprocess, sys, datetime as dt
out = subprocess.run(["scontrol", "show", "job", "-o", sys.argv[1]], capture_output=True, text=True).stdout
spans = []
for line in out.splitlines():
    f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
    spans.append((dt.datetime.fromisoformat(f["StartTime"]), dt.datetime.fromisoformat(f["EndTime"]), f["ArrayTaskId"]))
spans.sort()
for (s1, e1, a), (s2, e2, b) in zip(spans, spans[1:]):
    if s2 < e1:
        sys.exit(f"task {b} started at {s2} before task {a} ended at {e1}")
PY
    for i in 0 1 2; do
        [[ -f $WORK/runs/sweep/task-$i/sweep-row.txt ]] || fail_test "no run directory for task $i"
        n=$(check_metrics "$WORK/runs/sweep/task-$i/metrics.jsonl")
        if ((STANDIN)); then
            expected=$(( (i == 1 ? EPOCHS : 1) * FAKE_STEPS_PER_EPOCH ))
            ((n == expected)) || fail_test "task $i wrote $n records, its row asks for $expected"
        fi
    done
}

# --- driver -----------------------------------------------------------------------------------
one_node_tests=(mpi_pmix train evaluate preempt_usr1 requeue_term mpirun_fallback sweep time_limit)
# On the emulated cluster (tools/slurm/start-emulated-cluster.sh), started before the first.
emulated_tests=(multinode_selftest multinode_bitwise node_failure preempt_partition)
all_tests=("${one_node_tests[@]}" "${emulated_tests[@]}")
tests=("$@")
((${#tests[@]})) || tests=("${all_tests[@]}")
is_emulated() { [[ " ${emulated_tests[*]} " == *" $1 "* ]]; }

# The emulated cluster: started (or, with EQUIGLASS_SLURM_NO_CLUSTER, found) once.
emulated_ready=0
use_emulated_cluster() {
    ((emulated_ready)) && return 0
    if [[ -z ${EQUIGLASS_SLURM_NO_CLUSTER:-} ]]; then
        local t
        t=$(now)
        started_emulated=1
        bash "$repo/tools/slurm/start-emulated-cluster.sh" || { say "ERROR: the emulated cluster did not start"; return 1; }
        say "emulated cluster up in $(elapsed "$t") s"
    fi
    "$EG_RUN/bin/sinfo" -h >/dev/null 2>&1 || { say "ERROR: no emulated cluster answers ($EG_RUN/bin/sinfo)"; return 1; }
    emulated_ready=1
}

passed=0
failed=0
skipped=0
for name in "${tests[@]}"; do
    [[ -n $name ]] || continue
    if ! declare -F "test_$name" >/dev/null; then
        say "unknown test '$name' (tests: ${all_tests[*]})"
        failed=$((failed + 1))
        continue
    fi
    t=$(now)
    say "--- $name"
    emulated=0
    if is_emulated "$name"; then
        if ((STANDIN)); then
            say "SKIP $name (it needs the real launcher: MPI across nodes, checkpoints)"
            skipped=$((skipped + 1))
            continue
        fi
        if ! use_emulated_cluster; then
            say "FAIL $name ($(elapsed "$t") s)"
            failed=$((failed + 1))
            continue
        fi
        emulated=1
    fi
    # Not `if (...)`: bash ignores set -e inside the condition of an if. On the emulated cluster
    # the Slurm commands are its wrappers, and the jobs' Open MPI sends its traffic between the
    # nodes over TCP on the test subnet (the settings a real cluster needs: slurm/README.md).
    (set -e
     if ((emulated)); then
         export PATH=$EG_RUN/bin:$PATH OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=$EG_SUBNET
     fi
     "test_$name") &
    test_pid=$!
    wait "$test_pid"
    status=$?
    test_pid=""
    if ((status == 0)); then
        say "PASS $name ($(elapsed "$t") s)"
        passed=$((passed + 1))
    else
        say "FAIL $name ($(elapsed "$t") s)"
        failed=$((failed + 1))
    fi
done
say "total $(elapsed "$total_start") s"
echo "slurm: $passed passed, $failed failed$( ((skipped)) && echo ", $skipped skipped")"
((failed == 0))
