#!/usr/bin/env python3
"""Bitwise comparison of two training runs' checkpoints, for the Slurm harness.

    python3 Tests/slurm/compare_checkpoints.py RUN REFERENCE

RUN's newest checkpoint (a run directory's checkpoint-<step>.h5 with the highest step, or a
file) is compared with REFERENCE's checkpoint of the same step (REFERENCE: a run directory
that keeps the checkpoints of every epoch, or a file). Equal means: the same step, epoch and
batch in the epoch, and the parameters, Adam moments (adam_m, adam_v) and random-source state
with the same bytes (float32 bit patterns: -0.0 differs from 0.0, a NaN from another NaN).
The configuration, metadata and timestamps are not compared (the command line and the number
of ranks differ between runs by design). Prints one line; exit 0 if equal, 1 if not, 2 if a
checkpoint is missing. See Sources/GlassData/Checkpoint.swift for the layout.
"""
import glob
import os
import sys

import h5py
import numpy as np

ARRAYS = ("parameters", "adam_m", "adam_v", "rng_state")
COUNTERS = ("step", "epoch", "batch_in_epoch")


def newest(path):
    if os.path.isfile(path):
        return path
    files = sorted(glob.glob(os.path.join(path, "checkpoint-*.h5")))
    if not files:
        sys.exit(f"compare_checkpoints: no checkpoint-*.h5 in {path}")
    return files[-1]


def load(path):
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") not in ("equiglass-checkpoint", b"equiglass-checkpoint"):
            sys.exit(f"compare_checkpoints: {path} is not an EquiGlass checkpoint")
        counters = {k: int(f.attrs[k]) for k in COUNTERS}
        arrays = {k: np.asarray(f[k][()]) for k in ARRAYS}
    return counters, arrays


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    run = newest(sys.argv[1])
    counters, arrays = load(run)
    reference = sys.argv[2]
    if os.path.isdir(reference):
        reference = os.path.join(reference, f"checkpoint-{counters['step']:09d}.h5")
    if not os.path.isfile(reference):
        print(f"compare_checkpoints: the reference has no checkpoint at step {counters['step']} ({reference})")
        sys.exit(2)
    ref_counters, ref_arrays = load(reference)
    problems = [f"{k} {counters[k]} vs {ref_counters[k]}" for k in COUNTERS if counters[k] != ref_counters[k]]
    for k in ARRAYS:
        a, b = arrays[k], ref_arrays[k]
        if a.dtype != b.dtype or a.shape != b.shape:
            problems.append(f"{k}: {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}")
        elif a.tobytes() != b.tobytes():
            differ = a.view(np.uint8).reshape(a.size, -1) != b.view(np.uint8).reshape(b.size, -1)
            count = int(differ.any(axis=1).sum())
            worst = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.dtype.kind == "f" else None
            problems.append(f"{k}: {count} of {a.size} values differ" + (f" (largest difference {worst:.3g})" if worst is not None else ""))
    where = f"{os.path.basename(run)} vs {reference}"
    if problems:
        print(f"NOT bitwise equal: {where}: " + "; ".join(problems))
        sys.exit(1)
    n = arrays["parameters"].size
    print(f"bitwise equal: {where}: step {counters['step']}, {n} parameters, adam_m, adam_v, rng_state")


if __name__ == "__main__":
    main()
