# %% [markdown]
# # Figure 3 analogue: fine-tuning trajectories at the chosen rate
# New-task validation loss (accuracy for the digits task) versus fine-tuning step, one panel per
# task (column) and pretrained model (row), one curve per method at its chosen rate: the mean
# over the reported seeds (completed runs only) with a ± sample-std band. Matched optimizer
# solid, mismatched dashed. The y-range starts at the first evaluation after step 0, so the
# flattening near the end is readable (the starting loss is given in the panel title). A long
# study (e.g. `long-fortunes`, one seed at twice the steps) is its own panel: it shows how much
# further the loss falls. LoRA-rank studies are drawn by fig_lora_rank.py instead.
#
# Run: /usr/bin/python3 notebooks-export/fig_finetune_curves.py [results.h5] [study[,study...]]

# %%
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import muft_figs as mf  # noqa: E402

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "runs/smoke/results.h5"
ONLY = sys.argv[2].split(",") if len(sys.argv) > 2 else None
OUT = mf.out_dir(__file__)

f, rows = mf.load(RESULTS)
studies = mf.cells_of(rows)
names = [s for s, cells in studies.items()
         if (ONLY is None or s in ONLY) and not mf.is_rank_study(cells)]
if ONLY and set(ONLY) - set(names):
    sys.exit("fig_finetune_curves: no study %s in %s (studies: %s)" % (
        ", ".join(sorted(set(ONLY) - set(names))), RESULTS, ", ".join(sorted(studies)) or "none"))
if not names:
    sys.exit(f"fig_finetune_curves: no fine-tuning study in {RESULTS}")
names = mf.order_studies(studies, names)
optimizers = sorted({c.pretrain_optimizer for s in names for c in studies[s].values()})


def trajectory(run_id, field):
    m = f["runs/" + run_id + "/metrics"]
    return np.asarray(m["step"][:]), np.asarray(m[field][:])


# %%
fig, axes = plt.subplots(len(optimizers), len(names), squeeze=False,
                         figsize=(max(9.0, 3.3 * len(names) + 0.6), 2.9 * len(optimizers) + 1.0))
legend = {}
for j, s in enumerate(names):
    for i, p in enumerate(optimizers):
        ax = axes[i][j]
        mine = sorted((c for c in studies[s].values() if c.pretrain_optimizer == p),
                      key=lambda c: (c.method, c.optimizer, c.rank))
        if not mine:
            ax.set_axis_off()
            continue
        acc = mine[0].acc
        field = "val_acc" if acc else "val_loss"
        starts, lows, highs, notes = [], [], [], []
        for c in mine:
            rs = [r for r in c.healthy_reported() if "runs/" + r["id"] + "/metrics" in f
                  and field in f["runs/" + r["id"] + "/metrics"]]
            if not rs:
                continue
            curves = [trajectory(r["id"], field) for r in rs]
            steps = curves[0][0]
            for st, _ in curves[1:]:
                steps = np.intersect1d(steps, st)
            vals = np.array([[v[np.searchsorted(st, k)] for k in steps] for st, v in curves])
            mean = vals.mean(axis=0)
            sd = vals.std(axis=0, ddof=1) if len(vals) > 1 else np.zeros_like(mean)
            color = mf.OPT_COLORS.get(c.optimizer, "gray")
            style = "-" if c.matched else "--"
            lw = 1.8 if c.method == "full" else 1.1
            ax.plot(steps, mean, style, color=color, lw=lw,
                    marker="o" if c.method == "full" else "^", ms=3)
            ax.fill_between(steps, mean - sd, mean + sd, color=color,
                            alpha=0.18 if c.method == "full" else 0.10, lw=0)
            label = mf.method_label(c.method_name, c.rank)
            legend.setdefault(label, Line2D([], [], color=color, linestyle=style, lw=lw,
                                            marker="o" if c.method == "full" else "^", ms=3,
                                            label=label))
            ex = len(c.excluded())
            notes.append((f"{label}: lr {c.chosen_lr:g}, n={len(rs)}" + (f", {ex}×" if ex else ""),
                          color))
            starts.append(mean[0])
            later = steps > steps[0]
            if later.any():
                lows.append(float((mean - sd)[later].min()))
                highs.append(float((mean + sd)[later].max()))
        for k, (text, color) in enumerate(notes):  # chosen rate and seed count per method
            ax.text(0.98, (0.04 + 0.075 * (len(notes) - 1 - k)) if acc else (0.95 - 0.075 * k),
                    text, transform=ax.transAxes, ha="right", va="bottom" if acc else "top",
                    fontsize=5.5, color=color)
        if lows:
            lo, hi = min(lows), max(highs)
            pad = 0.06 * (hi - lo if hi > lo else 1e-3)
            ax.set_ylim(lo - pad, hi + pad)
        else:
            ax.text(0.5, 0.5, "no completed reported runs", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, color="gray")
        start = (f", step 0: {np.mean(starts):.3f}") if starts else ""
        ax.set_title(f"{s}: {p}-pretrained{start}", fontsize=8.5)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
        if i == len(optimizers) - 1:
            ax.set_xlabel("fine-tuning step", fontsize=8)
        if j == 0 or acc != any(c.acc for c in studies[names[j - 1]].values()):
            ax.set_ylabel("new-task val " + ("accuracy ↑" if acc else "loss ↓"), fontsize=8)
handles = [legend[k] for k in sorted(legend)]
if handles:
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)), fontsize=7,
               frameon=False)
fig.suptitle("Fine-tuning trajectories at the chosen rate: mean ± std over the reported seeds "
             "\n(matched optimizer solid, mismatched dashed)", fontsize=10)
fig.tight_layout(rect=(0, 0.03 + 0.025 * math.ceil(max(1, len(handles)) / 6), 1, 0.92))

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_finetune_curves.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_finetune_curves.png"))
