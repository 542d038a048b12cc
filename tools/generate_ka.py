#!/usr/bin/env python3
"""Generate Kob–Andersen propensity data with LAMMPS and write EquiGlass snapshot files.

Physics (Kob & Andersen 1995; iso-configurational ensemble of Widmer-Cooper & Harrowell 2004):
  * KA 80:20 binary Lennard-Jones, eps/sigma AA 1/1, AB 1.5/0.8, BB 0.5/0.88, cut-off 2.5 sigma_ab,
    shifted; masses 1; number density 1.2 (default); time step 0.005.
  * --trajectories M independent trajectories, one LAMMPS process each (tools/lammps/equilibrate.in):
    random start, soft-potential push-off, minimisation, melt at --melt-temperature, quench to T,
    Nose-Hoover NVT for --equilibration tau_alpha, then one configuration every --spacing tau_alpha
    of the NVT run. Trajectory j gives configurations (j-1) S/M + 1 .. j S/M.
  * Per configuration, one LAMMPS process (tools/lammps/propensity.in): the inherent structure
    (conjugate-gradient minimisation to |F| < 1e-10) with the per-particle potential energy, then
    --runs NVE runs from the same positions with fresh Maxwell–Boltzmann velocities at T (zero total
    momentum, seeds seed0+1 .. seed0+runs), recording |r_i(t) - r_i(0)| (unwrapped) at the grid.
    propensity_i(t) = mean over runs.

Output, layout of docs/data-format.md:
  * without --part-size: PREFIX-train.h5 and PREFIX-test.h5 (the last round(S * test_fraction)
    configurations are held out);
  * with --part-size B: PREFIX-part-001.h5, PREFIX-part-002.h5, ... , configurations 1..B, B+1..2B,
    ..., each a valid snapshot file, each written as soon as its configurations are done.

Scheduling: --jobs lmp processes at a time; a free job takes the lowest-numbered configuration whose
equilibrated positions exist, and otherwise starts the next trajectory, so equilibration and
propensity runs overlap and parts finish in order.

Cost: before it starts, the generator measures this machine's MD rate (a 3000-step run, about
2 s) and prints the estimated core-hours and wall time at --jobs; while it runs, progress and ETA.

Resumable: everything lives in --work; finished configurations are kept as snap_<k>.npz (and,
with --part-size, in the parts written) and skipped when the command is run again with the same physical parameters (a params.json in the
work folder guards against mixing); an interrupted trajectory is run again from its start (the
same seeds give the same configurations). Progress lines go to stdout.

Examples (the bundled data sets, see data/README.md):
  python3 tools/generate_ka.py --temperature 0.6 --particles 1000 --snapshots 40 --runs 32 \\
      --times 0.1,0.3,0.5,1,2,5,12,30 --tau-alpha 12 --seed 1 --jobs 2 \\
      --work /work/gen-work/T0.60 --out data/ka-N1000-T0.60 --test-fraction 0.2
  python3 tools/generate_ka.py --temperature 0.6 --particles 1000 --snapshots 256 --trajectories 8 \\
      --runs 8 --times 0.1,0.3,0.5,1,2,5,12,30 --tau-alpha 12 --seed 3 --jobs 2 --part-size 32 \\
      --test-fraction 0 --work /work/gen-work/T0.60-large --out data/ka-N1000-T0.60-large/part
"""

import argparse
import datetime
import heapq
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import re
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lammps_to_h5 as lio  # noqa: E402

LAMMPS_DIR = os.path.join(HERE, "lammps")
GENERATOR_VERSION = "1"          # the numbers of a trajectory-1 configuration are unchanged since 1
PROPENSITY_DEFINITION = ("mean over iso-configurational NVE runs of |r_i(t) - r_i(0)| (unwrapped), "
                         "fresh Maxwell-Boltzmann velocities at T (zero total momentum)")


# ----------------------------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--temperature", type=float, required=True,
                   help="temperature T of the equilibration and of the fresh velocities (LJ units)")
    p.add_argument("--particles", type=int, default=1000,
                   help="number of particles N; 80%% A, 20%% B (default 1000)")
    p.add_argument("--density", type=float, default=1.2, help="number density N/V (default 1.2)")
    p.add_argument("--snapshots", type=int, required=True,
                   help="number of configurations S taken from the NVT trajectory")
    p.add_argument("--trajectories", type=int, default=1,
                   help="independent equilibrated trajectories M, run in parallel; each gives S/M "
                        "configurations (default 1)")
    p.add_argument("--runs", type=int, default=32,
                   help="iso-configurational NVE runs per configuration (default 32)")
    p.add_argument("--times", required=True,
                   help="comma-separated time grid in tau_LJ, strictly increasing, multiples of --dt")
    p.add_argument("--tau-alpha", type=float, required=True,
                   help="structural relaxation time at T (tau_LJ); sets equilibration and spacing")
    p.add_argument("--equilibration", type=float, default=20.0,
                   help="NVT equilibration length in units of tau_alpha (default 20)")
    p.add_argument("--spacing", type=float, default=2.0,
                   help="NVT time between configurations in units of tau_alpha (default 2)")
    p.add_argument("--melt-temperature", type=float, default=2.0, help="melt temperature (default 2.0)")
    p.add_argument("--melt-time", type=float, default=20.0, help="melt duration, tau_LJ (default 20)")
    p.add_argument("--quench-time", type=float, default=10.0,
                   help="linear NVT ramp from the melt to T, tau_LJ (default 10)")
    p.add_argument("--dt", type=float, default=0.005, help="MD time step (default 0.005)")
    p.add_argument("--seed", type=int, required=True,
                   help="master seed (1..2000); all LAMMPS seeds derive from it and are distinct")
    p.add_argument("--jobs", type=int, default=1,
                   help="lmp processes at once (equilibrations and configurations; default 1)")
    p.add_argument("--work", required=True,
                   help="work folder (kept; holds per-configuration .npz results for resuming)")
    p.add_argument("--out", required=True,
                   help="output prefix: writes PREFIX-train.h5 and PREFIX-test.h5, or with "
                        "--part-size PREFIX-part-001.h5, ...")
    p.add_argument("--part-size", type=int, default=0,
                   help="write the output in parts of this many configurations, each as soon as "
                        "it is done (needs --test-fraction 0; default 0: train and test files)")
    p.add_argument("--rate", type=float, default=0.0,
                   help="MD steps per second of one lmp process for the cost estimate (default: "
                        "measured by a 3000-step run before starting)")
    p.add_argument("--test-fraction", type=float, default=0.2,
                   help="fraction of configurations held out (the last ones of the trajectory; "
                        "default 0.2; 0 writes only PREFIX-train.h5)")
    p.add_argument("--lmp", default="lmp", help="LAMMPS binary (default: lmp on PATH)")
    p.add_argument("--keep-dumps", action="store_true",
                   help="keep the LAMMPS dumps of finished configurations (default: deleted once "
                        "the .npz is written)")
    p.add_argument("--quiet", action="store_true", help="only one progress line per configuration")
    a = p.parse_args(argv)

    try:
        a.time_grid = [float(t) for t in a.times.split(",") if t.strip()]
    except ValueError:
        p.error(f"--times: not a comma-separated list of numbers: {a.times!r}")
    if not a.time_grid or any(t <= 0 for t in a.time_grid) or any(
            b <= c for b, c in zip(a.time_grid[1:], a.time_grid[:-1])):
        p.error("--times must be positive and strictly increasing")
    a.grid_steps = [int(round(t / a.dt)) for t in a.time_grid]
    for t, s in zip(a.time_grid, a.grid_steps):
        if s < 1 or abs(s * a.dt - t) > 1e-9 * max(1.0, t):
            p.error(f"--times: {t} is not a positive multiple of dt = {a.dt}")
    if a.particles < 10:
        p.error("--particles must be at least 10")
    if not (1 <= a.snapshots <= 998):
        p.error("--snapshots must be in 1..998")
    if not (1 <= a.runs <= 999):
        p.error("--runs must be in 1..999")
    if not (1 <= a.seed <= 2000):
        p.error("--seed must be in 1..2000 (LAMMPS seeds must stay below 2^31)")
    if a.jobs < 1:
        p.error("--jobs must be >= 1")
    if a.trajectories < 1 or a.snapshots % a.trajectories:
        p.error(f"--snapshots ({a.snapshots}) must be a multiple of --trajectories ({a.trajectories})")
    if a.trajectories > 99:
        p.error("--trajectories must be at most 99 (their seeds must stay distinct from the runs')")
    if a.part_size < 0 or (a.part_size and a.test_fraction):
        p.error("--part-size needs --test-fraction 0 (the parts are the output)")
    if not (0.0 <= a.test_fraction < 1.0):
        p.error("--test-fraction must be in [0, 1)")
    if a.temperature <= 0 or a.tau_alpha <= 0 or a.density <= 0:
        p.error("--temperature, --tau-alpha and --density must be positive")
    return a


def physical_parameters(a):
    """Everything that determines the numbers in the work folder (checked on resume)."""
    return {
        "generator_version": GENERATOR_VERSION,
        "temperature": a.temperature, "particles": a.particles, "density": a.density,
        "snapshots": a.snapshots, "trajectories": a.trajectories, "runs": a.runs, "times": a.time_grid, "tau_alpha": a.tau_alpha,
        "equilibration_tau_alpha": a.equilibration, "spacing_tau_alpha": a.spacing,
        "melt_temperature": a.melt_temperature, "melt_time": a.melt_time,
        "quench_time": a.quench_time, "dt": a.dt, "seed": a.seed,
    }


def steps(t, dt):
    return max(1, int(round(t / dt)))


def equilibration_seed(a, j=1):
    """Trajectory j (1-based) seeds its LAMMPS process with this (and +1, +2 inside equilibrate.in);
    below seed * 1e6 + 1e6, above every run seed."""
    return a.seed * 1_000_000 + 999_001 + 10 * (j - 1)


def per_trajectory(a):
    return a.snapshots // a.trajectories


def trajectory_of(a, k):
    """(trajectory j, position within it) of configuration k, both 1-based."""
    return (k - 1) // per_trajectory(a) + 1, (k - 1) % per_trajectory(a) + 1


def run_seed0(a, k):
    """Run r (1-based) of configuration k (1-based) uses velocity seed run_seed0 + r."""
    return a.seed * 1_000_000 + k * 1000


def next_dump_expression(grid_steps):
    """Equal-style LAMMPS formula giving the next grid step after the current `step`."""
    terms = [f"(step<{grid_steps[0]})*{grid_steps[0]}"]
    for prev, nxt in zip(grid_steps[:-1], grid_steps[1:]):
        terms.append(f"(step>={prev}&&step<{nxt})*{nxt}")
    terms.append(f"(step>={grid_steps[-1]})*2000000000")
    return "+".join(terms)


def lammps_version(lmp):
    try:
        out = subprocess.run([lmp, "-h"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as e:
        sys.exit(f"generate_ka: cannot run LAMMPS binary {lmp!r}: {e}")
    for line in out.splitlines():
        if "Large-scale Atomic/Molecular Massively Parallel Simulator" in line:
            return line.split(" - ", 1)[1].strip() if " - " in line else line.strip()
    return "unknown"


def git_revision():
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def hms(seconds):
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# Steps of the N-particle system that a minimisation to |F| < 1e-10 costs, as force evaluations
# (measured on T = 0.6 configurations of N = 1000: 1,800-3,500 for the inherent structure).
MINIMISATION_STEPS = 3000
SOFT_PUSH_STEPS = 2000      # equilibrate.in's push-off run


def trajectory_steps(a):
    """MD steps of one trajectory: push-off, melt, quench, equilibration, S/M gaps."""
    return (SOFT_PUSH_STEPS + MINIMISATION_STEPS // 10 + steps(a.melt_time, a.dt)
            + steps(a.quench_time, a.dt) + steps(a.equilibration * a.tau_alpha, a.dt)
            + per_trajectory(a) * steps(a.spacing * a.tau_alpha, a.dt))


def configuration_steps(a):
    """MD steps of one configuration: the inherent structure and the iso-configurational runs."""
    return MINIMISATION_STEPS + a.runs * a.grid_steps[-1]


def measure_rate(a):
    """MD steps per second of one lmp process on this machine, from a 3000-step NVE run."""
    d = os.path.join(a.work, "calibrate")
    os.makedirs(d, exist_ok=True)
    n_a = int(round(0.8 * a.particles))
    var = {"NA": n_a, "NB": a.particles - n_a, "L": repr(box_length(a)), "T": repr(a.temperature),
           "seed": equilibration_seed(a), "nsteps": 3000,
           "pairfile": os.path.join(LAMMPS_DIR, "ka_pair.in")}
    run_lammps(a, "calibrate.in", d, var, "log.lammps")
    with open(os.path.join(d, "log.lammps")) as f:
        loops = re.findall(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", f.read())
    seconds, count = float(loops[-1][0]), int(loops[-1][1])
    return count / seconds


class Progress:
    """Thread-safe progress lines with the ETA from the MD steps done so far in this run."""

    def __init__(self, a, total_steps):
        self.a, self.total_steps, self.done_steps = a, total_steps, 0
        self.start = time.time()
        self.lock = threading.Lock()

    def say(self, text):
        with self.lock:
            print(f"[{hms(time.time() - self.start)}] {text}", flush=True)

    def advance(self, md_steps, text=None):
        with self.lock:
            self.done_steps += md_steps
            elapsed = time.time() - self.start
            eta = elapsed / self.done_steps * max(0, self.total_steps - self.done_steps)
            if text is not None:
                print(f"[{hms(elapsed)}] {text} | {100 * self.done_steps / self.total_steps:.1f}% "
                      f"of {self.total_steps / 1e6:.2f} M steps | ETA {hms(eta)}", flush=True)


def run_lammps(a, script, workdir, variables, logname, on_line=None):
    """Run one lmp process in `workdir`; raise with the log's last lines on failure."""
    cmd = [a.lmp, "-in", os.path.join(LAMMPS_DIR, script), "-log", os.path.join(workdir, logname),
           "-echo", "none", "-nocite"]
    for k, v in variables.items():
        cmd += ["-var", k, str(v)]
    with open(os.path.join(workdir, "command.txt"), "w") as f:
        f.write(shlex.join(cmd) + "\n")
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    tail = []
    for line in proc.stdout:
        tail = (tail + [line.rstrip()])[-20:]
        if on_line is not None and line.startswith("EQG "):
            on_line(line.split()[1:])
    rc = proc.wait()
    if rc != 0 or any(l.startswith("ERROR") for l in tail):
        raise RuntimeError(f"LAMMPS {script} failed in {workdir} (exit {rc}):\n  " + "\n  ".join(tail))


# ----------------------------------------------------------------------------------------------
# Stage 1: equilibrated configurations
# ----------------------------------------------------------------------------------------------

def box_length(a):
    return (a.particles / a.density) ** (1.0 / 3.0)


def equilibration_dir(a, j):
    return os.path.join(a.work, "equil" if a.trajectories == 1 else f"equil_{j}")


def configuration_data(a, k):
    j, i = trajectory_of(a, k)
    return os.path.join(equilibration_dir(a, j), f"snap_{i}.data")


def equilibrate(a, j, progress, on_configuration):
    """Run trajectory j from its random start; on_configuration(k) as each configuration is written.
    A trajectory interrupted earlier runs again from its start (same seeds, same configurations)."""
    d = equilibration_dir(a, j)
    first = (j - 1) * per_trajectory(a)
    if os.path.exists(os.path.join(d, "done")):
        progress.say(f"trajectory {j}/{a.trajectories}: equilibrated configurations found in {d}")
        for i in range(1, per_trajectory(a) + 1):
            on_configuration(first + i)
        return
    os.makedirs(d, exist_ok=True)
    n_a = int(round(0.8 * a.particles))
    gap = steps(a.spacing * a.tau_alpha, a.dt)
    var = {
        "NA": n_a, "NB": a.particles - n_a, "L": repr(box_length(a)),
        "T": repr(a.temperature), "Tmelt": repr(a.melt_temperature), "seed": equilibration_seed(a, j),
        "melt_steps": steps(a.melt_time, a.dt), "quench_steps": steps(a.quench_time, a.dt),
        "equil_steps": steps(a.equilibration * a.tau_alpha, a.dt), "gap_steps": gap,
        "nsnap": per_trajectory(a), "outdir": d, "pairfile": os.path.join(LAMMPS_DIR, "ka_pair.in"),
    }
    progress.say(f"trajectory {j}/{a.trajectories}: started (log {d}/log.lammps)")

    def on_line(words):
        if words and words[0] == "snapshot":
            i = int(words[1])
            progress.advance(gap, f"trajectory {j}/{a.trajectories}: configuration {first + i} written")
            on_configuration(first + i)
        elif words and words[0] == "equilibrated":
            progress.advance(trajectory_steps(a) - per_trajectory(a) * gap,
                             f"trajectory {j}/{a.trajectories}: equilibrated")

    run_lammps(a, "equilibrate.in", d, var, "log.lammps", on_line)
    for i in range(1, per_trajectory(a) + 1):
        if not os.path.exists(os.path.join(d, f"snap_{i}.data")):
            raise RuntimeError(f"trajectory {j} finished but {d}/snap_{i}.data is missing")
    with open(os.path.join(d, "done"), "w") as f:
        f.write("ok\n")


# ----------------------------------------------------------------------------------------------
# Stage 2: inherent structure + iso-configurational runs, one lmp process per configuration
# ----------------------------------------------------------------------------------------------

def npz_path(a, k):
    return os.path.join(a.work, f"snap_{k}.npz")


def propensity_for(a, k, progress):
    d = os.path.join(a.work, f"snap_{k}")
    if os.path.isdir(d):
        shutil.rmtree(d)  # a killed earlier attempt: start this configuration afresh
    os.makedirs(d)
    data = configuration_data(a, k)
    seed0 = run_seed0(a, k)
    var = {
        "data": data, "T": repr(a.temperature), "seed0": seed0, "nruns": a.runs,
        "nsteps": a.grid_steps[-1], "nextexpr": next_dump_expression(a.grid_steps),
        "outdir": d, "pairfile": os.path.join(LAMMPS_DIR, "ka_pair.in"),
    }

    def on_line(words):
        if len(words) >= 2 and words[0] == "run":
            r = int(words[1])
            text = None if a.quiet and r < a.runs else f"configuration {k}/{a.snapshots} run {r}/{a.runs}"
            progress.advance(a.grid_steps[-1], text)
        elif words[:2] == ["inherent", "done"]:
            progress.advance(MINIMISATION_STEPS)

    run_lammps(a, "propensity.in", d, var, "log.lammps", on_line)
    result = collect(a, k, d, data, seed0)
    tmp = npz_path(a, k) + ".tmp.npz"
    np.savez(tmp, **result)
    os.replace(tmp, npz_path(a, k))
    if not a.keep_dumps:
        for name in os.listdir(d):
            if name.endswith(".dump"):
                os.remove(os.path.join(d, name))
    mean = result["propensity"].mean(axis=1)   # over particles, per time
    progress.say(f"configuration {k}/{a.snapshots} done: mean propensity "
                 + " ".join(f"{t:g}:{m:.3f}" for t, m in zip(a.time_grid, mean)))


def collect(a, k, d, data_path, seed0):
    """Parse the dumps of configuration k into arrays (checked: ids, counts, timesteps, finiteness)."""
    conf = lio.read_lammps_data(data_path)
    ids, n = conf["ids"], len(conf["ids"])
    box = conf["hi"] - conf["lo"]

    thermal = lio.read_lammps_dump(os.path.join(d, "thermal.dump"))[-1]
    inherent = lio.read_lammps_dump(os.path.join(d, "inherent.dump"))[-1]
    for name, fr in (("thermal", thermal), ("inherent", inherent)):
        if not np.array_equal(fr["columns"]["id"].astype(np.int64), ids):
            raise RuntimeError(f"{d}/{name}.dump: atom ids differ from {data_path}")
    positions = lio.origin_zero(conf["positions"], conf["lo"])   # full precision of write_data
    if not np.allclose(positions, lio.origin_zero(lio.dump_positions(thermal), conf["lo"]), atol=1e-12):
        raise RuntimeError(f"{d}/thermal.dump: positions differ from {data_path}")
    inherent_pos = lio.origin_zero(lio.dump_positions(inherent), conf["lo"])
    epot = inherent["columns"]["c_pe"]

    disp = np.empty((a.runs, len(a.grid_steps), n), dtype=np.float32)
    for r in range(1, a.runs + 1):
        path = os.path.join(d, f"run_{r}.dump")
        frames = lio.read_lammps_dump(path)
        got = [fr["timestep"] for fr in frames]
        if got != a.grid_steps:
            raise RuntimeError(f"{path}: dumped timesteps {got}, expected {a.grid_steps}")
        for j, fr in enumerate(frames):
            if not np.array_equal(fr["columns"]["id"].astype(np.int64), ids):
                raise RuntimeError(f"{path}: atom ids at step {fr['timestep']} differ from {data_path}")
            disp[r - 1, j] = fr["columns"]["c_disp[4]"]
    if not (np.all(np.isfinite(disp)) and np.all(np.isfinite(epot)) and np.all(np.isfinite(inherent_pos))):
        raise RuntimeError(f"{d}: non-finite values in the LAMMPS output")
    return {
        "ids": ids, "species": (conf["types"] - 1).astype(np.int32), "box": box,
        "positions": positions, "images": conf["images"],
        "positions_inherent": inherent_pos, "epot_inherent": epot,
        "times": np.array(a.time_grid), "grid_steps": np.array(a.grid_steps),
        "displacements": disp,                         # [runs, T, N], |dr| of each run
        "propensity": disp.mean(axis=0),               # [T, N]
        "seeds": seed0 + np.arange(1, a.runs + 1),
    }


# ----------------------------------------------------------------------------------------------
# Stage 3: HDF5 files
# ----------------------------------------------------------------------------------------------

def provenance_base(a, lmp_version):
    return {
        "command": shlex.join([sys.executable] + sys.argv),
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "seed": a.seed,
        "equilibration_seeds": [equilibration_seed(a, j) for j in range(1, a.trajectories + 1)],
        "generator": "tools/generate_ka.py",
        "generator_version": GENERATOR_VERSION,
        "git_revision": git_revision(),
        "lammps_version": lmp_version,
        "lammps_inputs": ["tools/lammps/ka_pair.in", "tools/lammps/equilibrate.in",
                          "tools/lammps/propensity.in"],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "parameters": physical_parameters(a),
        "model": "Kob-Andersen 80:20, eps AA/AB/BB 1/1.5/0.5, sigma 1/0.8/0.88, rc 2.5 sigma, shifted, m=1",
        "inherent_structure": "LAMMPS minimize cg, etol 0, ftol 1e-10; scalars/epot_inherent = compute pe/atom",
    }


def write_file(a, path, ks, base, split):
    """One snapshot file of configurations ks (from their .npz), written atomically."""
    snaps, seeds = [], {}
    for k in ks:
        z = np.load(npz_path(a, k))
        if not np.allclose(z["times"], a.time_grid):
            sys.exit(f"generate_ka: {npz_path(a, k)} has another time grid")
        snaps.append({
            "positions": z["positions"], "species": z["species"], "box": z["box"],
            "positions_inherent": z["positions_inherent"],
            "propensity": z["propensity"].T.astype(np.float32),   # [N, T]
            "scalars": {"epot_inherent": z["epot_inherent"]},
        })
        seeds[str(k)] = [int(z["seeds"][0]), int(z["seeds"][-1])]
    trajectories = sorted({trajectory_of(a, k)[0] for k in ks})
    prov = dict(base, split=split, trajectory_snapshots=ks, trajectories_used=trajectories,
                velocity_seed_ranges=seeds)
    lio.write_snapshot_file(
        path, snaps, a.temperature, times=a.time_grid, propensity_runs=a.runs,
        propensity_definition=PROPENSITY_DEFINITION, source="lammps-generator", provenance=prov)


def parts(a):
    """(path, configurations) of each part: blocks of --part-size configurations, in order."""
    blocks = range(1, a.snapshots + 1, a.part_size)
    return [(f"{a.out}-part-{b // a.part_size + 1:03d}.h5",
             list(range(b, min(b + a.part_size, a.snapshots + 1)))) for b in blocks]


def write_finished_parts(a, base, progress):
    """Write every part whose configurations are all done and that is not written yet."""
    for path, ks in parts(a):
        if not os.path.exists(path) and all(os.path.exists(npz_path(a, k)) for k in ks):
            write_file(a, path, ks, base, split=f"part {os.path.basename(path)}")
            progress.say(f"wrote {path} (configurations {ks[0]}-{ks[-1]}, "
                         f"{os.path.getsize(path) / 1e6:.2f} MB)")


def write_train_test(a, base, progress):
    n_test = int(round(a.snapshots * a.test_fraction))
    n_train = a.snapshots - n_test
    if n_train < 1:
        sys.exit("generate_ka: --test-fraction leaves no training snapshots")
    splits = [("train", list(range(1, n_train + 1)))]
    if n_test:
        splits.append(("test", list(range(n_train + 1, a.snapshots + 1))))
    for name, ks in splits:
        path = f"{a.out}-{name}.h5"
        write_file(a, path, ks, base, split=name)
        progress.say(f"wrote {path} ({len(ks)} snapshots, {os.path.getsize(path) / 1e6:.2f} MB)")


class Scheduler:
    """Hands the next task to a free job: the lowest-numbered configuration whose positions exist,
    else the next trajectory that a configuration still to do needs."""

    def __init__(self, a, todo):
        self.ready, self.todo = [], set(todo)
        self.trajectories = sorted({trajectory_of(a, k)[0] for k in todo})
        self.running_trajectories = 0
        self.failures = []
        self.cv = threading.Condition()

    def configuration_written(self, k):
        with self.cv:
            if k in self.todo:
                heapq.heappush(self.ready, k)
                self.cv.notify_all()

    def next_task(self):
        with self.cv:
            while True:
                if self.ready:
                    return ("configuration", heapq.heappop(self.ready))
                if self.trajectories:
                    self.running_trajectories += 1
                    return ("trajectory", self.trajectories.pop(0))
                if self.running_trajectories == 0:
                    return None
                self.cv.wait()

    def finished(self, task, error):
        with self.cv:
            if task[0] == "trajectory":
                self.running_trajectories -= 1
            if error is not None:
                self.failures.append((task, error))
            self.cv.notify_all()


def run_all(a, todo, progress, on_done):
    scheduler = Scheduler(a, todo)

    def job():
        while (task := scheduler.next_task()) is not None:
            kind, n = task
            try:
                if kind == "trajectory":
                    equilibrate(a, n, progress, scheduler.configuration_written)
                else:
                    propensity_for(a, n, progress)
                    on_done(n)
                error = None
            except Exception as e:  # report, keep the others going; a rerun resumes
                error = e
                progress.say(f"{kind} {n} FAILED: {e}")
            scheduler.finished(task, error)

    threads = [threading.Thread(target=job) for _ in range(a.jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    missing = sorted(k for k in todo if not os.path.exists(npz_path(a, k)))
    if missing:
        sys.exit(f"generate_ka: configurations {missing[:10]}{' ...' if len(missing) > 10 else ''} "
                 f"({len(missing)}) not done; rerun the same command to retry them (finished ones "
                 f"are kept in {a.work})")


def estimate(a, todo, rate):
    """MD steps still to do and their cost: core-hours, and wall time at --jobs."""
    trajectories = {trajectory_of(a, k)[0] for k in todo}
    unfinished = [j for j in trajectories
                  if not os.path.exists(os.path.join(equilibration_dir(a, j), "done"))]
    total = len(unfinished) * trajectory_steps(a) + len(todo) * configuration_steps(a)
    core_seconds = total / rate
    return total, core_seconds


def main(argv=None):
    a = parse_args(argv)
    a.work = os.path.abspath(a.work)
    os.makedirs(a.work, exist_ok=True)
    params = physical_parameters(a)
    ppath = os.path.join(a.work, "params.json")
    if os.path.exists(ppath):
        with open(ppath) as f:
            old = json.load(f)
        old.setdefault("trajectories", 1)
        if old != json.loads(json.dumps(params)):
            diff = {k: (old.get(k), v) for k, v in params.items() if old.get(k) != v}
            sys.exit(f"generate_ka: {ppath} was made with other parameters {diff}; "
                     f"use another --work folder")
    else:
        with open(ppath, "w") as f:
            json.dump(params, f, indent=1)
    version = lammps_version(a.lmp)
    base = provenance_base(a, version)
    if a.part_size and os.path.dirname(a.out):
        os.makedirs(os.path.dirname(a.out), exist_ok=True)

    # A configuration is done when its .npz is in the work folder or its part is written (the
    # parts, committed as they come, outlive a lost work folder).
    in_parts = {k for path, ks in (parts(a) if a.part_size else []) if os.path.exists(path) for k in ks}
    todo = [k for k in range(1, a.snapshots + 1) if not os.path.exists(npz_path(a, k)) and k not in in_parts]
    rate = a.rate or measure_rate(a)
    total, core_seconds = estimate(a, todo, rate)
    progress = Progress(a, max(total, 1))
    progress.say(f"KA N={a.particles} T={a.temperature} S={a.snapshots} in {a.trajectories} "
                 f"trajectories, runs={a.runs} grid={a.time_grid} LAMMPS {version}; "
                 f"{a.snapshots - len(todo)} configurations already done, {len(todo)} to do")
    progress.say(f"cost estimate: {total / 1e6:.2f} M MD steps at {rate:.0f} steps/s per lmp "
                 f"process{' (measured)' if not a.rate else ''} = {core_seconds / 3600:.2f} "
                 f"core-hours, {hms(core_seconds / min(a.jobs, max(1, len(todo))))} wall with "
                 f"{a.jobs} job(s)")
    if a.part_size:
        write_finished_parts(a, base, progress)
    if todo:
        lock = threading.Lock()

        def on_done(k):
            if a.part_size:
                with lock:
                    write_finished_parts(a, base, progress)

        run_all(a, todo, progress, on_done)
    if a.part_size:
        write_finished_parts(a, base, progress)
    else:
        write_train_test(a, base, progress)
    progress.say(f"done in {hms(time.time() - progress.start)}")


if __name__ == "__main__":
    main()
