#!/usr/bin/python3
"""Reference for bench/analyze_bench.sh: stable rank and normalized SVD entropy of every matrix
of a safetensors file, with numpy.linalg.svd(compute_uv=False) in float64 and
torch.linalg.svdvals in float32. Prints one JSON object: per-tensor metrics and the time each
backend spent in its SVDs (file reading excluded).

Usage: analyze_reference.py FILE.safetensors [--make-fixture] [--backends numpy,torch]
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


def make_fixture(path):
    """Transformer-shaped float32 matrices with a heavy-tailed, spiked spectrum."""
    rng = np.random.default_rng(1234)
    shapes = {
        "blocks.0.attn.c_q.weight": (1024, 1024),
        "blocks.0.mlp.c_fc.weight": (4096, 1024),
        "blocks.0.mlp.c_proj.weight": (1024, 4096),
        "model.layers.0.mlp.up_proj.weight": (11008, 4096),
    }
    tensors = {}
    for name, (m, n) in shapes.items():
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


def main():
    path = sys.argv[1]
    if "--make-fixture" in sys.argv:
        make_fixture(path)
        return
    backends = ["numpy", "torch"]
    if "--backends" in sys.argv:
        backends = sys.argv[sys.argv.index("--backends") + 1].split(",")
    mats = read_safetensors(path)
    result = {"tensors": {k: {} for k in mats}, "seconds": {}, "cpu_seconds": {}}
    if "numpy" in backends:
        t0, c0 = time.perf_counter(), time.process_time()
        for k, w in mats.items():
            s = np.linalg.svd(w.astype(np.float64), compute_uv=False)
            result["tensors"][k]["numpy"] = metrics(s)
        result["seconds"]["numpy"] = time.perf_counter() - t0
        result["cpu_seconds"]["numpy"] = time.process_time() - c0
    if "torch" in backends:
        import torch
        torch.set_num_threads(os.cpu_count())
        t0, c0 = time.perf_counter(), time.process_time()
        for k, w in mats.items():
            s = torch.linalg.svdvals(torch.from_numpy(np.array(w, dtype=np.float32)))
            result["tensors"][k]["torch"] = metrics(s.numpy())
        result["seconds"]["torch"] = time.perf_counter() - t0
        result["cpu_seconds"]["torch"] = time.process_time() - c0
    result["openblas_core"] = openblas_core()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
