#!/usr/bin/python3
"""Bad command lines of muft-sweep (docs/cli.md): each gives exit 1 and one error line, --help
gives 0, and no refused command writes anything. Usage: sweep_cli_test.py SWEEP SRC"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

SWEEP, SRC = sys.argv[1], sys.argv[2]
FAKE = os.path.join(SRC, "tests", "sweep", "fake_train.py")
T = tempfile.mkdtemp(prefix="muft_sweep_cli_")
SPEC = os.path.join(T, "fake.toml")
with open(os.path.join(SRC, "tests", "sweep", "data", "fake.toml")) as f:
    TEXT = f.read().replace("PLACEHOLDER", os.path.join(T, "runs"))
with open(SPEC, "w") as f:
    f.write(TEXT)
NEG_SEED = os.path.join(T, "neg.toml")
with open(NEG_SEED, "w") as f:
    f.write(TEXT.replace("seeds = [0, 1]", "seeds = [0, -1]"))
BIG = os.path.join(T, "big.toml")  # 2 x 400 lrs x 200 seeds = 160000 fine-tuning runs
with open(BIG, "w") as f:
    f.write(TEXT.split("[[finetune.methods]]")[0].replace(
        "seeds = [0, 1]", "seeds = [" + ", ".join(map(str, range(200))) + "]"))
    f.write('[[finetune.methods]]\nname = "m"\nmethod = "full"\noptimizer = "adam"\nlrs = [' +
            ", ".join(str(i + 1) for i in range(400)) + "]\n")
os.makedirs(os.path.join(T, "sub"))

failures = []
bad_inputs = 0


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def expect(what, args, code, needle="", unwritten=()):
    """Runs muft-sweep ARGS; checks the exit code, one error line holding NEEDLE (for code 1)
    and that none of UNWRITTEN exists afterwards."""
    global bad_inputs
    p = subprocess.run([SWEEP] + args, capture_output=True, text=True, cwd=T)
    ok = p.returncode == code
    if code == 1:
        bad_inputs += 1
        ok = ok and p.stderr.count("\n") == 1 and p.stderr.startswith("muft-sweep: error: ")
        ok = ok and needle in p.stderr
    for u in unwritten:
        ok = ok and not os.path.exists(os.path.join(T, u))
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        failures.append(what)
        print(f"  exit {p.returncode}\n  stdout: {p.stdout[-400:]}\n  stderr: {p.stderr[-400:]}")


spec_sum = digest(SPEC)
expect("--help", ["--help"], 0)
expect("run --help", ["run", "--help"], 0)
# CLI11 parse errors (it would exit 106, 109, 105, 101 on its own).
expect("no subcommand", [], 1, "subcommand")
expect("unknown flag", ["run", SPEC, "--frobnicate"], 1, "--frobnicate")
expect("missing spec file", ["run", os.path.join(T, "nope.toml")], 1, "nope.toml")
expect("bad --only", ["status", SPEC, "--only", "bogus"], 1, "--only")
expect("--jobs without value", ["run", SPEC, "--jobs"], 1, "--jobs")
# Counts: -1 used to wrap to 2^64 - 1 concurrent trainers.
for jobs in ["-1", "0", "100000", "2.5", "1e3"]:
    expect(f"--jobs {jobs}", ["run", SPEC, "--dry-run", "--trainer", FAKE, "--jobs", jobs], 1,
           "--jobs: must be an integer in [1, 1024]")
expect("--analysis-jobs 5000", ["collect", SPEC, "--analysis-jobs", "5000"], 1,
       "--analysis-jobs: must be an integer in [0, 1024]", unwritten=["results.h5"])
expect("--shard 3/3", ["status", SPEC, "--shard", "3/3"], 1, "--shard")
# Two outputs on one file, or an output on the spec.
expect("report --out X --methods-csv ./X", ["report", SPEC, "--no-analysis", "--out", "r.md",
                                            "--methods-csv", "./r.md"], 1,
       "--out and --methods-csv name the same file", unwritten=["r.md"])
expect("report --out X --methods-csv sub/../X", ["report", SPEC, "--no-analysis", "--out",
                                                 "r.md", "--methods-csv", "sub/../r.md"], 1,
       "same file", unwritten=["r.md"])
expect("report --out SPEC", ["report", SPEC, "--no-analysis", "--out", SPEC], 1,
       "is also an input (SPEC)")
os.symlink(SPEC, os.path.join(T, "link.toml"))
expect("collect --out symlink-to-SPEC", ["collect", SPEC, "--no-analysis", "--out", "link.toml"],
       1, "is also an input (SPEC)")
if digest(SPEC) != spec_sum:
    failures.append("the spec was overwritten")
# A negative seed in the spec would reach the trainer as --seed -1.
expect("negative seed in the spec", ["status", NEG_SEED], 1, "seeds must be")
# A grid past the limit is refused before it is expanded (a 13 KB spec once took 8.6 GB).
expect("160002-run grid", ["status", BIG], 1, "has 160002 runs, more than the 100000")
# Still fine: distinct outputs.
expect("report --out r.md --methods-csv m.csv", ["report", SPEC, "--no-analysis", "--out", "r.md",
                                                 "--methods-csv", "m.csv"], 0)

shutil.rmtree(T)
print(f"{bad_inputs} bad command lines")
if failures:
    print(f"{len(failures)} failure(s): {failures}")
    sys.exit(1)
print("ok")
