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
for name in ("fig_lr_sweep", "fig_finetune_curves", "fig_forgetting_plane", "fig_lora_rank"):
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
# The plane's "forgetting at equal learning" table: L* is the worst method's best new-task loss,
# so every method reaches it, one method exactly, and each reported old loss is a real run's.
import csv
with open(os.path.join(figs, "fig_forgetting_plane.csv")) as f:
    plane = list(csv.DictReader(f))
assert plane, "empty fig_forgetting_plane.csv"
for p_opt in {r["pretrain_optimizer"] for r in plane}:
    mine = [r for r in plane if r["pretrain_optimizer"] == p_opt]
    level = float(mine[0]["new_loss_level"])
    assert all(float(r["best_new_loss"]) <= level for r in mine), mine
    assert any(float(r["best_new_loss"]) == level for r in mine), mine
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
