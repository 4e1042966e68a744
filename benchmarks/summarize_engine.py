#!/usr/bin/env python3
"""Ratios against the targets, from run_all.py's raw JSON (benchmarks/results/engine.json).

    python summarize_engine.py results/engine.json [--md results/engine.md]

Medians over repetitions. Memory: "own" = peak RSS - RSS just before the first step
(the workload's own memory); "process" = whole-process peak RSS.
"""
import argparse
import json
import statistics


def med(rs, key):
    return statistics.median(r[key] for r in rs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--md", help="append the ratio section to this markdown file")
    a = ap.parse_args()
    raw = json.load(open(a.raw))
    ok = {}
    for r in raw:
        if r.get("status") == "ok" and r.get("mode", "time") == "time":
            ok.setdefault((r["workload"], r["impl"]), []).append(r)

    def get(wl, impl):
        return ok.get((wl, impl))

    lines, verdicts = [], []

    def target(name, value, goal, met, fmt):
        verdicts.append(met)
        lines.append(f"| {name} | {fmt.format(value)} | {goal} | {'met' if met else 'NOT met'} |")

    lines += ["| target | measured (median of reps) | goal | |", "|---|---|---|---|"]
    s1, m1, n1 = get("W1", "studio"), get("W1", "micrograd"), get("W1", "micrograd_nogc")
    if s1 and m1:
        target("W1 speedup vs micrograd", med(m1, "ms") / med(s1, "ms"), ">= 10x", med(m1, "ms") / med(s1, "ms") >= 10, "{:.1f}x")
    if s1 and n1:
        target("W1 speedup vs micrograd_nogc", med(n1, "ms") / med(s1, "ms"), ">= 2x", med(n1, "ms") / med(s1, "ms") >= 2, "{:.2f}x")
    s3, m3 = get("W3", "studio"), get("W3", "micrograd")
    if s3 and m3:
        sp = med(m3, "ms") / med(s3, "ms")
        target("W3 speedup vs micrograd", sp, ">= 10x", sp >= 10, "{:.1f}x")
        own_s = statistics.median(r["peak_rss_mb"] - r["rss_before_mb"] for r in s3)
        own_m = statistics.median(r["peak_rss_mb"] - r["rss_before_mb"] for r in m3)
        target("W3 workload memory (peak - before), studio / micrograd", own_s / own_m, "<= 1/3",
               own_s / own_m <= 1 / 3, "{:.3f}" + f" ({own_s:.0f} / {own_m:.0f} MiB)")
        ps, pm = med(s3, "peak_rss_mb"), med(m3, "peak_rss_mb")
        target("W3 whole-process peak RSS, studio / micrograd", ps / pm, "<= 1/3", ps / pm <= 1 / 3,
               "{:.3f}" + f" ({ps:.0f} / {pm:.0f} MiB)")
    s4 = get("W4", "studio")
    if s4:
        nps = med(s4, "nodes_per_s")
        runs = sorted(x for r in s4 for x in r["ms_runs"])
        target("W4 nodes/s (build + backward)", nps, ">= 1,000,000", nps >= 1e6,
               "{:,.0f}" + f" (median {med(s4, 'ms'):.1f} ms/graph: build {med(s4, 'build_ms'):.1f} + "
               f"backward {med(s4, 'backward_ms'):.1f}; single graphs {runs[0]:.1f}-{runs[-1]:.1f} ms)")
    spread = []
    for (wl, impl), rs in sorted(ok.items()):
        ms = [r["ms"] for r in rs]
        spread.append(f"{wl} {impl}: max/min of rep means {max(ms) / min(ms):.2f}")
    md = "\n".join(lines) + "\n\nNoise (spread of per-process means over reps): " + "; ".join(spread) + "\n"
    print(md)
    if a.md:
        with open(a.md, "a") as f:
            f.write("\n## Targets\n\n" + md)
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
