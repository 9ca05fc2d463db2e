#!/usr/bin/python3
"""muft-train under faults (issue 9 §1, §2), as a user runs it:
1. Disk full: a pretraining run whose checkpoint write fails (RLIMIT_FSIZE below the checkpoint's
   size, SIGXFSZ ignored: the write fails with EFBIG as it would with ENOSPC) exits 1 with one
   error line (no HDF5-DIAG, no crash at exit), leaves no *.tmp.<pid> file, keeps the earlier
   checkpoint byte for byte, and status.json says failed with the reason.
2. Corruption: exponent bytes of lm_head.weight flipped in the newest checkpoint of a killed run;
   `resume` refuses, naming the tensor and offering --from-step; `resume --from-step 10` ends
   with the same validation loss as the uninterrupted run.
Usage: train_faults_test.py MUFT_TRAIN SRC
"""
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

import h5py

TRAIN, SRC = sys.argv[1], sys.argv[2]
T = tempfile.mkdtemp(prefix="muft_train_faults_")
CONFIG = os.path.join(SRC, "data", "experiments", "smoke-model.json")


def text_file(name, seed):
    # A learnable, deterministic byte stream (a fixed word list in a seeded order).
    words = ("the of and to in is was for on that with as by at from his it an were are "
             "which this be or has had not but one all their new after first two").split()
    x, out = seed, []
    for _ in range(40000):
        x = (x * 1103515245 + 12345) % 2**31
        out.append(words[x % len(words)])
    path = os.path.join(T, name)
    with open(path, "w") as f:
        f.write(" ".join(out))
    return path


DATA = ["--train", text_file("train.txt", 1), "--val", text_file("val.txt", 2),
        "--old-val", text_file("old.txt", 3)]


def train(*args, limit=None):
    def preexec():
        if limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run([TRAIN] + list(args), capture_output=True, text=True,
                          preexec_fn=preexec)


def pretrain(out, steps=20, limit=None):
    return train("pretrain", "--config", CONFIG, *DATA, "--steps", str(steps), "--eval-every",
                 "10", "--checkpoint-every", "10", "--threads", "1", "--no-progress", "--out",
                 out, limit=limit)


def status(run):
    with open(os.path.join(run, "status.json")) as f:
        return json.load(f)


def errors(p):
    return [l for l in p.stderr.splitlines() if "re-running with OPENBLAS_CORETYPE=" not in l]


try:
    # 1. Disk full at the step-10 checkpoint (step 0's, without optimizer state, fits).
    ref = os.path.join(T, "ref")
    p = pretrain(ref)
    assert p.returncode == 0, (p.stdout, p.stderr)
    ck = os.path.join(ref, "checkpoints")
    size0 = os.path.getsize(os.path.join(ck, "step_000000.h5"))
    size10 = os.path.getsize(os.path.join(ck, "step_000010.h5"))
    assert size0 < size10, (size0, size10)
    full = os.path.join(T, "full")
    p = pretrain(full, limit=(size0 + size10) // 2)
    assert p.returncode == 1, ("exit code", p.returncode, p.stderr[-2000:])
    err = errors(p)
    assert len(err) == 1 and err[0].startswith("muft-train: error: cannot write checkpoint"), err[:10]
    assert "File too large" in err[0], err[0]
    assert "HDF5-DIAG" not in p.stderr and "HDF5-DIAG" not in p.stdout
    left = [n for d in (full, os.path.join(full, "checkpoints")) for n in os.listdir(d)
            if ".tmp." in n]
    assert not left, ("temporary files left", left)
    st = status(full)
    assert st["status"] == "failed" and "File too large" in st["reason"], st
    kept = os.path.join(full, "checkpoints", "step_000000.h5")
    # Intact: it opens, and every parameter equals the unlimited run's step-0 parameter (the
    # same seed; the files differ only in their metadata, e.g. the run directory's path).
    with h5py.File(kept, "r") as a, h5py.File(os.path.join(ck, "step_000000.h5"), "r") as b:
        names = sorted(b["parameters"].keys())
        assert names and sorted(a["parameters"].keys()) == names
        for k in names:
            assert (a["parameters"][k][()] == b["parameters"][k][()]).all(), k
            assert a["parameters"][k].attrs["crc32"] == b["parameters"][k].attrs["crc32"], k
    assert sorted(os.listdir(os.path.join(full, "checkpoints"))) == ["step_000000.h5"]

    # 2. A corrupt newest checkpoint of a run that was killed after writing it.
    run = os.path.join(T, "corrupt")
    shutil.copytree(ref, run)
    newest = os.path.join(run, "checkpoints", "step_000020.h5")
    with h5py.File(newest, "r") as f:
        d = f["parameters/lm_head.weight"]
        offset, n = d.id.get_offset(), d.size
    assert offset is not None  # contiguous storage: the bytes are where HDF5 says
    with open(newest, "r+b") as f:
        for i in range(min(n, 64)):  # the exponent byte of 64 float32 (little endian)
            f.seek(offset + 4 * i + 3)
            b = f.read(1)[0]
            f.seek(offset + 4 * i + 3)
            f.write(bytes([b ^ 0x40]))
    st = status(run)
    st.update(status="running", pid=2**22 + 12345)  # killed: its process is gone
    with open(os.path.join(run, "status.json"), "w") as f:
        json.dump(st, f)
    p = train("resume", run, "--no-progress")
    assert p.returncode == 1, ("exit code", p.returncode, p.stdout[-1000:], p.stderr[-1000:])
    err = errors(p)
    assert len(err) == 1, err
    for part in ("checksum mismatch", "'lm_head.weight'", "step_000020.h5", "--from-step",
                 "steps: 10, 0"):
        assert part in err[0], (part, err[0])
    assert status(run)["status"] == "failed"
    p = train("resume", run, "--no-progress", "--from-step", "10")
    assert p.returncode == 0, (p.stdout[-1000:], p.stderr[-1000:])
    st, st_ref = status(run), status(ref)
    assert st["status"] == "completed" and st["step"] == 20, st
    assert st["final_val_loss"] == st_ref["final_val_loss"], (st, st_ref)
    assert os.path.exists(newest + ".superseded")
    print("train_faults_test: all checks passed")
finally:
    shutil.rmtree(T, ignore_errors=True)
