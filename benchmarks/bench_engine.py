#!/usr/bin/env python3
"""Runner for the shared benchmark harness: adds impl `studio` (our `Value` engine).

Same CLI as ../shared/bench/baselines.py, so run_all.py can drive it:

    benchmarks/.venvs/micrograd/bin/python ../shared/bench/run_all.py \
        --runner benchmarks/bench_engine.py \
        --impls micrograd,micrograd_nogc,studio --workloads W1,W2,W3,W4

Workloads are the harness's (WORKLOADS.md): same data, same shared initial weights
(loaded with `MLP.load_weights`; our parameter order is micrograd's, checked in
setup), same loss formulas and SGD update. Our engine uses its own idioms (one `dot`
node per neuron, one `total` node per sum); W4 uses the harness's own plain-operator
chain `s = s + a[i]*b[i]`, unchanged.

Two packages are named `micrograd`: Karpathy's (installed in the benchmark venv) and
ours (this repository). Every (impl, workload) runs in a fresh process, and a script's
sys.path[0] is its own directory (benchmarks/), so `import micrograd` finds Karpathy's
unless the repository root is put on sys.path; only the `studio` impl does that, in
its own constructor, and each impl's versions() reports the file it really imported.

Paths: BENCH_DIR (default <repo>/../shared/bench) holds baselines.py; STUDIO_REPO
(default the repository this file is in) holds our `micrograd` package: point it at
another checkout to measure that one with this runner. Recorded file names are relative,
<repo>/... (STUDIO_REPO) or <venv>/... (the interpreter's environment), so results name
no machine-specific path.
"""
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = Path(os.environ.get("STUDIO_REPO", HERE.parents[1])).resolve()
BENCH_DIR = Path(os.environ.get("BENCH_DIR", HERE.parents[1].parent / "shared" / "bench"))
sys.path.insert(0, str(BENCH_DIR))

import baselines  # noqa: E402
from baselines import Impl, MicrogradImpl, MicrogradNoGCImpl, flat_params, mg_w4  # noqa: E402


def _git_rev(path):
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--", "micrograd"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _ours(path):
    """Is this module file our package, <repo>/micrograd? (The benchmark venvs with
    Karpathy's `micrograd` live inside the repository too, under benchmarks/.venvs/.)"""
    return Path(path).resolve().parent == REPO / "micrograd"


def _where(path):
    """A module's file as <repo>/... or <venv>/..., for the results (no machine paths)."""
    path = Path(path).resolve()
    # The venv first: benchmarks/.venvs/ lies inside the repository.
    for root, name in ((Path(sys.prefix).resolve(), "<venv>"), (REPO, "<repo>")):
        if path.is_relative_to(root):
            return f"{name}/{path.relative_to(root).as_posix()}"
    return str(path)


class _KarpathyFile:
    """Mixin: versions() also says which `micrograd` package this process imported."""

    def versions(self):
        import micrograd
        v = super().versions()
        v["micrograd_file"] = _where(micrograd.__file__)
        if _ours(micrograd.__file__):
            raise RuntimeError(f"the {type(self).__name__} row imported OUR micrograd ({micrograd.__file__})")
        return v


class KarpathyMicrograd(_KarpathyFile, MicrogradImpl):
    pass


class KarpathyMicrogradNoGC(_KarpathyFile, MicrogradNoGCImpl):
    pass


class StudioImpl(Impl):
    """Our engine: MLP with per-layer activations, losses.batch_loss/l2, plain SGD."""

    def __init__(self):
        if "micrograd" in sys.modules:
            raise RuntimeError("a micrograd package is already imported; studio needs a fresh process")
        sys.path.insert(0, str(REPO))
        import micrograd
        from micrograd import engine, losses, nn
        if not _ours(micrograd.__file__):
            raise RuntimeError(f"studio imported {micrograd.__file__}, not the repository's engine")
        self.micrograd, self.engine, self.losses, self.nn = micrograd, engine, losses, nn

    def versions(self):
        return {"studio": _git_rev(REPO), "micrograd_file": _where(self.micrograd.__file__)}

    def setup(self, spec, X, y, layers):
        sizes = spec["sizes"]
        if spec["hidden"] == "relu":
            assert spec["out"] == "linear"
            acts = ["relu"] * (len(sizes) - 2) + ["linear"]
        else:
            acts = [spec["hidden"]] * (len(sizes) - 2) + [spec["out"]]
        self.model = self.nn.MLP(sizes[0], sizes[1:], acts, seed=0)
        self.model.load_weights([(W.tolist(), b.tolist()) for W, b in layers])
        self.P = self.model.parameters()
        # The shared init is given in micrograd's parameter order; ours must be the same.
        if [p.data for p in self.P] != flat_params(layers):
            raise RuntimeError("parameter order differs from micrograd's")
        self.loss = {"svm": "hinge", "sse": "sse", "mse": "mse"}[spec["loss"]]
        self.alpha = spec["alpha"]
        self.Xl = X.tolist()
        self.yl = y.tolist()
        self.ys = [[t] for t in self.yl]  # one target list per sample (one output)

    def step(self, lr):
        Value, model, P = self.engine.Value, self.model, self.P
        if self.loss == "hinge":
            # As the demo: inputs wrapped as Values every step.
            inputs = [list(map(Value, row)) for row in self.Xl]
        else:
            inputs = self.Xl  # as the video: plain numbers
        outs = [model(x) for x in inputs]
        # Exactly losses.objective(), kept open here to read the scores for accuracy.
        obj = self.losses.batch_loss(self.loss, outs, self.ys)
        if self.alpha:
            obj = obj + self.alpha * self.losses.l2(P)
        for p in P:
            p.grad = 0.0
        obj.backward()
        for p in P:
            p.data -= lr * p.grad
        acc = None
        if self.loss == "hinge":
            acc = sum((t > 0) == (o.data > 0) for t, o in zip(self.yl, outs)) / len(outs)  # one output: a Value
        return obj.data, acc

    def params(self):
        return [p.data for p in self.P]

    def grads(self):
        return [p.grad for p in self.P]

    def w4(self, av, bv):
        # The harness's own chain: leaves, then s = s + a[i]*b[i], then s.backward().
        return mg_w4(self.engine.Value, av, bv)


baselines.register_impl("micrograd", KarpathyMicrograd)
baselines.register_impl("micrograd_nogc", KarpathyMicrogradNoGC)
baselines.register_impl("studio", StudioImpl)

if __name__ == "__main__":
    sys.exit(baselines.main())
