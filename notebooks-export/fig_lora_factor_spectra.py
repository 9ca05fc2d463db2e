# %% [markdown]
# # Figures 12–14 analogue: spectra of the LoRA factors during fine-tuning
# Stable rank and SVD entropy of the LoRA A and B factors (mean over the adapted layers of each
# kind) versus fine-tuning step, LoRA-Adam versus LoRA-Muon, from the first completed reported
# seed at each method's chosen rate (default study: `lr-sweep`, else the first task with a
# learning-rate selection in starting-loss order). Needs a results.h5 collected with the checkpoint analysis: the
# series live in /runs/<run>/series/<group>.lora_A and .lora_B.
#
# Run: /usr/bin/python3 notebooks-export/fig_lora_factor_spectra.py [results.h5] [study]

# %%
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import muft_figs as mf  # noqa: E402

RESULTS = sys.argv[1] if len(sys.argv) > 1 else "runs/smoke/results.h5"
STUDY = sys.argv[2] if len(sys.argv) > 2 else None
OUT = mf.out_dir(__file__)
METRICS = ("stable_rank", "svd_entropy")

f, rows = mf.load(RESULTS)
studies = mf.cells_of(rows)
if STUDY is None:
    lora = [n for n, cells in studies.items()
            if any(c.method == "lora" for c in cells.values()) and not mf.is_rank_study(cells)]
    staged = [n for n in lora if any(c.staged for c in studies[n].values())]
    STUDY = ("lr-sweep" if "lr-sweep" in lora else
             mf.order_studies(studies, staged or lora)[0] if lora else None)
if STUDY not in studies:
    sys.exit(f"fig_lora_factor_spectra: no fine-tuning study {STUDY!r} in {RESULTS}")

# %%
# Per LoRA cell: its first completed reported run at the chosen rate.
chosen = {}
for key, c in studies[STUDY].items():
    rs = c.healthy_reported() if c.method == "lora" else []
    if rs and "series" in f["runs/" + rs[0]["id"]]:
        chosen[(c.pretrain_optimizer, c.method_name, c.rank)] = rs[0]
if not chosen:
    sys.exit("fig_lora_factor_spectra: no LoRA factor series in %s (study %s): collect without "
             "--no-analysis, from a build with muft::analysis" % (RESULTS, STUDY))
factors = ("lora_A", "lora_B")
fig, axes = plt.subplots(len(METRICS), len(factors), figsize=(10, 7), squeeze=False)
colors = mf.OPT_COLORS
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
