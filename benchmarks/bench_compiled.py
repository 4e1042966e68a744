#!/usr/bin/env python3
"""The compiled engine next to PyTorch (one thread), hand-written numpy and micrograd-rust.

One command (from the repository root; the interpreter must have torch: benchmarks/setup.sh
makes benchmarks/.venvs/torch, see README):

    benchmarks/setup.sh torch
    benchmarks/.venvs/torch/bin/python benchmarks/bench_compiled.py            # 5 reps, W1 W2 W3 W5
    benchmarks/.venvs/torch/bin/python benchmarks/bench_compiled.py --reps 3 --workloads W2

Without --impl it is the driver: every (impl, workload) runs in a fresh process
(this same script with --impl, through the shared harness's run_all.call),
repetitions outermost and the implementation order rotated per repetition, then
it validates loss trajectories against torch1 and writes
benchmarks/results/compiled.{md,json} (--out-dir to write elsewhere). With --impl it
is a runner with the CLI of ../shared/bench/baselines.py (so run_all.py --runner works too).
Paths: BENCH_DIR (default <repo>/../shared/bench); STUDIO_REPO (default the repository
this file is in) is the checkout whose engine is measured.

Impls added here:
  compiled  micrograd.compiled.CompiledEngine.loss_and_grad + losses.penalty + `theta -= lr * grad`
            (the step the harness defines: forward, loss, backward, SGD update)
  trainer   the same through micrograd.train.Trainer.step(): one full-batch epoch,
            including its per-epoch bookkeeping (metric, divergence checks, copies)
Workload added here:
  W5        2,000 moons points, MLP 2-64-64-64-1, tanh everywhere, MSE, SGD 0.1
            (the "bigger case" of issue 5), 1 warm-up + 5 timed steps

The shared workloads, init and data are baselines.py's, unchanged; our engine
gets the shared initial weights through theta (our parameter order is micrograd's).
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = Path(os.environ.get("STUDIO_REPO", HERE.parents[1])).resolve()
BENCH_DIR = Path(os.environ.get("BENCH_DIR", HERE.parents[1].parent / "shared" / "bench"))
sys.path.insert(0, str(BENCH_DIR))

import numpy as np  # noqa: E402

import baselines  # noqa: E402
from baselines import Impl, flat_params  # noqa: E402

baselines.WORKLOADS["W5"] = dict(name="bigger still", data="moons", n=2000, noise=0.1,
                                 sizes=[2, 64, 64, 64, 1], hidden="tanh", out="tanh",
                                 loss="mse", alpha=0.0, lr="0.1", warmup=1, timed=5, validate_steps=5)

LOSS = {"svm": "hinge", "sse": "sse", "mse": "mse"}


def _studio():
    """Our package, from this repository (not any other `micrograd` on the path)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import micrograd
    if Path(micrograd.__file__).resolve().parents[1] != REPO:
        raise ImportError(f"imported micrograd from {micrograd.__file__}, not {REPO}")
    return micrograd


def _config(spec, **kw):
    from micrograd.config import Config
    sizes = spec["sizes"]
    acts = [spec["hidden"]] * (len(sizes) - 2) + [spec["out"]]
    sched = dict(schedule="linear", lr_end=0.1, decay_steps=100, lr=1.0) if spec["lr"] == "1.0-0.9*k/100" \
        else dict(schedule="constant", lr=float(spec["lr"]))
    return Config(inputs=sizes[0], layers=sizes[1:], activations=acts, loss=LOSS[spec["loss"]],
                  l2=spec["alpha"], l1=0.0, **sched, **kw)


class CompiledImpl(Impl):
    def versions(self):
        m = _studio()
        # <repo>/micrograd, not the machine's path (_studio() checked it is REPO's)
        return {"micrograd-studio": f"<repo>/{Path(m.__file__).parent.name}", "numpy": np.__version__}

    def setup(self, spec, X, y, layers):
        _studio()
        from micrograd.compiled import CompiledEngine
        from micrograd.losses import penalty
        self.spec, self.cfg, self.penalty = spec, _config(spec), penalty
        model = self.cfg.model()
        t0 = time.perf_counter()
        self.engine = CompiledEngine(model, self.cfg)
        self.compile_s = time.perf_counter() - t0
        self.theta = np.array(flat_params(layers))
        assert self.theta.shape == (len(model.parameters()),)
        self.X, self.Y, self.y = X, y.reshape(-1, 1), y
        self.grad = None

    def step(self, lr):
        loss, grad, out = self.engine.loss_and_grad(self.theta, self.X, self.Y)
        if self.cfg.l1 or self.cfg.l2:  # as Trainer.step adds it
            value, penalty_grad = self.penalty(self.theta, self.cfg.l1, self.cfg.l2)
            loss, grad = loss + value, grad + penalty_grad
        self.theta -= lr * grad
        self.grad = grad
        acc = float(np.mean((self.y > 0) == (out[:, 0] > 0))) if self.spec["loss"] == "svm" else None
        return loss, acc

    def params(self):
        return self.theta.tolist()

    def grads(self):
        return self.grad.tolist()


class TrainerImpl(CompiledImpl):
    def setup(self, spec, X, y, layers):
        _studio()
        from micrograd.data import Dataset
        from micrograd.train import Trainer
        self.spec = spec
        cls = spec["loss"] == "svm"
        ds = Dataset(X, (y > 0).astype(float) if cls else y, "classification" if cls else "regression",
                     ["x1", "x2", "x3"][:X.shape[1]], "y", {}, ["0", "1"] if cls else [])
        self.t = Trainer(_config(spec, epochs=1_000_000), ds)
        assert self.t.engine.name == "compiled", self.t.engine.fallback_reason
        self.t.theta[:] = flat_params(layers)

    def step(self, lr):
        e = self.t.step()
        return e.train_loss, (e.train_metric if self.spec["loss"] == "svm" else None)

    def params(self):
        return self.t.theta.tolist()

    def grads(self):
        return self.t.grad.tolist()


class MgRustImpl(baselines.MgRustImpl):
    """The harness's mgrust, reported `unavailable` (not a crash) when micrograd-rust is not installed."""

    def __init__(self):
        import micrograd_rust  # noqa: F401  ImportError -> status "unavailable"


baselines.register_impl("compiled", CompiledImpl)
baselines.register_impl("trainer", TrainerImpl)
baselines.register_impl("mgrust", MgRustImpl)

# -- driver ------------------------------------------------------------------------

IMPLS = "compiled,trainer,torch1,numpy,mgrust"
TARGETS = {"W1": "<= 2x torch1", "W2": "< torch1 and < mgrust (0.185 ms, RESULTS.md)", "W3": "<= 2x torch1"}


def fmt(x):
    return f"{x:.0f}" if x >= 100 else f"{x:.2f}" if x >= 1 else f"{x:.3f}"


def compile_times(workloads):
    """Seconds to trace + compile each workload's program (in this process)."""
    _studio()
    from micrograd.compiled import CompiledEngine
    out = {}
    for wl in workloads:
        cfg = _config(baselines.WORKLOADS[wl])
        model = cfg.model()
        t0 = time.perf_counter()
        CompiledEngine(model, cfg).program.bind(baselines.WORKLOADS[wl]["n"])
        out[wl] = time.perf_counter() - t0
    return out


def drive(a):
    import run_all
    runner = str(HERE)
    impls, workloads = a.impls.split(","), a.workloads.split(",")
    raw = []
    for rep in range(a.reps):
        for wl in workloads:
            order = impls[rep % len(impls):] + impls[:rep % len(impls)]
            for impl in order:
                r = run_all.call(runner, impl, wl)
                r["rep"] = rep
                raw.append(r)
                print(f"rep {rep} {wl} {impl}: {r.get('status')} "
                      f"{fmt(r['ms']) + ' ms' if r.get('status') == 'ok' else r.get('reason', '')[:90]}",
                      file=sys.stderr, flush=True)
    agg = run_all.aggregate(raw, impls, workloads, ref="torch1")
    ct = compile_times(workloads)
    lines = ["| workload | impl | ms/step median [min-max] | x torch1 time | peak RSS MiB (before) | target |",
             "|---|---|---|---|---|---|"]
    for wl in workloads:
        for impl in impls:
            g = agg[(wl, impl)]
            if g["status"] != "ok":
                why = "not installed" if g["status"] == "unavailable" else g.get("reason", "")[:70]
                lines.append(f"| {wl} | {impl} | {g['status']} | | | {why} |")
                continue
            ratio = 1 / g["speedup_vs_ref"] if g.get("speedup_vs_ref") else None
            target = ""
            if impl == "compiled" and wl in TARGETS:
                ok = ratio <= 2 if wl != "W2" else (ratio < 1 and g["median"] < 0.185)
                target = f"{TARGETS[wl]}: {'met' if ok else 'NOT met'}"
                if wl == "W3":
                    target += f"; RSS <= 150 MiB: {'met' if g['rss'] <= 150 else 'NOT met'}"
            if impl == "compiled":
                target += f"{'; ' if target else ''}compile {ct[wl] * 1e3:.0f} ms (once)"
            lines.append(f"| {wl} | {impl} | {fmt(g['median'])} [{fmt(g['min'])}-{fmt(g['max'])}] | "
                         f"{'' if ratio is None else f'{ratio:.2f}'} | {g['rss']:.0f} ({g['rss_before']:.0f}) | {target} |")
    md = "\n".join(lines)
    # scaling
    sc = [w for w in ("W1", "W3", "W5") if w in workloads]
    if len(sc) > 1:
        md += "\n\nScaling (median ms/step; growth relative to W1):\n\n| impl | " + " | ".join(sc) + " |\n|---|" \
              + "---|" * len(sc) + "\n"
        for impl in impls:
            gs = [agg[(w, impl)] for w in sc]
            if all(g["status"] == "ok" for g in gs):
                md += f"| {impl} | " + " | ".join(
                    f"{fmt(g['median'])} ({g['median'] / gs[0]['median']:.1f}x)" for g in gs) + " |\n"
    # validation: loss trajectories and step-0 gradients against torch1
    if not a.no_validate:
        vrows = ["| workload | impl | steps | max abs loss diff vs torch1 | max abs grad diff at step 0 |",
                 "|---|---|---|---|---|"]
        for wl in workloads:
            ref = run_all.call(runner, "torch1", wl, "validate")
            for impl in ("compiled", "trainer", "numpy"):
                r = run_all.call(runner, impl, wl, "validate")
                raw.append(r)
                if r.get("status") != "ok" or ref.get("status") != "ok":
                    vrows.append(f"| {wl} | {impl} | | {r.get('status')} / {ref.get('status')} | |")
                    continue
                dl = max(abs(x - y) for x, y in zip(r["losses"], ref["losses"]))
                dg = max(abs(x - y) for x, y in zip(r["grad0"], ref["grad0"]))
                r.pop("params_final", None), r.pop("grad0", None)  # keep the JSON small
                vrows.append(f"| {wl} | {impl} | {r['steps']} | {dl:.1e} | {dg:.1e} |")
            ref.pop("params_final", None), ref.pop("grad0", None)
            raw.append(ref)
        md += "\n\nValidation (same init, same data):\n\n" + "\n".join(vrows) + "\n"
    print(md)
    out = Path(a.out_dir) if a.out_dir else HERE.parent / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "compiled.md").write_text(md + "\n")
    (out / "compiled.json").write_text(json.dumps(raw, indent=1))
    return 0


def main():
    if "--impl" in sys.argv or "--list" in sys.argv:
        return baselines.main()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--impls", default=IMPLS)
    ap.add_argument("--workloads", default="W1,W2,W3,W5")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--no-validate", action="store_true")
    ap.add_argument("--out-dir", help="write compiled.md and compiled.json here (default benchmarks/results)")
    return drive(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())
