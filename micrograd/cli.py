"""The command line: `micrograd train | predict | info` (also `python -m micrograd`).

    micrograd train --dataset moons --epochs 100 --out model.json
    micrograd train --csv points.csv --label kind --layers 8,8 --activation tanh --out m.json
    micrograd predict model.json --x 0.5,-0.2
    micrograd predict model.json --csv points.csv
    micrograd info model.json

Exit status: 0 on success, 2 on bad usage or bad input (one line on stderr, no
traceback), 1 if the model could not be written, 130 if training was
interrupted with Ctrl-C (the model and summary are still written).
"""
from __future__ import annotations

import argparse
import csv
import math
import os
import signal
import sys
import threading
import time

import numpy as np

from . import modelfile
from .data import DATASETS, DataError, load_csv, make_dataset, read_rows, split
from .losses import LOSSES
from .nn import ACTIVATIONS
from .optim import OPTIMIZERS, SCHEDULES
from .train import ENGINES, Config, Session

PROG = "micrograd"
CLASSIFICATION_LOSSES = ("hinge", "bce")
# Regression on the Value engine: relu with lr 1.0 diverges on `sine` within ten epochs;
# tanh at 0.05 (constant) trains every built-in regression set. Classification keeps
# Config's defaults, which are the micrograd demo (hinge, relu, SGD 1.0 -> 0.1).
REGRESSION_DEFAULTS = {"loss": "mse", "activation": "tanh", "lr": 0.05, "schedule": "constant"}
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad usage or bad input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + error, and no SystemExit
        raise UsageError(f"{message} (see '{self.prog} --help')")


# --- argument parsing ----------------------------------------------------------

def _floats(text, what):
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
    src.add_argument("--samples", type=int, default=100, help="points in a built-in dataset (default: 100)")
    src.add_argument("--noise", type=float, default=0.1, help="noise of a built-in dataset (default: 0.1)")
    src.add_argument("--test-ratio", type=float, default=0.2, help="share held out for testing (default: 0.2)")
    src.add_argument("--seed", type=int, default=0,
                     help="seed for the data, the split and the initial weights (default: 0)")
    net = t.add_argument_group("network")
    net.add_argument("--layers", default="16,16", help="hidden layer sizes; an output layer of 1 is added "
                                                       "(default: 16,16; 'none' for a linear model)")
    net.add_argument("--activation", help=f"hidden activation, or one per hidden layer like relu,tanh "
                                          f"({', '.join(ACTIVATIONS)}; default: relu, tanh for regression)")
    net.add_argument("--output-activation", choices=ACTIVATIONS, default="linear", help="default: linear")
    net.add_argument("--bias-init", choices=("zero", "uniform"), default="zero", help="default: zero")
    opt = t.add_argument_group("training")
    opt.add_argument("--loss", choices=tuple(LOSSES), help="default: hinge (classification), mse (regression)")
    opt.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="sgd", help="default: sgd")
    opt.add_argument("--lr", type=float, help="learning rate (default: 1.0; 0.05 for regression; 0.01 for adam)")
    opt.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default: 0)")
    opt.add_argument("--schedule", choices=SCHEDULES,
                     help="learning-rate schedule (default: linear decay to lr-end; constant for regression)")
    opt.add_argument("--lr-end", type=float, default=0.1, help="linear schedule: final lr as a fraction (default: 0.1)")
    opt.add_argument("--decay-steps", type=int, help="linear schedule: epochs to decay over "
                                                     "(default: --epochs)")
    opt.add_argument("--l1", type=float, default=0.0, help="L1 penalty weight (default: 0)")
    opt.add_argument("--l2", type=float, default=1e-4, help="L2 penalty weight (default: 1e-4)")
    opt.add_argument("--epochs", type=int, default=100, help="default: 100")
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
    return p


# --- train -------------------------------------------------------------------

def _load_data(a):
    if a.csv:
        ds = load_csv(a.csv, a.label)
    else:
        if a.label:
            raise UsageError("--label only applies to --csv")
        ds = make_dataset(a.dataset or "moons", a.samples, a.noise, a.seed)
    return ds


def _config(a, ds):
    reg = ds.task == "regression"
    hidden = _sizes(a.layers)
    act = a.activation or (REGRESSION_DEFAULTS["activation"] if reg else "relu")
    acts = [s.strip() for s in act.split(",")]
    if len(acts) == 1:
        acts = acts * len(hidden)
    elif len(acts) != len(hidden):
        raise UsageError(f"--activation: {len(acts)} activations for {len(hidden)} hidden layers")
    bad = next((x for x in acts if x not in ACTIVATIONS), None)
    if bad is not None:
        raise UsageError(f"--activation: unknown activation {bad!r}; choose from {', '.join(ACTIVATIONS)}")
    loss = a.loss or (REGRESSION_DEFAULTS["loss"] if reg else "hinge")
    if reg and loss in CLASSIFICATION_LOSSES:
        raise UsageError(f"--loss {loss} needs classification data, but the label is numeric "
                         f"with more than two values (regression); use mse or sse")
    lr = a.lr if a.lr is not None else (0.01 if a.optimizer == "adam" else
                                        REGRESSION_DEFAULTS["lr"] if reg else 1.0)
    schedule = a.schedule or (REGRESSION_DEFAULTS["schedule"] if reg else "linear")
    cfg = Config(inputs=ds.X.shape[1], layers=hidden + [1], activations=acts + [a.output_activation],
                 bias_init=a.bias_init, loss=loss, optimizer=a.optimizer, lr=lr, momentum=a.momentum,
                 schedule=schedule, lr_end=a.lr_end,
                 decay_steps=a.decay_steps if a.decay_steps is not None else max(1, a.epochs),
                 l1=a.l1, l2=a.l2, batch_size=a.batch_size, epochs=a.epochs, tolerance=a.tolerance,
                 evals=a.evals, seed=a.seed, engine=a.engine)
    try:
        cfg.validate()
    except ValueError as e:  # name the flag, not the field
        msg = str(e)
        if msg.startswith("training."):
            field_, rest = msg[len("training."):].split(":", 1)
            msg = f"--{field_.replace('_', '-')}:{rest}"
        raise UsageError(msg) from None
    return cfg


def _check_out(path):
    """Fail before training, not after, when the model could not be written."""
    if path is None:
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"--out {path}: is a directory")
    if not os.path.isdir(directory):
        raise UsageError(f"--out {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise UsageError(f"--out {path}: directory {directory} is not writable")


def _fmt(v, pct=False):
    if v is None:
        return "-"
    if pct:
        return f"{100 * v:.1f}%"
    return f"{v:.4g}"


class Progress:
    """Training progress on stderr: a redrawn bar on a terminal (at most ~10 redraws a second),
    otherwise one plain line every `every` epochs plus the last one."""

    def __init__(self, stream, cfg, task, tty=None, quiet=False, min_interval=0.1):
        self.stream, self.cfg, self.quiet = stream, cfg, quiet
        self.tty = stream.isatty() if tty is None else tty
        self.pct = task == "classification"
        self.mname = "acc" if self.pct else "R2"
        self.every = max(1, cfg.epochs // 10)
        self.min_interval = min_interval
        self.last_draw = -math.inf
        self.width = 0

    def _text(self, e, done):
        runs = f"run {e.run + 1}/{self.cfg.evals} " if self.cfg.evals > 1 else ""
        rate = e.epoch / e.elapsed if e.elapsed > 0 else 0.0
        parts = [f"{runs}epoch {e.epoch}/{self.cfg.epochs}", f"loss {_fmt(e.train_loss)}"]
        if e.test_loss is not None:
            parts.append(f"test {_fmt(e.test_loss)}")
        if e.train_metric is not None:
            parts.append(f"{self.mname} {_fmt(e.train_metric, self.pct)}")
        if e.test_metric is not None:
            parts.append(f"test {self.mname} {_fmt(e.test_metric, self.pct)}")
        parts.append(f"{rate:.1f} epochs/s")
        if not done and rate > 0:
            parts.append(f"ETA {_duration((self.cfg.epochs - e.epoch) / rate)}")
        return "  ".join(parts)

    def update(self, e, done):
        if self.quiet:
            return
        if self.tty:
            now = time.monotonic()
            if not done and now - self.last_draw < self.min_interval:
                return
            self.last_draw = now
            frac = e.epoch / self.cfg.epochs
            bar = "#" * int(20 * frac) + "-" * (20 - int(20 * frac))
            text = f"[{bar}] {self._text(e, done)}"
            pad = " " * max(0, self.width - len(text))
            self.width = len(text)
            self.stream.write("\r" + text + pad + ("\n" if done else ""))
            self.stream.flush()
        elif done or e.epoch % self.every == 0:
            self.stream.write(self._text(e, done) + (f"  ({e.stop})" if done and e.stop else "") + "\n")
            self.stream.flush()


def _duration(s):
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    return f"{s // 3600}h{s // 60 % 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class _Interrupts:
    """Ctrl-C sets a flag the loop checks between epochs; a second Ctrl-C aborts at once."""

    def __init__(self):
        self.hit = False
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _best(runs):
    """The run to save: lowest final test loss (train loss without a test set); diverged runs last."""
    def key(t):
        e = t.history[-1]
        loss = e.test_loss if e.test_loss is not None else e.train_loss
        diverged = e.stop is not None and e.stop.startswith("diverged")
        return (diverged, loss if loss is not None and math.isfinite(loss) else math.inf, t.run)
    return min((t for t in runs if t.history), key=key)


def train(a, out, err):
    ds = _load_data(a)
    cfg = _config(a, ds)
    _check_out(a.out)
    train_set, test_set = split(ds, a.test_ratio, a.seed)
    session = Session(cfg, train_set, test_set)
    progress = Progress(err, cfg, ds.task, quiet=a.quiet)
    where = a.csv if a.csv else f"{ds.source['dataset']} ({len(ds)} points, noise {ds.source['noise']})"
    if not a.quiet:
        err.write(f"training {_arch(cfg)} on {where}: {len(train_set)} train / {len(test_set)} test, "
                  f"{cfg.loss} loss, {cfg.optimizer} lr {cfg.lr:g}\n")
    with _Interrupts() as stop:
        for trainer in session.trainers():
            reason = trainer.engine.fallback_reason
            if reason and trainer.run == 0 and not a.quiet:
                err.write(f"note: {reason}\n")
            while not trainer.done:
                if stop.hit:
                    trainer.stop()
                    break
                e = trainer.step()
                progress.update(e, trainer.done)
            if stop.hit:
                if trainer.history:
                    progress.update(trainer.history[-1], True)
                break
    summary = session.summary() if cfg.evals > 1 else None
    best = _best(session.runs) if any(t.history for t in session.runs) else None
    _print_summary(out, best, summary, ds.task, stop.hit)
    status = EXIT_INTERRUPTED if stop.hit else EXIT_OK
    if a.out and best is not None:
        try:
            modelfile.save_trainer(a.out, best, ds, summary, test_ratio=a.test_ratio, split_seed=a.seed)
        except OSError as e:
            err.write(f"{PROG}: error: could not write {a.out}: {e.strerror or e}\n")
            return EXIT_FAIL
        out.write(f"saved {a.out}\n")
    return status


def _print_summary(out, best, summary, task, interrupted):
    if best is None:
        out.write("no epoch finished\n")
        return
    e = best.history[-1]
    pct = task == "classification"
    mname = "accuracy" if pct else "R^2"
    if interrupted:
        out.write("interrupted: training stopped by Ctrl-C\n")
    runs = f" (best of {summary['runs']} runs: run {best.run + 1}, seed {best.seed})" if summary else ""
    out.write(f"stopped: {e.stop} after {e.epoch} epochs in {e.elapsed:.2f}s{runs}\n")
    out.write(f"train loss {_fmt(e.train_loss)}  {mname} {_fmt(e.train_metric, pct)}\n")
    if e.test_loss is not None:
        out.write(f"test  loss {_fmt(e.test_loss)}  {mname} {_fmt(e.test_metric, pct)}\n")
    if summary:
        out.write(f"over {summary['runs']} runs:          mean        std        min        max\n")
        for key, label in (("train_loss", "train loss"), ("test_loss", "test loss"),
                           ("train_metric", f"train {mname}"), ("test_metric", f"test {mname}"),
                           ("epochs_to_tolerance", "epochs to tol")):
            s = summary.get(key)
            if s:
                out.write(f"  {label:<16}" + "".join(f"{s[k]:>11.4g}" for k in ("mean", "std", "min", "max")) + "\n")
        out.write(f"  converged        {100 * summary['converged']:.0f}% of runs reached the tolerance\n")


def _arch(cfg):
    return " -> ".join([str(cfg.inputs)] + [f"{n} {a}" for n, a in zip(cfg.layers, cfg.activations)])


# --- predict / info ----------------------------------------------------------

def _read_inputs(path, model):
    """Rows of inputs from a CSV: a header selects the model's features by name; without one the
    first `inputs` columns are used (a trailing label column is ignored)."""
    cells, lines = read_rows(path)
    rows = list(zip(lines, cells))
    if not rows:
        raise DataError(f"{path}: file is empty")
    n = model.inputs

    def num(c):
        try:
            return math.isfinite(float(c))
        except ValueError:
            return False

    first = rows[0][1]
    if not any(num(c) for c in first):
        missing = [f for f in model.features if f not in first]
        if missing:
            raise DataError(f"{path}: line {rows[0][0]}: no column {missing[0]!r}; "
                            f"the model's inputs are {', '.join(model.features)}")
        cols, names, rows = [first.index(f) for f in model.features], list(model.features), rows[1:]
    else:
        cols, names = list(range(n)), list(model.features)
    X = []
    for line, r in rows:
        if len(r) <= max(cols, default=-1):
            raise DataError(f"{path}: line {line} has {len(r)} cells; the model takes {n} inputs")
        cells = [r[i] for i in cols]
        bad = next((c for c in cells if not num(c)), None)
        if bad is not None:
            raise DataError(f"{path}: line {line}: {bad!r} is not a finite number")
        X.append([float(c) for c in cells])
    return np.array(X, dtype=np.float64).reshape(len(X), n), names


def predict(a, out, err):
    model = modelfile.load(a.model)
    if a.csv:
        X, names = _read_inputs(a.csv, model)
    else:
        rows = [_floats(x, "--x") for x in a.x]
        bad = next((r for r in rows if len(r) != model.inputs), None)
        if bad is not None:
            raise UsageError(f"--x: the model takes {model.inputs} inputs "
                             f"({', '.join(model.features)}), got {len(bad)}")
        X, names = np.array(rows, dtype=np.float64), model.features
    y = model.predict(X)[:, 0] if len(X) else np.zeros(0)
    classify = model.task == "classification"
    w = csv.writer(out, lineterminator="\n")
    w.writerow([*names, "output", *(["class"] if classify else [])])
    classes = model.class_names(X) if classify and len(X) else []
    for i, (x, v) in enumerate(zip(X.tolist(), y.tolist())):
        w.writerow([*map(repr, x), repr(v), *([classes[i]] if classify else [])])
    return EXIT_OK


def info(a, out, err):
    m = modelfile.load(a.model)
    cfg, d = m.config, m.data
    out.write(f"model         {m.path}  ({modelfile.FORMAT} v{modelfile.VERSION})\n")
    out.write(f"architecture  {_arch(cfg)}\n")
    out.write(f"parameters    {m.parameter_count}\n")
    if d:
        src = (d.get("csv") or (f"{d['dataset']} ({d.get('samples')} points, noise {d.get('noise')}, "
                                f"seed {d.get('seed')})" if "dataset" in d else "?"))
        task = d.get("task", "?")
        classes = f", classes {', '.join(d['classes'])}" if d.get("classes") else ""
        out.write(f"data          {src}: {task}, inputs {', '.join(m.features)} -> {d.get('label', '?')}"
                  f"{classes}\n")
    out.write(f"training      {cfg.loss} loss, {cfg.optimizer} lr {cfg.lr:g} ({cfg.schedule}), "
              f"l1 {cfg.l1:g}, l2 {cfg.l2:g}, batch {cfg.batch_size or 'full'}, epochs {cfg.epochs}, "
              f"seed {cfg.seed}, evals {cfg.evals}\n")
    mt = m.metrics
    if mt:
        pct = m.task == "classification"
        mname = "accuracy" if pct else "R^2"
        out.write(f"result        {mt.get('stop', '?')} after {mt.get('epoch', '?')} epochs\n")
        for side in ("train", "test"):
            loss, met = mt.get(f"{side}_loss"), mt.get(f"{side}_metric")
            if isinstance(loss, (int, float)) or isinstance(met, (int, float)):
                out.write(f"  {side:<5} loss {_fmt(loss)}  {mname} {_fmt(met, pct)}\n")
        s = mt.get("summary")
        if isinstance(s, dict) and isinstance(s.get("runs"), int):
            out.write(f"  over {s['runs']} runs: saved run {mt.get('run', 0) + 1}")
            tm = s.get("test_metric") or s.get("train_metric")
            if isinstance(tm, dict) and all(isinstance(tm.get(k), (int, float)) for k in ("mean", "std")):
                out.write(f", {mname} {_fmt(tm['mean'], pct)} +- {_fmt(tm['std'], pct)}")
            out.write("\n")
    if m.history.get("epoch"):
        out.write(f"history       {len(m.history['epoch'])} points\n")
    return EXIT_OK


# --- entry point ---------------------------------------------------------------

def _join_negative_values(argv):
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


def main(argv=None, stdout=None, stderr=None):
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    parser = build_parser()
    argv = _join_negative_values(sys.argv[1:] if argv is None else list(argv))
    try:
        a = parser.parse_args(argv)
        return {"train": train, "predict": predict, "info": info}[a.command](a, out, err)
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else EXIT_OK
    except (UsageError, DataError, modelfile.ModelFileError, ValueError) as e:
        msg = " ".join(str(e).split())  # always one line
        err.write(f"{PROG}: error: {msg}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write(f"\n{PROG}: interrupted\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `micrograd predict ... | head`: stop quietly
        try:  # as the Python docs advise: keep the interpreter's final flush from failing again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
