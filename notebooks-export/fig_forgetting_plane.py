# %% [markdown]
# # The learning–forgetting plane
# One point per completed fine-tuning run: new-task validation loss (x, learning) versus
# old-task validation loss (y, forgetting), colored by method, with each method's Pareto
# frontier (runs not beaten on both axes by another run of the same method). It puts the
# paper's claim (LoRA mitigates the optimizer mismatch; arXiv 2605.10468) next to the competing
# claim that full fine-tuning with the pretraining optimizer forgets least
# (shared/papers/optimizer-model-consistency.txt): compare the frontiers, lower-left is better.
#
# Runs of one pretraining group only (their losses are comparable): the group fine-tuned by the
# study named by the second argument (default `lr-sweep`, else the first study); every study of
# that group (e.g. lr-sweep and rank) contributes its runs.
#
# Run: /usr/bin/python3 notebooks-export/fig_forgetting_plane.py [results.h5] [study]

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
OUT = os.environ.get("MUFT_FIGURES_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "docs", "figures")

with h5py.File(RESULTS, "r") as f:
    t = f["table"]
    cols = {c: (t[c].asstr()[:] if t[c].dtype.kind == "O" else t[c][:]) for c in t.keys()}
rows = [{c: cols[c][i] for c in cols} for i in range(len(cols["id"]))]
rows = [r for r in rows if r["kind"] == "finetune"]
STUDY = sys.argv[2] if len(sys.argv) > 2 else None
if STUDY is None:
    STUDY = "lr-sweep" if any(r["study"] == "lr-sweep" for r in rows) else (
        rows[0]["study"] if rows else "")
of_study = [r for r in rows if r["study"] == STUDY]
if not of_study:
    sys.exit("no fine-tuning study %r in %s (studies: %s)"
             % (STUDY, RESULTS, ", ".join(sorted({r["study"] for r in rows})) or "none"))
GROUP = of_study[0]["group"]
rows = [r for r in rows if r["group"] == GROUP and r["status"] == "completed"
        and math.isfinite(r["final_val_loss"]) and math.isfinite(r["final_old_val_loss"])]


def pareto(points):
    """Points not dominated (both coordinates <=, one <) by another, sorted by x."""
    front = [p for p in points
             if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)]
    return sorted(front)


# %%
pretrains = sorted({r["pretrain_optimizer"] for r in rows})
fig, axes = plt.subplots(1, max(1, len(pretrains)), figsize=(5.5 * max(1, len(pretrains)), 4.5),
                         squeeze=False)
colors = {"adam": "tab:blue", "muon": "tab:red", "muon-pe": "tab:purple"}
for ax, p in zip(axes[0], pretrains):
    by_method = defaultdict(list)
    for r in rows:
        if r["pretrain_optimizer"] == p:
            by_method[(r["method"], r["optimizer"])].append((r["final_val_loss"],
                                                              r["final_old_val_loss"]))
    for (method, opt), pts in sorted(by_method.items()):
        c = colors.get(opt, "gray")
        a = 1.0 if method == "full" else 0.5
        ax.scatter([x for x, _ in pts], [y for _, y in pts], s=12, color=c, alpha=a,
                   marker="o" if method == "full" else "^")
        front = pareto(pts)
        ax.step([x for x, _ in front], [y for _, y in front], where="post", color=c, alpha=a,
                linestyle="-" if opt == p else "--", label=f"{method}-{opt}")
    ax.set_xlabel("new-task val loss (learning →  lower)")
    ax.set_ylabel("old-task val loss (forgetting → lower)")
    ax.set_title(f"{p}-pretrained model")
    ax.legend(fontsize=7)
fig.suptitle(f"Learning–forgetting plane (pretraining group {GROUP}): every run and learning rate, "
             "Pareto frontiers per method")
fig.tight_layout()

# %% [markdown]
# Forgetting at equal learning: per pretrained model, L* = the worst of the methods' best
# new-task losses (every method has a run at or below it); for each method, the lowest old-task
# loss among its runs with new-task loss <= L*. Lower = forgets less for the same learning.
# Printed and written next to the figure as fig_forgetting_plane.csv.

# %%
summary = []
for p in pretrains:
    by_method = defaultdict(list)
    for r in rows:
        if r["pretrain_optimizer"] == p:
            by_method[f'{r["method"]}-{r["optimizer"]}'].append(
                (r["final_val_loss"], r["final_old_val_loss"]))
    if not by_method:
        continue
    level = max(min(x for x, _ in pts) for pts in by_method.values())
    for name, pts in sorted(by_method.items()):
        best_old = min(y for x, y in pts if x <= level)
        summary.append((p, name, level, min(x for x, _ in pts), best_old, len(pts)))
print("pretrain  method           L*      best new  old at new<=L*  runs")
for p, name, level, best_new, best_old, n in summary:
    print(f"{p:8s}  {name:15s}  {level:.4f}  {best_new:.4f}    {best_old:.4f}        {n}")

# %%
os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "fig_forgetting_plane.csv"), "w") as out:
    out.write("pretrain_optimizer,method,new_loss_level,best_new_loss,old_loss_at_level,runs\n")
    for p, name, level, best_new, best_old, n in summary:
        out.write(f"{p},{name},{level!r},{best_new!r},{best_old!r},{n}\n")
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_forgetting_plane.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_forgetting_plane.png"))
