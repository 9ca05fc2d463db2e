"""muft.verify / muft.checks / muft.polar_express against muft-verify, and muft.meta /
muft.best_lr against muft-stats and independent references."""

import json
import math
import os
import subprocess

import numpy as np
import pytest

import muft

DATA = os.path.join(os.path.dirname(__file__), "..", "stats", "data")
METHODS = ("full-adam", "full-muon", "lora-adam", "lora-muon")


def test_checks_and_verify():
    checks = muft.checks()
    assert "thm-3.1-signgd" in checks and all(isinstance(v, str) for v in checks.values())
    t = muft.verify(["thm-3.1-signgd"], instances=3, seed=7)
    assert isinstance(t, muft.Table) and t.n_rows == 1
    assert list(t.keys()) == ["name", "statement", "instances", "worst_error", "bound",
                              "worst_ratio", "status", "seconds", "note"]
    assert t["name"][0] == "thm-3.1-signgd" and t["instances"][0] == 3
    assert t["status"][0] in ("PASS", "INFO") and t.all_pass
    assert isinstance(t.metrics["thm-3.1-signgd"], dict)
    # The same seed gives the same numbers.
    again = muft.verify("thm-3.1-signgd", instances=3, seed=7)
    assert again["worst_error"][0] == t["worst_error"][0]


def test_verify_matches_cli(verify_cmd, tmp_path):
    names = list(muft.checks())[:3]
    out = tmp_path / "v.json"
    subprocess.run([verify_cmd, "--only", *names, "--instances", "4", "--seed", "11", "--json",
                    str(out)], check=True, capture_output=True)
    cli = json.load(open(out))
    t = muft.verify(names, instances=4, seed=11)
    assert list(t["name"]) == [c["name"] for c in cli["checks"]]
    assert t.all_pass == cli["all_pass"]
    for i, c in enumerate(cli["checks"]):
        assert t["status"][i] == c["status"] and t["instances"][i] == c["instances"]
        for k in ("worst_error", "bound", "worst_ratio"):
            want = float("nan") if c[k] is None else c[k]
            assert t[k][i] == pytest.approx(want, rel=1e-12, nan_ok=True), (c["name"], k)


def test_verify_bad_input():
    with pytest.raises(ValueError, match="unknown check 'nope'"):
        muft.verify(["nope"])
    with pytest.raises(ValueError):
        muft.verify(instances=0)
    with pytest.raises(ValueError):
        muft.verify(seed=-1)
    with pytest.raises(TypeError):
        muft.verify(instances=2.5)


def test_polar_express():
    c = muft.polar_express(safety=0.0, cushion=0.02407327424182761)
    assert c.shape == (10, 3) and c.dtype == np.float64
    # The published first step of Polar Express (Amsel et al.), to the digits given there.
    np.testing.assert_allclose(c[0], [8.28721201814563, -23.595886519098837, 17.300387312530933],
                               rtol=1e-6)
    # The quintics compose to ≈ 1 on [lower, 1].
    x = np.geomspace(1e-3, 1, 500)
    for a, b, cc in c:
        x = a * x + b * x ** 3 + cc * x ** 5
    assert np.max(np.abs(x - 1)) < 0.05
    assert muft.polar_express(iterations=3).shape == (3, 3)
    with pytest.raises(ValueError):
        muft.polar_express(lower=2.0)
    with pytest.raises(ValueError):
        muft.polar_express(iterations=0)


def test_polar_express_matches_cli(verify_cmd, tmp_path):
    out = tmp_path / "c.json"
    subprocess.run([verify_cmd, "coefficients", "--iterations", "4", "--lower", "0.01",
                    "--json", str(out)], check=True, capture_output=True)
    np.testing.assert_array_equal(muft.polar_express(lower=0.01, iterations=4),
                                  np.array(json.load(open(out))))


def _cli_meta(stats_cmd, tmp_path, *args):
    out = tmp_path / "m.json"
    subprocess.run([stats_cmd, "meta", *args, "--full-a", METHODS[0], "--full-b", METHODS[1],
                    "--lora-a", METHODS[2], "--lora-b", METHODS[3], "--json", str(out)],
                   check=True, capture_output=True)
    return json.load(open(out))


def _assert_meta_equal(r, cli):
    for k in ("estimate", "k", "tau2", "q", "i2", "fixed_estimate", "confidence", "input",
              "skipped", "methods"):
        want = cli[k]
        if isinstance(want, float) or want is None:
            assert r[k] == pytest.approx(float("nan") if want is None else want, rel=1e-13,
                                         nan_ok=True), k
        else:
            assert r[k] == want, k
    for part in ("dl", "hksj"):
        for k, want in cli[part].items():
            if isinstance(want, dict):
                for kk, ww in want.items():
                    assert r[part][k][kk] == pytest.approx(
                        float("nan") if ww is None else ww, rel=1e-13, nan_ok=True), (part, k, kk)
            else:
                assert r[part][k] == pytest.approx(float("nan") if want is None else want,
                                                   rel=1e-13, nan_ok=True), (part, k)
    tasks = r["tasks"]
    assert list(tasks["task"]) == [t["task"] for t in cli["tasks"]]
    for i, t in enumerate(cli["tasks"]):
        for k in ("y", "variance", "df", "ci_low", "ci_high", "weight"):
            want = float("nan") if t[k] is None else t[k]
            assert tasks[k][i] == pytest.approx(want, rel=1e-13, nan_ok=True), (t["task"], k)


def test_meta_means_matches_cli_and_reference(stats_cmd, tmp_path):
    table = os.path.join(DATA, "meta_table.csv")
    r = muft.meta(table, *METHODS)
    _assert_meta_equal(r, _cli_meta(stats_cmd, tmp_path, "--table", table))
    ref = json.load(open(os.path.join(DATA, "reference_stats.expected.json")))["meta_table"]
    assert r["estimate"] == pytest.approx(ref["estimate"], rel=1e-10)
    assert r["skipped"] == ["dtd"]


def test_meta_from_columns_equals_from_file():
    import csv
    table = os.path.join(DATA, "meta_table.csv")
    rows = list(csv.DictReader(open(table)))
    cols = {k: [row[k] for row in rows] for k in ("task", "method")}
    cols.update({k: [float(row[k]) for row in rows] for k in ("mean", "std", "n")})
    a, b = muft.meta(table, *METHODS), muft.meta(cols, *METHODS)
    assert a["estimate"] == b["estimate"] and a["hksj"] == b["hksj"]


def test_meta_seeds_matches_cli(stats_cmd, tmp_path):
    seeds = os.path.join(DATA, "seed_table.csv")
    r = muft.meta(seeds=seeds, full_a=METHODS[0], full_b=METHODS[1], lora_a=METHODS[2],
                  lora_b=METHODS[3], value="final_val_loss",
                  task_columns=["study", "pretrain_optimizer"], method_column="method_name")
    cli = _cli_meta(stats_cmd, tmp_path, "--seeds", seeds, "--value", "final_val_loss",
                    "--task-column", "study,pretrain_optimizer", "--method-column",
                    "method_name")
    _assert_meta_equal(r, cli)
    assert r["input"] == "paired"


def test_meta_bad_input(tmp_path):
    table = os.path.join(DATA, "meta_table.csv")
    with pytest.raises(ValueError, match="has all four methods"):
        muft.meta(table, "full-adam", "full-muon", "lora-adam", "lora-mu0n")
    with pytest.raises(ValueError, match="exactly one"):
        muft.meta(None, *METHODS)
    with pytest.raises(ValueError, match="confidence"):
        muft.meta(table, *METHODS, confidence=1.5)
    with pytest.raises(OSError):
        muft.meta(str(tmp_path / "missing.csv"), *METHODS)
    with pytest.raises(ValueError, match="no column"):
        muft.meta({"task": ["a"]}, *METHODS)


def test_best_lr():
    # Means: 0.1 → 2.1, 0.01 → NaN (a diverged run: never picked, though its other run has
    # the lowest value), 0.001 → 2.5; the lowest finite mean is at 0.1.
    r = muft.best_lr([0.1, 0.1, 0.01, 0.01, 0.001], [2.0, 2.2, 1.5, float("nan"), 2.5])
    assert r["selected"] and r["lr"] == 0.1 and r["n"] == 2
    assert r["mean"] == pytest.approx(2.1) and r["std"] == pytest.approx(math.sqrt(0.02))
    assert muft.best_lr([0.1, 0.01], [1.0, 3.0], maximize=True)["lr"] == 0.01
    assert not muft.best_lr([0.1], [float("inf")])["selected"]


def test_summarize_student_t_interval():
    # mean 2, s = 1, t(0.975; 2) = 4.302652729911275: 2 +- 4.3026.../sqrt(3).
    r = muft.summarize([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3.0)
    assert r["n"] == 3 and r["mean"] == 2.0 and r["std"] == 1.0
    # lib/stats' t quantile is accurate to ~1e-10 here (its own tests state the tolerance).
    assert abs(r["ci_low"] - (2.0 - half)) < 1e-9 and abs(r["ci_high"] - (2.0 + half)) < 1e-9
    one = muft.summarize([5.0])
    assert one["std"] == 0.0 and math.isnan(one["ci_low"])
    with pytest.raises(ValueError):
        muft.summarize([])
    with pytest.raises(ValueError):
        muft.summarize([1.0, 2.0], confidence=1.5)


def test_pool_hand_computed_cases():
    # tests/stats/meta_test.cpp HksjHandComputedThreeTasks: Q = 12.5, tau2 = 9, mu = 2.875,
    # HKSJ interval [-5.9542882005, 11.7042882005].
    r = muft.pool([0.0, 2.0, 7.0], [1.0, 1.0, 2.0], names=["a", "b", "c"])
    assert r["k"] == 3 and abs(r["tau2"] - 9.0) < 1e-12 and abs(r["estimate"] - 2.875) < 1e-12
    assert abs(r["hksj"]["ci_low"] + 5.95428820054) < 1e-9
    assert abs(r["hksj"]["ci_high"] - 11.7042882005) < 1e-9
    assert abs(sum(r["weights"]) - 1.0) < 1e-12
    # Equal effects' spread below their variances: tau2 = 0, the modified form floors the
    # HKSJ variance at the DL one (1/3): 1.5 +- t(0.975; 2) sqrt(1/3).
    r = muft.pool([1.0, 2.0, 1.5], [1.0, 1.0, 1.0])
    assert r["tau2"] == 0.0 and abs(r["estimate"] - 1.5) < 1e-12
    assert abs(r["hksj"]["modified"]["ci_low"] + 0.9841377117503307) < 1e-9
    assert abs(r["hksj"]["modified"]["ci_high"] - 3.9841377117503307) < 1e-9
    single = muft.pool([0.3], [0.01])
    assert single["estimate"] == 0.3 and math.isnan(single["hksj"]["ci_low"])
    with pytest.raises(ValueError):
        muft.pool([1.0, 2.0], [1.0])
    with pytest.raises(ValueError):
        muft.pool([1.0, 2.0], [1.0, 0.0])
