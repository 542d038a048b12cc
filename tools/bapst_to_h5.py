#!/usr/bin/env python3
"""Convert Bapst et al. 2020 (Nature Physics 16, 448) glassy-dynamics pickles to an EquiGlass
snapshot file (format version 1, notes/FORMAT.md / docs/data-format.md).

Each pickle holds one equilibrated configuration as a dict with
  positions                    [N,3]  absolute positions at t = 0
  types                        [N]    0 = A, 1 = B
  box                          [3]    periodic box edges (a scalar or [3,2] lo/hi bounds also accepted)
  time                         [M]    the logarithmic time points of the trajectories
  time_indices                 [K]    indices into `time` of the stored target times
  trajectory_target_positions  [K] x [R,N,3]  absolute (unwrapped) positions of each of the R
                                      iso-configurational runs at time[time_indices[k]]
  metadata                     dict   temperature, pressure, fluid, ...
(other keys such as is_values or trajectory_start_velocities are ignored).

propensity_i(t_k) = mean over runs of |r_i(t_k) - r_i(0)|, as in Bapst et al.'s get_targets.

Pickles are untrusted input: they are read with a restricted unpickler that resolves only numpy's
array/dtype/scalar reconstructors and plain containers, refuses every other global (so a pickle
that reduces to os.system or any other callable is an error, not code execution), and then
rejects object arrays.

Usage:
  python3 tools/bapst_to_h5.py --out bapst-T0.44.h5 path/to/train/*.pickle
  python3 tools/bapst_to_h5.py --out x.h5 --temperature 0.44 --time-index 0,5,9 a.pickle b.pickle
"""

import argparse
import collections
import datetime
import hashlib
import io
import json
import os
import pickle
import socket
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lammps_to_h5 as lio  # noqa: E402  (the shared HDF5 writer)


class BapstFormatError(ValueError):
    """A pickle that is unsafe or does not have the Bapst layout; the message names the file."""


try:  # numpy >= 2
    from numpy._core import multiarray as _MA
    from numpy._core.numeric import _frombuffer
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _MA
    from numpy.core.numeric import _frombuffer

# (module, name) -> object. Only array reconstruction and inert containers; nothing that can run
# arbitrary code. Both numpy 1 ("numpy.core") and numpy 2 ("numpy._core") spellings are accepted.
_ALLOWED = {}
for _mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "_reconstruct")] = _MA._reconstruct
    _ALLOWED[(_mod, "scalar")] = _MA.scalar
for _mod in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED[(_mod, "_frombuffer")] = _frombuffer   # protocol-5 arrays
for _mod in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_mod, "ndarray")] = np.ndarray
    _ALLOWED[(_mod, "dtype")] = np.dtype
_ALLOWED[("builtins", "set")] = set
_ALLOWED[("builtins", "frozenset")] = frozenset
_ALLOWED[("collections", "OrderedDict")] = collections.OrderedDict


def _encode_latin1(text, encoding="latin1"):
    """Protocol-2 pickles store bytes as _codecs.encode(str, 'latin1'); allow only that."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is allowed only as encode(str, 'latin1')")
    return text.encode("latin1")


_ALLOWED[("_codecs", "encode")] = _encode_latin1


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that accepts only numpy arrays, dtypes, scalars and builtin containers."""

    def find_class(self, module, name):
        obj = _ALLOWED.get((module, name))
        if obj is None:
            raise pickle.UnpicklingError(f"refused global {module}.{name} (only numpy arrays and "
                                         f"builtin containers are allowed)")
        return obj

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed")


def _check_inert(obj, path, where="root", depth=0):
    """After unpickling: only containers, numbers, strings and non-object numpy arrays."""
    if depth > 50:
        raise BapstFormatError(f"{path}: nesting too deep at {where}")
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise BapstFormatError(f"{path}: object array at {where} is not allowed")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_inert(k, path, f"{where}[key]", depth + 1)
            _check_inert(v, path, f"{where}[{k!r}]", depth + 1)
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, v in enumerate(obj):
            _check_inert(v, path, f"{where}[{i}]", depth + 1)
    elif not (obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, np.generic))):
        raise BapstFormatError(f"{path}: unexpected object of type {type(obj).__name__} at {where}")


def safe_load(path):
    """Unpickle `path` with the restricted unpickler; BapstFormatError on anything else."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise BapstFormatError(f"{path}: cannot read ({e.strerror})")
    try:
        obj = RestrictedUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as e:
        raise BapstFormatError(f"{path}: unsafe or invalid pickle: {e}")
    except Exception as e:  # truncated/corrupt streams raise many types
        raise BapstFormatError(f"{path}: not a readable pickle ({type(e).__name__}: {e})")
    _check_inert(obj, path)
    return obj, hashlib.sha256(raw).hexdigest()


def _array(d, key, path, ndim=None, dtype=float):
    if key not in d:
        raise BapstFormatError(f"{path}: missing key '{key}'")
    try:
        a = np.asarray(d[key], dtype=dtype)
    except (TypeError, ValueError) as e:
        raise BapstFormatError(f"{path}: '{key}' is not numeric ({e})")
    if ndim is not None and a.ndim != ndim:
        raise BapstFormatError(f"{path}: '{key}' has shape {a.shape}, expected {ndim} dimensions")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        raise BapstFormatError(f"{path}: '{key}' has non-finite values")
    return a


def convert_configuration(d, path, time_index=None):
    """One Bapst dict -> (snapshot dict for the writer, times [K'], runs, metadata)."""
    if not isinstance(d, dict):
        raise BapstFormatError(f"{path}: top level is {type(d).__name__}, expected a dict")
    pos = _array(d, "positions", path, 2)
    n = pos.shape[0]
    if pos.shape[1] != 3:
        raise BapstFormatError(f"{path}: 'positions' has shape {pos.shape}, expected [N,3]")
    types = _array(d, "types", path, 1, dtype=np.int64)
    if types.shape[0] != n:
        raise BapstFormatError(f"{path}: 'types' has {types.shape[0]} entries for {n} particles")
    if types.size and (types.min() < 0 or types.max() > 1):
        raise BapstFormatError(f"{path}: 'types' outside 0..1 (0 = A, 1 = B)")
    box = _array(d, "box", path)
    if box.ndim == 0:
        box = np.full(3, float(box))
    elif box.shape == (3, 2):
        box = box[:, 1] - box[:, 0]
    elif box.shape != (3,):
        raise BapstFormatError(f"{path}: 'box' has shape {box.shape}, expected [3]")
    if np.any(box <= 0):
        raise BapstFormatError(f"{path}: non-positive box {box.tolist()}")
    time = _array(d, "time", path, 1)
    tidx = _array(d, "time_indices", path, 1, dtype=np.int64)
    if tidx.size and (tidx.min() < 0 or tidx.max() >= time.size):
        raise BapstFormatError(f"{path}: 'time_indices' out of range for {time.size} time points")
    if "trajectory_target_positions" not in d:
        raise BapstFormatError(f"{path}: missing key 'trajectory_target_positions'")
    targets = d["trajectory_target_positions"]
    if len(targets) != tidx.size:
        raise BapstFormatError(f"{path}: {len(targets)} target-time blocks for {tidx.size} time_indices")
    chosen = list(range(tidx.size)) if time_index is None else list(time_index)
    for k in chosen:
        if not (0 <= k < tidx.size):
            raise BapstFormatError(f"{path}: --time-index {k} out of range 0..{tidx.size - 1}")
    times = time[tidx[chosen]]
    if times.size == 0 or np.any(times <= 0) or np.any(np.diff(times) <= 0):
        raise BapstFormatError(f"{path}: selected times {times.tolist()} are not positive and strictly increasing")

    prop = np.empty((n, len(chosen)), dtype=np.float64)
    runs = None
    for j, k in enumerate(chosen):
        block = np.asarray(targets[k], dtype=np.float64)
        if block.ndim != 3 or block.shape[1:] != (n, 3):
            raise BapstFormatError(f"{path}: trajectory_target_positions[{k}] has shape {block.shape}, "
                                   f"expected [runs, {n}, 3]")
        if runs is not None and block.shape[0] != runs:
            raise BapstFormatError(f"{path}: run count differs between target times")
        runs = block.shape[0]
        if not np.all(np.isfinite(block)):
            raise BapstFormatError(f"{path}: trajectory_target_positions[{k}] has non-finite values")
        prop[:, j] = np.linalg.norm(block - pos[None], axis=-1).mean(axis=0)

    meta = d.get("metadata", {}) or {}
    if not isinstance(meta, dict):
        raise BapstFormatError(f"{path}: 'metadata' is not a dict")
    snap = {"positions": pos, "species": types.astype(np.int32), "box": box,
            "propensity": prop.astype(np.float32)}
    return snap, times, runs, meta


def _plain(x):
    """Metadata values -> JSON-able."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, bytes):
        return x.decode("latin1")
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [_plain(v) for v in x]
    return x


def convert(paths, out, temperature=None, time_index=None, argv=None):
    """Convert Bapst pickles `paths` into the snapshot file `out`. Returns the snapshot count."""
    snaps, hashes, metas = [], [], []
    times0, runs0 = None, None
    temps = set()
    for path in paths:
        d, digest = safe_load(path)
        snap, times, runs, meta = convert_configuration(d, path, time_index)
        if times0 is None:
            times0, runs0 = times, runs
        elif times.shape != times0.shape or not np.allclose(times, times0, rtol=1e-9, atol=0):
            raise BapstFormatError(f"{path}: time grid {times.tolist()} differs from {paths[0]}'s {times0.tolist()}")
        if runs != runs0:
            raise BapstFormatError(f"{path}: {runs} runs, but {paths[0]} has {runs0}")
        if "temperature" in meta:
            temps.add(round(float(np.asarray(meta["temperature"])), 9))
        snaps.append(snap)
        hashes.append({"file": os.path.abspath(path), "sha256": digest})
        metas.append(_plain(meta))
    if temperature is None:
        if len(temps) != 1:
            raise BapstFormatError(f"temperature: metadata gives {sorted(temps) or 'none'}; "
                                   f"pass --temperature (and convert one temperature per file)")
        temperature = temps.pop()
    elif temps and any(abs(t - temperature) > 1e-6 for t in temps):
        raise BapstFormatError(f"--temperature {temperature} disagrees with metadata {sorted(temps)}")
    prov = {
        "command": " ".join([sys.executable] + (argv if argv is not None else sys.argv)),
        "tool": "tools/bapst_to_h5.py",
        "origin": "Bapst et al., Nature Physics 16, 448 (2020), deepmind-research glassy_dynamics data",
        "inputs": hashes, "metadata": metas, "time_indices_used": time_index,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": socket.gethostname(),
    }
    lio.write_snapshot_file(
        out, snaps, temperature, times=times0, propensity_runs=runs0,
        propensity_definition=("mean over iso-configurational runs of |r_i(t) - r_i(0)| "
                               "(absolute positions), Bapst et al. 2020"),
        source="bapst2020", provenance=prov)
    return len(snaps)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pickles", nargs="+", help="Bapst et al. pickle files, one configuration each")
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.add_argument("--temperature", type=float, default=None,
                   help="temperature; default: from the pickles' metadata (must agree)")
    p.add_argument("--time-index", default=None,
                   help="comma-separated indices into time_indices to keep (default: all)")
    args = p.parse_args(argv)
    tsel = None
    if args.time_index:
        try:
            tsel = [int(x) for x in args.time_index.split(",")]
        except ValueError:
            p.error("--time-index: comma-separated integers expected")
    try:
        n = convert(args.pickles, args.out, args.temperature, tsel,
                    argv=sys.argv if argv is None else ["tools/bapst_to_h5.py"] + list(argv))
    except BapstFormatError as e:
        sys.exit(f"bapst_to_h5: {e}")
    print(f"wrote {args.out}: {n} snapshots")


if __name__ == "__main__":
    main()
