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
import sys
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


# ------------------------------------------------------------------- statistics through muft
def import_muft():
    """The muft Python module (its statistics are the ones muft-sweep report and muft-stats
    use): `import muft` from PYTHONPATH, else from the build tree <repo>/build/python
    (MUFT_BUILD_DIR names another build directory)."""
    try:
        import muft
        return muft
    except ImportError:
        pass
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    build = os.environ.get("MUFT_BUILD_DIR") or os.path.join(repo, "build")
    sys.path.insert(0, os.path.join(build, "python"))
    try:
        import muft
        return muft
    except ImportError as e:
        raise SystemExit(f"this figure needs the muft Python module ({e}): build it with "
                         "scripts/build.sh, or set PYTHONPATH to <build>/python") from None


def t_interval(values, confidence=0.95):
    """(mean, low, high, n) of the Student-t interval of the mean of values (muft.summarize;
    NaN ends for n < 2)."""
    v = [float(x) for x in values]
    if not v:
        return math.nan, math.nan, math.nan, 0
    s = import_muft().summarize(v, confidence)
    return s["mean"], s["ci_low"], s["ci_high"], s["n"]


def dl_hksj(y, v, confidence=0.95):
    """DerSimonian-Laird pooling of effects y with variances v (muft.pool): the DL normal
    interval and the modified Hartung-Knapp-Sidik-Jonkman interval (variance floored at the DL
    variance, t with k - 1 degrees of freedom). Returns a dict."""
    r = import_muft().pool(y, v, confidence=confidence)
    return {"k": r["k"], "estimate": r["estimate"], "tau2": r["tau2"], "Q": r["q"],
            "dl_low": r["dl"]["ci_low"], "dl_high": r["dl"]["ci_high"],
            "hksj_low": r["hksj"]["modified"]["ci_low"],
            "hksj_high": r["hksj"]["modified"]["ci_high"]}
