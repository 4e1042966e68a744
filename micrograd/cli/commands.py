"""The commands: `micrograd train | predict | info | export | gradcheck`."""
from __future__ import annotations

import csv
import os

import numpy as np

from .. import gradcheck as gradient_check
from .. import modelfile, onnx_export
from ..config import DataSpec
from ..data import read_inputs
from ..session import Session
from ..train import Trainer
from .arguments import PROG, UsageError, config, data_spec, floats
from .progress import Interrupts, Progress, fmt

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_FINITE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


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


def train(a, out, err):
    spec = data_spec(a)
    ds, train_set, test_set = spec.load()
    session = Session(config(a, ds, spec), spec, loaded=(ds, train_set, test_set))
    cfg = session.config
    _check_out(a.out)
    progress = Progress(err, cfg, ds.task, quiet=a.quiet)
    where = a.csv if a.csv else f"{spec.dataset} ({spec.samples} points, noise {spec.noise})"
    if not a.quiet:
        err.write(f"training {_arch(cfg)} on {where}: {len(train_set)} train / {len(test_set)} test, "
                  f"{cfg.loss} loss, {cfg.optimizer} lr {cfg.lr:g}\n")
        reason = session.trainer.engine.fallback_reason
        if reason:
            err.write(f"note: {reason}\n")
    with Interrupts() as stop:
        while not session.finished:
            if stop.hit:
                session.stop()
                break
            e = session.step()
            progress.update(e, session.trainer.done)
        if stop.hit and session.trainer.history:
            progress.update(session.trainer.history[-1], True)
    summary = session.summary() if cfg.evals > 1 else None
    best = session.best() if any(t.history for t in session.runs) else None
    _print_summary(out, best, summary, ds.task, stop.hit)
    status = EXIT_INTERRUPTED if stop.hit else EXIT_OK
    if a.out and best is not None:
        try:
            session.save(a.out)
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
    out.write(f"train loss {fmt(e.train_loss)}  {mname} {fmt(e.train_metric, pct)}\n")
    if e.test_loss is not None:
        out.write(f"test  loss {fmt(e.test_loss)}  {mname} {fmt(e.test_metric, pct)}\n")
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
    inputs = f"{cfg.inputs} features ({', '.join(cfg.feature_map)})" if cfg.feature_map else str(cfg.inputs)
    return " -> ".join([inputs] + [f"{n} {a}" for n, a in zip(cfg.layers, cfg.activations)])


# --- predict / info ----------------------------------------------------------

def predict(a, out, err):
    """Each input with the model's output (and class) as CSV on stdout. An output that is not
    finite (nan, inf) is printed as such with an empty class, and the inputs that gave one are
    named on stderr: exit status EXIT_NOT_FINITE, so no script takes it for class 0."""
    model = modelfile.load(a.model)
    if a.csv:
        X, lines = read_inputs(a.csv, model.features)
    else:
        rows = [floats(x, "--x") for x in a.x]
        bad = next((r for r in rows if len(r) != model.inputs), None)
        if bad is not None:
            raise UsageError(f"--x: the model takes {model.inputs} inputs "
                             f"({', '.join(model.features)}), got {len(bad)}")
        X = np.array(rows, dtype=np.float64)
    y = model.predict(X)[:, 0] if len(X) else np.zeros(0)
    classify = model.task == "classification"
    w = csv.writer(out, lineterminator="\n")
    w.writerow([*model.features, "output", *(["class"] if classify else [])])
    classes = model.class_names(X) if classify and len(X) else []
    for i, (x, v) in enumerate(zip(X.tolist(), y.tolist())):
        w.writerow([*map(repr, x), repr(v), *([classes[i] or ""] if classify else [])])
    bad = np.flatnonzero(~np.isfinite(y)).tolist()
    if bad:
        named = ", ".join(f"line {lines[i]}" if a.csv else f"--x #{i + 1}" for i in bad[:10]) \
            + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
        source = f" of {a.csv}" if a.csv else ""
        err.write(f"{PROG}: error: the output is not a finite number for {len(bad)} of {len(y)} inputs "
                  f"({named}{source}){'; they have no class' if classify else ''}. The model may have "
                  "diverged in training, or these inputs lie far outside its training data\n")
        return EXIT_NOT_FINITE
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
                out.write(f"  {side:<5} loss {fmt(loss)}  {mname} {fmt(met, pct)}\n")
        s = mt.get("summary")
        if isinstance(s, dict) and isinstance(s.get("runs"), int):
            out.write(f"  over {s['runs']} runs: saved run {mt.get('run', 0) + 1}")
            tm = s.get("test_metric") or s.get("train_metric")
            if isinstance(tm, dict) and all(isinstance(tm.get(k), (int, float)) for k in ("mean", "std")):
                out.write(f", {mname} {fmt(tm['mean'], pct)} +- {fmt(tm['std'], pct)}")
            out.write("\n")
    if m.history.get("epoch"):
        out.write(f"history       {len(m.history['epoch'])} points\n")
    return EXIT_OK


def export(a, out, err):
    m = modelfile.load(a.model)
    try:
        onnx_export.save(a.out, m.weights, m.activations, m.features, m.feature_map)
    except onnx_export.ExportError as e:
        err.write(f"{PROG}: error: {e}\n")
        return EXIT_FAIL
    out.write(f"saved {a.out}\n")
    return EXIT_OK


def gradcheck(a, out, err):
    """The gradient at the file's weights on its training split, against finite differences:
    the per-layer table and PASS or FAIL; EXIT_FAIL on FAIL."""
    m = modelfile.load(a.model)
    spec = DataSpec.from_block(m.data)
    if spec is None:
        raise UsageError(f"{a.model}: the file names no data set that can be rebuilt (neither a built-in "
                         "one nor a CSV file), so there is no training data to check the gradient on")
    try:
        ds, train_set, _ = spec.load()
    except (ValueError, OSError) as e:  # DataError is a ValueError
        raise UsageError(f"{a.model}: its training data could not be rebuilt: {e}") from None
    if ds.X.shape[1] != m.inputs:
        raise UsageError(f"{a.model}: the network takes {m.inputs} inputs but its data has {ds.X.shape[1]} features")
    cfg = m.config.replace(engine=a.engine or m.config.engine)
    trainer = Trainer(cfg, train_set, weights=m.weights)
    count = None if a.parameters == "all" else a.parameters or gradient_check.affordable(trainer)
    engine = trainer.engine
    if engine.fallback_reason:
        err.write(f"note: {engine.fallback_reason}\n")
    X, _ = gradient_check.batch(trainer)
    penalties = "".join(f" + {name} {w:g}" for name, w in (("l1", cfg.l1), ("l2", cfg.l2)) if w)
    out.write(f"gradient check of {a.model}: {_arch(cfg)}, {engine.name} engine\n")
    out.write(f"objective: {cfg.loss} loss{penalties} on {len(X)} training samples of {spec.name}\n")
    out.write(f"central differences, eps {gradient_check.EPS:g}; a parameter passes when "
              f"|analytic - numeric| <= {gradient_check.ATOL:g} + {gradient_check.RTOL:g} |numeric|\n")
    report = gradient_check.check_trainer(trainer, count)
    out.write(f"objective value {report.loss:.6g}\n")
    for line in gradient_check.table(report):
        out.write(line + "\n")
    out.write(report.verdict() + "\n")
    return EXIT_OK if report.passed else EXIT_FAIL


# --- entry point ---------------------------------------------------------------
