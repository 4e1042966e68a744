"""Optimizers and learning-rate schedules.

The update rules work on flat numpy arrays, so the `Value` engine and the
compiled engine share one implementation and give the same steps. `step()`
is the familiar front end for a list of `Value` parameters.
"""
import math

import numpy as np

SCHEDULES = ("constant", "linear")


class Schedule:
    """Learning rate at step k: constant, or linear decay from lr to lr*end over `steps` steps.

    The micrograd demo is `Schedule("linear", end=0.1, steps=100)`: 1.0 -> 0.1.
    `Optimizer.step()` counts its own steps; the `Trainer` counts epochs, so a
    schedule means the same whatever the batch size.
    """

    def __init__(self, kind="constant", end=0.1, steps=100):
        if kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {kind!r}; choose from {', '.join(SCHEDULES)}")
        if steps < 1:
            raise ValueError("schedule steps must be at least 1")
        self.kind, self.end, self.steps = kind, end, steps

    def __call__(self, lr, k):
        if self.kind == "constant":
            return lr
        return lr * (1.0 - (1.0 - self.end) * min(k, self.steps) / self.steps)


class Optimizer:
    def __init__(self, params=(), lr=0.1, schedule=None):
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"learning rate must be a positive number, got {lr}")
        self.params = list(params)
        self.lr = lr  # may be changed between steps; the schedule scales it
        self.schedule = schedule or Schedule()
        self.t = 0  # steps taken

    @property
    def rate(self):
        """The learning rate the next step will use."""
        return self.schedule(self.lr, self.t)

    def step(self):
        """Update every `Value` parameter from its `grad`."""
        theta = np.array([p.data for p in self.params])
        self.update(theta, np.array([p.grad for p in self.params]))
        for p, v in zip(self.params, theta.tolist()):
            p.data = v

    def zero_grad(self):
        for p in self.params:
            p.grad = 0.0

    def update(self, theta, grad, lr=None):
        """One step on flat arrays, in place, at `lr` (default: the schedule at this step)."""
        self._update(theta, grad, self.rate if lr is None else lr)
        self.t += 1


class SGD(Optimizer):
    def __init__(self, params=(), lr=0.1, momentum=0.0, schedule=None):
        super().__init__(params, lr, schedule)
        self.momentum = momentum
        self.velocity = None

    def _update(self, theta, grad, lr):
        if self.momentum:
            self.velocity = grad.copy() if self.velocity is None else self.momentum * self.velocity + grad
            grad = self.velocity
        theta -= lr * grad


class Adam(Optimizer):
    def __init__(self, params=(), lr=0.001, betas=(0.9, 0.999), eps=1e-8, schedule=None):
        super().__init__(params, lr, schedule)
        self.b1, self.b2 = betas
        self.eps = eps
        self.m = self.v = None

    def _update(self, theta, grad, lr):
        if self.m is None:
            self.m, self.v = np.zeros_like(theta), np.zeros_like(theta)
        t = self.t + 1
        # In place, the bias corrections folded into scalars: each temporary array counts at
        # thousands of steps a second (7.1 -> 5.9 us of a ~100 us epoch of the demo network).
        self.m *= self.b1
        self.m += (1 - self.b1) * grad
        self.v *= self.b2
        self.v += (1 - self.b2) * np.square(grad)
        denominator = np.sqrt(self.v * (1 / (1 - self.b2**t)))
        denominator += self.eps
        theta -= (lr / (1 - self.b1**t)) * self.m / denominator


OPTIMIZERS = {"sgd": SGD, "adam": Adam}
