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
Environment: FAKE_TRAIN_SLEEP seconds per step (default 0.01). FAKE_TRAIN_HDF5=1 writes real
muft-checkpoint/1 HDF5 files (docs/formats.md; via h5py) holding two small weight matrices that
move with the toy state (plus LoRA factors for --method lora), so the checkpoint analysis of
`muft-sweep collect` can run on them. Each invocation appends one line to DIR/invocations.log so
tests can count starts, resumes and completions.
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
    use_h5 = os.environ.get("FAKE_TRAIN_HDF5") == "1"

    base = 1.0 + (sum(map(ord, opt)) % 7) * 0.1 + 0.01 * seed
    if o["cmd"] == "finetune":
        src = o.get("from")
        if not src or not os.path.exists(src):
            sys.stderr.write("fake_train: --from checkpoint %r does not exist\n" % src)
            atomic_write(os.path.join(out, "status.json"),
                         json.dumps({"status": "failed", "reason": "missing --from"}))
            sys.exit(1)
        with open(src + ".x" if os.environ.get("FAKE_TRAIN_HDF5") == "1" else src) as f:
            base += json.load(f)["x"]
        base += lr * 10 + sum(map(ord, o.get("method", ""))) % 3 * 0.05 + 0.01 * int(o.get("rank", 0))

    rows, step, x = [], 0, base
    ckpts = sorted(n for n in os.listdir(os.path.join(out, "checkpoints"))
                   if n.startswith("step_") and n.endswith(".h5"))
    if "resume" in o and ckpts:
        last = os.path.join(out, "checkpoints", ckpts[-1])
        with open(last + ".x" if use_h5 else last) as f:
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

    def write_h5(path, s, x):
        import h5py
        import numpy as np
        rank = int(o.get("rank", 2))
        x0 = base if o["cmd"] == "pretrain" else float(json.load(open(o["from"] + ".x"))["x"])
        eye = np.eye(4, dtype=np.float32)
        pat = np.arange(16, dtype=np.float32).reshape(4, 4) / 16.0
        wq = eye + np.float32(x0) * pat
        wfc = np.tile(wq, (2, 1)) + np.float32(0.1)
        params = {"transformer.h.0.attn.c_q.weight": wq,
                  "transformer.h.0.mlp.c_fc.weight": wfc}
        if o["cmd"] == "pretrain" or o.get("method") == "full":
            params["transformer.h.0.attn.c_q.weight"] = eye + np.float32(x) * pat
            params["transformer.h.0.mlp.c_fc.weight"] = wfc * np.float32(1 + (x - x0))
        else:
            a = np.ones((rank, 4), dtype=np.float32) * np.float32(x - x0 + 0.5)
            a[0, 0] += 1
            b = np.ones((4, rank), dtype=np.float32) * np.float32(x - x0)
            params["transformer.h.0.attn.c_q.lora_A.weight"] = a
            params["transformer.h.0.attn.c_q.lora_B.weight"] = b
        tmp = "%s.tmp.%d" % (path, os.getpid())
        with h5py.File(tmp, "w") as f:
            f.attrs["muft_format"] = "muft-checkpoint/1"
            f.attrs["step"] = np.int64(s)
            f.attrs["config"] = json.dumps({"fake": True})
            f.attrs["metrics"] = "{}"
            g = f.create_group("parameters")
            for name, v in params.items():
                d = g.create_dataset(name, data=v)
                d.attrs["dtype"] = "F32"
            f.create_group("optimizer")
            f.create_dataset("rng_state", data=np.zeros(0, dtype=np.uint8))
        os.rename(tmp, path)
        atomic_write(path + ".x", json.dumps({"step": s, "x": x}))

    def evaluate(s, x):
        val = 1.0 + x
        old = 1.5 + 0.3 * (base - x) ** 2 if o["cmd"] == "finetune" else val
        row = [s, s * 64, lr, val + 0.05, val, math.exp(val), old, math.exp(old), s * 0.001]
        rows.append(",".join(repr(float(v)) if i else str(v) for i, v in enumerate(row)))
        atomic_write(os.path.join(out, "metrics.csv"), ",".join(COLS) + "\n" + "\n".join(rows) + "\n")
        ck = os.path.join(out, "checkpoints", "step_%06d.h5" % s)
        if use_h5:
            write_h5(ck, s, x)
        else:
            atomic_write(ck, json.dumps({"step": s, "x": x}))

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
