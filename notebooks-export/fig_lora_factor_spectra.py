# %% [markdown]
# # Figures 12–14 analogue: spectra of the LoRA factors during fine-tuning
# Stable rank and SVD entropy of the LoRA A and B factors (mean over the adapted layers of each
# kind) versus fine-tuning step, LoRA-Adam versus LoRA-Muon, from the first seed at each
# method's best learning rate. Needs a results.h5 collected with the checkpoint analysis: the
# series live in /runs/<run>/series/<group>.lora_A and .lora_B.
#
# Run: /usr/bin/python3 notebooks-export/fig_lora_factor_spectra.py [results.h5] [study]

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
METRICS = ("stable_rank", "svd_entropy")

f = h5py.File(RESULTS, "r")
t = f["table"]
cols = {c: (t[c].asstr()[:] if t[c].dtype.kind == "O" else t[c][:]) for c in t.keys()}
rows = [{c: cols[c][i] for c in cols} for i in range(len(cols["id"]))]
rows = [r for r in rows if r["kind"] == "finetune" and r["method"] == "lora"]
if STUDY is None and rows:
    STUDY = "lr-sweep" if any(r["study"] == "lr-sweep" for r in rows) else rows[0]["study"]
rows = [r for r in rows if r["study"] == STUDY]

# %%
by = defaultdict(lambda: defaultdict(list))  # (pretrain, method, rank) -> lr -> rows
for r in rows:
    by[(r["pretrain_optimizer"], r["method_name"], int(r["rank"]))][r["lr"]].append(r)
chosen = {}
for key, lrs in by.items():
    best = None
    for lr, rs in lrs.items():
        if all(x["status"] == "completed" for x in rs):
            m = sum(x["final_val_ppl"] for x in rs) / len(rs)
            if best is None or m < best[0]:
                best = (m, sorted(rs, key=lambda x: x["seed"])[0])
    if best and "series" in f["runs/" + best[1]["id"]]:
        chosen[key] = best[1]
if not chosen:
    sys.exit("no LoRA factor series in %s: collect without --no-analysis, from a build with "
             "muft::analysis" % RESULTS)
factors = ("lora_A", "lora_B")
fig, axes = plt.subplots(len(METRICS), len(factors), figsize=(10, 7), squeeze=False)
colors = {"adam": "tab:blue", "muon": "tab:red", "muon-pe": "tab:purple"}
for (p, name, rank), r in sorted(chosen.items()):
    s = f["runs/" + r["id"] + "/series"]
    for j, fac in enumerate(factors):
        groups = [g for g in s if g.endswith("." + fac)]
        for i, m in enumerate(METRICS):
            curves = [(s[g]["step"][:], s[g][m][:]) for g in groups if m in s[g]]
            if not curves:
                continue
            n = min(len(c[0]) for c in curves)
            mean = [sum(c[1][k] for c in curves) / len(curves) for k in range(n)]
            axes[i][j].plot(curves[0][0][:n], mean, "-" if r["optimizer"] == p else "--",
                            color=colors.get(r["optimizer"], "gray"),
                            label=f"{name} r={rank} ({p}-pretrained, lr {r['lr']:g})")
for j, fac in enumerate(factors):
    for i, m in enumerate(METRICS):
        axes[i][j].set_title(f"LoRA {fac[-1]}: {m}", fontsize=9)
        axes[i][j].set_xlabel("fine-tuning step")
axes[0][0].legend(fontsize=6)
fig.suptitle(f"Spectra of the LoRA factors during fine-tuning (study {STUDY})")
fig.tight_layout()

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_lora_factor_spectra.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_lora_factor_spectra.png"))
