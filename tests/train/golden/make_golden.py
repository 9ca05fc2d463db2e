#!/usr/bin/python3
"""Golden values for tests/train/golden_test.cpp, computed independently of muft.

Run with Debian's python3-torch:  /usr/bin/python3 tests/train/golden/make_golden.py
It writes tests/train/golden/optim_golden.json next to this script.

Problem: W (m, n), b (m,), fixed X (n, k), Y (m, k); loss = ||W X + b 1^T - Y||^2 / (2k).
Gradients are formed in closed form (no autograd), so the C++ test can form them the same way:
  R = (W X + b - Y) / k;  dW = R X^T;  db = R.sum(1).
Cases:
  * adamw: torch.optim.AdamW itself on (W, b).
  * muon_*: Muon written here from its definition (arXiv 2605.10468 App. B), float32 iteration,
    on W only: moonlight (M = bM + G, U = G + bM, scale 0.2 sqrt(max(m,n))) and original
    (M = bM + (1-b)G, U = (1-b)G + bM, scale sqrt(max(1, m/n))), decoupled weight decay
    W <- W (1 - lr wd) once per step before the update.
  * Polar Express coefficients from Amsel et al.'s algorithm (Remez-type fixed point for the
    equioscillating odd quintic on [max(l, cushion u), u], recentred, safety factor on all but
    the last of K steps), implemented here in float64 NumPy.
"""
import json
import math
import os

import numpy as np
import torch

torch.set_num_threads(1)


def optimal_quintic(l, u):
    assert 0 < l <= u
    if 1 - 5e-6 <= l / u:
        return (15 / 8) / u, (-10 / 8) / u**3, (3 / 8) / u**5
    q = (3 * l + u) / 4
    r = (l + 3 * u) / 4
    E, old_E = math.inf, None
    while old_E is None or abs(old_E - E) > 1e-15:
        old_E = E
        lhs = np.array([[l, l**3, l**5, 1.0], [q, q**3, q**5, -1.0],
                        [r, r**3, r**5, 1.0], [u, u**3, u**5, -1.0]])
        a, b, c, E = np.linalg.solve(lhs, np.ones(4))
        q, r = np.sqrt((-3 * b + np.array([-1.0, 1.0]) * np.sqrt(9 * b**2 - 20 * a * c)) /
                       (10 * c))
    return float(a), float(b), float(c)


def polar_express(l=1e-3, K=10, safety=1e-2, cushion=0.02):
    u = 1.0
    out = []
    for k in range(K):
        a, b, c = optimal_quintic(max(l, cushion * u), u)
        pl = a * l + b * l**3 + c * l**5
        pu = a * u + b * u**3 + c * u**5
        s = 2 / (pl + pu)  # 1 when the fit already covers [l, u]
        a, b, c = a * s, b * s, c * s
        if k + 1 < K:
            e = 1 + safety
            a, b, c = a / e, b / e**3, c / e**5
        out.append((a, b, c))
        l = a * l + b * l**3 + c * l**5
        u = 2 - l
    return out


NS5 = [(3.4445, -4.7750, 2.0315)] * 5


def orthogonalize(G, coeffs, norm_mult):
    X = G.clone()
    tall = X.size(0) > X.size(1)
    if tall:
        X = X.T
    X = X / (X.norm() * norm_mult + 1e-7)
    for a, b, c in coeffs:
        A = X @ X.T
        B = b * A + c * (A @ A)
        X = a * X + B @ X
    if tall:
        X = X.T
    return X


def grads(W, b, X, Y):
    k = X.size(1)
    R = (W @ X + b[:, None] - Y) / k
    return R @ X.T, R.sum(1)


def problem(m, n, k, seed):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(m, n, generator=g) * 0.5
    b = torch.randn(m, generator=g) * 0.1
    X = torch.randn(n, k, generator=g)
    Y = torch.randn(m, k, generator=g)
    return W, b, X, Y


def flat(t):
    return [float(v) for v in t.reshape(-1).tolist()]


def run_adamw(steps=5):
    W, b, X, Y = problem(6, 10, 12, 1)
    Wp, bp = W.clone().requires_grad_(), b.clone().requires_grad_()
    opt = torch.optim.AdamW([Wp, bp], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    traj_W, traj_b = [], []
    for _ in range(steps):
        with torch.no_grad():
            gW, gb = grads(Wp, bp, X, Y)
        Wp.grad, bp.grad = gW, gb
        opt.step()
        traj_W.append(flat(Wp.detach()))
        traj_b.append(flat(bp.detach()))
    return {"m": 6, "n": 10, "k": 12, "W0": flat(W), "b0": flat(b), "X": flat(X), "Y": flat(Y),
            "lr": 0.01, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 0.1,
            "W": traj_W, "b": traj_b}


def run_muon(m, n, variant, coeffs, norm_mult, seed, steps=5, lr=0.02, beta=0.95, wd=0.1):
    W, b, X, Y = problem(m, n, 12, seed)
    M = torch.zeros_like(W)
    traj = []
    for _ in range(steps):
        G, _ = grads(W, b, X, Y)
        if variant == "moonlight":
            M = beta * M + G
            U = G + beta * M
            scale = 0.2 * math.sqrt(max(m, n))
        else:
            M = beta * M + (1 - beta) * G
            U = (1 - beta) * G + beta * M
            scale = math.sqrt(max(1.0, m / n))
        O = orthogonalize(U, coeffs, norm_mult)
        W = W * (1 - lr * wd)
        W = W - lr * scale * O
        traj.append(flat(W))
    return {"m": m, "n": n, "k": 12, "W0": flat(problem(m, n, 12, seed)[0]), "b0": flat(b),
            "X": flat(X), "Y": flat(Y), "variant": variant, "lr": lr, "momentum": beta,
            "weight_decay": wd, "norm_mult": norm_mult,
            "coefficients": [list(c) for c in coeffs], "W": traj}


def main():
    pe = polar_express()
    out = {
        "generator": "tests/train/golden/make_golden.py (python3-torch %s)" % torch.__version__,
        "polar_express_l1e-3_K10_safety1e-2_cushion0.02": [list(c) for c in pe],
        "adamw": run_adamw(),
        "muon_moonlight_ns5": run_muon(6, 10, "moonlight", NS5, 1.0, 2),
        "muon_original_ns5": run_muon(10, 6, "original", NS5, 1.0, 3),
        "muon_moonlight_pe": run_muon(10, 6, "moonlight", pe[:5], 1.1, 4),
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_golden.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
