"""The model file: a trained network as plain JSON (format "micrograd-model", version 1).

One file holds the architecture, every weight and bias, the training settings
(`Config.to_dict()`), where the data came from, the final metrics and the loss
history. Layer k computes act_k(W_k @ x + b_k) with W_k shaped [outputs][inputs],
so the file loads into numpy or PyTorch in a dozen lines (docs/model-format.md).

Writing is atomic (temp file in the same directory, fsync, os.replace). Reading
trusts nothing: size, encoding, nesting, types, shapes, finiteness and ranges are
all checked, and every refusal is one `ModelFileError` naming the field.
No eval, no pickle.

    from micrograd import modelfile
    modelfile.save_trainer("model.json", trainer, dataset)
    model = modelfile.load("model.json")
    model.predict(X)            # (n, 1) outputs, plain numpy
    model.classify(X)           # class indices 0/1 (classification models)
    model.to_mlp()              # a micrograd MLP with these weights
"""
from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .nn import ACTIVATIONS
from .predict import predict as forward
from .config import MAX_LAYERS, MAX_WIDTH, Config, is_finite
from .train import Epoch

FORMAT = "micrograd-model"
VERSION = 1
MAX_BYTES = 20 * 1024 * 1024   # refuse bigger files before reading a byte
MAX_HISTORY = 10_000           # history points kept on save (decimated beyond)
MAX_DEPTH = 32                 # nesting allowed anywhere in the document
HISTORY_KEYS = ("epoch", "train_loss", "test_loss", "train_metric", "test_metric", "lr", "elapsed")
TOP_KEYS = ("format", "version", "architecture", "parameters", "training", "data", "metrics", "history")
TASKS = ("classification", "regression")


class ModelFileError(ValueError):
    """A model file was refused (or could not be written); the message names the file and field."""


# --- the model ---------------------------------------------------------------

@dataclass
class Model:
    """A loaded (or about to be saved) model: settings, weights and what was recorded with them."""

    config: Config
    weights: list  # per layer: (W ndarray [outputs][inputs], b ndarray [outputs])
    data: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    path: str | None = None

    @property
    def inputs(self):
        return self.config.inputs

    @property
    def layers(self):
        return list(self.config.layers)

    @property
    def activations(self):
        return list(self.config.activations)

    @property
    def task(self):
        """'classification', 'regression', or None when the file does not say."""
        return self.data.get("task")

    @property
    def classes(self):
        return list(self.data.get("classes") or [])

    @property
    def features(self):
        return list(self.data.get("features") or [f"x{i + 1}" for i in range(self.inputs)])

    @property
    def parameter_count(self):
        return sum(W.size + b.size for W, b in self.weights)

    def predict(self, X):
        """Outputs (n, outputs) for inputs X (n, inputs) or one sample (inputs,), in plain numpy."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.inputs:
            raise ValueError(f"the model takes {self.inputs} inputs, got data shaped {X.shape}")
        return forward(self.weights, self.config.activations, X)

    @property
    def threshold(self):
        """Outputs above this are class 1 (classification)."""
        return self.config.threshold

    def classify(self, X):
        """Class indices (0/1) for a classification model."""
        if self.task != "classification":
            raise ValueError("this model was not trained for classification")
        return (self.predict(X)[:, 0] > self.threshold).astype(int)

    def class_names(self, X):
        """Predicted class names (from the training data's labels)."""
        names = self.classes or ["0", "1"]
        return [names[k] for k in self.classify(X)]

    def to_mlp(self):
        """A micrograd `MLP` with these weights (for gradients, graphs, further training)."""
        mlp = self.config.model()
        mlp.load_weights([(W.tolist(), b.tolist()) for W, b in self.weights])
        return mlp

    def to_dict(self):
        """The JSON document (version 1) for this model."""
        cfg = self.config
        return {
            "format": FORMAT,
            "version": VERSION,
            "architecture": {"inputs": cfg.inputs,
                             "layers": [{"size": n, "activation": a}
                                        for n, a in zip(cfg.layers, cfg.activations)]},
            "parameters": [{"weights": np.asarray(W, dtype=np.float64).tolist(),
                            "biases": np.asarray(b, dtype=np.float64).tolist()} for W, b in self.weights],
            "training": cfg.to_dict(),
            "data": _plain(self.data),
            "metrics": _plain(self.metrics),
            "history": decimate(_plain(self.history)),
        }


# --- saving ------------------------------------------------------------------

def _plain(v):
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists, non-finite floats to None."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def history_columns(epochs):
    """A list of `Epoch`s -> {"epoch": [...], "train_loss": [...], ...}; non-finite values become None."""
    return {k: [_plain(getattr(e, k)) for e in epochs] for k in HISTORY_KEYS}


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
        "train_loss": _plain(epoch.train_loss),
        "test_loss": _plain(epoch.test_loss),
        "train_metric": _plain(epoch.train_metric),
        "test_metric": _plain(epoch.test_metric),
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


def save(path, model_or_weights, config=None, data=None, metrics=None, history=None):
    """Write a model file atomically and return its path.

    `model_or_weights`: a `Model`, an `MLP` or `Trainer` (anything with `.weights()`),
    or per-layer (W, b) pairs. `config`: a `Config` or its dict (taken from a `Model`
    when omitted). `data`: a `Dataset` or a dict. `history`: a list of `Epoch`s or a
    dict of columns. The document is validated exactly as `load` would before any
    byte is written, so a file this writes always loads.
    """
    if isinstance(model_or_weights, Model):
        m = model_or_weights
        config = m.config if config is None else config
        data = m.data if data is None else data
        metrics = m.metrics if metrics is None else metrics
        history = m.history if history is None else history
        weights = m.weights
    elif hasattr(model_or_weights, "weights") and callable(model_or_weights.weights):
        weights = model_or_weights.weights()
    else:
        weights = model_or_weights
    if config is None:
        raise TypeError("save() needs a config")
    if isinstance(config, dict):
        config = _config(config)
    if isinstance(history, list) and (not history or isinstance(history[0], Epoch)):
        history = history_columns(history)
    model = Model(config, [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
                           for W, b in weights],
                  data_block(data) if data is not None else {}, metrics or {}, history or {})
    doc = model.to_dict()
    try:
        from_dict(doc)  # refuse to write what we would refuse to read
    except ModelFileError as e:
        raise ModelFileError(f"{os.fspath(path)}: not saved: {e}") from None
    _atomic_write(os.fspath(path), _encode(doc))
    return os.fspath(path)


def save_trainer(path, trainer, dataset=None, summary=None, **data_extra):
    """Save a `Trainer`'s current weights, settings, final metrics and history.

    `dataset`: the `Dataset` (or data dict) it trained on; defaults to `trainer.train`.
    `summary`: `Session.summary()` for runs with evals > 1, stored as metrics["summary"].
    `data_extra`: extra keys for the data block (e.g. test_ratio=0.2, split_seed=0).
    """
    last = trainer.history[-1] if trainer.history else None
    metrics = final_metrics(last, trainer.task)
    metrics["run"] = trainer.run
    metrics["seed"] = trainer.seed
    if summary is not None:
        metrics["summary"] = summary
    data = data_block(trainer.train if dataset is None else dataset, **data_extra)
    return save(path, trainer.weights(), trainer.cfg, data, metrics, trainer.history)


def _encode(doc):
    """Readable JSON: objects indented, lists of numbers on one line (one line per weight row).

    Floats are written with repr(), so they read back bit for bit.
    """
    def enc(v, pad):
        if isinstance(v, dict):
            if not v:
                return "{}"
            if len(v) <= 3 and not any(isinstance(x, (dict, list)) for x in v.values()):
                return json.dumps(v, allow_nan=False, ensure_ascii=False)  # e.g. a layer
            inner = pad + "  "
            items = [f"{inner}{json.dumps(k)}: {enc(x, inner)}" for k, x in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
            inner = pad + "  "
            return "[\n" + ",\n".join(inner + enc(x, inner) for x in v) + "\n" + pad + "]"
        return json.dumps(v, allow_nan=False, ensure_ascii=False)
    return enc(doc, "") + "\n"


def _atomic_write(path, text):
    """Write text to path via a temp file in the same directory: the old file stays intact until
    the new one is complete on disk; the temp file is removed on any failure."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable; not possible everywhere
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# --- loading -----------------------------------------------------------------

class _Bad:
    """A number json parsed that we refuse (NaN, Infinity, 1e400); reported with its field."""

    def __init__(self, text):
        self.text = text


def _parse_float(s):
    v = float(s)
    return v if math.isfinite(v) else _Bad(s)


def _pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise ModelFileError(f"duplicate key {dup!r}")
    return dict(pairs)


def load(path):
    """Read and validate a model file; raise `ModelFileError` naming the file and field."""
    path = os.fspath(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: file not found") from None
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelFileError(f"{path}: is a directory, not a model file")
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{path}: not a regular file")
    if st.st_size > MAX_BYTES:
        raise ModelFileError(f"{path}: file is {st.st_size / 2**20:.1f} MB; "
                             f"a model file is at most {MAX_BYTES // 2**20} MB")
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)  # the file may have grown since stat
    except OSError as e:
        raise ModelFileError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_BYTES:
        raise ModelFileError(f"{path}: file is over {MAX_BYTES // 2**20} MB")
    try:
        model = loads(raw)
    except ModelFileError as e:
        raise ModelFileError(f"{path}: {e}") from None
    model.path = path
    return model


def loads(raw):
    """Parse and validate a model document from bytes or str (no file-level checks)."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            text = bytes(raw).decode("utf-8-sig")
        except UnicodeDecodeError as e:
            line = raw[:e.start].count(b"\n") + 1
            raise ModelFileError(f"line {line}: not UTF-8 text (byte {e.start})") from None
    else:
        text = raw
    if not text.strip():
        raise ModelFileError("file is empty")
    try:
        doc = json.loads(text, parse_float=_parse_float, parse_constant=_Bad, object_pairs_hook=_pairs)
    except json.JSONDecodeError as e:
        # the scanner hit the end of the text (mid-value, or inside a string that never closes)
        truncated = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string")
        what = "truncated JSON (the file ends early)" if truncated else f"invalid JSON: {e.msg}"
        raise ModelFileError(f"line {e.lineno} column {e.colno}: {what}") from None
    except RecursionError:
        raise ModelFileError(f"nested too deeply (a model file nests at most {MAX_DEPTH} levels)") from None
    except ModelFileError as e:  # from the object hook: duplicate key
        raise ModelFileError(f"invalid JSON: {e}") from None
    return from_dict(doc)


def _type(v):
    if isinstance(v, _Bad):
        return v.text
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


def _is_num(v):
    """A finite JSON number (a bool is not a number; NaN/inf only reach here from Python callers)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and is_finite(v)


def _numbers(v, n, where, what):
    """A list of exactly n finite numbers."""
    if not (isinstance(v, list) and len(v) == n and all(_is_num(x) for x in v)):
        if isinstance(v, list) and len(v) == n:
            i = next(i for i, x in enumerate(v) if not _is_num(x))
            bad = v[i]
            msg = _not_num(bad)
            raise ModelFileError(f"{where}[{i}]: {msg}")
        raise ModelFileError(f"{where}: expected {what}")
    return v


def _not_num(v, alt=""):
    if isinstance(v, _Bad):
        return f"{v.text} is not a finite number"
    if isinstance(v, float):
        return f"{v!r} is not a finite number"
    return f"expected a number{alt}, got {_type(v)}"


def _scan(v, where, depth=0):
    """Free-form blocks (data, metrics): bounded nesting, only finite numbers."""
    _need(depth <= MAX_DEPTH, where, f"nested too deeply (at most {MAX_DEPTH} levels)")
    if isinstance(v, _Bad) or (isinstance(v, float) and not math.isfinite(v)):
        raise ModelFileError(f"{where}: {_not_num(v)}")
    if isinstance(v, dict):
        for k, x in v.items():
            _scan(x, f"{where}.{k}", depth + 1)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _scan(x, f"{where}[{i}]", depth + 1)


def _config(d):
    try:
        return Config.from_dict(d)
    except ModelFileError:
        raise
    except (ValueError, TypeError) as e:
        msg = str(e)
        raise ModelFileError(msg if msg.startswith("training") else f"training: {msg}") from None


def from_dict(doc):
    """Validate a parsed document and build the `Model`; one `ModelFileError` per problem, naming the field."""
    _need(isinstance(doc, dict), "document", f"expected a JSON object, got {_type(doc)}")
    _need("format" in doc, "format", f"missing: not a micrograd model file (expected \"format\": \"{FORMAT}\")")
    _need(doc["format"] == FORMAT, "format",
          f"expected {FORMAT!r}, got {doc['format'] if isinstance(doc['format'], str) else _type(doc['format'])!r}")
    _need("version" in doc, "version", "missing")
    version = doc["version"]
    _need(isinstance(version, int) and not isinstance(version, bool), "version",
          f"expected an integer, got {_type(version)}")
    _need(version == VERSION, "version",
          f"unsupported version {version} (this micrograd reads version {VERSION})")
    unknown = sorted(set(doc) - set(TOP_KEYS))
    _need(not unknown, unknown[0] if unknown else "", "unknown field in a version 1 model file")
    for key in ("architecture", "parameters", "training"):
        _need(key in doc, key, "missing")

    # architecture
    arch = _obj(doc["architecture"], "architecture")
    extra = sorted(set(arch) - {"inputs", "layers"})
    _need(not extra, f"architecture.{extra[0]}" if extra else "", "unknown field")
    _need("inputs" in arch, "architecture.inputs", "missing")
    nin = _int(arch["inputs"], "architecture.inputs", 1, MAX_WIDTH)
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
        _need(not extra, f"{where}.{extra[0]}" if extra else "", "unknown field")
        _need("size" in layer, f"{where}.size", "missing")
        sizes.append(_int(layer["size"], f"{where}.size", 1, MAX_WIDTH))
        _need("activation" in layer, f"{where}.activation", "missing")
        act = layer["activation"]
        _need(isinstance(act, str) and act in ACTIVATIONS, f"{where}.activation",
              f"expected one of {', '.join(ACTIVATIONS)}, got {act if isinstance(act, str) else _type(act)!r}")
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
        _need(not extra, f"{where}.{extra[0]}" if extra else "", "unknown field")
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
    training = doc["training"]
    _obj(training, "training")
    _scan(training, "training")
    cfg = _config(training)
    _need(cfg.inputs == nin, "training.inputs", f"{cfg.inputs} does not match architecture.inputs {nin}")
    _need(list(cfg.layers) == sizes, "training.layers",
          f"{cfg.layers} does not match the architecture's layer sizes {sizes}")
    _need(list(cfg.activations) == acts, "training.activations",
          f"{cfg.activations} does not match the architecture's activations {acts}")

    # data, metrics, history: optional
    data = _obj(doc.get("data", {}), "data")
    _scan(data, "data")
    if "task" in data:
        _need(data["task"] in TASKS, "data.task", f"expected one of {', '.join(TASKS)}, got {data['task']!r}")
    if "features" in data:
        f = data["features"]
        _need(isinstance(f, list) and len(f) == nin and all(isinstance(x, str) for x in f),
              "data.features", f"expected a list of {nin} names (one per input)")
    if "label" in data:
        _need(isinstance(data["label"], str), "data.label", f"expected a string, got {_type(data['label'])}")
    if "classes" in data:
        c = data["classes"]
        ok = isinstance(c, list) and all(isinstance(x, str) for x in c)
        ok = ok and (len(c) == 2 if data.get("task") == "classification" else len(c) in (0, 2))
        _need(ok, "data.classes", "expected a list of 2 class names (or [] for regression)")
    metrics = _obj(doc.get("metrics", {}), "metrics")
    _scan(metrics, "metrics")
    history = _obj(doc.get("history", {}), "history")
    n = None
    for key, col in history.items():
        where = f"history.{key}"
        _need(key in HISTORY_KEYS, where, f"unknown column (expected among {', '.join(HISTORY_KEYS)})")
        _need(isinstance(col, list), where, f"expected a list, got {_type(col)}")
        _need(len(col) <= MAX_HISTORY, where, f"{len(col)} points; a model file holds at most {MAX_HISTORY}")
        for i, v in enumerate(col):
            if not (v is None or _is_num(v)):
                raise ModelFileError(f"{where}[{i}]: " + _not_num(v, " or null"))
        n = len(col) if n is None else n
        _need(len(col) == n, where, f"has {len(col)} points but the other columns have {n}")
    return Model(cfg, weights, data, metrics, history)
