#!/usr/bin/python3
"""End-to-end test of muft-sweep with tests/sweep/fake_train.py, a TEST DOUBLE of muft-train.

Checks (issue 5 §6): SIGKILL of muft-sweep mid-run and restart lose no finished result,
duplicate no run, and give byte-identical collect output to an uninterrupted sweep; diverged
runs are recorded and not retried unless --retry-diverged; a crashing trainer is recorded as
failed; fine-tuning waits for / is blocked by its pretraining run; a corrupted or missing run
directory is reported, not fatal; shards partition the grid. Usage: sweep_e2e_test.py SWEEP SRC
"""
import filecmp
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SWEEP, SRC = sys.argv[1], sys.argv[2]
FAKE = os.path.join(SRC, "tests", "sweep", "fake_train.py")
T = tempfile.mkdtemp(prefix="muft_sweep_e2e_")
RUNS = os.path.join(T, "runs")
SPEC = os.path.join(T, "fake.toml")
with open(os.path.join(SRC, "tests", "sweep", "data", "fake.toml")) as f:
    text = f.read().replace("PLACEHOLDER", RUNS)
with open(SPEC, "w") as f:
    f.write(text)


def sweep(*args, sleep="0.003", spec=SPEC, check=None):
    env = dict(os.environ, FAKE_TRAIN_SLEEP=sleep)
    cmd = [SWEEP, args[0], spec] + list(args[1:])
    if args[0] == "run":
        cmd += ["--trainer", FAKE]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if check is not None:
        assert p.returncode == check, (cmd, p.returncode, p.stdout, p.stderr)
    return p


def counts(out):
    m = re.search(r"(\d+) already done, (\d+) completed now, (\d+) diverged, (\d+) collapsed, "
                  r"(\d+) failed, (\d+) blocked, (\d+) running elsewhere \((\d+) launched, "
                  r"(\d+) resumed\)", out)
    assert m, out
    keys = ["done", "completed", "diverged", "collapsed", "failed", "blocked", "elsewhere",
            "launched", "resumed"]
    return dict(zip(keys, map(int, m.groups())))


def run_dirs(root):
    out = []
    for d, _, files in os.walk(root):
        if "sweep.json" in files:
            out.append(d)
    return sorted(out)


def status_of(d):
    try:
        with open(os.path.join(d, "status.json")) as f:
            return json.load(f)["status"]
    except (OSError, ValueError, KeyError):
        return None


def invocations(d):
    with open(os.path.join(d, "invocations.log")) as f:
        return f.read().split("\n")[:-1]


def collect_to(dest):
    os.makedirs(dest, exist_ok=True)
    # The fake checkpoints are not HDF5: the checkpoint analysis is covered by collect_test.cpp.
    sweep("collect", "--out", os.path.join(T, "results.h5"), "--no-analysis", check=0)
    for n in ("results.h5", "results_runs.csv", "results_metrics.csv"):
        shutil.move(os.path.join(T, n), os.path.join(dest, n))


def same_outputs(a, b):
    for n in ("results.h5", "results_runs.csv", "results_metrics.csv"):
        assert filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False), n


T0 = time.time()


def phase(name):
    print("%6.2f s  %s" % (time.time() - T0, name), flush=True)


# 1. Uninterrupted reference sweep.
p = sweep("run", "--jobs", "4", check=0)
c = counts(p.stdout)
assert c["completed"] == 26 and c["diverged"] == 4 and c["launched"] == 30, c
for d in run_dirs(RUNS):
    inv = invocations(d)
    assert inv[0] == "fresh" and inv[-1].split()[0] in ("completed", "diverged") and len(inv) == 2, (d, inv)
p = sweep("status", check=0)
assert "26 done, 0 running, 0 interrupted, 0 pending, 4 diverged, 0 collapsed, 0 failed, 0 corrupt" in p.stdout, p.stdout
collect_to(os.path.join(T, "ref"))
shutil.move(RUNS, os.path.join(T, "runs_ref"))

phase("SIGKILL")
# 2. SIGKILL muft-sweep in the middle of the grid, then restart.
env = dict(os.environ, FAKE_TRAIN_SLEEP="0.05")
# The sweep gets its own process group and the whole group is SIGKILLed, as a batch scheduler
# or a terminal does: killing only the sweep would rely on PR_SET_PDEATHSIG, which some
# sandboxed kernels ignore (then the orphaned trainers run to completion and nothing is left
# interrupted to test).
proc = subprocess.Popen([SWEEP, "run", SPEC, "--jobs", "4", "--trainer", FAKE], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        start_new_session=True)
deadline = time.time() + 60
while True:
    assert time.time() < deadline, "sweep made no progress"
    dirs = run_dirs(RUNS) if os.path.isdir(RUNS) else []
    done = [d for d in dirs if status_of(d) == "completed"]
    mid = [d for d in dirs if status_of(d) == "running"
           and os.path.exists(os.path.join(d, "checkpoints", "step_000004.h5"))]
    if len(done) >= 4 and mid:
        break
    time.sleep(0.01)
os.killpg(proc.pid, signal.SIGKILL)
proc.wait()
done_before = {d: open(os.path.join(d, "metrics.csv")).read() for d in done}
# The trainers died with the group; wait until no lock is held.
for _ in range(200):
    if " 0 running" in sweep("status", check=0).stdout:
        break
    time.sleep(0.02)
else:
    raise AssertionError("trainer children still running after the sweep was killed")
# Runs that had saved a checkpoint when the sweep died must only ever be resumed afterwards
# (a run killed before its first checkpoint legitimately starts again from scratch).
def has_ckpt(d):
    c = os.path.join(d, "checkpoints")
    return os.path.isdir(c) and any(n.endswith(".h5") for n in os.listdir(c))


with_ckpt = {d for d in run_dirs(RUNS) if has_ckpt(d)}
interrupted = {d for d in with_ckpt if status_of(d) == "running"}
assert interrupted, "no run was interrupted mid-way: the kill came too late to test resume"
p = sweep("run", "--jobs", "4", check=0)
c = counts(p.stdout)
assert c["done"] >= len(done_before), c
assert c["resumed"] == len(interrupted), (c, interrupted)  # each resumed from its checkpoint
assert c["done"] + c["completed"] + c["diverged"] == 30, c
for d, metrics in done_before.items():
    assert open(os.path.join(d, "metrics.csv")).read() == metrics, d  # finished results kept
for d in run_dirs(RUNS):
    inv = invocations(d)
    finals = [x for x in inv if x in ("completed",) or x.startswith("diverged")]
    # Nothing trained to the end twice. The double logs "completed" just after its final
    # status.json write, so a kill between the two leaves a finished run with no log line.
    assert len(finals) == 1 or (not finals and status_of(d) == "completed"), (d, inv)
    assert status_of(d) in ("completed", "diverged"), (d, status_of(d))
    if d in with_ckpt:
        assert inv.count("fresh") == 1, (d, inv)  # once checkpointed, only resumed
collect_to(os.path.join(T, "killed"))
same_outputs(os.path.join(T, "ref"), os.path.join(T, "killed"))

phase("Diverged")
# 3. Diverged runs are not retried unless asked.
c = counts(sweep("run", check=0).stdout)
assert c["launched"] == 0 and c["diverged"] == 4 and c["done"] == 26, c
c = counts(sweep("run", "--retry-diverged", "--jobs", "4", check=0).stdout)
assert c["launched"] == 4 and c["diverged"] == 4, c

phase("Corrupted")
# 4. Corrupted and missing run directories are reported, not fatal.
dirs = [d for d in run_dirs(RUNS) if status_of(d) == "completed" and "/finetune/" in d]
corrupt, missing = dirs[0], dirs[1]
with open(os.path.join(corrupt, "status.json"), "w") as f:
    f.write("{not json")
shutil.rmtree(missing)
p = sweep("status", check=0)
assert "1 pending" in p.stdout and "1 corrupt" in p.stdout and "corrupt:" in p.stdout, p.stdout
p = sweep("collect", "--out", os.path.join(T, "partial.h5"), "--no-analysis", check=0)
assert "problem:" in p.stdout and "1 with problems" in p.stdout, p.stdout
c = counts(sweep("run", check=2).stdout)  # reruns the missing one, reports the corrupt one
assert c["launched"] == 1 and c["completed"] == 1 and c["failed"] == 1, c

phase("A crashing")
# 5. A crashing trainer is recorded as failed; fine-tuning from a diverged model is blocked.
spec2 = os.path.join(T, "crash.toml")
with open(spec2, "w") as f:
    f.write(f"""
name = "crash"
out_dir = "{os.path.join(T, 'runs2')}"
[[pretrain]]
name = "ok"
optimizers = ["adam"]
steps = 6
eval_every = 2
[[pretrain]]
name = "bad"
optimizers = ["adam"]
steps = 6
eval_every = 2
args = ["--lr", "0.9"]
[[finetune]]
name = "crashy"
from = "ok"
steps = 6
eval_every = 2
[[finetune.methods]]
name = "full-adam"
method = "full"
optimizer = "adam"
lrs = [0.01]
args = ["--crash-at", "3"]
[[finetune]]
name = "orphan"
from = "bad"
[[finetune.methods]]
name = "full-adam"
method = "full"
optimizer = "adam"
lrs = [0.01]
""")
p = sweep("run", spec=spec2, check=2)
c = counts(p.stdout)
assert c["failed"] == 1 and c["blocked"] == 1 and c["diverged"] == 1, (c, p.stdout)
assert "trainer exited with code 1" in p.stdout and "is diverged" in p.stdout, p.stdout
c = counts(sweep("run", spec=spec2, check=2).stdout)
assert c["launched"] == 0, c
c = counts(sweep("run", "--retry-failed", spec=spec2, check=2).stdout)
assert c["launched"] == 1 and c["resumed"] == 1, c  # resumed from its step-2 checkpoint

phase("Shards")
# 6. Shards and phases: fine-tuning alone is blocked; shards then reproduce the reference.
shutil.rmtree(RUNS)
c = counts(sweep("run", "--only", "finetune", check=2).stdout)
assert c["blocked"] == 28 and c["launched"] == 0, c
p = sweep("status", "--shard", "1/3", check=0)
assert "10 runs" in p.stdout, p.stdout
for i in range(2):
    sweep("run", "--only", "pretrain", "--shard", f"{i}/2", "--jobs", "2", check=0)
for i in range(3):
    sweep("run", "--only", "finetune", "--shard", f"{i}/3", "--jobs", "4", check=0)
collect_to(os.path.join(T, "sharded"))
same_outputs(os.path.join(T, "ref"), os.path.join(T, "sharded"))

phase("A staged study")
# 6b. A staged study (selection seed, edge extension, loss-matched pretraining rate, two tasks,
# a rank study with lr_from): it runs to its last stage, and report writes the staged report and
# its verdicts CSV.
spec3 = os.path.join(T, "staged.toml")
methods = "".join(f"""
[[finetune.methods]]
name = "{m}-{o}"
method = "{m}"
optimizer = "{o}"
lrs = [0.01, 0.02, 0.04]
""" + ('ranks = [2]\nalpha = "2r"\n' if m == "lora" else "")
                  for m in ("full", "lora") for o in ("adam", "muon"))
tasks = "".join(f"""
[[finetune]]
name = "{t}"
from = "lm"
select_seeds = [100]
seeds = [0, 1, 2]
extend_at_edge = 1
steps = 6
eval_every = 2
""" + methods for t in ("near", "far"))
with open(spec3, "w") as f:
    f.write(f"""
name = "staged"
out_dir = "{os.path.join(T, 'runs3')}"
[[pretrain]]
name = "lm"
optimizers = ["adam", "muon"]
steps = 6
eval_every = 2
match_loss_to = "muon"
[pretrain.optimizer_lrs]
adam = [0.001, 0.002]
""" + tasks + """
[[finetune]]
name = "rank-near"
from = "lm"
lr_from = "near"
seeds = [0]
steps = 6
eval_every = 2
[[finetune.methods]]
name = "lora-adam"
method = "lora"
optimizer = "adam"
ranks = [1, 4]
alpha = "2r"
""")
p = sweep("run", "--jobs", "4", spec=spec3, check=0)
p = sweep("status", spec=spec3, check=0)
assert "running 0" in p.stdout or " 0 running" in p.stdout or "pending" not in p.stdout, p.stdout
rep, vcsv = os.path.join(T, "staged.md"), os.path.join(T, "verdicts.csv")
p = sweep("report", "--out", rep, "--verdicts-csv", vcsv, "--no-analysis", spec=spec3, check=0)
md = open(rep).read()
for head in ("## Pretraining", "## Tasks", "## Learning-rate selection", "## Task `near`",
             "## Task `far`", "## Pooled over tasks", "## LoRA rank", "## Verdicts"):
    assert head in md, (head, md[:2000])
with open(vcsv) as f:
    rows = list(csv.DictReader(f))
assert rows and all(r["verdict"] for r in rows), rows
assert {"claim", "estimate", "low", "high", "interval", "verdict"} <= set(rows[0]), rows[0]

phase("Bad input")
# 7. Bad input: one error line, non-zero exit.
p = subprocess.run([SWEEP, "status", os.path.join(SRC, "tests", "sweep", "data", "fake.toml"),
                    "--shard", "3/3"], capture_output=True, text=True)
# (muft::platform's re-exec notice, on a machine whose OpenBLAS fell back to old kernels, is not
# part of the error.)
err = [l for l in p.stderr.splitlines() if "re-running with OPENBLAS_CORETYPE=" not in l]
assert p.returncode == 1 and len(err) == 1 and "--shard" in p.stderr, p.stderr
p = subprocess.run([SWEEP, "run", SPEC, "--trainer", "/nonexistent/muft-train"],
                   capture_output=True, text=True)
assert p.returncode == 1 and "not an executable" in p.stderr, p.stderr

shutil.rmtree(T)
print("ok")
