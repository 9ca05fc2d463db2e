# %% [markdown]
# # Figures 2 (right), 10, 11 analogue: spectra during pretraining
# Stable rank and SVD entropy of the Q, K, V and MLP weight groups versus pretraining step,
# Adam versus Muon (mean over the matrices of each layer group). Needs a results.h5 collected
# with the checkpoint analysis (`muft-sweep collect` built with muft::analysis, without
# --no-analysis): the per-group series live in /runs/<pretraining run>/series/<group>/.
#
# One pretraining group (spec `[[pretrain]] name`) per figure: the second argument (a group, or
# a fine-tuning study standing for the group it fine-tunes), else the first group in the results
# (e.g. `lm`; `digits` is the MLP of the vision analogue).
#
# Run: /usr/bin/python3 notebooks-export/fig_pretrain_spectra.py [results.h5] [group|study]

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
pre = [(i, o, g) for i, k, o, g in zip(ids, kinds, opts, groups_) if k == "pretrain"]
GROUP = sys.argv[2] if len(sys.argv) > 2 else (pre[0][2] if pre else "")
study_group = {s: g for k, s, g in zip(kinds, t["study"].asstr()[:], groups_) if k == "finetune"}
if GROUP not in {g for _, _, g in pre} and GROUP in study_group:
    GROUP = study_group[GROUP]
if GROUP not in {g for _, _, g in pre}:
    sys.exit("no pretraining group %r in %s (groups: %s)"
             % (GROUP, RESULTS, ", ".join(sorted({g for _, _, g in pre})) or "none"))
runs = [(i, o) for i, o, g in pre if g == GROUP and "series" in f["runs/" + i]]
if not runs:
    sys.exit("fig_pretrain_spectra: no per-group series in %s: collect without --no-analysis, "
             "from a build with "
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
fig.suptitle(f"Spectra of the weights during pretraining (group {GROUP}), Adam vs Muon")
fig.tight_layout()

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    fig.savefig(os.path.join(OUT, f"fig_pretrain_spectra.{ext}"), dpi=150)
print("wrote", os.path.join(OUT, "fig_pretrain_spectra.png"))
