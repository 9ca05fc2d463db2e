"""muft.open_run: a run directory read through muft::rundir (config, status, metrics as a numpy
structured array, checkpoints), and its errors."""

import json
import os

import numpy as np
import pytest

import muft

HEADER = "step,tokens,lr,train_loss,val_loss,val_ppl,old_val_loss,old_val_ppl,seconds,val_acc\n"


def make_run(root, status="completed", cut_last=False):
    h5py = pytest.importorskip("h5py")
    run = root / "run"
    os.makedirs(run / "checkpoints")
    (run / "config.json").write_text(json.dumps({"optimizer": "muon", "lr": 0.02}))
    if status is not None:
        (run / "status.json").write_text(json.dumps({"status": status, "reason": "", "step": 20}))
    rows = ["10,1280,0.02,3.5,3.25,25.79,,,1.5,0.5\n", "20,2560,0.01,3.0,2.75,15.64,,,3.0,0.75\n"]
    text = HEADER + "".join(rows)
    if cut_last:
        text += "30,3840,0.005,2.9"  # a writer killed inside its line
    (run / "metrics.csv").write_text(text)
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    for s in (20, 10):
        with h5py.File(run / "checkpoints" / ("step_%06d.h5" % s), "w") as f:
            f["w"] = w * s
    return str(run)


def test_open_run(tmp_path):
    path = make_run(tmp_path)
    r = muft.open_run(path)
    assert r.path == path and r.state == "completed" and r.reason == ""
    assert r.config == {"optimizer": "muon", "lr": 0.02}
    assert r.status["status"] == "completed" and r.status["step"] == 20
    m = r.metrics
    assert m.dtype.names == tuple(HEADER.strip().split(","))
    assert m["step"].dtype == np.int64 and m["val_loss"].dtype == np.float64
    np.testing.assert_array_equal(m["step"], [10, 20])
    np.testing.assert_array_equal(m["tokens"], [1280, 2560])
    np.testing.assert_array_equal(m["val_acc"], [0.5, 0.75])
    assert np.isnan(m["old_val_loss"]).all()  # empty cells
    assert r.incomplete_rows == 0
    assert [s for s, _ in r.checkpoints] == [10, 20]
    assert r.checkpoints[0][1].endswith("step_000010.h5")
    np.testing.assert_array_equal(r.open()["w"], np.arange(12, dtype=np.float32).reshape(3, 4) * 20)
    np.testing.assert_array_equal(r.open(10)["w"][0], [0, 10, 20, 30])
    with pytest.raises(ValueError, match="no checkpoint of step 15"):
        r.open(15)
    assert "completed" in repr(r)


def test_states_and_cut_line(tmp_path):
    r = muft.open_run(make_run(tmp_path, status=None, cut_last=True))
    assert r.state == "interrupted" and r.status is None  # started, no status.json
    assert r.incomplete_rows == 1 and len(r.metrics) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    e = muft.open_run(empty)
    assert (e.state, e.config, e.checkpoints, len(e.metrics)) == ("pending", None, [], 0)
    with pytest.raises(ValueError, match="no checkpoints"):
        e.open()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "status.json").write_text("{not json")
    b = muft.open_run(bad)
    assert b.state == "corrupt" and b.reason and b.status is None


def test_errors(tmp_path):
    with pytest.raises(OSError, match="not a directory"):
        muft.open_run(tmp_path / "nothing")
    run = tmp_path / "r"
    run.mkdir()
    (run / "metrics.csv").write_text(HEADER + "10,abc,0.02,3.5,3.25,25.79,,,1.5,0.5\n")
    with pytest.raises(OSError) as e:
        muft.open_run(run)
    assert "metrics.csv" in str(e.value) and "\n" not in str(e.value)
