#!/usr/bin/env python3
"""Build the network of docs/model.md in e3nn and export a parity fixture.

The fixture lets the Swift model be checked value for value against e3nn:

    Tests/EquivariantNetTests/Fixtures/model/parity.json     configuration, snapshot, graph
                                                              statistics, e3nn's predictions,
                                                              per-layer feature checks
    Tests/EquivariantNetTests/Fixtures/model/parameters.f32  the weights, little-endian Float32,
                                                              in EquivariantNet's flat layout
    Tests/EquivariantNetTests/Fixtures/model/gradient.f32    the gradient of a training loss
                                                              (see "loss" in parity.json), same layout

With --vectors V (and --scalars E) the network also reads V extra per-particle vectors (irreps
l = 1, e.g. r_IS - r) and E extra scalars: the embedding maps them to C scalars and C vectors,
so the first interaction layer starts from a vector field (fixture folder model-vectors/).

The weights are drawn N(0, 1) (as e3nn initialises them), rounded to Float32 so that both sides
see exactly the same numbers, and the network then runs in float64.

Flat parameter layout (the order `ParameterLayout` in Swift uses; every matrix row-major
[fan_in, fan_out], as e3nn stores them):

    embedding                 (n_species + n_extra) x C
                              then n_vectors x C (only with extra vectors: l = 1 -> l = 1)
    for each layer k = 0 ..< K:
      self.l0                 C x 4C           (C activated scalars + 3C gates)
      self.l1 .. self.l3      C x C            (layer 0: only the l its input has: l = 0, and
                                               l = 1 with extra vectors)
      radial.w1               n_basis x 16
      radial.w2               16 x 16
      radial.w3               16 x (paths_k * C)    column index = path * C + channel
      post.l0                 C x 4C
      post.l1 .. post.l3      C x C
    decoder.w1                C x 32
    decoder.w2                32 x 32
    decoder.w3                32 x (n_species * n_times)   column index = species * T + time

Tensor-product paths are ordered l1, then l2, then l3 (lexicographic), keeping every l3 with
|l1 - l2| <= l3 <= min(l1 + l2, lmax); layer 0's input has l1 = 0 only (l1 = 0, 1 with vectors).

Usage: python3 tools/e3nn_model.py [--out DIR] [--seed S] [--scalars E --vectors V]
"""

import argparse
import json
import math
import os

import numpy as np
import torch
from e3nn import o3, nn

torch.set_default_dtype(torch.float64)


# ---------------------------------------------------------------- configuration (the defaults of docs/model.md)

CONFIG = dict(
    channels=8,
    lmax=3,
    layers=8,
    cutoff=2.0,
    radial_basis=8,
    envelope_p=6,
    radial_hidden=[16, 16],
    decoder_hidden=[32, 32],
    times=[0.1, 0.5, 2.0, 5.0, 12.0, 30.0],
    n_species=2,
    n_extra_scalars=0,
    n_extra_vectors=0,
)


def hidden_irreps(c, lmax):
    return o3.Irreps("+".join(f"{c}x{l}e" for l in range(lmax + 1)))


def paths(l1s, lmax):
    """Tensor-product paths (l1, l2, l3), l1 then l2 then l3."""
    out = []
    for l1 in l1s:
        for l2 in range(lmax + 1):
            for l3 in range(abs(l1 - l2), min(l1 + l2, lmax) + 1):
                out.append((l1, l2, l3))
    return out


def radial_embedding(r, cfg):
    """8 Bessel functions sqrt(2/rc) sin(n pi r/rc)/r times the polynomial envelope (p = 6)."""
    rc, nb, p = cfg["cutoff"], cfg["radial_basis"], cfg["envelope_p"]
    n = torch.arange(1, nb + 1, dtype=r.dtype)
    bessel = math.sqrt(2.0 / rc) * torch.sin(n * math.pi * r[:, None] / rc) / r[:, None]
    x = r / rc
    env = 1 - (p + 1) * (p + 2) / 2 * x**p + p * (p + 2) * x ** (p + 1) - p * (p + 1) / 2 * x ** (p + 2)
    env = torch.where(x < 1, env, torch.zeros_like(env))
    return bessel * env[:, None]


class Interaction(torch.nn.Module):
    def __init__(self, irreps_in, cfg):
        super().__init__()
        c, lmax = cfg["channels"], cfg["lmax"]
        hid = hidden_irreps(c, lmax)
        sh = o3.Irreps("+".join(f"1x{l}e" for l in range(lmax + 1)))
        z_irreps = o3.Irreps(f"{4 * c}x0e+" + "+".join(f"{c}x{l}e" for l in range(1, lmax + 1)))
        self.self_linear = o3.Linear(irreps_in, z_irreps)
        l1s = [ir.l for _, ir in irreps_in]
        self.paths = paths(l1s, lmax)
        instructions = [(l1s.index(l1), l2, l3, "uvu", True) for (l1, l2, l3) in self.paths]
        self.tp = o3.TensorProduct(irreps_in, sh, hid, instructions,
                                   shared_weights=False, internal_weights=False)
        self.radial = nn.FullyConnectedNet([cfg["radial_basis"]] + cfg["radial_hidden"] + [self.tp.weight_numel],
                                           torch.nn.functional.silu)
        self.post_linear = o3.Linear(hid, z_irreps)
        self.gate = nn.Gate(f"{c}x0e", [torch.nn.functional.silu],
                            f"{3 * c}x0e", [torch.sigmoid],
                            "+".join(f"{c}x{l}e" for l in range(1, lmax + 1)))

    def forward(self, h, senders, receivers, sh, emb, avg_neighbors):
        s = self.self_linear(h)
        w = self.radial(emb)
        msg = self.tp(h[senders], sh, w)
        m = torch.zeros(h.shape[0], msg.shape[1]).index_add_(0, receivers, msg) / math.sqrt(avg_neighbors)
        z = self.post_linear(m) + s
        return self.gate(z)


class Model(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c, lmax = cfg["channels"], cfg["lmax"]
        n_in, n_vec = cfg["n_species"] + cfg["n_extra_scalars"], cfg["n_extra_vectors"]
        self.cfg = cfg
        if n_vec:
            first = o3.Irreps(f"{c}x0e+{c}x1e")
            self.embedding = o3.Linear(f"{n_in}x0e+{n_vec}x1e", first)
        else:
            first = o3.Irreps(f"{c}x0e")
            self.embedding = o3.Linear(f"{n_in}x0e", first)
        layers = [Interaction(first, cfg)]
        for _ in range(cfg["layers"] - 1):
            layers.append(Interaction(hidden_irreps(c, lmax), cfg))
        self.layers = torch.nn.ModuleList(layers)
        self.decoder = nn.FullyConnectedNet([c] + cfg["decoder_hidden"] + [cfg["n_species"] * len(cfg["times"])],
                                            torch.nn.functional.silu)

    def flat_parameters(self):
        """Every weight in EquivariantNet's flat layout (see the module docstring)."""
        parts = [self.embedding.weight]
        for layer in self.layers:
            parts += [layer.self_linear.weight]
            parts += [lay.weight.reshape(-1) for lay in layer.radial]
            parts += [layer.post_linear.weight]
        parts += [lay.weight.reshape(-1) for lay in self.decoder]
        return torch.cat([p.reshape(-1) for p in parts])

    def forward(self, species, extra, senders, receivers, vectors, avg_neighbors, record=None,
                extra_vectors=None):
        """extra: [N, E] scalars; extra_vectors: [N, V, 3], each vector (x, y, z) like Y^1's order."""
        cfg = self.cfg
        lmax = cfg["lmax"]
        x = torch.nn.functional.one_hot(species, cfg["n_species"]).to(torch.float64)
        if extra is not None:
            x = torch.cat([x, extra], dim=1)
        if extra_vectors is not None:
            x = torch.cat([x, extra_vectors.reshape(len(species), -1)], dim=1)
        h = self.embedding(x)
        if record is not None:
            record.append(h)
        r = vectors.norm(dim=1)
        sh = o3.spherical_harmonics(o3.Irreps("+".join(f"1x{l}e" for l in range(lmax + 1))),
                                    vectors, normalize=True, normalization="component")
        emb = radial_embedding(r, cfg)
        for layer in self.layers:
            h = layer(h, senders, receivers, sh, emb, avg_neighbors)
            if record is not None:
                record.append(h)
        out = self.decoder(h[:, : cfg["channels"]])
        T = len(cfg["times"])
        out = out.reshape(-1, cfg["n_species"], T)
        return out[torch.arange(out.shape[0]), species]


# ---------------------------------------------------------------- a small KA-like snapshot

def make_snapshot(rng, cells=5, density=1.2, fraction_a=0.8, jitter=0.25):
    """A jittered simple-cubic lattice at the KA density: no two particles very close."""
    n = cells**3
    L = (n / density) ** (1.0 / 3.0)
    a = L / cells
    grid = np.stack(np.meshgrid(*[np.arange(cells)] * 3, indexing="ij"), -1).reshape(-1, 3)
    pos = (grid + 0.5 + jitter * rng.uniform(-1, 1, size=(n, 3))) * a
    pos = np.mod(pos, L)
    species = (rng.uniform(size=n) > fraction_a).astype(np.int64)
    return pos, np.array([L, L, L]), species


def edges(pos, box, rc):
    """Directed edges j -> i with minimum-image 0 < |r_ij| < rc, r_ij = x_j - x_i; sorted by receiver."""
    d = pos[None, :, :] - pos[:, None, :]  # d[i, j] = x_j - x_i
    d -= box * np.round(d / box)
    r = np.linalg.norm(d, axis=-1)
    mask = (r < rc) & (r > 0)
    recv, send = np.nonzero(mask)  # row-major: sorted by receiver, then sender
    return send, recv, d[recv, send]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests",
                                                      "EquivariantNetTests", "Fixtures", "model"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scalars", type=int, default=0, help="extra per-particle scalars E")
    parser.add_argument("--vectors", type=int, default=0, help="extra per-particle vectors V")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    cfg = dict(CONFIG, n_extra_scalars=args.scalars, n_extra_vectors=args.vectors)
    model = Model(cfg)
    # Round every weight to Float32 so that the Swift side holds exactly the same numbers.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.float32).to(torch.float64))
    flat = model.flat_parameters().detach()
    n_params = sum(p.numel() for p in model.parameters())
    assert flat.numel() == n_params, (flat.numel(), n_params)

    # 64 particles at density 0.95: box 4.06 >= 2 r_c, ~32 neighbours each; small enough for a
    # debug-build test, dense enough that every particle has many neighbours.
    pos, box, species = make_snapshot(rng, cells=4, density=0.95)
    send, recv, vec = edges(pos, box, cfg["cutoff"])
    avg_neighbors = len(send) / len(pos)
    # Extra inputs as the network sees them (standardised), rounded to float32 like the weights.
    n = len(pos)
    extra = rng.normal(size=(n, args.scalars)).astype(np.float32).astype(np.float64) if args.scalars else None
    extra_vectors = (rng.normal(size=(n, args.vectors, 3)).astype(np.float32).astype(np.float64)
                     if args.vectors else None)
    inputs = dict(extra=None if extra is None else torch.tensor(extra),
                  extra_vectors=None if extra_vectors is None else torch.tensor(extra_vectors))

    record = []
    with torch.no_grad():
        pred = model(torch.tensor(species), inputs["extra"], torch.tensor(send), torch.tensor(recv),
                     torch.tensor(vec), avg_neighbors, record, extra_vectors=inputs["extra_vectors"])

    # The gradient of the training loss: mean over species-A particles and all times of
    # (prediction - target)^2, with made-up standardised targets target[i, t] = sin(i + 2t).
    T = len(cfg["times"])
    targets = torch.sin(torch.arange(len(pos))[:, None] + 2.0 * torch.arange(T)[None, :])
    mask = torch.tensor(species == 0)
    model.zero_grad()
    out = model(torch.tensor(species), inputs["extra"], torch.tensor(send), torch.tensor(recv), torch.tensor(vec),
                avg_neighbors, extra_vectors=inputs["extra_vectors"])
    loss = ((out - targets)[mask] ** 2).sum() / (mask.sum() * T)
    loss.backward()
    grads = []
    for name in ["embedding"]:
        grads.append(model.embedding.weight.grad)
    for layer in model.layers:
        grads += [layer.self_linear.weight.grad] + [lay.weight.grad.reshape(-1) for lay in layer.radial]
        grads += [layer.post_linear.weight.grad]
    grads += [lay.weight.grad.reshape(-1) for lay in model.decoder]
    flat_grad = torch.cat([g.reshape(-1) for g in grads]).detach()

    os.makedirs(args.out, exist_ok=True)
    flat.to(torch.float32).numpy().astype("<f4").tofile(os.path.join(args.out, "parameters.f32"))
    flat_grad.to(torch.float32).numpy().astype("<f4").tofile(os.path.join(args.out, "gradient.f32"))
    fixture = dict(
        description="e3nn " + __import__("e3nn").__version__ + " build of docs/model.md; "
                    "weights in parameters.f32 (flat layout of tools/e3nn_model.py); float64 forward",
        config=cfg,
        parameter_count=n_params,
        box=box.tolist(),
        positions=pos.tolist(),
        species=species.tolist(),
        # Standardised extra inputs, [N][E] and [N][V][3] (x, y, z).
        extra_scalars=[] if extra is None else extra.tolist(),
        extra_vectors=[] if extra_vectors is None else extra_vectors.tolist(),
        edge_count=int(len(send)),
        avg_neighbors=avg_neighbors,
        # Raw network outputs (standardised units), one row of T per particle, its own species.
        predictions=pred.numpy().tolist(),
        # The loss whose gradient (flat layout, float32) is in gradient.f32: species-A mean over
        # all times of (prediction - sin(i + 2t))^2.
        loss=loss.item(),
        # Features after the embedding and after each layer, for the first 3 particles
        # (layout [C scalars][C x 3][C x 5][C x 7], channel-major within each l; after the
        # embedding with extra vectors: [C scalars][C x 3]).
        features_head=[h[:3].numpy().tolist() for h in record],
        features_second_moment=[float(h.pow(2).mean()) for h in record],
    )
    with open(os.path.join(args.out, "parity.json"), "w") as f:
        json.dump(fixture, f)
    print(f"{n_params} parameters, {len(pos)} particles, {len(send)} edges, "
          f"avg_neighbors {avg_neighbors:.3f}; second moments per layer:",
          " ".join(f"{m:.3f}" for m in fixture["features_second_moment"]))


if __name__ == "__main__":
    main()
