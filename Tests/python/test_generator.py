"""Tests of tools/generate_ka.py (Kob–Andersen generator) and tools/lammps_to_h5.py (LAMMPS importer).

One tiny real LAMMPS run (N = 200, 2 configurations, 2 iso-configurational runs, t <= 2) is shared
by the tests; the whole file runs in well under a minute. Independent references:
  * per-particle inherent-structure energies and forces recomputed here in numpy from the
    Kob–Andersen parameters (checks the potential, the shift, the minimiser and the dump parsing);
  * short-time ballistic limit <|dr|^2> / t^2 -> 3 T (N-1)/N of fresh Maxwell–Boltzmann velocities;
  * a hand-written LAMMPS data file and dump for the importer.
Run: python3 -m pytest -q Tests/python
"""

import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import lammps_to_h5 as lio  # noqa: E402

T = 0.6
N = 200                      # L = 5.5 > 2 * 2.5: minimum image is exact for the numpy reference
TIMES = [0.005, 0.01, 0.1, 0.5, 2.0]
ARGS = ["--temperature", str(T), "--particles", str(N), "--snapshots", "2", "--runs", "2",
        "--times", ",".join(str(t) for t in TIMES), "--tau-alpha", "1", "--equilibration", "5",
        "--melt-time", "2", "--quench-time", "2", "--seed", "5", "--jobs", "2",
        "--test-fraction", "0.5"]

pytestmark = pytest.mark.skipif(shutil.which("lmp") is None, reason="LAMMPS binary 'lmp' not on PATH")


def generate(work, out, extra=()):
    cmd = [sys.executable, os.path.join(TOOLS, "generate_ka.py")] + ARGS + [
        "--work", str(work), "--out", str(out), "--quiet"] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("ka")
    r = generate(d / "work", d / "tiny")
    assert r.returncode == 0, r.stdout + r.stderr
    return {"dir": d, "work": d / "work", "prefix": d / "tiny", "log": r.stdout}


# ---------------------------------------------------------------------------------------------
# Independent Kob–Andersen reference (numpy, minimum image)
# ---------------------------------------------------------------------------------------------

EPS = np.array([[1.0, 1.5], [1.5, 0.5]])
SIG = np.array([[1.0, 0.8], [0.8, 0.88]])


def ka_energy_forces(pos, species, box):
    """Per-particle potential energy (half of each shifted pair energy) and forces."""
    d = pos[:, None, :] - pos[None, :, :]
    d -= box * np.round(d / box)
    r2 = np.sum(d * d, axis=-1)
    np.fill_diagonal(r2, np.inf)
    eps = EPS[species[:, None], species[None, :]]
    sig = SIG[species[:, None], species[None, :]]
    rc = 2.5 * sig
    inside = r2 < rc * rc
    sr6 = (sig * sig / r2) ** 3
    src6 = (1 / 2.5) ** 6
    u = np.where(inside, 4 * eps * (sr6 * sr6 - sr6) - 4 * eps * (src6 * src6 - src6), 0.0)
    # F_i = sum_j 24 eps (2 sr12 - sr6) / r^2 * (r_i - r_j)
    fmag = np.where(inside, 24 * eps * (2 * sr6 * sr6 - sr6) / r2, 0.0)
    forces = np.sum(fmag[:, :, None] * d, axis=1)
    return 0.5 * u.sum(axis=1), forces


# ---------------------------------------------------------------------------------------------
# Generator output
# ---------------------------------------------------------------------------------------------

def test_layout_and_attributes(tiny):
    with h5py.File(f"{tiny['prefix']}-train.h5", "r") as f:
        assert f.attrs["format"] == "equiglass-snapshots"
        assert f.attrs["format_version"] == 1 and f.attrs["format_version"].dtype == np.int64
        assert f.attrs["temperature"] == T
        assert f.attrs["density"] == pytest.approx(1.2, rel=1e-12)
        assert f.attrs["species_names"] == "A,B"
        assert f.attrs["time_unit"] == "tau_LJ"
        assert f.attrs["source"] == "lammps-generator"
        assert f.attrs["propensity_runs"] == 2
        assert "|r_i(t) - r_i(0)|" in f.attrs["propensity_definition"]
        prov = json.loads(f.attrs["provenance"])
        assert "generate_ka.py" in prov["command"] and "--seed 5" in prov["command"]
        assert prov["seed"] == 5
        assert prov["lammps_version"].startswith("29 Sep 2021")
        assert prov["host"] and prov["date"] and prov["split"] == "train"
        assert prov["trajectory_snapshots"] == [1]

        off = f["snapshot_offsets"][:]
        assert off.dtype == np.int64 and off.tolist() == [0, N]
        assert f["box"].shape == (1, 3) and f["box"].dtype == np.float64
        np.testing.assert_allclose(f["box"][0], [(N / 1.2) ** (1 / 3)] * 3, rtol=1e-12)
        assert f["positions"].shape == (N, 3) and f["positions"].dtype == np.float64
        assert f["positions_inherent"].shape == (N, 3)
        assert f["species"].dtype == np.int32
        assert np.bincount(f["species"][:]).tolist() == [160, 40]
        assert f["times"][:].tolist() == TIMES
        assert f["propensity"].shape == (N, len(TIMES)) and f["propensity"].dtype == np.float32
        assert f["scalars/epot_inherent"].shape == (N,)
        for name in ("positions", "positions_inherent", "propensity", "scalars/epot_inherent"):
            assert np.all(np.isfinite(f[name][:])), name
    with h5py.File(f"{tiny['prefix']}-test.h5", "r") as f:
        assert json.loads(f.attrs["provenance"])["trajectory_snapshots"] == [2]
        assert f["snapshot_offsets"][:].tolist() == [0, N]


def test_positions_match_lammps_data_file(tiny):
    d = lio.read_lammps_data(str(tiny["work"] / "equil" / "snap_2.data"))
    with h5py.File(f"{tiny['prefix']}-test.h5", "r") as f:
        np.testing.assert_array_equal(f["positions"][:], d["positions"] - d["lo"])
        np.testing.assert_array_equal(f["species"][:], d["types"] - 1)


def test_inherent_structure_against_numpy_reference(tiny):
    with h5py.File(f"{tiny['prefix']}-train.h5", "r") as f:
        box = f["box"][0]
        sp = f["species"][:]
        e_ref, forces = ka_energy_forces(f["positions_inherent"][:], sp, box)
        np.testing.assert_allclose(f["scalars/epot_inherent"][:], e_ref, rtol=1e-9, atol=1e-9)
        assert np.max(np.abs(forces)) < 1e-7          # a true minimum (LAMMPS ftol 1e-10)
        e_thermal, f_thermal = ka_energy_forces(f["positions"][:], sp, box)
        assert e_thermal.mean() > e_ref.mean() + 0.3   # thermal energy ~ 3/2 T above the IS
        assert np.max(np.abs(f_thermal)) > 10.0
        assert -8.0 < e_ref.mean() < -7.2              # KA inherent structures near T = 0.6


def test_propensity_physics(tiny):
    with h5py.File(f"{tiny['prefix']}-train.h5", "r") as f:
        prop = f["propensity"][:].astype(np.float64)
    npz = np.load(tiny["work"] / "snap_1.npz")
    disp = npz["displacements"].astype(np.float64)                 # [runs, T, N]
    np.testing.assert_allclose(prop, disp.mean(axis=0).T, rtol=1e-6)
    assert disp.shape == (2, len(TIMES), N)
    assert not np.allclose(disp[0], disp[1])                       # distinct velocity seeds
    assert npz["seeds"].tolist() == [5_000_000 + 1000 + 1, 5_000_000 + 1000 + 2]
    # Ballistic limit of fresh Maxwell-Boltzmann velocities (scaled exactly to T, zero momentum):
    # <|dr|^2> = 3 T (N-1)/N t^2 + O(t^3) at t = one step.
    msd = np.mean(disp[:, 0, :] ** 2) / TIMES[0] ** 2
    assert msd == pytest.approx(3 * T * (N - 1) / N, rel=0.01)
    # Propensity grows with time on average.
    assert np.all(np.diff(prop.mean(axis=0)) > 0)


def test_resume_skips_and_recomputes_identically(tiny):
    before = np.load(tiny["work"] / "snap_2.npz")["displacements"]
    os.remove(tiny["work"] / "snap_2.npz")
    r = generate(tiny["work"], tiny["dir"] / "again")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 configurations already done, 1 to do" in r.stdout
    assert "trajectory 1/1: equilibrated configurations found" in r.stdout
    after = np.load(tiny["work"] / "snap_2.npz")["displacements"]
    np.testing.assert_array_equal(before, after)                  # same seeds -> same runs
    with h5py.File(f"{tiny['prefix']}-train.h5", "r") as a, h5py.File(tiny["dir"] / "again-train.h5", "r") as b:
        np.testing.assert_array_equal(a["propensity"][:], b["propensity"][:])


def test_resume_refuses_other_parameters(tiny):
    cmd = [sys.executable, os.path.join(TOOLS, "generate_ka.py")] + ARGS + [
        "--work", str(tiny["work"]), "--out", str(tiny["dir"] / "other")]
    cmd[cmd.index("--runs") + 1] = "3"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "other parameters" in r.stderr and "runs" in r.stderr


def test_bad_time_grid_is_rejected(tmp_path):
    cmd = [sys.executable, os.path.join(TOOLS, "generate_ka.py")] + ARGS + [
        "--work", str(tmp_path / "w"), "--out", str(tmp_path / "o")]
    cmd[cmd.index("--times") + 1] = "0.1,0.5012"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "not a positive multiple of dt" in r.stderr
    cmd[cmd.index("--times") + 1] = "0.5,0.1"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "strictly increasing" in r.stderr


# ---------------------------------------------------------------------------------------------
# LAMMPS importer on hand-written files
# ---------------------------------------------------------------------------------------------

DATA = """LAMMPS data file, hand written

3 atoms
2 atom types

-1.0 3.0 xlo xhi
0.0 4.0 ylo yhi
0.5 5.5 zlo zhi

Masses

1 1
2 1

Atoms # atomic

3 2 0.5 1.5 2.5 0 1 -1
1 1 -0.5 3.5 0.75 0 0 0
2 1 2.0 0.25 5.0 -1 0 0

Velocities

1 0.1 0.2 0.3
3 -0.1 0.0 0.4
2 0.0 0.0 0.0
"""

DUMP = """ITEM: TIMESTEP
0
ITEM: NUMBER OF ATOMS
3
ITEM: BOX BOUNDS pp pp pp
-1.0 3.0
0.0 4.0
0.5 5.5
ITEM: ATOMS id type x y z c_pe
2 1 2.1 0.2 5.1 -3.0
1 1 -0.4 3.4 0.8 -2.0
3 2 0.6 1.6 2.6 -1.0
"""


def test_read_data_file(tmp_path):
    p = tmp_path / "c.data"
    p.write_text(DATA)
    d = lio.read_lammps_data(str(p))
    assert d["ids"].tolist() == [1, 2, 3]
    assert d["types"].tolist() == [1, 1, 2]
    np.testing.assert_array_equal(d["positions"], [[-0.5, 3.5, 0.75], [2.0, 0.25, 5.0], [0.5, 1.5, 2.5]])
    assert d["images"].tolist() == [[0, 0, 0], [-1, 0, 0], [0, 1, -1]]
    np.testing.assert_array_equal(d["velocities"], [[0.1, 0.2, 0.3], [0, 0, 0], [-0.1, 0.0, 0.4]])
    np.testing.assert_array_equal(d["hi"] - d["lo"], [4.0, 4.0, 5.0])


def test_read_data_file_errors(tmp_path):
    p = tmp_path / "bad.data"
    p.write_text(DATA.replace("3 atoms", "4 atoms"))
    with pytest.raises(lio.LammpsFormatError, match="bad.data: header says 4 atoms"):
        lio.read_lammps_data(str(p))
    p.write_text(DATA.split("Atoms")[0])
    with pytest.raises(lio.LammpsFormatError, match="no 'Atoms' section"):
        lio.read_lammps_data(str(p))


def test_read_dump_and_truncation(tmp_path):
    p = tmp_path / "c.dump"
    p.write_text(DUMP + DUMP.replace("ITEM: TIMESTEP\n0", "ITEM: TIMESTEP\n20"))
    frames = lio.read_lammps_dump(str(p))
    assert [fr["timestep"] for fr in frames] == [0, 20]
    c = frames[1]["columns"]
    assert c["id"].tolist() == [1, 2, 3] and c["c_pe"].tolist() == [-2.0, -3.0, -1.0]
    np.testing.assert_array_equal(lio.dump_positions(frames[0]), [[-0.4, 3.4, 0.8], [2.1, 0.2, 5.1], [0.6, 1.6, 2.6]])
    p.write_text(DUMP + DUMP[: DUMP.index("1 1 -0.4")])
    with pytest.raises(lio.LammpsFormatError, match="c.dump: frame at timestep 0 is truncated"):
        lio.read_lammps_dump(str(p))


def test_importer_command(tmp_path):
    (tmp_path / "c.data").write_text(DATA)
    (tmp_path / "c.dump").write_text(DUMP)
    out = tmp_path / "c.h5"
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "lammps_to_h5.py"), "--temperature", "0.7",
                        "--out", str(out), "--inherent", str(tmp_path / "c.dump"), "--",
                        str(tmp_path / "c.data")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["temperature"] == 0.7 and f.attrs["propensity_runs"] == 0
        assert f.attrs["density"] == pytest.approx(3 / 80)
        np.testing.assert_array_equal(f["positions"][:], [[0.5, 3.5, 0.25], [3.0, 0.25, 4.5], [1.5, 1.5, 2.0]])
        np.testing.assert_allclose(f["positions_inherent"][:], [[0.6, 3.4, 0.3], [3.1, 0.2, 4.6], [1.6, 1.6, 2.1]])
        assert f["species"][:].tolist() == [0, 0, 1]
        assert f["scalars/epot_inherent"][:].tolist() == [-2.0, -3.0, -1.0]
        np.testing.assert_array_equal(f["box"][:], [[4.0, 4.0, 5.0]])
        assert "propensity" not in f and "times" not in f
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "lammps_to_h5.py"), "--temperature", "0.7",
                        "--out", str(out), str(tmp_path / "missing.data")], capture_output=True, text=True)
    assert r.returncode != 0 and "missing.data" in r.stderr


# ---------------------------------------------------------------------------------------------
# Several trajectories, output in parts, interruption
# ---------------------------------------------------------------------------------------------

PART_ARGS = ["--temperature", str(T), "--particles", str(N), "--snapshots", "4", "--trajectories", "2",
             "--runs", "2", "--times", "0.005,0.1,0.5", "--tau-alpha", "1", "--equilibration", "2",
             "--melt-time", "1", "--quench-time", "1", "--seed", "7", "--jobs", "2",
             "--part-size", "2", "--test-fraction", "0", "--rate", "5000"]


def generate_parts(work, out):
    return [sys.executable, os.path.join(TOOLS, "generate_ka.py")] + PART_ARGS + [
        "--work", str(work), "--out", str(out)]


def read_part(path):
    with h5py.File(path, "r") as f:
        return {"configurations": json.loads(f.attrs["provenance"])["trajectory_snapshots"],
                **{k: f[k][:] for k in ("positions", "positions_inherent", "propensity",
                                        "scalars/epot_inherent")}}


@pytest.fixture(scope="module")
def parts_uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("parts")
    r = subprocess.run(generate_parts(d / "work", d / "out" / "p"), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return d, r.stdout


def test_parts_layout_and_independent_trajectories(parts_uninterrupted):
    d, log = parts_uninterrupted
    assert "cost estimate:" in log and "core-hours" in log and "ETA" in log
    one, two = read_part(d / "out" / "p-part-001.h5"), read_part(d / "out" / "p-part-002.h5")
    assert one["configurations"] == [1, 2] and two["configurations"] == [3, 4]
    with h5py.File(d / "out" / "p-part-002.h5", "r") as f:
        prov = json.loads(f.attrs["provenance"])
        assert prov["trajectories_used"] == [2]
        assert prov["equilibration_seeds"] == [7_999_001, 7_999_011]
        assert f["snapshot_offsets"][:].tolist() == [0, N, 2 * N]
    # Trajectory 2 starts from its own random configuration: no configuration repeats another.
    firsts = [one["positions"][:N], one["positions"][N:], two["positions"][:N], two["positions"][N:]]
    for i in range(4):
        for j in range(i):
            assert not np.allclose(firsts[i], firsts[j])


def test_interrupted_run_resumes_without_loss_or_duplication(parts_uninterrupted, tmp_path):
    """Kill the whole process group once the first part is written, run the same command again:
    the parts equal the uninterrupted run's, value for value."""
    reference, _ = parts_uninterrupted
    cmd = generate_parts(tmp_path / "work", tmp_path / "out" / "p")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    killed_after_part = False
    for line in proc.stdout:
        if "p-part-001.h5" in line:
            os.killpg(proc.pid, 9)
            killed_after_part = True
            break
    proc.wait(timeout=60)
    assert killed_after_part, "the first part was never written"
    assert not (tmp_path / "out" / "p-part-002.h5").exists()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "configurations already done" in r.stdout
    for name in ("p-part-001.h5", "p-part-002.h5"):
        got, want = read_part(tmp_path / "out" / name), read_part(reference / "out" / name)
        assert got["configurations"] == want["configurations"]
        for key in ("positions", "positions_inherent", "propensity", "scalars/epot_inherent"):
            np.testing.assert_array_equal(got[key], want[key], err_msg=f"{name} {key}")
    leftovers = [f for f in os.listdir(tmp_path / "out") if f.endswith(".tmp")]
    assert leftovers == []


def test_written_parts_outlive_a_lost_work_folder(parts_uninterrupted, tmp_path):
    """With part 1 present and no work folder, only part 2's configurations are computed."""
    reference, _ = parts_uninterrupted
    (tmp_path / "out").mkdir()
    shutil.copy(reference / "out" / "p-part-001.h5", tmp_path / "out" / "p-part-001.h5")
    r = subprocess.run(generate_parts(tmp_path / "work", tmp_path / "out" / "p"), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 configurations already done, 2 to do" in r.stdout
    assert "trajectory 1/2: started" not in r.stdout
    assert not (tmp_path / "work" / "snap_1.npz").exists() and (tmp_path / "work" / "snap_3.npz").exists()
    got, want = read_part(tmp_path / "out" / "p-part-002.h5"), read_part(reference / "out" / "p-part-002.h5")
    np.testing.assert_array_equal(got["propensity"], want["propensity"])


def test_snapshots_must_divide_into_trajectories(tmp_path):
    cmd = generate_parts(tmp_path / "w", tmp_path / "o")
    cmd[cmd.index("--snapshots") + 1] = "5"
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "multiple of --trajectories" in r.stderr
