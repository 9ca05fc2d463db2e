#!/usr/bin/python3
"""End-to-end test of `muft-analyze spectra --esd --randomize`: an independent numpy float64
implementation of the heavy-tailed ESD metrics, run on the very eigenvalues muft reports
(lambda_i = sigma_i^2 from --spectrum), must agree to 1e-10; the rand_* columns are checked
against numpy on the same shuffled matrix (the shuffle re-implemented here from its definition).

Usage: esd_numpy_test.py PATH/TO/muft-analyze
Definitions (docs/analyzer.md, "Heavy-tailed ESD metrics"):
  power law  candidates x_min = every fitted eigenvalue but the largest; alpha = 1 + n / sum(ln(x/x_min))
             over the n values >= x_min; D = max_j |1 - (x_j/x_min)^(1-alpha) - j/n|; the smallest D
             wins, ties to the smaller x_min; fitted eigenvalues: > max(1e-5, rank_tol^2), at least 10.
  MP bulk    rescale to mean 1; sigma^2 <- mean of values <= sigma^2 (1 + Q^-1/2)^2 until stable;
             spikes above that edge plus sqrt(Q^-1/2 edge^(2/3) M^(-2/3)); soft rank edge / max.
  rand       Fisher-Yates over the row-major entries, driven by SplitMix64 with Lemire's bounded
             draw; Jensen-Shannon distance of the sorted eigenvalue vectors as distributions.
"""
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

TOL = 1e-10        # same eigenvalues, same definitions, double precision
TOL_RAND = 1e-9    # the shuffled spectrum is recomputed here (numpy eigvalsh vs muft's solver)
MASK64 = (1 << 64) - 1


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        header[name] = {"dtype": {"float32": "F32", "float64": "F64"}[str(a.dtype)],
                        "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def fixtures():
    rng = np.random.default_rng(2024)
    t = {}
    t["gauss.weight"] = rng.standard_normal((300, 120)).astype(np.float32)
    t["heavy.weight"] = rng.standard_t(2.5, (200, 500)).astype(np.float32)  # wide
    w = rng.standard_normal((400, 150))
    for k in range(3):  # three planted spikes, far above the BBP threshold
        w += (5 + 3 * k) * np.outer(rng.standard_normal(400), rng.standard_normal(150)) / math.sqrt(150)
    t["spiked.weight"] = w  # float64
    u = np.linalg.qr(rng.standard_normal((256, 256)))[0]
    v = np.linalg.qr(rng.standard_normal((256, 256)))[0]
    s = np.sqrt((1 - rng.random(256)) ** (-1 / 1.5))  # lambda = s^2 Pareto with alpha = 2.5
    t["powerlaw.weight"] = ((u * s) @ v.T).astype(np.float32)
    t["tiny.weight"] = rng.standard_normal((12, 6)).astype(np.float32)  # 6 eigenvalues: no fit
    t["conv.weight"] = rng.standard_normal((16, 4, 3, 3)).astype(np.float32)  # 16 x 36
    return t


def power_law(x):
    """WeightWatcher's WWFit convention, vectorized over the tail of each candidate."""
    x = np.sort(x)
    lx = np.log(x)
    n_all = len(x)
    best = None
    for i in range(n_all - 1):
        n = n_all - i
        alpha = 1 + n / (lx[i:].sum() - n * lx[i])
        if not (np.isfinite(alpha) and alpha > 1):
            continue
        d = np.max(np.abs(1 - (x[i:] / x[i]) ** (1 - alpha) - np.arange(n) / n))
        if best is None or d < best[0]:
            best = (d, alpha, x[i], n)
    d, alpha, xmin, n = best
    return {"alpha": alpha, "xmin": xmin, "ks_distance": d, "alpha_stderr": (alpha - 1) / math.sqrt(n),
            "num_pl_spikes": int(np.sum(x >= xmin))}


def marchenko_pastur(lam, rows, cols):
    m, big = min(rows, cols), max(rows, cols)
    lam = np.sort(np.clip(np.concatenate([lam, np.zeros(m - len(lam))]), 0, None))
    q = big / m
    r = lam * (m / lam.sum())
    c = (1 + 1 / math.sqrt(q)) ** 2
    kept, s2 = m, r.mean()
    while True:
        k = max(1, min(int(np.sum(r <= s2 * c)), kept))
        if k == kept:
            break
        kept, s2 = k, r[:k].mean()
    plus = s2 * c
    plus_tw = plus + math.sqrt(plus ** (2 / 3) * m ** (-2 / 3) / math.sqrt(q))
    scale = m / lam.sum()
    return {"mp_bulk_max": plus / scale, "num_spikes": int(np.sum(r > plus_tw)),
            "mp_softrank": (plus / scale) / lam[-1]}


def splitmix_shuffle(a, seed):
    """Fisher-Yates on a copy of the flat array: j uniform in [0, i] from SplitMix64 (Lemire)."""
    a = a.copy()
    state = seed

    def nxt():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    for i in range(len(a) - 1, 0, -1):
        bound = i + 1
        m = nxt() * bound
        low = m & MASK64
        if low < bound:
            threshold = ((1 << 64) - bound) % bound
            while low < threshold:
                m = nxt() * bound
                low = m & MASK64
        j = m >> 64
        a[i], a[j] = a[j], a[i]
    return a


def js_distance(a, b):
    p = np.sort(a) / np.sum(a)
    q = np.sort(b) / np.sum(b)
    mid = (p + q) / 2
    kl = lambda u: float(np.sum(u[u > 0] * np.log(u[u > 0] / mid[u > 0])))
    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


def gram_eigenvalues(w):
    w = w.astype(np.float64)
    g = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
    return np.clip(np.linalg.eigvalsh(g), 0, None)


def close(got, want, tol, what, failures):
    if want is None:
        if got is not None:
            failures.append(f"{what}: got {got}, want undefined")
        return
    if got is None or abs(got - want) > tol * max(abs(want), 1e-300):
        failures.append(f"{what}: got {got}, want {want}")


def main():
    binary = sys.argv[1]
    seed = 7
    with tempfile.TemporaryDirectory() as work:
        tensors = fixtures()
        path = os.path.join(work, "esd.safetensors")
        write_safetensors(path, tensors)
        out = os.path.join(work, "esd.jsonl")
        subprocess.run([binary, "spectra", path, "--esd", "--randomize", "--randomize-seed", str(seed),
                        "--spectrum", "--no-progress", "-o", out], check=True, stdout=subprocess.DEVNULL)
        rows = [json.loads(line) for line in open(out)]
    failures = []
    assert len(rows) == len(tensors), rows
    for r in rows:
        name = r["tensor"]
        w = tensors[name].reshape(tensors[name].shape[0], -1)
        rows_, cols_ = w.shape
        lam = np.array(r["singular_values"]) ** 2
        floor = max(1e-5, r["rank_tol"] ** 2)
        fitted = lam[lam > floor]
        if len(fitted) >= 10:
            want = power_law(fitted)
            want["alpha_weighted"] = want["alpha"] * math.log10(lam.max())
        else:
            want = dict.fromkeys(["alpha", "xmin", "ks_distance", "alpha_stderr", "num_pl_spikes",
                                  "alpha_weighted"])
            if "esd: power-law fit needs 10 eigenvalues" not in r["reason"]:
                failures.append(f"{name}: reason does not say why alpha is missing: {r['reason']}")
        want.update(marchenko_pastur(lam, rows_, cols_))
        want["lambda_max"] = lam.max()
        for key, value in want.items():
            close(r[key], value, TOL, f"{name} {key}", failures)
        shuffled = splitmix_shuffle(w.reshape(-1), seed).reshape(w.shape)
        rlam = gram_eigenvalues(shuffled)
        close(r["rand_lambda_max"], rlam.max(), TOL, f"{name} rand_lambda_max", failures)
        close(r["rand_distance"], js_distance(lam, rlam), TOL_RAND, f"{name} rand_distance", failures)
        close(r["rand_num_spikes"], marchenko_pastur(rlam, rows_, cols_)["num_spikes"], 0,
              f"{name} rand_num_spikes", failures)
        print(f"{name:16s} {rows_}x{cols_} alpha={r['alpha']} D={r['ks_distance']} "
              f"spikes={r['num_spikes']} mp_softrank={r['mp_softrank']:.4g} rand_distance={r['rand_distance']:.4g}")
    by_name = {r["tensor"]: r for r in rows}
    # Sanity of the fixtures: the planted spikes are found, the Gaussian matrix has none.
    if by_name["spiked.weight"]["num_spikes"] != 3:
        failures.append(f"spiked.weight: {by_name['spiked.weight']['num_spikes']} spikes, want 3")
    if by_name["gauss.weight"]["num_spikes"] != 0:
        failures.append(f"gauss.weight: {by_name['gauss.weight']['num_spikes']} spikes, want 0")
    if failures:
        print("\n".join(["FAIL:"] + failures))
        return 1
    print("esd_numpy_test: all ESD columns agree with numpy float64")
    return 0


if __name__ == "__main__":
    sys.exit(main())
