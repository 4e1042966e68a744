"""Input features: what the network takes as inputs, computed from the data's two inputs x1, x2
(TensorFlow Playground's seven). With x1² and x2² a network without hidden layers separates
the circles: the boundary x1² + x2² = r² is a straight line in those inputs.

A feature map (`Config.feature_map`, a list of names below) is applied to the data before the
network, so both engines, `predict`, the model file and the ONNX export see plain inputs; the
data itself (the data set, the plot's axes, a CSV) keeps its two inputs. An empty map means no
map: the network takes the data's inputs as they are, however many there are.

Each feature is one op on the raw columns, written once here and read by the numpy forms below,
the ONNX export's feature-map stage and the documented numpy loader (docs/model-format.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RAW_INPUTS = 2  # a feature map is computed from exactly two inputs: x1 (column 0) and x2 (column 1)


@dataclass(frozen=True)
class Feature:
    name: str       # in Config.feature_map, model files, --features and the panel's objectNames
    label: str      # for people: the diagram and the data panel
    op: str         # "x": the column itself; "mul": the product of two columns; "sin": sin of one
    columns: tuple  # the raw inputs it reads (0: x1, 1: x2)


FEATURES = {f.name: f for f in (
    Feature("x1", "x1", "x", (0,)),
    Feature("x2", "x2", "x", (1,)),
    Feature("x1sq", "x1²", "mul", (0, 0)),
    Feature("x2sq", "x2²", "mul", (1, 1)),
    Feature("x1x2", "x1·x2", "mul", (0, 1)),
    Feature("sinx1", "sin(x1)", "sin", (0,)),
    Feature("sinx2", "sin(x2)", "sin", (1,)),
)}
NAMES = tuple(FEATURES)
RAW = ("x1", "x2")  # the map that changes nothing

# Each op over the raw columns it reads, in numpy (x1² is x1 * x1, exactly as ONNX's Mul computes it).
OPS = {"x": lambda a: a, "mul": np.multiply, "sin": np.sin}


def values(name, X):
    """The feature `name` for each row of the raw inputs X (n, 2): shape (n,). Over a grid of
    points it gives the feature's picture (the diagram's thumbnails)."""
    f = FEATURES[name]
    X = np.asarray(X, dtype=np.float64)
    return OPS[f.op](*(X[:, i] for i in f.columns))


def apply(feature_map, X):
    """The network's inputs for raw inputs X (n, 2): one column per name of `feature_map`, in
    order. An empty map returns X itself (as float64): the data's inputs as they are."""
    X = np.asarray(X, dtype=np.float64)
    if not feature_map:
        return X
    if X.ndim != 2 or X.shape[1] != RAW_INPUTS:
        raise ValueError(f"a feature map is computed from {RAW_INPUTS} inputs (x1, x2), got data shaped {X.shape}")
    return np.column_stack([values(name, X) for name in feature_map])


def normalized(names):
    """The feature map for a choice of features: [] (no map) for exactly x1, x2 in that order,
    so choosing the raw inputs gives the same configuration, and model file, as never choosing."""
    names = list(names)
    return [] if tuple(names) == RAW else names


def choice(names, width):
    """The settings (Config's `feature_map` and `inputs`) that choose the features `names` as the
    network's inputs on data of `width` inputs. A map needs two (x1, x2): on other data there is
    none and the network takes the data's inputs."""
    feature_map = normalized(names) if width == RAW_INPUTS else []
    return {"feature_map": feature_map, "inputs": len(feature_map) or width}


def problem(feature_map):
    """Why `feature_map` is not a valid map (unknown or repeated names), or None."""
    for i, name in enumerate(feature_map):
        if not (isinstance(name, str) and name in FEATURES):
            shown = repr(name) if len(repr(name)) <= 40 else repr(name)[:40] + "..."  # a file may hold megabytes
            return f"unknown feature {shown}; choose from {', '.join(NAMES)}"
        if name in feature_map[:i]:
            return f"the feature {name!r} is given twice"
    return None
