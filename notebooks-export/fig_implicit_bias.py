# %% [markdown]
# # Implicit bias on the toy regression (paper Fig. 2 left and Fig. 9)
# Reads the `--h5` output of `muft-verify` (check `obs-implicit-bias`, instance 0: a 10x10
# problem Wx = y) and plots, for Adam, SignGD and Muon (exact, NS5, Polar Express), the
# relative Frobenius distance of the iterates to W*_max = y sign(x)'/|x|_1 and to
# W*_2 = y x'/|x|^2, and the loss (drawn as the upper envelope over [t, 1.25 t] of the per-step values).
# Usage:
#   build/bin/muft-verify --only obs-implicit-bias --h5 out/verify.h5
#   /usr/bin/python3 notebooks-export/fig_implicit_bias.py [out/verify.h5] [docs/figures]

# %%
import os
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

H5 = sys.argv[1] if len(sys.argv) > 1 else "out/verify.h5"
OUT = sys.argv[2] if len(sys.argv) > 2 else "docs/figures"
GROUP = "checks/obs-implicit-bias/instance_0"
OPTIMIZERS = [  # (dataset prefix, legend, colour, line style)
    ("adam", "Adam (0.9, 0.999, eps 1e-8)", "tab:red", "-"),
    ("signgd", "SignGD", "tab:orange", "--"),
    ("muon_exact", "Muon, exact polar", "tab:blue", "-"),
    ("muon_ns5", "Muon, NS5", "tab:cyan", "--"),
    ("muon_pe", "Muon, Polar Express", "tab:purple", ":"),
]

# %%
if not os.path.exists(H5):
    sys.exit(f"fig_implicit_bias: no such file '{H5}' (run muft-verify --h5 first)")
with h5py.File(H5, "r") as f:
    if GROUP not in f:
        sys.exit(f"fig_implicit_bias: '{H5}' has no {GROUP} (run with --only obs-implicit-bias)")
    g = f[GROUP]
    data = {
        key: {
            "steps": np.asarray(g[f"{key}_steps"]),
            "to_max": np.asarray(g[f"{key}_dist_w_star_max"]),
            "to_2": np.asarray(g[f"{key}_dist_w_star_2"]),
            "loss": np.asarray(g[f"{key}_loss"]),
        }
        for key, *_ in OPTIMIZERS
    }
    m, n = g["w_star_max"].shape
    power = float(g["power"][()])
    # Independent recomputation from the stored inputs: the closed forms and the final distances.
    x, y = np.asarray(g["x"]), np.asarray(g["y"])
    w_max = np.outer(y, np.sign(x)) / np.abs(x).sum()
    w_2 = np.outer(y, x) / (x @ x)
    assert np.allclose(w_max, g["w_star_max"], rtol=1e-12, atol=1e-15), "W*_max mismatch"
    assert np.allclose(w_2, g["w_star_2"], rtol=1e-12, atol=1e-15), "W*_2 mismatch"
    for key, *_ in OPTIMIZERS:
        w_final = np.asarray(g[f"{key}_W_final"])
        d = np.linalg.norm(w_final - w_max) / np.linalg.norm(w_max)
        assert abs(d - data[key]["to_max"][-1]) <= 1e-9 * max(1.0, d), f"{key}: distance mismatch"
        print(f"{key:>10}: final rel. distance to W*_max {d:.3e}, to W*_2 "
              f"{np.linalg.norm(w_final - w_2) / np.linalg.norm(w_2):.3e}")

# %%
floor = 1e-16  # log axes: exact zeros are drawn at this floor
fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), constrained_layout=True)
panels = [
    ("to_max", r"$\|W_t - W^*_{\max}\|_F / \|W^*_{\max}\|_F$", r"distance to $W^*_{\max}$ (min max-norm)"),
    ("to_2", r"$\|W_t - W^*_2\|_F / \|W^*_2\|_F$", r"distance to $W^*_2$ (min spectral norm)"),
    ("loss", r"$\frac{1}{2}\|W_t x - y\|^2$", "training loss"),
]


def envelope(steps, values, factor=1.25):
    """Running maximum over [t, factor*t]: sign-type steps make distances oscillate between
    ~0 and ~eta_t, so the upper envelope is the readable trend."""
    out = np.empty_like(values)
    j = 0
    for i, t in enumerate(steps):
        j = max(j, i)
        while j + 1 < len(steps) and steps[j + 1] <= factor * max(t, 1):
            j += 1
        out[i] = values[i : j + 1].max()
    return out


for ax, (field, ylabel, title) in zip(axes, panels):
    for key, label, colour, style in OPTIMIZERS:
        d = data[key]
        steps = np.maximum(d["steps"], 1)
        vals = np.maximum(d[field], floor)
        full = steps * 1.25 <= steps[-1]  # windows that are complete
        ax.plot(steps[full], envelope(steps, vals)[full], style, color=colour, label=label, lw=1.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step t")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
axes[0].legend(loc="lower left", fontsize=8)
fig.suptitle(
    f"Implicit bias on Wx = y ({m}x{n}, W0 = 0, step $\\eta_t = \\eta_0/(t+1)^{{{power:g}}}$): "
    "sign-type optimizers approach $W^*_{\\max}$, Muon variants $W^*_2$ "
    "(curves: upper envelope over [t, 1.25t])",
    fontsize=11,
)

# %%
os.makedirs(OUT, exist_ok=True)
for ext in ("png", "pdf"):
    path = os.path.join(OUT, f"implicit_bias.{ext}")
    fig.savefig(path, dpi=150)
    print(f"wrote {path}")
