#!/usr/bin/env python3
"""Stand-in for `launcher` that follows its Slurm contract, so that the job templates in
slurm/ can be tested before the real trainer exists. Selected by EQUIGLASS_LAUNCHER.

    fake_launcher.py train --data FILE [--validation FILE] --out DIR [--config FILE]
                           [--epochs N] [--global-batch B] [--threads T] [--resume]
    fake_launcher.py evaluate --checkpoint RUN_DIR --data FILE --json

Contract followed (see slurm/README.md):
- `train` runs epochs * FAKE_STEPS_PER_EPOCH steps of FAKE_STEP_SECONDS each. Rank 0 appends
  one JSON line per step to DIR/metrics.jsonl and writes DIR/checkpoint.json (atomically) at
  the end of each epoch.
- SIGUSR1 or SIGTERM: at the next step boundary rank 0 writes the checkpoint, every rank
  exits with status 75 ("checkpointed, resubmit me").
- --resume continues from DIR/checkpoint.json if it exists, else starts from step 0.
- Exit 0 when every step is done; 2 on bad arguments or a missing data file.
Unlike the real launcher there is no MPI: each rank learns its rank from the environment
(mpirun, PMIx or Slurm) and only rank 0 writes files.
"""
import argparse
import json
import os
import signal
import sys
import time

EX_TEMPFAIL = 75


def rank_and_size():
    for r, s in (("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
                 ("PMIX_RANK", "SLURM_STEP_NUM_TASKS"),
                 ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS")):
        if r in os.environ:
            return int(os.environ[r]), int(os.environ.get(s, "1"))
    return 0, 1


def say(rank, text):
    print(f"[fake-launcher rank {rank}] {text}", flush=True)


def write_json_atomically(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def train(args):
    rank, size = rank_and_size()
    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signal.Signals(signum).name

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    if not os.path.isfile(args.data):
        print(f"fake-launcher: error: training data '{args.data}' does not exist", file=sys.stderr)
        return 2
    steps_per_epoch = int(os.environ.get("FAKE_STEPS_PER_EPOCH", "10"))
    step_seconds = float(os.environ.get("FAKE_STEP_SECONDS", "0.2"))
    total = args.epochs * steps_per_epoch
    checkpoint = os.path.join(args.out, "checkpoint.json")
    metrics = os.path.join(args.out, "metrics.jsonl")

    step = 0
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        if os.path.exists(checkpoint):
            if not args.resume:
                print(f"fake-launcher: error: {checkpoint} exists; pass --resume to continue it",
                      file=sys.stderr)
                return 2
            with open(checkpoint) as f:
                step = json.load(f)["step"]
            say(rank, f"resumed from {checkpoint} at step {step}")
        else:
            say(rank, "no checkpoint, starting at step 0")
    else:
        # Without MPI the other ranks wait for rank 0's checkpoint decision through the file.
        time.sleep(0.1)
        if args.resume and os.path.exists(checkpoint):
            with open(checkpoint) as f:
                step = json.load(f)["step"]
    say(rank, f"rank {rank} of {size} threads omp={os.environ.get('OMP_NUM_THREADS')} "
              f"openblas={os.environ.get('OPENBLAS_NUM_THREADS')} option={args.threads} "
              f"restart={os.environ.get('SLURM_RESTART_COUNT', '0')}")

    while step < total:
        if stop["signal"]:
            if rank == 0:
                write_json_atomically(checkpoint, {"step": step})
                say(rank, f"{stop['signal']}: checkpointed at step {step}, exiting {EX_TEMPFAIL}")
            else:
                # The real launcher exits only after a barrier that follows rank 0's checkpoint:
                # mpirun kills the other ranks as soon as one exits non-zero. Emulate the barrier.
                since = time.time()
                while time.time() - since < 10:
                    if os.path.exists(checkpoint) and os.path.getmtime(checkpoint) >= since - 1:
                        break
                    time.sleep(0.05)
            return EX_TEMPFAIL
        time.sleep(step_seconds)
        step += 1
        if rank == 0:
            with open(metrics, "a") as f:
                f.write(json.dumps({"step": step, "epoch": (step - 1) // steps_per_epoch + 1,
                                    "loss": 1.0 / step, "ranks": size}) + "\n")
            if step % steps_per_epoch == 0:
                write_json_atomically(checkpoint, {"step": step})
    if rank == 0:
        write_json_atomically(checkpoint, {"step": step})
        say(rank, f"training complete at step {step}")
    return 0


def evaluate(args):
    checkpoint = os.path.join(args.checkpoint, "checkpoint.json")
    if not os.path.isfile(checkpoint):
        print(f"fake-launcher: error: no checkpoint in '{args.checkpoint}'", file=sys.stderr)
        return 2
    if not os.path.isfile(args.data):
        print(f"fake-launcher: error: data '{args.data}' does not exist", file=sys.stderr)
        return 2
    with open(checkpoint) as f:
        step = json.load(f)["step"]
    result = {"checkpoint": args.checkpoint, "data": args.data, "step": step,
              "energy_mae": 1.0 / max(step, 1)}
    print(json.dumps(result) if args.json else f"step {step}")
    return 0


def main():
    parser = argparse.ArgumentParser(prog="fake_launcher.py")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", required=True)
    t.add_argument("--validation")
    t.add_argument("--out", required=True)
    t.add_argument("--config")
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--global-batch", type=int, default=8)
    t.add_argument("--threads", type=int)
    t.add_argument("--resume", action="store_true")
    e = sub.add_parser("evaluate")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data", required=True)
    e.add_argument("--json", action="store_true")
    args = parser.parse_args()
    return train(args) if args.command == "train" else evaluate(args)


if __name__ == "__main__":
    sys.exit(main())
