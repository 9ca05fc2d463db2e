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

# a bad file and a missing path: error rows, batch continues, exit 2 (some rows failed)
set +e
"$bin" spectra base.safetensors bad.safetensors missing.h5 -o e.jsonl --no-progress > /dev/null 2> err.txt
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "failed-rows exit code $rc"
[ "$(grep -c '"status":"error"' e.jsonl)" -eq 2 ] || fail "error rows: $(cat e.jsonl)"
[ "$(grep -c '"status":"ok"' e.jsonl)" -eq 3 ] || fail "ok rows next to errors"

# bad command lines: exit 1 and one line "muft-analyze: error: ..." (docs/cli.md), nothing written
# (muft::platform's re-exec notice, on a machine whose OpenBLAS fell back to old kernels, is not
# part of the error)
bad=0
refused() {  # refused <stderr needle> <args...>
  local needle=$1
  shift
  bad=$((bad + 1))
  set +e
  "$bin" "$@" > /dev/null 2> err.raw; local rc=$?
  set -e
  grep -v 're-running with OPENBLAS_CORETYPE=' err.raw > err.txt || true
  [ "$rc" -eq 1 ] || fail "exit $rc (want 1) for: $* ($(cat err.txt))"
  [ "$(wc -l < err.txt)" -eq 1 ] || fail "error is not one line for: $*: $(cat err.txt)"
  grep -q "^muft-analyze: error: " err.txt || fail "no error prefix for: $*: $(cat err.txt)"
  grep -qF -- "$needle" err.txt || fail "'$needle' not in the error for: $*: $(cat err.txt)"
}
refused "out.txt" spectra base.safetensors -o out.txt
refused "--frobnicate" spectra base.safetensors --frobnicate
refused "subcommand" --no-progress
refused "inputs" spectra
refused "--svd" spectra base.safetensors --svd qr
refused "--jobs: must be an integer in [0, 1024], got '100000'" spectra base.safetensors --jobs 100000
refused "--jobs: must be an integer in [0, 1024], got '-1'" spectra base.safetensors --jobs -1
refused "--jobs" spectra base.safetensors --jobs 2.5
# an output on an input: before, `spectra in.h5 -o in.h5` truncated the checkpoint and exited 0
/usr/bin/python3 -c "
import h5py, numpy as np
with h5py.File('in.h5', 'w') as f:
    f['w'] = np.random.default_rng(1).standard_normal((8, 6))
"
sum=$(sha256sum in.h5)
mkdir -p sub
ln -s in.h5 link.h5
refused "is also an input" spectra in.h5 -o in.h5
refused "is also an input" spectra base.safetensors in.h5 -o ./sub/../in.h5
refused "is also an input" diff --base in.h5 in.h5 -o link.h5
refused "is also an input" diff --base base.safetensors ft.safetensors -o in.h5 --relative-to in.h5
[ "$(sha256sum in.h5)" = "$sum" ] || fail "an input was overwritten"
refused "--out and --per-tensor name the same file" series run -o g2.csv --per-tensor ./g2.csv
[ ! -e g2.csv ] || fail "refused series wrote g2.csv"
echo "cli_test: $bad bad command lines refused"

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
# a full disk while writing HDF5 (file size limit 64 KiB, SIGXFSZ ignored so writes fail with
# EFBIG): one error line, exit 2, no HDF5-DIAG flood, no crash at exit, no half-written file
/usr/bin/python3 - <<'PY'
import json, struct
import numpy as np
rng = np.random.default_rng(1)
hdr, blobs, off = {}, [], 0
for i in range(400):
    b = rng.standard_normal((8, 8)).astype(np.float32).tobytes()
    hdr[f"blocks.{i}.attn.c_q.weight"] = {"dtype": "F32", "shape": [8, 8], "data_offsets": [off, off + len(b)]}
    off += len(b); blobs.append(b)
h = json.dumps(hdr).encode(); h += b" " * ((8 - len(h) % 8) % 8)
with open("many.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); [f.write(b) for b in blobs]
PY
set +e
(trap '' XFSZ; ulimit -f 64; "$bin" spectra many.safetensors -o full.h5 -j 1 --spectrum --no-progress \
  > full.out 2> full.err)
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "disk full: exit $rc, expected 1: $(head -c 400 full.err)"
[ "$(wc -l < full.err)" -eq 1 ] || fail "disk full: not one error line: $(head -c 400 full.err)"
grep -q "^muft-analyze: error: writing full.h5 failed: .*File too large" full.err ||
  fail "disk full message: $(cat full.err)"
[ ! -e full.h5 ] || fail "disk full: incomplete full.h5 left behind"

# diff totals with NaN tensors, a (0, 5) matrix, compound and complex HDF5 datasets
/usr/bin/python3 - <<'PY'
import json, struct
import h5py
import numpy as np
def write(path, tensors):
    hdr, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a).tobytes()
        hdr[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(hdr).encode(); h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h); [f.write(b) for b in blobs]
rng = np.random.default_rng(0)  # the same base as above
q = rng.standard_normal((32, 48)).astype(np.float32)
fc = rng.standard_normal((64, 32)).astype(np.float32)
conv = rng.standard_normal((8, 2, 3, 3)).astype(np.float32)
nan = lambda a: np.full_like(a, np.nan)
write("nan_one.safetensors", {"blocks.0.attn.c_q.weight": nan(q), "blocks.0.mlp.c_fc.weight": fc * 2,
                              "blocks.0.conv.weight": conv})
write("nan_all.safetensors", {"blocks.0.attn.c_q.weight": nan(q), "blocks.0.mlp.c_fc.weight": nan(fc),
                              "blocks.0.conv.weight": nan(conv)})
write("empty.safetensors", {"blocks.0.attn.c_q.weight": np.zeros((0, 5), np.float32)})
with h5py.File("compound.h5", "w") as f:
    f["w"] = np.eye(3)
    f["spectrum"] = (np.ones((2, 3)) * (1 + 2j)).astype(np.complex128)
    f["table"] = np.zeros((2, 2), dtype=[("id", "<i4"), ("x", "<f4"), ("y", "<f4")])
PY
"$bin" diff --base base.safetensors nan_one.safetensors nan_all.safetensors -o nan.csv --no-progress \
  > nan.txt || fail "diff with NaN tensors: exit $?"
/usr/bin/python3 - <<'PY' || fail "diff totals with NaN tensors: $(cat nan.csv)"
import csv
rows = {r["file"]: r for r in csv.DictReader(open("nan.csv")) if r["tensor"] == "__total__"}
one, every = rows["nan_one.safetensors"], rows["nan_all.safetensors"]
assert one["status"] == "ok" and one["rows"] == "2", one
assert "omitted 1 with non-finite values: blocks.0.attn.c_q.weight" in one["reason"], one["reason"]
assert every["status"] == "non_finite" and every["l2_distance"] == "" and every["rows"] == "0", every
assert "omitted 3 with non-finite values" in every["reason"], every["reason"]
PY
"$bin" spectra empty.safetensors -o empty.csv --no-progress > empty.txt || fail "empty matrix exit"
grep -q "blocks.0.attn.c_q.weight,matrix,Q,F32,0,5,.*,empty," empty.csv || fail "(0,5): $(cat empty.csv)"
grep -q "0 tensors skipped" empty.txt || fail "(0,5) counted as skipped: $(cat empty.txt)"
"$bin" spectra compound.h5 --no-progress > compound.txt || fail "compound exit"
grep -q "2 tensors skipped" compound.txt || fail "compound skips: $(cat compound.txt)"
grep -q "skipped in compound.h5 (complex numbers (compound of two floats) are not supported): spectrum" \
  compound.txt || fail "complex reason: $(cat compound.txt)"
grep -q "skipped in compound.h5 (compound HDF5 datatype (3 fields) is not a tensor): table" \
  compound.txt || fail "compound reason: $(cat compound.txt)"
grep -q "skipped in base.safetensors (rank 1, not a matrix): blocks.0.ln.weight" out.txt ||
  fail "rank-1 reason: $(cat out.txt)"
echo "cli_test: all checks passed"
