#!/usr/bin/python3
"""The issue-5 figure scripts (notebooks-export/fig_*.py) run on a collected results.h5.

Makes a small grid with tests/sweep/fake_train.py (a TEST DOUBLE of muft-train) writing real
muft HDF5 checkpoints, collects it with the checkpoint analysis (distances, per-group spectra),
checks the report's Table 17 analogue, and runs each script with MUFT_FIGURES_DIR pointing to
a temporary directory (docs/figures is left alone). Usage: figures_test.py SWEEP SRC
"""
import os
import shutil
import subprocess
import sys
import tempfile

SWEEP, SRC = sys.argv[1], sys.argv[2]
T = tempfile.mkdtemp(prefix="muft_sweep_figs_")
spec = os.path.join(T, "fake.toml")
with open(os.path.join(SRC, "tests", "sweep", "data", "fake.toml")) as f:
    text = f.read().replace("PLACEHOLDER", os.path.join(T, "runs"))
with open(spec, "w") as f:
    f.write(text)
env = dict(os.environ, FAKE_TRAIN_SLEEP="0", FAKE_TRAIN_HDF5="1")
subprocess.run([SWEEP, "run", spec, "--jobs", "4", "--trainer",
                os.path.join(SRC, "tests", "sweep", "fake_train.py")], check=True, env=env,
               stdout=subprocess.DEVNULL)
results = os.path.join(T, "results.h5")
p = subprocess.run([SWEEP, "collect", spec, "--out", results], capture_output=True, text=True)
assert p.returncode == 0 and "0 with problems" in p.stdout, p.stdout + p.stderr
analyzed = "note: built without muft::analysis" not in p.stdout
if analyzed:
    p = subprocess.run([SWEEP, "report", spec], capture_output=True, text=True, check=True)
    assert "| adam | full-adam | 0.01 | 1.00× (" in p.stdout, p.stdout
figs = os.path.join(T, "figs")
procs = []
# fig_gap_forest needs the muft Python module (CTest puts this build's on PYTHONPATH when the
# build has one; a build without it, such as the sanitizer one, checks the other figures).
with_muft = subprocess.run(["/usr/bin/python3", "-c", "import muft"],
                           capture_output=True).returncode == 0
if not with_muft:
    print("note: no muft Python module on PYTHONPATH: fig_gap_forest not checked")
for name in ("fig_lr_sweep", "fig_finetune_curves", "fig_forgetting_plane", "fig_lora_rank") + \
        (("fig_gap_forest",) if with_muft else ()):
    script = os.path.join(SRC, "notebooks-export", name + ".py")
    procs.append((name, subprocess.Popen(["/usr/bin/python3", script, results, "lr-sweep"],
                                         env=dict(os.environ, MUFT_FIGURES_DIR=figs),
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         text=True)))
for name, p in procs:
    out = p.communicate()[0]
    assert p.returncode == 0, (name, out)
    for ext in ("png", "pdf"):
        assert os.path.getsize(os.path.join(figs, name + "." + ext)) > 1000, name
# The plane and the forest, recomputed from the collected table: every method of a panel has the
# same seeds, and each point is the seed mean of those runs at the method's chosen rate.
import csv
import math

import h5py

with h5py.File(results, "r") as f:
    t = f["table"]
    cols = {c: (t[c].asstr()[:] if t[c].dtype.kind == "O" else t[c][:]) for c in t.keys()}
table = [{c: cols[c][i] for c in cols} for i in range(len(cols["id"]))]


def runs_of(study, pre, method, lr, seeds, rank=None):
    out = {int(r["seed"]): r for r in table
           if r["kind"] == "finetune" and r["study"] == study and r["pretrain_optimizer"] == pre
           and r["method_name"] == method and r["lr"] == lr and int(r["seed"]) in seeds
           and (rank is None or int(r["rank"]) == rank)}
    assert sorted(out) == sorted(seeds) and all(r["status"] == "completed"
                                                for r in out.values()), (study, method, out)
    return out


with open(os.path.join(figs, "fig_forgetting_plane.csv")) as f:
    plane = list(csv.DictReader(f))
assert plane, "empty fig_forgetting_plane.csv"
for key in {(r["study"], r["pretrain_optimizer"]) for r in plane}:
    mine = [r for r in plane if (r["study"], r["pretrain_optimizer"]) == key]
    assert len({r["n"] for r in mine}) == 1 and len({r["seeds"] for r in mine}) == 1, mine
    assert len(mine) == 4, mine  # full-adam, full-muon, lora-adam and lora-muon at one rank
    for r in mine:
        seeds = [int(x) for x in r["seeds"].split()]
        got = runs_of(r["study"], r["pretrain_optimizer"], r["method"], float(r["lr"]), seeds,
                      int(r["rank"]))
        new = sum(x["final_val_loss"] for x in got.values()) / len(got)
        old = sum(x["final_old_val_loss"] for x in got.values()) / len(got)
        assert abs(new - float(r["new_mean"])) < 1e-12 and abs(old - float(r["old_mean"])) < 1e-12
forest = []
if with_muft:
    with open(os.path.join(figs, "fig_gap_forest.csv")) as f:
        forest = list(csv.DictReader(f))
full = [r for r in forest if r["task"] == "lr-sweep" and r["quantity"] == "Full gap"]
assert len(full) == (2 if with_muft else 0), forest  # adam->muon and muon->adam
for r in full:
    p, x = r["direction"].split("->")
    lr_of = {c["method"]: float(c["lr"]) for c in plane
             if c["study"] == "lr-sweep" and c["pretrain_optimizer"] == p}
    seeds = [int(s) for s in next(c["seeds"] for c in plane if c["pretrain_optimizer"] == p
                                  and c["study"] == "lr-sweep").split()]
    a = runs_of("lr-sweep", p, f"full-{x}", lr_of[f"full-{x}"], seeds)
    b = runs_of("lr-sweep", p, f"full-{p}", lr_of[f"full-{p}"], seeds)
    gap = sum(a[s]["norm_val_ppl"] - b[s]["norm_val_ppl"] for s in seeds) / len(seeds)
    assert int(r["n"]) == len(seeds) and math.isclose(gap, float(r["estimate"]), rel_tol=1e-12,
                                                      abs_tol=1e-15), (r, gap)
# The spectra scripts need the analysis series; without them they must say so and fail.
for name in ("fig_pretrain_spectra", "fig_lora_factor_spectra"):
    p = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "notebooks-export", name + ".py"),
                        results, "lr-sweep"], env=dict(os.environ, MUFT_FIGURES_DIR=figs),
                       capture_output=True, text=True)
    if analyzed:
        assert p.returncode == 0, (name, p.stdout, p.stderr)
        assert os.path.getsize(os.path.join(figs, name + ".png")) > 1000, name
    else:
        assert p.returncode != 0 and "series" in p.stderr, p.stderr
shutil.rmtree(T)
print("ok")
