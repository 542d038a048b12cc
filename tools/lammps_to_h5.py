#!/usr/bin/env python3
"""LAMMPS importer: LAMMPS data files and text dumps -> EquiGlass snapshot HDF5 (format version 1).

Used two ways:
  * as a module by tools/generate_ka.py (readers for data files and dumps, and the HDF5 writer
    `write_snapshot_file`, which is the single place that knows the file layout of
    notes/FORMAT.md / docs/data-format.md);
  * as a command that turns LAMMPS configurations into a snapshot file without propensity
    (a file used only for prediction), e.g.

        python3 tools/lammps_to_h5.py --temperature 0.6 --out configs.h5 snap_1.data snap_2.data
        python3 tools/lammps_to_h5.py --temperature 0.6 --out configs.h5 \
            snap_1.data snap_2.data --inherent ih_1.dump ih_2.dump

    Inputs may be data files (atom_style atomic, `write_data` output) or `dump custom` text files
    with columns id type x y z (any of x/xu/xs); the last frame of a dump is used. An inherent
    dump with a `c_pe`-like column (named by --epot-column) also gives scalars/epot_inherent.

LAMMPS types 1, 2, ... become species 0, 1, ...; particles are sorted by atom id; positions are
shifted so that the box origin is 0 (FORMAT.md: orthorhombic box, origin 0).
"""

import argparse
import json
import os
import socket
import sys
import datetime

import numpy as np

FORMAT_NAME = "equiglass-snapshots"
FORMAT_VERSION = 1


class LammpsFormatError(ValueError):
    """A LAMMPS file that this reader cannot interpret; the message names the file."""


# ----------------------------------------------------------------------------------------------
# LAMMPS data files
# ----------------------------------------------------------------------------------------------

def read_lammps_data(path):
    """Read an orthorhombic `atom_style atomic` LAMMPS data file.

    Returns a dict with
      lo, hi     float64 [3]   box bounds
      ids        int64   [N]   atom ids, sorted ascending (all arrays follow this order)
      types      int64   [N]   LAMMPS types (1-based)
      positions  float64 [N,3] as written (inside the box)
      images     int64   [N,3] image flags (zeros if the file has none)
      velocities float64 [N,3] or None
    """
    with open(path, "r") as f:
        lines = f.read().splitlines()
    natoms = None
    lo = [None] * 3
    hi = [None] * 3
    i = 1  # the first line is a comment by definition
    while i < len(lines):
        line = lines[i].split("#")[0].strip()
        if not line:
            i += 1
            continue
        words = line.split()
        if len(words) >= 2 and words[1] == "atoms":
            natoms = int(words[0])
        elif len(words) == 4 and words[2:] in (["xlo", "xhi"], ["ylo", "yhi"], ["zlo", "zhi"]):
            axis = "xyz".index(words[2][0])
            lo[axis], hi[axis] = float(words[0]), float(words[1])
        elif len(words) >= 3 and words[-3:] == ["xy", "xz", "yz"]:
            if any(float(w) != 0.0 for w in words[:3]):
                raise LammpsFormatError(f"{path}: triclinic boxes are not supported")
        elif words[0][0].isalpha():
            break  # first section header
        i += 1
    if natoms is None or None in lo or None in hi:
        raise LammpsFormatError(f"{path}: header lacks 'atoms' count or box bounds")

    sections = {}
    while i < len(lines):
        header = lines[i].split("#")[0].strip()
        if not header:
            i += 1
            continue
        i += 1
        while i < len(lines) and not lines[i].strip():
            i += 1
        rows = []
        while i < len(lines) and lines[i].strip():
            rows.append(lines[i].split("#")[0].split())
            i += 1
        sections[header] = rows

    if "Atoms" not in sections:
        raise LammpsFormatError(f"{path}: no 'Atoms' section")
    atoms = sections["Atoms"]
    if len(atoms) != natoms:
        raise LammpsFormatError(f"{path}: header says {natoms} atoms, Atoms section has {len(atoms)}")
    ncol = {len(r) for r in atoms}
    if ncol not in ({5}, {8}):
        raise LammpsFormatError(f"{path}: Atoms rows must have 5 or 8 columns (atomic style), got {sorted(ncol)}")
    table = np.array(atoms, dtype=float)
    order = np.argsort(table[:, 0], kind="stable")
    table = table[order]
    ids = table[:, 0].astype(np.int64)
    out = {
        "lo": np.array(lo, dtype=np.float64),
        "hi": np.array(hi, dtype=np.float64),
        "ids": ids,
        "types": table[:, 1].astype(np.int64),
        "positions": table[:, 2:5].copy(),
        "images": table[:, 5:8].astype(np.int64) if table.shape[1] == 8 else np.zeros((natoms, 3), np.int64),
        "velocities": None,
    }
    if "Velocities" in sections:
        v = np.array(sections["Velocities"], dtype=float)
        vmap = {int(r[0]): r[1:4] for r in v}
        out["velocities"] = np.array([vmap[int(k)] for k in ids], dtype=np.float64)
    return out


# ----------------------------------------------------------------------------------------------
# LAMMPS text dumps (dump custom / write_dump custom)
# ----------------------------------------------------------------------------------------------

def read_lammps_dump(path):
    """Read every frame of a `dump custom` text file.

    Returns a list of frames, each a dict with
      timestep  int
      lo, hi    float64 [3]
      columns   dict name -> float64 [N] (rows sorted by the `id` column when present)
    """
    frames = []
    with open(path, "r") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        try:
            if lines[i].strip() != "ITEM: TIMESTEP":
                raise LammpsFormatError(f"{path}: line {i + 1}: expected 'ITEM: TIMESTEP'")
            timestep = int(lines[i + 1])
            if not lines[i + 2].startswith("ITEM: NUMBER OF ATOMS"):
                raise LammpsFormatError(f"{path}: line {i + 3}: expected 'ITEM: NUMBER OF ATOMS'")
            n = int(lines[i + 3])
            if not lines[i + 4].startswith("ITEM: BOX BOUNDS"):
                raise LammpsFormatError(f"{path}: line {i + 5}: expected 'ITEM: BOX BOUNDS'")
            if "xy" in lines[i + 4].split():
                raise LammpsFormatError(f"{path}: triclinic boxes are not supported")
            bounds = np.array([[float(w) for w in lines[i + 5 + a].split()[:2]] for a in range(3)])
            head = lines[i + 8].split()
            if head[:2] != ["ITEM:", "ATOMS"]:
                raise LammpsFormatError(f"{path}: line {i + 9}: expected 'ITEM: ATOMS ...'")
            names = head[2:]
            body = lines[i + 9:i + 9 + n]
        except (IndexError, ValueError) as e:
            raise LammpsFormatError(f"{path}: truncated or malformed frame header near line {i + 1} ({e})")
        if len(body) != n:
            raise LammpsFormatError(f"{path}: frame at timestep {timestep} is truncated ({len(body)} of {n} rows)")
        table = np.array([r.split() for r in body], dtype=float).reshape(n, len(names))
        if "id" in names:
            table = table[np.argsort(table[:, names.index("id")], kind="stable")]
        frames.append({
            "timestep": timestep,
            "lo": bounds[:, 0].copy(),
            "hi": bounds[:, 1].copy(),
            "columns": {name: table[:, k].copy() for k, name in enumerate(names)},
        })
        i += 9 + n
    return frames


def dump_positions(frame, path="dump"):
    """Positions [N,3] of a dump frame, unscaled, from x/y/z, xu/yu/zu or xs/ys/zs columns."""
    c = frame["columns"]
    length = frame["hi"] - frame["lo"]
    for names, scaled in ((("x", "y", "z"), False), (("xu", "yu", "zu"), False), (("xs", "ys", "zs"), True)):
        if all(n in c for n in names):
            r = np.stack([c[n] for n in names], axis=1)
            return frame["lo"] + r * length if scaled else r
    raise LammpsFormatError(f"{path}: dump has no x y z / xu yu zu / xs ys zs columns")


# ----------------------------------------------------------------------------------------------
# The HDF5 writer (format version 1)
# ----------------------------------------------------------------------------------------------

def write_snapshot_file(path, snapshots, temperature, times=None, propensity_runs=0,
                        propensity_definition="", source="lammps", provenance=None,
                        species_names="A,B", time_unit="tau_LJ", compression="gzip",
                        extra_attrs=None):
    """Write S snapshots to `path` in the EquiGlass snapshot format, version 1.

    snapshots: list of dicts with
      positions          float [N,3]  origin-0 box coordinates (any periodic image)
      species            int   [N]    0-based
      box                float [3]    edge lengths
      positions_inherent float [N,3]  optional (all snapshots or none)
      propensity         float [N,T]  optional (all snapshots or none); requires `times`
      scalars            dict name -> float [N], optional (same names in every snapshot)
    The file is written to a temporary name and renamed, so a crash never leaves a half file.
    """
    import h5py

    if not snapshots:
        raise ValueError(f"{path}: no snapshots to write")
    counts = [len(s["species"]) for s in snapshots]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    has_inherent = [("positions_inherent" in s and s["positions_inherent"] is not None) for s in snapshots]
    has_prop = [("propensity" in s and s["propensity"] is not None) for s in snapshots]
    if len(set(has_inherent)) > 1 or len(set(has_prop)) > 1:
        raise ValueError(f"{path}: positions_inherent/propensity must be present in all snapshots or none")
    scalar_names = sorted(snapshots[0].get("scalars", {}) or {})
    for s in snapshots:
        if sorted(s.get("scalars", {}) or {}) != scalar_names:
            raise ValueError(f"{path}: every snapshot must carry the same scalars")
    if has_prop[0] and times is None:
        raise ValueError(f"{path}: propensity needs the time grid")

    box = np.array([np.asarray(s["box"], dtype=np.float64) for s in snapshots])
    volume = np.prod(box, axis=1)
    density = float(np.mean(np.array(counts) / volume))

    def cat(key, dtype):
        return np.concatenate([np.asarray(s[key], dtype=dtype) for s in snapshots])

    tmp = path + ".tmp"
    kw = {"compression": compression, "shuffle": True} if compression else {}
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT_NAME
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["temperature"] = np.float64(temperature)
        f.attrs["density"] = np.float64(density)
        f.attrs["species_names"] = species_names
        f.attrs["time_unit"] = time_unit
        f.attrs["propensity_definition"] = propensity_definition
        f.attrs["propensity_runs"] = np.int64(propensity_runs)
        f.attrs["source"] = source
        f.attrs["provenance"] = json.dumps(provenance or {}, sort_keys=True)
        for k, v in (extra_attrs or {}).items():
            f.attrs[k] = v
        f.create_dataset("snapshot_offsets", data=offsets)
        f.create_dataset("box", data=box)
        f.create_dataset("positions", data=cat("positions", np.float64), **kw)
        if has_inherent[0]:
            f.create_dataset("positions_inherent", data=cat("positions_inherent", np.float64), **kw)
        f.create_dataset("species", data=cat("species", np.int32), **kw)
        if times is not None:
            f.create_dataset("times", data=np.asarray(times, dtype=np.float64))
        if has_prop[0]:
            f.create_dataset("propensity", data=cat("propensity", np.float32), **kw)
        if scalar_names:
            g = f.create_group("scalars")
            for name in scalar_names:
                g.create_dataset(name, data=np.concatenate(
                    [np.asarray(s["scalars"][name], dtype=np.float64) for s in snapshots]), **kw)
    os.replace(tmp, path)


def origin_zero(positions, lo):
    """Shift positions so that the box starts at 0 (the format's convention)."""
    return np.asarray(positions, dtype=np.float64) - np.asarray(lo, dtype=np.float64)


# ----------------------------------------------------------------------------------------------
# Command line: configurations -> prediction file
# ----------------------------------------------------------------------------------------------

def load_configuration(path):
    """(ids, types, positions origin-0, box) from a data file or the last frame of a dump."""
    with open(path, "r") as f:
        first = f.readline()
    if first.startswith("ITEM: TIMESTEP"):
        frame = read_lammps_dump(path)[-1]
        c = frame["columns"]
        for need in ("id", "type"):
            if need not in c:
                raise LammpsFormatError(f"{path}: dump lacks the '{need}' column")
        return (c["id"].astype(np.int64), c["type"].astype(np.int64),
                origin_zero(dump_positions(frame, path), frame["lo"]), frame["hi"] - frame["lo"], frame)
    d = read_lammps_data(path)
    return d["ids"], d["types"], origin_zero(d["positions"], d["lo"]), d["hi"] - d["lo"], None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("configs", nargs="+", help="LAMMPS data files or dumps, one per snapshot")
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.add_argument("--temperature", type=float, required=True, help="temperature (LJ units)")
    p.add_argument("--inherent", nargs="*", default=None,
                   help="inherent-structure dumps/data files, one per config, same order")
    p.add_argument("--epot-column", default="c_pe",
                   help="per-atom energy column of the inherent dumps (default c_pe) -> scalars/epot_inherent")
    p.add_argument("--species-names", default="A,B")
    args = p.parse_args(argv)
    if args.inherent is not None and len(args.inherent) != len(args.configs):
        p.error("--inherent needs exactly one file per configuration")

    snaps = []
    try:
        for k, path in enumerate(args.configs):
            ids, types, pos, box, _ = load_configuration(path)
            s = {"positions": pos, "species": types - 1, "box": box}
            if args.inherent is not None:
                ids2, types2, pos2, box2, frame = load_configuration(args.inherent[k])
                if not (np.array_equal(ids, ids2) and np.array_equal(types, types2)):
                    raise LammpsFormatError(f"{args.inherent[k]}: atoms differ from {path}")
                s["positions_inherent"] = pos2
                if frame is not None and args.epot_column in frame["columns"]:
                    s["scalars"] = {"epot_inherent": frame["columns"][args.epot_column]}
            snaps.append(s)
    except (OSError, LammpsFormatError) as e:
        sys.exit(f"lammps_to_h5: {e}")
    prov = {"command": " ".join([sys.executable] + sys.argv), "inputs": args.configs,
            "inherent": args.inherent, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "host": socket.gethostname(), "tool": "tools/lammps_to_h5.py"}
    write_snapshot_file(args.out, snaps, args.temperature, source="lammps", provenance=prov,
                        species_names=args.species_names)
    print(f"wrote {args.out}: {len(snaps)} snapshots, {sum(len(s['species']) for s in snaps)} particles")


if __name__ == "__main__":
    main()
