"""Do the defaults train? Every built-in data set with nothing but its name given, over seeds.

    .venv/bin/python benchmarks/defaults.py [--seeds 10] [--datasets moons,spiral] [--md]

Each run is exactly `micrograd train --dataset NAME --seed S` (the command line's own flags and
defaults, parsed by its parser), trained in process, and scored on its test split: accuracy for
classification, R² for regression. The window applies the same defaults (config.PRESETS) when a
data set is chosen. Targets: moons, circles, xor, gaussian test accuracy >= 95 %, spiral >= 90 %,
plane, sine and bumps R² >= 0.95, for every seed; and the deep network (8 hidden layers of 64, relu then
tanh) trains on moons at the default learning rate without diverging.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from micrograd.cli.arguments import build_parser, config, data_spec  # noqa: E402
from micrograd.data import CLASSIFICATION, DATASETS  # noqa: E402
from micrograd.session import Session  # noqa: E402

TARGETS = {"spiral": 0.90, "plane": 0.95, "sine": 0.95, "bumps": 0.95}  # the rest: 0.95 accuracy
DEEP = ["--layers", ",".join(["64"] * 8), "--activation", ",".join(["relu"] * 4 + ["tanh"] * 4)]


def run(argv):
    """(test metric, stop reason, epochs, seconds) of `micrograd train ARGV`, trained in process."""
    a = build_parser().parse_args(["train", *argv, "--quiet"])
    spec = data_spec(a)
    loaded = spec.load()
    session = Session(config(a, loaded[0], spec), spec, loaded=loaded)
    t0 = time.perf_counter()
    for _ in session.run():
        pass
    e = session.trainer.history[-1]
    return e.test_metric, e.stop, e.epoch, time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--md", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)
    ok = True
    rows = []
    for name in args.datasets.split(","):
        target = TARGETS.get(name, 0.95)
        scores, stops, secs = [], [], []
        for seed in range(args.seeds):
            score, stop, epochs, seconds = run(["--dataset", name, "--seed", str(seed)])
            scores.append(np.nan if score is None else score)
            stops.append(stop)
            secs.append(seconds)
        scores = np.array(scores)
        passed = int(np.sum(scores >= target))
        ok &= passed == args.seeds
        what = "accuracy" if name in CLASSIFICATION else "R²"
        rows.append((name, what, target, scores.min(), np.median(scores), scores.max(), passed, epochs,
                     float(np.median(secs)), sorted(set(stops))))
        print(f"{name:<9} test {what:<8} min {scores.min():.3f} median {np.median(scores):.3f} "
              f"max {scores.max():.3f}  >= {target}: {passed}/{args.seeds}  ({epochs} epochs, "
              f"{np.median(secs):.2f} s; {', '.join(sorted(set(stops)))})", flush=True)
    deep = []
    for seed in range(min(args.seeds, 3)):
        score, stop, epochs, seconds = run(["--dataset", "moons", "--seed", str(seed), *DEEP])
        deep.append((score, stop))
        print(f"deep 8x64 on moons, seed {seed}: test accuracy {score}, {stop}", flush=True)
    ok &= all(stop is not None and not stop.startswith("diverged") for _, stop in deep)
    if args.md:
        print("\n| data set | test metric | target | min | median | max | seeds at target | epochs |")
        print("|---|---|---|---|---|---|---|---|")
        for name, what, target, lo, med, hi, passed, epochs, _, _ in rows:
            pct = what == "accuracy"
            f = (lambda v: f"{100 * v:.1f} %") if pct else (lambda v: f"{v:.3f}")
            print(f"| {name} | {what} | {f(target)} | {f(lo)} | {f(med)} | {f(hi)} | {passed}/{args.seeds} | {epochs} |")
        accs = ", ".join(f"{100 * s:.0f} %" for s, _ in deep)
        print(f"| moons, 8 x 64 (relu, then tanh) | accuracy | no divergence | | | | {accs} | |")
    print("targets:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
