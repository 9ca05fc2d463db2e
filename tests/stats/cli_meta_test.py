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

    def close(a, b, tol=1e-9):
        return abs(a - b) <= tol * max(1.0, abs(b))

    for key in ("estimate", "tau2"):
        assert close(got[key], ref[key]), (key, got[key], ref[key])
    for key in ("ci_low", "ci_high", "p_value", "se"):
        assert close(got["dl"][key], ref[key]), (key, got["dl"][key], ref[key])
    # Default --interval both: the HKSJ interval is there too, with t and k - 1 = 3 df.
    assert got["interval"] == "both" and got["input"] == "means", got
    for key in ("ci_low", "ci_high", "p_value", "se", "scale"):
        assert close(got["hksj"][key], ref["hksj"][key]), (key, got["hksj"][key])
    assert got["hksj"]["df"] == 3
    for key in ("ci_low", "ci_high", "p_value"):
        assert close(got["hksj"]["modified"][key], ref["hksj"]["modified_" + key]), key
    for i, t in enumerate(got["tasks"]):  # per-task Student-t (Welch-Satterthwaite) intervals
        assert close(t["df"], ref["df"][i]) and close(t["ci_low"], ref["task_ci"][i][0]), t
    assert "HKSJ (k = 4, t with 3 df)" in p.stdout and "(normal)" in p.stdout, p.stdout
    assert got["k"] == ref["k"] == 4
    assert got["skipped"] == ["dtd"]
    # --interval dl / hksj report only the one asked for, in JSON and in the readable output.
    for which, absent in (("dl", "hksj"), ("hksj", "dl")):
        only = os.path.join(tmp, which + ".json")
        p = subprocess.run([exe, "meta", "--table", os.path.join(data, "meta_table.csv"),
                            "--full-a", "full-adam", "--full-b", "full-muon", "--lora-a",
                            "lora-adam", "--lora-b", "lora-muon", "--interval", which, "--json",
                            only], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        j = json.load(open(only))
        assert which in j and absent not in j, j.keys()
        assert ("HKSJ" in p.stdout) == (which == "hksj"), p.stdout
    # The paired path: per-seed values of results_runs.csv-like columns.
    ref_p = json.load(open(os.path.join(data, "reference_stats.expected.json")))["meta_paired"]
    outp = os.path.join(tmp, "paired.json")
    p = subprocess.run([exe, "meta", "--seeds", os.path.join(data, "seed_table.csv"), "--value",
                        "final_val_loss", "--task-column", "study,pretrain_optimizer",
                        "--method-column", "method_name", "--full-a", "full-adam", "--full-b",
                        "full-muon", "--lora-a", "lora-adam", "--lora-b", "lora-muon", "--json",
                        outp], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    gp = json.load(open(outp))
    assert gp["input"] == "paired" and gp["skipped"] == ref_p["skipped"], gp
    assert [t["task"] for t in gp["tasks"]] == ref_p["tasks"]
    assert [t["df"] for t in gp["tasks"]] == ref_p["df"] == [2, 2, 2]
    assert close(gp["estimate"], ref_p["estimate"]) and close(gp["hksj"]["ci_low"],
                                                              ref_p["hksj"]["ci_low"]), gp
    # Two tasks with the same gap reduction: q = 0, so the standard HKSJ interval has zero width
    # and the output must say so and give the modified interval.
    same = os.path.join(tmp, "same.csv")
    with open(same, "w") as f:
        f.write("task,method,mean,std,n\n" + "".join(
            f"{t},{m},{v},0.1,3\n" for t in ("a", "b")
            for m, v in (("fa", 2.0), ("fb", 1.0), ("la", 1.5), ("lb", 1.0))))
    p = subprocess.run([exe, "meta", "--table", same, "--full-a", "fa", "--full-b", "fb",
                        "--lora-a", "la", "--lora-b", "lb", "--json", os.path.join(tmp, "s.json")],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "note: the tasks agree more closely" in p.stdout and "modified" in p.stdout, p.stdout
    js = json.load(open(os.path.join(tmp, "s.json")))["hksj"]
    assert js["scale"] == 0 and js["ci_low"] == js["ci_high"] == 0.5, js
    assert js["modified"]["ci_low"] < 0.5 < js["modified"]["ci_high"], js
    # --table and --seeds together, or neither, or --seeds without --value: one line, exit 1.
    for bad in (["--table", os.path.join(data, "meta_table.csv"), "--seeds",
                 os.path.join(data, "seed_table.csv"), "--value", "final_val_loss"], [],
                ["--seeds", os.path.join(data, "seed_table.csv")]):
        p = subprocess.run([exe, "meta"] + bad + ["--full-a", "a", "--full-b", "b", "--lora-a",
                           "c", "--lora-b", "d"], capture_output=True, text=True)
        assert p.returncode == 1 and p.stderr.count("\n") == 1, (bad, p.stderr)
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

    # Issue 9: `meta --confidence 0.9` (the documented spelling, after the subcommand) is
    # accepted and changes the interval; before the fix CLI11 rejected it.
    table = os.path.join(data, "meta_table.csv")
    four = ["--full-a", "full-adam", "--full-b", "full-muon", "--lora-a", "lora-adam",
            "--lora-b", "lora-muon"]
    out90 = os.path.join(tmp, "meta90.json")
    p = subprocess.run([exe, "meta", "--table", table] + four + ["--confidence", "0.9", "--json",
                       out90], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got90 = json.load(open(out90))
    assert got90["confidence"] == 0.9, got90["confidence"]
    assert got90["dl"]["ci_high"] - got90["dl"]["ci_low"] < got["dl"]["ci_high"] - got["dl"]["ci_low"]
    assert "90% CI" in p.stdout, p.stdout
    # Issue 9: n = 1e30 is a clear error, not an int64 overflow.
    huge = os.path.join(tmp, "huge.csv")
    with open(huge, "w") as f:
        f.write("task,method,mean,std,n\na,fa,1,0.1,3\na,fb,1,0.1,1e30\na,la,1,0.1,3\n"
                "a,lb,1,0.1,3\n")
    p = subprocess.run([exe, "meta", "--table", huge, "--full-a", "fa", "--full-b", "fb",
                        "--lora-a", "la", "--lora-b", "lb"], capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr.count("\n") == 1, p.stderr
    assert "'1e30'" in p.stderr and "9223372036854775808" not in p.stderr, p.stderr
    # Issue 9: an all-NaN group has no summary: NaN with n = 0, not "0 ± 0".
    nans = os.path.join(tmp, "nans.csv")
    with open(nans, "w") as f:
        f.write("method,lr,ppl\nfull,0.1,nan\nfull,0.3,nan\n")
    nan_csv = os.path.join(tmp, "nans_summary.csv")
    p = subprocess.run([exe, "summary", "--table", nans, "--value", "ppl", "--by", "method",
                        "--best-lr", "lr", "--csv", nan_csv], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "ppl = nan ± nan (n = 0, 95% CI [nan, nan])" in p.stdout, p.stdout
    assert open(nan_csv).read().splitlines()[1] == "full,nan,0,nan,nan,nan,nan"
print("ok")
