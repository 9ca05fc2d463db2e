"""muft.open: every reader as a read-only mapping of numpy arrays, zero-copy where the file
allows (the array's base is the Checkpoint), exact conversions elsewhere, and bad input."""

import collections.abc
import os

import numpy as np
import pytest

import muft
from conftest import bf16_bits, write_safetensors


def test_safetensors_views_and_conversions(tmp_path):
    rng = np.random.default_rng(1)
    f32 = rng.standard_normal((6, 4)).astype(np.float32)
    f64 = rng.standard_normal((3, 5))
    f16 = np.array([[1.0, -2.0], [0.5, 65504.0]], np.float16)
    bf = np.array([[1.0, -2.0], [3.140625, 2.0 ** -126]], np.float32)  # exact in bfloat16
    ids = np.arange(5, dtype=np.int64)
    path = write_safetensors(tmp_path / "m.safetensors", {
        "a": f32, "b": f64, "h": f16, "bf": ("BF16", [2, 2], bf16_bits(bf).tobytes()),
        "ids": ids})
    ck = muft.open(path)
    assert isinstance(ck, collections.abc.Mapping)
    assert ck.format == "safetensors" and ck.path == path
    assert sorted(ck) == ["a", "b", "bf", "h", "ids"] and len(ck) == 5 and "a" in ck
    assert "zz" not in ck and 3 not in ck
    for name, want, zero_copy in (("a", f32, True), ("b", f64, True), ("ids", ids, True),
                                  ("h", f16.astype(np.float32), False), ("bf", bf, False)):
        a = ck[name]
        assert a.dtype == want.dtype, name
        np.testing.assert_array_equal(a, want)
        assert (a.base is ck) == zero_copy, name
        if zero_copy:
            assert not a.flags.writeable, name  # the mapping is shared with the file
        assert ck.info(name).array_dtype == str(want.dtype)
    with pytest.raises(ValueError):
        ck["a"][0, 0] = 1.0  # read-only: the mapping is shared with the file
    # The array keeps the mapping alive after the Checkpoint's last name is gone.
    a = ck["a"]
    del ck
    np.testing.assert_array_equal(a, f32)


def test_info_before_data(tmp_path):
    f32 = np.zeros((7, 3), np.float32)
    path = write_safetensors(tmp_path / "m.safetensors", {
        "w": f32, "conv": np.zeros((4, 2, 3), np.float32), "v": np.zeros(5, np.float32),
        "bf": ("BF16", [2, 8], bytes(32))})
    ck = muft.open(path)
    info = ck.info("conv")
    assert (info.name, info.shape, info.dtype, info.numel, info.nbytes) == \
        ("conv", (4, 2, 3), "F32", 24, 96)
    assert info.matrix_shape == (4, 6)
    assert ck.info("v").matrix_shape == (0, 0)
    assert ck.info("bf").dtype == "BF16" and ck.info("bf").array_dtype == "float32"
    assert [t.name for t in ck.tensors] == sorted(ck)
    assert "TensorInfo(name='w', shape=(7, 3), dtype='F32')" == repr(ck.info("w"))
    with pytest.raises(KeyError):
        ck.info("nope")


def test_unaligned_tensor_is_copied_not_viewed(tmp_path):
    # pad=1 puts the data section at an odd address: numpy gets an aligned copy.
    a = np.arange(12, dtype=np.float64).reshape(3, 4)
    path = write_safetensors(tmp_path / "odd.safetensors", {"x": np.zeros(1, np.uint8), "a": a},
                             pad=1)
    ck = muft.open(path)
    got = ck["a"]
    np.testing.assert_array_equal(got, a)
    assert got.flags.aligned and got.base is not ck


def test_bad_input(tmp_path):
    with pytest.raises(OSError, match="missing.safetensors"):
        muft.open(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 16)
    with pytest.raises(OSError) as e:
        muft.open(bad)
    assert "\n" not in str(e.value) and str(bad) in str(e.value)
    with pytest.raises(TypeError):
        muft.open(3)
    ck = muft.open(write_safetensors(tmp_path / "m.safetensors", {"w": np.eye(2)}))
    with pytest.raises(KeyError):
        ck["nope"]


def test_hdf5_contiguous_viewed_chunked_converted(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(2)
    w = rng.standard_normal((5, 7))
    v = rng.standard_normal((4, 6)).astype(np.float32)
    path = str(tmp_path / "g.h5")
    with h5py.File(path, "w") as f:
        f["model/dense/kernel"] = w
        f.create_dataset("model/chunked", data=v, chunks=(1, 6))
        f.create_dataset("model/big", data=v.astype(">f4"))
    ck = muft.open(path)
    assert ck.format == "hdf5"
    kernel = ck["model/dense/kernel"]
    np.testing.assert_array_equal(kernel, w)
    assert kernel.base is ck
    for name in ("model/chunked", "model/big"):
        a = ck[name]
        np.testing.assert_array_equal(a, v)
        assert a.base is not ck and a.dtype == np.float32


def test_pytorch_archive(tmp_path):
    torch = pytest.importorskip("torch")
    w = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    sd = {"w": w, "wt": w.t(), "h": torch.tensor([[1.0, 0.5]], dtype=torch.bfloat16)}
    path = str(tmp_path / "m.pt")
    torch.save(sd, path)
    ck = muft.open(path)
    assert ck.format == "pytorch"
    got = ck["w"]
    np.testing.assert_array_equal(got, w.numpy())
    assert got.base is ck
    t = ck["wt"]  # a strided view: gathered into a new array
    np.testing.assert_array_equal(t, w.t().numpy())
    assert t.base is not ck
    np.testing.assert_array_equal(ck["h"], np.array([[1.0, 0.5]], np.float32))


def test_checkpoint_metrics_match_array_metrics(tmp_path):
    w = np.random.default_rng(3).standard_normal((16, 24)).astype(np.float32)
    ck = muft.open(write_safetensors(tmp_path / "m.safetensors", {"w": w}))
    assert muft.metrics(ck["w"]) == muft.metrics(w)


def test_version():
    assert isinstance(muft.__version__, str) and muft.__version__.count(".") >= 1
    assert os.path.basename(os.path.dirname(muft.__file__)) == "muft"
