"""Bounded records of a run: rows of numbers kept within a fixed capacity however long it trains.

`Thinned` keeps every `stride`-th row appended; when it is full it drops every other row it
holds and doubles the stride. The rows it holds stay evenly spaced over all that was appended,
the first one included, and cost at most `capacity` rows of memory and of drawing: a curve of a
million epochs costs what one of a few thousand does. The latest row is always at hand
(`points()` appends it when the stride skipped it), so a curve ends where the run is.

`History` is a run's epochs (`Epoch` records) stored so. `Tape` keeps a run's weights the same
way, to rewind it: at most `TAPE_BYTES` of them. `Ghost` is a past run kept to compare with.
"""
from __future__ import annotations

import bisect
import operator
from dataclasses import dataclass

import numpy as np

CAPACITY = 4096  # rows kept; even
TAPE_BYTES = 32 * 2**20  # a run's weights and gradients kept to rewind it: 32 MiB at most
TAPE_ENTRIES = 1000      # and at most this many epochs of them (even)


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

    def append(self, row):
        """One row: `extend`'s common case (held, with room) without its array handling, as a
        run appends one row an epoch (at thousands of epochs a second)."""
        if self.count % self.stride or self.n == len(self.rows):
            return self.extend([row])
        held = self.rows[self.n]
        held[:] = row
        self.last = held.copy()
        self.n += 1
        self.count += 1

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
    _fields_of = staticmethod(operator.attrgetter(*FIELDS))

    def __init__(self, run=0, capacity=CAPACITY):
        self.run = run
        self._rows = Thinned(len(self.FIELDS), capacity)
        self._last = None  # the latest Epoch itself (its stop reason is kept only there)

    def append(self, epoch):
        self._rows.append([np.nan if v is None else v for v in self._fields_of(epoch)])
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

    def rows(self):
        """The epochs held as an array, a copy: one row per epoch, columns `FIELDS`."""
        return self._rows.points().copy()


class Tape:
    """A run's parameters and gradients at evenly spaced epochs, from the epoch it starts at:
    every `stride`-th epoch, the stride doubling (every other entry dropped) when full. At most
    `capacity` entries: TAPE_ENTRIES, fewer for a big network (TAPE_BYTES in all)."""

    def __init__(self, size, start=0):
        fit = TAPE_BYTES // (16 * max(size, 1))  # a parameter and its gradient: 16 bytes
        self.capacity = max(2, min(TAPE_ENTRIES, fit - fit % 2))
        self.start, self.stride = start, 1
        self.entries = []  # (epoch, theta, grad, Epoch record or None at the start)

    def record(self, epoch, theta, grad, record=None):
        """Keep (copies of) the parameters after `epoch` if it falls on the stride."""
        if (epoch - self.start) % self.stride:
            return
        if len(self.entries) == self.capacity:
            self.stride *= 2
            self.entries = [e for e in self.entries if (e[0] - self.start) % self.stride == 0]
            if (epoch - self.start) % self.stride:
                return
        self.entries.append((epoch, theta.copy(), grad.copy(), record))

    def epochs(self):
        return [e[0] for e in self.entries]

    def at(self, epoch):
        """The entry of the latest epoch kept at or before `epoch` (the first one if none is)."""
        return self.entries[max(bisect.bisect_right(self.epochs(), epoch) - 1, 0)]

    @property
    def nbytes(self):
        return sum(e[1].nbytes + e[2].nbytes for e in self.entries)


@dataclass(frozen=True)
class Ghost:
    """A run kept to compare with (pinned, or the run a branch left): its curves (`History.rows`
    columns), its settings and its last epoch."""

    label: str
    rows: np.ndarray
    config: dict  # Config.to_dict() of the run
    last: Epoch
