"""Losses: a per-sample term plus how the terms over a batch combine; the L1/L2 penalties.

Defining each loss per sample is what lets the compiler trace one sample's
graph and replay it over a whole batch. The penalties involve only the
parameters: `l1`, `l2`, `penalized` and `objective` build them as `Value`s for
scripts; the training loop adds `penalty` on its flat parameter vector instead,
the same for every engine.
"""
import numpy as np

from .engine import total
from .nn import as_list


def squared_error(out, y):
    """Sum over outputs of (out - y)^2."""
    return total((o - t) ** 2 for o, t in zip(out, y))


def hinge(out, y):
    """max(0, 1 - y * out), the micrograd demo's max-margin loss; y in {-1, +1}."""
    return total((1 + -t * o).relu() for o, t in zip(out, y))


def bce_logits(out, y):
    """Binary cross-entropy on a logit z, y in {0, 1}: softplus(z) - y*z.

    Equal to -y log(sigmoid z) - (1-y) log(1 - sigmoid z), without ever
    forming sigmoid(z), so it stays finite for any finite z.
    """
    return total(o.softplus() - t * o for o, t in zip(out, y))


# name -> (per-sample loss, "mean" or "sum" over the batch, targets for two classes)
LOSSES = {
    "mse": (squared_error, "mean", (-1.0, 1.0)),
    "sse": (squared_error, "sum", (-1.0, 1.0)),  # the blog's sum of squared errors
    "hinge": (hinge, "mean", (-1.0, 1.0)),
    "bce": (bce_logits, "mean", (0.0, 1.0)),
}

# Where a loss's per-sample term is not differentiable: a numpy function of the outputs and
# targets (arrays alike) that crosses 0 there, for each loss that has such a kink. The hinge's
# relu bends where the margin 1 - y * out is 0. (The gradient check leaves out a finite
# difference across a kink: it measures no derivative. The smooth losses are not listed.)
KINKS = {
    "hinge": lambda out, y: 1.0 - y * out,
}


def l1(params):
    return total(abs(p) for p in params)


def l2(params):
    return total(p * p for p in params)


def batch_loss(name, outs, ys):
    """Combine per-sample losses: `outs` the model's output per sample (a Value, or a list of
    Values for several outputs), `ys` one list of targets per sample."""
    fn, reduce, _ = LOSSES[name]
    terms = [fn(as_list(o), y) for o, y in zip(outs, ys)]
    return total(terms) * (1.0 / len(terms)) if reduce == "mean" else total(terms)


def objective(model, X, ys, loss="mse", l1_weight=0.0, l2_weight=0.0):
    """The full training objective on a batch: data loss plus the weighted penalties."""
    data_loss = batch_loss(loss, [model(x) for x in X], ys)
    if not (l1_weight or l2_weight):
        return data_loss
    return penalized(data_loss, model.parameters(), l1_weight, l2_weight)


def penalized(data_loss, params, l1_weight=0.0, l2_weight=0.0):
    """data_loss + l2_weight * sum(p^2) + l1_weight * sum(|p|)."""
    if l2_weight:
        data_loss = data_loss + l2_weight * l2(params)
    if l1_weight:
        data_loss = data_loss + l1_weight * l1(params)
    return data_loss


def penalty(theta, l1_weight=0.0, l2_weight=0.0, want_grad=True):
    """(l2_weight * sum(theta^2) + l1_weight * sum(|theta|), its gradient or None) for a
    parameter vector.

    NOTE: the L1 gradient at exactly 0 is 0, as `abs` has it. Huge parameters give an inf
    value (the trainer's divergence), not a numpy warning.
    """
    with np.errstate(over="ignore"):
        value = l2_weight * float(np.dot(theta, theta)) if l2_weight else 0.0
    if l1_weight:
        value += l1_weight * float(np.add.reduce(np.abs(theta)))
    if not want_grad:
        return value, None
    grad = (2.0 * l2_weight) * theta if l2_weight else np.zeros_like(theta)
    if l1_weight:
        grad += l1_weight * np.sign(theta)
    return value, grad
