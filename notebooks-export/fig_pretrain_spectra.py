# %% [markdown]
# # Figures 2 (right), 10, 11 analogue: spectra during pretraining
# Stable rank and SVD entropy of the Q, K, V and MLP weight groups versus pretraining step,
# Adam versus Muon (mean over the matrices of each layer group). Needs a results.h5 collected
# with the checkpoint analysis (`muft-sweep collect` built with muft::analysis, without
# --no-analysis): the per-group series live in /runs/<pretraining run>/series/<group>/.
#
# Run: /usr/bin/python3 notebooks-export/fig_pretrain_spectra.py [results.h5]

# %%
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "runs/smoke/results.h5"
OUT = os.environ.get("MUFT_FIGURES_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "docs", "figures")
METRICS = ("stable_rank", "svd_entropy")

f = h5py.File(RESULTS, "r")
t = f["table"]
ids, kinds = t["id"].asstr()[:], t["kind"].asstr()[:]
opts, groups_ = t["optimizer"].asstr()[:], t["group"].asstr()[:]
runs = [(i, o) for i, k, o in zip(ids, kinds, opts) if k == "pretrain"
        and "series" in f["runs/" + i]]
if not runs:
    sys.exit("no per-group series in %s: collect without --no-analysis, from a build with "
             "muft::analysis" % RESULTS)
layer_groups = sorted({g for i, _ in runs for g in f["runs/" + i + "/series"].keys()})

# %%
fig, axes = plt.subplots(len(METRICS), len(layer_groups),
                         figsize=(3.2 * len(layer_groups), 3 * len(METRICS)), squeeze=False)
colors = {"adam": "tab:blue", "muon": "tab:red"}
for j, g in enumerate(layer_groups):
    for i, m in enumerate(METRICS):
        ax = axes[i][j]
        for run, opt in runs:
            s = f["runs/" + run + "/series"]
            if g not in s or m not in s[g]:
                continue
            ax.plot(s[g]["step"][:], s[g][m][:], color=colors.get(opt, "gray"), label=run.split("/")[-1])
        ax.set_title(f"{g}: {m}", fontsize=9)
        ax.set_xlabel("pretraining step")
        if i == 0 and j == 0:
            ax.legend(fontsize=7)
fig.suptitle("Spectra of the weights during pretraining, Adam vs Muon")
fig.tight_layout()

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_pretrain_spectra.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_pretrain_spectra.png"))
