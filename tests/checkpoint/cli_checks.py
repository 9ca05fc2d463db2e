"""Shared checks of the reader end-to-end tests (pytorch_cli_test.py, gguf_cli_test.py): run
muft-analyze, read its CSV, and compare every metric column with an independent numpy float64
computation on the same values."""
import csv
import json
import math
import os
import struct
import subprocess
import tempfile

import numpy as np

# Spectral metrics come from the double Gram matrix: each sigma_i^2 carries an absolute error of
# about n*eps*sigma_1^2 (docs/analyzer.md), so on these small, well-conditioned random matrices
# (condition number < 1e3) every derived metric agrees with numpy's SVD to far better than 1e-9.
SPECTRAL_RTOL = 1e-9
# Frobenius norm and max-abs are sums and maxima of the exact (widened) entries.
EXACT_RTOL = 1e-12
METRICS = ["frobenius_norm", "spectral_norm", "nuclear_norm", "max_abs", "stable_rank",
           "svd_entropy", "effective_rank"]


def np_metrics(w):
    """muft-analyze's metric columns, computed by numpy's SVD in float64 (docs/analyzer.md)."""
    w = np.asarray(w, dtype=np.float64).reshape(w.shape[0], -1)
    s = np.linalg.svd(w, compute_uv=False)
    r = min(w.shape)
    p = s**2 / np.sum(s**2)
    q = s / np.sum(s)
    return {
        "frobenius_norm": math.sqrt(float(np.sum(w * w))),
        "spectral_norm": float(s[0]),
        "nuclear_norm": float(np.sum(s)),
        "max_abs": float(np.max(np.abs(w))),
        "stable_rank": float(np.sum(w * w) / s[0] ** 2),
        "svd_entropy": float(-np.sum(p[p > 0] * np.log(p[p > 0])) / math.log(r))
        if r > 1 else math.nan,
        "effective_rank": float(math.exp(-np.sum(q[q > 0] * np.log(q[q > 0])))),
        "_sv": s,
    }


def close(got, want, rtol):
    if math.isnan(want):
        return got == "" or math.isnan(float(got))
    return abs(float(got) - want) <= rtol * max(abs(want), 1e-300)


class Checker:
    """A scratch directory and the muft-analyze binary; counts what it compared."""

    def __init__(self, binary, prefix):
        self.bin = binary
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.rows = 0
        self.values = 0

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, *args, expect=0):
        p = subprocess.run([self.bin, *args, "--no-progress"], capture_output=True, text=True)
        assert p.returncode == expect, (args, p.returncode, p.stdout, p.stderr)
        return p

    def read_csv(self, name):
        with open(self.path(name)) as f:
            return list(csv.DictReader(f))

    def check_row(self, row, w, what, rank=None):
        """Every metric column of a result row against numpy on w; rank overrides the count of
        numpy's singular values above the row's rank_tol (for a low-rank w, whose zero singular
        values numpy returns as rounding noise near that threshold)."""
        want = np_metrics(w)
        for m in METRICS:
            rtol = EXACT_RTOL if m in ("frobenius_norm", "max_abs") else SPECTRAL_RTOL
            assert close(row[m], want[m], rtol), (what, row["tensor"], m, row[m], want[m])
            self.values += 1
        nrank = rank if rank is not None else int(np.sum(want["_sv"] > float(row["rank_tol"])))
        assert int(row["numerical_rank"]) == nrank, (what, row["tensor"], row["numerical_rank"],
                                                     nrank)
        assert row["status"] == "ok", row
        self.rows += 1

    def check_spectra(self, name, expected, fmt):
        """spectra NAME: exactly the matrices of `expected` (name -> float64 array), each row's
        metrics equal to numpy's. Returns the rows by tensor name."""
        out = name.replace("/", "_") + ".spectra.csv"
        self.run("spectra", self.path(name), "-o", self.path(out))
        rows = {r["tensor"]: r for r in self.read_csv(out) if r["kind"] == "matrix"}
        assert set(rows) == set(expected), (name, sorted(rows), sorted(expected))
        for tname, w in expected.items():
            assert rows[tname]["format"] == fmt, rows[tname]
            assert (int(rows[tname]["rows"]), int(rows[tname]["cols"])) == \
                (w.shape[0], int(np.prod(w.shape[1:]))), rows[tname]
            self.check_row(rows[tname], w, name)
        return rows

    def write_safetensors_f64(self, name, tensors):
        """A float64 safetensors file: 8-byte header length, JSON header, raw bytes."""
        hdr, blobs, off = {}, [], 0
        for k, a in tensors.items():
            b = np.ascontiguousarray(a, dtype="<f8").tobytes()
            hdr[k] = {"dtype": "F64", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
            off += len(b)
            blobs.append(b)
        h = json.dumps(hdr).encode()
        h += b" " * ((8 - len(h) % 8) % 8)
        with open(self.path(name), "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

    def check_values_in_place(self, name, expected):
        """diff against a float64 copy of the expected values: every tensor at l2 distance 0,
        so names, shapes, element order and conversions all agree."""
        ref = name.replace("/", "_") + ".ref.safetensors"
        self.write_safetensors_f64(ref, expected)
        out = name.replace("/", "_") + ".values.csv"
        self.run("diff", "--base", self.path(ref), self.path(name), "-o", self.path(out))
        rows = [r for r in self.read_csv(out) if r["kind"] == "matrix"]
        assert {r["tensor"] for r in rows} == set(expected), (name, rows)
        for r in rows:
            assert float(r["l2_distance"]) == 0.0, (name, r["tensor"], r["l2_distance"])
