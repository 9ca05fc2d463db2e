"""Shared reading of a `muft-sweep collect` results.h5 for the fig_*.py scripts (not a figure).

Cells and stages. A cell is one (study, pretrained model, method name, LoRA rank). In a staged
study (`select_seeds` in the spec) the selection seeds ran at every candidate rate and the
reported seeds only at the chosen one; results.h5 has no role column, so the stage of a run is
read from that shape: when a cell has several rates and some seeds ran at fewer of them than
others, the seeds at more than one rate are the selection seeds and the others the reported
seeds, whose single rate is the chosen one. A cell whose seeds all ran at every rate (an
unstaged study, e.g. the smoke profile, or a staged one whose reported runs are not listed yet)
uses every seed for both (except a cell whose seeds are all selection seeds of other cells:
its reported runs are not listed yet, and it has none): the chosen rate is the one with the best mean over seeds among the
rates where every seed completed (as `muft-sweep report` does for unstaged studies).

Health. Only `completed` runs enter a mean; `diverged` and `collapsed` runs are counted as such
(marked in the figures); `failed`, `pending` and `running` ones have no value.
"""
import math
import os
from collections import defaultdict

import h5py
import numpy as np

UNHEALTHY = ("diverged", "collapsed")
OPT_COLORS = {"adam": "tab:blue", "muon": "tab:red", "muon-pe": "tab:purple"}


def out_dir(script_file):
    return os.environ.get("MUFT_FIGURES_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(script_file)), "..", "docs", "figures")


def load(path):
    """(open h5py.File, list of row dicts of /table)."""
    if not os.path.exists(path):
        raise SystemExit(f"no such results file '{path}' (run muft-sweep collect first)")
    f = h5py.File(path, "r")
    t = f["table"]
    cols = {c: (t[c].asstr()[:] if t[c].dtype.kind == "O" else t[c][:]) for c in t.keys()}
    rows = [{c: cols[c][i] for c in cols} for i in range(len(cols["id"]))]
    for r in rows:
        r["rank"] = int(r["rank"])
        r["seed"] = int(r["seed"])
        parts = r["id"].split("/")
        r["pretrained"] = parts[2] if r["kind"] == "finetune" and len(parts) > 2 else ""
    return f, rows


def is_accuracy_study(rows):
    """True when the study's runs report accuracies (digits): maximized, not minimized."""
    return any(r["status"] == "completed" and math.isfinite(r["final_val_acc"]) for r in rows)


def new_key(acc):
    return "final_val_acc" if acc else "final_val_loss"


def old_key(acc):
    return "final_old_val_acc" if acc else "final_old_val_loss"


def method_label(name, rank, show_rank=True):
    return f"{name} r{rank}" if rank and show_rank else name


class Cell:
    """The runs of one (study, pretrained, method name, rank) with their stage split."""

    def __init__(self, key, runs):
        self.study, self.pretrained, self.method_name, self.rank = key
        self.runs = runs
        r0 = runs[0]
        self.pretrain_optimizer = r0["pretrain_optimizer"]
        self.method, self.optimizer = r0["method"], r0["optimizer"]
        self.matched = self.optimizer == self.pretrain_optimizer
        self.by_lr = defaultdict(list)
        for r in runs:
            self.by_lr[r["lr"]].append(r)
        self.lrs = sorted(self.by_lr)
        lrs_of_seed = defaultdict(set)
        for r in runs:
            lrs_of_seed[r["seed"]].add(r["lr"])
        counts = {s: len(v) for s, v in lrs_of_seed.items()}
        self.staged = len(self.lrs) > 1 and min(counts.values()) < max(counts.values())
        if self.staged:
            self.select_seeds = sorted(s for s, c in counts.items() if c > 1)
            self.report_seeds = sorted(s for s, c in counts.items() if c == 1)
            chosen = {next(iter(lrs_of_seed[s])) for s in self.report_seeds}
            self.chosen_lr = chosen.pop() if len(chosen) == 1 else None
        else:
            self.select_seeds = self.report_seeds = sorted(counts)
            self.chosen_lr = None
        self.acc = False
        self.awaiting_report = False

    def set_metric(self, acc):
        self.acc = acc
        if not self.staged:  # also a staged cell awaiting its reported runs
            best = None
            for lr in self.lrs:
                sc = self.score(lr)
                if sc is not None and math.isfinite(sc) and (
                        best is None or (sc > best[0] if acc else sc < best[0])):
                    best = (sc, lr)
            self.chosen_lr = best[1] if best else None

    def score(self, lr, key=None):
        """Mean selection-seed value at lr; inf when a selection run diverged or collapsed,
        None when one has not finished (or failed)."""
        key = key or new_key(self.acc)
        rs = [r for r in self.by_lr[lr] if r["seed"] in self.select_seeds]
        if any(r["status"] in UNHEALTHY for r in rs):
            return math.inf
        if not rs or any(r["status"] != "completed" or not math.isfinite(r[key]) for r in rs):
            return None
        return float(np.mean([r[key] for r in rs]))

    def reported(self):
        """Rows of the reported seeds at the chosen rate (any status)."""
        if self.chosen_lr is None:
            return []
        return sorted((r for r in self.by_lr[self.chosen_lr] if r["seed"] in self.report_seeds),
                      key=lambda r: r["seed"])

    def healthy_reported(self):
        return [r for r in self.reported() if r["status"] == "completed"]

    def excluded(self):
        """Reported runs that finished unhealthy (diverged/collapsed)."""
        return [r for r in self.reported() if r["status"] in UNHEALTHY]


def cells_of(rows, acc_of_study=None):
    """{study: {(pretrained, method_name, rank): Cell}} of the fine-tuning runs."""
    by = defaultdict(list)
    for r in rows:
        if r["kind"] == "finetune":
            by[(r["study"], r["pretrained"], r["method_name"], r["rank"])].append(r)
    studies = defaultdict(dict)
    for key, runs in by.items():
        studies[key[0]][key[1:]] = Cell(key, runs)
    # A cell of a staged spec whose reported runs are not listed yet has only selection seeds
    # (the seeds that other cells show to be selection seeds): it has no reported runs yet.
    select = {s for cells in studies.values() for c in cells.values() if c.staged
              for s in c.select_seeds}
    for cells in studies.values():
        for c in cells.values():
            if not c.staged and select and len(c.lrs) > 1 and set(c.select_seeds) <= select:
                c.awaiting_report = True
                c.report_seeds = []
    for s, cells in studies.items():
        acc = is_accuracy_study([r for c in cells.values() for r in c.runs])
        for c in cells.values():
            c.set_metric(acc)
    return studies


def is_rank_study(cells):
    """A study whose methods each run several LoRA ranks at one rate (drawn by fig_lora_rank)."""
    by_method = defaultdict(lambda: (set(), set()))
    for (_, name, rank), c in cells.items():
        by_method[name][0].add(rank)
        by_method[name][1].update(c.lrs)
    return bool(by_method) and all(len(rk) > 1 and len(lr) == 1 for rk, lr in by_method.values())


def fixed_lora_rank(cells, wanted=8):
    """`wanted` when every LoRA method of the study ran it, else the largest rank they all ran
    (else the largest any ran); None without LoRA."""
    ranks = defaultdict(set)
    for (_, name, rank), c in cells.items():
        if c.method == "lora":
            ranks[name].add(rank)
    if not ranks:
        return None
    common = set.intersection(*ranks.values())
    if wanted in common:
        return wanted
    return max(common) if common else max(max(r) for r in ranks.values())


def starting_loss(cells):
    """Mean over the study's runs of log(initial val ppl) = the pretrained models' val loss."""
    v = [math.log(r["initial_val_ppl"]) for c in cells.values() for r in c.runs
         if r["status"] == "completed" and math.isfinite(r["initial_val_ppl"])
         and r["initial_val_ppl"] > 0]
    return float(np.mean(v)) if v else math.inf


def order_studies(studies, names):
    """Loss tasks by starting loss (closest to the pretraining text first), accuracy tasks last."""
    def key(s):
        cells = studies[s]
        acc = any(c.acc for c in cells.values())
        return (acc, starting_loss(cells), s)
    return sorted(names, key=key)


def pretrained_order(keys):
    """Pretrained models sorted by (optimizer, id)."""
    return sorted(set(keys))


def mean_std(values):
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


# ----------------------------------------------------------------------------- Student t
def _t_cdf(x, df):
    """P(T <= x) for Student's t with df degrees of freedom (Simpson's rule on the density)."""
    if x < 0:
        return 1.0 - _t_cdf(-x, df)
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    # Substitute u = atan(t/sqrt(df))-like smooth map: integrate on [0, x] with many points.
    n = 4000
    ts = np.linspace(0.0, x, n + 1)
    fs = c * (1.0 + ts * ts / df) ** (-(df + 1) / 2)
    h = x / n
    return 0.5 + h / 3.0 * (fs[0] + fs[-1] + 4 * fs[1:-1:2].sum() + 2 * fs[2:-1:2].sum())


def t_quantile(p, df):
    """Quantile of Student's t (bisection on the CDF); df = 1 and 2 also have closed forms."""
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    lo, hi = 0.0, 1.0
    target = max(p, 1 - p)
    while _t_cdf(hi, df) < target:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if _t_cdf(mid, df) < target:
            lo = mid
        else:
            hi = mid
    q = (lo + hi) / 2
    return q if p >= 0.5 else -q


def t_interval(values, confidence=0.95):
    """(mean, low, high, n) of the Student-t interval of the mean of values (n >= 2)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n < 2:
        m = float(v.mean()) if n else math.nan
        return m, math.nan, math.nan, n
    m, se = float(v.mean()), float(v.std(ddof=1)) / math.sqrt(n)
    q = t_quantile(1 - (1 - confidence) / 2, n - 1)
    return m, m - q * se, m + q * se, n


def dl_hksj(y, v, confidence=0.95):
    """DerSimonian-Laird pooling of effects y with variances v, with the DL normal interval and
    the modified Hartung-Knapp-Sidik-Jonkman interval (its variance q/sum w* floored at the DL
    variance 1/sum w*; t with k - 1 degrees of freedom). Returns a dict."""
    y, v = np.asarray(y, dtype=float), np.asarray(v, dtype=float)
    k = len(y)
    w = 1.0 / v
    fe = float((w * y).sum() / w.sum())
    q_stat = float((w * (y - fe) ** 2).sum())
    c = float(w.sum() - (w * w).sum() / w.sum())
    tau2 = max(0.0, (q_stat - (k - 1)) / c) if c > 0 else 0.0
    ws = 1.0 / (v + tau2)
    sw = float(ws.sum())
    mu = float((ws * y).sum() / sw)
    se_dl = math.sqrt(1.0 / sw)
    z = 1.959963984540054 if abs(confidence - 0.95) < 1e-12 else None
    if z is None:
        raise ValueError("only 95 % intervals are implemented")
    q_h = float((ws * (y - mu) ** 2).sum()) / ((k - 1) * sw)
    se_mod = math.sqrt(max(q_h, 1.0 / sw))
    tq = t_quantile(1 - (1 - confidence) / 2, k - 1)
    return {"k": k, "estimate": mu, "tau2": tau2, "Q": q_stat,
            "dl_low": mu - z * se_dl, "dl_high": mu + z * se_dl,
            "hksj_low": mu - tq * se_mod, "hksj_high": mu + tq * se_mod}


def _self_check():
    # Known quantiles: t(0.975; 3) = 3.182446305, t(0.975; 4) = 2.776445105, closed form df 2.
    assert abs(t_quantile(0.975, 3) - 3.182446305284263) < 1e-7
    assert abs(t_quantile(0.975, 4) - 2.7764451051977987) < 1e-7
    assert abs(t_quantile(0.975, 2) - 4.302652729911275) < 1e-9
    # tests/stats/meta_test.cpp HksjWithZeroTau2AndTheModifiedForm (hand-computed):
    r = dl_hksj([1.0, 2.0, 1.5], [1.0, 1.0, 1.0])
    assert r["tau2"] == 0.0 and abs(r["estimate"] - 1.5) < 1e-12
    assert abs(r["hksj_low"] + 0.9841377117503307) < 1e-6, r
    assert abs(r["hksj_high"] - 3.9841377117503307) < 1e-6, r
    # HksjHandComputedThreeTasks: tau2 = 9, mu = 2.875, CI = [-5.9542882005, 11.7042882005].
    r = dl_hksj([0.0, 2.0, 7.0], [1.0, 1.0, 2.0])
    assert abs(r["tau2"] - 9.0) < 1e-12 and abs(r["estimate"] - 2.875) < 1e-12, r
    assert abs(r["hksj_low"] + 5.95428820054) < 1e-6, r
    assert abs(r["hksj_high"] - 11.7042882005) < 1e-6, r


_self_check()
