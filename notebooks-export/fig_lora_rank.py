# %% [markdown]
# # Figures 5/6/7 analogue: LoRA rank
# Left: final new-task validation loss versus LoRA rank (α = 2r); right: final old-task
# validation loss (forgetting) versus rank; one row per pretrained model, mean ± sample std over
# the reported seeds (completed runs only; n per point in the CSV printout). In paper-toy the
# `rank-fortunes` study runs every rank at the rate chosen for rank 8 on `fortunes` (lr_from),
# so this is Figure 7's forgetting-versus-rank at a fixed rate; the rank-8 point of the source
# study (same pretrained model, method, rate and task) is added as an open marker. In a study
# that swept rates for several ranks (the smoke profile), each rank uses its best rate.
#
# Run: /usr/bin/python3 notebooks-export/fig_lora_rank.py [results.h5] [study]

# %%
import json
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import muft_figs as mf  # noqa: E402

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "runs/smoke/results.h5"
STUDY = sys.argv[2] if len(sys.argv) > 2 else None
OUT = mf.out_dir(__file__)

f, rows = mf.load(RESULTS)
studies = mf.cells_of(rows)


def lora_ranks(cells):
    return {c.rank for c in cells.values() if c.method == "lora"}


if STUDY is None:
    rank_studies = [s for s, c in studies.items() if mf.is_rank_study(c)]
    multi = [s for s, c in studies.items() if len(lora_ranks(c)) > 1]
    STUDY = rank_studies[0] if rank_studies else (multi[0] if multi else None)
if STUDY is None or STUDY not in studies or len(lora_ranks(studies[STUDY])) < 2:
    sys.exit("fig_lora_rank: no study with several LoRA ranks in %s%s" % (
        RESULTS, f" (asked for {STUDY})" if STUDY else ""))
cells = studies[STUDY]
acc = any(c.acc for c in cells.values())
nk, ok = mf.new_key(acc), mf.old_key(acc)


def task_start(c):
    """What identifies the task of a cell's runs: the training file of their config (stored by
    collect), else the pretrained model's starting perplexity on it."""
    out = set()
    for r in c.runs:
        if r["status"] != "completed":
            continue
        g = f.get("runs/" + r["id"])
        try:
            out.add(json.loads(g.attrs["config_json"])["data"]["train"])
        except (AttributeError, KeyError, TypeError, ValueError):
            out.add(round(float(r["initial_val_ppl"]), 6))
    return out


# %%
# (pretrain optimizer, method name) -> [(rank, lr, n, new mean, new std, old mean, old std, src)]
series = defaultdict(list)
for (pre, name, rank), c in cells.items():
    if c.method != "lora":
        continue
    rs = c.healthy_reported()
    if not rs:
        continue
    nm, ns = mf.mean_std([r[nk] for r in rs])
    om, os_ = mf.mean_std([r[ok] for r in rs])
    series[(c.pretrain_optimizer, name)].append((rank, c.chosen_lr, len(rs), nm, ns, om, os_,
                                                 STUDY))
    # The same method, pretrained model, rate and task at another rank in another study.
    # Prefer a source study named in the rank study's name (fortunes for rank-fortunes).
    for s2, cells2 in sorted(studies.items(), key=lambda kv: (kv[0] not in STUDY, kv[0])):
        if s2 == STUDY:
            continue
        for (pre2, name2, rank2), c2 in cells2.items():
            if (pre2 == pre and name2 == name and rank2 not in lora_ranks(cells)
                    and c2.chosen_lr == c.chosen_lr and task_start(c2) & task_start(c)
                    and c2.runs[0]["steps"] == c.runs[0]["steps"]):
                rs2 = c2.healthy_reported()
                if rs2 and not any(x[0] == rank2 for x in series[(c.pretrain_optimizer, name)]):
                    a, b = mf.mean_std([r[nk] for r in rs2])
                    d, e = mf.mean_std([r[ok] for r in rs2])
                    series[(c.pretrain_optimizer, name)].append(
                        (rank2, c2.chosen_lr, len(rs2), a, b, d, e, s2))
if not series:
    sys.exit(f"fig_lora_rank: study {STUDY} has no completed reported LoRA runs in {RESULTS}")
optimizers = sorted({p for p, _ in series})
fig, axes = plt.subplots(len(optimizers), 2, figsize=(10.5, 3.6 * len(optimizers) + 0.4),
                         squeeze=False)
for i, p in enumerate(optimizers):
    ax_new, ax_old = axes[i]
    for (pp, name), pts in sorted(series.items()):
        if pp != p:
            continue
        pts.sort()
        opt = next(c.optimizer for c in cells.values() if c.method_name == name)
        color = mf.OPT_COLORS.get(opt, "gray")
        style = "-" if opt == p else "--"
        own = [x for x in pts if x[7] == STUDY]
        other = [x for x in pts if x[7] != STUDY]
        for ax, mi, si in ((ax_new, 3, 4), (ax_old, 5, 6)):
            ax.errorbar([x[0] for x in own], [x[mi] for x in own], yerr=[x[si] for x in own],
                        marker="^", linestyle=style, color=color, capsize=3,
                        label=(f"{name} (lr {own[0][1]:g})" if len({x[1] for x in own}) == 1
                               else f"{name} (best lr per rank)") if own else name)
            if other:
                ax.errorbar([x[0] for x in other], [x[mi] for x in other],
                            yerr=[x[si] for x in other], fmt="^", mfc="white", color=color,
                            capsize=3, label=f"{name} r{other[0][0]} from {other[0][7]}")
        for x in pts:
            print(f"{p}-pretrained {name:12s} r{x[0]:<3d} lr {x[1]:g} n={x[2]}  new "
                  f"{x[3]:.4f} ± {x[4]:.4f}  old {x[5]:.4f} ± {x[6]:.4f}  ({x[7]})")
    for ax, what in ((ax_new, "new-task val " + ("accuracy" if acc else "loss")),
                     (ax_old, "old-task val " + ("accuracy" if acc else "loss (forgetting)"))):
        ax.set_xscale("log", base=2)
        shown = sorted({x[0] for (pp, _), pts in series.items() if pp == p for x in pts})
        ax.set_xticks(shown)
        ax.set_xticklabels([str(r) for r in shown])
        ax.minorticks_off()
        ax.set_xlabel("LoRA rank r (α = 2r)")
        ax.set_ylabel(what)
        ax.set_title(f"{p}-pretrained: {what}", fontsize=9)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
fig.suptitle(f"LoRA rank study `{STUDY}`: mean ± std over the reported seeds "
             "(matched optimizer solid, mismatched dashed)", fontsize=10)
fig.tight_layout()

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_lora_rank.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_lora_rank.png"))
