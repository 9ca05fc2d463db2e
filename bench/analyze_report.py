#!/usr/bin/python3
"""Report of one bench/analyze_bench.sh config: reads WORK/CFG_muft_LABEL.{csv,json} (muft's
rows and bench/peak_mem.py's times; memory from CFG_muft_LABEL_mem.json) and WORK/CFG_reference.json
(bench/analyze_reference.py), prints the side-by-side table, the ratios against the goals, the
machine limit, peak memory against its bound, and the relative differences.

Usage: analyze_report.py WORK CFG LABEL...   (LABEL: gram, exact, fast; gram first)
"""
import csv
import json
import sys

GOAL_GRAM, GOAL_TORCH, GOAL_MEM, GOAL_DIFF = 2.0, 4.0, 1.5, 1e-6
NAMES = {"gram": "muft gram (default)", "exact": "muft exact (dgesdd)", "fast": "muft fast (Lanczos s1)",
         "numpy_gram": "numpy Gram+eigvalsh f64", "numpy": "numpy svd f64", "torch": "torch svdvals f32"}


def main():
    work, cfg, labels = sys.argv[1], sys.argv[2], sys.argv[3:]
    ref = json.load(open(f"{work}/{cfg}_reference.json"))
    runs = {lab: json.load(open(f"{work}/{cfg}_muft_{lab}.json")) for lab in labels}
    for lab in labels:  # memory from the sampled run (times from the unsampled one)
        mem = json.load(open(f"{work}/{cfg}_muft_{lab}_mem.json"))
        runs[lab].update(peak_anon_kb=mem["peak_anon_kb"], samples=mem["samples"])
    rows = {lab: {r["tensor"]: r for r in csv.DictReader(open(f"{work}/{cfg}_muft_{lab}.csv"))}
            for lab in labels}
    shapes = ref["shapes"]
    n_mat = len(shapes)
    largest = max(shapes.values(), key=lambda s: s[0] * s[1])
    m_big, n_big = max(largest), min(largest)
    print(f"-- {cfg}: {n_mat} float32 matrices, largest {largest[0]}x{largest[1]}")
    print(f"{'method':<26}{'wall s':>8}{'cpu s':>8}{'mat/s':>8}{'anon MiB':>10}{'RSS MiB':>9}")
    for lab in labels:
        r = runs[lab]
        print(f"{NAMES[lab]:<26}{r['wall_s']:8.2f}{r['cpu_s']:8.2f}{n_mat / r['wall_s']:8.2f}"
              f"{r['peak_anon_kb'] / 1024:10.0f}{r['max_rss_kb'] / 1024:9.0f}")
    for b, t in ref["seconds"].items():
        print(f"{NAMES[b]:<26}{t:8.2f}{ref['cpu_seconds'][b]:8.2f}{n_mat / t:8.2f}")
    print("(muft: whole process, file reading included; references: the matrix loop only)")

    g = runs["gram"]
    for b, goal in (("numpy_gram", GOAL_GRAM), ("torch", GOAL_TORCH), ("numpy", None)):
        if b not in ref["seconds"]:
            continue
        rw, rc = ref["seconds"][b] / g["wall_s"], ref["cpu_seconds"][b] / g["cpu_s"]
        verdict = ""
        if goal is not None:
            verdict = f" (goal >= {goal:g}x: {'met' if min(rw, rc) >= goal else 'NOT met'})"
        print(f"muft gram vs {NAMES[b]}: wall {rw:.2f}x, cpu {rc:.2f}x{verdict}")

    # Machine limit: the Gram product as syrk (m*n^2 flops for m >= n) plus the eigensolve
    # counted as its (4/3) n^3 tridiagonalization flops, all at the dgemm rate of this run: a
    # lower bound on the time (the eigensolver never runs at dgemm speed), so the fraction is an
    # upper bound on how close muft could still get.
    d = ref.get("dgemm")
    if d:
        flops = sum(max(s) * min(s) ** 2 + 4.0 / 3.0 * min(s) ** 3 for s in shapes.values())
        lim_w, lim_c = flops / (d["gflops"] * 1e9), flops / (d["gflops_per_cpu_s"] * 1e9)
        print(f"machine limit: {flops / 1e9:.1f} GFLOP (syrk + (4/3)n^3) at dgemm "
              f"{d['gflops']:.1f} GFLOP/s wall, {d['gflops_per_cpu_s']:.1f} GFLOP per CPU-s: "
              f"{lim_w:.2f} s wall, {lim_c:.2f} s CPU; muft gram at {lim_w / g['wall_s']:.0%} "
              f"(wall), {lim_c / g['cpu_s']:.0%} (CPU) of it")

    bound = GOAL_MEM * (m_big * n_big * 4 + n_big * n_big * 8)
    anon = g["peak_anon_kb"] * 1024
    print(f"peak memory (RssAnon, mapped file pages excluded) {anon / 2**20:.0f} MiB = "
          f"{anon / (bound / GOAL_MEM):.2f}x (largest tensor {m_big * n_big * 4 / 2**20:.0f} MiB + "
          f"Gram {n_big * n_big * 8 / 2**20:.0f} MiB); bound {GOAL_MEM:g}x = {bound / 2**20:.0f} MiB: "
          f"{'met' if anon <= bound else 'NOT met'} ({g['samples']} samples; peak RSS with file "
          f"pages {g['max_rss_kb'] / 1024:.0f} MiB)")

    worst_all = 0.0
    for lab in labels:
        keys = ("stable_rank",) if lab == "fast" else ("stable_rank", "svd_entropy")
        for b in ref["seconds"]:
            parts = []
            for key in keys:
                w = 0.0
                for name, r in rows[lab].items():
                    want = ref["tensors"][name][b][key]
                    w = max(w, abs(float(r[key]) - want) / abs(want))
                parts.append(f"{key} {w:.2e}")
                if lab == "gram" and b != "torch":
                    worst_all = max(worst_all, w)
            print(f"max relative difference muft {lab:<5} vs {b:<10}: {', '.join(parts)}")
    print(f"muft gram vs the float64 references: {worst_all:.2e} "
          f"(goal <= {GOAL_DIFF:g}: {'met' if worst_all <= GOAL_DIFF else 'NOT met'})")


if __name__ == "__main__":
    main()
