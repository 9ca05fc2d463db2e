# %% [markdown]
# # Figures 5/6/7 analogue: LoRA rank
# Left: new-task validation perplexity (normalized by the pretrained model) versus LoRA rank
# (α = 2r) at each method's best learning rate. Right: old-task perplexity (forgetting) versus
# rank at the same learning rate — with one fixed learning rate per method, as in the
# paper-toy `rank` study, this is Figure 7's forgetting-versus-rank at fixed lr.
# Mean ± std over seeds.
#
# Run: /usr/bin/python3 notebooks-export/fig_lora_rank.py [results.h5] [study]

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

with h5py.File(RESULTS, "r") as f:
    t = f["table"]
    cols = {c: (t[c].asstr()[:] if t[c].dtype.kind == "O" else t[c][:]) for c in t.keys()}
rows = [{c: cols[c][i] for c in cols} for i in range(len(cols["id"]))]
rows = [r for r in rows if r["kind"] == "finetune" and r["method"] == "lora"]
ranks_per_study = defaultdict(set)
for r in rows:
    ranks_per_study[r["study"]].add(int(r["rank"]))
if STUDY is None:
    multi = [s for s, rk in ranks_per_study.items() if len(rk) > 1]
    STUDY = "rank" if "rank" in multi else (multi[0] if multi else None)
if STUDY is None:
    sys.exit("no study with several LoRA ranks in " + RESULTS)
rows = [r for r in rows if r["study"] == STUDY]
new_key = "norm_val_ppl" if all(math.isfinite(r["norm_val_ppl"]) for r in rows
                                if r["status"] == "completed") else "final_val_ppl"
old_key = new_key.replace("val_ppl", "old_val_ppl")

# %%
# (pretrain, method) -> rank -> lr -> rows
data = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
for r in rows:
    data[(r["pretrain_optimizer"], r["method_name"])][int(r["rank"])][r["lr"]].append(r)

fig, (ax_new, ax_old) = plt.subplots(1, 2, figsize=(11, 4))
colors = {"adam": "tab:blue", "muon": "tab:red", "muon-pe": "tab:purple"}
for (p, name), by_rank in sorted(data.items()):
    ranks, nm, ns, om, os_ = [], [], [], [], []
    opt = None
    for rank in sorted(by_rank):
        best = None
        for lr, rs in by_rank[rank].items():
            if any(r["status"] != "completed" for r in rs):
                continue
            m = np.mean([r[new_key] for r in rs])
            if best is None or m < best[0]:
                best = (m, rs)
        if best is None:
            continue
        rs = best[1]
        opt = rs[0]["optimizer"]
        ranks.append(rank)
        nm.append(best[0])
        ns.append(np.std([r[new_key] for r in rs], ddof=1) if len(rs) > 1 else 0)
        om.append(np.mean([r[old_key] for r in rs]))
        os_.append(np.std([r[old_key] for r in rs], ddof=1) if len(rs) > 1 else 0)
    if not ranks:
        continue
    style = "-" if opt == p else "--"
    kw = dict(marker="o", capsize=3, linestyle=style, color=colors.get(opt, "gray"),
              label=f"{name} ({p}-pretrained)")
    ax_new.errorbar(ranks, nm, yerr=ns, **kw)
    ax_old.errorbar(ranks, om, yerr=os_, **kw)
for ax, what in ((ax_new, "new-task val ppl"), (ax_old, "old-task val ppl (forgetting)")):
    ax.set_xscale("log", base=2)
    ax.set_xlabel("LoRA rank r (α = 2r)")
    ax.set_ylabel(what + (" / pretrained" if new_key == "norm_val_ppl" else ""))
    ax.legend(fontsize=7)
fig.suptitle(f"LoRA rank study ({STUDY})")
fig.tight_layout()

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_lora_rank.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_lora_rank.png"))
