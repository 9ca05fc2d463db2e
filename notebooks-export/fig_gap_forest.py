# %% [markdown]
# # Forest plot of the mismatch gaps and LoRA's gap reduction
# One row of panels per pretraining direction (the model pretrained with P, the mismatched
# fine-tuning optimizer X), one panel per quantity, paired by seed at each method's chosen rate
# (positive = the mismatched optimizer is worse):
#   Full gap  = Full-X − Full-P,   LoRA gap = LoRA-X − LoRA-P,   reduction = Full gap − LoRA gap
# (positive reduction = LoRA shrinks the gap, the paper's Sec. 4.3 claim). The value is the
# normalized new-task perplexity (val ppl / the pretrained model's), as in `muft-sweep report`;
# for an accuracy task (digits) it is the accuracy difference with its sign flipped, so that
# positive still means worse. Per task: the mean over the seeds where all four runs completed,
# with its Student-t 95 % interval (n − 1 degrees of freedom). Pooled (diamond): the
# DerSimonian–Laird estimate over the perplexity tasks (per-task variance = s²/n), with the
# modified Hartung–Knapp–Sidik–Jonkman 95 % interval (its variance floored at the DL variance,
# t with k − 1 degrees of freedom; thick bar) and the DL normal interval (thin bar). Both come
# from the muft Python module (muft.summarize, muft.pool: lib/stats, the code muft-stats and
# muft-sweep report use), recomputed from results.h5, not read from the report. Accuracy tasks
# are drawn below the pooled row and not pooled: their unit differs. Values: fig_gap_forest.csv.
#
# Run: /usr/bin/python3 notebooks-export/fig_gap_forest.py [results.h5] [study[,study...]]

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
RANK = 8
QUANTITIES = ("Full gap", "LoRA gap", "reduction")

f, rows = mf.load(RESULTS)
studies = mf.cells_of(rows)
staged = [s for s, cells in studies.items()
          if any(c.staged or c.awaiting_report for c in cells.values())]
names = [s for s, cells in studies.items()
         if (ONLY is None or s in ONLY) and not mf.is_rank_study(cells)
         and (ONLY is not None or not staged or s in staged)]
if not names:
    sys.exit(f"fig_gap_forest: no fine-tuning study in {RESULTS}")
names = mf.order_studies(studies, names)


def find(cells, p, method, opt):
    """The cell of method kind `method` with optimizer `opt` on the P-pretrained model (LoRA at
    the study's fixed rank: RANK, else the largest rank both LoRA methods ran)."""
    rank = mf.fixed_lora_rank(cells, RANK)
    cand = [c for c in cells.values()
            if c.pretrain_optimizer == p and c.method == method and c.optimizer == opt
            and (method != "lora" or c.rank == rank)]
    return cand[0] if len(cand) == 1 else None


def paired(cells, p, x):
    """{quantity: list of per-seed values}, seeds, acc — or None."""
    cs = [find(cells, p, "full", x), find(cells, p, "full", p), find(cells, p, "lora", x),
          find(cells, p, "lora", p)]
    if any(c is None for c in cs):
        return None
    acc = cs[0].acc
    key = "final_val_acc" if acc else "norm_val_ppl"
    sign = -1.0 if acc else 1.0
    vals = [{r["seed"]: r[key] for r in c.healthy_reported() if math.isfinite(r[key])}
            for c in cs]
    seeds = sorted(set.intersection(*(set(v) for v in vals)))
    fx, fp, lx, lp = ([v[s] for s in seeds] for v in vals)
    full = [sign * (a - b) for a, b in zip(fx, fp)]
    lora = [sign * (a - b) for a, b in zip(lx, lp)]
    return ({"Full gap": full, "LoRA gap": lora,
             "reduction": [a - b for a, b in zip(full, lora)]}, seeds, acc,
            sum(len(c.excluded()) for c in cs))


# %%
directions = []
for p in sorted({c.pretrain_optimizer for s in names for c in studies[s].values()}):
    others = sorted({c.optimizer for s in names for c in studies[s].values()
                     if c.pretrain_optimizer == p and c.optimizer != p and c.optimizer in
                     ("adam", "muon")})
    for x in others:
        per_task = []
        for s in names:
            got = paired(studies[s], p, x)
            if got:
                per_task.append((s,) + got)
        if per_task:
            directions.append((p, x, per_task))
if not directions:
    sys.exit(f"fig_gap_forest: no task in {RESULTS} has Full and LoRA with both optimizers")

rows_per_panel = max(len(d[2]) for d in directions) + 1  # tasks and the pooled row
fig, axes = plt.subplots(len(directions), 3, squeeze=False,
                         figsize=(13, (0.42 * rows_per_panel + 1.5) * len(directions) + 0.6))
csv = ["direction,task,quantity,n,estimate,low,high,interval,k,tau2,dl_low,dl_high,note"]
for i, (p, x, per_task) in enumerate(directions):
    loss_tasks = [t for t in per_task if not t[3]]
    acc_tasks = [t for t in per_task if t[3]]
    for j, qn in enumerate(QUANTITIES):
        ax = axes[i][j]
        labels, y = [], 0
        ests = []
        for s, q, seeds, acc, excl in loss_tasks + acc_tasks:
            if acc and acc_tasks and s == acc_tasks[0][0]:
                y += 1  # the pooled row sits between the loss and the accuracy tasks
            m, lo, hi, n = mf.t_interval(q[qn])
            color = "tab:green" if acc else "black"
            if math.isfinite(lo):
                ax.plot([lo, hi], [y, y], "-", color=color, lw=1.6)
            ax.plot([m], [y], "s", color=color, ms=5)
            labels.append((y, f"{s} (n={n}{', Δacc, not pooled' if acc else ''}"
                           f"{f', {excl}× excluded' if excl else ''})"))
            csv.append(f"{p}->{x},{s},{qn},{n},{m!r},{lo!r},{hi!r},student-t,,,,,"
                       f"{'accuracy (sign flipped)' if acc else 'norm val ppl'}")
            if not acc and n >= 2 and math.isfinite(m):
                sd = float(np.std(q[qn], ddof=1))
                ests.append((m, max((sd / math.sqrt(n)) ** 2, 1e-18)))
            y += 1
        pooled_y = len(loss_tasks)
        if len(ests) >= 2:
            r = mf.dl_hksj([e for e, _ in ests], [v for _, v in ests])
            ax.plot([r["dl_low"], r["dl_high"]], [pooled_y, pooled_y], "-", color="tab:blue",
                    lw=1.0)
            ax.plot([r["hksj_low"], r["hksj_high"]], [pooled_y, pooled_y], "-",
                    color="tab:blue", lw=3.5, alpha=0.6)
            ax.plot([r["estimate"]], [pooled_y], "D", color="tab:blue", ms=8)
            labels.append((pooled_y, f"pooled, k={r['k']} (DL; HKSJ thick)"))
            csv.append(f"{p}->{x},pooled,{qn},,{r['estimate']!r},{r['hksj_low']!r},"
                       f"{r['hksj_high']!r},modified HKSJ,{r['k']},{r['tau2']!r},"
                       f"{r['dl_low']!r},{r['dl_high']!r},DerSimonian-Laird")
        else:
            labels.append((pooled_y, f"pooled: needs ≥ 2 tasks with n ≥ 2 (has {len(ests)})"))
        ax.axvline(0.0, color="gray", lw=0.8, ls=":")
        ax.axhline(pooled_y - 0.5, color="tab:blue", lw=0.6, alpha=0.5)
        if acc_tasks:
            ax.axhline(pooled_y + 0.5, color="gray", lw=0.8, ls="--")
        ax.set_yticks([a for a, _ in labels])
        ax.set_yticklabels([b for _, b in labels] if j == 0 else [""] * len(labels), fontsize=7)
        ax.set_ylim(max(a for a, _ in labels) + 0.7, -0.7)
        ax.grid(True, axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(f"{p}-pretrained, mismatched {x}: {qn}", fontsize=9)
        ax.set_xlabel({"Full gap": "Full-%s − Full-%s" % (x, p),
                       "LoRA gap": "LoRA-%s − LoRA-%s" % (x, p),
                       "reduction": "Full gap − LoRA gap (> 0: LoRA shrinks it)"}[qn]
                      + " (norm. val ppl)", fontsize=7)
fig.suptitle("Mismatch gaps paired by seed: per task mean with Student-t 95 % CI; pooled "
             "DerSimonian–Laird with the modified HKSJ 95 % CI (positive = mismatched worse)",
             fontsize=10)
fig.tight_layout(rect=(0, 0, 1, 0.95))

# %%
os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "fig_gap_forest.csv"), "w") as out:
    out.write("\n".join(csv) + "\n")
print("\n".join(csv))
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_gap_forest.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_gap_forest.png"))
