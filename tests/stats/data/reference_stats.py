#!/usr/bin/python3
"""Independent reference for muft::stats, standard library only (no numpy/scipy).

Writes reference_stats.expected.json next to this script; tests/stats/*_test.cpp compare
muft's C++ implementation against it. Run: /usr/bin/python3 tests/stats/data/reference_stats.py

Student-t quantiles come from integrating the t density with composite Simpson's rule and
bisection on the CDF (not from any library), normal quantiles from statistics.NormalDist.
"""
import csv
import json
import math
import os
from statistics import NormalDist

HERE = os.path.dirname(os.path.abspath(__file__))


def t_pdf(x, nu):
    c = math.exp(math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2)) / math.sqrt(nu * math.pi)
    return c * (1 + x * x / nu) ** (-(nu + 1) / 2)


def t_cdf(x, nu, m=20000):
    # P(T <= x) = 1/2 + integral_0^x pdf, Simpson with m (even) panels.
    h = x / m
    s = t_pdf(0, nu) + t_pdf(x, nu)
    for i in range(1, m):
        s += (4 if i % 2 else 2) * t_pdf(i * h, nu)
    return 0.5 + s * h / 3


def t_quantile(p, nu):
    lo, hi = 0.0, 200.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if t_cdf(mid, nu) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def summarize(xs, conf=0.95):
    n = len(xs)
    mean = sum(xs) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    sem = sd / math.sqrt(n)
    t = t_quantile(1 - (1 - conf) / 2, n - 1)
    return {"n": n, "mean": mean, "std": sd, "sem": sem, "t": t,
            "ci_low": mean - t * sem, "ci_high": mean + t * sem}


def dersimonian_laird(ys, vs, conf=0.95):
    k = len(ys)
    w = [1 / v for v in vs]
    sw = sum(w)
    fe = sum(wi * yi for wi, yi in zip(w, ys)) / sw
    q = sum(wi * (yi - fe) ** 2 for wi, yi in zip(w, ys))
    c = sw - sum(wi * wi for wi in w) / sw
    tau2 = max(0.0, (q - (k - 1)) / c) if k > 1 else 0.0
    ws = [1 / (v + tau2) for v in vs]
    mu = sum(wi * yi for wi, yi in zip(ws, ys)) / sum(ws)
    se = 1 / math.sqrt(sum(ws))
    z = NormalDist().inv_cdf(1 - (1 - conf) / 2)
    p = 2 * NormalDist().cdf(-abs(mu / se))
    return {"estimate": mu, "se": se, "ci_low": mu - z * se, "ci_high": mu + z * se,
            "p_value": p, "tau2": tau2, "q": q, "k": k, "fixed_estimate": fe}


def meta_from_table(path, fa, fb, la, lb):
    cells = {}
    order = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["task"] not in cells:
                cells[row["task"]] = {}
                order.append(row["task"])
            cells[row["task"]][row["method"]] = (float(row["mean"]), float(row["std"]), int(row["n"]))
    ys, vs, tasks = [], [], []
    for t in order:
        m = cells[t]
        if not all(x in m for x in (fa, fb, la, lb)):
            continue
        y = (m[fa][0] - m[fb][0]) - (m[la][0] - m[lb][0])
        v = sum(m[x][1] ** 2 / m[x][2] for x in (fa, fb, la, lb))
        ys.append(y)
        vs.append(v)
        tasks.append(t)
    out = dersimonian_laird(ys, vs)
    out["tasks"] = tasks
    out["y"] = ys
    out["v"] = vs
    return out


def main():
    ref = {
        "summary_1_2_3_4": summarize([1.0, 2.0, 3.0, 4.0]),
        "summary_seeds": summarize([3.71, 3.65, 3.80]),
        "paired_a_minus_b": summarize([a - b for a, b in zip([3.2, 3.5, 3.1, 3.9, 3.4],
                                                              [3.0, 3.6, 2.8, 3.5, 3.3])]),
        "t_quantile_0975_dof2": t_quantile(0.975, 2),
        "t_quantile_0975_dof10": t_quantile(0.975, 10),
        "meta_table": meta_from_table(os.path.join(HERE, "meta_table.csv"),
                                      "full-adam", "full-muon", "lora-adam", "lora-muon"),
    }
    # paired t-test p-value for the pair above: 2 * (1 - F_t(|t|; n-1))
    d = ref["paired_a_minus_b"]
    tstat = d["mean"] / d["sem"]
    ref["paired_t"] = tstat
    ref["paired_p"] = 2 * (1 - t_cdf(abs(tstat), d["n"] - 1))
    with open(os.path.join(HERE, "reference_stats.expected.json"), "w") as f:
        json.dump(ref, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps(ref["meta_table"], indent=2))


if __name__ == "__main__":
    main()
