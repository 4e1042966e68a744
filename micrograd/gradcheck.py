"""The gradient check: the engine's gradient against central finite differences.

PyTorch's `torch.autograd.gradcheck`, for the objective a `Trainer` descends (the data loss
plus its L1/L2 penalty), computed by the engine the run uses, in float64. For each parameter
θᵢ the numeric derivative is the central difference

    numeric = (f(θ + eps eᵢ) - f(θ - eps eᵢ)) / (2 eps)

and the engine's (analytic) derivative passes when

    |analytic - numeric| <= atol + rtol |numeric|

with gradcheck's defaults: eps = 1e-6, atol = 1e-5, rtol = 1e-3.

Kinks. relu and leaky_relu bend at 0, the hinge loss where its margin is 0, L1's |w| at
w = 0: there the objective has no derivative, and a difference whose two steps land on the
two sides of a kink measures a blend of two slopes, not a gradient (a healthy relu network
has a few such parameters at any time: a unit whose input is within eps·|x| of 0 for some
sample). So before differencing, `straddles` finds, in plain numpy, every parameter whose
±eps steps put the input of some relu (of any later layer, for any sample), some hinge
margin, or (with L1) the parameter itself on two sides of its kink: those are reported as
kinks and left out of the verdict. Every other parameter must pass; a wrong derivative shows
on them, which are almost all of them.

The batch: the trainer's training set, or with mini-batches its first `batch_size` samples
(any batch runs the same gradient code; the check costs parameters x samples).

Cost: two evaluations of the objective per parameter, and as many numpy forward passes from
the parameter's layer on to find the kinks. `affordable` says how many parameters that
allows in about ten seconds on each engine; `check(count=...)` then checks that many,
spread evenly over every layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .losses import KINKS
from .ops import UNARY
from .predict import layer_outputs
from .train import Trainer, unflatten

EPS, ATOL, RTOL = 1e-6, 1e-5, 1e-3  # torch.autograd.gradcheck's defaults
# Parameters checked x parameters x samples that take about ten seconds (measured on the
# project's 2-core VM: the Value engine ~0.4 µs per unit, the compiled one ~0.1 ns on 8 x 64).
WORK = {"value": 2.5e7, "compiled": 5e10}
CHUNK = 1 << 18  # floats per array in the batched forward passes of `straddles`
BLOCK = 256      # parameters whose kinks are found at once: ~25 ms at most between two progress calls


@dataclass(frozen=True)
class LayerCheck:
    """One layer's part of a `Report` (errors over its smooth parameters)."""

    layer: int         # 0-based
    shape: tuple       # (outputs, inputs)
    parameters: int    # in the layer
    checked: int       # of them checked
    kinks: int         # checked, but next to a kink: not judged
    failed: int        # smooth and beyond the tolerance
    max_error: float   # max |analytic - numeric|
    max_rel: float     # max |analytic - numeric| / max(|analytic|, |numeric|, atol / rtol)

    @property
    def passed(self):
        return self.failed == 0


@dataclass(frozen=True)
class Report:
    """The check of one objective at one point: per parameter checked (flat index in
    micrograd's order, its layer, the two derivatives, next to a kink, within tolerance),
    per layer, and the verdict."""

    index: np.ndarray
    layer: np.ndarray
    analytic: np.ndarray
    numeric: np.ndarray
    kink: np.ndarray
    ok: np.ndarray
    layers: tuple
    parameters: int   # in the network
    samples: int
    engine: str
    loss: float       # the objective at the point checked
    eps: float = EPS
    atol: float = ATOL
    rtol: float = RTOL

    @property
    def passed(self):
        return bool((self.ok | self.kink).all())

    @property
    def failed(self):
        return int((~self.ok & ~self.kink).sum())

    @property
    def worst(self):
        """The position (in the arrays) of the smooth parameter farthest off, or None."""
        smooth = np.flatnonzero(~self.kink)
        if not len(smooth):
            return None
        return int(smooth[np.argmax(relative_error(self.analytic[smooth], self.numeric[smooth],
                                                   self.atol, self.rtol))])

    def verdict(self):
        """One line: PASS or FAIL, how many parameters, and the worst one on FAIL."""
        kinks = int(self.kink.sum())
        checked = len(self.index)
        scope = f"{checked} checked of {self.parameters}" if checked < self.parameters else f"all {checked}"
        aside = f"{scope}; {kinks} next to a kink left out" if kinks else scope
        if self.passed:
            return f"PASS: the gradient agrees for every parameter ({aside})"
        w = self.worst
        return (f"FAIL: {self.failed} of {checked - kinks} parameters differ beyond the tolerance ({aside}); "
                f"the worst, parameter {self.index[w]} in layer {self.layer[w] + 1}: "
                f"analytic {self.analytic[w]:.6g}, numeric {self.numeric[w]:.6g}")


def relative_error(analytic, numeric, atol=ATOL, rtol=RTOL):
    """|a - n| / max(|a|, |n|, atol / rtol): the relative error, measured on the absolute scale
    below atol / rtol (= 0.01), as the tolerance itself does (a gradient of 1e-12 against
    3e-12 is rounding, not a 67 % error)."""
    a, n = np.asarray(analytic, float), np.asarray(numeric, float)
    with np.errstate(invalid="ignore"):
        return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), atol / rtol)


def layer_sizes(cfg):
    """Parameters per layer, in micrograd's order (per neuron: weights then bias)."""
    return [nout * (nin + 1) for nin, nout in zip([cfg.inputs, *cfg.layers], cfg.layers)]


def batch(trainer):
    """(X, Y) the check runs on: the training set (the network's inputs: its features, if it
    takes any), or its first mini-batch."""
    X, Y = trainer.X, trainer.Y
    size = trainer.cfg.batch_size
    return (X[:size], Y[:size]) if size and size < len(X) else (X, Y)


def affordable(trainer):
    """How many parameters the engine checks in about ten seconds on this batch (None: all)."""
    total, samples = len(trainer.theta), len(batch(trainer)[0])
    count = int(WORK.get(trainer.engine.name, WORK["value"]) / (total * samples))
    return None if count >= total else max(count, len(trainer.cfg.layers))


def pick(cfg, count=None):
    """Flat indices of `count` parameters (None: all) spread evenly over every layer, each
    layer's share as its share of the parameters (at least one each)."""
    sizes = layer_sizes(cfg)
    total = sum(sizes)
    if count is None or count >= total:
        return np.arange(total)
    out, start = [], 0
    for size in sizes:
        k = min(size, max(1, round(count * size / total)))
        out.append(start + np.unique(np.linspace(0, size - 1, k).round().astype(int)))
        start += size
    return np.concatenate(out)


def check(config, weights, train, count=None, progress=None, **tolerances):
    """Check the gradient at `weights` (per layer (W, b)) of the objective `config` trains on
    `train` (a data.Dataset), on a run of its own: a worker may go on training the session
    meanwhile. See `check_trainer`."""
    trainer = Trainer(config.replace(), train, weights=weights)
    return check_trainer(trainer, count, progress, **tolerances)


def check_trainer(trainer, count=None, progress=None, eps=EPS, atol=ATOL, rtol=RTOL):
    """The `Report` of the trainer's objective at its parameters, for `count` parameters spread
    over the layers (None: every one). `progress(fraction)` is called after each parameter, and
    every few samples within the engine's passes (so the Value engine builds a few samples'
    graph at a time: freeing a whole batch's at once held the GIL for 40+ ms on 8 x 64); it may
    raise `train.Interrupted` to abandon the check. Raises ValueError if the objective is not
    finite there (a diverged run)."""
    cfg = trainer.cfg
    X, Y = batch(trainer)
    theta = trainer.theta.copy()
    index = pick(cfg, count)
    done = 0  # parameters differenced so far: what a call within a pass reports
    check = None if progress is None else (lambda _: progress(done / len(index)))
    try:
        loss, grad, _ = trainer.objective(theta, X, Y, check=check)
    except OverflowError:  # the Value engine's exp or pow
        loss, grad = math.inf, None
    if not math.isfinite(loss) or grad is None or not np.isfinite(grad).all():
        raise ValueError("the objective or its gradient is not finite at these weights "
                         "(a diverged run?): there is nothing to check")
    kink = np.zeros(len(index), dtype=bool)
    numeric = np.empty(len(index))
    for lo in range(0, len(index), BLOCK):  # the kinks of a block, then its differences
        kink[lo:lo + BLOCK] = straddles(cfg, theta, X, Y, index[lo:lo + BLOCK], eps)
        for n in range(lo, min(lo + BLOCK, len(index))):
            numeric[n] = _difference(trainer, theta, X, Y, index[n], eps, check)
            done = n + 1
            if progress is not None:
                progress(done / len(index))
    analytic = grad[index]
    with np.errstate(invalid="ignore"):
        ok = np.abs(analytic - numeric) <= atol + rtol * np.abs(numeric)  # NaN: not ok
    layer = np.searchsorted(np.cumsum(layer_sizes(cfg)), index, side="right")
    rows = []
    for k, (size, nin, nout) in enumerate(zip(layer_sizes(cfg), [cfg.inputs, *cfg.layers], cfg.layers)):
        mine = layer == k
        smooth = mine & ~kink
        errors = np.abs(analytic[smooth] - numeric[smooth])
        rel = relative_error(analytic[smooth], numeric[smooth], atol, rtol)
        rows.append(LayerCheck(k, (nout, nin), size, int(mine.sum()), int((mine & kink).sum()),
                               int((smooth & ~ok).sum()), _max(errors), _max(rel)))
    return Report(index, layer, analytic, numeric, kink, ok, tuple(rows), len(theta), len(X),
                  trainer.engine.name, float(loss), eps, atol, rtol)


def _max(values):
    """The largest value (NaN if any is NaN), or 0 for none."""
    return float(np.max(values)) if len(values) else 0.0


def _difference(trainer, theta, X, Y, i, eps, check=None):
    """The central difference of the objective in parameter i (theta is restored); NaN where
    a step makes the objective overflow."""
    was = theta[i]
    try:
        theta[i] = was + eps
        up = trainer.objective(theta, X, Y, want_grad=False, check=check)[0]
        theta[i] = was - eps
        down = trainer.objective(theta, X, Y, want_grad=False, check=check)[0]
    except OverflowError:
        return math.nan
    finally:
        theta[i] = was
    with np.errstate(invalid="ignore", over="ignore"):
        return (up - down) / (2 * eps)


def straddles(cfg, theta, X, Y, index, eps=EPS):
    """For each parameter of `index` (flat indices): True where its steps θᵢ ± eps put some
    kink on two sides: the input of a relu-like unit (one whose op has a `kink`) of its layer
    or a later one, for some sample of X; the loss's kink (`losses.KINKS`: the hinge margin)
    for some sample; with L1, θᵢ itself. Found with the numpy forward pass, batched over the
    parameters of a layer (the layers before it are shared)."""
    index = np.asarray(index)
    weights = unflatten(np.asarray(theta, float), cfg)
    acts = cfg.activations
    base = layer_outputs(weights, acts, X)
    kinks = [UNARY[a].kink for a in acts]
    margin = KINKS.get(cfg.loss)
    hit = np.zeros(len(index), dtype=bool)
    if cfg.l1:
        t = np.asarray(theta, float)[index]
        hit |= np.sign(t + eps) != np.sign(t - eps)
    start = 0
    for k, size in enumerate(layer_sizes(cfg)):
        here = (index >= start) & (index < start + size)
        if here.any() and (margin is not None or any(c is not None for c in kinks[k:])):
            hit[here] |= _layer_straddles(k, index[here] - start, weights, acts, base, X, Y, kinks, margin, eps)
        start += size
    return hit


def _layer_straddles(k, local, weights, acts, base, X, Y, kinks, margin, eps):
    """`straddles` for parameters of layer k, by their index within the layer."""
    nin = weights[k][0].shape[1]
    unit, column = np.divmod(local, nin + 1)  # the neuron, and its input (nin: the bias)
    h = np.asarray(X, float) if k == 0 else base[k - 1][1]
    inputs = np.hstack([h, np.ones((len(h), 1))])
    step = eps * inputs[:, column]            # (n, c): how far θᵢ ± eps moves its unit's input
    z = base[k][0][:, unit]
    moved = np.stack([z + step, z - step])    # (2, n, c)
    hit = np.zeros(len(local), dtype=bool)
    if kinks[k] is not None:
        sides = np.sign(moved - kinks[k])
        hit |= (sides[0] != sides[1]).any(axis=0)
    if margin is None and all(c is None for c in kinks[k + 1:]):
        return hit
    # Later layers: a forward pass per step, from this layer's activations with the one
    # unit's column changed. Chunked over the parameters so no array passes CHUNK floats.
    out = UNARY[acts[k]].forward(moved)       # the unit's activation after each step
    changed = (out != base[k][1][:, unit]).any(axis=(0, 1))  # a dead relu's steps change nothing
    n, width = base[k][1].shape
    per = max(1, CHUNK // (2 * n * max(w.shape[0] for w, _ in weights[k:])))
    todo = np.flatnonzero(changed)
    for lo in range(0, len(todo), per):
        part = todo[lo:lo + per]
        c = len(part)
        H = np.broadcast_to(base[k][1], (2, c, n, width)).copy()
        H[:, np.arange(c), :, unit[part]] = out[:, :, part].transpose(2, 0, 1)
        rows = H.reshape(-1, width)
        later = layer_outputs(weights[k + 1:], acts[k + 1:], rows)
        for (Z, _), kink in zip(later, kinks[k + 1:]):
            if kink is not None:
                sides = np.sign(Z - kink).reshape(2, c, n, -1)
                hit[part] |= (sides[0] != sides[1]).any(axis=(1, 2))
        if margin is not None:
            final = (later[-1][1] if later else rows).reshape(2, c, n, -1)
            with np.errstate(invalid="ignore", over="ignore"):
                sides = np.sign(margin(final, Y))
            hit[part] |= (sides[0] != sides[1]).any(axis=(1, 2))
    return hit


def table(report):
    """The per-layer table as text lines (for the command line)."""
    lines = [f"{'layer':<7}{'shape':>8}{'checked':>9}{'kinks':>7}{'failed':>8}{'max |error|':>13}"
             f"{'max rel error':>15}"]
    for row in report.layers:
        shape = f"{row.shape[0]}x{row.shape[1]}"
        checked = f"{row.checked}" if row.checked == row.parameters else f"{row.checked}/{row.parameters}"
        lines.append(f"{row.layer + 1:<7}{shape:>8}{checked:>9}{row.kinks:>7}{row.failed:>8}"
                     f"{row.max_error:>13.2e}{row.max_rel:>15.2e}")
    return lines
