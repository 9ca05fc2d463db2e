#!/usr/bin/python3
"""Seed corpora for the reader fuzz targets (scripts/fuzz.sh): torch.save-style pickles and zip
archives (from python3-torch when it is installed, else hand-made with the standard library)
and small GGUF files. Usage: make_seeds.py OUT_DIR  (writes OUT_DIR/{pickle,zip,gguf}/). Their output
is committed as tests/fuzz/corpus/{pickle,torch_zip,gguf_header}/ (seeds of scripts/fuzz.sh and of
the fuzz_replay_* tests)."""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

out = sys.argv[1]
for sub in ("pickle", "zip", "gguf"):
    os.makedirs(os.path.join(out, sub), exist_ok=True)


def save(sub, name, data):
    with open(os.path.join(out, sub, name), "wb") as f:
        f.write(data)


# Pickles and archives.
try:
    import torch
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    objs = {
        "sd": collections.OrderedDict(w=base, b=torch.ones(3, dtype=torch.float16)),
        "nested": {"model": {"enc.w": base.t(), "x": base[1:]}, "step": 3, "cfg": {"lr": 0.1}},
        "param": {"p": torch.nn.Parameter(torch.zeros(2, 2, dtype=torch.bfloat16)),
                  "i": torch.arange(4)},
    }
    for name, obj in objs.items():
        for proto in (2, 4):
            buf = io.BytesIO()
            torch.save(obj, buf, pickle_protocol=proto)
            data = buf.getvalue()
            save("zip", f"{name}_p{proto}.pt", data)
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                pkl = [n for n in z.namelist() if n.endswith("/data.pkl")][0]
                save("pickle", f"{name}_p{proto}.pkl", z.read(pkl))
except ImportError:
    for proto in (2, 4):
        data = pickle.dumps({"a": [1, 2.5, "x", (None, True)], "b": {"c": b"\x00\x01"}},
                            protocol=proto)
        save("pickle", f"plain_p{proto}.pkl", data)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
            z.writestr("archive/data.pkl", data)
            z.writestr("archive/data/0", b"\x00" * 16)
            z.writestr("archive/version", "3\n")
        save("zip", f"plain_p{proto}.pt", buf.getvalue())


# GGUF v3: metadata of three kinds, an F32, an F16 and a Q8_0 tensor.
def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


head = b"GGUF" + struct.pack("<IQQ", 3, 3, 3)
head += s("general.architecture") + struct.pack("<I", 8) + s("llama")
head += s("general.alignment") + struct.pack("<II", 4, 32)
head += s("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 2) + struct.pack("<ff", 0.5, -1)
data = b""
for name, ne, ty, raw in (("blk.0.attn_q.weight", (4, 2), 0, struct.pack("<8f", *range(8))),
                          ("token_embd.weight", (2, 2), 1, b"\x00\x3c" * 4),
                          ("blk.0.ffn_down.weight", (32, 1), 8, b"\x00\x38" + bytes(range(32)))):
    data += b"\0" * ((32 - len(data) % 32) % 32)
    head += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
    head += struct.pack("<IQ", ty, len(data))
    data += raw
head += b"\0" * ((32 - len(head) % 32) % 32)
save("gguf", "model.gguf", head + data)
