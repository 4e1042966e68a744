"""The command line, end to end: train -> model file -> predict / info, and every refusal."""
import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from micrograd import cli, modelfile, ops
from micrograd.data import make_dataset
from micrograd.config import Config
from micrograd.nn import ACTIVATIONS
from micrograd.train import STOPPED, Trainer

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--samples", "40", "--epochs", "6", "--layers", "6"]


def run_cli(capsys, *argv):
    rc = cli.main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "model.json"
    assert cli.main(["train", "--dataset", "moons", *FAST, "--quiet", "--out", str(path)],
                    stdout=io.StringIO(), stderr=io.StringIO()) == 0
    return path


def parse_predictions(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def test_train_writes_a_model_and_summary(capsys, tmp_path):
    out_path = tmp_path / "m.json"
    rc, out, err = run_cli(capsys, "train", "--dataset", "moons", *FAST, "--out", out_path)
    assert rc == 0
    assert "stopped: epochs exhausted after 6 epochs" in out and "accuracy" in out
    assert f"saved {out_path}" in out
    m = modelfile.load(out_path)
    assert m.config.layers == [6, 1] and m.config.loss == "hinge" and m.config.epochs == 6
    assert m.data["dataset"] == "moons" and m.data["test_ratio"] == 0.2 and m.data["task"] == "classification"
    assert m.metrics["epoch"] == 6 and len(m.history["epoch"]) == 6
    assert "Traceback" not in err


def test_predict_matches_in_process_model(capsys, model_path):
    rc, out, err = run_cli(capsys, "predict", model_path, "--x", "0.5,-0.2", "--x", "-1,0.75")
    assert rc == 0, err
    header, rows = parse_predictions(out)
    assert header == ["x1", "x2", "output", "class"]
    m = modelfile.load(model_path)
    X = np.array([[0.5, -0.2], [-1, 0.75]])
    assert [float(r[2]) for r in rows] == m.predict(X)[:, 0].tolist()  # repr: exact
    assert [r[3] for r in rows] == m.class_names(X)


def test_negative_first_value_is_not_an_option(capsys, model_path):
    rc, out, _ = run_cli(capsys, "predict", model_path, "--x", "-0.5,0.2")
    assert rc == 0 and parse_predictions(out)[1][0][:2] == ["-0.5", "0.2"]


def test_predict_csv_with_header_and_label(capsys, model_path, tmp_path):
    ds = make_dataset("moons", 12, 0.1, 5)
    p = tmp_path / "in.csv"
    with open(p, "w", newline="") as f:  # columns in another order, plus the label: picked by name
        w = csv.writer(f)
        w.writerow(["y", "x2", "x1"])
        for (a, b), y in zip(ds.X.tolist(), ds.y.tolist()):
            w.writerow([y, repr(b), repr(a)])
    rc, out, err = run_cli(capsys, "predict", model_path, "--csv", p)
    assert rc == 0, err
    _, rows = parse_predictions(out)
    np.testing.assert_array_equal([float(r[2]) for r in rows], modelfile.load(model_path).predict(ds.X)[:, 0])


def test_info(capsys, model_path):
    rc, out, _ = run_cli(capsys, "info", model_path)
    assert rc == 0
    assert "2 -> 6 relu -> 1 linear" in out
    assert f"parameters    {6 * 3 + 7}" in out
    assert "moons" in out and "epochs exhausted after 6 epochs" in out and "accuracy" in out


def test_features_train_predict_and_info(capsys, tmp_path):
    path = tmp_path / "f.json"
    rc, out, err = run_cli(capsys, "train", "--dataset", "circles", "--layers", "none", "--features",
                           "x1, x2,x1sq,x2sq", "--epochs", "5", "--out", path)
    assert rc == 0, err
    assert err.startswith("training 4 features (x1, x2, x1sq, x2sq) -> 1 linear on circles")
    m = modelfile.load(path)
    assert m.feature_map == ["x1", "x2", "x1sq", "x2sq"] and m.inputs == 2
    rc, out, err = run_cli(capsys, "predict", path, "--x", "0.5,-0.2", "--x", "-1,0.75")
    assert rc == 0, err
    header, rows = parse_predictions(out)
    assert header == ["x1", "x2", "output", "class"]  # the data's inputs: the map is the model's business
    assert [float(r[2]) for r in rows] == m.predict([[0.5, -0.2], [-1, 0.75]])[:, 0].tolist()
    rc, out, _ = run_cli(capsys, "predict", path, "--x", "1,2,3,4")
    assert rc == 2
    rc, out, _ = run_cli(capsys, "info", path)
    assert "architecture  4 features (x1, x2, x1sq, x2sq) -> 1 linear" in out and "inputs x1, x2 -> y" in out


def test_features_x1_x2_are_no_map(capsys, tmp_path):
    path = tmp_path / "raw.json"
    assert run_cli(capsys, "train", "--features", "x1,x2", *FAST, "--out", path)[0] == 0
    assert modelfile.load(path).feature_map == [] and "feature_map" not in path.read_text()


def test_subprocess_train_then_predict_matches(tmp_path, capsys):
    path = tmp_path / "sub.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    p = subprocess.run([sys.executable, "-m", "micrograd", "train", "--dataset", "xor", "--samples", "40",
                        "--epochs", "20", "--layers", "5", "--out", str(path)],
                       capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    # not a terminal: plain progress lines (every 2 epochs of 20, plus the header), no carriage returns
    assert "\r" not in p.stderr
    lines = p.stderr.splitlines()
    assert lines[0].startswith("training 2 -> 5 relu -> 1 linear on xor")
    assert [ln.split()[1] for ln in lines[1:]] == [f"{k}/20" for k in range(2, 21, 2)]
    assert "(epochs exhausted)" in lines[-1]
    sub = subprocess.run([sys.executable, "-m", "micrograd", "predict", str(path), "--x", "0.3,-1.2"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert sub.returncode == 0, sub.stderr
    rc, out, _ = run_cli(capsys, "predict", path, "--x", "0.3,-1.2")
    assert rc == 0 and sub.stdout == out


def test_csv_dataset_with_text_classes(capsys, tmp_path):
    ds = make_dataset("gaussian", 40, 0.1, 2)
    p = tmp_path / "pets.csv"
    with open(p, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["weight", "height", "kind"])
        for (a, b), y in zip(ds.X.tolist(), ds.y.tolist()):
            w.writerow([a, b, "dog" if y else "cat"])
    out_path = tmp_path / "pets.json"
    rc, out, err = run_cli(capsys, "train", "--csv", p, "--label", "kind", "--epochs", "150", "--layers", "4",
                           "--quiet", "--out", out_path)
    assert rc == 0, err
    assert err == ""  # --quiet
    m = modelfile.load(out_path)
    assert m.classes == ["cat", "dog"] and m.features == ["weight", "height"] and m.data["csv"] == str(p)
    rc, out, _ = run_cli(capsys, "predict", out_path, "--x", "-1,-1", "--x", "1,1")
    _, rows = parse_predictions(out)
    assert [r[3] for r in rows] == ["cat", "dog"]


def test_regression_defaults_and_evals_summary(capsys, tmp_path):
    out_path = tmp_path / "sine.json"
    rc, out, err = run_cli(capsys, "train", "--dataset", "sine", "--samples", "30", "--epochs", "8",
                           "--evals", "3", "--layers", "6", "--quiet", "--out", out_path)
    assert rc == 0, err
    assert "over 3 runs:" in out and "train R^2" in out and "best of 3 runs" in out
    m = modelfile.load(out_path)
    assert (m.config.loss, m.config.activations, m.config.optimizer) == ("mse", ["tanh", "linear"], "adam")
    assert m.metrics["summary"]["runs"] == 3 and m.task == "regression"
    rc, out, _ = run_cli(capsys, "predict", out_path, "--x", "0.5")
    assert parse_predictions(out)[0] == ["x1", "output"]


def test_per_layer_activations(capsys, tmp_path):
    rc, _, err = run_cli(capsys, "train", "--samples", "20", "--epochs", "2", "--layers", "4,3",
                         "--activation", "relu,tanh", "--output-activation", "sigmoid", "--loss", "mse",
                         "--quiet", "--out", tmp_path / "a.json")
    assert rc == 0, err
    assert modelfile.load(tmp_path / "a.json").config.activations == ["relu", "tanh", "sigmoid"]


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation_trains_and_predicts(capsys, tmp_path, act):
    rc, _, err = run_cli(capsys, "train", "--samples", "20", "--epochs", "2", "--layers", "4",
                         "--activation", act, "--loss", "mse", "--quiet", "--out", tmp_path / "a.json")
    assert rc == 0, err
    assert modelfile.load(tmp_path / "a.json").config.activations == [act, "linear"]
    rc, out, err = run_cli(capsys, "predict", tmp_path / "a.json", "--x", "0.5,-0.2")
    assert rc == 0, err


def test_ctrl_c_stops_gracefully_and_still_saves(capsys, tmp_path, monkeypatch):
    # What SIGINT did before: Python's handler, or SIG_IGN in a job a shell started in the
    # background (as scripts/stress-check.sh's does), which is not ours to change.
    before = signal.getsignal(signal.SIGINT)
    real_step = Trainer.step

    def step(self, check=None):
        rec = real_step(self, check)
        if rec.epoch == 3:
            signal.raise_signal(signal.SIGINT)  # the handler only sets a flag
        return rec
    monkeypatch.setattr(Trainer, "step", step)
    out_path = tmp_path / "int.json"
    rc, out, err = run_cli(capsys, "train", "--samples", "20", "--epochs", "50", "--out", out_path)
    assert rc == 130
    assert "interrupted" in out and f"saved {out_path}" in out and "Traceback" not in err
    m = modelfile.load(out_path)
    assert m.metrics["epoch"] == 3 and m.metrics["stop"] == STOPPED
    assert signal.getsignal(signal.SIGINT) is before  # restored


def test_progress_bar_on_a_terminal_is_throttled():
    cfg = Config(epochs=50)
    t = Trainer(cfg, make_dataset("moons", 10))
    stream = io.StringIO()
    bar = cli.Progress(stream, cfg, "classification", tty=True, min_interval=3600)
    for _ in range(5):
        bar.update(t.step(), done=False)
    t.stop()
    bar.update(t.history[-1], done=True)
    text = stream.getvalue()
    draws = text.split("\r")[1:]
    assert len(draws) == 2  # the first, then nothing until the end
    assert draws[0].startswith("[") and "epoch 1/50" in draws[0] and "ETA" in draws[0]
    assert "epoch 5/50" in draws[1] and draws[1].endswith("\n") and "epochs/s" in draws[1]


def test_help_exits_zero(capsys):
    assert cli.main(["--help"]) == 0
    assert "train" in capsys.readouterr().out
    assert cli.main(["train", "--help"]) == 0
    assert "--output-activation" in capsys.readouterr().out


def _bad_files(tmp):
    garbage = tmp / "garbage.json"
    garbage.write_text('{"format": "micrograd-model", "version": 1, "architecture": ')
    badcsv = tmp / "bad.csv"
    badcsv.write_text("x1,x2,y\n1,2,0\n3,oops,1\n")
    return garbage, badcsv


BAD = [  # (argv with {model}/{garbage}/{badcsv}/{tmp} placeholders, text the message must contain)
    ([], "required: COMMAND"),
    (["fly"], "invalid choice: 'fly'"),
    (["train", "--bogus"], "unrecognized arguments: --bogus"),
    (["train", "--dataset", "nope"], "invalid choice: 'nope'"),
    (["train", "--dataset", "moons", "--csv", "x.csv"], "not allowed with argument"),
    (["train", "--csv", "{tmp}/missing.csv"], "missing.csv: file not found"),
    (["train", "--csv", "{badcsv}"], "line 3, column 'x2': 'oops' is not a number"),
    (["train", "--label", "y"], "--label only applies to --csv"),
    (["train", "--samples", "1"], "--samples: must be 2..100000, got 1"),
    (["train", "--lr", "-1"], "--lr: must be in [1e-12, 1000]"),
    (["train", "--noise", "11"], "--noise: must be in [0, 10]"),
    (["train", "--lr", "fast"], "argument --lr: invalid float value"),
    (["train", "--epochs", "-1"], "--epochs: must be 0 (until stopped) or 1..1000000"),
    (["train", "--epochs", "0", "--evals", "2"], "--evals: must be 1 when a run trains until stopped"),
    (["train", "--test-ratio", "2"], "--test-ratio: must be in [0, 0.9]"),
    (["train", "--noise", "nan"], "--noise: expected float"),
    (["train", "--layers", "a,b"], "--layers: expected comma-separated hidden sizes"),
    (["train", "--layers", "100"], "--layers: sizes must be integers 1..64"),
    (["train", "--layers", "4,4", "--activation", "relu,tanh,relu"], "3 activations for 2 hidden layers"),
    (["train", "--activation", "gelu"], "unknown activation 'gelu'"),
    (["train", "--dataset", "sine", "--loss", "hinge"], "--loss: hinge needs classification data"),
    (["train", "--features", "x1,cosx1"], "--features: unknown feature 'cosx1'; choose from x1, x2, x1sq"),
    (["train", "--features", "x1sq,x1sq"], "--features: the feature 'x1sq' is given twice"),
    (["train", "--dataset", "sine", "--features", "x1sq"], "--features: input features are computed from 2 inputs "
                                                           "(x1, x2), but the data has 1"),
    (["train", "--out", "{tmp}/no/such/dir/m.json"], "does not exist"),
    (["train", "--out", "{tmp}"], "is a directory"),
    (["predict", "{tmp}/none.json", "--x", "1,2"], "none.json: file not found"),
    (["predict", "{garbage}", "--x", "1,2"], "truncated JSON"),
    (["predict", "{tmp}", "--x", "1,2"], "is a directory"),
    (["predict", "{model}"], "one of the arguments --csv --x is required"),
    (["predict", "{model}", "--x", "1,2,3"], "the model takes 2 inputs (x1, x2), got 3"),
    (["predict", "{model}", "--x", "1,nan"], "--x: numbers must be finite"),
    (["predict", "{model}", "--x", "1;2"], "--x: expected comma-separated numbers"),
    (["predict", "{model}", "--csv", "{badcsv}"], "line 3, column 'x2': 'oops' is not a number"),
    (["info", "{garbage}"], "truncated JSON"),
    (["gradcheck", "{tmp}/none.json"], "none.json: file not found"),
    (["gradcheck", "{model}", "--parameters", "0"], "expected a positive number or 'all', got '0'"),
    (["gradcheck", "{model}", "--engine", "gpu"], "invalid choice: 'gpu'"),
]


@pytest.mark.parametrize("argv,expect", BAD, ids=[" ".join(a) or "no-args" for a, _ in BAD])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, model_path, argv, expect):
    garbage, badcsv = _bad_files(tmp_path)
    subs = {"{model}": str(model_path), "{garbage}": str(garbage), "{badcsv}": str(badcsv), "{tmp}": str(tmp_path)}
    args = []
    for a in argv:
        for k, v in subs.items():
            a = a.replace(k, v)
        args.append(a)
    rc, out, err = run_cli(capsys, *args, *(["--epochs", "1"] if args[:1] == ["train"] and "--epochs" not in args
                                            and "--help" not in args else []))
    assert rc == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("micrograd: error: "), err
    assert expect in err, err
    assert "Traceback" not in err
    assert not list(tmp_path.glob("*.json.*.tmp"))


def _diverged_model(path):
    """A classifier whose output overflows: 1e300 * 1e300 - 1e300 * 1e300 at (1, 1), inf at (2, 0),
    0.5 at the origin. A run that diverged leaves weights like these."""
    cfg = Config(inputs=2, layers=[2, 1], activations=["relu", "linear"])
    modelfile.save(path, [([[1e300, 0.0], [0.0, 1e300]], [0.0, 0.0]), ([[1e300, -1e300]], [0.5])], cfg,
                   data={"task": "classification", "features": ["a", "b"], "classes": ["no", "yes"]})
    return path


def test_predict_never_presents_a_non_finite_output_as_a_class(capsys, tmp_path):
    path = _diverged_model(tmp_path / "diverged.json")
    rc, out, err = run_cli(capsys, "predict", path, "--x", "1,1", "--x", "0,0", "--x", "2,0")
    assert rc == 3
    header, rows = parse_predictions(out)
    assert header == ["a", "b", "output", "class"]
    assert [r[:2] + r[3:] for r in rows] == [["1.0", "1.0", ""], ["0.0", "0.0", "yes"], ["2.0", "0.0", ""]]
    assert [r[2] for r in rows][1:] == ["0.5", "inf"] and rows[0][2] in ("nan", "inf", "-inf")
    assert err == ("micrograd: error: the output is not a finite number for 2 of 3 inputs (--x #1, --x #3); "
                   "they have no class. The model may have diverged in training, or these inputs lie far "
                   "outside its training data\n")


def test_predict_names_the_csv_lines_of_non_finite_outputs(capsys, tmp_path):
    path = _diverged_model(tmp_path / "diverged.json")
    inputs = tmp_path / "in.csv"
    inputs.write_text("b,a\n0,0\n\n1,1\n" + "3,3\n" * 11)
    rc, out, err = run_cli(capsys, "predict", path, "--csv", inputs)
    assert rc == 3 and err.count("\n") == 1
    assert f"for 12 of 13 inputs (line 4, line 5, line 6, line 7, line 8, line 9, line 10, line 11, line 12, " \
           f"line 13 and 2 more of {inputs})" in err
    assert [r[3] for r in parse_predictions(out)[1]] == ["yes"] + [""] * 12


def test_model_classify_gives_no_class_to_non_finite_outputs(tmp_path):
    m = modelfile.load(_diverged_model(tmp_path / "diverged.json"))
    X = [[1, 1], [0, 0]]
    assert m.classify(X).tolist() == [-1, 1] and m.class_names(X) == [None, "yes"]


@pytest.mark.parametrize("edit,expect", [
    (lambda d: d["metrics"].update(run="x", summary={"runs": 2}), "metrics.run: expected an integer, got a string"),
    (lambda d: d["metrics"].update(train_loss=10**400), "metrics.train_loss: 1000000000"),
    (lambda d: d["data"].update(label="\ud800"), "data.label: '\\ud800' holds a lone surrogate"),
])
@pytest.mark.parametrize("command", ["info", "predict"])
def test_files_that_crashed_info_and_predict_are_refused(capsys, tmp_path, model_path, edit, expect, command):
    doc = json.loads(model_path.read_text())
    edit(doc)
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(doc))
    rc, out, err = run_cli(capsys, command, path, *(["--x", "0,0"] if command == "predict" else []))
    assert rc == 2 and out == ""
    assert err.startswith(f"micrograd: error: {path}: {expect}") and err.count("\n") == 1, err


def test_gradcheck_passes_a_trained_model(capsys, model_path):
    rc, out, err = run_cli(capsys, "gradcheck", model_path)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == f"gradient check of {model_path}: 2 -> 6 relu -> 1 linear, compiled engine"
    assert lines[1] == "objective: hinge loss + l2 0.0001 on 32 training samples of moons"
    assert lines[4].split() == ["layer", "shape", "checked", "kinks", "failed", "max", "|error|", "max", "rel", "error"]
    assert lines[5].split()[:5] == ["1", "6x2", "18", "0", "0"] and lines[6].split()[:5] == ["2", "1x6", "7", "0", "0"]
    assert lines[-1] == "PASS: the gradient agrees for every parameter (all 25)"
    rc, out, _ = run_cli(capsys, "gradcheck", model_path, "--engine", "value", "--parameters", "5")
    assert rc == 0 and "value engine" in out and out.endswith("(5 checked of 25)\n")


def test_gradcheck_exits_1_on_a_wrong_gradient(capsys, model_path, patch_op):
    relu = ops.UNARY["relu"]
    wrong = relu._replace(derivative=lambda X, Y, out=None: np.multiply(0.9, relu.derivative(X, Y), out=out))
    patch_op("relu", wrong)
    rc, out, err = run_cli(capsys, "gradcheck", model_path)
    assert rc == 1 and err == ""
    assert out.splitlines()[-1].startswith("FAIL: ") and "the worst, parameter" in out


@pytest.mark.parametrize("data,expect", [
    ({"task": "classification"}, "names no data set that can be rebuilt"),
    ({"csv": "/no/such/points.csv", "test_ratio": 0.2, "split_seed": 0}, "its training data could not be rebuilt: "),
])
def test_gradcheck_says_when_the_data_cannot_be_rebuilt(capsys, tmp_path, model_path, data, expect):
    doc = json.loads(model_path.read_text())
    doc["data"] = {**{k: v for k, v in doc["data"].items() if k not in ("dataset", "csv")}, **data}
    path = tmp_path / "nodata.json"
    path.write_text(json.dumps(doc))
    rc, out, err = run_cli(capsys, "gradcheck", path)
    assert rc == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"micrograd: error: {path}: ") and expect in err, err


def test_cli_and_modelfile_import_no_qt():
    code = ("import sys, micrograd.cli, micrograd.modelfile, micrograd.__main__; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'microgradgui')]; "
            "assert not bad, bad")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
