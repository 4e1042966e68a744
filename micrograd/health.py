"""Layer health: dead relus, saturated tanh and sigmoid units, and gradients that explode or
vanish, per layer, from the weights, the last step's gradient and the training data.

The flags, each a layer's (and why these thresholds):

dead        A relu unit is dead when its input is at most 0 on every sample: it outputs 0
            and passes no gradient back, so no step revives it. The layer is flagged when
            more than half its units are dead. (leaky_relu and silu pass some gradient below
            0: they do not die.)
saturated   A tanh unit is saturated on a sample when |tanh| > 0.99; a sigmoid unit when its
            output is within 0.005 of 0 or 1. That is the same point: sigmoid(x) =
            (1 + tanh(x/2)) / 2, so the test is |2 sigmoid - 1| > 0.99 (the distance to the
            nearer extreme is under 0.5 % of the range). There the slope is under 2 % of its
            peak: the unit barely learns. A unit is saturated when it is so on more than half
            the samples, and a hidden layer is flagged when more than half its units are. (An
            output unit near its extremes is doing what targets of ±1 ask: not flagged.)
explodes    The data loss's gradient of the layer (weights and biases together) against the
            layer's size: lr ‖∇‖ > ‖W‖, i.e. one plain gradient step at the current rate would
            move the layer by more than its own size. Healthy steps are about a thousandth of
            the weights (Karpathy's rule of thumb for the update:weight ratio); a thousand
            times that overshoots on every step.
vanishes    ‖∇‖/‖W‖ under a thousandth of the same ratio of a later layer: the gradient fades
            on its way back, and this layer learns over a thousand times slower than one
            nearer the output. Relative, not absolute: a network that has converged has a tiny
            gradient everywhere (a hinge loss reaches exactly 0), which is not vanishing.

The gradient is the data loss's alone: the step's gradient less the L1/L2 penalty's (which
adds 2 l2 W to every layer and would hide a vanishing gradient under its own floor). The
penalty is taken at the weights given, a step after the gradient's: an error of order
lr x l2, far below these thresholds. Before the first step the gradient is zero and nothing
is said about it.

The statistics run the numpy forward pass of `predict.layer_outputs` on at most
`MAX_SAMPLES` training samples (evenly spaced: the shares barely change with more, and the
cost stays a fraction of a millisecond on the demo network).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .losses import penalty
from .predict import layer_outputs
from .train import flatten, unflatten

DEAD, SATURATED, EXPLODES, VANISHES = "dead", "saturated", "explodes", "vanishes"
FLAGS = (EXPLODES, DEAD, VANISHES, SATURATED)  # the most pressing first

MAX_SAMPLES = 1000
DEAD_SHARE = 0.5       # more than this share of a layer's units dead: flagged
SATURATION = 0.99      # |tanh|, |2 sigmoid - 1| beyond this: saturated on a sample
SATURATED_SHARE = 0.5  # of samples for a unit, and of units for a layer
EXPLODE = 1.0          # lr ‖∇‖ / ‖W‖ above this
VANISH = 1e-3          # ‖∇‖ / ‖W‖ below this x a later layer's

# How far from its extremes each saturating activation's output is, on the scale of tanh.
SATURATING = {"tanh": np.abs, "sigmoid": lambda h: np.abs(2.0 * h - 1.0)}

REMEDIES = {
    DEAD: "lower the learning rate, or use leaky_relu, or He init",
    SATURATED: "lower the learning rate, use Xavier init, or relu",
    EXPLODES: "lower the learning rate, or use He or Xavier init instead of uniform",
    VANISHES: "use relu or leaky_relu instead of sigmoid or tanh, He or Xavier init, or fewer layers",
}


@dataclass(frozen=True)
class LayerHealth:
    """One layer's statistics and flags."""

    layer: int                # 0-based; the output layer last
    activation: str
    units: int
    dead: float | None        # share of units dead (relu layers), else None
    saturated: float | None   # share of units saturated (tanh, sigmoid), else None
    grad_norm: float          # ‖∇‖ of the data loss, weights and biases (0 before the first step)
    weight_norm: float        # ‖W‖, weights and biases
    update: float             # lr ‖∇‖ / ‖W‖: a plain step's size against the layer's
    lag: float | None         # how many times slower than the fastest later layer (None: none)
    flags: frozenset

    def message(self, flag):
        """What `flag` means for this layer, with the usual remedy: for a status bar."""
        name = f"Layer {self.layer + 1}"
        if flag == DEAD:
            what = f"{self.dead:.0%} of its relu units are dead (zero on every sample)"
        elif flag == SATURATED:
            what = f"{self.saturated:.0%} of its {self.activation} units are saturated"
        elif flag == EXPLODES:
            what = f"the gradient explodes (a step at this rate would move the layer {_times(self.update)} its size)"
        elif math.isinf(self.lag):
            what = "the gradient vanishes (none reaches it, while a later layer learns)"
        else:
            what = f"the gradient vanishes (it learns {_times(self.lag)} slower than a later layer)"
        return f"{name}: {what}. Try: {REMEDIES[flag]}."


def _times(v):
    """A factor for people: 1.03x, 12.5x, 20,000x."""
    return f"{v:,.0f}x" if v >= 100 else f"{v:.3g}x"


def samples(X, limit=MAX_SAMPLES):
    """At most `limit` rows of X, evenly spaced."""
    X = np.asarray(X, dtype=float)
    if len(X) <= limit:
        return X
    return X[np.linspace(0, len(X) - 1, limit).round().astype(int)]


def measure(config, weights, grads, X, lr=None):
    """Per layer a `LayerHealth`, for per-layer weights and gradients (W, b) of the network
    `config` describes, on inputs X (pass `samples(X)` for a big set); `lr`: the rate of the
    step that gave the gradient (default config.lr)."""
    lr = config.lr if lr is None else lr
    outs = layer_outputs(weights, config.activations, X)
    stepped = any(np.any(G) or np.any(g) for G, g in grads)  # else no step yet: no gradient to speak of
    with np.errstate(over="ignore", invalid="ignore"):
        theta = flatten(weights)
        data_grads = unflatten(flatten(grads) - penalty(theta, config.l1, config.l2)[1], config) if stepped else grads
        w_norms = [float(np.sqrt(np.sum(W ** 2) + np.sum(b ** 2))) for W, b in weights]
        g_norms = [float(np.sqrt(np.sum(G ** 2) + np.sum(g ** 2))) for G, g in data_grads]
        rates = [g / w if w > 0 else (np.inf if g > 0 else 0.0) for g, w in zip(g_norms, w_norms)]
    last = len(weights) - 1
    out = []
    for k, ((Z, H), act) in enumerate(zip(outs, config.activations)):
        flags = set()
        dead = saturated = lag = None
        if act == "relu":
            dead = float(np.mean(np.all(Z <= 0.0, axis=0)))
            if dead > DEAD_SHARE:
                flags.add(DEAD)
        if act in SATURATING:
            with np.errstate(invalid="ignore"):
                per_unit = np.mean(SATURATING[act](H) > SATURATION, axis=0)
            saturated = float(np.mean(per_unit > SATURATED_SHARE))
            if saturated > SATURATED_SHARE and k < last:
                flags.add(SATURATED)
        with np.errstate(invalid="ignore", over="ignore"):
            update = lr * rates[k]
        if stepped:
            if not update <= EXPLODE:  # NaN (a diverged step) too
                flags.add(EXPLODES)
            fastest = max(rates[k + 1:], default=0.0)
            if fastest > 0:
                lag = fastest / rates[k] if rates[k] > 0 else np.inf
                if rates[k] < VANISH * fastest:
                    flags.add(VANISHES)
        out.append(LayerHealth(k, act, Z.shape[1], dead, saturated, g_norms[k], w_norms[k], update,
                               lag, frozenset(flags)))
    return tuple(out)
