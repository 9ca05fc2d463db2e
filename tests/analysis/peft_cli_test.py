#!/usr/bin/python3
"""End-to-end: muft-analyze on PEFT adapters of every kind it merges, checked against numpy.

Fixtures are made here, at test time: a float32 base model (Llama-style projections stored
[out, in], GPT-2 Conv1D weights stored [in, out], an embedding table) and one PEFT adapter
directory per kind (adapter_model.safetensors with PEFT's tensor names + adapter_config.json):
LoRA with rank_pattern/alpha_pattern, rsLoRA, DoRA on [out, in] weights, DoRA with
fan_in_fan_out (one of its weights square), AdaLoRA with pruned lora_E, an embedding LoRA, and
a PiSSA adapter (merged, with the warning); and a pair of muft-train LoRA checkpoints
(muft-checkpoint/1 HDF5, `<module>.lora_A` / `.lora_B` beside `<module>.weight`).

Each merged update is rebuilt here by an independent numpy float64 implementation of PEFT's
formulas (get_delta_weight, DoRA's get_weight_norm and merge, SVDLinear's scale), and every
metric and distance of its `lora_delta` row is compared with numpy's SVD of that ΔW; the
intruders column is compared with PEFT's definition in numpy (reduce_intruder_dimension's
cos_sim over np.linalg.svd of W0 and W0 + ΔW). Bad intruder flags are refused with one line.
Usage: peft_cli_test.py PATH/TO/muft-analyze
"""
import json
import math
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "checkpoint"))
from cli_checks import SPECTRAL_RTOL, Checker, close  # noqa: E402

c = Checker(sys.argv[1], "muft_peft_cli_")
rng = np.random.default_rng(11)
# Distances come from the same double sums numpy makes, or the r x r core of the LoRA path.
DIST_RTOL = 1e-9


def write_safetensors(path, tensors):
    hdr, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        dt = {"float32": "F32", "float64": "F64"}[str(a.dtype)]
        b = a.astype("<" + a.dtype.str[1:]).tobytes()
        hdr[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def f32(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# --- the base model (float32; numpy works on the same rounded values in float64) ---------------
base = {
    "model.layers.0.self_attn.q_proj.weight": f32(24, 16),
    "model.layers.0.self_attn.v_proj.weight": f32(24, 16),
    "model.layers.1.self_attn.q_proj.weight": f32(24, 16),
    "model.layers.0.mlp.up_proj.weight": f32(40, 16),
    "transformer.h.0.attn.c_attn.weight": f32(16, 48),  # Conv1D: [in, out]
    "transformer.h.0.attn.c_proj.weight": f32(16, 16),  # Conv1D, square
    "model.embed_tokens.weight": f32(50, 16),
}
write_safetensors(c.path("base.safetensors"), base)
W0 = {k: v.astype(np.float64) for k, v in base.items()}


def complement_basis(w0, k):
    """k orthonormal columns orthogonal to the column space of the tall w0 (planted intruders)."""
    q, _ = np.linalg.qr(w0, mode="complete")
    return q[:, w0.shape[1]:w0.shape[1] + k]


def np_delta_metrics(d):
    s = np.linalg.svd(d, compute_uv=False)
    p = s**2 / np.sum(s**2)
    q = s / np.sum(s)
    r = min(d.shape)
    return {
        "frobenius_norm": math.sqrt(float(np.sum(d * d))),
        "spectral_norm": float(s[0]),
        "nuclear_norm": float(np.sum(s)),
        "max_abs": float(np.max(np.abs(d))),
        "stable_rank": float(np.sum(d * d) / s[0]**2),
        "svd_entropy": float(-np.sum(p[p > 0] * np.log(p[p > 0])) / math.log(r)),
        "effective_rank": float(math.exp(-np.sum(q[q > 0] * np.log(q[q > 0])))),
    }


def np_distances(w, w0):
    d2, a, b = float(np.sum((w - w0)**2)), float(np.linalg.norm(w)), float(np.linalg.norm(w0))
    return {"l2_distance": math.sqrt(d2), "relative_distance": math.sqrt(d2) / b,
            "cosine_distance": (d2 - (a - b)**2) / (2 * a * b), "weight_norm": a, "base_norm": b}


def np_intruders(w, w0, k, eps):
    """PEFT's reduce_intruder_dimension: cos_sim = (U_merged.T @ U_base).abs().max(dim=1)."""
    u_base = np.linalg.svd(w0, full_matrices=False)[0]
    u_merged = np.linalg.svd(w, full_matrices=False)[0]
    cos = np.abs(u_merged.T @ u_base).max(axis=1)[:k]
    margin = float(np.min(np.abs(cos - eps)))
    assert margin > 1e-6, ("fixture too close to epsilon for a stable count", cos, eps)
    return int(np.sum(cos < eps))


checked = {"rows": 0, "values": 0, "intruders": 0}


def run_adapter(name, tensors, config, expected, k=10, eps=0.5, extra=()):
    """Writes adapter NAME, runs diff --intruders, and checks each expected lora_delta row:
    expected maps module prefix -> (base tensor, merged W in stored orientation, rank or None,
    reason substring or "")."""
    d = c.path(name)
    os.makedirs(d)
    write_safetensors(os.path.join(d, "adapter_model.safetensors"), tensors)
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(config, f)
    return check_diff(name, c.path("base.safetensors"), os.path.join(d, "adapter_model.safetensors"),
                      expected, k, eps, extra)


def check_diff(name, base_path, path, expected, k=10, eps=0.5, extra=()):
    """Runs diff --intruders of PATH against BASE_PATH and checks the lora_delta rows (see
    run_adapter); every other row must have W = W0, i.e. no intruders."""
    out = name + ".csv"
    c.run("diff", "--base", base_path, path, "--svd", "exact", "--intruders", "--top-k", str(k),
          "--epsilon", str(eps), *extra, "-o", c.path(out))
    rows = {r["tensor"]: r for r in c.read_csv(out)}
    deltas = {t: r for t, r in rows.items() if r["kind"] == "lora_delta"}
    assert set(deltas) == {m + ".lora_delta" for m in expected}, (name, sorted(deltas))
    total = 0
    for module, (btensor, w, rank, reason) in expected.items():
        row = deltas[module + ".lora_delta"]
        w0 = W0[btensor]
        assert row["base_tensor"] == btensor, row
        assert row["status"] == "ok", (name, row)
        assert (int(row["rows"]), int(row["cols"])) == w0.shape, row
        want = np_delta_metrics(w - w0)
        for m, v in want.items():
            assert close(row[m], v, SPECTRAL_RTOL), (name, module, m, row[m], v)
            checked["values"] += 1
        for m, v in np_distances(w, w0).items():
            assert close(row[m], v, DIST_RTOL), (name, module, m, row[m], v)
            checked["values"] += 1
        if rank is not None:
            assert int(row["numerical_rank"]) == rank, (name, module, row["numerical_rank"])
        n_intr = np_intruders(w, w0, k, eps)
        assert float(row["intruders"]) == n_intr, (name, module, row["intruders"], n_intr)
        total += n_intr
        checked["intruders"] += 1
        if reason:
            assert reason in row["reason"], (name, module, row["reason"])
        else:
            assert row["reason"] == "", (name, module, row["reason"])
        checked["rows"] += 1
    assert float(rows["__total__"]["intruders"]) == total, (name, rows["__total__"])
    return total


P = "base_model.model."
L0Q, L0V, L1Q, UP = ("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                     "model.layers.1.self_attn.q_proj", "model.layers.0.mlp.up_proj")
CATTN, CPROJ, EMB = "transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_proj", "model.embed_tokens"
intruders_seen = 0

# 1. LoRA with per-module rank and alpha. rank_pattern {"q_proj": 2} gives both q_proj r = 2;
# alpha_pattern names layer 1's q_proj: alpha 32 there, 8 elsewhere. Layer 0's q_proj has B
# outside W0's column space (planted intruders); PEFT's scale is alpha / r.
B = {L0Q: (complement_basis(W0[L0Q + ".weight"], 2) @ rng.standard_normal((2, 2)) * 3).astype(
    np.float32), L1Q: f32(24, 2), L0V: f32(24, 4), UP: f32(40, 4)}
A = {L0Q: f32(2, 16), L1Q: f32(2, 16), L0V: f32(4, 16), UP: f32(4, 16)}
scale = {L0Q: 8 / 2, L1Q: 32 / 2, L0V: 8 / 4, UP: 8 / 4}
tensors = {}
for m in A:
    tensors[P + m + ".lora_A.weight"] = A[m]
    tensors[P + m + ".lora_B.weight"] = B[m]
expected = {P + m: (m + ".weight", W0[m + ".weight"] + scale[m] * (B[m].astype(np.float64) @ A[m]),
                    A[m].shape[0], "") for m in A}
cfg = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "rank_pattern": {"q_proj": 2},
       "alpha_pattern": {"model.layers.1.self_attn.q_proj": 32},
       "target_modules": ["q_proj", "v_proj", "up_proj"], "use_rslora": False}
intruders_seen += run_adapter("lora_patterns", tensors, cfg, expected)
# The same files with other thresholds: the counts follow numpy's.
run_adapter("lora_patterns_k3", tensors, cfg, expected, k=3, eps=0.3)

# 2. rsLoRA: s = alpha / sqrt(r) = 8 / 2.
a, b = f32(4, 16), f32(24, 4)
run_adapter("rslora", {P + L0V + ".lora_A.weight": a, P + L0V + ".lora_B.weight": b},
            {"r": 4, "lora_alpha": 8, "use_rslora": True},
            {P + L0V: (L0V + ".weight", W0[L0V + ".weight"] + 4.0 * (b.astype(np.float64) @ a), 4,
                       "")})


def dora(w0_stored, b, a, s, mag, fan_in_fan_out):
    """PEFT's DoRA merge: weight = transpose(W0, fan_in_fan_out) + s*B@A, norm over dim 1 (each
    output feature), new = (mag / norm)[:, None] * weight, stored back transposed."""
    w = (w0_stored.T if fan_in_fan_out else w0_stored) + s * (b.astype(np.float64) @ a)
    norm = np.linalg.norm(w, axis=1)
    new = (mag.astype(np.float64) / norm)[:, None] * w
    return new.T if fan_in_fan_out else new


# 3. DoRA on [out, in] weights, with per-module r and alpha; the magnitudes start from the row
# norms of W0 and moved in training.
tensors, expected = {}, {}
cfg = {"peft_type": "LORA", "r": 4, "lora_alpha": 16, "use_dora": True,
       "rank_pattern": {"model.layers.0.self_attn.q_proj": 2, "up_proj": 3},
       "alpha_pattern": {"q_proj": 8, "up_proj": 12}}
for m, r_, s in ((L0Q, 2, 8 / 2), (UP, 3, 12 / 3)):
    w0 = W0[m + ".weight"]
    a, b = f32(r_, 16), f32(w0.shape[0], r_, scale=0.5)
    mag = (np.linalg.norm(w0, axis=1) * (1 + 0.2 * rng.random(w0.shape[0]))).astype(np.float32)
    tensors.update({P + m + ".lora_A.weight": a, P + m + ".lora_B.weight": b,
                    P + m + ".lora_magnitude_vector": mag})
    expected[P + m] = (m + ".weight", dora(w0, b, a, s, mag, False), None, "")
run_adapter("dora", tensors, cfg, expected)
# spectra cannot merge DoRA without W0: one error row per module, exit 2, the reason says why.
p = c.run("spectra", c.path("dora"), "-o", c.path("dora_spectra.csv"), expect=2)
bad = [r for r in c.read_csv("dora_spectra.csv") if r["kind"] == "lora_delta"]
assert len(bad) == 2 and all(r["status"] == "error" and "needs the base weight W0" in r["reason"]
                             for r in bad), bad

# 4. DoRA on GPT-2's Conv1D weights (fan_in_fan_out: stored [in, out]; c_proj is square, so only
# the config can tell the orientation); magnitudes per output feature = per stored column.
tensors, expected = {}, {}
for m, out in ((CATTN, 48), (CPROJ, 16)):
    a, b = f32(2, 16), f32(out, 2, scale=0.5)
    mag = (np.linalg.norm(W0[m + ".weight"], axis=0) * 1.1).astype(np.float32)
    tensors.update({P + m + ".lora_A.weight": a, P + m + ".lora_B.weight": b,
                    P + m + ".lora_magnitude_vector": mag})
    expected[P + m] = (m + ".weight", dora(W0[m + ".weight"], b, a, 4 / 2, mag, True), None, "")
run_adapter("dora_conv1d", tensors, {"r": 2, "lora_alpha": 4, "use_dora": True,
                                     "fan_in_fan_out": True}, expected)

# 5. AdaLoRA: ranks pruned from init_r = 6 to 3 (q_proj) and 2 (v_proj); ΔW = B (A * E) *
# alpha / (ranknum + 1e-5) with ranknum = init_r (SVDLinear.get_delta_weight).
tensors, expected = {}, {}
for m, r_ in ((L0Q, 3), (L0V, 2)):
    a, b, e = f32(r_, 16), f32(24, r_), f32(r_, 1)
    tensors.update({P + m + ".lora_A": a, P + m + ".lora_B": b, P + m + ".lora_E": e})
    w = W0[m + ".weight"] + (b.astype(np.float64) @ (a.astype(np.float64) * e)) * 32 / (6 + 1e-5)
    expected[P + m] = (m + ".weight", w, r_, "")
run_adapter("adalora", tensors, {"peft_type": "ADALORA", "r": 8, "init_r": 6, "target_r": 3,
                                 "lora_alpha": 32, "rank_pattern": {
                                     P + L0Q + ".lora_E": [True, False, True, True, False, False]}},
            expected)

# 6. An embedding LoRA: lora_embedding_A (r, num), lora_embedding_B (dim, r), ΔW = (B A)^T s.
a, b = f32(3, 50), f32(16, 3)
run_adapter("embedding", {P + EMB + ".lora_embedding_A": a, P + EMB + ".lora_embedding_B": b},
            {"r": 3, "lora_alpha": 6, "target_modules": ["embed_tokens"]},
            {P + EMB: (EMB + ".weight", W0[EMB + ".weight"] + 2.0 * (b.astype(np.float64) @ a).T, 3,
                       "")})

# 7. PiSSA (unconverted): merged as a LoRA, with the warning in the reason column.
a, b = f32(2, 16), f32(24, 2)
run_adapter("pissa", {P + L1Q + ".lora_A.weight": a, P + L1Q + ".lora_B.weight": b},
            {"r": 2, "lora_alpha": 2, "init_lora_weights": "pissa_niter_4"},
            {P + L1Q: (L1Q + ".weight", W0[L1Q + ".weight"] + (b.astype(np.float64) @ a), 2,
                       "init_lora_weights=pissa_niter_4 changes the base weights")})



def write_muft_checkpoint(path, tensors, step, config):
    """A muft-checkpoint/1 HDF5 file as muft-train writes it (docs/formats.md §1): parameters
    with their dtype and crc32 attributes, the config as a JSON string."""
    import zlib

    import h5py
    with h5py.File(path, "w") as f:
        f.attrs["muft_format"] = "muft-checkpoint/1"
        f.attrs["step"] = np.int64(step)
        f.attrs["config"] = json.dumps(config)
        f.attrs["metrics"] = "{}"
        g = f.create_group("parameters", track_order=True)
        for n, a in tensors.items():
            ds = g.create_dataset(n, data=np.ascontiguousarray(a, dtype="<f4"))
            ds.attrs["dtype"] = "F32"
            ds.attrs["crc32"] = np.uint32(zlib.crc32(ds[()].tobytes()))
        f.create_dataset("rng_state", data=np.zeros(0, dtype=np.uint8))


# 8. muft-train's own LoRA checkpoints: <module>.lora_A / .lora_B beside the frozen
# <module>.weight, no adapter_config.json (alpha and r given on the command line, as the run's
# config.json holds them), against the step-0 checkpoint. c_q's B lies outside W0's column
# space (planted intruders), c_v's is random.
CQ, CV = "transformer.h.0.attn.c_q", "transformer.h.0.attn.c_v"
w0s = {CQ: f32(24, 16), CV: f32(24, 16)}
lcfg = {"lora": {"rank": 4, "alpha": 16, "scaling": "alpha_over_r"}}
write_muft_checkpoint(c.path("ckpt0.h5"), {m + ".weight": w for m, w in w0s.items()}, 0, lcfg)
fac, expected = {}, {}
for m, planted in ((CQ, True), (CV, False)):
    w0 = w0s[m].astype(np.float64)
    W0[m + ".weight"] = w0
    b = (complement_basis(w0, 4) @ rng.standard_normal((4, 4)) * 2 if planted else
         rng.standard_normal((24, 4))).astype(np.float32)
    a = f32(4, 16)
    fac.update({m + ".weight": w0s[m], m + ".lora_A": a, m + ".lora_B": b})
    expected[m] = (m + ".weight", w0 + 4.0 * (b.astype(np.float64) @ a), 4, "")
write_muft_checkpoint(c.path("ckpt100.h5"), fac, 100, lcfg)
n = check_diff("muft_train", c.path("ckpt0.h5"), c.path("ckpt100.h5"), expected,
               extra=("--lora-alpha", "16", "--lora-rank", "4"))
assert n >= 4, ("the four planted directions of c_q should be intruders", n)
intruders_seen += n

assert intruders_seen > 0, "no fixture has an intruder: the intruder checks would be vacuous"

# Bad intruder flags: exit 1, one line.
for args, needle in ((("--top-k", "0"), "--top-k"), (("--epsilon", "0"), "--epsilon"),
                     (("--epsilon", "2"), "--epsilon")):
    p = c.run("diff", "--base", c.path("base.safetensors"), c.path("rslora"), "--intruders", *args,
              expect=1)
    lines = [x for x in p.stderr.splitlines() if "OPENBLAS_CORETYPE" not in x]
    assert len(lines) == 1 and needle in lines[0], (args, p.stderr)
p = c.run("diff", "--base", c.path("base.safetensors"), c.path("rslora"), "--top-k", "3", expect=1)
assert "--intruders" in p.stderr, p.stderr

print(f"peft_cli_test: {checked['rows']} merged rows, {checked['values']} values and "
      f"{checked['intruders']} intruder counts equal to numpy ({intruders_seen} intruders in the "
      f"LoRA fixture)")
