"""muft.spectra / muft.diff / muft.series against muft-analyze's CSV on the same inputs: the same
columns, rows and values, error rows like the CLI's, and bad input."""

import os

import numpy as np
import pytest

import muft
from conftest import assert_table_matches_csv, model, read_csv, write_safetensors


@pytest.fixture
def files(tmp_path):
    """base, a fine-tuned copy, a run directory of two steps, a bad file."""
    base = model()
    paths = {"base": write_safetensors(tmp_path / "base.safetensors", base),
             "ft": write_safetensors(tmp_path / "ft.safetensors",
                                     {k: v * np.float32(1.25) + np.float32(0.01)
                                      for k, v in base.items()})}
    run = tmp_path / "run"
    os.makedirs(run / "checkpoints")
    for s in (10, 20):
        write_safetensors(run / "checkpoints" / ("step_%06d.safetensors" % s),
                          {k: v * np.float32(1 + s / 100) for k, v in base.items()})
    paths["run"] = str(run)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\xff" * 16)
    paths["bad"] = str(bad)
    paths["dir"] = str(tmp_path)
    return paths


def test_spectra_matches_cli(files, analyze, tmp_path):
    out = tmp_path / "s.csv"
    analyze("spectra", files["base"], files["ft"], "-o", out, "--no-progress")
    t = muft.spectra([files["base"], files["ft"]])
    assert_table_matches_csv(t, read_csv(out))
    assert t.n_rows == 8 and t.failed == 0 and t.errors == []
    # The rank-1 layer norm weight is skipped, with its reason.
    assert [(os.path.basename(f), n) for f, n, _ in t.skipped] == \
        [("base.safetensors", "blocks.0.ln.weight"), ("ft.safetensors", "blocks.0.ln.weight")]
    # Input order, then tensor name.
    assert list(t["file"]) == [files["base"]] * 4 + [files["ft"]] * 4
    assert list(t["tensor"][:4]) == sorted(t["tensor"][:4])


def test_spectra_esd_matches_cli(files, analyze, tmp_path):
    # esd=True adds the heavy-tailed ESD columns, with the CLI's names and values.
    out = tmp_path / "esd.csv"
    analyze("spectra", files["base"], "--esd", "-o", out, "--no-progress")
    t = muft.spectra([files["base"]], esd=True)
    assert "alpha" in t and "mp_softrank" in t
    assert_table_matches_csv(t, read_csv(out))
    plain = muft.spectra([files["base"]])
    assert "alpha" not in plain


def test_metrics_esd_keys():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((64, 48))
    m = muft.metrics(w, esd=True)
    assert np.isfinite(m["lambda_max"]) and m["lambda_max"] > 0
    # λ_max of W^T W is the squared spectral norm.
    assert abs(m["lambda_max"] - m["spectral_norm"] ** 2) <= 1e-9 * m["lambda_max"]
    assert "alpha" in m and "alpha" not in muft.metrics(w)


def test_spectra_values_against_numpy(files):
    t = muft.spectra(files["base"], include="attn", svd="exact", spectrum=True)
    assert list(t["tensor"]) == ["blocks.0.attn.c_k.weight", "blocks.0.attn.c_q.weight"]
    w = model()["blocks.0.attn.c_q.weight"].astype(np.float64)
    s = np.linalg.svd(w, compute_uv=False)
    assert t["stable_rank"][1] == pytest.approx(np.sum(s ** 2) / s[0] ** 2, rel=1e-10)
    np.testing.assert_allclose(t["singular_values"][1], s, rtol=1e-10)
    assert muft.spectra(files["base"], exclude="attn").n_rows == 2
    # jobs: the same table from one thread and from several.
    one, many = muft.spectra(files["base"], jobs=1), muft.spectra(files["base"], jobs=3)
    for k in one:
        if one[k].dtype.kind == "U":
            assert list(one[k]) == list(many[k]), k
        else:
            np.testing.assert_array_equal(one[k], many[k])


def test_spectra_error_rows_like_cli(files, analyze, tmp_path):
    missing = os.path.join(files["dir"], "missing.h5")
    out = tmp_path / "e.csv"
    r = analyze("spectra", files["base"], files["bad"], missing, "-o", out, "--no-progress",
                check=False)
    assert r.returncode == 2
    t = muft.spectra([files["base"], files["bad"], missing])
    assert_table_matches_csv(t, read_csv(out))
    assert t.failed == 2 and len(t.errors) == 2
    assert sorted(t["status"][t["status"] == "error"].tolist()) == ["error", "error"]
    assert all("\n" not in e for e in t.errors)
    assert any(files["bad"] in e for e in t.errors)


def test_diff_matches_cli(files, analyze, tmp_path):
    out = tmp_path / "d.csv"
    analyze("diff", "--base", files["base"], files["ft"], "-o", out, "--no-progress")
    t = muft.diff(files["base"], files["ft"])
    assert_table_matches_csv(t, read_csv(out))
    total = t.where(t["tensor"] == "__total__")
    assert total.n_rows == 1 and t["tensor"][-1] == "__total__"
    # l2 distance of one tensor against numpy
    b = model()["blocks.0.mlp.c_fc.weight"].astype(np.float64)
    f = (model()["blocks.0.mlp.c_fc.weight"] * np.float32(1.25) + np.float32(0.01)).astype(
        np.float64)
    row = t.where(t["tensor"] == "blocks.0.mlp.c_fc.weight")
    assert row["l2_distance"][0] == pytest.approx(np.linalg.norm(f - b), rel=1e-12)
    assert row["relative_distance"][0] == pytest.approx(
        np.linalg.norm(f - b) / np.linalg.norm(b), rel=1e-12)


def test_diff_bad_input(files):
    with pytest.raises(OSError):
        muft.diff(files["bad"], files["ft"])
    with pytest.raises(ValueError):
        muft.diff(files["base"], os.path.join(files["dir"], "nothing-*.safetensors"))
    with pytest.raises(ValueError, match="jobs"):
        muft.diff(files["base"], files["ft"], jobs=0)
    with pytest.raises(TypeError):
        muft.diff(files["base"], files["ft"], jobs="2")


def test_series_matches_cli(files, analyze, tmp_path):
    out = tmp_path / "series.csv"
    analyze("series", files["run"], "-o", out, "--no-progress")
    s = muft.series([files["run"]])
    assert_table_matches_csv(s, read_csv(out), key=("file", "group"))
    assert sorted(set(s["step"].tolist())) == [10.0, 20.0]
    groups, tensors = muft.series(files["run"], per_tensor=True)
    assert tensors.n_rows == 8 and list(tensors["step"]) == [10.0] * 4 + [20.0] * 4
    # A group's mean is the mean over its matrices' rows.
    for g in set(groups["group"].tolist()):
        at10 = tensors.where((tensors["group"] == g) & (tensors["step"] == 10))
        row = groups.where((groups["group"] == g) & (groups["step"] == 10))
        assert row["stable_rank"][0] == pytest.approx(np.mean(at10["stable_rank"]), rel=1e-12)


def test_series_with_base_matches_cli(files, analyze, tmp_path):
    out = tmp_path / "series_diff.csv"
    analyze("series", files["run"], "--base", files["base"], "-o", out, "--no-progress")
    s = muft.series([files["run"]], base=files["base"])
    assert_table_matches_csv(s, read_csv(out), key=("file", "group"))
    assert "l2_distance" in s


def test_table_helpers(files):
    t = muft.spectra(files["base"])
    rows = t.rows()
    assert len(rows) == t.n_rows and rows[0]["tensor"] == t["tensor"][0]
    assert isinstance(rows[0]["stable_rank"], float)
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(t)
    assert list(df.columns) == list(t.keys()) and len(df) == t.n_rows
