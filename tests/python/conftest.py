"""Shared fixtures of the Python module's tests: small checkpoints written here with numpy
(safetensors is an 8-byte little-endian header length, a JSON header and the raw bytes), h5py or
torch, and the muft-* commands whose output the module is compared with.

CTest runs these with PYTHONPATH=build/python and MUFT_ANALYZE / MUFT_VERIFY / MUFT_STATS naming
the commands of the same build (tests/python/CMakeLists.txt); a test that needs a command the
build lacks is skipped.
"""

import csv
import json
import os
import struct
import subprocess

import numpy as np
import pytest

import muft

SAFETENSORS_DTYPES = {"float64": "F64", "float32": "F32", "float16": "F16", "int64": "I64",
                      "int32": "I32", "uint8": "U8"}


def bf16_bits(a):
    """bfloat16 bits of float32 values that bfloat16 holds exactly (the top 16 bits)."""
    return (np.ascontiguousarray(a, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)


def write_safetensors(path, tensors, pad=8):
    """Write name → array (or (dtype string, shape, bytes)) as a safetensors file. The header is
    padded to a multiple of `pad` bytes after the 8-byte length, so pad=8 keeps every tensor
    whose offset is a multiple of its size aligned in the mapping and pad=1 can misalign them."""
    hdr, blobs, off = {}, [], 0
    for name, a in tensors.items():
        if isinstance(a, tuple):
            dtype, shape, b = a
        else:
            b = np.ascontiguousarray(a).tobytes()
            dtype, shape = SAFETENSORS_DTYPES[str(a.dtype)], list(a.shape)
        hdr[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(hdr).encode()
    h += b" " * ((pad - (8 + len(h)) % pad) % pad)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return str(path)


def model(seed=0, scale=1.0):
    """A few tensors shaped like a transformer block's, float32."""
    rng = np.random.default_rng(seed)
    return {
        "blocks.0.attn.c_q.weight": (scale * rng.standard_normal((32, 48))).astype(np.float32),
        "blocks.0.attn.c_k.weight": (scale * rng.standard_normal((32, 48))).astype(np.float32),
        "blocks.0.mlp.c_fc.weight": (scale * rng.standard_normal((64, 32))).astype(np.float32),
        "blocks.0.conv.weight": (scale * rng.standard_normal((8, 2, 3, 3))).astype(np.float32),
        "blocks.0.ln.weight": np.ones(32, np.float32),
    }


@pytest.fixture
def base_file(tmp_path):
    return write_safetensors(tmp_path / "base.safetensors", model())


def _command(var):
    path = os.environ.get(var)
    if not path or not os.path.exists(path):
        pytest.skip("%s is not set to a built command (run through CTest)" % var)
    return path


@pytest.fixture
def analyze():
    """Run muft-analyze with the given arguments; returns the CompletedProcess."""
    exe = _command("MUFT_ANALYZE")

    def run(*args, check=True):
        r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise AssertionError("muft-analyze %s: exit %d: %s" % (args, r.returncode, r.stderr))
        return r

    return run


@pytest.fixture
def verify_cmd():
    return _command("MUFT_VERIFY")


@pytest.fixture
def stats_cmd():
    return _command("MUFT_STATS")


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def cli_value(text):
    """A CSV cell as muft writes it, as a float (empty → NaN)."""
    return float("nan") if text in ("", "nan", "NaN") else float(text)


def assert_table_matches_csv(table, rows, key=("file", "tensor"), rtol=1e-12):
    """Every column of the CSV is a column of the table, with the same rows (matched by `key`)
    and the same values: strings exactly, numbers to rtol (the CSV prints 17 digits)."""
    assert isinstance(table, muft.Table)
    assert len(rows) == table.n_rows, (len(rows), table.n_rows)
    assert list(rows[0].keys()) == [k for k in table.keys() if k in rows[0]]
    assert set(rows[0].keys()) <= set(table.keys())
    index = {tuple(str(table[k][i]) for k in key): i for i in range(table.n_rows)}
    assert len(index) == table.n_rows
    for row in rows:
        i = index[tuple(row[k] for k in key)]
        for col, cell in row.items():
            got = table[col][i]
            if table[col].dtype.kind == "U":
                assert str(got) == cell, (col, got, cell)
            else:
                want = cli_value(cell)
                if np.isnan(want):
                    assert np.isnan(got), (col, row[key[-1]], got)
                else:
                    assert got == pytest.approx(want, rel=rtol, abs=1e-300), (col, got, want)
