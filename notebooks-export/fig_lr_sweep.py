# %% [markdown]
# # Figure 4 analogue: learning-rate sweep
# New-task validation perplexity (normalized by the pretrained model) versus fine-tuning learning
# rate, mean over seeds, one panel per pretraining optimizer. Matched optimizer solid, mismatched
# dashed; full fine-tuning dark, LoRA light. Learning rates where any seed diverged are left out
# (marked ×). Reads the `muft-sweep collect` output (docs/formats.md).
#
# Run: /usr/bin/python3 notebooks-export/fig_lr_sweep.py [results.h5] [study]

# %%
import math
import os
import sys
from collections import defaultdict

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "runs/smoke/results.h5"
STUDY = sys.argv[2] if len(sys.argv) > 2 else None
OUT = os.environ.get("MUFT_FIGURES_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "docs", "figures")


def load_table(path):
    with h5py.File(path, "r") as f:
        t = f["table"]
        rows = []
        cols = list(t.keys())
        data = {c: (t[c].asstr()[:] if t[c].dtype.kind == "O" else t[c][:]) for c in cols}
        for i in range(len(data["id"])):
            rows.append({c: data[c][i] for c in cols})
    return rows


rows = [r for r in load_table(RESULTS) if r["kind"] == "finetune"]
if STUDY is None:
    STUDY = "lr-sweep" if any(r["study"] == "lr-sweep" for r in rows) else rows[0]["study"]
rows = [r for r in rows if r["study"] == STUDY]
value = "norm_val_ppl" if all(math.isfinite(r["norm_val_ppl"]) for r in rows
                              if r["status"] == "completed") else "final_val_ppl"

# %%
# (pretrain optimizer, method, rank) -> lr -> list of values (inf for unfinished seeds)
curves = defaultdict(lambda: defaultdict(list))
meta = {}
for r in rows:
    key = (r["pretrain_optimizer"], r["method_name"], int(r["rank"]))
    v = r[value] if r["status"] == "completed" else math.inf
    curves[key][r["lr"]].append(v)
    meta[key] = (r["method"], r["optimizer"])

pretrains = sorted({k[0] for k in curves})
fig, axes = plt.subplots(1, len(pretrains), figsize=(5.5 * len(pretrains), 4), squeeze=False)
colors = {"adam": "tab:blue", "muon": "tab:red", "muon-pe": "tab:purple"}
for ax, p in zip(axes[0], pretrains):
    for key in sorted(k for k in curves if k[0] == p):
        method, opt = meta[key]
        lrs = sorted(curves[key])
        xs, ys, bad = [], [], []
        for lr in lrs:
            vals = curves[key][lr]
            if all(math.isfinite(v) for v in vals):
                xs.append(lr)
                ys.append(sum(vals) / len(vals))
            else:
                bad.append(lr)
        style = "-" if opt == p else "--"
        alpha = 1.0 if method == "full" else 0.5
        label = key[1] + (f" (r={key[2]})" if key[2] else "")
        ax.plot(xs, ys, style, marker="o", color=colors.get(opt, "gray"), alpha=alpha, label=label)
        if bad and ys:
            ax.plot(bad, [max(ys)] * len(bad), "x", color=colors.get(opt, "gray"), alpha=alpha)
    ax.set_xscale("log")
    ax.set_xlabel("fine-tuning learning rate")
    ax.set_ylabel("val ppl / pretrained" if value == "norm_val_ppl" else "val ppl")
    ax.set_title(f"{p}-pretrained model")
    ax.legend(fontsize=7)
fig.suptitle(f"Learning-rate sweep (study {STUDY}); × = a seed diverged")
fig.tight_layout()

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_lr_sweep.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_lr_sweep.png"))
