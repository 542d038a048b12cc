# shellcheck shell=bash
# The Slurm harness's cases on the emulated multi-node cluster (sourced by Tests/slurm/run.sh,
# which starts tools/slurm/start-emulated-cluster.sh before the first of them and puts its
# client wrappers first on PATH). Each job runs the real launcher on 2 nodes x 2 ranks unless
# said otherwise; MPI between the nodes goes over TCP on the namespaces' test subnet.

# mn_train_job NAME [sbatch options] -- [launcher options]: train.sbatch on 2 nodes x 2 tasks.
mn_train_job() { JOB_NODES=2 train_job "$@"; }

# selftest_hosts LOG: the hostnames of the ranks in a `launcher selftest` output, "host:count" sorted.
selftest_hosts() {
    grep -oE '^  rank [0-9]+ of [0-9]+ on [^ ]+' "$1" | awk '{print $NF}' | sort | uniq -c |
        awk '{printf "%s:%s ", $2, $1}'
}

test_multinode_selftest() {
    local job log=$WORK/multinode-selftest.out hosts
    job=$(submit --job-name=eg-mn-selftest --output="$log" --nodes=2 --ntasks-per-node=2 --cpus-per-task=1 \
        --wrap="srun --mpi=pmix $EQUIGLASS_LAUNCHER selftest")
    wait_job "$job" "$log" >/dev/null
    expect_completed "$job" "$log"
    grep -qE '^selftest: all [0-9]+ checks passed on 4 ranks$' "$log" || { cat "$log"; fail_test "launcher selftest did not pass on 4 ranks"; }
    hosts=$(selftest_hosts "$log")
    [[ $hosts == "node1:2 node2:2 " ]] || { cat "$log"; fail_test "ranks on '$hosts', expected 2 on node1 and 2 on node2"; }
    say "multinode_selftest: job $job passed, ranks on $hosts"
    # Without Open MPI's TCP transport the ranks of different nodes cannot reach each other
    # (shared memory works only within a node): the traffic above crossed the namespaces over TCP.
    log=$WORK/multinode-selftest-no-tcp.out
    job=$(export OMPI_MCA_btl=self,vader; submit --job-name=eg-mn-no-tcp --output="$log" --nodes=2 \
        --ntasks-per-node=2 --cpus-per-task=1 --wrap="srun --mpi=pmix $EQUIGLASS_LAUNCHER selftest")
    [[ $(wait_job "$job" "$log") == FAILED ]] || { show_job "$job" "$log"; fail_test "selftest across nodes without TCP did not fail"; }
    say "multinode_selftest: without the TCP transport (OMPI_MCA_btl=self,vader) job $job fails, as it must"
}

test_multinode_bitwise() {
    local name=multinode-bitwise run=$WORK/runs/multinode-bitwise job log
    reference_run
    job=$(mn_train_job "$name" -- --out "$run" --epochs "$REF_EPOCHS")
    log=$WORK/$name-$job.out
    wait_job "$job" "$log" >/dev/null
    expect_completed "$job" "$log"
    [[ $(job_field "$job" Restarts) == 0 ]] || fail_test "job $job restarted without a signal"
    grep -q 'restart 0 on node\[1-2\]: 4 tasks x 1 cpus, srun$' "$log" || { cat "$log"; fail_test "train.sbatch did not start 4 tasks on node[1-2] with srun"; }
    grep -q 'global batch [0-9]* over 4 ranks' "$log" || { cat "$log"; fail_test "the launcher did not train over 4 ranks"; }
    expect_one_metrics_file "$run" "$REF_EPOCHS"
    expect_bitwise "$run"
}

# wait_until SECONDS WHAT COMMAND...: run COMMAND every 0.5 s until it succeeds; fail after SECONDS.
wait_until() {
    local limit=$1 what=$2 start=$SECONDS
    shift 2
    until "$@"; do
        ((SECONDS - start < limit)) || fail_test "$what: not after $limit s"
        sleep 0.5
    done
}

job_requeued() { [[ $(job_field "$1" Restarts) -ge 1 ]] || is_final_state "$(job_field "$1" JobState)"; }
node_state_is() { [[ $(sinfo -h -n "$1" -o %T 2>/dev/null | head -n1) =~ ^($2)$ ]]; }

test_node_failure() {
    local name=node-failure run=$WORK/runs/node-failure job log pids last t0 state resumed epoch_s line
    reference_run
    job=$(mn_train_job "$name" -- --out "$run" --epochs "$REF_EPOCHS")
    log=$WORK/$name-$job.out
    wait_progress "$run/metrics.jsonl" 2 "$job" "$log"
    # Half an epoch later: mid-epoch, well after the checkpoint that followed the metrics line.
    epoch_s=$(tail -n1 "$run/metrics.jsonl" | python3 -c 'import json,sys; print(min(json.load(sys.stdin)["seconds"] / 2, 10))')
    sleep "$epoch_s"
    # node2 dies: its slurmd, the job's slurmstepd and ranks there, all at once (SIGKILL).
    pids=$(eg_node_pids 2 | tr '\n' ' ')
    [[ -n ${pids// } ]] || fail_test "no process in $(eg_node_ns 2)"
    # shellcheck disable=SC2086
    kill -KILL $pids
    t0=$(now)
    say "$name: killed node2 (pids $pids) at step $(newest_step "$run") (newest checkpoint)"
    # The job must not hang: within SlurmdTimeout (and a margin) Slurm declares node2 DOWN and
    # requeues the job (NODE_FAIL with --requeue).
    wait_until $((SLURMD_TIMEOUT + 60)) "job $job requeued after the node failure" job_requeued "$job"
    state=$(job_field "$job" JobState)
    is_final_state "$state" && { show_job "$job" "$log"; fail_test "job $job ended $state instead of being requeued"; }
    last=$(newest_step "$run")
    say "$name: job $job $state, Restarts=$(job_field "$job" Restarts) $(elapsed "$t0") s after the kill; node2 $(sinfo -h -n node2 -o %T); last checkpoint at step $last"
    line=$(grep -iE 'node fail|NODE_FAIL' "$log" | tail -n1 || true)
    [[ -n $line ]] || { cat "$log"; fail_test "no node failure named in $log"; }
    say "$name: the job's log says: $line"
    # The node comes back (its slurmd starts again and registers: ReturnToService=2).
    eg_start_slurmd 2 || fail_test "slurmd of node2 did not start again"
    wait_until 60 "node2 back in service" node_state_is node2 'idle|mixed|allocated'
    wait_job "$job" "$log" >/dev/null
    expect_completed "$job" "$log"
    resumed=$(grep -oE 'resuming from .*: step [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n1 || true)
    [[ $resumed == "$last" ]] || { cat "$log"; fail_test "resumed at step '${resumed}', not from the last checkpoint (step $last)"; }
    say "$name: resumed from the checkpoint at step $resumed; the job completed $(elapsed "$t0") s after the kill"
    expect_one_metrics_file "$run" "$REF_EPOCHS"
    expect_bitwise "$run"
}

test_preempt_partition() {
    local name=preempt-partition run=$WORK/runs/preempt-partition job log high high_log t0 line resumed
    reference_run
    job=$(mn_train_job "$name" --partition=low -- --out "$run" --epochs "$REF_EPOCHS")
    log=$WORK/$name-$job.out
    wait_progress "$run/metrics.jsonl" "$PREEMPT_AFTER" "$job" "$log"
    # A job of the high partition wants the same nodes: Slurm preempts the training.
    high_log=$WORK/$name-high.out
    high=$(submit --job-name=eg-high --partition=high --output="$high_log" --nodes=2 --ntasks-per-node=2 \
        --cpus-per-task=1 --wrap="srun hostname; date +%s.%N >$WORK/high-ran-at")
    t0=$(now)
    say "$name: submitted job $high to partition high while job $job trains"
    wait_until $((GRACE_TIME + 60)) "job $job requeued by the preemption" job_requeued "$job"
    wait_job "$high" "$high_log" >/dev/null
    expect_completed "$high" "$high_log"
    wait_job "$job" "$log" >/dev/null
    expect_completed "$job" "$log"
    line=$(grep -E 'SIGTERM: checkpoint at step [0-9]+' "$log" | head -n1 || true)
    [[ -n $line ]] || { cat "$log"; fail_test "the launcher did not checkpoint on SIGTERM"; }
    say "$name: ${line%% in /*}"
    # Within the grace time: the ranks had ended (train.sbatch's line, with its clock) less than
    # GraceTime after the preempting job was submitted, and Slurm never had to kill them.
    line=$(grep -E 'preempted at .*: checkpointed within the grace time; requeueing job' "$log" | head -n1 || true)
    [[ -n $line ]] || { cat "$log"; fail_test "train.sbatch did not see the preemption"; }
    local ended
    ended=$(date -d "$(echo "$line" | grep -oE '[0-9]{2}:[0-9]{2}:[0-9]{2}' | head -n1)" +%s)
    ((ended - ${t0%.*} < GRACE_TIME)) || fail_test "the ranks ended $((ended - ${t0%.*})) s after the preemption, GraceTime is $GRACE_TIME s"
    say "$name: checkpointed and requeued $((ended - ${t0%.*})) s after the preempting submission (GraceTime $GRACE_TIME s)"
    # The preempting job ran before the training came back.
    local high_end low_start
    high_end=$(date -d "$(job_field "$high" EndTime)" +%s)
    low_start=$(date -d "$(job_field "$job" StartTime)" +%s)
    ((high_end <= low_start)) || fail_test "job $job restarted at $(job_field "$job" StartTime), before job $high ended"
    say "$name: job $high ran $(job_field "$high" StartTime)..$(job_field "$high" EndTime); job $job restarted $(job_field "$job" StartTime), Restarts=$(job_field "$job" Restarts)"
    resumed=$(grep -oE 'resuming from .*: step [0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n1 || true)
    [[ $resumed == "$(grep -oE 'SIGTERM: checkpoint at step [0-9]+' "$log" | head -n1 | grep -oE '[0-9]+$')" ]] ||
        { cat "$log"; fail_test "resumed at step '$resumed', not from the SIGTERM checkpoint"; }
    expect_one_metrics_file "$run" "$REF_EPOCHS"
    expect_bitwise "$run"
}
