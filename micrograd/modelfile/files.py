"""Model files on disk: writing is atomic (temp file in the same directory, fsync, os.replace);
reading trusts nothing (size, encoding, nesting, then every field through `schema`). No eval,
no pickle.
"""
from __future__ import annotations

import json
import math
import os
import re

import numpy as np

from ..config import is_finite
from ..data import open_file
from ..whole import write_whole
from ..train import Epoch
from .model import Model, ModelFileError
from .schema import (MAX_DEPTH, Bad, Repeated, data_block, final_metrics, from_document, history_columns, training_config,
                     to_document)

MAX_FILE_BYTES = 20 * 1024 * 1024   # refuse bigger files before reading a byte
FLOAT_DIGITS = len(str(int(np.finfo(np.float64).max)))  # 309: longer integers are beyond the float range


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
        config = training_config(config)
    if isinstance(history, list) and (not history or isinstance(history[0], Epoch)):
        history = history_columns(history)
    model = Model(config, [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64))
                           for W, b in weights],
                  data_block(data) if data is not None else {}, metrics or {}, history or {})
    doc = to_document(model)
    try:
        from_document(doc)  # refuse to write what we would refuse to read
    except ModelFileError as e:
        raise ModelFileError(f"{os.fspath(path)}: not saved: {e}") from None
    write_whole(os.fspath(path), _encode(doc))
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
    return save(path, trainer.weights(), trainer.cfg, data, metrics, list(trainer.history))


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


# --- loading -----------------------------------------------------------------

def _parse_float(s):
    v = float(s)
    return v if math.isfinite(v) else Bad(s)


_LONG_DIGITS = re.compile(r"[0-9]{%d}" % (FLOAT_DIGITS + 1))


def _parse_int(s):
    """An integer a float can hold, or Bad: 309 digits pass 1.8e308, and int() of more than 4,300
    raises a ValueError that names no field."""
    if len(s.lstrip("-")) > FLOAT_DIGITS:
        return Bad(s)
    v = int(s)
    return v if is_finite(v) else Bad(s)


def _unique_keys(pairs):
    """The parser's object hook: a dict, or a `Repeated` dict naming its first repeated key, which
    the schema reports with the field's name. Linear: a set, not a search of the keys before."""
    d = dict(pairs)
    if len(d) == len(pairs):
        return d
    seen = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    d = Repeated(d)
    d.key = key
    return d


_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # a string (skipped whole) or a bracket


def _too_deep_at(text):
    """(line, column) where the nesting of `text` first passes MAX_DEPTH."""
    depth = 0
    for m in _STRUCTURE.finditer(text):
        c = m.group()
        if c in ("]", "}"):
            depth -= 1
        elif c in ("[", "{"):
            depth += 1
        if depth > MAX_DEPTH:
            at = m.start()
            return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    return 1, 1  # only if the parser and this scan disagree on where strings end


def load(path):
    """Read and validate a model file; raise `ModelFileError` naming the file and field."""
    path = os.fspath(path)
    with open_file(path, MAX_FILE_BYTES, "model file", ModelFileError) as f:
        try:
            raw = f.read(MAX_FILE_BYTES + 1)  # the file may have grown since it was measured
        except OSError as e:
            raise ModelFileError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ModelFileError(f"{path}: file is over {MAX_FILE_BYTES // 2**20} MB")
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
        # int() of the parser is 5 times faster than a hook; it only needs the hook for 310 digits or more
        doc = json.loads(text, parse_float=_parse_float, parse_int=_parse_int if _LONG_DIGITS.search(text) else None,
                         parse_constant=Bad, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as e:
        # the scanner hit the end of the text (mid-value, or inside a string that never closes)
        truncated = e.pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string")
        what = "truncated JSON (the file ends early)" if truncated else f"invalid JSON: {e.msg}"
        raise ModelFileError(f"line {e.lineno} column {e.colno}: {what}") from None
    except RecursionError:  # the parser's own limit, near 1,000 levels; it says not where
        line, column = _too_deep_at(text)
        raise ModelFileError(f"line {line} column {column}: nested too deeply "
                             f"(a model file nests at most {MAX_DEPTH} levels)") from None
    return from_document(doc)
