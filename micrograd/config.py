"""The settings of a session, as plain data: the network and its training (`Config`), the data
(`DataSpec`), their limits, and the defaults a task starts from.

Both round-trip through JSON (`to_dict` / `from_dict`); `from_dict` refuses unknown or badly
typed fields by name. The window, the command line and the model file all read these, so a
rule about a setting is written here once.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

from . import features
from .features import RAW_INPUTS
from .losses import LOSSES
from .nn import ACTIVATIONS, BIAS_INITS, INITS, MLP
from .optim import OPTIMIZERS, SCHEDULES

ENGINES = ("compiled", "value")  # compiled: micrograd.compiled; value: the reference engine

MAX_LAYERS = 8          # hidden layers
MAX_WIDTH = 64          # neurons per layer, and inputs
MAX_EPOCHS = 1_000_000
MAX_EVALS = 100
MAX_SEED = 2**32 - 1

# The ranges of the numeric settings: the checks below and the window's fields both read them,
# so whatever the command line or a model file holds, the window can show and keep exactly.
BELOW_ONE = math.nextafter(1.0, 0.0)
RANGES = {
    "lr": (1e-12, 1e3), "momentum": (0.0, BELOW_ONE), "lr_end": (0.0, 1.0), "l1": (0.0, 10.0), "l2": (0.0, 10.0),
    "tolerance": (0.0, 1e300), "noise": (0.0, 10.0), "test_ratio": (0.0, 0.9), "seed": (0, MAX_SEED),
}

CLASSIFICATION_LOSSES = ("hinge", "bce")
REGRESSION_LOSSES = ("mse", "sse")


def is_finite(x):
    """math.isfinite, and False for an integer too big for a float (JSON allows 1 followed by
    400 zeros; float() of it raises OverflowError)."""
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def _check_types(obj, section):
    """Raise ValueError naming the first field whose type differs from the default's."""
    defaults = type(obj)()
    for f in dataclasses.fields(obj):
        v, default = getattr(obj, f.name), getattr(defaults, f.name)
        if default is None:  # optional text
            ok = v is None or isinstance(v, str)
            want = "str or null"
        elif isinstance(default, float):
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and is_finite(v)
            want = "float"
        else:
            ok = isinstance(v, type(default)) and not isinstance(v, bool)
            want = type(default).__name__
        if not ok:
            raise ValueError(f"{section}.{f.name}: expected {want}, got {v!r}")


def in_range(obj, name, section):
    """Raise ValueError naming `section.name` if the field is outside RANGES[name]."""
    low, high = RANGES[name]
    value = getattr(obj, name)
    if not low <= value <= high:
        raise ValueError(f"{section}.{name}: must be in [{low:g}, {high:g}], got {value!r}")


def _from_dict(cls, d, section):
    if not isinstance(d, dict):
        raise ValueError(f"{section}: expected an object")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"{section}: unknown field {unknown[0]!r}")
    obj = cls(**{k: list(v) if isinstance(v, list) else v for k, v in d.items()})
    obj.validate()
    return obj


@dataclass
class Config:
    """Everything that defines a training run: the network and how it is trained."""

    inputs: int = 2  # the network's: the data's inputs, or as many as feature_map computes from them
    feature_map: list = field(default_factory=list)  # features.NAMES computed from x1, x2; []: none
    layers: list = field(default_factory=lambda: [16, 16, 1])  # sizes, output layer last
    activations: list = field(default_factory=lambda: ["relu", "relu", "linear"])
    init: str = "auto"  # weights: He for the relu family, Xavier otherwise (nn.INITS; "uniform" = micrograd's)
    bias_init: str = "zero"
    loss: str = "hinge"
    optimizer: str = "adam"
    lr: float = 0.01
    momentum: float = 0.0
    schedule: str = "linear"
    lr_end: float = 0.1  # linear schedule: final rate as a fraction of lr
    decay_steps: int = 300  # linear schedule: epochs to decay over
    l1: float = 0.0
    l2: float = 1e-4
    batch_size: int = 0  # 0: the full batch
    epochs: int = 300  # per run; 0: until stopped (one run only)
    tolerance: float = 0.0  # stop once the train loss is at or below it; 0: never
    evals: int = 1
    seed: int = 0
    engine: str = "compiled"

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        """Build and validate from a plain dict; unknown or badly typed fields are refused by name."""
        return _from_dict(cls, d, "training")

    def replace(self, **changes):
        """A validated copy with `changes` (ValueError naming the field otherwise)."""
        return Config.from_dict({**self.to_dict(), **changes})

    def validate(self):
        """Raise ValueError naming the first bad field."""
        _check_types(self, "training")

        def check(cond, name, msg):
            if not cond:
                raise ValueError(f"training.{name}: {msg}, got {getattr(self, name)!r}")

        check(1 <= self.inputs <= MAX_WIDTH, "inputs", f"must be 1..{MAX_WIDTH}")
        problem = features.problem(self.feature_map)
        check(problem is None, "feature_map", problem)
        check(not self.feature_map or self.inputs == len(self.feature_map), "inputs",
              f"must be the number of features in feature_map ({len(self.feature_map)})")
        check(1 <= len(self.layers) <= MAX_LAYERS + 1, "layers", f"must have 1..{MAX_LAYERS + 1} layers")
        check(all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= MAX_WIDTH for n in self.layers),
              "layers", f"sizes must be integers 1..{MAX_WIDTH}")
        check(self.layers[-1] == 1, "layers", "the output layer must have 1 neuron")
        check(len(self.activations) == len(self.layers), "activations", "needs one per layer")
        check(all(a in ACTIVATIONS for a in self.activations), "activations", f"must be among {ACTIVATIONS}")
        check(self.init in INITS, "init", f"must be one of {INITS}")
        check(self.bias_init in BIAS_INITS, "bias_init", f"must be one of {BIAS_INITS}")
        check(self.loss in LOSSES, "loss", f"must be one of {tuple(LOSSES)}")
        check(not (self.loss == "bce" and self.activations[-1] != "linear"), "loss",
              "bce takes logits: the output activation must be linear")
        check(not (self.loss == "hinge" and self.activations[-1] == "sigmoid"), "loss",
              "hinge needs -1/+1 targets, which a sigmoid output cannot reach: use a linear or tanh output")
        check(self.optimizer in OPTIMIZERS, "optimizer", f"must be one of {tuple(OPTIMIZERS)}")
        in_range(self, "lr", "training")
        check(0 <= self.momentum < 1, "momentum", "must be in [0, 1)")
        check(self.schedule in SCHEDULES, "schedule", f"must be one of {SCHEDULES}")
        in_range(self, "lr_end", "training")
        check(1 <= self.decay_steps <= MAX_EPOCHS, "decay_steps", f"must be 1..{MAX_EPOCHS}")
        in_range(self, "l1", "training")
        in_range(self, "l2", "training")
        check(0 <= self.batch_size <= 1_000_000, "batch_size", "must be 0 (full batch) or a positive size")
        check(0 <= self.epochs <= MAX_EPOCHS, "epochs", f"must be 0 (until stopped) or 1..{MAX_EPOCHS}")
        in_range(self, "tolerance", "training")
        check(1 <= self.evals <= MAX_EVALS, "evals", f"must be 1..{MAX_EVALS}")
        check(self.epochs or self.evals == 1, "evals", "must be 1 when a run trains until stopped (epochs 0)")
        in_range(self, "seed", "training")
        check(self.engine in ENGINES, "engine", f"must be one of {ENGINES}")

    @property
    def data_inputs(self):
        """The inputs the data gives: two (x1, x2) under a feature map, else the network's."""
        return RAW_INPUTS if self.feature_map else self.inputs

    def check_inputs(self, width):
        """Raise ValueError, naming the field, if the network cannot take data of `width` inputs."""
        if self.feature_map and width != RAW_INPUTS:
            raise ValueError(f"training.feature_map: input features are computed from {RAW_INPUTS} inputs "
                             f"(x1, x2), but the data has {width}; train on its inputs as they are (no features)")
        if not self.feature_map and self.inputs != width:
            raise ValueError(f"training.inputs: the network takes {self.inputs} inputs "
                             f"but the data has {width} features")

    def for_inputs(self, width):
        """A copy for data of `width` inputs: the feature map stays on 2-input data and goes on
        any other (it is computed from x1, x2); the network's inputs follow."""
        return self.replace(**features.choice(self.feature_map, width))

    def check_task(self, task):
        """Raise ValueError if the loss cannot train data of this task."""
        if task == "regression" and self.loss in CLASSIFICATION_LOSSES:
            raise ValueError(f"training.loss: {self.loss} needs classification data, but the label is "
                             f"numeric with more than two values (regression); use mse or sse")

    def model(self, seed=None):
        return MLP(self.inputs, self.layers, self.activations, init=self.init, bias_init=self.bias_init,
                   seed=self.seed if seed is None else seed)

    def targets(self):
        """(negative, positive) target values for two classes under this loss and output."""
        if self.loss != "bce" and self.activations[-1] == "sigmoid":
            return (0.0, 1.0)
        return LOSSES[self.loss][2]

    @property
    def threshold(self):
        """Outputs above this are class 1: the midpoint of the two targets, except under bce,
        whose output is a logit (p = sigmoid(z) > 0.5 exactly when z > 0)."""
        if self.loss == "bce":
            return 0.0
        neg, pos = self.targets()
        return (neg + pos) / 2

    @property
    def architecture(self):
        """(inputs, layer sizes, activations): what the drawing of the network depends on."""
        return self.inputs, tuple(self.layers), tuple(self.activations)


def differences(base, other):
    """The settings of `other` that differ from `base` (both `Config.to_dict()`s) as short texts,
    "lr 0.1", "layers 8-1": how a past run differs from the current one."""
    def text(v):
        if isinstance(v, list):
            return "-".join(map(str, v)) or "none"
        return f"{v:g}" if isinstance(v, float) else str(v)
    return [f"{k} {text(other[k])}" for k in other if k in base and other[k] != base[k]]


# What choosing a data set sets, in the window and for the flags `micrograd train` is not given:
# settings that train it (measured over seeds by benchmarks/defaults.py; the README has the
# table). Per task: the loss and the activations (tanh for regression: relu at lr 1 diverged on
# sine in ten epochs). For all: Adam at 0.01, decaying to a tenth over the run, which also trains
# 8 hidden layers of 64 (the micrograd demo's SGD at 1.0 kills their relus). Per data set: the
# points to draw and the epochs it takes.
TASK_DEFAULTS = {
    "classification": {"loss": "hinge", "hidden": "relu", "output": "linear"},
    "regression": {"loss": "mse", "hidden": "tanh", "output": "linear"},
}
TRAINING_DEFAULTS = {"optimizer": "adam", "lr": 0.01, "schedule": "linear", "lr_end": 0.1}
PRESETS = {  # data set -> (samples, epochs)
    "moons": (100, 300), "circles": (100, 300), "xor": (100, 300), "gaussian": (100, 300),
    "spiral": (300, 1000), "plane": (100, 500), "sine": (100, 500), "bumps": (300, 1000),
}
CSV_EPOCHS = 300


def for_data(cfg, task, dataset=None, new_task=True):
    """`cfg` with what choosing a data set sets (a copy): the training defaults, the epochs of
    `dataset` (a built-in name; None for a CSV file) and, when the task is new, its loss and
    activations (otherwise the loss stays, and a loss of the other task is replaced)."""
    d = TASK_DEFAULTS[task]
    epochs = PRESETS[dataset][1] if dataset in PRESETS else CSV_EPOCHS
    changes = dict(TRAINING_DEFAULTS, epochs=epochs, decay_steps=epochs)
    if new_task or (cfg.loss in CLASSIFICATION_LOSSES) != (task == "classification"):
        changes.update(loss=d["loss"], activations=[d["hidden"]] * (len(cfg.layers) - 1) + [d["output"]])
    else:
        changes.update(activations=[*cfg.activations[:-1], d["output"]])
    return cfg.replace(**changes)


@dataclass
class DataSpec:
    """Where the data comes from (a built-in set, a CSV file and its label column, or points
    placed by hand) and how it is split into train and test."""

    dataset: str = "moons"  # a built-in set, or "custom"; ignored when `csv` is set
    samples: int = 100
    noise: float = 0.1
    seed: int = 0
    csv: str | None = None
    label: str | None = None  # the CSV's label column (None: the last)
    test_ratio: float = 0.2
    split_seed: int = 0
    points: list = field(default_factory=list)  # custom: rows [inputs..., y, test (0/1)]
    task: str = ""  # custom: "classification" (y 0/1) or "regression"
    inputs: int = 2  # custom: 1 or 2 (the points may be none yet)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        return _from_dict(cls, d, "data")

    def replace(self, **changes):
        return DataSpec.from_dict({**self.to_dict(), **changes})

    def validate(self):
        from .data import CUSTOM, DATASETS, MAX_POINTS, MAX_SAMPLES
        _check_types(self, "data")

        def check(cond, name, msg):
            if not cond:
                raise ValueError(f"data.{name}: {msg}, got {getattr(self, name)!r}")

        check(self.csv is not None or self.dataset in (*DATASETS, CUSTOM), "dataset",
              f"must be one of {DATASETS} or {CUSTOM!r}")
        if self.dataset == CUSTOM and self.csv is None:
            check(self.task in ("classification", "regression"), "task", "must be classification or regression")
            check(self.inputs in (1, 2), "inputs", "must be 1 or 2")
            check(len(self.points) <= MAX_POINTS, "points", f"at most {MAX_POINTS:,} points")
            check(all(isinstance(r, list) and len(r) == self.inputs + 2 and all(
                isinstance(v, numbers.Real) and not isinstance(v, bool) and is_finite(v) for v in r)
                for r in self.points), "points",
                f"rows must be [{'x1, x2' if self.inputs == 2 else 'x'}, y, test] of finite numbers")
            check(self.task == "regression" or all(r[-2] in (0, 1) for r in self.points), "points",
                  "a class must be 0 or 1")
        check(2 <= self.samples <= MAX_SAMPLES, "samples", f"must be 2..{MAX_SAMPLES}")
        in_range(self, "noise", "data")
        in_range(self, "seed", "data")
        in_range(self, "test_ratio", "data")
        check(0 <= self.split_seed <= MAX_SEED, "split_seed", f"must be in [0, {MAX_SEED}]")

    @property
    def name(self):
        """A short name for the data: the built-in set, or the CSV file's name without extension."""
        if self.csv is None:
            return self.dataset
        import os
        return os.path.splitext(os.path.basename(self.csv))[0]

    def load(self):
        """(dataset, train, test); raises DataError / ValueError with a clear message."""
        from .data import CUSTOM, custom_dataset, load_csv, make_dataset, split
        if self.csv is not None:
            ds = load_csv(self.csv, self.label)
        elif self.dataset == CUSTOM:
            return custom_dataset(self.points, self.task, self.inputs)
        else:
            ds = make_dataset(self.dataset, self.samples, self.noise, self.seed)
        train, test = split(ds, self.test_ratio, self.split_seed)
        return ds, train, test

    @classmethod
    def from_block(cls, block):
        """The spec a model file's data block records, or None if it names no data we can rebuild."""
        from .data import CUSTOM, DATASETS
        if not isinstance(block, dict):
            return None
        name = block.get("dataset")
        keys = ("test_ratio", "split_seed") + (("dataset", "samples", "noise", "seed") if name in DATASETS
                                                else ("dataset", "points", "task", "inputs") if name == CUSTOM
                                                else ("csv", "label") if isinstance(block.get("csv"), str) else ())
        if len(keys) == 2:
            return None
        try:
            return cls.from_dict({k: block[k] for k in keys if k in block})
        except (ValueError, TypeError):
            return None
