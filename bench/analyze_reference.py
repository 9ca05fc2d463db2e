#!/usr/bin/python3
"""Reference for bench/analyze_bench.sh: stable rank and normalized SVD entropy of every matrix
of a safetensors file, by the scripts a user would write:
  numpy_gram  the strongest short script: float64 copy, Gram matrix of the smaller side
              (W.T @ W or W @ W.T, which numpy hands to BLAS syrk) and numpy.linalg.eigvalsh
  numpy       numpy.linalg.svd(compute_uv=False) in float64
  torch       torch.linalg.svdvals in float32
Prints one JSON object: per-tensor metrics, the wall and CPU time each backend spent on its
matrices (file reading excluded), the OpenBLAS core, and with --dgemm the dgemm rate of this
process (numpy float64 2048^3, all threads, best of 3) for the machine-limit estimate.

Usage: analyze_reference.py FILE.safetensors [--backends numpy_gram,numpy,torch] [--dgemm]
       analyze_reference.py FILE.safetensors --make-fixture [bench|model|small|small-model]
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np

from blas_core import openblas_core

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        arr = np.frombuffer(data[b:end], dtype=DTYPES[e["dtype"]]).reshape(e["shape"])
        if arr.ndim >= 2:
            out[name] = arr.reshape(arr.shape[0], -1)
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# Fixture shapes. bench: the original four transformer-shaped matrices (largest 11008 x 4096).
# model: two TinyLlama-shaped blocks (q, k, v, o 2048 x 2048; gate, up 5632 x 2048; down
# 2048 x 5632), 14 matrices. small, small-model: the same layouts at 1/8 of the size, for trying
# the benchmark out in seconds.
def fixture_shapes(kind):
    if kind in ("bench", "small"):
        shapes = {
            "blocks.0.attn.c_q.weight": (1024, 1024),
            "blocks.0.mlp.c_fc.weight": (4096, 1024),
            "blocks.0.mlp.c_proj.weight": (1024, 4096),
            "model.layers.0.mlp.up_proj.weight": (11008, 4096),
        }
    elif kind in ("model", "small-model"):
        shapes = {}
        for b in range(2):
            p = f"model.layers.{b}."
            for proj in ("q", "k", "v", "o"):
                shapes[f"{p}self_attn.{proj}_proj.weight"] = (2048, 2048)
            shapes[f"{p}mlp.gate_proj.weight"] = (5632, 2048)
            shapes[f"{p}mlp.up_proj.weight"] = (5632, 2048)
            shapes[f"{p}mlp.down_proj.weight"] = (2048, 5632)
    else:
        raise SystemExit(f"analyze_reference: unknown fixture kind {kind!r} "
                         "(bench, model, small, small-model)")
    if kind.startswith("small"):
        shapes = {k: (m // 8, n // 8) for k, (m, n) in shapes.items()}
    return shapes


def make_fixture(path, kind):
    """Transformer-shaped float32 matrices with a heavy-tailed, spiked spectrum."""
    rng = np.random.default_rng(1234)
    tensors = {}
    for name, (m, n) in fixture_shapes(kind).items():
        w = rng.standard_normal((m, n), dtype=np.float32)
        w *= (np.arange(1, n + 1, dtype=np.float32) ** -0.35)[None, :]  # decaying column scales
        for _ in range(3):  # a few outlier directions, as trained weights have
            w += 2.0 * np.outer(rng.standard_normal(m, dtype=np.float32),
                                rng.standard_normal(n, dtype=np.float32)) / math.sqrt(n)
        tensors[name] = w.astype(np.float32) / math.sqrt(n)
    write_safetensors(path, tensors)


def metrics(s):
    s = np.asarray(s, dtype=np.float64)
    s2 = s * s
    tot = s2.sum()
    p = s2[s2 > 0] / tot
    return {"stable_rank": float(tot / s2.max()),
            "svd_entropy": float(-(p * np.log(p)).sum() / math.log(len(s)))}


def dgemm_rate(n=2048, repeats=3):
    """Best-of-`repeats` float64 n^3 matmul in this process: GFLOP/s wall and per CPU second."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    a @ b  # warm-up: thread pool, pages
    best_w = best_c = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        a @ b
        best_w = min(best_w, time.perf_counter() - t0)
        best_c = min(best_c, time.process_time() - c0)
    flops = 2.0 * n ** 3
    return {"n": n, "gflops": flops / best_w * 1e-9, "gflops_per_cpu_s": flops / best_c * 1e-9}


def gram_eigenvalues(w):
    w = w.astype(np.float64)
    g = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    return np.sqrt(np.clip(np.linalg.eigvalsh(g), 0, None))


def main():
    path = sys.argv[1]
    if "--make-fixture" in sys.argv:
        i = sys.argv.index("--make-fixture")
        make_fixture(path, sys.argv[i + 1] if len(sys.argv) > i + 1 else "bench")
        return
    backends = ["numpy_gram", "numpy", "torch"]
    if "--backends" in sys.argv:
        backends = sys.argv[sys.argv.index("--backends") + 1].split(",")
    mats = read_safetensors(path)
    result = {"tensors": {k: {} for k in mats}, "seconds": {}, "cpu_seconds": {},
              "shapes": {k: list(w.shape) for k, w in mats.items()}}
    runners = {
        "numpy_gram": gram_eigenvalues,
        "numpy": lambda w: np.linalg.svd(w.astype(np.float64), compute_uv=False),
    }
    for backend in backends:
        if backend == "torch":
            import torch
            torch.set_num_threads(os.cpu_count())
            runners["torch"] = lambda w: torch.linalg.svdvals(
                torch.from_numpy(np.array(w, dtype=np.float32))).numpy()
        if backend not in runners:
            raise SystemExit(f"analyze_reference: unknown backend {backend!r}")
        t0, c0 = time.perf_counter(), time.process_time()
        for k, w in mats.items():
            result["tensors"][k][backend] = metrics(runners[backend](w))
        result["seconds"][backend] = time.perf_counter() - t0
        result["cpu_seconds"][backend] = time.process_time() - c0
    if "--dgemm" in sys.argv:
        result["dgemm"] = dgemm_rate()
    result["openblas_core"] = openblas_core()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
