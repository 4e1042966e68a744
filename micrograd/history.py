"""Bounded records of a run: rows of numbers kept within a fixed capacity however long it trains.

`Thinned` keeps every `stride`-th row appended; when it is full it drops every other row it
holds and doubles the stride. The rows it holds stay evenly spaced over all that was appended,
the first one included, and cost at most `capacity` rows of memory and of drawing: a curve of a
million epochs costs what one of a few thousand does. The latest row is always at hand
(`points()` appends it when the stride skipped it), so a curve ends where the run is.

`History` is a run's epochs (`Epoch` records) stored so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CAPACITY = 4096  # rows kept; even


@dataclass(frozen=True)
class Epoch:
    """What one epoch of a run measured: with full batches, at the parameters the epoch started
    from; with mini-batches, the train loss and metric gather each batch's as the parameters move."""

    run: int
    epoch: int  # 1-based: the number of epochs done
    train_loss: float
    test_loss: float | None
    train_metric: float  # accuracy (classification) or R^2 (regression)
    test_metric: float | None
    lr: float
    elapsed: float  # seconds spent training in this run, pauses excluded
    stop: str | None = None  # why the run ended, on its last epoch


class Thinned:
    """Rows of `width` floats, at most `capacity` of them, evenly thinned (see the module)."""

    def __init__(self, width, capacity=CAPACITY):
        if capacity < 2 or capacity % 2:
            raise ValueError(f"capacity must be an even number >= 2, got {capacity}")
        self.rows = np.empty((capacity, width))
        self.n = 0          # rows held
        self.count = 0      # rows appended
        self.stride = 1     # appended row i is held when i % stride == 0
        self.last = None    # the latest row appended (a copy), held or not

    def clear(self):
        self.n = self.count = 0
        self.stride = 1
        self.last = None

    def extend(self, rows):
        rows = np.asarray(rows, dtype=float).reshape(-1, self.rows.shape[1])
        if not len(rows):
            return
        self.last = rows[-1].copy()
        while len(rows):
            first = -self.count % self.stride  # the first of `rows` whose index is held
            take = rows[first::self.stride]
            room = len(self.rows) - self.n
            if len(take) <= room:
                self.rows[self.n:self.n + len(take)] = take
                self.n += len(take)
                self.count += len(rows)
                return
            # Fill up, thin, and go on with what is left.
            self.rows[self.n:] = take[:room]
            used = first + room * self.stride  # rows consumed by the fill
            self.n = len(self.rows)
            self.count += used
            rows = rows[used:]
            half = len(self.rows) // 2
            self.rows[:half] = self.rows[::2]
            self.n = half
            self.stride *= 2

    def replace_last(self, row):
        """Amend the latest row (it was measured again: the same epoch, redrawn)."""
        self.last = np.asarray(row, dtype=float).copy()
        if (self.count - 1) % self.stride == 0:
            self.rows[self.n - 1] = self.last

    def held(self):
        """The rows held (a view, not a copy)."""
        return self.rows[:self.n]

    def points(self):
        """The rows held, and the latest row after them when the stride skipped it."""
        if self.last is None or (self.count - 1) % self.stride == 0:
            return self.held()
        return np.vstack([self.held(), self.last])


class History:
    """A run's `Epoch`s, thinned within `capacity` rows. Reads like a list of Epochs (`len`,
    iteration, indexing, `[-1]` the latest epoch even if thinned away)."""

    FIELDS = ("epoch", "train_loss", "test_loss", "train_metric", "test_metric", "lr", "elapsed")

    def __init__(self, run=0, capacity=CAPACITY):
        self.run = run
        self._rows = Thinned(len(self.FIELDS), capacity)
        self._last = None  # the latest Epoch itself (its stop reason is kept only there)

    def append(self, epoch):
        self._rows.extend([[np.nan if getattr(epoch, f) is None else getattr(epoch, f) for f in self.FIELDS]])
        self._last = epoch

    def replace_last(self, epoch):
        """The latest epoch, amended (e.g. marked as stopped)."""
        self._last = epoch

    @property
    def count(self):
        """Epochs appended (not only those held)."""
        return self._rows.count

    def __len__(self):
        return len(self._rows.points())

    def __bool__(self):
        return self._last is not None

    def __iter__(self):
        return iter(self[i] for i in range(len(self)))

    def __getitem__(self, i):
        rows = self._rows.points()
        if isinstance(i, slice):
            return [self[j] for j in range(len(rows))[i]]
        i = range(len(rows))[i]  # IndexError, negative indices
        if i == len(rows) - 1:
            return self._last
        values = [None if np.isnan(v) else float(v) for v in rows[i]]
        values[0] = int(values[0])
        return Epoch(self.run, *values)
