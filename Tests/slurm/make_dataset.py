#!/usr/bin/env python3
"""A small synthetic Kob-Andersen-like snapshot file for the Slurm harness (seconds to write).

Jittered cubic lattice at density 1.2, 80 % species A, propensity that grows with time and
depends on the local coordination (so a network has something to learn), an epot_inherent
scalar. Written with tools/lammps_to_h5.py's writer (the EquiGlass snapshot format).

    python3 Tests/slurm/make_dataset.py OUT.h5 [--snapshots 16] [--particles 125] [--seed 1]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from lammps_to_h5 import write_snapshot_file  # noqa: E402

TIMES = [0.1, 0.5, 2.0, 5.0, 12.0, 30.0]


def snapshot(rng, particles):
    cells = int(np.ceil(particles ** (1 / 3)))
    edge = (particles / 1.2) ** (1 / 3)
    a = edge / cells
    grid = np.array([(i // (cells * cells), (i // cells) % cells, i % cells) for i in range(particles)], float)
    positions = (grid + 0.5 + 0.3 * rng.uniform(-1, 1, grid.shape)) * a
    species = (rng.uniform(size=particles) >= 0.8).astype(np.int32)
    d = positions[:, None, :] - positions[None, :, :]
    d -= edge * np.round(d / edge)
    r2 = (d ** 2).sum(-1)
    z = (r2 < 1.69).sum(1) - 1
    propensity = np.array([np.sqrt(t) * (0.3 + 0.02 * (z - 12)) for t in TIMES]).T
    propensity += 0.02 * rng.uniform(size=propensity.shape)
    return {"positions": positions, "species": species, "box": [edge] * 3,
            "positions_inherent": positions + 0.01 * rng.uniform(-0.5, 0.5, positions.shape),
            "propensity": propensity.astype(np.float32),
            "scalars": {"epot_inherent": -6 + rng.uniform(size=particles) - 0.05 * (z - 12)}}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--snapshots", type=int, default=16)
    p.add_argument("--particles", type=int, default=125)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    snapshots = [snapshot(rng, args.particles) for _ in range(args.snapshots)]
    write_snapshot_file(args.out, snapshots, temperature=0.6, times=TIMES, source="synthetic (Tests/slurm/make_dataset.py)")


if __name__ == "__main__":
    main()
