"""The command line's arguments: the parser, and the flags of `train` turned into settings."""
from __future__ import annotations

import argparse
import math

from ..config import ENGINES, PRESETS, Config, DataSpec, for_data
from ..data import DATASETS
from ..features import NAMES, normalized
from ..losses import LOSSES
from ..nn import ACTIVATIONS, BIAS_INITS, INITS
from ..onnx_export import FORMATS
from ..optim import OPTIMIZERS, SCHEDULES

PROG = "micrograd"


class UsageError(Exception):
    """Bad usage or bad input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + error, and no SystemExit
        raise UsageError(f"{message} (see '{self.prog} --help')")


def floats(text, what):
    """Comma-separated finite numbers, or UsageError naming `what`."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"{what}: expected comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise UsageError(f"{what}: numbers must be finite, got {text!r}")
    return values


def _sizes(text):
    if text.strip().lower() in ("", "none", "0"):
        return []
    try:
        sizes = [int(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"--layers: expected comma-separated hidden sizes like 16,16, got {text!r}") from None
    if any(n < 1 for n in sizes):
        raise UsageError(f"--layers: sizes must be positive, got {text!r}")
    return sizes


def build_parser():
    p = _Parser(prog=PROG, description="Train, inspect and run small scalar-autograd networks.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    t = sub.add_parser("train", help="train a network and (with --out) save it",
                       description="Train an MLP on a built-in dataset or a CSV file.")
    src = t.add_argument_group("data")
    which = src.add_mutually_exclusive_group()
    which.add_argument("--dataset", choices=DATASETS, help="built-in dataset (default: moons)")
    which.add_argument("--csv", metavar="FILE", help="CSV file: numeric features and a label column")
    src.add_argument("--label", metavar="COLUMN", help="label column of --csv (default: the last one)")
    src.add_argument("--samples", type=int, help="points in a built-in dataset (default: the data set's, "
                                                 "100; 300 for spiral and bumps)")
    src.add_argument("--noise", type=float, default=0.1, help="noise of a built-in dataset (default: 0.1)")
    src.add_argument("--test-ratio", type=float, default=0.2, help="share held out for testing (default: 0.2)")
    src.add_argument("--seed", type=int, default=0,
                     help="seed for the data, the split and the initial weights (default: 0)")
    net = t.add_argument_group("network")
    net.add_argument("--layers", default="16,16", help="hidden layer sizes; an output layer of 1 is added "
                                                       "(default: 16,16; 'none' for a linear model)")
    net.add_argument("--activation", help=f"hidden activation, or one per hidden layer like relu,tanh "
                                          f"({', '.join(ACTIVATIONS)}; default: relu, tanh for regression)")
    net.add_argument("--features", help=f"the network's inputs, computed from the data's x1, x2: comma-separated, "
                                        f"from {', '.join(NAMES)} (x1sq is x1 squared, x1x2 the product, sinx1 "
                                        f"sin(x1)), e.g. x1sq,x2sq; 2-input data only (default: x1,x2 as they are)")
    net.add_argument("--output-activation", choices=ACTIVATIONS, default="linear", help="default: linear")
    net.add_argument("--init", choices=INITS, default="auto",
                     help="initial weights: uniform (micrograd's U(-1, 1)), xavier, he, or auto: "
                          "He for the relu family, Xavier for the rest (default: auto)")
    net.add_argument("--bias-init", choices=BIAS_INITS, default="zero", help="default: zero")
    opt = t.add_argument_group("training")
    opt.add_argument("--loss", choices=tuple(LOSSES), help="default: hinge (classification), mse (regression)")
    opt.add_argument("--optimizer", choices=tuple(OPTIMIZERS), help="default: adam")
    opt.add_argument("--lr", type=float, help="learning rate (default: 0.01)")
    opt.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default: 0)")
    opt.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule (default: linear decay to lr-end)")
    opt.add_argument("--lr-end", type=float, help="linear schedule: final lr as a fraction (default: 0.1)")
    opt.add_argument("--decay-steps", type=int, help="linear schedule: epochs to decay over "
                                                     "(default: --epochs)")
    opt.add_argument("--l1", type=float, default=0.0, help="L1 penalty weight (default: 0)")
    opt.add_argument("--l2", type=float, default=1e-4, help="L2 penalty weight (default: 1e-4)")
    opt.add_argument("--epochs", type=int, help="0 trains until Ctrl-C (default: the data set's, 300; "
                                                "1000 for spiral and bumps, 500 for plane and sine)")
    opt.add_argument("--batch-size", type=int, default=0, help="0 for the full batch (default)")
    opt.add_argument("--tolerance", type=float, default=0.0, help="stop once the train loss is at or below it")
    opt.add_argument("--evals", type=int, default=1, help="independent runs with seeds seed..seed+evals-1; "
                                                          "the best run is saved (default: 1)")
    opt.add_argument("--engine", choices=ENGINES, default=ENGINES[0], help=f"default: {ENGINES[0]}")
    out = t.add_argument_group("output")
    out.add_argument("--out", metavar="FILE", help="write the trained model here (JSON)")
    out.add_argument("--quiet", "-q", action="store_true", help="no progress output")

    pr = sub.add_parser("predict", help="run a saved model on inputs",
                        description="Print the model's output (and class) for each input, as CSV.")
    pr.add_argument("model", metavar="MODEL")
    inp = pr.add_mutually_exclusive_group(required=True)
    inp.add_argument("--csv", metavar="FILE", help="CSV of inputs; a header row selects the model's feature "
                                                   "columns by name, other columns are ignored")
    inp.add_argument("--x", action="append", metavar="X1,X2,...", help="one input (repeatable)")

    inf = sub.add_parser("info", help="describe a saved model")
    inf.add_argument("model", metavar="MODEL")

    ex = sub.add_parser("export", help="write a saved model in a format other tools read",
                        description="Write a saved model as a standard ONNX graph (float64) for onnxruntime "
                                    "and other tools. Needs the onnx package: pip install '.[onnx]'.")
    ex.add_argument("model", metavar="MODEL")
    ex.add_argument("--format", choices=FORMATS, default=FORMATS[0], help=f"default: {FORMATS[0]}")
    ex.add_argument("--out", metavar="FILE", required=True, help="the file to write")

    gc = sub.add_parser("gradcheck", help="check a saved model's gradient against finite differences",
                        description="Compare the engine's gradient of the training objective (the loss plus "
                                    "the L1/L2 penalty) with central finite differences, parameter by "
                                    "parameter, at the model file's weights on its training data (rebuilt "
                                    "from the file), with torch.autograd.gradcheck's tolerances. Exit status "
                                    "0 if every parameter agrees, 1 if one does not.")
    gc.add_argument("model", metavar="MODEL")
    gc.add_argument("--engine", choices=ENGINES, help="default: the one the model was trained with")
    gc.add_argument("--parameters", metavar="N|all", type=_count,
                    help="check N parameters spread over the layers, or all (default: all, or as many as "
                         "the engine checks in about ten seconds)")
    return p


def _count(text):
    """--parameters: 'all' (None) or a positive number."""
    if text.strip().lower() == "all":
        return "all"
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number or 'all', got {text!r}")
    return n


def join_negative_values(argv):
    """`--x -0.5,0.2` -> `--x=-0.5,0.2`: argparse would take '-0.5,0.2' for an option."""
    out, i = [], 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--x" and i + 1 < len(argv) and argv[i + 1].startswith("-") and len(argv[i + 1]) > 1 \
                and (argv[i + 1][1].isdigit() or argv[i + 1][1] == "."):
            out.append(f"--x={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def data_spec(a):
    """The `DataSpec` the data flags describe (the split is seeded like the weights)."""
    if a.label and not a.csv:
        raise UsageError("--label only applies to --csv")
    name = a.dataset or "moons"
    samples = a.samples if a.samples is not None else PRESETS[name][0]
    spec = DataSpec(dataset=name, samples=samples, noise=a.noise, seed=a.seed,
                    csv=a.csv, label=a.label, test_ratio=a.test_ratio, split_seed=a.seed)
    try:
        spec.validate()
        return spec
    except ValueError as e:
        raise _flag_error(e) from None


def config(a, ds, spec):
    """The `Config` the flags describe, for the loaded `Dataset` ds of `spec`: what a flag leaves
    out is what choosing the data set sets in the window (config.for_data)."""
    hidden = _sizes(a.layers)
    feature_map = normalized(name.strip() for name in a.features.split(",")) if a.features else []
    try:
        base = for_data(Config(inputs=len(feature_map) or ds.X.shape[1], feature_map=feature_map, layers=hidden + [1],
                               activations=["relu"] * (len(hidden) + 1)), ds.task, None if spec.csv else spec.dataset)
        base.check_inputs(ds.X.shape[1])
    except ValueError as e:  # the sizes, the features
        raise _flag_error(e) from None
    acts = [s.strip() for s in a.activation.split(",")] if a.activation else base.activations[:-1]
    if len(acts) == 1:
        acts = acts * len(hidden)
    elif len(acts) != len(hidden):
        raise UsageError(f"--activation: {len(acts)} activations for {len(hidden)} hidden layers")
    bad = next((x for x in acts if x not in ACTIVATIONS), None)
    if bad is not None:
        raise UsageError(f"--activation: unknown activation {bad!r}; choose from {', '.join(ACTIVATIONS)}")
    given = {name: getattr(a, name) for name in ("loss", "optimizer", "lr", "schedule", "lr_end", "epochs")
             if getattr(a, name) is not None}
    epochs = given.get("epochs", base.epochs)
    try:
        cfg = base.replace(**given, activations=acts + [a.output_activation], init=a.init, bias_init=a.bias_init,
                           momentum=a.momentum, decay_steps=a.decay_steps if a.decay_steps is not None else
                           max(1, epochs or base.epochs), l1=a.l1, l2=a.l2, batch_size=a.batch_size,
                           tolerance=a.tolerance, evals=a.evals, seed=a.seed, engine=a.engine)
        cfg.check_task(ds.task)
    except ValueError as e:
        raise _flag_error(e) from None
    return cfg


def _flag_error(e):
    """A settings error naming the flag, not the field: 'training.lr: ...' -> '--lr: ...'."""
    msg = str(e)
    section, dot, rest = msg.partition(".")
    if dot and section in ("training", "data") and ":" in rest:
        name, tail = rest.split(":", 1)
        flag = {"split_seed": "seed", "dataset": "dataset", "feature_map": "features"}.get(name, name)
        msg = f"--{flag.replace('_', '-')}:{tail}"
    return UsageError(msg)
