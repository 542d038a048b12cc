#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus: small valid files of each kind the readers take.

    python3 Fuzz/make_corpus.py [OUT]      (OUT defaults to Fuzz/Corpus)

Corpus/npy       .npy arrays: every supported dtype, 0-d, empty, Fortran order, format 1.0/2.0/3.0
Corpus/npz       .npz archives (stored and deflated), GlassBench configurations among them
Corpus/snapshot-layout  byte strings for the structure-aware target (zeros: a valid file)
Corpus/snapshot  snapshot files (docs/data-format.md) in the HDF5 layouts the project meets:
                 h5py's oldest format (no checksums), the writer's 1.8+ format with gzip chunks,
                 variable-length string attributes (h5py's default for str)

Deterministic (fixed seeds), so running it again rewrites the same arrays; HDF5 files may
differ in a few bytes between h5py versions (timestamps are off, but the library version is
not). Needs numpy and h5py.
"""
import io
import os
import sys
import zipfile

import h5py
import numpy as np

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "Corpus")
rng = np.random.default_rng(16)


def folder(name):
    path = os.path.join(OUT, name)
    os.makedirs(path, exist_ok=True)
    for old in os.listdir(path):
        os.remove(os.path.join(path, old))
    return path


def lattice(n, box):
    """n distinct positions in a cubic box (no two closer than the reader's 1e-3)."""
    side = int(np.ceil(n ** (1 / 3)))
    grid = np.array([(i, j, k) for i in range(side) for j in range(side) for k in range(side)][:n], float)
    return (grid + 0.25 + 0.1 * rng.random((n, 3))) * (box / side)


# --- .npy ----------------------------------------------------------------------------------
npy = folder("npy")


def save_npy(name, array, version=None):
    with open(os.path.join(npy, name), "wb") as f:
        np.lib.format.write_array(f, np.asanyarray(array), version=version, allow_pickle=False)


save_npy("f8-2d.npy", rng.normal(size=(4, 3)))
save_npy("f4-1d.npy", rng.normal(size=5).astype("<f4"))
save_npy("i8.npy", np.array([-(2 ** 62), -1, 0, 7], dtype="<i8"))
save_npy("i4-2d.npy", np.arange(6, dtype="<i4").reshape(2, 3))
save_npy("i2.npy", np.array([-300, 300], dtype="<i2"))
save_npy("i1.npy", np.array([-128, 127], dtype="i1"))
save_npy("u1.npy", np.array([0, 255], dtype="u1"))
save_npy("u2.npy", np.array([65535], dtype="<u2"))
save_npy("u4.npy", np.array([2 ** 32 - 1, 1], dtype="<u4"))
save_npy("u8.npy", np.array([2 ** 64 - 1, 3], dtype="<u8"))
save_npy("b1.npy", np.array([True, False, True]))
save_npy("scalar-0d.npy", np.float64(7.5))
save_npy("empty.npy", np.zeros((0, 3)))
save_npy("fortran-3d.npy", np.asfortranarray(np.arange(24.0).reshape(2, 3, 4)))
save_npy("transposed.npy", np.arange(6, dtype="<i4").reshape(2, 3).T)
save_npy("version2.npy", np.arange(3.0), version=(2, 0))
save_npy("version3.npy", np.arange(3, dtype="<i8"), version=(3, 0))
save_npy("big-endian.npy", np.array([1.0], dtype=">f8"))  # an error, a branch worth keeping

# --- .npz ----------------------------------------------------------------------------------
npz = folder("npz")


def glassbench(n, times):
    box = (n / 1.2) ** (1 / 3)
    positions = lattice(n, box)
    return dict(
        types=np.array([1 + (i % 5 == 4) for i in range(n)], dtype="<i8"),
        initial_positions=positions,
        initial_positions_inherent=positions + 0.01,
        md_prop=rng.random((times, n)),
        EPOT=-5 + rng.random(n),
    )


np.savez(os.path.join(npz, "glassbench-stored.npz"), **glassbench(5, 2))
np.savez_compressed(os.path.join(npz, "glassbench-deflated.npz"), **glassbench(6, 3))
minimal = glassbench(3, 1)
del minimal["initial_positions_inherent"], minimal["EPOT"]
np.savez(os.path.join(npz, "glassbench-minimal.npz"), **minimal)
np.savez(os.path.join(npz, "mixed.npz"), a=np.float32(1.5), b=np.asfortranarray(np.ones((2, 2), "<i2")),
         c=np.zeros(0, "u1"))
# A zip64 archive, as numpy writes members larger than 4 GiB (forced here for a small one).
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
    with archive.open("types.npy", "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.array([1, 2], dtype="<i8"))
with open(os.path.join(npz, "zip64.npz"), "wb") as f:
    f.write(buffer.getvalue())

# --- snapshot files ------------------------------------------------------------------------
snapshot = folder("snapshot")


def snapshot_file(name, sizes, times=(0.5, 2.0), inherent=True, scalars=("epot",), libver="earliest",
                  chunks=False, vlen_strings=False):
    def text(value):
        return value if vlen_strings else np.bytes_(value.encode())

    total = sum(sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype("<i8")
    boxes = np.array([[5.0, 5.5, 6.0]] * len(sizes))
    positions = np.concatenate([lattice(n, 5.0) for n in sizes])
    options = dict(chunks=(max(1, min(4, total)),) if chunks else None, compression="gzip" if chunks else None)

    def per_particle(f, key, values):
        shape = values.shape
        kw = {}
        if chunks:
            kw = dict(chunks=(max(1, min(4, total)),) + shape[1:], compression="gzip", compression_opts=4)
        f.create_dataset(key, data=values, **kw)

    with h5py.File(os.path.join(snapshot, name), "w", libver=libver) as f:
        f.attrs["format"] = text("equiglass-snapshots")
        f.attrs["format_version"] = np.int64(1)
        f.attrs["temperature"] = 0.6
        f.attrs["density"] = 1.2
        f.attrs["species_names"] = text("A,B")
        f.attrs["time_unit"] = text("tau_LJ")
        f.attrs["propensity_definition"] = text("fuzz seed")
        f.attrs["propensity_runs"] = np.int64(4)
        f.attrs["source"] = text("make_corpus.py")
        f.attrs["provenance"] = text("{}")
        f["snapshot_offsets"] = offsets
        f["box"] = boxes
        per_particle(f, "positions", positions)
        if inherent:
            per_particle(f, "positions_inherent", positions + 0.01)
        per_particle(f, "species", (np.arange(total) % 2).astype("<i4"))
        if times:
            f["times"] = np.array(times)
            per_particle(f, "propensity", rng.random((total, len(times))).astype("<f4"))
        if scalars:
            group = f.create_group("scalars")
            for key in scalars:
                values = -5 + rng.random(total)
                if chunks:
                    group.create_dataset(key, data=values, chunks=(max(1, min(4, total)),), compression="gzip")
                else:
                    group[key] = values


snapshot_file("full-earliest.h5", [3, 4])
snapshot_file("minimal-earliest.h5", [2], times=(), inherent=False, scalars=())
snapshot_file("writer-like-gzip.h5", [3, 5], libver=("v108", "latest"), chunks=True)
snapshot_file("vlen-strings.h5", [4], vlen_strings=True, scalars=("epot", "epot_inherent"))

# --- snapshot-layout: the decisions FuzzSnapshotLayout reads (zeros: a valid file) --------
layout = folder("snapshot-layout")
with open(os.path.join(layout, "valid.bin"), "wb") as f:
    f.write(bytes(64))
for k in range(4):
    with open(os.path.join(layout, f"random-{k}.bin"), "wb") as f:
        f.write(rng.integers(0, 256, 96, dtype=np.uint8).tobytes())

for kind in ("npy", "npz", "snapshot", "snapshot-layout"):
    path = os.path.join(OUT, kind)
    sizes = [os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)]
    print(f"{kind}: {len(sizes)} files, {sum(sizes)} bytes")
