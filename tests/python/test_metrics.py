"""muft.metrics and muft.spectrum on arrays in memory, against numpy float64 references; the
names are the analyzer's columns; layouts, dtypes, torch tensors and bad input."""

import math

import numpy as np
import pytest

import muft
from conftest import read_csv, write_safetensors

METRICS = ("frobenius_norm", "spectral_norm", "nuclear_norm", "max_abs", "stable_rank",
           "svd_entropy", "effective_rank", "numerical_rank", "rank_tol")


def reference(w, rel_tol):
    """The metrics of docs/analyzer.md computed from numpy's float64 SVD."""
    w = np.asarray(w, dtype=np.float64)
    w = w.reshape(w.shape[0], -1)
    s = np.linalg.svd(w, compute_uv=False)
    p = s ** 2 / np.sum(s ** 2)
    q = s / np.sum(s)
    nz = p > 0
    return {
        "frobenius_norm": math.sqrt(np.sum(w * w)),
        "spectral_norm": s[0],
        "nuclear_norm": np.sum(s),
        "max_abs": np.max(np.abs(w)),
        "stable_rank": np.sum(s ** 2) / s[0] ** 2,
        "svd_entropy": (-np.sum(p[nz] * np.log(p[nz])) / math.log(len(s)) if len(s) > 1
                        else math.nan),
        "effective_rank": math.exp(-np.sum(q[q > 0] * np.log(q[q > 0]))),
        "numerical_rank": float(np.sum(s > rel_tol * s[0])),
    }


@pytest.mark.parametrize("svd", ["gram", "exact"])
@pytest.mark.parametrize("shape", [(40, 25), (25, 40), (1, 7), (64, 64)])
def test_against_numpy(svd, shape):
    w = np.random.default_rng(sum(shape)).standard_normal(shape)
    m = muft.metrics(w, svd=svd)
    assert set(m) == {"rows", "cols", "status", "reason", *METRICS}
    assert (m["rows"], m["cols"], m["status"]) == (shape[0], shape[1], "ok")
    assert m["reason"] == ("" if min(shape) > 1 else "svd_entropy undefined for min(rows, cols) = 1")
    rel_tol = m["rank_tol"] / m["spectral_norm"]
    ref = reference(w, rel_tol)
    for k, want in ref.items():
        if k == "svd_entropy" and min(shape) == 1:
            assert math.isnan(m[k])  # log r = 0: undefined
            continue
        assert m[k] == pytest.approx(want, rel=1e-10), k


def test_low_rank_and_rank_tol():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((30, 3)) @ rng.standard_normal((3, 20))  # rank 3
    assert muft.metrics(w, svd="exact")["numerical_rank"] == 3
    assert muft.metrics(w)["numerical_rank"] == 3
    # A tolerance above σ₂/σ₁ leaves one singular value.
    s = np.linalg.svd(w, compute_uv=False)
    m = muft.metrics(w, svd="exact", rank_tol=(s[1] / s[0]) * 1.01)
    assert m["numerical_rank"] == 1
    assert m["rank_tol"] == pytest.approx(s[1] * 1.01, rel=1e-10)


def test_fast_gives_norms_only():
    w = np.random.default_rng(6).standard_normal((50, 30))
    m = muft.metrics(w, svd="fast")
    ref = reference(w, 1e-12)
    assert m["stable_rank"] == pytest.approx(ref["stable_rank"], rel=1e-8)
    assert m["spectral_norm"] == pytest.approx(ref["spectral_norm"], rel=1e-8)
    assert math.isnan(m["nuclear_norm"]) and math.isnan(m["effective_rank"])


def test_layouts_and_dtypes_agree():
    w = np.random.default_rng(7).standard_normal((12, 9))
    m = muft.metrics(w)
    assert muft.metrics(np.asfortranarray(w)) == m  # read as its transpose
    assert muft.metrics(w[:, ::-1].copy()[:, ::-1]) == m
    strided = np.zeros((12, 18))
    strided[:, ::2] = w
    assert muft.metrics(strided[:, ::2]) == m  # copied to contiguous
    big_endian = w.astype(">f8")
    assert muft.metrics(big_endian) == m
    w32 = w.astype(np.float32)
    m32 = muft.metrics(w32)
    assert m32["stable_rank"] == pytest.approx(reference(w32, 1e-6)["stable_rank"], rel=1e-10)
    m16 = muft.metrics(w.astype(np.float16))
    assert m16 == muft.metrics(w.astype(np.float16).astype(np.float32))
    conv = np.random.default_rng(8).standard_normal((8, 2, 3, 3))
    mc = muft.metrics(conv)
    assert (mc["rows"], mc["cols"]) == (8, 18)
    assert mc == muft.metrics(conv.reshape(8, 18))


def test_zero_nonfinite_empty_are_statuses():
    z = muft.metrics(np.zeros((4, 3)))
    assert z["status"] == "zero" and z["frobenius_norm"] == 0
    assert math.isnan(z["stable_rank"])
    w = np.ones((3, 3))
    w[1, 1] = np.nan
    n = muft.metrics(w)
    assert n["status"] == "non_finite" and math.isnan(n["spectral_norm"]) and n["reason"]
    e = muft.metrics(np.zeros((0, 5)))
    assert e["status"] == "empty"


def test_spectrum():
    w = np.random.default_rng(9).standard_normal((20, 13))
    want = np.linalg.svd(w, compute_uv=False)
    for svd in ("gram", "exact"):
        s = muft.spectrum(w, svd=svd)
        assert s.dtype == np.float64 and s.shape == (13,)
        np.testing.assert_allclose(s, want, rtol=1e-9)
    np.testing.assert_array_equal(muft.spectrum(np.diag([3.0, 1.0, 2.0]), svd="exact"),
                                  [3.0, 2.0, 1.0])
    m = muft.metrics(w, svd="exact", spectrum=True)
    np.testing.assert_allclose(m["singular_values"], want, rtol=1e-12)
    with pytest.raises(ValueError, match="non-finite"):
        muft.spectrum(np.full((2, 2), np.inf))


@pytest.mark.parametrize("bad, error, needle", [
    (np.ones(5), ValueError, "at least 2 dimensions"),
    (np.ones((3, 3), dtype=np.int64), ValueError, "not floating"),
    (np.ones((3, 3), dtype=np.complex128), ValueError, "not floating"),
    (np.ones((3, 3), dtype=np.longdouble), ValueError, "only float16, float32 and float64"),
    ("text", ValueError, "at least 2 dimensions"),
])
def test_bad_arrays(bad, error, needle):
    with pytest.raises(error, match=needle) as e:
        muft.metrics(bad)
    assert "\n" not in str(e.value)


def test_bad_options():
    w = np.eye(3)
    with pytest.raises(ValueError, match="unknown SVD method 'qr'"):
        muft.metrics(w, svd="qr")
    with pytest.raises(ValueError, match="rank_tol"):
        muft.metrics(w, rank_tol=-1.0)
    with pytest.raises(ValueError, match="spectrum"):
        muft.metrics(w, svd="fast", spectrum=True)
    with pytest.raises(ValueError, match="every singular value"):
        muft.spectrum(w, svd="fast")
    # The ESD metrics need every eigenvalue: with svd="fast" they are refused, not left out.
    with pytest.raises(ValueError, match="(?i)esd"):
        muft.metrics(w, svd="fast", esd=True)


def test_torch_tensor_input():
    torch = pytest.importorskip("torch")
    g = torch.Generator().manual_seed(0)
    w = torch.randn(24, 16, generator=g)
    m = muft.metrics(w)
    assert m == muft.metrics(w.numpy())
    assert muft.metrics(w.t()) == muft.metrics(w.t().contiguous().numpy())
    b = w.to(torch.bfloat16)
    assert muft.metrics(b) == muft.metrics(b.float().numpy())
    r = w.clone().requires_grad_(True)
    assert muft.metrics(r) == m  # detached, not refused


def test_names_are_the_cli_columns(tmp_path, analyze):
    w = np.random.default_rng(10).standard_normal((32, 48)).astype(np.float32)
    path = write_safetensors(tmp_path / "w.safetensors", {"blocks.0.attn.c_q.weight": w})
    analyze("spectra", path, "-o", tmp_path / "s.csv", "--no-progress")
    row = read_csv(tmp_path / "s.csv")[0]
    m = muft.metrics(w)
    for k, v in m.items():
        assert k in row, k
        if isinstance(v, str):
            assert row[k] == v, k
        else:
            assert v == pytest.approx(float(row[k]), rel=1e-15), k
    assert set(METRICS) | {"rows", "cols", "status", "reason"} <= set(row)


def _longest_pause(work):
    """Runs work() on a second thread; returns (longest gap between two iterations of a Python
    loop on this thread while work ran, work's duration). A call that holds the GIL stops this
    thread for its whole duration; one that releases it leaves only scheduling gaps."""
    import threading
    import time

    done = threading.Event()
    span = []

    def run():
        t0 = time.perf_counter()
        work()
        span.append(time.perf_counter() - t0)
        done.set()

    t = threading.Thread(target=run)
    last = time.perf_counter()
    longest = 0.0
    t.start()
    while not done.is_set():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    t.join()
    return longest, span[0]


def test_gil_is_released_during_computation():
    import sys

    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        w = np.random.default_rng(0).standard_normal((1500, 1500))
        # Control: list.sort holds the GIL in C, so the loop stalls for most of its duration.
        big = np.random.default_rng(1).random(1_000_000).tolist()
        held, dur = _longest_pause(lambda: sorted(big))
        assert held > 0.5 * dur, (held, dur)
        # muft.metrics and muft.spectrum compute without the GIL.
        for f in (lambda: muft.metrics(w), lambda: muft.spectrum(w, svd="exact")):
            gap, dur = _longest_pause(f)
            assert dur > 0.05, dur  # long enough for a stall to show
            assert gap < 0.5 * dur, (gap, dur)
    finally:
        sys.setswitchinterval(old)
