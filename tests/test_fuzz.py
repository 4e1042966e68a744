"""Fuzzing the two loaders of untrusted files: model files and CSV data.

Whatever the bytes, a loader either refuses them with its own error (ModelFileError or DataError:
one line naming the file and the field or the line), or accepts them, and then what it accepted
works: `micrograd info` and `micrograd predict` (the command functions, in this process, so any
other exception fails the test) run on it. The cost of a load is linear in the file: counted as
lines of micrograd code run, which no machine load can change (see `work`).

Derandomized, so CI sees the same examples every run; FUZZ_EXAMPLES=5000 ./check tests/test_fuzz.py
explores fresh random ones.
"""
import io
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from micrograd import modelfile
from micrograd.cli import build_parser, commands
from micrograd.config import Config
from micrograd.data import DataError, load_csv
from micrograd.modelfile import ModelFileError

MICROGRAD = str(Path(modelfile.__file__).resolve().parents[1])
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=EXAMPLES or 120, deadline=None, derandomize=not EXAMPLES,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TRACED = settings(FUZZ, max_examples=EXAMPLES or 40)  # two loads an example, traced line by line


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def run(*argv):
    """A command run in process: its exit status and output (an exception fails the test)."""
    a = build_parser().parse_args([str(v) for v in argv])
    out, err = io.StringIO(), io.StringIO()
    status = getattr(commands, a.command)(a, out, err)
    out.getvalue().encode("utf-8")  # printable: no lone surrogate reached the output
    err.getvalue().encode("utf-8")
    return status


def work(load, *args):
    """Lines of micrograd code run by load(*args), refused or not: a measure of cost that does
    not depend on the machine or its load (C code, such as the JSON parser, is not counted; the
    loaders' C calls are set and dict lookups, see test_modelfile and test_data)."""
    lines = 0

    def local(frame, event, arg):
        nonlocal lines
        lines += event == "line"
        return local

    def calls(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(MICROGRAD) else None

    before = sys.gettrace()
    sys.settrace(calls)
    try:
        load(*args)
    except (ModelFileError, DataError):
        pass
    finally:
        sys.settrace(before)
    return lines


def assert_names_a_place(error, path, places):
    msg = str(error)
    assert type(error) in (ModelFileError, DataError), repr(error)
    assert msg.startswith(f"{path}: ") and "\n" not in msg, msg
    assert re.match(places, msg[len(str(path)) + 2:]), msg
    msg.encode("utf-8")


# --- model files ---------------------------------------------------------------

def _valid_document():
    cfg = Config(inputs=2, layers=[3, 1], activations=["tanh", "linear"], epochs=3)
    rng = np.random.default_rng(0)
    weights = [(rng.normal(size=(3, 2)), rng.normal(size=3)), (rng.normal(size=(1, 3)), rng.normal(size=1))]
    model = modelfile.Model(cfg, weights,
                            {"dataset": "moons", "samples": 40, "noise": 0.1, "seed": 0, "task": "classification",
                             "features": ["x1", "x2"], "label": "y", "classes": ["0", "1"]},
                            {"epoch": 3, "train_loss": 0.5, "test_loss": None, "train_metric": 0.75,
                             "test_metric": None, "stop": "epochs exhausted", "elapsed": 0.01, "metric": "accuracy",
                             "run": 0, "seed": 0, "summary": {"runs": 2, "converged": 0.5, "test_loss": None,
                                                              "train_metric": {"mean": 0.7, "std": 0.1,
                                                                               "min": 0.6, "max": 0.8}}},
                            {"epoch": [1, 2, 3], "train_loss": [0.9, 0.7, 0.5], "lr": [1.0, 0.9, 0.8]})
    return modelfile.to_document(model)


DOCUMENT = _valid_document()
FIELD = r"(line \d+( column \d+)?: |file is empty|document(: |\[)|[A-Za-z_]\w*(\.|\[|: ))"

strings = st.text(st.characters(exclude_categories=()), max_size=8) | st.sampled_from(
    ["\ud800", "a\udfffb", "\U0001f408", "\u0661\u0662", "", "relu", "classification", "x1", "\x00", "\u2028"])
scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | strings
           | st.floats(allow_nan=True, allow_infinity=True))  # json.dumps writes NaN, Infinity
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(strings, inner, max_size=4), max_leaves=12)


def paths(doc, prefix=()):
    """Every place in a document: a tuple of keys and indices."""
    yield prefix
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for k, v in items:
        yield from paths(v, prefix + (k,))


_REMOVE = object()


def edit_target(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def edit(doc, path, value):
    """A copy of doc with the value at path set, or removed (_REMOVE); unchanged if an earlier
    edit took the place away."""
    doc = json.loads(json.dumps(doc))
    try:
        holder = edit_target(doc, path[:-1])
        if isinstance(holder, list):
            holder[path[-1]]  # an index that still exists
        elif not isinstance(holder, dict):
            return doc
    except (KeyError, IndexError, TypeError):
        return doc
    if value is not _REMOVE:
        holder[path[-1]] = value
    elif isinstance(holder, dict):
        holder.pop(path[-1], None)
    return doc


PATHS = list(paths(DOCUMENT))[1:]
OBJECTS = [p for p in paths(DOCUMENT) if isinstance(edit_target(DOCUMENT, p), dict)]
TOKENS = ["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "1" * 310, "-" + "9" * 5000, '"\\ud800"',
          '"\\udc00x"', "[" * 40 + "]" * 40, "[" * 3000 + "]" * 3000, "{}", "[]", "true", '""', "0.1", "-0"]


@st.composite
def model_files(draw):
    doc = DOCUMENT
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):  # a value replaced or removed
            path = draw(st.sampled_from(PATHS))
        else:  # a key added to an object
            path = draw(st.sampled_from(OBJECTS)) + (draw(strings),)
        doc = edit(doc, path, draw(values | st.just(_REMOVE)))
    text = json.dumps(doc, indent=draw(st.sampled_from([None, 1])))
    for _ in range(draw(st.integers(0, 2))):  # edits the JSON text itself
        kind = draw(st.sampled_from(["token", "duplicate", "truncate", "byte", "bom"]))
        at = draw(st.integers(0, len(text)))
        starts = [m.end() for m in re.finditer(r"(: |\[|, )", text)]
        opens = [m.end() for m in re.finditer(r"\{", text)]
        if kind == "token" and starts:  # a literal where a value starts: after ': ', '[' or ', '
            at = starts[at % len(starts)]
            end = re.match(r'"(?:[^"\\]|\\.)*"|[^,\]}\n]*', text[at:]).end()
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at + end:]
        elif kind == "duplicate" and opens:  # a key given twice
            at = opens[at % len(opens)]
            key = json.dumps(draw(st.sampled_from(["format", "version", "run", "x", "\ud800"])))
            text = text[:at] + f"{key}: 1, {key}: 2, " + text[at:]
        elif kind == "truncate":
            text = text[:at]
        elif kind == "bom":
            text = "\ufeff" + text
        else:
            raw = text.encode("utf-8", "surrogatepass")
            return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1:]
    return text.encode("utf-8", "surrogatepass")


@FUZZ
@given(model_files())
def test_model_file_is_refused_by_name_or_works(folder, raw):
    path = folder / "model.json"
    path.write_bytes(raw)
    try:
        model = modelfile.load(path)
    except ModelFileError as e:
        assert_names_a_place(e, path, FIELD)
        return
    assert run("info", path) == 0
    assert run("predict", path, "--x=" + ",".join(["0.5"] * model.inputs), "--x=" + ",".join(["-3"] * model.inputs)) \
        in (commands.EXIT_OK, commands.EXIT_NOT_FINITE)


@TRACED
@given(values, st.integers(1, 3))
def test_model_file_load_is_linear(folder, value, scale):
    """k copies of any value in a file cost about k times one copy (a quadratic check makes 8
    copies cost 64 times)."""
    costs = []
    for copies in (scale, 8 * scale):
        path = folder / f"linear{copies}.json"
        path.write_text(json.dumps({**DOCUMENT, "metrics": {"extra": [value] * copies}}))
        costs.append(work(modelfile.load, path))
    assert costs[1] <= 10 * costs[0], costs


# --- CSV files -----------------------------------------------------------------

ODD_CELLS = ["1e999", "nan", "inf", "", " ", "cat", "\u0661", "\uff12", "1_000", "1,5", '"', '"q"', '"a,b"',
             '"x\ny"', '"unclosed', "\ud800", "\x00", "\U0001f408", "0x10", "1 2", "+.5", "-0"]
numbers = st.integers(-999, 999).map(str) | st.floats(-1e6, 1e6).map(repr)
labels = st.sampled_from([st.sampled_from(["cat", "dog"]), st.sampled_from(["0", "1.0", "1"]), numbers])


@st.composite
def csv_files(draw):
    """A table that loads, then a few kinds of damage: odd cells, ragged rows, blank lines,
    quotes, line ends, a BOM, a stray byte; the separator is a comma, semicolon, tab or '|'."""
    sep = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    width = draw(st.integers(1, 4))
    label = draw(labels)  # text classes, numeric classes, or a regression target
    rows = [draw(st.lists(numbers, min_size=width, max_size=width)) + [draw(label)]
            for _ in range(draw(st.integers(1, 8)))]
    if draw(st.booleans()):  # a header, maybe after an unnamed index column
        index = draw(st.booleans())
        rows = [([""] if index else []) + [f"c{i}" for i in range(width)] + ["label"]] + \
               [([str(i)] if index else []) + r for i, r in enumerate(rows)]
    for _ in range(draw(st.integers(0, 3))):
        r = draw(st.integers(0, len(rows) - 1))
        damage = draw(st.sampled_from(["cell", "ragged", "blank", "quoted"]))
        if damage == "cell" and rows[r]:
            c = draw(st.integers(0, len(rows[r]) - 1))
            rows[r][c] = draw(st.sampled_from(ODD_CELLS) | st.text(max_size=3))
        elif damage == "ragged":
            rows[r] = rows[r][:-1] if draw(st.booleans()) else rows[r] + ["7"]
        elif damage == "blank" or not rows[r]:
            rows.insert(r, [])
        else:
            rows[r] = ['"' + c.replace('"', '""') + '"' for c in rows[r]]
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(sep.join(r) for r in rows) + draw(st.sampled_from(["", end]))
    if draw(st.booleans()):
        text = "\ufeff" + text
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:  # a stray byte anywhere
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at:]
    return raw


CSV_PLACE = (r"(line \d+|column '|file is empty|no data rows|need at least 2 columns|\d+ feature columns|"
             r"more than [\d,]+ rows|label column)")


@pytest.fixture(scope="module")
def two_input_model(folder):
    cfg = Config(inputs=2, layers=[1], activations=["linear"])
    return modelfile.save(folder / "two.json", [([[0.5, -1.0]], [0.25])], cfg,
                          data={"task": "regression", "features": ["x1", "x2"]})


@FUZZ
@given(csv_files())
def test_csv_is_refused_by_line_or_works(folder, two_input_model, raw):
    path = folder / "data.csv"
    path.write_bytes(raw)
    try:
        ds = load_csv(path)
    except DataError as e:
        assert_names_a_place(e, path, CSV_PLACE)
    else:
        n, k = ds.X.shape
        assert ds.X.dtype == np.float64 and 1 <= k <= 64 and len(ds.features) == k and ds.y.shape == (n,)
        assert np.isfinite(ds.X).all() and np.isfinite(ds.y).all()
        if ds.task == "classification":
            assert set(ds.y.tolist()) == {0.0, 1.0} and len(ds.classes) == 2
        else:
            assert ds.classes == [] and len(set(ds.y.tolist())) > 2
    try:
        status = run("predict", two_input_model, "--csv", path)
    except DataError as e:
        assert_names_a_place(e, path, CSV_PLACE)
    else:
        assert status in (commands.EXIT_OK, commands.EXIT_NOT_FINITE)


@TRACED
@given(csv_files(), st.integers(1, 3))
def test_csv_load_is_linear(folder, raw, scale):
    """k copies of the rows cost about k times one copy."""
    head, _, body = raw.partition(b"\n")
    costs = []
    for copies in (scale, 8 * scale):
        path = folder / f"linear{copies}.csv"
        path.write_bytes(head + b"\n" + (body + b"\n") * copies)
        costs.append(work(load_csv, path))
    assert costs[1] <= 10 * costs[0] + 200, costs
