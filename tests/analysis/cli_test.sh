#!/usr/bin/env bash
# End-to-end test of muft-analyze: fixtures written with /usr/bin/python3 + numpy (safetensors is
# 8-byte LE header length, JSON header, raw bytes), then spectra / diff / series into CSV, JSON
# lines and HDF5, checking exit codes, row counts, one value against numpy, and bad input.
# Usage: cli_test.sh PATH/TO/muft-analyze
set -euo pipefail
bin="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

/usr/bin/python3 - <<'PY'
import json, os, struct
import numpy as np
def write(path, tensors):
    hdr, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        hdr[name] = {"dtype": {"float32": "F32", "float64": "F64"}[str(a.dtype)], "shape": list(a.shape),
                     "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(hdr).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h); [f.write(b) for b in blobs]
rng = np.random.default_rng(0)
base = {"blocks.0.attn.c_q.weight": rng.standard_normal((32, 48)).astype(np.float32),
        "blocks.0.mlp.c_fc.weight": rng.standard_normal((64, 32)).astype(np.float32),
        "blocks.0.conv.weight": rng.standard_normal((8, 2, 3, 3)).astype(np.float32),
        "blocks.0.ln.weight": np.ones(32, np.float32)}
write("base.safetensors", base)
write("ft.safetensors", {k: v * np.float32(1.25) for k, v in base.items()})
os.makedirs("run/checkpoints")
for s in (10, 20):
    write(f"run/checkpoints/step_{s:06d}.safetensors", {k: v * np.float32(s) for k, v in base.items()})
w = base["blocks.0.attn.c_q.weight"].astype(np.float64)
sv = np.linalg.svd(w, compute_uv=False)
json.dump({"stable_rank": float((sv**2).sum() / sv[0]**2)}, open("expect.json", "w"))
open("bad.safetensors", "wb").write(b"\xff" * 16)
PY

"$bin" --help > /dev/null || fail "--help"
"$bin" spectra --help | grep -q -- "--svd" || fail "spectra --help"

# spectra: 3 matrices (conv reshaped to 8x18), the rank-1 tensor skipped
"$bin" spectra base.safetensors -o s.csv --no-progress > out.txt || fail "spectra exit"
[ "$(tail -n +2 s.csv | wc -l)" -eq 3 ] || fail "spectra rows: $(cat s.csv)"
grep -q "blocks.0.conv.weight,matrix,other,F32,8,18" s.csv || fail "conv reshape: $(cat s.csv)"
grep -q "1 tensors skipped" out.txt || fail "skip count: $(cat out.txt)"
/usr/bin/python3 - <<'PY' || fail "stable rank differs from numpy"
import csv, json
want = json.load(open("expect.json"))["stable_rank"]
row = [r for r in csv.DictReader(open("s.csv")) if r["tensor"] == "blocks.0.attn.c_q.weight"][0]
got = float(row["stable_rank"])
assert abs(got - want) <= 1e-10 * want, (got, want)
PY

# a bad file and a missing path: error rows, batch continues, exit 1
set +e
"$bin" spectra base.safetensors bad.safetensors missing.h5 -o e.jsonl --no-progress > /dev/null 2> err.txt
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "bad input exit code $rc"
[ "$(grep -c '"status":"error"' e.jsonl)" -eq 2 ] || fail "error rows: $(cat e.jsonl)"
[ "$(grep -c '"status":"ok"' e.jsonl)" -eq 3 ] || fail "ok rows next to errors"

# bad flags: one line, exit 2 (CLI11 usage errors exit with their own non-zero code)
set +e
"$bin" spectra base.safetensors -o out.txt > /dev/null 2> err.txt; rc=$?
set -e
[ "$rc" -ne 0 ] || fail "unknown output extension accepted"
# (muft::platform's re-exec notice, on a machine whose OpenBLAS fell back to old kernels, is not
# part of the error.)
[ "$(grep -vc 're-running with OPENBLAS_CORETYPE=' err.txt)" -eq 1 ] ||
  fail "error is not one line: $(cat err.txt)"

# diff: W = 1.25 W0 → relative 0.25, cosine 0; HDF5 output
"$bin" diff --base base.safetensors ft.safetensors -o d.h5 --no-progress > d.txt || fail "diff exit"
grep -q "relative=0.25 " d.txt || fail "diff total: $(cat d.txt)"
/usr/bin/python3 -c "
import h5py
f = h5py.File('d.h5', 'r')
rel = f['relative_distance'][:]
assert len(rel) == 4, len(rel)
assert max(abs(r - 0.25) for r in rel) < 1e-7, rel  # W = fl32(1.25 W0)
" || fail "diff HDF5 content"

# series: 2 steps x groups {Q, MLP-up, other}
"$bin" series run -o g.csv --no-progress > /dev/null || fail "series exit"
[ "$(tail -n +2 g.csv | wc -l)" -eq 6 ] || fail "series rows: $(cat g.csv)"
grep -q ",20,Q,1,0," g.csv || fail "series step/group: $(cat g.csv)"
echo "cli_test: all checks passed"
