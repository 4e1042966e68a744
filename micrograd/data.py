"""Small data sets for training scalar networks: built-in 2-D toys and CSV files.

Everything here is plain numpy and deterministic given a seed, so a model file
can record `Dataset.source` and rebuild exactly the same points later.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import numbers
import os
from dataclasses import dataclass, field

import numpy as np

CLASSIFICATION = ("moons", "circles", "xor", "gaussian", "spiral")
REGRESSION = ("plane", "sine")
DATASETS = CLASSIFICATION + REGRESSION

MAX_SAMPLES = 100_000      # built-in sets: bigger is pointless for a scalar engine
MAX_CSV_BYTES = 50 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_FEATURES = 64


class DataError(ValueError):
    """A data file was refused; the message says where (line and/or column) and why."""


@dataclass
class Dataset:
    """Inputs `X` (n, d) and targets `y` (n,), both float64.

    Classification targets are 0.0/1.0 and `classes[i]` is the original name of
    class i; `source` is a JSON-able recipe for rebuilding the data.
    """
    X: np.ndarray
    y: np.ndarray
    task: str
    features: list[str]
    label: str
    source: dict
    classes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.X = np.asarray(self.X, dtype=np.float64)
        self.y = np.asarray(self.y, dtype=np.float64)
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression', not {self.task!r}")
        if self.X.ndim != 2 or self.y.shape != (len(self.X),) or self.X.shape[1] != len(self.features):
            raise ValueError(f"shape mismatch: X {self.X.shape}, y {self.y.shape}, "
                             f"{len(self.features)} feature names")

    def __len__(self):
        return len(self.y)

    def signed_labels(self) -> np.ndarray:
        """Labels as -1/+1, the form hinge (max-margin) loss expects."""
        if self.task != "classification":
            raise ValueError("signed labels only exist for classification data")
        return 2.0 * self.y - 1.0


# --- built-in sets -----------------------------------------------------------
# Each generator returns clean points; make_dataset adds the noise, to X for
# classification and to y for regression, so noise=0 gives exact shapes.

def _moons(rng, n):
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                        np.stack([1.0 - np.cos(t_in), 1.0 - np.sin(t_in) - 0.5], axis=1)])
    return X, np.concatenate([np.zeros(n_out), np.ones(n_in)])


def _circles(rng, n):
    """Outer ring radius 1 (class 0) around inner ring radius 0.5 (class 1)."""
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2 * np.pi, n_in, endpoint=False)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], axis=1),
                        0.5 * np.stack([np.cos(t_in), np.sin(t_in)], axis=1)])
    return X, np.concatenate([np.zeros(n_out), np.ones(n_in)])


def _xor(rng, n):
    """Class 1 where both coordinates share a sign; kept 0.1 off the axes."""
    y = (np.arange(n) >= n // 2).astype(np.float64)
    mag = rng.uniform(0.1, 1.5, size=(n, 2))
    s = rng.choice([-1.0, 1.0], size=n)
    sign = np.stack([s, np.where(y == 1.0, s, -s)], axis=1)
    return mag * sign, y


def _gaussian(rng, n):
    """Two round blobs (std 0.4) centred at (-1, -1) and (1, 1)."""
    y = (np.arange(n) >= n // 2).astype(np.float64)
    centres = np.where(y[:, None] == 1.0, 1.0, -1.0)
    return centres + rng.normal(0.0, 0.4, size=(n, 2)), y


def _spiral(rng, n):
    """Two arms, each 1.5 turns, radius 0.2 -> 1.8, the second rotated by pi."""
    parts, labels = [], []
    for k, m in enumerate((n // 2, n - n // 2)):
        t = np.linspace(0.0, 1.0, m)
        r, a = 0.2 + 1.6 * t, 3 * np.pi * t + k * np.pi
        parts.append(np.stack([r * np.cos(a), r * np.sin(a)], axis=1))
        labels.append(np.full(m, float(k)))
    return np.concatenate(parts), np.concatenate(labels)


def _plane(rng, n):
    """y = 0.6 x1 - 0.4 x2 + 0.5 on the square [-2, 2]^2."""
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    return X, 0.6 * X[:, 0] - 0.4 * X[:, 1] + 0.5


def _sine(rng, n):
    """y = sin(x), x sorted in [-pi, pi] so the curve plots as a line."""
    x = np.sort(rng.uniform(-np.pi, np.pi, size=n))
    return x[:, None], np.sin(x)


_MAKERS = {"moons": _moons, "circles": _circles, "xor": _xor, "gaussian": _gaussian,
           "spiral": _spiral, "plane": _plane, "sine": _sine}


def make_dataset(name: str, samples: int = 100, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Build a named toy set; the same arguments always give the same points."""
    if name not in _MAKERS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if not isinstance(samples, numbers.Integral) or isinstance(samples, bool) \
            or not 2 <= samples <= MAX_SAMPLES:
        raise ValueError(f"samples must be an integer from 2 to {MAX_SAMPLES}, not {samples!r}")
    if not isinstance(noise, numbers.Real) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, not {noise!r}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, not {seed!r}")
    samples, noise, seed = int(samples), float(noise), int(seed)
    rng = np.random.default_rng(seed)
    X, y = _MAKERS[name](rng, samples)
    if name in CLASSIFICATION:
        X = X + rng.normal(0.0, noise, size=X.shape)
        task, classes = "classification", ["0", "1"]
    else:
        y = y + rng.normal(0.0, noise, size=y.shape)
        task, classes = "regression", []
    return Dataset(X, y, task, [f"x{i + 1}" for i in range(X.shape[1])], "y",
                   {"dataset": name, "samples": samples, "noise": noise, "seed": seed}, classes)


# --- train/test split --------------------------------------------------------

def _quotas(counts, n_test):
    """Test samples per class: proportional, but each class keeps one in train."""
    n = sum(counts)
    room = [max(c - 1, 0) for c in counts]
    q = [min(n_test * c // n, r) for c, r in zip(counts, room)]
    while sum(q) < n_test:
        open_ = [i for i in range(len(q)) if q[i] < room[i]]
        if not open_:
            break
        q[max(open_, key=lambda i: n_test * counts[i] / n - q[i])] += 1
    return q


def split(ds: Dataset, test_ratio: float = 0.2, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Seeded shuffle, then (train, test) with round(n * test_ratio) test samples.

    Train always keeps at least one sample; classification is stratified and keeps
    every class in train, which may leave the test set one sample short.
    """
    if not isinstance(test_ratio, numbers.Real) or not 0.0 <= test_ratio <= 0.9:
        raise ValueError(f"test_ratio must be between 0 and 0.9, not {test_ratio!r}")
    n = len(ds)
    if n == 0:
        raise ValueError("cannot split an empty dataset")
    order = np.random.default_rng(seed).permutation(n)
    n_test = min(round(n * test_ratio), n - 1)
    take = np.zeros(n, dtype=bool)
    if ds.task == "classification":
        ys = ds.y[order]
        values = np.unique(ys)
        for v, q in zip(values, _quotas([int((ys == v).sum()) for v in values], n_test)):
            take[np.flatnonzero(ys == v)[:q]] = True
    else:
        take[:n_test] = True

    def part(idx):
        return dataclasses.replace(ds, X=ds.X[idx], y=ds.y[idx], features=list(ds.features),
                                   source=dict(ds.source), classes=list(ds.classes))
    return part(order[~take]), part(order[take])


# --- CSV ---------------------------------------------------------------------

def _is_number(cell):
    try:
        float(cell)
    except ValueError:
        return False
    return True


def read_rows(path):
    """Non-blank rows (cells stripped) with their line numbers, after size checks."""
    if not os.path.exists(path):
        raise DataError(f"{path}: file not found")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a CSV file")
    if not os.path.isfile(path):  # a device or a pipe: its size says nothing, reading may never end
        raise DataError(f"{path}: not a regular file")
    size = os.path.getsize(path)
    too_big = f"{path}: file is over the {MAX_CSV_BYTES // 2**20} MB limit"
    if size > MAX_CSV_BYTES:
        raise DataError(too_big)
    with open(path, "rb") as f:
        raw = f.read(MAX_CSV_BYTES + 1)  # the file may have grown since the size check
    if len(raw) > MAX_CSV_BYTES:
        raise DataError(too_big)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path}: line {line}: not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, lines = [], []
    try:
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            rows.append([c.strip() for c in row])
            lines.append(reader.line_num)
            if len(rows) > MAX_ROWS + 1:  # stop early; + 1 for a possible header
                raise DataError(f"{path}: more than {MAX_ROWS:,} rows")
    except csv.Error as e:
        raise DataError(f"{path}: line {reader.line_num}: {e}") from None
    return rows, lines


def _first_bad(path, rows, lines, col, name):
    """Message for the first non-numeric or non-finite cell of column `col`."""
    for row, line in zip(rows, lines):
        cell = row[col]
        if not _is_number(cell):
            return f"{path}: line {line}, column {name!r}: {cell!r} is not a number"
        if not math.isfinite(float(cell)):
            return f"{path}: line {line}, column {name!r}: {cell!r} is not a finite number"
    return None


def load_csv(path, label: str | None = None) -> Dataset:
    """Load numeric features plus one label column (default: the last one).

    A first row with no numeric cell is a header (so text labels work without
    one); otherwise columns are named x1..xk and y. A label with two distinct
    values is binary classification (0/1 in sorted order); more than two numeric
    values is regression. Anything else is refused with a DataError.
    """
    path = os.fspath(path)
    rows, lines = read_rows(path)
    if not rows:
        raise DataError(f"{path}: file is empty")
    width = len(rows[0])
    if not any(_is_number(c) for c in rows[0]):
        names, head_line, rows, lines = rows[0], lines[0], rows[1:], lines[1:]
        for i, c in enumerate(names):
            if not c:
                raise DataError(f"{path}: line {head_line}: header column {i + 1} has no name")
        dup = next((c for i, c in enumerate(names) if c in names[:i]), None)
        if dup is not None:
            raise DataError(f"{path}: line {head_line}: column name {dup!r} appears twice")
        if not rows:
            raise DataError(f"{path}: no data rows after the header")
    else:
        names = [f"x{i + 1}" for i in range(width - 1)] + ["y"]
    if len(rows) > MAX_ROWS:
        raise DataError(f"{path}: more than {MAX_ROWS:,} rows")
    if width < 2:
        raise DataError(f"{path}: need at least 2 columns (features and a label), found {width}")
    if width - 1 > MAX_FEATURES:
        raise DataError(f"{path}: {width - 1} feature columns; the limit is {MAX_FEATURES}")
    for row, line in zip(rows, lines):
        if len(row) != width:
            raise DataError(f"{path}: line {line} has {len(row)} cells, expected {width}")
    if label is None:
        label = names[-1]
    if label not in names:
        raise DataError(f"{path}: label column {label!r} not found; "
                        f"available columns: {', '.join(names)}")
    li = names.index(label)
    fi = [i for i in range(width) if i != li]
    try:  # fast path; on failure rescan to name the first bad cell
        X = np.array([[float(r[i]) for i in fi] for r in rows]).reshape(len(rows), len(fi))
    except ValueError:
        X = None
    if X is None or not np.isfinite(X).all():
        raise DataError(next(m for i in fi if (m := _first_bad(path, rows, lines, i, names[i]))))

    labels = [r[li] for r in rows]
    for line, cell in zip(lines, labels):
        if not cell:
            raise DataError(f"{path}: line {line}, column {label!r}: empty label")
    numeric = all(_is_number(c) for c in labels)
    if numeric and (m := _first_bad(path, rows, lines, li, label)):
        raise DataError(m)
    values = [float(c) for c in labels] if numeric else labels
    distinct = sorted(set(values))
    source = {"csv": os.path.abspath(path), "label": label, "columns": list(names)}
    features = [names[i] for i in fi]
    if len(distinct) == 1:
        raise DataError(f"{path}: column {label!r}: only one class ({labels[0]!r}); "
                        "classification needs two")
    if len(distinct) == 2:
        classes = [labels[values.index(v)] for v in distinct]
        y = [float(v == distinct[1]) for v in values]
        return Dataset(X, y, "classification", features, label, source, classes)
    if not numeric:
        shown = ", ".join(map(repr, distinct[:5])) + (", ..." if len(distinct) > 5 else "")
        raise DataError(f"{path}: column {label!r} has {len(distinct)} text classes ({shown}); "
                        "only binary classification or a numeric (regression) label is supported")
    return Dataset(X, values, "regression", features, label, source)
