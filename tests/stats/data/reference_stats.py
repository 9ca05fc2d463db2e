#!/usr/bin/python3
"""Independent reference for muft::stats, standard library only (no numpy/scipy).

Writes reference_stats.expected.json next to this script; tests/stats/*_test.cpp compare
muft's C++ implementation against it. Run: /usr/bin/python3 tests/stats/data/reference_stats.py

It covers summaries, paired t-tests, the gap reduction per task (Welch-Satterthwaite t interval
from means; paired t interval from per-seed values), DerSimonian-Laird pooling and the
Hartung-Knapp-Sidik-Jonkman interval (standard and modified).

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


def hksj(ys, vs, tau2, conf=0.95):
    """Hartung-Knapp-Sidik-Jonkman interval around the random-effects mean, and its modified
    form with q truncated below at the DL variance 1/sum(w*)."""
    k = len(ys)
    ws = [1 / (v + tau2) for v in vs]
    sws = sum(ws)
    mu = sum(w * y for w, y in zip(ws, ys)) / sws
    q = sum(w * (y - mu) ** 2 for w, y in zip(ws, ys)) / ((k - 1) * sws)
    t = t_quantile(1 - (1 - conf) / 2, k - 1)
    out = {"df": k - 1, "se": math.sqrt(q), "scale": q * sws}
    for prefix, var in (("", q), ("modified_", max(q, 1 / sws))):
        se = math.sqrt(var)
        out[prefix + "ci_low"] = mu - t * se
        out[prefix + "ci_high"] = mu + t * se
        out[prefix + "p_value"] = 2 * (1 - t_cdf(abs(mu / se), k - 1))
    return out


def welch_df(cells):
    """Welch-Satterthwaite degrees of freedom of a sum of independent means (mean, sd, n)."""
    us = [(sd * sd / n, n) for _, sd, n in cells]
    return sum(u for u, _ in us) ** 2 / sum(u * u / (n - 1) for u, n in us if u > 0)


def meta_from_table(path, fa, fb, la, lb):
    cells = {}
    order = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["task"] not in cells:
                cells[row["task"]] = {}
                order.append(row["task"])
            cells[row["task"]][row["method"]] = (float(row["mean"]), float(row["std"]), int(row["n"]))
    ys, vs, tasks, dfs, cis = [], [], [], [], []
    for t in order:
        m = cells[t]
        if not all(x in m for x in (fa, fb, la, lb)):
            continue
        y = (m[fa][0] - m[fb][0]) - (m[la][0] - m[lb][0])
        v = sum(m[x][1] ** 2 / m[x][2] for x in (fa, fb, la, lb))
        ys.append(y)
        vs.append(v)
        tasks.append(t)
        df = welch_df([m[x] for x in (fa, fb, la, lb)])
        half = t_quantile(0.975, df) * math.sqrt(v)
        dfs.append(df)
        cis.append([y - half, y + half])
    out = dersimonian_laird(ys, vs)
    out["tasks"] = tasks
    out["y"] = ys
    out["v"] = vs
    out["df"] = dfs
    out["task_ci"] = cis
    out["hksj"] = hksj(ys, vs, out["tau2"])
    return out


def paired_from_seed_table(path, fa, fb, la, lb):
    """Per task (study/pretrain_optimizer) the per-seed contrast
    d = (fa - fb) - (la - lb), its mean, variance of the mean and t interval with n - 1 dof."""
    values = {}
    order = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            task = row["study"] + "/" + row["pretrain_optimizer"]
            if task not in values:
                values[task] = {}
                order.append(task)
            values[task].setdefault(row["method_name"], {})[row["seed"]] = float(
                row["final_val_loss"])
    ys, vs, tasks, dfs, cis, skipped = [], [], [], [], [], []
    for t in order:
        m = values[t]
        if not all(x in m for x in (fa, fb, la, lb)):
            skipped.append(t)
            continue
        seeds = sorted(m[fa])
        d = [(m[fa][s] - m[fb][s]) - (m[la][s] - m[lb][s]) for s in seeds]
        n = len(d)
        s_ = summarize(d)
        ys.append(s_["mean"])
        vs.append(s_["sem"] ** 2)
        tasks.append(t)
        dfs.append(n - 1)
        cis.append([s_["ci_low"], s_["ci_high"]])
    out = dersimonian_laird(ys, vs)
    out.update({"tasks": tasks, "y": ys, "v": vs, "df": dfs, "task_ci": cis,
                "skipped": skipped, "hksj": hksj(ys, vs, out["tau2"])})
    return out


def meta_from_effects(tasks, ys, vs):
    out = dersimonian_laird(ys, vs)
    out.update({"tasks": tasks, "y": ys, "v": vs, "hksj": hksj(ys, vs, out["tau2"])})
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
        "meta_paired": paired_from_seed_table(os.path.join(HERE, "seed_table.csv"),
                                              "full-adam", "full-muon", "lora-adam", "lora-muon"),
        # Tasks that agree more closely than their variances predict (HKSJ scale < 1).
        "meta_homogeneous": meta_from_effects(["a", "b", "c", "d"], [0.9, 1.1, 1.0, 0.95],
                                              [0.04, 0.05, 0.03, 0.06]),
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
