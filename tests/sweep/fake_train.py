#!/usr/bin/python3
"""TEST DOUBLE for muft-train, used only by the muft-sweep tests (not a trainer).

It accepts the muft-train command line of issue 4 §5 (pretrain/finetune, --out, --from,
--resume, --lr, --seed, --steps, --eval-every, ...) and writes a run directory with the
documented layout: config.json, metrics.csv (step, tokens, lr, train_loss, val_loss, val_ppl,
old_val_loss, old_val_ppl, seconds), status.json and checkpoints/step_NNNNNN.h5, all atomically
(temporary file + rename). The "checkpoints" hold a tiny JSON state, not HDF5. The numbers come
from a deterministic toy recursion, so an interrupted-and-resumed run reproduces an
uninterrupted one exactly. Extra test switches:
  --crash-at STEP   exit 1 at that step without a final status (a crashing trainer)
  lr >= 0.5         diverges at step 2*eval_every: status diverged, exit code 3
Environment: FAKE_TRAIN_SLEEP seconds per step (default 0.01). Each invocation appends one line
to DIR/invocations.log so tests can count starts, resumes and completions.
"""
import json
import math
import os
import sys
import time


def atomic_write(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        if os.environ.get("FAKE_TRAIN_FSYNC") == "1":  # atomicity needs only the rename
            os.fsync(f.fileno())
    os.rename(tmp, path)


def parse(argv):
    if not argv or argv[0] not in ("pretrain", "finetune"):
        sys.stderr.write("fake_train: first argument must be pretrain or finetune\n")
        sys.exit(2)
    opts = {"cmd": argv[0]}
    i = 1
    while i < len(argv):
        key = argv[i]
        if not key.startswith("--") or i + 1 >= len(argv):
            sys.stderr.write("fake_train: bad argument %r\n" % key)
            sys.exit(2)
        opts[key[2:]] = argv[i + 1]
        i += 2
    return opts


def log(out, line):
    with open(os.path.join(out, "invocations.log"), "a") as f:
        f.write(line + "\n")


COLS = ["step", "tokens", "lr", "train_loss", "val_loss", "val_ppl", "old_val_loss",
        "old_val_ppl", "seconds"]


def main():
    o = parse(sys.argv[1:])
    out = o.get("resume") or o["out"]
    steps = int(o.get("steps", 20))
    every = int(o.get("eval-every", 5))
    lr = float(o.get("lr", 0.01))
    seed = int(o.get("seed", 0))
    crash_at = int(o.get("crash-at", -1))
    opt = o.get("optimizer", "adam")
    pause = float(os.environ.get("FAKE_TRAIN_SLEEP", "0.01"))
    os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)

    base = 1.0 + (sum(map(ord, opt)) % 7) * 0.1 + 0.01 * seed
    if o["cmd"] == "finetune":
        src = o.get("from")
        if not src or not os.path.exists(src):
            sys.stderr.write("fake_train: --from checkpoint %r does not exist\n" % src)
            atomic_write(os.path.join(out, "status.json"),
                         json.dumps({"status": "failed", "reason": "missing --from"}))
            sys.exit(1)
        with open(src) as f:
            base += json.load(f)["x"]
        base += lr * 10 + sum(map(ord, o.get("method", ""))) % 3 * 0.05 + 0.01 * int(o.get("rank", 0))

    rows, step, x = [], 0, base
    ckpts = sorted(n for n in os.listdir(os.path.join(out, "checkpoints"))
                   if n.startswith("step_") and n.endswith(".h5"))
    if "resume" in o and ckpts:
        with open(os.path.join(out, "checkpoints", ckpts[-1])) as f:
            state = json.load(f)
        step, x = state["step"], state["x"]
        with open(os.path.join(out, "metrics.csv")) as f:
            lines = f.read().splitlines()[1:]
        rows = [ln for ln in lines if int(ln.split(",")[0]) <= step]
        log(out, "resume %d" % step)
    else:
        config = {"command": o["cmd"], "optimizer": opt, "lr": lr, "seed": seed, "steps": steps,
                  "eval_every": every, "method": o.get("method"), "rank": o.get("rank"),
                  "alpha": o.get("alpha"), "note": "written by the fake_train.py test double"}
        atomic_write(os.path.join(out, "config.json"), json.dumps(config, sort_keys=True) + "\n")
        log(out, "fresh")
    atomic_write(os.path.join(out, "status.json"), json.dumps({"status": "running", "reason": ""}))

    def evaluate(s, x):
        val = 1.0 + x
        old = 1.5 + 0.3 * (base - x) ** 2 if o["cmd"] == "finetune" else val
        row = [s, s * 64, lr, val + 0.05, val, math.exp(val), old, math.exp(old), s * 0.001]
        rows.append(",".join(repr(float(v)) if i else str(v) for i, v in enumerate(row)))
        atomic_write(os.path.join(out, "metrics.csv"), ",".join(COLS) + "\n" + "\n".join(rows) + "\n")
        atomic_write(os.path.join(out, "checkpoints", "step_%06d.h5" % s),
                     json.dumps({"step": s, "x": x}))

    if step == 0 and not rows:
        evaluate(0, x)
    while step < steps:
        time.sleep(pause)
        step += 1
        if step == crash_at:
            log(out, "crash %d" % step)
            sys.exit(1)
        x = x * 0.9 + 0.02 * ((seed % 3) + 1)
        if lr >= 0.5 and step >= 2 * every:
            atomic_write(os.path.join(out, "status.json"),
                         json.dumps({"status": "diverged", "reason": "non-finite loss at step %d" % step}))
            log(out, "diverged %d" % step)
            sys.exit(3)
        if step % every == 0 or step == steps:
            evaluate(step, x)
    atomic_write(os.path.join(out, "status.json"), json.dumps({"status": "completed", "reason": ""}))
    log(out, "completed")


if __name__ == "__main__":
    main()
