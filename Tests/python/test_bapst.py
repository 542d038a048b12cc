"""Tests of tools/bapst_to_h5.py: Bapst et al. 2020 pickles -> EquiGlass snapshot file.

Fake pickles are built here with numpy in the documented Bapst layout; the expected propensity is
computed directly from the construction (known displacements), not with the converter's code.
Malicious pickles (reducing to os.system, builtins.eval, an object array, ...) must be refused
without running anything.
"""

import json
import os
import pickle
import subprocess
import sys

import h5py
import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
import bapst_to_h5 as bapst  # noqa: E402

N, RUNS = 12, 3
TIME = np.array([0.0, 0.1, 0.5, 1.0, 4.0, 10.0])
TIME_INDICES = np.array([1, 3, 5])


def fake_configuration(seed, temperature=0.44):
    """A Bapst-style dict whose displacement magnitudes are known exactly.

    Run r moves particle i at target time k by d[k, r, i] along a random unit vector, so the
    propensity is mean_r d[k, r, i].
    """
    rng = np.random.default_rng(seed)
    box = np.array([3.0, 3.0, 3.0])
    pos = rng.uniform(-1.0, 4.0, size=(N, 3))                  # absolute: may leave the box
    types = (np.arange(N) % 5 == 0).astype(np.int32)          # 0 = A, 1 = B
    d = rng.uniform(0.0, 2.0, size=(len(TIME_INDICES), RUNS, N))
    u = rng.normal(size=(len(TIME_INDICES), RUNS, N, 3))
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    targets = [pos[None] + d[k][..., None] * u[k] for k in range(len(TIME_INDICES))]
    conf = {
        "positions": pos, "types": types, "box": box, "time": TIME, "time_indices": TIME_INDICES,
        "is_values": np.array([0.9, 0.6, 0.3]),
        "trajectory_start_velocities": rng.normal(size=(RUNS, N, 3)),
        "trajectory_target_positions": targets,
        "metadata": {"temperature": temperature, "pressure": 2.93, "fluid": "Kob-Andersen"},
    }
    return conf, d.mean(axis=1).T                              # expected propensity [N, K]


def write_pickle(path, obj, protocol=3):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def test_convert_values(tmp_path):
    expected = []
    paths = []
    for s in range(3):
        conf, prop = fake_configuration(s)
        p = tmp_path / f"conf{s}.pickle"
        write_pickle(p, conf, protocol=3 if s != 2 else 5)     # the paper's protocol 3, and 5
        paths.append(str(p))
        expected.append((conf, prop))
    out = tmp_path / "bapst.h5"
    assert bapst.convert(paths, str(out)) == 3
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "equiglass-snapshots" and f.attrs["format_version"] == 1
        assert f.attrs["source"] == "bapst2020"
        assert f.attrs["temperature"] == pytest.approx(0.44)
        assert f.attrs["propensity_runs"] == RUNS
        assert f.attrs["density"] == pytest.approx(N / 27.0)
        assert f["snapshot_offsets"][:].tolist() == [0, N, 2 * N, 3 * N]
        np.testing.assert_array_equal(f["times"][:], [0.1, 1.0, 10.0])
        np.testing.assert_array_equal(f["box"][:], np.full((3, 3), 3.0))
        assert f["propensity"].dtype == np.float32
        for s, (conf, prop) in enumerate(expected):
            sl = slice(s * N, (s + 1) * N)
            np.testing.assert_array_equal(f["positions"][sl], conf["positions"])
            np.testing.assert_array_equal(f["species"][sl], conf["types"])
            np.testing.assert_allclose(f["propensity"][sl], prop, rtol=2e-7)
        assert "positions_inherent" not in f
        prov = json.loads(f.attrs["provenance"])
        assert len(prov["inputs"]) == 3 and len(prov["inputs"][0]["sha256"]) == 64
        assert prov["metadata"][0]["fluid"] == "Kob-Andersen"


def test_time_index_selection_and_command_line(tmp_path):
    conf, prop = fake_configuration(7)
    p = tmp_path / "c.pickle"
    write_pickle(p, conf)
    out = tmp_path / "sel.h5"
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "bapst_to_h5.py"), "--out", str(out),
                        "--time-index", "0,2", str(p)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with h5py.File(out, "r") as f:
        np.testing.assert_array_equal(f["times"][:], [0.1, 10.0])
        np.testing.assert_allclose(f["propensity"][:], prop[:, [0, 2]], rtol=2e-7)


class Evil:
    """Reduces to os.system: unpickling with the standard unpickler would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def test_malicious_pickles_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    conf, _ = fake_configuration(1)
    cases = {
        "system.pickle": dict(conf, metadata={"temperature": 0.44, "x": Evil(str(marker))}),
        "eval.pickle": dict(conf, positions=EvalEvil()),
        "toplevel.pickle": Evil(str(marker)),
    }
    for name, obj in cases.items():
        p = tmp_path / name
        write_pickle(p, obj, protocol=3)
        with pytest.raises(bapst.BapstFormatError, match=f"{name}: unsafe or invalid pickle: refused global"):
            bapst.safe_load(str(p))
    assert not marker.exists()
    # The command line reports the refusal and exits non-zero, still without side effects.
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "bapst_to_h5.py"), "--out",
                        str(tmp_path / "x.h5"), str(tmp_path / "system.pickle")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "refused global" in r.stderr and ("posix.system" in r.stderr or "os.system" in r.stderr)
    assert not marker.exists() and not (tmp_path / "x.h5").exists()


def test_object_arrays_are_refused(tmp_path):
    conf, _ = fake_configuration(2)
    conf["positions"] = np.array([1, "a", None], dtype=object)
    p = tmp_path / "obj.pickle"
    write_pickle(p, conf)
    with pytest.raises(bapst.BapstFormatError, match="obj.pickle"):
        bapst.safe_load(str(p))


def test_layout_errors_name_the_file_and_key(tmp_path):
    conf, _ = fake_configuration(3)
    bad = dict(conf)
    del bad["trajectory_target_positions"]
    p = tmp_path / "nokey.pickle"
    write_pickle(p, bad)
    with pytest.raises(bapst.BapstFormatError, match="nokey.pickle: missing key 'trajectory_target_positions'"):
        bapst.convert([str(p)], str(tmp_path / "o.h5"))

    bad = dict(conf, types=conf["types"][:-1])
    write_pickle(p, bad)
    with pytest.raises(bapst.BapstFormatError, match="'types' has 11 entries for 12 particles"):
        bapst.convert([str(p)], str(tmp_path / "o.h5"))

    bad = dict(conf, trajectory_target_positions=[t[:, :-1] for t in conf["trajectory_target_positions"]])
    write_pickle(p, bad)
    with pytest.raises(bapst.BapstFormatError, match=r"trajectory_target_positions\[0\] has shape"):
        bapst.convert([str(p)], str(tmp_path / "o.h5"))

    pos = conf["positions"].copy()
    pos[0, 0] = np.nan
    write_pickle(p, dict(conf, positions=pos))
    with pytest.raises(bapst.BapstFormatError, match="'positions' has non-finite values"):
        bapst.convert([str(p)], str(tmp_path / "o.h5"))

    p.write_bytes(pickle.dumps(conf, protocol=3)[:200])          # truncated
    with pytest.raises(bapst.BapstFormatError, match="nokey.pickle: .*truncated"):
        bapst.safe_load(str(p))
    assert not (tmp_path / "o.h5").exists()


def test_mixed_time_grids_and_temperatures_are_refused(tmp_path):
    a, _ = fake_configuration(4)
    b, _ = fake_configuration(5)
    b["time"] = TIME * 2
    write_pickle(tmp_path / "a.pickle", a)
    write_pickle(tmp_path / "b.pickle", b)
    with pytest.raises(bapst.BapstFormatError, match="b.pickle: time grid"):
        bapst.convert([str(tmp_path / "a.pickle"), str(tmp_path / "b.pickle")], str(tmp_path / "o.h5"))
    c, _ = fake_configuration(6, temperature=0.5)
    write_pickle(tmp_path / "c.pickle", c)
    with pytest.raises(bapst.BapstFormatError, match="pass --temperature"):
        bapst.convert([str(tmp_path / "a.pickle"), str(tmp_path / "c.pickle")], str(tmp_path / "o.h5"))
