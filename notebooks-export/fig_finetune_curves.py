# %% [markdown]
# # Figure 3 analogue: fine-tuning trajectories
# New-task validation perplexity versus step for every method at its best learning rate
# (selected on the mean final value over seeds, as in `muft-sweep report`), mean over seeds,
# one panel per pretraining optimizer. Matched solid, mismatched dashed; full dark, LoRA light.
#
# Run: /usr/bin/python3 notebooks-export/fig_finetune_curves.py [results.h5] [study]

# %%
import math
import os
import sys
from collections import defaultdict

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "runs/smoke/results.h5"
STUDY = sys.argv[2] if len(sys.argv) > 2 else None
OUT = os.environ.get("MUFT_FIGURES_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "docs", "figures")

f = h5py.File(RESULTS, "r")
t = f["table"]
cols = {c: (t[c].asstr()[:] if t[c].dtype.kind == "O" else t[c][:]) for c in t.keys()}
rows = [{c: cols[c][i] for c in cols} for i in range(len(cols["id"]))]
rows = [r for r in rows if r["kind"] == "finetune"]
if STUDY is None:
    STUDY = "lr-sweep" if any(r["study"] == "lr-sweep" for r in rows) else rows[0]["study"]
rows = [r for r in rows if r["study"] == STUDY]

# %%
groups = defaultdict(lambda: defaultdict(list))  # (pretrain, method, rank) -> lr -> rows
for r in rows:
    groups[(r["pretrain_optimizer"], r["method_name"], int(r["rank"]))][r["lr"]].append(r)


def best_lr(by_lr):
    best, best_mean = None, math.inf
    for lr in sorted(by_lr):
        rs = by_lr[lr]
        if any(r["status"] != "completed" for r in rs):
            continue
        m = sum(r["final_val_ppl"] for r in rs) / len(rs)
        if m < best_mean:
            best, best_mean = lr, m
    return best


pretrains = sorted({k[0] for k in groups})
fig, axes = plt.subplots(1, len(pretrains), figsize=(5.5 * len(pretrains), 4), squeeze=False)
colors = {"adam": "tab:blue", "muon": "tab:red", "muon-pe": "tab:purple"}
for ax, p in zip(axes[0], pretrains):
    for key in sorted(k for k in groups if k[0] == p):
        lr = best_lr(groups[key])
        if lr is None:
            continue
        rs = groups[key][lr]
        curves = []
        for r in rs:
            m = f["runs/" + r["id"] + "/metrics"]
            curves.append((m["step"][:], m["val_ppl"][:]))
        n = min(len(c[0]) for c in curves)
        steps = curves[0][0][:n]
        mean = np.mean([c[1][:n] for c in curves], axis=0)
        opt, method = rs[0]["optimizer"], rs[0]["method"]
        ax.plot(steps, mean, "-" if opt == p else "--", color=colors.get(opt, "gray"),
                alpha=1.0 if method == "full" else 0.5,
                label=f"{key[1]}{f' r={key[2]}' if key[2] else ''} (lr {lr:g})")
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("new-task val ppl")
    ax.set_title(f"{p}-pretrained model")
    ax.legend(fontsize=7)
fig.suptitle(f"Fine-tuning trajectories at the best learning rate (study {STUDY})")
fig.tight_layout()

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_finetune_curves.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_finetune_curves.png"))
