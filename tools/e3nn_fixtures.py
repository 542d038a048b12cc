#!/usr/bin/env python3
"""Write e3nn reference values for the EquivariantNet parity tests.

Needs torch and e3nn >= 0.5 (pip install e3nn torch). Not run by CI: its output,
Tests/EquivariantNetTests/Fixtures/e3nn_blocks.json, is committed.

    python3 tools/e3nn_fixtures.py [--out PATH]

Every array is written in e3nn's own layout (irreps blocks mul-major, m-minor); the Swift tests
convert to EquivariantNet's layout (channels fastest) with Irreps.fromE3nn. All values are float64
printed with repr (round-trip exact). Inputs are drawn from a seeded numpy generator, so the file is
reproducible.
"""
import argparse
import json
import math
import os

import numpy as np
import torch

import e3nn
from e3nn import o3, nn

torch.set_default_dtype(torch.float64)
rng = np.random.default_rng(20261127)


def t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


def flat(x):
    return [float(v) for v in np.asarray(x.detach() if torch.is_tensor(x) else x, dtype=np.float64).reshape(-1)]


def irreps_string(channels):
    return "+".join(f"{c}x{l}e" for l, c in enumerate(channels) if c > 0)


def spherical_harmonics_fixture():
    lmax = 6
    vectors = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.3, -1.2, 0.7],
               [-2.0, 0.5, 1.5], [0.1, 0.2, -0.05]] + rng.normal(size=(4, 3)).tolist()
    sh = o3.spherical_harmonics(list(range(lmax + 1)), t(vectors), normalize=True, normalization="component")
    return {"lmax": lmax, "vectors": flat(t(vectors)), "values": flat(sh)}


def wigner_3j_fixture():
    tables = []
    triples = [(a, b, c) for a in range(4) for b in range(4) for c in range(4) if abs(a - b) <= c <= a + b]
    triples += [(4, 4, 4), (6, 6, 6), (5, 3, 4), (6, 2, 5), (3, 6, 4), (6, 6, 0), (1, 5, 6)]
    for (a, b, c) in triples:
        tables.append({"l1": a, "l2": b, "l3": c, "values": flat(o3.wigner_3j(a, b, c))})
    return tables


def tensor_product_fixture():
    C, lmax = 3, 3
    irreps_in = o3.Irreps(irreps_string([C] * (lmax + 1)))
    irreps_sh = o3.Irreps.spherical_harmonics(lmax, p=1)  # 1x0e+1x1e+1x2e+1x3e
    irreps_out = o3.Irreps(irreps_string([C] * (lmax + 1)))
    # Paths ordered by l1, then l2, then l3 (EquivariantNet's order).
    instructions = []
    for l1 in range(lmax + 1):
        for l2 in range(lmax + 1):
            for l3 in range(lmax + 1):
                if abs(l1 - l2) <= l3 <= l1 + l2:
                    instructions.append((l1, l2, l3, "uvu", True))
    tp = o3.TensorProduct(irreps_in, irreps_sh, irreps_out, instructions, shared_weights=False,
                          internal_weights=False, irrep_normalization="component",
                          path_normalization="element")
    # A small graph, edges sorted by receiver (CSR).
    nodes = 4
    receivers = [0, 0, 1, 2, 2, 2, 3]
    senders = [1, 3, 0, 0, 1, 3, 2]
    edges = len(senders)
    h = rng.normal(size=(nodes, irreps_in.dim))
    vectors = rng.normal(size=(edges, 3))
    weights = rng.normal(size=(edges, tp.weight_numel))
    scale = 1 / math.sqrt(1.75)
    sh = o3.spherical_harmonics(irreps_sh, t(vectors), normalize=True, normalization="component")
    per_edge = tp(t(h)[senders], sh, t(weights))
    out = torch.zeros(nodes, irreps_out.dim).index_add_(0, torch.tensor(receivers), per_edge) * scale
    return {"channels": C, "lmax": lmax, "irreps_in": str(irreps_in), "irreps_out": str(irreps_out),
            "instructions": [list(i[:3]) for i in instructions], "weight_numel": tp.weight_numel,
            "nodes": nodes, "receivers": receivers, "senders": senders, "scale": scale,
            "features": flat(h), "vectors": flat(vectors), "weights": flat(weights),
            "output": flat(out)}


def linear_fixture():
    cin, cout = [3, 3, 3, 3], [12, 3, 2, 3]
    irreps_in, irreps_out = o3.Irreps(irreps_string(cin)), o3.Irreps(irreps_string(cout))
    lin = o3.Linear(irreps_in, irreps_out)
    w = rng.normal(size=lin.weight.shape)
    with torch.no_grad():
        lin.weight.copy_(t(w))
    x = rng.normal(size=(4, irreps_in.dim))
    return {"channels_in": cin, "channels_out": cout, "weights": flat(w), "count": 4,
            "input": flat(x), "output": flat(lin(t(x)))}


def gate_fixture():
    C = 3
    gate = nn.Gate(f"{C}x0e", [torch.nn.functional.silu], f"{3 * C}x0e", [torch.sigmoid],
                   f"{C}x1e+{C}x2e+{C}x3e")
    x = rng.normal(size=(4, gate.irreps_in.dim))
    return {"scalars": C, "gated": [C, C, C], "irreps_in": str(gate.irreps_in),
            "irreps_out": str(gate.irreps_out), "count": 4, "input": flat(x), "output": flat(gate(t(x)))}


def fully_connected_fixture():
    sizes = [5, 7, 6, 4]
    fc = nn.FullyConnectedNet(sizes, torch.nn.functional.silu)
    weights = []
    with torch.no_grad():
        for layer in fc:
            w = rng.normal(size=layer.weight.shape)  # (h_in, h_out)
            layer.weight.copy_(t(w))
            weights += flat(w)
    x = rng.normal(size=(3, sizes[0]))
    return {"sizes": sizes, "activation": "silu", "weights": weights, "rows": 3,
            "input": flat(x), "output": flat(fc(t(x)))}


def constants_fixture():
    return {"silu": float(e3nn.math.normalize2mom(torch.nn.functional.silu).cst),
            "sigmoid": float(e3nn.math.normalize2mom(torch.sigmoid).cst)}


def wigner_d_fixture():
    cases = []
    for (a, b, c) in [(0.3, 1.1, -0.7), (2.5, -0.4, 4.0)]:
        angles = (t(a), t(b), t(c))
        cases.append({"angles": [a, b, c], "matrix": flat(o3.angles_to_matrix(*angles)),
                      "D": [flat(o3.wigner_D(l, *angles)) for l in range(5)]})
    return cases


def bessel_fixture():
    r = np.array([0.05, 0.3, 0.9, 1.37, 1.99])
    values = e3nn.math.soft_one_hot_linspace(t(r), 0.0, 2.0, 8, basis="bessel", cutoff=True)
    return {"cutoff": 2.0, "count": 8, "distances": flat(r), "bessel": flat(values)}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "Tests", "EquivariantNetTests", "Fixtures", "e3nn_blocks.json")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default)
    args = parser.parse_args()
    data = {
        "e3nn_version": e3nn.__version__, "torch_version": torch.__version__,
        "spherical_harmonics": spherical_harmonics_fixture(),
        "wigner_3j": wigner_3j_fixture(),
        "tensor_product": tensor_product_fixture(),
        "linear": linear_fixture(),
        "gate": gate_fixture(),
        "fully_connected": fully_connected_fixture(),
        "normalize2mom": constants_fixture(),
        "bessel": bessel_fixture(),
        "wigner_D": wigner_d_fixture(),
    }
    with open(args.out, "w") as f:
        json.dump(data, f)
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes)")


if __name__ == "__main__":
    main()
