"""Small data sets for training scalar networks: built-in 2-D toys and CSV files.

Everything here is plain numpy and deterministic given a seed, so a model file
can record `Dataset.source` and rebuild exactly the same points later.
"""
from __future__ import annotations

import csv
import dataclasses
import errno
import io
import itertools
import math
import numbers
import os
import re
import stat
from dataclasses import dataclass, field

import numpy as np

from .whole import write_whole

CLASSIFICATION = ("moons", "circles", "xor", "gaussian", "spiral")
REGRESSION = ("plane", "sine", "bumps")
DATASETS = CLASSIFICATION + REGRESSION
CUSTOM = "custom"  # points placed by hand (the window's decision plot): DataSpec.points
MAX_POINTS = 10_000  # of a custom set: it lives in the settings and the model file

MAX_SAMPLES = 100_000      # built-in sets: bigger is pointless for a scalar engine
MAX_CSV_BYTES = 50 * 1024 * 1024
MAX_ROWS = 1_000_000
MAX_FEATURES = 64
MAX_ROW_BYTES = 1024 * 1024  # one row, quoted line breaks included: bounds what csv holds at once
MAX_TEXT_CLASSES = 100     # distinct text labels tracked; more is refused anyway (binary only)
SEPARATORS = ("\t", ";", ",")  # the first of these in a file's first line separates its columns


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


# TensorFlow Playground's multi-gaussian (dataset.ts, regressGaussian) scaled from its [-6, 6]
# square to ours: six bumps in two rows of three, signs alternating like a checkerboard.
BUMPS = [(-4 / 3, 5 / 6, 1.0), (0.0, 5 / 6, -1.0), (4 / 3, 5 / 6, 1.0),
         (-4 / 3, -5 / 6, -1.0), (0.0, -5 / 6, 1.0), (4 / 3, -5 / 6, -1.0)]  # (centre x1, x2, sign)
BUMP_HEIGHT = 2.0
BUMP_WIDTH = 0.5  # the standard deviation of each bump


def _bumps(rng, n):
    """y = the sum of six gaussian bumps of height +-2 and standard deviation 0.5 (BUMPS), on
    the square [-2, 2]^2. Playground's are cones of height 1 and it keeps the one largest in
    magnitude; gaussians summed give a smooth surface. The height 2 leaves room for noise: bumps
    of height 1 vary so little over the square (variance 0.21) that the default noise of 0.1
    alone would cap R^2 at 0.95 (at 2: 0.99)."""
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    centres, signs = np.array([c[:2] for c in BUMPS]), np.array([c[2] for c in BUMPS])
    d2 = ((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return X, BUMP_HEIGHT * (signs * np.exp(-d2 / (2 * BUMP_WIDTH ** 2))).sum(axis=1)


_MAKERS = {"moons": _moons, "circles": _circles, "xor": _xor, "gaussian": _gaussian,
           "spiral": _spiral, "plane": _plane, "sine": _sine, "bumps": _bumps}


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


def custom_dataset(points, task, inputs=2):
    """(dataset, train, test) of points placed by hand: rows [x1, x2, y, test] (with one input,
    [x, y, test]), `test` 1 for a held-out point. Each point keeps its side of the split: a
    point added later does not reshuffle the others."""
    rows = np.asarray(points, dtype=np.float64).reshape(len(points), inputs + 2)
    X, y, held = rows[:, :inputs], rows[:, inputs], rows[:, inputs + 1] > 0.5
    features = [f"x{i + 1}" for i in range(inputs)]
    source = {"dataset": CUSTOM, "points": rows.tolist(), "task": task, "inputs": inputs}
    classes = ["0", "1"] if task == "classification" else []
    ds = Dataset(X, y, task, features, "y", source, classes)
    part = lambda keep: Dataset(X[keep], y[keep], task, list(features), "y", dict(source), list(classes))  # noqa: E731
    return ds, part(~held), part(held)


def points_of(train, test):
    """The rows of a custom set ([inputs..., y, test]) holding the points of a train/test split."""
    rows = [np.column_stack([part.X, part.y, np.full(len(part), flag)]) for part, flag in ((train, 0.0), (test, 1.0))
            if part is not None and len(part)]
    return np.vstack(rows).tolist() if rows else []


def add_point(points, inputs, y, test_ratio):
    """`points` with one more: held out for testing when that keeps the share of test points
    nearest `test_ratio`, so a set placed by hand is split like a drawn one."""
    held = sum(r[-1] > 0.5 for r in points)
    test = held < round((len(points) + 1) * test_ratio)
    return [*points, [*map(float, inputs), float(y), float(test)]]


def remove_points(points, low, high):
    """`points` without those that lie in the box from `low` to `high` where the decision plot
    draws them: (x1, x2) with two inputs, (x, target) with one."""
    return [r for r in points if not (low[0] <= r[0] <= high[0] and low[1] <= r[1] <= high[1])]


def save_csv(path, ds):
    """Write `ds` as a CSV file `load_csv` reads back: a header (the features, then the label)
    and one row per point, numbers in full precision (a class as 0 or 1)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([*ds.features, ds.label])
    for x, t in zip(ds.X.tolist(), ds.y.tolist()):
        w.writerow([*map(repr, x), repr(t) if ds.task == "regression" else int(t > 0.5)])
    write_whole(path, out.getvalue())


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


# --- files -------------------------------------------------------------------

def open_file(path, max_bytes, what, error):
    """Open `path` for binary reading after the checks that need no reading: a regular file (not
    a directory, a device or a pipe, whose size says nothing and whose reading may never end) of
    at most `max_bytes`. Every problem, an OSError included, is raised as `error` naming the path."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        broken = os.path.islink(path)
        raise error(f"{path}: {'broken symbolic link (its target does not exist)' if broken else 'file not found'}") \
            from None
    except OSError as e:
        raise error(f"{path}: {_os_problem(e)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{path}: is a directory, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{path}: not a regular file")
    if st.st_size > max_bytes:
        raise error(f"{path}: file is {st.st_size / 2**20:.1f} MB ({st.st_size:,} bytes); "
                    f"a {what} is at most {max_bytes // 2**20} MB")
    try:
        return open(path, "rb")
    except OSError as e:
        raise error(f"{path}: {_os_problem(e)}") from None


def _os_problem(e):
    if e.errno == errno.ELOOP:
        return "symbolic link loop (the link leads back to itself)"
    return f"cannot read: {e.strerror or e}"


# --- CSV ---------------------------------------------------------------------

def _number(cell):
    """The value of a cell in ASCII decimal notation ('-1.5', '2e3', 'inf', 'nan'), else None.
    float() alone also reads '١٢', '１２' and '1_000', which no CSV or JSON tool writes: a column
    of them is text that looks like numbers."""
    if not cell.isascii() or "_" in cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _shown(cell):
    return repr(cell) if len(cell) <= 40 else repr(cell[:40]) + "..."


def _why_not(cell):
    """Why a cell that looks like a number is not read as one."""
    if re.fullmatch(r"[+-]?[0-9]+,[0-9]+", cell):
        return " (write decimals with a point: 1.5, not 1,5)"
    try:
        float(cell)
    except ValueError:
        return ""
    return " (numbers are read in ASCII decimal notation only: digits 0-9, no '_')"


def _finite_row(path, line, cells, names):
    """The cells as floats, or DataError naming the line and the column (from `names`) of the first
    cell that is not a finite number in ASCII decimal notation."""
    try:
        values = [float(c) for c in cells]
    except ValueError:
        values = None
    text = "".join(cells)
    # one sum is finite only if every value is; rarely finite values overflow it, then the scan finds nothing
    if values is None or not math.isfinite(sum(values)) or not text.isascii() or "_" in text:
        for c, name in zip(cells, names):
            v = _number(c)
            if v is None:
                raise DataError(f"{path}: line {line}, column {name!r}: {_shown(c)} is not a number{_why_not(c)}")
            if not math.isfinite(v):
                raise DataError(f"{path}: line {line}, column {name!r}: {_shown(c)} is not a finite number")
    return values


class _Growing:
    """A numpy array filled one row at a time, made room for up front and grown by half when
    full: 8 bytes a number, where a list of Python floats costs 32 and a list of strings more.
    Room never filled costs no memory (the pages are never touched) and is given back."""

    def __init__(self, room, shape=(), dtype=np.float64):
        self.a = np.empty((max(room, 16), *shape), dtype)
        self.n = 0

    def append(self, row):
        if self.n == len(self.a):
            self.a.resize((self.n + self.n // 2, *self.a.shape[1:]), refcheck=False)
        self.a[self.n] = row
        self.n += 1

    def array(self):
        self.a.resize((self.n, *self.a.shape[1:]), refcheck=False)
        return self.a


def _room(path, cells):
    """Rows to make room for: the file's size over the length of one row (the rows of a data
    file are much alike); a little if the file cannot be measured any more."""
    try:
        return min(os.path.getsize(path) // (sum(map(len, cells)) + len(cells)) + 1, MAX_ROWS + 1)
    except OSError:
        return 1024


class _Lines:
    """A CSV file's text line by line, for csv.reader: each line decoded on its own (a bad byte
    is reported with its line), bare CR line ends split as csv expects, a row (quoted line breaks
    included) held to MAX_ROW_BYTES, the file to MAX_CSV_BYTES even if it grows while read.
    `row` keeps the lines of the row being read, to find where an unclosed quote opened."""

    def __init__(self, f, path):
        self.f, self.path = f, path
        self.line = 0          # lines handed out
        self.read = 0          # bytes read
        self.row, self.row_bytes = [], 0
        self.pending = []      # the rest of a line split at bare CRs, last piece first

    def new_row(self):
        self.row, self.row_bytes = [], 0

    def __iter__(self):
        return self

    def __next__(self):
        if not self.pending:
            raw = self.f.readline(MAX_ROW_BYTES + 1)
            if not raw:
                raise StopIteration
            self.read += len(raw)
            if self.read > MAX_CSV_BYTES:
                raise DataError(f"{self.path}: file is over the {MAX_CSV_BYTES // 2**20} MB limit")
            if self.line == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            pieces = re.split(rb"(?<=\r)(?!\n)", raw) if b"\r" in raw[:-2] else [raw]
            self.pending = [piece for piece in reversed(pieces) if piece]
        raw = self.pending.pop()
        self.line += 1
        self.row_bytes += len(raw)
        if self.row_bytes > MAX_ROW_BYTES:
            start = self.line - len(self.row)
            opened = _unclosed_quote(self.row, start)
            raise DataError(f"{self.path}: line {opened}: the quote opened here is not closed within 1 MB"
                            if opened else f"{self.path}: line {start}: the row is longer than 1 MB")
        if b"\0" in raw:
            raise DataError(f"{self.path}: line {self.line}: holds a NUL byte (a binary file, not CSV text?)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{self.path}: line {self.line}: not UTF-8 text") from None
        self.row.append(text)
        return text


def _unclosed_quote(lines, start):
    """The line (numbered from `start`) where a quote that is still open at the end of `lines`
    opened, or None: each line with an odd number of quotes opens or closes one."""
    opened = None
    for i, text in enumerate(lines):
        if text.count('"') % 2:
            opened = start + i if opened is None else None
    return opened


def _separator(f):
    """The first of tab, ';' and ',' that occurs outside quotes in the first non-blank line; ','
    when none does. Not the most frequent: in '1,5;2,5;1,0' (decimal commas, as spreadsheets
    write them where ';' separates) the commas outnumber the separators. Leaves `f` where it was."""
    at = f.tell()
    line = b""
    while not line.strip():
        line = f.readline(MAX_ROW_BYTES + 1)
        if not line:
            break
    f.seek(at)
    outside = "".join(line.decode("utf-8", "replace").split('"')[::2])
    return next((sep for sep in SEPARATORS if sep in outside), ",")


def records(path):
    """(line, cells) for each non-blank row of a CSV file, cells stripped of spaces, one row at a
    time: the file is never held in memory. Comma-, semicolon- or tab-separated (see _separator);
    a problem is a DataError naming the file and the line."""
    f = open_file(path, MAX_CSV_BYTES, "CSV file", DataError)
    with f:
        lines = _Lines(f, path)
        reader = csv.reader(lines, delimiter=_separator(f), strict=True)
        while True:
            start = lines.line + 1
            lines.new_row()
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                opened = _unclosed_quote(lines.row, start)
                if "field larger than field limit" in str(e):
                    raise DataError(f"{path}: line {opened}: the quote opened here is not closed within "
                                    f"{csv.field_size_limit():,} characters" if opened else
                                    f"{path}: line {lines.line}: a cell is longer than "
                                    f"{csv.field_size_limit():,} characters") from None
                if opened:
                    raise DataError(f"{path}: line {opened}: the quote opened here is never closed") from None
                raise DataError(f"{path}: line {lines.line}: {e}") from None
            if row and (len(row) > 1 or row[0].strip()):
                yield start, [c.strip() for c in row]


def _first_record(path):
    """(the file's records, its first (line, cells)); DataError for a file with none."""
    rows = records(path)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: file is empty")
    return rows, first


def _header_names(path, line, cells, skip):
    """The column names of a header row (after `skip` unnamed index columns): each named, none twice."""
    names = cells[skip:]
    seen = set()
    for i, c in enumerate(names):
        if not c:
            raise DataError(f"{path}: line {line}: header column {i + skip + 1} has no name")
        if c in seen:
            raise DataError(f"{path}: line {line}: column name {_shown(c)} appears twice")
        seen.add(c)
    return names


def load_csv(path, label: str | None = None) -> Dataset:
    """Load numeric features plus one label column (default: the last one).

    A first row with no numeric cell is a header (so text labels work without
    one); otherwise columns are named x1..xk and y. A header whose first cell is
    empty marks a row index (as pandas' to_csv and R's write.csv write it): that
    column is dropped. A label with two distinct values is binary classification
    (0/1 in sorted order); more than two numeric values is regression. Anything
    else is refused with a DataError naming the line and column. The file is
    read one row at a time into float arrays (limits: docs/model-format.md).
    """
    path = os.fspath(path)
    rows, first = _first_record(path)
    head_line, head = first
    header = not any(_number(c) is not None for c in head)
    skip = int(header and len(head) > 1 and head[0] == "")  # the row index pandas and R write, unnamed
    width = len(head)
    if width - skip < 2:
        raise DataError(f"{path}: need at least 2 columns (features and a label), found {width - skip} "
                        "(columns are separated by commas, semicolons or tabs)")
    if width - skip - 1 > MAX_FEATURES:
        raise DataError(f"{path}: {width - skip - 1} feature columns; the limit is {MAX_FEATURES}")
    if header:
        names = _header_names(path, head_line, head, skip)
        first = next(rows, None)
        if first is None:
            raise DataError(f"{path}: no data rows after the header")
    else:
        names = [f"x{i + 1}" for i in range(width - 1)] + ["y"]
    if label is None:
        label = names[-1]
    if label not in names:
        raise DataError(f"{path}: label column {label!r} not found; "
                        f"available columns: {', '.join(names)}")
    li = names.index(label)
    features = [c for c in names if c != label]
    fcols = [skip + i for i in range(len(names)) if i != li]

    room = _room(path, first[1])
    X, y, codes = _Growing(room, (len(fcols),)), _Growing(room), _Growing(room, dtype=np.int32)
    texts = {}           # distinct label texts (the first MAX_TEXT_CLASSES) -> code
    numeric = True       # every label so far is a number
    non_finite = None    # (line, cell) of the first non-finite numeric label
    for line, row in itertools.chain([first], rows):
        if len(row) != width:
            raise DataError(f"{path}: line {line} has {len(row)} cells, expected {width}")
        if X.n == MAX_ROWS:
            raise DataError(f"{path}: more than {MAX_ROWS:,} rows")
        X.append(_finite_row(path, line, [row[i] for i in fcols], features))
        cell = row[skip + li]
        if not cell:
            raise DataError(f"{path}: line {line}, column {label!r}: empty label")
        code = texts.get(cell)
        if code is None and len(texts) < MAX_TEXT_CLASSES:
            code = texts[cell] = len(texts)
        codes.append(-1 if code is None else code)
        if numeric:
            v = _number(cell)
            if v is None:
                numeric = False
            else:
                y.append(v)
                if non_finite is None and not math.isfinite(v):
                    non_finite = (line, cell)
    X = X.array()
    source = {"csv": os.path.abspath(path), "label": label, "columns": list(names)}
    if numeric:
        if non_finite:
            raise DataError(f"{path}: line {non_finite[0]}, column {label!r}: {_shown(non_finite[1])} "
                            "is not a finite number")
        values = y.array()
        distinct = np.unique(values).tolist()
        count = len(distinct)
    else:
        distinct = sorted(texts)
        count = len(texts) if len(texts) < MAX_TEXT_CLASSES else f"more than {MAX_TEXT_CLASSES - 1}"
    if count == 1:
        raise DataError(f"{path}: column {label!r}: only one class ({_shown(next(iter(texts)))}); "
                        "classification needs two")
    if count == 2:
        if numeric:  # each class is named as the file first writes it
            classes = [next((t for t in texts if _number(t) == v), f"{v:g}") for v in distinct]
            y = (values == distinct[1]).astype(np.float64)
        else:
            classes = distinct
            y = (codes.array() == texts[distinct[1]]).astype(np.float64)
        return Dataset(X, y, "classification", features, label, source, classes)
    if not numeric:
        shown = ", ".join(map(_shown, distinct[:5])) + (", ..." if len(distinct) > 5 else "")
        raise DataError(f"{path}: column {label!r} has {count} text classes ({shown}); "
                        "only binary classification or a numeric (regression) label is supported")
    return Dataset(X, values, "regression", features, label, source)


def read_inputs(path, features):
    """A model's inputs from a CSV file: (X shaped (rows, len(features)), each row's line).

    A first row with no numeric cell is a header, which picks the `features` by name (other
    columns are ignored); without one the first len(features) columns are the inputs, in order.
    """
    path = os.fspath(path)
    rows, first = _first_record(path)
    head_line, head = first
    if not any(_number(c) is not None for c in head):
        where = {}
        for i, c in enumerate(head):
            where.setdefault(c, i)
        missing = next((f for f in features if f not in where), None)
        if missing is not None:
            raise DataError(f"{path}: line {head_line}: no column {missing!r}; "
                            f"the model's inputs are {', '.join(features)}")
        cols = [where[f] for f in features]
    else:
        cols = list(range(len(features)))
        rows = itertools.chain([first], rows)
    room = _room(path, head)
    X, lines = _Growing(room, (len(cols),)), _Growing(room, dtype=np.int64)
    for line, row in rows:
        if len(row) <= max(cols):
            raise DataError(f"{path}: line {line} has {len(row)} cells; the model takes {len(features)} inputs")
        if lines.n == MAX_ROWS:
            raise DataError(f"{path}: more than {MAX_ROWS:,} rows")
        X.append(_finite_row(path, line, [row[i] for i in cols], features))
        lines.append(line)
    return X.array(), lines.array()
