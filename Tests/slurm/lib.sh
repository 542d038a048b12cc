# shellcheck shell=bash
# Helpers for the Slurm test harness (sourced by Tests/slurm/run.sh).
# Jobs are inspected with `scontrol show job -o`: the test cluster has no accounting
# database (no sacct) but keeps finished jobs for MinJobAge = 30 min.

# Print a harness message.
say() { printf '[slurm-tests %(%H:%M:%S)T] %s\n' -1 "$*"; }

# Fail the current test (each test runs in a subshell) with a reason.
fail_test() {
    printf '[slurm-tests] FAIL: %s\n' "$*" >&2
    exit 1
}

# Seconds since the epoch with milliseconds.
now() { date +%s.%3N; }

# elapsed START: seconds since START (from `now`), one decimal.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# kill_tree PID: SIGTERM to PID and all its descendants (found by their parent ids), for an
# interrupted test.
kill_tree() {
    local pids=("$1") i=0 child
    while ((i < ${#pids[@]})); do
        for child in $(pgrep -P "${pids[i]}" 2>/dev/null); do pids+=("$child"); done
        i=$((i + 1))
    done
    kill "${pids[@]}" 2>/dev/null || true
}

# submit [sbatch arguments...]: submit a job, print its id, remember it for the clean-up.
submit() {
    local id
    id=$(sbatch --parsable "$@") || fail_test "sbatch $* failed"
    id=${id%%;*}
    # Which cluster: the emulated one when its sbatch wrapper comes first on PATH.
    if [[ $(command -v sbatch) == "$EG_RUN/bin/sbatch" ]]; then echo "emulated $id"; else echo "local $id"; fi >>"$WORK/submitted-jobs"
    echo "$id"
}

# job_field JOB KEY: the value of KEY in `scontrol show job -o JOB` (first line).
job_field() {
    { scontrol show job -o "$1" 2>/dev/null | head -n1 | grep -oE "(^| )$2=[^ ]*" | head -n1 | cut -d= -f2-; } || true
}

# True for the states from which a job does not come back by itself.
is_final_state() {
    case $1 in
        COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED) return 0 ;;
        *) return 1 ;;
    esac
}

# show_job JOB [LOG]: print the job's record and its log, for a failure.
show_job() {
    echo "----- scontrol show job $1 -----" >&2
    scontrol show job "$1" >&2 2>&1 || true
    if [[ -n ${2:-} ]]; then
        echo "----- $2 -----" >&2
        cat "$2" >&2 2>/dev/null || echo "(no log)" >&2
    fi
}

# wait_job JOB LOG [TIMEOUT]: wait until JOB reaches a final state; print the state. On
# timeout cancel the job and fail the test, showing the log.
wait_job() {
    local job=$1 log=$2 limit=${3:-$JOB_TIMEOUT} start=$SECONDS state=""
    while ((SECONDS - start < limit)); do
        state=$(job_field "$job" JobState)
        if is_final_state "$state"; then
            echo "$state"
            return 0
        fi
        sleep 0.5
    done
    show_job "$job" "$log"
    scancel "$job" 2>/dev/null || true
    fail_test "job $job not finished after $limit s (state '$state')"
}

# wait_progress FILE LINES JOB LOG: wait until FILE has at least LINES lines (the training is
# under way), failing if JOB ends first or after the job timeout.
wait_progress() {
    local file=$1 lines=$2 job=$3 log=$4 start=$SECONDS state
    while ((SECONDS - start < JOB_TIMEOUT)); do
        if [[ -f $file ]] && (($(wc -l <"$file") >= lines)); then return 0; fi
        state=$(job_field "$job" JobState)
        if is_final_state "$state"; then
            show_job "$job" "$log"
            fail_test "job $job ended ($state) before $file had $lines lines"
        fi
        sleep 0.1
    done
    show_job "$job" "$log"
    fail_test "$file did not reach $lines lines within $JOB_TIMEOUT s"
}

# expect_completed JOB LOG: the job ended COMPLETED with exit code 0:0.
expect_completed() {
    local state code
    state=$(job_field "$1" JobState)
    code=$(job_field "$1" ExitCode)
    if [[ $state != COMPLETED || $code != 0:0 ]]; then
        show_job "$1" "$2"
        fail_test "job $1 ended $state with exit code $code, expected COMPLETED 0:0"
    fi
}

# check_metrics FILE: every line is a JSON object; prints the number of records.
check_metrics() {
    python3 - "$1" <<'PY' || fail_test "$1 is missing or does not parse"
import json, sys
path = sys.argv[1]
with open(path) as f:
    lines = [l for l in f.read().splitlines() if l.strip()]
if not lines:
    sys.exit(f"{path} is empty")
for n, line in enumerate(lines, 1):
    try:
        record = json.loads(line)
    except ValueError as e:
        sys.exit(f"{path}:{n}: not JSON: {e}: {line[:120]}")
    if not isinstance(record, dict):
        sys.exit(f"{path}:{n}: not a JSON object")
print(len(lines))
PY
}

# check_resumed BEFORE AFTER KEY: the metrics AFTER a restart continue those seen BEFORE the
# signal. BEFORE's records are still the first ones (the file was not restarted), the
# progress KEY ("step") is strictly increasing over the whole file (no step was redone from
# scratch) and training went on past what BEFORE saw. Prints "<last before> <last after>".
check_resumed() {
    python3 - "$1" "$2" "$3" <<'PY' || fail_test "the run did not resume from its checkpoint (see above)"
import json, sys
before_path, after_path, key = sys.argv[1:4]
def records(path):
    with open(path) as f:
        text = f.read()
    if not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]  # copied while a line was being written
    return [json.loads(l) for l in text.splitlines() if l.strip()]
before, after = records(before_path), records(after_path)
if after[:len(before)] != before:
    sys.exit(f"the {len(before)} records written before the signal are not the start of the final file")
for n, r in enumerate(after, 1):
    if not isinstance(r.get(key), (int, float)):
        sys.exit(f"record {n} has no numeric '{key}': {r}")
steps = [r[key] for r in after]
bad = [(a, b) for a, b in zip(steps, steps[1:]) if b <= a]
if bad:
    sys.exit(f"'{key}' goes back from {bad[0][0]} to {bad[0][1]}: a restart did not resume")
if len(after) <= len(before):
    sys.exit(f"no record after the restart ({len(after)} records, {len(before)} before the signal)")
print(steps[len(before) - 1], steps[-1])
PY
}

# --- bitwise comparison with an uninterrupted run -----------------------------------------------

# train_outside_slurm OUT EPOCHS LOG: the launcher on 1 rank, outside Slurm, on DATA with
# TRAIN_ARGS and 1 thread (like the jobs' --cpus-per-task=1), bounded by the job timeout.
train_outside_slurm() {
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        timeout "$JOB_TIMEOUT" "$EQUIGLASS_LAUNCHER" train --data "$DATA" "${TRAIN_ARGS[@]}" --out "$1" \
        --epochs "$2" --threads 1 >"$3" 2>&1 ||
        { tail -n 30 "$3" >&2; fail_test "launcher train --out $1 failed or took more than $JOB_TIMEOUT s"; }
}

# reference_run: sets REF_EPOCHS, the epochs of every interrupted run, and makes (once) the
# uninterrupted run of as many epochs on 1 rank outside Slurm, in REF_RUN, which they must
# equal bit for bit. REF_EPOCHS is EQUIGLASS_SLURM_PREEMPT_EPOCHS, or measured on this machine:
# as many epochs as take REF_SECONDS on 1 rank (from a 2-epoch run: its second epoch, the
# snapshots then cached), at least 8, so that the time_limit job (1 task) outlasts Slurm's
# first warning signal on a quick machine as on a slow one. The tests run in subshells: both
# are kept on disk.
reference_run() {
    if [[ ! -f $WORK/reference-epochs ]]; then
        local epochs=${EQUIGLASS_SLURM_PREEMPT_EPOCHS:-} seconds
        if [[ -z $epochs ]]; then
            train_outside_slurm "$WORK/runs/calibration" 2 "$WORK/calibration.out"
            seconds=$(tail -n1 "$WORK/runs/calibration/metrics.jsonl" | python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)["seconds"])')
            epochs=$(python3 -c 'import math,sys; print(min(200, max(8, math.ceil(float(sys.argv[1]) / float(sys.argv[2])))))' "$REF_SECONDS" "$seconds")
            say "calibration: an epoch takes $seconds s on 1 rank: the interrupted runs and the reference train $epochs epochs (~$REF_SECONDS s on 1 rank)"
        fi
        echo "$epochs" >"$WORK/reference-epochs"
    fi
    REF_EPOCHS=$(cat "$WORK/reference-epochs")
    [[ -f $REF_RUN/.complete ]] && return 0
    local t
    t=$(now)
    rm -rf "$REF_RUN"
    say "reference: $REF_EPOCHS epochs on 1 rank, outside Slurm, in $REF_RUN"
    train_outside_slurm "$REF_RUN" "$REF_EPOCHS" "$WORK/reference.out"
    touch "$REF_RUN/.complete"
    say "reference: done in $(elapsed "$t") s ($(tail -n1 "$WORK/reference.out"))"
}

# newest_step RUN: the step of the newest checkpoint-<step>.h5 in RUN (0 if none).
newest_step() {
    local last
    last=$(find "$1" -maxdepth 1 -name 'checkpoint-*.h5' 2>/dev/null | sort | tail -n1)
    [[ -n $last ]] || { echo 0; return; }
    last=${last##*checkpoint-}
    echo $((10#${last%.h5}))
}

# expect_bitwise RUN: RUN's final checkpoint holds the same parameters, Adam moments, random
# state and step as the reference run's checkpoint at that step (Tests/slurm/compare_checkpoints.py).
expect_bitwise() {
    local out
    reference_run
    out=$(python3 "$here/compare_checkpoints.py" "$1" "$REF_RUN") || { echo "$out" >&2; fail_test "not bitwise equal to the uninterrupted run"; }
    [[ $(newest_step "$1") == "$(newest_step "$REF_RUN")" ]] ||
        fail_test "the run ended at step $(newest_step "$1"), the reference at step $(newest_step "$REF_RUN")"
    say "$out"
}

# expect_one_metrics_file RUN EPOCHS: RUN holds exactly one metrics file, metrics.jsonl, with one
# line per epoch 1..EPOCHS in order and no line twice (only rank 0 writes it, never redoes an epoch).
expect_one_metrics_file() {
    local files
    files=$(cd "$1" && find . -name '*metrics*' | sort | tr '\n' ' ')
    [[ $files == "./metrics.jsonl " ]] || fail_test "metrics files in $1: ${files:-none} (expected ./metrics.jsonl only)"
    python3 - "$1/metrics.jsonl" "$2" <<'PY' || fail_test "$1/metrics.jsonl is not one line per epoch (see above)"
import json, sys
path, epochs = sys.argv[1], int(sys.argv[2])
lines = open(path).read().splitlines()
if len(set(lines)) != len(lines):
    sys.exit(f"{path}: duplicated lines")
got = [json.loads(l)["epoch"] for l in lines]
if got != list(range(1, epochs + 1)):
    sys.exit(f"{path}: epochs {got}, expected 1..{epochs} once each")
PY
}
