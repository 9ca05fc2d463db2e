#!/usr/bin/python3
"""End-to-end: muft-analyze on checkpoints written by python3-torch's own torch.save.

Fixtures are made here, at test time: a real nn.Module state dict, a training checkpoint that
nests it under "model_state" next to optimizer state and a config, bf16/f16/f64 tensors (and an
integer one, which is skipped), views that share one storage (transpose, row slice, column
stride, block), protocol 4, a DDP-prefixed copy, a sharded pytorch_model.bin directory, a PEFT
adapter_model.bin, the legacy pre-1.6 format and a pickle whose payload calls os.system.

Checks: every metric column of `spectra` against numpy float64 on the same tensors; every value
in place (a `diff` against a float64 safetensors reference written here gives l2 = 0 exactly,
so names, element order and conversions are all right); `diff --map` on the DDP file against
numpy; the malicious file is refused by name and its command never runs; the legacy file gets
the conversion hint. Exits 77 (CTest SKIP_RETURN_CODE) when /usr/bin/python3 has no torch.
Usage: pytorch_cli_test.py PATH/TO/muft-analyze
"""
import collections
import json
import os
import sys

try:
    import torch
except ImportError as e:  # the no-torch configuration: skip, do not pass silently
    print(f"SKIP: /usr/bin/python3 cannot import torch ({e})")
    sys.exit(77)
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cli_checks import EXACT_RTOL, Checker, close  # noqa: E402

c = Checker(sys.argv[1], "muft_pytorch_cli_")


def f64(t):
    return t.detach().to(torch.float64).numpy().copy()


torch.manual_seed(0)


class Attn(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_q, self.c_k, self.c_v = (torch.nn.Linear(d, d, bias=False) for _ in range(3))
        self.c_proj = torch.nn.Linear(d, d)


class Mlp(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.c_fc = torch.nn.Linear(d, 4 * d)
        self.c_proj = torch.nn.Linear(4 * d, d)


class Block(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(d)
        self.attn = Attn(d)
        self.mlp = Mlp(d)


class Gpt(torch.nn.Module):
    def __init__(self, vocab=40, d=12, layers=2):
        super().__init__()
        self.transformer = torch.nn.ModuleDict(
            {"wte": torch.nn.Embedding(vocab, d),
             "h": torch.nn.ModuleList(Block(d) for _ in range(layers))})
        self.lm_head = torch.nn.Linear(d, vocab, bias=False)
        self.conv = torch.nn.Conv2d(3, 5, 3)  # rank 4: analyzed as 5 x 27


model = Gpt()
# A copy: the live state_dict() would follow the optimizer step of fixture 2.
sd = collections.OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
matrices = {k: f64(v) for k, v in sd.items() if v.dim() >= 2}
assert len(matrices) == 15, sorted(matrices)  # wte, 2 x 6 block matrices, lm_head, conv

# 1. A real state dict, as torch.save(model.state_dict()) writes it.
torch.save(model.state_dict(), c.path("model.pt"))
rows = c.check_spectra("model.pt", matrices, "pytorch")
assert rows["transformer.h.1.attn.c_q.weight"]["group"] == "Q"
assert rows["transformer.h.0.mlp.c_proj.weight"]["group"] == "MLP-down"
assert rows["conv.weight"]["rows"] == "5" and rows["conv.weight"]["cols"] == "27"
c.check_values_in_place("model.pt", matrices)

# 2. A training checkpoint: weights under "model_state", optimizer state (tensors that must not
#    be analyzed), a step counter and a config dict.
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for p_ in model.parameters():
    p_.grad = torch.ones_like(p_)
opt.step()
trained = {k: f64(v) for k, v in model.state_dict().items() if v.dim() >= 2}
torch.save({"model_state": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
            "config": {"lr": 1e-3, "name": "toy", "betas": (0.9, 0.999)}}, c.path("train.pth"))
c.check_spectra("train.pth", trained, "pytorch")
c.check_values_in_place("train.pth", trained)

# 3. Dtypes: bf16, f16 and f64 read exactly; an int64 matrix is listed and skipped.
g = torch.Generator().manual_seed(1)
dt = {"bf": torch.randn(6, 9, generator=g).to(torch.bfloat16),
      "half": torch.randn(9, 6, generator=g).to(torch.float16),
      "double": torch.randn(7, 5, generator=g, dtype=torch.float64)}
torch.save({**dt, "ids": torch.arange(12).reshape(3, 4)}, c.path("dtypes.pt"))
rows = c.check_spectra("dtypes.pt", {k: f64(v) for k, v in dt.items()}, "pytorch")
assert rows["bf"]["dtype"] == "BF16" and rows["half"]["dtype"] == "F16", rows
assert rows["double"]["dtype"] == "F64", rows
p = c.run("spectra", c.path("dtypes.pt"))
assert "1 tensors skipped" in p.stdout, p.stdout
c.check_values_in_place("dtypes.pt", {k: f64(v) for k, v in dt.items()})

# 4. Views of one storage: torch.save writes the storage once and each view's offset/strides.
base = torch.randn(8, 12, generator=g)
views = {"full": base, "t": base.t(), "rows": base[2:6], "cols": base[:, ::3],
         "block": base[1:5, 2:9], "row_of_t": base.t()[3:7]}
torch.save(views, c.path("views.pt"))
import zipfile
with zipfile.ZipFile(c.path("views.pt")) as z:
    storages = [n for n in z.namelist() if "/data/" in n]
assert len(storages) == 1, storages  # really one shared storage
assert not views["t"].is_contiguous() and views["rows"].storage_offset() == 24
want = {k: f64(v) for k, v in views.items()}
c.check_spectra("views.pt", want, "pytorch")
c.check_values_in_place("views.pt", want)

# 5. Protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL ...), and a tensor saved alone.
torch.save(sd, c.path("p4.pt"), pickle_protocol=4)
c.check_values_in_place("p4.pt", matrices)
torch.save(base, c.path("alone.pt"))
c.check_values_in_place("alone.pt", {"tensor": f64(base)})

# 6. DDP: every name prefixed "module."; diff against the plain model with --map.
ddp = {"module." + k: v * 1.5 + 0.01 for k, v in sd.items()}
torch.save(ddp, c.path("ddp.pt"))
c.run("diff", "--base", c.path("model.pt"), c.path("ddp.pt"), "--map", r"^module\.=>",
    "-o", c.path("ddp.csv"))
drows = {r["tensor"]: r for r in c.read_csv("ddp.csv") if r["kind"] == "matrix"}
assert set(drows) == {"module." + k for k in matrices}, sorted(drows)
for k, w0 in matrices.items():
    r = drows["module." + k]
    assert r["base_tensor"] == k, r
    w = f64(ddp["module." + k])
    dw = (w - w0).reshape(w.shape[0], -1)
    l2 = float(np.linalg.norm(dw))
    assert close(r["l2_distance"], l2, EXACT_RTOL), (k, r["l2_distance"], l2)
    assert close(r["relative_distance"], l2 / np.linalg.norm(w0), EXACT_RTOL), k
    cos = 1 - float(np.sum(w * w0)) / (np.linalg.norm(w) * np.linalg.norm(w0))
    # The cosine distance is ~1e-4 here; numpy's naive 1 - <w, w0>/(|w||w0|) is good to ~1e-12.
    assert abs(float(r["cosine_distance"]) - cos) <= 1e-10, (k, r["cosine_distance"], cos)
    c.check_row(r, dw, "ddp.pt")

# 7. A sharded Hugging Face directory of pytorch_model-*.bin files with its index.
hf = c.path("hf")
os.makedirs(hf)
names = sorted(sd)
half_ = len(names) // 2
shards = {"pytorch_model-00001-of-00002.bin": names[:half_],
          "pytorch_model-00002-of-00002.bin": names[half_:]}
for fname, keys in shards.items():
    torch.save({k: sd[k] for k in keys}, os.path.join(hf, fname))
with open(os.path.join(hf, "pytorch_model.bin.index.json"), "w") as f:
    json.dump({"metadata": {}, "weight_map": {k: fn for fn, ks in shards.items() for k in ks}}, f)
c.check_spectra("hf", matrices, "pytorch-sharded")

# 8. A PEFT adapter saved as adapter_model.bin: lora_A/lora_B factors and their merged update.
adapter = c.path("adapter")
os.makedirs(adapter)
A = torch.randn(4, 12, generator=g)
B = torch.randn(12, 4, generator=g)
prefix = "base_model.model.transformer.h.0.attn.c_q"
torch.save({prefix + ".lora_A.weight": A, prefix + ".lora_B.weight": B},
           os.path.join(adapter, "adapter_model.bin"))
with open(os.path.join(adapter, "adapter_config.json"), "w") as f:
    json.dump({"r": 4, "lora_alpha": 8}, f)
c.run("spectra", adapter, "-o", c.path("adapter.csv"))
arows = {r["kind"]: r for r in c.read_csv("adapter.csv")}
assert arows["lora_A"]["format"] == "pytorch", arows
c.check_row(arows["lora_delta"], 2.0 * (f64(B) @ f64(A)), "adapter_model.bin", rank=4)  # s = 8/4

# 9. A malicious pickle: its __reduce__ asks for os.system. torch.load would run it.
marker = c.path("PWNED")


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + marker,))


torch.save({"weight": torch.ones(2, 2), "payload": Evil()}, c.path("evil.pt"))
p = c.run("spectra", c.path("evil.pt"), "-o", c.path("evil.csv"), expect=2)
err = [r for r in c.read_csv("evil.csv") if r["status"] == "error"]
# pickle names the function by its defining module: posix.system on Linux (os.system elsewhere).
assert len(err) == 1 and any(f"global '{m}.system' is not allowed" in err[0]["reason"]
                             for m in ("posix", "os", "nt")), err
assert not os.path.exists(marker), "the payload ran"

# 10. The legacy format: one error row that says how to convert.
torch.save(sd, c.path("legacy.pt"), _use_new_zipfile_serialization=False)
c.run("spectra", c.path("legacy.pt"), "-o", c.path("legacy.csv"), expect=2)
lrow = c.read_csv("legacy.csv")
assert len(lrow) == 1 and "legacy torch.save format" in lrow[0]["reason"], lrow
assert "torch.save(torch.load(" in lrow[0]["reason"], lrow

print(f"pytorch_cli_test: all checks passed ({c.rows} rows, {c.values} metric values against "
      "numpy float64)")
