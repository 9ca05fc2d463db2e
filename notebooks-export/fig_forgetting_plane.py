# %% [markdown]
# # The learning–forgetting plane from seed means
# One panel per task (column) and pretrained model (row). Each method is one point: the mean over
# the reported seeds at its chosen rate of the new-task validation loss (x, learning) and of the
# old-task (pretraining text) validation loss (y, forgetting), with ± sample-std error bars on
# both axes; lower-left is better (the digits task plots accuracies: upper-right is better).
# LoRA at one fixed rank (8, else the largest rank every LoRA method of the study ran). Every
# method of a panel uses the same seeds: those where every method's run completed, so the run
# counts are equal (n in the panel title; runs that diverged or collapsed are counted there and
# left out). No frontier is drawn from single runs. It sets the paper's claim (LoRA mitigates the
# optimizer mismatch; arXiv 2605.10468) against the competing claim that full fine-tuning with
# the pretraining optimizer forgets least (shared/papers/optimizer-model-consistency.txt); the
# report's paired intervals decide between them. The points are written to
# fig_forgetting_plane.csv next to the figure.
#
# Run: /usr/bin/python3 notebooks-export/fig_forgetting_plane.py [results.h5] [study[,study...]]

# %%
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import muft_figs as mf  # noqa: E402

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "runs/smoke/results.h5"
ONLY = sys.argv[2].split(",") if len(sys.argv) > 2 else None
OUT = mf.out_dir(__file__)
RANK = 8

f, rows = mf.load(RESULTS)
studies = mf.cells_of(rows)
staged = [s for s, cells in studies.items()
          if any(c.staged or c.awaiting_report for c in cells.values())]
names = [s for s, cells in studies.items()
         if (ONLY is None or s in ONLY) and not mf.is_rank_study(cells)
         and (ONLY is not None or not staged or s in staged)]
if ONLY and set(ONLY) - set(names):
    sys.exit("fig_forgetting_plane: no study %s in %s (studies: %s)" % (
        ", ".join(sorted(set(ONLY) - set(names))), RESULTS, ", ".join(sorted(studies)) or "none"))
if not names:
    sys.exit(f"fig_forgetting_plane: no fine-tuning study in {RESULTS}")
names = mf.order_studies(studies, names)
optimizers = sorted({c.pretrain_optimizer for s in names for c in studies[s].values()})


# %%
fig, axes = plt.subplots(len(optimizers), len(names), squeeze=False,
                         figsize=(max(9.0, 3.4 * len(names) + 0.6), 3.1 * len(optimizers) + 1.0))
legend, table = {}, []
for j, s in enumerate(names):
    rank = mf.fixed_lora_rank(studies[s], RANK)
    for i, p in enumerate(optimizers):
        ax = axes[i][j]
        mine = sorted((c for c in studies[s].values() if c.pretrain_optimizer == p
                       and (c.method != "lora" or c.rank == rank)),
                      key=lambda c: (c.method, c.optimizer))
        if not mine:
            ax.set_axis_off()
            continue
        acc = mine[0].acc
        nk, ok = mf.new_key(acc), mf.old_key(acc)
        healthy = {c: {r["seed"]: r for r in c.healthy_reported()
                       if math.isfinite(r[nk]) and math.isfinite(r[ok])} for c in mine}
        present = [c for c in mine if healthy[c]]
        seeds = sorted(set.intersection(*(set(healthy[c]) for c in present))) if present else []
        excluded = sum(len(c.excluded()) for c in mine)
        for c in present:
            rs = [healthy[c][sd] for sd in seeds]
            if not rs:
                continue
            nm, ns = mf.mean_std([r[nk] for r in rs])
            om, os_ = mf.mean_std([r[ok] for r in rs])
            color = mf.OPT_COLORS.get(c.optimizer, "gray")
            marker = "o" if c.method == "full" else "^"
            ax.errorbar([nm], [om], xerr=[ns], yerr=[os_], fmt=marker, color=color, ms=7,
                        mfc=color if c.matched else "white", mew=1.5, capsize=3, elinewidth=1.2)
            legend.setdefault(c.method_name, Line2D([], [], color=color, marker=marker,
                                                    linestyle="none", mew=1.5,
                                                    label=c.method_name))
            table.append((s, p, c.method_name, c.rank, c.chosen_lr, len(rs),
                          " ".join(str(x) for x in seeds), nm, ns, om, os_))
        if not seeds:
            ax.text(0.5, 0.5, "no completed reported runs", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, color="gray")
        ax.margins(0.15)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{s}: {p}-pretrained, n={len(seeds)} seeds"
                     + (f", {excluded} run(s) excluded" if excluded else ""), fontsize=8)
        ax.set_xlabel("new-task val " + ("accuracy → higher" if acc else "loss (learning) → lower"),
                      fontsize=7)
        ax.set_ylabel("old-task val " + ("accuracy" if acc else "loss (forgetting)"), fontsize=7)
handles = [legend[k] for k in sorted(legend)]
handles.append(Line2D([], [], color="gray", marker="o", mfc="white", linestyle="none",
                      label="open = optimizer differs from pretraining (mismatched)"))
fig.legend(handles=handles, loc="lower center", ncol=min(7, len(handles)), fontsize=7,
           frameon=False)
fig.suptitle("Learning–forgetting plane: mean ± std over the reported seeds at the chosen rate "
             "\n(equal seeds per method, LoRA at a fixed rank)", fontsize=10)
fig.tight_layout(rect=(0, 0.03 + 0.025 * math.ceil(len(handles) / 7), 1, 0.92))

# %%
for s, p, name, rank, lr, n, seeds, nm, ns, om, os_ in table:
    print(f"{s:14s} {p:5s} {name:14s} lr {lr:<8g} n={n}  new {nm:.4f} ± {ns:.4f}  "
          f"old {om:.4f} ± {os_:.4f}")
os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "fig_forgetting_plane.csv"), "w") as out:
    out.write("study,pretrain_optimizer,method,rank,lr,n,seeds,new_mean,new_std,old_mean,"
              "old_std\n")
    for s, p, name, rank, lr, n, seeds, nm, ns, om, os_ in table:
        out.write(f"{s},{p},{name},{rank},{lr!r},{n},{seeds},{nm!r},{ns!r},{om!r},{os_!r}\n")
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_forgetting_plane.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_forgetting_plane.png"))
