#!/usr/bin/python3
"""End-to-end: muft-analyze on GGUF files written here by a small writer (GGUF v3 layout from
the specification: header, metadata, tensor infos, aligned data; numpy only).

The model holds llama.cpp-named tensors in F32, F16, BF16, F64 and Q8_0 (quantized here as
llama.cpp does: one f16 scale per 32 values, int8 quants), plus a Q4_0 tensor and a norm vector
that must be skipped. Checks: every metric column against numpy float64 on the dequantized
values, the layer groups of the GGUF names, every value in place (diff against a float64
safetensors reference: l2 = 0 exactly), and that truncated or lying files become one error row.
Usage: gguf_cli_test.py PATH/TO/muft-analyze
"""
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import Checker  # noqa: E402

c = Checker(sys.argv[1], "muft_gguf_cli_")
F32, F16, Q4_0, Q8_0, F64, BF16 = 0, 1, 2, 8, 28, 30
ALIGN = 32


def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(name, tensors, tensor_count=None):
    """tensors: list of (name, row-major shape, ggml type, raw bytes)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors) if tensor_count is None else tensor_count,
                                3)
    out += gguf_string("general.architecture") + struct.pack("<I", 8) + gguf_string("llama")
    out += gguf_string("general.alignment") + struct.pack("<II", 4, ALIGN)
    out += gguf_string("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 2)
    out += gguf_string("<s>") + gguf_string("</s>")
    data = b""
    for tname, shape, ty, raw in tensors:
        data += b"\0" * ((ALIGN - len(data) % ALIGN) % ALIGN)
        out += gguf_string(tname) + struct.pack("<I", len(shape))
        out += b"".join(struct.pack("<Q", d) for d in reversed(shape))  # ne[0] innermost
        out += struct.pack("<IQ", ty, len(data))
        data += raw
    out += b"\0" * ((ALIGN - len(out) % ALIGN) % ALIGN)
    with open(c.path(name), "wb") as f:
        f.write(out + data)
    return out + data


def bf16(x):
    """Round float32 to bfloat16 (nearest even); returns (bits, float64 value)."""
    u = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    bits = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return bits, (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def q8_0(x):
    """llama.cpp's Q8_0: blocks of 32 along each row, d = max|x|/127 stored as f16, q = round(x/d).
    Returns (bytes, the float64 values ggml's dequantization gives: float32(f16(d)) * q)."""
    blocks = np.asarray(x, np.float32).reshape(-1, 32)
    d = np.abs(blocks).max(axis=1) / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0.0)
    q = np.clip(np.round(blocks * inv[:, None]), -128, 127).astype(np.int8)
    d16 = d.astype(np.float16)
    raw = b"".join(d16[i:i + 1].tobytes() + q[i].tobytes() for i in range(len(q)))
    deq = (d16.astype(np.float32)[:, None] * q.astype(np.float32)).astype(np.float64)
    return raw, deq.reshape(np.shape(x))


rng = np.random.default_rng(7)
vocab, d, ff = 48, 32, 64
expected, tensors = {}, []


def add(name, shape, ty):
    x = rng.standard_normal(shape).astype(np.float32) * 0.3
    if ty == F32:
        raw, val = x.tobytes(), x.astype(np.float64)
    elif ty == F16:
        h = x.astype(np.float16)
        raw, val = h.tobytes(), h.astype(np.float64)
    elif ty == BF16:
        bits, val = bf16(x)
        raw = bits.tobytes()
    elif ty == F64:
        x = rng.standard_normal(shape)
        raw, val = x.astype("<f8").tobytes(), x
    elif ty == Q8_0:
        raw, val = q8_0(x)
    tensors.append((name, list(shape), ty, raw))
    expected[name] = val


add("token_embd.weight", (vocab, d), F16)
add("blk.0.attn_q.weight", (d, d), Q8_0)
add("blk.0.attn_k.weight", (d // 2, d), BF16)
add("blk.0.attn_v.weight", (d // 2, d), F64)
add("blk.0.attn_output.weight", (d, d), F32)
add("blk.0.ffn_gate.weight", (ff, d), Q8_0)
add("blk.0.ffn_up.weight", (ff, d), F16)
add("blk.0.ffn_down.weight", (d, ff), Q8_0)
tensors.append(("blk.0.attn_norm.weight", [d], F32, np.ones(d, np.float32).tobytes()))
tensors.append(("output.weight", [vocab, d], Q4_0, bytes(vocab * d // 32 * 18)))  # listed, skipped
good = write_gguf("model.gguf", tensors)

rows = c.check_spectra("model.gguf", expected, "gguf")
groups = {"token_embd.weight": "embedding", "blk.0.attn_q.weight": "Q",
          "blk.0.attn_k.weight": "K", "blk.0.attn_v.weight": "V",
          "blk.0.attn_output.weight": "O", "blk.0.ffn_gate.weight": "MLP-up",
          "blk.0.ffn_up.weight": "MLP-up", "blk.0.ffn_down.weight": "MLP-down"}
for tname, group in groups.items():
    assert rows[tname]["group"] == group, rows[tname]
assert rows["blk.0.attn_q.weight"]["dtype"] == "F32"  # dequantized Q8_0
assert rows["blk.0.attn_k.weight"]["dtype"] == "BF16"
p = c.run("spectra", c.path("model.gguf"))
assert "2 tensors skipped" in p.stdout, p.stdout  # the norm vector and the Q4_0 head
skipped = [r for r in c.read_csv("model.gguf.spectra.csv") if r["tensor"] == "output.weight"]
assert all("Q4_0" in r["reason"] for r in skipped), skipped
c.check_values_in_place("model.gguf", expected)

# Truncated and lying files: one error row each, exit 1, the batch goes on.
with open(c.path("cut.gguf"), "wb") as f:
    f.write(good[: len(good) - 100])
write_gguf("lying.gguf", tensors, tensor_count=1 << 40)
c.run("spectra", c.path("model.gguf"), c.path("cut.gguf"), c.path("lying.gguf"), "-o",
      c.path("bad.csv"), expect=2)
bad = {os.path.basename(r["file"]): r for r in c.read_csv("bad.csv") if r["status"] == "error"}
assert set(bad) == {"cut.gguf", "lying.gguf"}, bad
assert "run past the end of the file" in bad["cut.gguf"]["reason"], bad["cut.gguf"]
assert "truncated file or lying length" in bad["lying.gguf"]["reason"] or \
    "appears twice" in bad["lying.gguf"]["reason"], bad["lying.gguf"]
print(f"gguf_cli_test: all checks passed ({c.rows} rows, {c.values} metric values against "
      "numpy float64)")
