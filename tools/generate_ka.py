#!/usr/bin/env python3
"""Generate Kob–Andersen propensity data with LAMMPS and write EquiGlass snapshot files.

Physics (Kob & Andersen 1995; iso-configurational ensemble of Widmer-Cooper & Harrowell 2004):
  * KA 80:20 binary Lennard-Jones, eps/sigma AA 1/1, AB 1.5/0.8, BB 0.5/0.88, cut-off 2.5 sigma_ab,
    shifted; masses 1; number density 1.2 (default); time step 0.005.
  * One LAMMPS process (tools/lammps/equilibrate.in): random start, soft-potential push-off,
    minimisation, melt at --melt-temperature, quench to T, Nose-Hoover NVT for
    --equilibration tau_alpha, then one configuration every --spacing tau_alpha of the NVT run.
  * Per configuration, one LAMMPS process (tools/lammps/propensity.in): the inherent structure
    (conjugate-gradient minimisation to |F| < 1e-10) with the per-particle potential energy, then
    --runs NVE runs from the same positions with fresh Maxwell–Boltzmann velocities at T (zero total
    momentum, seeds seed0+1 .. seed0+runs), recording |r_i(t) - r_i(0)| (unwrapped) at the grid.
    propensity_i(t) = mean over runs.

Output: PREFIX-train.h5 and PREFIX-test.h5 (the last round(S * test_fraction) configurations of
the trajectory are held out), layout of notes/FORMAT.md (docs/data-format.md).

Resumable: everything lives in --work; finished configurations are kept as snap_<k>.npz and
skipped when the command is run again with the same physical parameters (a params.json in the
work folder guards against mixing). Progress lines go to stdout.

Example (the bundled data set, see data/README.md):
  python3 tools/generate_ka.py --temperature 0.6 --particles 1000 --snapshots 40 --runs 32 \\
      --times 0.1,0.3,0.5,1,2,5,12,30 --tau-alpha 12 --seed 1 --jobs 2 \\
      --work /work/gen-work/T0.60 --out data/ka-N1000-T0.60 --test-fraction 0.2
"""

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lammps_to_h5 as lio  # noqa: E402

LAMMPS_DIR = os.path.join(HERE, "lammps")
GENERATOR_VERSION = "1"
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
                   help="configurations processed at once (one lmp process each; default 1)")
    p.add_argument("--work", required=True,
                   help="work folder (kept; holds per-configuration .npz results for resuming)")
    p.add_argument("--out", required=True,
                   help="output prefix: writes PREFIX-train.h5 and PREFIX-test.h5")
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
        "snapshots": a.snapshots, "runs": a.runs, "times": a.time_grid, "tau_alpha": a.tau_alpha,
        "equilibration_tau_alpha": a.equilibration, "spacing_tau_alpha": a.spacing,
        "melt_temperature": a.melt_temperature, "melt_time": a.melt_time,
        "quench_time": a.quench_time, "dt": a.dt, "seed": a.seed,
    }


def steps(t, dt):
    return max(1, int(round(t / dt)))


def equilibration_seed(a):
    return a.seed * 1_000_000 + 999_001          # +1, +2 are also used inside equilibrate.in


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


class Progress:
    """Thread-safe progress lines: snapshot k/S, run r/R, elapsed, ETA from this session's rate."""

    def __init__(self, a, todo):
        self.a, self.todo_runs = a, todo * a.runs
        self.done_runs = 0
        self.start = time.time()
        self.run_start = self.start   # reset when the propensity stage begins
        self.lock = threading.Lock()

    def say(self, text):
        with self.lock:
            print(f"[{hms(time.time() - self.start)}] {text}", flush=True)

    def run_done(self, k, r):
        with self.lock:
            self.done_runs += 1
            el = time.time() - self.start
            eta = (time.time() - self.run_start) / self.done_runs * (self.todo_runs - self.done_runs)
            if not self.a.quiet or r == self.a.runs:
                print(f"[{hms(el)}] snapshot {k}/{self.a.snapshots} run {r}/{self.a.runs} "
                      f"| {self.done_runs}/{self.todo_runs} runs this session | ETA {hms(eta)}",
                      flush=True)


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


def equilibrate(a, progress):
    d = os.path.join(a.work, "equil")
    done = os.path.join(d, "done")
    if os.path.exists(done):
        progress.say(f"equilibration: found {a.snapshots} configurations in {d}, skipping")
        return d
    os.makedirs(d, exist_ok=True)
    n_a = int(round(0.8 * a.particles))
    var = {
        "NA": n_a, "NB": a.particles - n_a, "L": repr(box_length(a)),
        "T": repr(a.temperature), "Tmelt": repr(a.melt_temperature), "seed": equilibration_seed(a),
        "melt_steps": steps(a.melt_time, a.dt), "quench_steps": steps(a.quench_time, a.dt),
        "equil_steps": steps(a.equilibration * a.tau_alpha, a.dt),
        "gap_steps": steps(a.spacing * a.tau_alpha, a.dt),
        "nsnap": a.snapshots, "outdir": d, "pairfile": os.path.join(LAMMPS_DIR, "ka_pair.in"),
    }
    total = var["melt_steps"] + var["quench_steps"] + var["equil_steps"] + a.snapshots * var["gap_steps"]
    progress.say(f"equilibration: {total} MD steps in one lmp process (log {d}/log.lammps)")

    def on_line(words):
        if words and words[0] == "snapshot":
            progress.say(f"equilibration: configuration {words[1]}/{a.snapshots} written")
        elif words and words[0] == "equilibrated":
            progress.say("equilibration: equilibrated, taking configurations")

    run_lammps(a, "equilibrate.in", d, var, "log.lammps", on_line)
    for k in range(1, a.snapshots + 1):
        if not os.path.exists(os.path.join(d, f"snap_{k}.data")):
            raise RuntimeError(f"equilibration finished but {d}/snap_{k}.data is missing")
    with open(done, "w") as f:
        f.write("ok\n")
    return d


# ----------------------------------------------------------------------------------------------
# Stage 2: inherent structure + iso-configurational runs, one lmp process per configuration
# ----------------------------------------------------------------------------------------------

def npz_path(a, k):
    return os.path.join(a.work, f"snap_{k}.npz")


def propensity_for(a, k, equil_dir, progress):
    d = os.path.join(a.work, f"snap_{k}")
    if os.path.isdir(d):
        shutil.rmtree(d)  # a killed earlier attempt: start this configuration afresh
    os.makedirs(d)
    data = os.path.join(equil_dir, f"snap_{k}.data")
    seed0 = run_seed0(a, k)
    var = {
        "data": data, "T": repr(a.temperature), "seed0": seed0, "nruns": a.runs,
        "nsteps": a.grid_steps[-1], "nextexpr": next_dump_expression(a.grid_steps),
        "outdir": d, "pairfile": os.path.join(LAMMPS_DIR, "ka_pair.in"),
    }

    def on_line(words):
        if len(words) >= 2 and words[0] == "run":
            progress.run_done(k, int(words[1]))

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
    progress.say(f"snapshot {k}/{a.snapshots} done: mean propensity "
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

def write_outputs(a, lmp_version):
    n_test = int(round(a.snapshots * a.test_fraction))
    n_train = a.snapshots - n_test
    if n_train < 1:
        sys.exit("generate_ka: --test-fraction leaves no training snapshots")
    splits = [("train", list(range(1, n_train + 1)))]
    if n_test:
        splits.append(("test", list(range(n_train + 1, a.snapshots + 1))))
    base = {
        "command": shlex.join([sys.executable] + sys.argv),
        "argv": sys.argv,
        "cwd": os.getcwd(),
        "seed": a.seed,
        "equilibration_seed": equilibration_seed(a),
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
    written = []
    for name, ks in splits:
        snaps = []
        seeds = {}
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
        prov = dict(base, split=name, trajectory_snapshots=ks, velocity_seed_ranges=seeds)
        path = f"{a.out}-{name}.h5"
        lio.write_snapshot_file(
            path, snaps, a.temperature, times=a.time_grid, propensity_runs=a.runs,
            propensity_definition=PROPENSITY_DEFINITION, source="lammps-generator", provenance=prov)
        written.append((path, len(ks)))
    return written


def main(argv=None):
    a = parse_args(argv)
    a.work = os.path.abspath(a.work)
    os.makedirs(a.work, exist_ok=True)
    params = physical_parameters(a)
    ppath = os.path.join(a.work, "params.json")
    if os.path.exists(ppath):
        with open(ppath) as f:
            old = json.load(f)
        if old != json.loads(json.dumps(params)):
            diff = {k: (old.get(k), v) for k, v in params.items() if old.get(k) != v}
            sys.exit(f"generate_ka: {ppath} was made with other parameters {diff}; "
                     f"use another --work folder")
    else:
        with open(ppath, "w") as f:
            json.dump(params, f, indent=1)
    version = lammps_version(a.lmp)

    todo = [k for k in range(1, a.snapshots + 1) if not os.path.exists(npz_path(a, k))]
    progress = Progress(a, len(todo))
    progress.say(f"KA N={a.particles} T={a.temperature} S={a.snapshots} runs={a.runs} "
                 f"grid={a.time_grid} LAMMPS {version}; {a.snapshots - len(todo)} configurations "
                 f"already done, {len(todo)} to do with {a.jobs} job(s)")
    if todo:
        equil_dir = equilibrate(a, progress)
        progress.run_start = time.time()
        failures = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
            futures = {pool.submit(propensity_for, a, k, equil_dir, progress): k for k in todo}
            for fut in concurrent.futures.as_completed(futures):
                try:
                    fut.result()
                except Exception as e:  # report, keep the others going; a rerun resumes
                    failures.append(futures[fut])
                    progress.say(f"snapshot {futures[fut]} FAILED: {e}")
        if failures:
            sys.exit(f"generate_ka: configurations {sorted(failures)} failed; rerun the same "
                     f"command to retry them (finished ones are kept in {a.work})")
    for path, s in write_outputs(a, version):
        progress.say(f"wrote {path} ({s} snapshots, {os.path.getsize(path) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
