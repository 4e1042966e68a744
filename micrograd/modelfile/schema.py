"""The model file's document (format "micrograd-model", version 1): what each field holds, and
the check of every field on the way in. `to_document` writes a `Model` as the document;
`from_document` validates a parsed document and builds the `Model`, one `ModelFileError` per
problem, naming the field. docs/model-format.md describes the same fields for people.
"""
from __future__ import annotations

import math
import re

import numpy as np

from .. import features
from ..config import MAX_LAYERS, MAX_WIDTH, Config, is_finite
from ..history import History
from ..nn import ACTIVATIONS
from .model import Model, ModelFileError

FORMAT = "micrograd-model"
VERSION = 1
MAX_HISTORY = 10_000           # history points kept on save (decimated beyond)
MAX_DEPTH = 32                 # objects and lists nested in one another, the document included
HISTORY_KEYS = History.FIELDS  # the history block's columns: a run's record, field for field
TOP_KEYS = ("format", "version", "architecture", "parameters", "training", "data", "metrics", "history")
TASKS = ("classification", "regression")
FLOAT_MAX = float(np.finfo(np.float64).max)


class Bad:
    """A number the JSON parser read that we refuse (NaN, Infinity, 1e400, an integer beyond the
    float range); reported with its field, its text cut short: 1000 digits make no message."""

    def __init__(self, text):
        self.text = text if len(text) <= 24 else f"{text[:12]}...{text[-4:]} ({len(text)} characters)"


class Repeated(dict):
    """An object in which the JSON text gives a key twice (`key`: the first such key); reported
    with its field."""

    key = None


# --- writing -----------------------------------------------------------------

def to_document(model):
    """The JSON document (version 1) for a `Model`."""
    cfg = model.config
    architecture = {"inputs": cfg.inputs, "layers": [{"size": n, "activation": a}
                                                     for n, a in zip(cfg.layers, cfg.activations)]}
    training = cfg.to_dict()
    # The feature map only where there is one: a model without one is the file written before
    # the field existed, which readers from before it still load.
    if cfg.feature_map:
        architecture["feature_map"] = list(cfg.feature_map)
    else:
        del training["feature_map"]
    return {
        "format": FORMAT,
        "version": VERSION,
        "architecture": architecture,
        "parameters": [{"weights": np.asarray(W, dtype=np.float64).tolist(),
                        "biases": np.asarray(b, dtype=np.float64).tolist()} for W, b in model.weights],
        "training": training,
        "data": plain(model.data),
        "metrics": plain(model.metrics),
        "history": decimate(plain(model.history)),
    }


def plain(v):
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists, non-finite floats to None."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return plain(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def history_columns(epochs):
    """A list of `Epoch`s -> {"epoch": [...], "train_loss": [...], ...}; non-finite values become None."""
    return {k: [plain(getattr(e, k)) for e in epochs] for k in HISTORY_KEYS}


def decimate(history, limit=MAX_HISTORY):
    """Keep at most `limit` points of every column: the first, the last, evenly spaced between."""
    if not history:
        return history
    n = max(len(v) for v in history.values())
    if n <= limit:
        return history
    keep = np.round(np.linspace(0, n - 1, limit)).astype(int).tolist()  # strictly increasing: n > limit
    return {k: [v[i] for i in keep] if len(v) == n else v for k, v in history.items()}


def final_metrics(epoch, task=None):
    """The metrics block for a run's last `Epoch`."""
    out = {} if epoch is None else {
        "epoch": epoch.epoch,
        "train_loss": plain(epoch.train_loss),
        "test_loss": plain(epoch.test_loss),
        "train_metric": plain(epoch.train_metric),
        "test_metric": plain(epoch.test_metric),
        "stop": epoch.stop,
        "elapsed": epoch.elapsed,
    }
    if task:
        out["metric"] = "accuracy" if task == "classification" else "r2"
    return out


def data_block(dataset, **extra):
    """The data block for a `Dataset`: its source recipe plus task, features, label, classes."""
    if dataset is None:
        return dict(extra)
    if isinstance(dataset, dict):
        return {**dataset, **extra}
    return {**dataset.source, "task": dataset.task, "features": list(dataset.features),
            "label": dataset.label, "classes": list(dataset.classes), **extra}


# --- reading -----------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _short(text, limit=40):
    """repr() of a string for a message, cut short: a field may hold megabytes."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def _child(where, key):
    """The name of a field inside `where` ('' for the document): 'metrics.summary', 'parameters[0]',
    "data['odd key']", "document['odd key']"."""
    if isinstance(key, str) and len(key) <= 40 and _NAME.fullmatch(key):
        return f"{where}.{key}" if where else key
    return f"{where or 'document'}[{key if isinstance(key, int) else _short(key)}]"


def _spell(path):
    """A field's name from the walk's path, (parent path, key) pairs from the root (None)."""
    keys = []
    while path is not None:
        path, key = path
        keys.append(key)
    where = ""
    for key in reversed(keys):
        where = _child(where, key)
    return where or "document"


def _type(v):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null", int: "an integer", float: "a number"}.get(type(v), type(v).__name__)


def _need(cond, where, msg):
    if not cond:
        raise ModelFileError(f"{where}: {msg}")


def _obj(v, where):
    _need(isinstance(v, dict), where, f"expected an object, got {_type(v)}")
    return v


def _int(v, where, lo, hi):
    _need(isinstance(v, int) and not isinstance(v, bool), where, f"expected an integer, got {_type(v)}")
    _need(lo <= v <= hi, where, f"must be {lo}..{hi}, got {v}")
    return v


def _finite_number(v):
    """A finite number; a bool is not one."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and is_finite(v)


def _number_or_null(v, where):
    _need(v is None or _finite_number(v), where, f"expected a number or null, got {_type(v)}")


def _text_or_null(v, where):
    _need(v is None or isinstance(v, str), where, f"expected a string or null, got {_type(v)}")


def _numbers(v, n, where, what):
    """A list of exactly n finite numbers."""
    if not (isinstance(v, list) and len(v) == n and all(_finite_number(x) for x in v)):
        if isinstance(v, list) and len(v) == n:
            i = next(i for i, x in enumerate(v) if not _finite_number(x))
            raise ModelFileError(f"{where}[{i}]: {_not_num(v[i])}")
        raise ModelFileError(f"{where}: expected {what}")
    return v


def _not_num(v, alt=""):
    if isinstance(v, Bad):
        return f"{v.text} is not a finite number"
    if isinstance(v, float):
        return f"{v!r} is not a finite number"
    if isinstance(v, int) and not isinstance(v, bool):  # str() of it may not even work (over 4,300 digits)
        digits = int(v.bit_length() * math.log10(2)) + 1
        return f"an integer of about {digits} digits is not a finite number (beyond the float range)"
    return f"expected a number{alt}, got {_type(v)}"


def _finite_numbers(v):
    """True if every item of a list is a finite number (or a boolean), in one C loop: fsum takes
    nothing else, is exact, and is finite only if every term is; it also refuses to overflow."""
    try:
        return math.isfinite(math.fsum(v))
    except (TypeError, ValueError, OverflowError):
        return False


def _check_tree(doc):
    """What holds for every value wherever it is, checked in one pass linear in the document's
    size: at most MAX_DEPTH objects and lists nested, no key twice in an object, text without
    lone surrogates (they cannot be printed or written as UTF-8: '\ud800' is no character),
    only finite numbers. A field's name is spelled out only for the message."""
    def walk(v, path, depth):
        if isinstance(v, (dict, list)):
            if depth > MAX_DEPTH:
                raise ModelFileError(f"{_spell(path)}: nested too deeply (at most {MAX_DEPTH} levels)")
            if isinstance(v, Repeated):
                raise ModelFileError(f"{_spell((path, v.key))}: duplicate key (given twice in the same object)")
            if isinstance(v, list) and _finite_numbers(v):
                return
            for k, x in (v.items() if isinstance(v, dict) else enumerate(v)):
                if isinstance(k, str) and _SURROGATE.search(k):
                    raise ModelFileError(f"{_spell(path)}: the key {_short(k)} holds a lone surrogate, "
                                         "which is not a character")
                if x is None or type(x) in (float, int, bool) and -FLOAT_MAX <= x <= FLOAT_MAX:
                    continue  # the most common leaves, passed here rather than by a call each (NaN fails)
                walk(x, (path, k), depth + 1)
        elif isinstance(v, str):
            if _SURROGATE.search(v):
                raise ModelFileError(f"{_spell(path)}: {_short(v)} holds a lone surrogate, which is not a character")
        elif isinstance(v, Bad) or (isinstance(v, (int, float)) and not isinstance(v, bool) and not is_finite(v)):
            raise ModelFileError(f"{_spell(path)}: {_not_num(v)}")
    walk(doc, None, 1)


def _metrics(m):
    """The documented fields of the metrics block, when present, have the types `info` reads."""
    for key in ("epoch", "run", "seed"):
        if key in m:
            _int(m[key], f"metrics.{key}", 0, 2**63 - 1)
    for key in ("train_loss", "test_loss", "train_metric", "test_metric", "elapsed"):
        _number_or_null(m.get(key), f"metrics.{key}")
    for key in ("metric", "stop"):
        _text_or_null(m.get(key), f"metrics.{key}")
    if "summary" in m:
        s = _obj(m["summary"], "metrics.summary")
        if "runs" in s:
            _int(s["runs"], "metrics.summary.runs", 1, 2**63 - 1)
        _number_or_null(s.get("converged"), "metrics.summary.converged")
        for key in ("train_loss", "test_loss", "train_metric", "test_metric", "epochs_to_tolerance"):
            stats = s.get(key)
            if stats is not None:
                _obj(stats, f"metrics.summary.{key}")
                for k in ("mean", "std", "min", "max"):
                    _number_or_null(stats.get(k), f"metrics.summary.{key}.{k}")


def training_config(d):
    if isinstance(d, dict) and "init" not in d:
        d = {**d, "init": "uniform"}  # a file from before the field: its weights were drawn U(-1, 1)
    try:
        return Config.from_dict(d)
    except ModelFileError:
        raise
    except (ValueError, TypeError) as e:
        msg = str(e)
        if len(msg) > 200:  # Config quotes the bad value, which may be a list of a million numbers
            msg = msg[:200] + "..."
        raise ModelFileError(msg if msg.startswith("training") else f"training: {msg}") from None


def from_document(doc):
    """Validate a parsed document and build the `Model`; one `ModelFileError` per problem, naming the field."""
    _check_tree(doc)
    _need(isinstance(doc, dict), "document", f"expected a JSON object, got {_type(doc)}")
    _need("format" in doc, "format", f"missing: not a micrograd model file (expected \"format\": \"{FORMAT}\")")
    fmt = doc["format"]
    _need(fmt == FORMAT, "format", f"expected {FORMAT!r}, got {_short(fmt) if isinstance(fmt, str) else _type(fmt)}")
    _need("version" in doc, "version", "missing")
    version = doc["version"]
    _need(isinstance(version, int) and not isinstance(version, bool), "version",
          f"expected an integer, got {_type(version)}")
    _need(version == VERSION, "version",
          f"unsupported version {version} (this micrograd reads version {VERSION})")
    unknown = sorted(set(doc) - set(TOP_KEYS))
    _need(not unknown, _child("", unknown[0]) if unknown else "", "unknown field in a version 1 model file")
    for key in ("architecture", "parameters", "training"):
        _need(key in doc, key, "missing")

    # architecture
    arch = _obj(doc["architecture"], "architecture")
    extra = sorted(set(arch) - {"inputs", "feature_map", "layers"})
    _need(not extra, _child("architecture", extra[0]) if extra else "", "unknown field")
    _need("inputs" in arch, "architecture.inputs", "missing")
    nin = _int(arch["inputs"], "architecture.inputs", 1, MAX_WIDTH)
    feature_map = arch.get("feature_map", [])
    _need(isinstance(feature_map, list), "architecture.feature_map", f"expected a list, got {_type(feature_map)}")
    problem = features.problem(feature_map)
    _need(problem is None, "architecture.feature_map", problem)
    _need(not feature_map or len(feature_map) == nin, "architecture.feature_map",
          f"expected {nin} feature names (one per input), got {len(feature_map)}")
    _need("layers" in arch, "architecture.layers", "missing")
    layers = arch["layers"]
    _need(isinstance(layers, list), "architecture.layers", f"expected a list, got {_type(layers)}")
    _need(1 <= len(layers) <= MAX_LAYERS + 1, "architecture.layers",
          f"expected 1..{MAX_LAYERS + 1} layers, got {len(layers)}")
    sizes, acts = [], []
    for k, layer in enumerate(layers):
        where = f"architecture.layers[{k}]"
        _obj(layer, where)
        extra = sorted(set(layer) - {"size", "activation"})
        _need(not extra, _child(where, extra[0]) if extra else "", "unknown field")
        _need("size" in layer, f"{where}.size", "missing")
        sizes.append(_int(layer["size"], f"{where}.size", 1, MAX_WIDTH))
        _need("activation" in layer, f"{where}.activation", "missing")
        act = layer["activation"]
        _need(isinstance(act, str) and act in ACTIVATIONS, f"{where}.activation",
              f"expected one of {', '.join(ACTIVATIONS)}, got {_short(act) if isinstance(act, str) else _type(act)}")
        acts.append(act)
    _need(sizes[-1] == 1, f"architecture.layers[{len(sizes) - 1}].size",
          f"the output layer must have 1 neuron, got {sizes[-1]}")

    # parameters
    params = doc["parameters"]
    _need(isinstance(params, list), "parameters", f"expected a list, got {_type(params)}")
    _need(len(params) == len(sizes), "parameters",
          f"expected {len(sizes)} layers (as in architecture.layers), got {len(params)}")
    weights = []
    for k, (p, nout, fan_in) in enumerate(zip(params, sizes, [nin, *sizes])):
        where = f"parameters[{k}]"
        _obj(p, where)
        extra = sorted(set(p) - {"weights", "biases"})
        _need(not extra, _child(where, extra[0]) if extra else "", "unknown field")
        for key in ("weights", "biases"):
            _need(key in p, f"{where}.{key}", "missing")
        W = p["weights"]
        shape = f"{nout} rows of {fan_in} numbers"
        _need(isinstance(W, list) and len(W) == nout, f"{where}.weights", f"expected {shape}")
        for i, row in enumerate(W):
            if not (isinstance(row, list) and len(row) == fan_in):
                raise ModelFileError(f"{where}.weights: expected {shape} (row {i} has "
                                     f"{len(row) if isinstance(row, list) else _type(row)})"
                                     if isinstance(row, list) else
                                     f"{where}.weights[{i}]: expected a list of {fan_in} numbers, got {_type(row)}")
            _numbers(row, fan_in, f"{where}.weights[{i}]", f"{fan_in} numbers")
        _numbers(p["biases"], nout, f"{where}.biases", f"a list of {nout} numbers")
        weights.append((np.array(W, dtype=np.float64).reshape(nout, fan_in),
                        np.array(p["biases"], dtype=np.float64)))

    # training: the settings, which must describe the same network
    cfg = training_config(_obj(doc["training"], "training"))
    _need(cfg.inputs == nin, "training.inputs", f"{cfg.inputs} does not match architecture.inputs {nin}")
    _need(cfg.feature_map == feature_map, "training.feature_map",
          f"{cfg.feature_map} does not match the architecture's feature map {feature_map}")
    _need(list(cfg.layers) == sizes, "training.layers",
          f"{cfg.layers} does not match the architecture's layer sizes {sizes}")
    _need(list(cfg.activations) == acts, "training.activations",
          f"{cfg.activations} does not match the architecture's activations {acts}")

    # data, metrics, history: optional
    data = _obj(doc.get("data", {}), "data")
    if "task" in data:
        task = data["task"]
        _need(task in TASKS, "data.task",
              f"expected one of {', '.join(TASKS)}, got {_short(task) if isinstance(task, str) else _type(task)}")
    if "features" in data:
        f = data["features"]
        width = cfg.data_inputs  # the data's inputs: under a feature map, the two it is computed from
        _need(isinstance(f, list) and len(f) == width and all(isinstance(x, str) for x in f),
              "data.features", f"expected a list of {width} names (one per input of the data)")
        _need(len(set(f)) == width, "data.features", "a name appears twice")
    if "label" in data:
        _need(isinstance(data["label"], str), "data.label", f"expected a string, got {_type(data['label'])}")
    if "classes" in data:
        c = data["classes"]
        ok = isinstance(c, list) and all(isinstance(x, str) for x in c)
        ok = ok and (len(c) == 2 if data.get("task") == "classification" else len(c) in (0, 2))
        _need(ok, "data.classes", "expected a list of 2 class names (or [] for regression)")
    metrics = _obj(doc.get("metrics", {}), "metrics")
    _metrics(metrics)
    history = _obj(doc.get("history", {}), "history")
    n = None
    for key, col in history.items():
        where = _child("history", key)
        _need(key in HISTORY_KEYS, where, f"unknown column (expected among {', '.join(HISTORY_KEYS)})")
        _need(isinstance(col, list), where, f"expected a list, got {_type(col)}")
        _need(len(col) <= MAX_HISTORY, where, f"{len(col)} points; a model file holds at most {MAX_HISTORY}")
        for i, v in enumerate(col):
            if not (v is None or _finite_number(v)):
                raise ModelFileError(f"{where}[{i}]: " + _not_num(v, " or null"))
        n = len(col) if n is None else n
        _need(len(col) == n, where, f"has {len(col)} points but the other columns have {n}")
    return Model(cfg, weights, data, metrics, history)
