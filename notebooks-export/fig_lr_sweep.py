# %% [markdown]
# # Figure 4 analogue: learning-rate sweep with selection and reported seeds
# Small multiples: one panel per task (column) and pretrained model (row). In each panel, per
# method, the selection score versus fine-tuning learning rate: the final new-task validation
# loss (accuracy for the digits task, higher is better) of the selection seeds, i.e. the value
# `muft-sweep` chose the rate on. Matched optimizer solid, mismatched dashed; full fine-tuning
# circles, LoRA triangles. A rate whose selection run diverged or collapsed is marked × at the
# panel's edge. At the chosen rate, a black-edged error bar gives the reported seeds' mean ± sample
# std (completed runs only; n in the legend, excluded runs counted). In an unstaged study (no
# selection seeds, e.g. the smoke profile) the line is the mean over all seeds and the error bar
# the same seeds at the best rate. The y-range spans the values near the optima: points beyond
# a robust bound (the blow-ups at large rates) are drawn as open markers on the panel's edge.
#
# Run: /usr/bin/python3 notebooks-export/fig_lr_sweep.py [results.h5] [study[,study...]]

# %%
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import muft_figs as mf  # noqa: E402

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "runs/smoke/results.h5"
ONLY = sys.argv[2].split(",") if len(sys.argv) > 2 else None
OUT = mf.out_dir(__file__)

f, rows = mf.load(RESULTS)
studies = mf.cells_of(rows)
names = [s for s, cells in studies.items()
         if (ONLY is None or s in ONLY) and not mf.is_rank_study(cells)
         and any(len(c.lrs) > 1 for c in cells.values())]
if ONLY:
    missing = [s for s in ONLY if s not in names]
    if missing:
        sys.exit("fig_lr_sweep: no learning-rate sweep for study %s in %s (sweeps: %s)" % (
            ", ".join(missing), RESULTS,
            ", ".join(s for s, c in studies.items() if any(len(x.lrs) > 1 for x in c.values()))
            or "none"))
if not names:
    sys.exit(f"fig_lr_sweep: no study with several learning rates in {RESULTS}")
names = mf.order_studies(studies, names)
optimizers = sorted({c.pretrain_optimizer for s in names for c in studies[s].values()})

# %%
fig, axes = plt.subplots(len(optimizers), len(names), squeeze=False,
                         figsize=(max(9.0, 3.4 * len(names) + 0.6), 3.0 * len(optimizers) + 1.0))
handles = {}
for j, s in enumerate(names):
    cells = studies[s]
    for i, p in enumerate(optimizers):
        ax = axes[i][j]
        mine = sorted((c for c in cells.values() if c.pretrain_optimizer == p),
                      key=lambda c: (c.method, c.optimizer, c.rank))
        if not mine:
            ax.set_axis_off()
            continue
        acc = mine[0].acc
        lines, bad, bars = [], [], []
        for c in mine:
            xs, ys, xb = [], [], []
            for lr in c.lrs:
                sc = c.score(lr)
                if sc is None:
                    continue
                if math.isfinite(sc):
                    xs.append(lr)
                    ys.append(sc)
                else:
                    xb.append(lr)
            rep = c.healthy_reported()
            vals = [r[mf.new_key(acc)] for r in rep]
            m, sd = mf.mean_std(vals)
            lines.append((c, xs, ys, xb, (c.chosen_lr, m, sd, len(vals), len(c.excluded()))))
        # Robust y-range: every method's best selection score and its reported mean ± std, and
        # the scores up to the middle of all (a blow-up is never the median of a 3-5 rate grid).
        allv = [y for _, _, ys, _, _ in lines for y in ys]
        keep = [max(ys) if acc else min(ys) for _, _, ys, _, _ in lines if ys]
        keep += [m + sd * (1 if not acc else -1) for *_, (lr, m, sd, n, _) in lines if n]
        keep += [m - sd * (1 if not acc else -1) for *_, (lr, m, sd, n, _) in lines if n]
        if allv:
            med = float(np.percentile(allv, 40 if acc else 60))
            lo, hi = min(keep + [med]), max(keep + [med])
            if hi - lo <= 0:
                hi, lo = hi + 1e-3, lo - 1e-3
            pad = 0.08 * (hi - lo)
            lo, hi = lo - pad, hi + pad
        else:
            lo, hi = 0.0, 1.0
        edge = lo if acc else hi  # the "bad" side
        for c, xs, ys, xb, (lr, m, sd, n, nexcl) in lines:
            color = mf.OPT_COLORS.get(c.optimizer, "gray")
            marker = "o" if c.method == "full" else "^"
            style = "-" if c.matched else "--"
            label = mf.method_label(c.method_name, c.rank)
            inside = [(x, y) for x, y in zip(xs, ys) if lo <= y <= hi]
            outside = [x for x, y in zip(xs, ys) if not lo <= y <= hi]
            h, = ax.plot(xs, np.clip(ys, lo, hi) if ys else ys, style, color=color, lw=1.3,
                         alpha=0.9)
            ax.plot([x for x, _ in inside], [y for _, y in inside], marker, color=color, ms=5,
                    linestyle="none")
            if outside:
                ax.plot(outside, [edge] * len(outside), marker, mfc="white", color=color, ms=6,
                        linestyle="none", clip_on=False)
            if xb:
                ax.plot(xb, [edge] * len(xb), "x", color=color, ms=8, mew=2, clip_on=False)
            handles.setdefault(label, (h, marker, color, style))
            if lr is not None and n:
                ax.errorbar([lr], [m], yerr=[sd], fmt=marker, color=color, mec="black",
                            ms=7, capsize=4, elinewidth=1.6, zorder=5)
                note = f"n={n}" + (f", {nexcl}×" if nexcl else "")
                ax.annotate(note, (lr, m), textcoords="offset points", xytext=(5, -9 if acc else 4),
                            fontsize=6, color=color)
        ax.set_ylim(lo, hi)
        ax.set_xscale("log")
        grid = [lr for c in mine for lr in c.lrs]
        ax.set_xlim(min(grid) / 1.4, max(grid) * 1.4)
        if not allv:
            ax.text(0.5, 0.5, "no finished selection runs", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, color="gray")
        ax.grid(True, which="major", alpha=0.3)
        ax.tick_params(labelsize=7)
        title = f"{s}: {p}-pretrained"
        ax.set_title(title, fontsize=9)
        if i == len(optimizers) - 1:
            ax.set_xlabel("fine-tuning lr", fontsize=8)
        if j == 0 or acc != studies[names[j - 1]][next(iter(studies[names[j - 1]]))].acc:
            ax.set_ylabel("final new-task val " + ("accuracy ↑" if acc else "loss ↓"), fontsize=8)
from matplotlib.lines import Line2D  # noqa: E402

legend = [Line2D([], [], color=c, marker=mk, linestyle=st, label=lab)
          for lab, (_, mk, c, st) in sorted(handles.items())]
legend += [Line2D([], [], color="gray", marker="x", linestyle="none", mew=2,
                  label="selection run diverged/collapsed"),
           Line2D([], [], color="gray", marker="o", mfc="white", linestyle="none",
                  label="beyond the y-range"),
           Line2D([], [], color="gray", marker="o", mec="black", linestyle="none",
                  label="chosen rate: reported seeds mean ± std")]
fig.legend(handles=legend, loc="lower center", ncol=min(5, len(legend)), fontsize=7,
           frameon=False)
fig.suptitle("Learning-rate sweep: selection-seed score per rate (lines), reported seeds at the "
             "chosen rate (error bars)\nmatched optimizer solid, mismatched dashed", fontsize=10)
nrows_legend = math.ceil(len(legend) / min(5, len(legend)))
fig.tight_layout(rect=(0, 0.03 + 0.025 * nrows_legend, 1, 0.92))

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_lr_sweep.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_lr_sweep.png"))
