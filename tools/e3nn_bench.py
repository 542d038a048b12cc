#!/usr/bin/env python3
"""Time the e3nn build of the reference network (tools/e3nn_model.py) on one snapshot: the peer
of `launcher bench` in docs/benchmarks.md.

The snapshot is the one `launcher bench` times, written by it as JSON:

    launcher bench --particles 1000 --threads 1 --save-snapshot /tmp/ka1000.json
    python3 tools/e3nn_bench.py --snapshot /tmp/ka1000.json --threads 1 --repeats 3 [--json]

A training step is what ours is: forward in float32, the mean squared error over species A and
all times against random targets, backward, one Adam step; the median over --repeats steps after
one warm-up step. Also the median forward pass (no gradient) and the peak resident memory
(getrusage). The graph (edges j -> i with 0 < |r_ij| < r_c, minimum image) is built once, outside
the timing, as ours.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e3nn_model  # noqa: E402  (sets float64 as default; we set float32 below)


def graph(pos, box, rc):
    """Edges j -> i sorted by receiver, r_ij = x_j - x_i (minimum image), by rows to bound memory."""
    send, recv, vec = [], [], []
    for i in range(len(pos)):
        d = pos - pos[i]
        d -= box * np.round(d / box)
        r = np.linalg.norm(d, axis=1)
        js = np.nonzero((r > 0) & (r < rc))[0]
        send.append(js)
        recv.append(np.full(len(js), i))
        vec.append(d[js])
    return np.concatenate(send), np.concatenate(recv), np.concatenate(vec)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", required=True, help="JSON from `launcher bench --save-snapshot`")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float32)
    torch.manual_seed(0)
    with open(args.snapshot) as f:
        snap = json.load(f)
    pos = np.array(snap["positions"], dtype=np.float64).reshape(-1, 3)
    box = np.array(snap["box"], dtype=np.float64)
    species = torch.tensor(snap["species"], dtype=torch.int64)
    cfg = e3nn_model.CONFIG
    send, recv, vec = graph(pos, box, cfg["cutoff"])
    n, e = len(pos), len(send)
    avg_neighbors = e / n
    senders, receivers = torch.tensor(send), torch.tensor(recv)
    vectors = torch.tensor(vec, dtype=torch.float32)

    model = e3nn_model.Model(cfg).to(torch.float32)
    n_params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    times = len(cfg["times"])
    targets = torch.randn(n, times)
    selected = species == 0

    def forward():
        x = torch.nn.functional.one_hot(species, cfg["n_species"]).to(torch.float32)
        # Model.forward converts one-hot to float64; feed float32 by calling its parts as it does.
        h = model.embedding(x)
        lmax = cfg["lmax"]
        sh = e3nn_model.o3.spherical_harmonics(
            e3nn_model.o3.Irreps("+".join(f"1x{l}e" for l in range(lmax + 1))), vectors, normalize=True,
            normalization="component")
        emb = e3nn_model.radial_embedding(vectors.norm(dim=1), cfg)
        for layer in model.layers:
            h = layer(h, senders, receivers, sh, emb, avg_neighbors)
        out = model.decoder(h[:, : cfg["channels"]]).reshape(-1, cfg["n_species"], times)
        return out[torch.arange(n), species]

    def step():
        optimizer.zero_grad()
        pred = forward()
        loss = ((pred[selected] - targets[selected]) ** 2).mean()
        loss.backward()
        optimizer.step()

    def timed(fn):
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1e3

    step()  # warm-up
    train_ms = statistics.median(timed(step) for _ in range(args.repeats))
    with torch.no_grad():
        forward()
        forward_ms = statistics.median(timed(forward) for _ in range(args.repeats))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = dict(implementation=f"e3nn {__import__('e3nn').__version__}, torch {torch.__version__}, float32",
                  particles=n, edges=e, threads=args.threads, parameters=n_params, repeats=args.repeats,
                  train_step_ms=round(train_ms, 1), forward_ms=round(forward_ms, 1), peak_rss_mb=round(peak_mb, 1))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"e3nn: N = {n}, E = {e}, {n_params} parameters, {args.threads} thread(s): "
              f"train step {train_ms:.0f} ms, forward {forward_ms:.0f} ms, peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
