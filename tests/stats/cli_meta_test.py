#!/usr/bin/python3
"""End-to-end check of `muft-stats meta` and `summary` on the fixture table (run by CTest).

Compares the JSON written by the CLI with reference_stats.expected.json (independent Python
implementation) and checks that bad input gives one error line and a non-zero exit.
"""
import json
import os
import subprocess
import sys
import tempfile

exe, src = sys.argv[1], sys.argv[2]
data = os.path.join(src, "tests", "stats", "data")
ref = json.load(open(os.path.join(data, "reference_stats.expected.json")))["meta_table"]
with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "meta.json")
    p = subprocess.run([exe, "meta", "--table", os.path.join(data, "meta_table.csv"),
                        "--full-a", "full-adam", "--full-b", "full-muon", "--lora-a", "lora-adam",
                        "--lora-b", "lora-muon", "--json", out], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = json.load(open(out))
    for key in ("estimate", "ci_low", "ci_high", "p_value", "tau2"):
        assert abs(got[key] - ref[key]) <= 1e-9 * max(1.0, abs(ref[key])), (key, got[key], ref[key])
    assert got["k"] == ref["k"] == 4
    assert got["skipped"] == ["dtd"]
    # A misspelled method: no task has all four -> one error line, exit 1.
    p = subprocess.run([exe, "meta", "--table", os.path.join(data, "meta_table.csv"),
                        "--full-a", "full-adamw", "--full-b", "full-muon", "--lora-a",
                        "lora-adam", "--lora-b", "lora-muon"], capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    # summary with best-LR selection on a small table: lr 0.01 has the lower mean (2.0 vs 2.5).
    runs = os.path.join(tmp, "runs.csv")
    with open(runs, "w") as f:
        f.write("method,lr,seed,ppl\nfull,0.01,0,1.9\nfull,0.01,1,2.1\nfull,0.1,0,2.4\n"
                "full,0.1,1,2.6\nlora,0.1,0,3\nlora,0.1,1,nan\n")
    csv_out = os.path.join(tmp, "summary.csv")
    p = subprocess.run([exe, "summary", "--table", runs, "--value", "ppl", "--by", "method",
                        "--best-lr", "lr", "--csv", csv_out], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lines = open(csv_out).read().splitlines()
    assert lines[0] == "method,best_lr,n,mean,std,ci_low,ci_high", lines[0]
    full = lines[1].split(",")
    assert full[0] == "full" and float(full[1]) == 0.01 and abs(float(full[3]) - 2.0) < 1e-12, full
    assert lines[2].split(",")[1] == "nan", lines[2]  # lora: its only lr diverged in one seed
print("ok")
