"""The model file: round trips, the documented loader, atomic writes, decimation, bad files."""
import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from micrograd import data, features, modelfile
from micrograd.data import make_dataset, split
from micrograd.modelfile import ModelFileError
from micrograd.config import MAX_LAYERS, MAX_WIDTH, Config, DataSpec
from micrograd.nn import ACTIVATIONS
from micrograd.session import Session
from micrograd.train import Epoch, Trainer

DOC = Path(__file__).resolve().parent.parent / "docs" / "model-format.md"


@pytest.fixture(scope="module")
def trained():
    ds = make_dataset("moons", 40, 0.1, 0)
    train, test = split(ds, 0.25, 0)
    cfg = Config(layers=[5, 4, 1], activations=["relu", "tanh", "linear"], epochs=4)
    t = Trainer(cfg, train, test)
    while not t.done:
        t.step()
    return t, ds


@pytest.fixture
def saved(trained, tmp_path):
    t, ds = trained
    path = tmp_path / "model.json"
    modelfile.save_trainer(path, t, ds)
    return path


def good_doc(saved):
    return json.loads(saved.read_text())


# --- round trips ---------------------------------------------------------------

def test_round_trip_is_exact(trained, saved):
    t, ds = trained
    m = modelfile.load(saved)
    for (W, b), (W0, b0) in zip(m.weights, t.weights()):
        assert W.dtype == np.float64 and W.shape == W0.shape
        assert np.array_equal(W, W0) and np.array_equal(b, b0)  # bit for bit
    assert m.config == t.cfg
    assert m.data["task"] == "classification" and m.data["dataset"] == "moons"
    assert m.data["features"] == ["x1", "x2"] and m.classes == ["0", "1"]
    assert m.metrics["epoch"] == 4 and m.metrics["stop"] == "epochs exhausted"
    assert m.metrics["train_loss"] == t.history[-1].train_loss
    assert m.history["train_loss"] == [e.train_loss for e in t.history]
    assert m.history["epoch"] == [1, 2, 3, 4]
    assert m.parameter_count == len(t.theta)


def test_awkward_floats_round_trip(tmp_path):
    cfg = Config(inputs=1, layers=[1], activations=["linear"])
    odd = [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, -0.0]
    for v in odd:
        modelfile.save(tmp_path / "f.json", [([[v]], [v])], cfg)
        W, b = modelfile.load(tmp_path / "f.json").weights[0]
        assert W[0, 0] == v and np.signbit(W[0, 0]) == np.signbit(v)


def test_predictions_match_trainer_and_mlp(trained, saved):
    t, ds = trained
    m = modelfile.load(saved)
    np.testing.assert_allclose(m.predict(ds.X), t.predict(ds.X), rtol=1e-12, atol=1e-12)
    mlp = m.to_mlp()
    outs = np.array([[mlp(x).data] for x in ds.X.tolist()])
    np.testing.assert_allclose(outs, t.predict(ds.X), rtol=1e-12, atol=1e-12)
    assert m.predict(ds.X[0]).shape == (1, 1)  # one sample
    cls = m.classify(ds.X)
    assert set(cls) <= {0, 1}
    assert m.class_names(ds.X[:3]) == [m.classes[k] for k in cls[:3]]


def test_save_accepts_model_mlp_and_weight_lists(trained, tmp_path):
    t, ds = trained
    m = modelfile.load(modelfile.save_trainer(tmp_path / "a.json", t, ds))
    modelfile.save(tmp_path / "b.json", m)  # a loaded Model re-saves identically
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text()
    mlp = m.to_mlp()  # an MLP with the trained weights
    modelfile.save(tmp_path / "c.json", mlp, t.cfg.to_dict())
    assert all(np.array_equal(W, W0) for (W, _), (W0, _) in
               zip(modelfile.load(tmp_path / "c.json").weights, t.weights()))


def test_save_refuses_what_load_would_refuse(tmp_path):
    cfg = Config(inputs=1, layers=[1], activations=["linear"])
    with pytest.raises(ModelFileError, match=r"parameters\[0\]\.weights\[0\]\[0\]: .*finite"):
        modelfile.save(tmp_path / "x.json", [([[float("nan")]], [0.0])], cfg)
    with pytest.raises(ModelFileError, match=r"parameters\[0\]\.weights"):
        modelfile.save(tmp_path / "x.json", [([[1.0, 2.0]], [0.0])], cfg)
    assert not os.listdir(tmp_path)


def test_diverged_history_saves_nulls(tmp_path):
    cfg = Config(inputs=1, layers=[1], activations=["linear"])
    hist = [Epoch(0, 1, 0.5, None, 0.1, None, 0.1, 0.01),
            Epoch(0, 2, float("inf"), None, None, None, 0.1, 0.02, "diverged at epoch 2")]
    modelfile.save(tmp_path / "d.json", [([[1.0]], [0.0])], cfg, history=hist,
                   metrics={"train_loss": float("nan")})
    m = modelfile.load(tmp_path / "d.json")
    assert m.history["train_loss"] == [0.5, None]
    assert m.metrics["train_loss"] is None


def test_evals_summary_is_saved(tmp_path):
    s = Session(Config(layers=[3, 1], activations=["tanh", "linear"], epochs=2, evals=3),
                DataSpec(dataset="xor", samples=20))
    for _ in s.run():
        pass
    modelfile.save_trainer(tmp_path / "s.json", s.runs[1], s.dataset, s.summary())
    m = modelfile.load(tmp_path / "s.json")
    assert m.metrics["summary"]["runs"] == 3 and m.metrics["run"] == 1 and m.metrics["seed"] == 1


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation_saves_loads_and_predicts(tmp_path, act):
    ds = make_dataset("circles", 30, 0.1, 1)
    t = Trainer(Config(layers=[4, 3, 1], activations=[act] * 3, loss="mse", epochs=2, bias_init="uniform"), ds)
    t.step()
    m = modelfile.load(modelfile.save_trainer(tmp_path / "m.json", t, ds))
    assert m.activations == [act] * 3
    ours = m.predict(ds.X)[:, 0]
    model = m.to_mlp()
    np.testing.assert_allclose(ours, [model(x).data for x in ds.X.tolist()], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours, t.predict(ds.X)[:, 0], rtol=1e-12, atol=1e-12)


# --- the documented numpy loader -----------------------------------------------

def doc_loader():
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Loading it in plain numpy", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.splitlines()) <= 25, "the documented loader should stay short"
    ns = {}
    exec(compile(code, str(DOC), "exec"), ns)
    return ns["load_model"]


def test_the_format_documents_every_activation():
    text = DOC.read_text(encoding="utf-8")
    field = next(line for line in text.splitlines() if line.startswith("| `architecture.layers[k].activation`"))
    for act in ACTIVATIONS:
        assert f"| `{act}`" in text and f"`{act}`" in field


@pytest.mark.parametrize("acts", [["relu", "tanh", "linear"], ["sigmoid", "linear", "tanh"],
                                  ["leaky_relu", "silu", "linear"]])
def test_documented_numpy_loader_matches(tmp_path, acts):
    ds = make_dataset("circles", 30, 0.1, 1)
    t = Trainer(Config(layers=[4, 3, 1], activations=acts, epochs=2, bias_init="uniform"), ds)
    t.step()
    path = modelfile.save_trainer(tmp_path / "m.json", t, ds)
    predict = doc_loader()(path)
    ours = modelfile.load(path).predict(ds.X)[:, 0]
    theirs = np.array([predict(x) for x in ds.X])
    np.testing.assert_allclose(theirs, ours, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(theirs, t.predict(ds.X)[:, 0], rtol=1e-12, atol=1e-12)


# --- input features: the optional feature map ------------------------------------

BEFORE_FEATURES = Path(__file__).resolve().parent / "files" / "model-before-features.json"
MAP = ["x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"]


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """A model trained on all seven features of the moons' x1, x2, saved: (trainer, data, path)."""
    ds = make_dataset("moons", 40, 0.1, 0)
    t = Trainer(Config(inputs=len(MAP), feature_map=MAP, layers=[4, 1], activations=["tanh", "linear"],
                       epochs=3, bias_init="uniform"), ds)
    while not t.done:
        t.step()
    return t, ds, modelfile.save_trainer(tmp_path_factory.mktemp("mapped") / "m.json", t, ds)


def test_a_file_written_before_features_loads_predicts_and_saves_unchanged(tmp_path):
    m = modelfile.load(BEFORE_FEATURES)
    assert m.feature_map == [] and m.inputs == 2 and m.features == ["x1", "x2"]
    X = make_dataset("circles", 40, 0.1, 1).X
    h = X
    for (W, b), act in zip(m.weights, m.activations):
        h = np.maximum(h @ W.T + b, 0.0) if act == "relu" else h @ W.T + b
    np.testing.assert_array_equal(m.predict(X), h)
    modelfile.save(tmp_path / "again.json", m)
    assert (tmp_path / "again.json").read_bytes() == BEFORE_FEATURES.read_bytes()


def test_a_model_without_a_map_writes_no_map(saved):
    assert "feature_map" not in saved.read_text()  # readers from before the field still load it


def test_the_map_is_saved_and_applied(mapped):
    t, ds, path = mapped
    doc = json.loads(Path(path).read_text())
    assert doc["architecture"]["feature_map"] == MAP and doc["architecture"]["inputs"] == 7
    assert doc["training"]["feature_map"] == MAP and doc["data"]["features"] == ["x1", "x2"]
    m = modelfile.load(path)
    assert m.config == t.cfg and m.feature_map == MAP and m.inputs == 2 and m.features == ["x1", "x2"]
    np.testing.assert_allclose(m.predict(ds.X), t.predict(ds.X), rtol=1e-12, atol=1e-12)
    assert m.predict(ds.X[0]).shape == (1, 1)
    with pytest.raises(ValueError, match="the model takes 2 inputs"):
        m.predict(np.zeros((3, 7)))
    mlp = m.to_mlp()  # the network itself: it takes the features
    outs = [mlp(x).data for x in features.apply(MAP, ds.X).tolist()]
    np.testing.assert_allclose(outs, m.predict(ds.X)[:, 0], rtol=1e-12, atol=1e-12)


def test_documented_numpy_loader_applies_the_map(mapped):
    t, ds, path = mapped
    predict = doc_loader()(path)
    theirs = np.array([predict(x) for x in ds.X])
    np.testing.assert_allclose(theirs, modelfile.load(path).predict(ds.X)[:, 0], rtol=1e-12, atol=1e-12)


def test_the_format_documents_every_feature():
    text = DOC.read_text(encoding="utf-8")
    for name in features.NAMES:
        assert f"| `{name}`" in text and f'"{name}":' in text  # in the table and in the numpy loader


BAD_MAPS = [  # (id, mutation of a good document with a feature map, text the message must contain)
    ("unknown", lambda d: d["architecture"]["feature_map"].__setitem__(6, "cosx1"),
     "architecture.feature_map: unknown feature 'cosx1'; choose from x1, x2"),
    ("twice", lambda d: d["architecture"]["feature_map"].__setitem__(6, "x1"),
     "architecture.feature_map: the feature 'x1' is given twice"),
    ("count", lambda d: d["architecture"]["feature_map"].pop(),
     "architecture.feature_map: expected 7 feature names (one per input), got 6"),
    ("not-list", lambda d: d["architecture"].update(feature_map="x1sq"),
     "architecture.feature_map: expected a list, got a string"),
    ("training-lacks-it", lambda d: d["training"].pop("feature_map"),
     "training.feature_map: [] does not match the architecture's feature map"),
    ("training-differs", lambda d: d["training"]["feature_map"].reverse(),
     "training.feature_map: ['sinx2', 'sinx1'"),
    ("data-width", lambda d: d["data"].update(features=MAP),
     "data.features: expected a list of 2 names (one per input of the data)"),
]


@pytest.mark.parametrize("mutation,expect", [b[1:] for b in BAD_MAPS], ids=[b[0] for b in BAD_MAPS])
def test_bad_feature_maps_are_refused_naming_the_field(mapped, tmp_path, mutation, expect):
    doc = json.loads(Path(mapped[2]).read_text())
    mutation(doc)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError) as e:
        modelfile.load(path)
    assert str(e.value).startswith(f"{path}: {expect}"), str(e.value)


def test_a_map_on_a_file_without_one_is_refused(saved):
    doc = good_doc(saved)
    doc["architecture"]["feature_map"] = ["x1sq", "x2sq"]  # the network takes 2 inputs: the count fits
    saved.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"training.feature_map: \[\] does not match"):
        modelfile.load(saved)


# --- atomic writes -------------------------------------------------------------

@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace", "interrupt"])
def test_failed_save_leaves_old_file_and_no_temp(trained, saved, monkeypatch, fail_at):
    t, ds = trained
    before = saved.read_bytes()
    t2 = Trainer(Config(layers=[5, 4, 1], activations=["relu", "tanh", "linear"], epochs=1, seed=7), t.train)
    t2.step()

    class Boom(Exception):
        pass

    def boom(*a, **k):
        raise KeyboardInterrupt if fail_at == "interrupt" else Boom(fail_at)

    if fail_at == "write":  # the disk fills up halfway through the text
        real_fdopen = os.fdopen

        def fdopen(fd, *a, **k):
            f = real_fdopen(fd, *a, **k)
            orig = f.write

            def write(text):
                orig(text[: len(text) // 2])
                f.flush()
                raise OSError(28, "No space left on device")
            f.write = write
            return f
        monkeypatch.setattr(modelfile.files.os, "fdopen", fdopen)
    elif fail_at in ("fsync", "interrupt"):
        monkeypatch.setattr(modelfile.files.os, "fsync", boom)
    else:
        monkeypatch.setattr(modelfile.files.os, "replace", boom)
    with pytest.raises((Boom, KeyboardInterrupt, OSError)):
        modelfile.save_trainer(saved, t2, ds)
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == ["model.json"]
    modelfile.load(saved)


def test_failed_first_save_leaves_nothing(trained, tmp_path, monkeypatch):
    monkeypatch.setattr(modelfile.files.os, "replace", lambda *a: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(OSError):
        modelfile.save_trainer(tmp_path / "new.json", *trained)
    assert os.listdir(tmp_path) == []


def test_save_keeps_permissions_of_existing_file(saved, trained):
    os.chmod(saved, 0o640)
    modelfile.save_trainer(saved, *trained)
    assert (os.stat(saved).st_mode & 0o777) == 0o640


KILLED_MID_SAVE = """
import os, signal, sys
from micrograd import modelfile
from micrograd.config import Config
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # killed with the temp file complete
modelfile.save(sys.argv[1], [([[1.0]], [0.0])], Config(inputs=1, layers=[1], activations=["linear"]))
"""


def test_next_save_removes_what_a_killed_save_left_and_nothing_else(tmp_path):
    path = tmp_path / "m.json"
    env = {**os.environ, "PYTHONPATH": str(DOC.parents[1])}
    killed = subprocess.Popen([sys.executable, "-c", KILLED_MID_SAVE, str(path)], env=env)
    assert killed.wait(timeout=120) == -signal.SIGKILL
    dead = killed.pid
    orphans = [p.name for p in tmp_path.iterdir()]
    assert len(orphans) == 1 and orphans[0].startswith(".m.json.") and orphans[0].endswith(".tmp")
    keep = [f".m.json.{os.getpid()}.abcdefgh.tmp",  # a save in progress in a running process
            ".m.json.abcdefgh.tmp", f".m.json.{dead}.abcdefgh.tmp.bak", f".other.json.{dead}.abcdefgh.tmp",
            f".m.json.{dead}.future00.tmp",  # written after this save started
            "m.json.tmp", "notes.txt"]
    for name in keep:
        (tmp_path / name).write_text("not ours to remove")
    os.utime(tmp_path / f".m.json.{dead}.future00.tmp", (time.time() + 3600,) * 2)
    os.symlink(tmp_path / "notes.txt", tmp_path / f".m.json.{dead}.symlink.tmp")
    keep.append(f".m.json.{dead}.symlink.tmp")
    modelfile.save(path, [([[2.0]], [0.0])], Config(inputs=1, layers=[1], activations=["linear"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + ["m.json"])
    assert modelfile.load(path).weights[0][0][0, 0] == 2.0


# --- decimation ----------------------------------------------------------------

def test_decimation_keeps_first_last_evenly_spaced(tmp_path):
    n = 25_003
    hist = {"epoch": list(range(1, n + 1)), "train_loss": [1.0 / k for k in range(1, n + 1)],
            "test_loss": [None] * n}
    cfg = Config(inputs=1, layers=[1], activations=["linear"], epochs=n)
    modelfile.save(tmp_path / "h.json", [([[1.0]], [0.0])], cfg, history=hist)
    h = modelfile.load(tmp_path / "h.json").history
    ep = h["epoch"]
    assert len(ep) == modelfile.MAX_HISTORY == len(h["train_loss"]) == len(h["test_loss"])
    assert ep[0] == 1 and ep[-1] == n
    assert all(b > a for a, b in zip(ep, ep[1:]))
    gaps = np.diff(ep)
    assert gaps.min() >= 2 and gaps.max() <= 3  # 25003 / 10000: evenly spaced
    assert h["train_loss"] == [1.0 / k for k in ep]  # columns stay aligned


def test_short_history_not_decimated():
    h = {"epoch": list(range(10_000))}
    assert modelfile.decimate(h) is h


# --- bad files -----------------------------------------------------------------

def mutate(doc, fn):
    fn(doc)
    return doc


BAD_DOCS = [  # (id, mutation of a good document, text the message must contain)
    ("not-object", lambda d: [1, 2], "document: expected a JSON object"),
    ("no-format", lambda d: mutate(d, lambda d: d.pop("format")), "format"),
    ("wrong-format", lambda d: mutate(d, lambda d: d.update(format="keras")), "format: expected 'micrograd-model'"),
    ("version-2", lambda d: mutate(d, lambda d: d.update(version=2)), "version: unsupported version 2"),
    ("version-str", lambda d: mutate(d, lambda d: d.update(version="1")), "version: expected an integer"),
    ("unknown-top", lambda d: mutate(d, lambda d: d.update(extra=1)), "extra: unknown field"),
    ("no-params", lambda d: mutate(d, lambda d: d.pop("parameters")), "parameters: missing"),
    ("arch-not-object", lambda d: mutate(d, lambda d: d.update(architecture=[])), "architecture: expected an object"),
    ("inputs-bool", lambda d: mutate(d, lambda d: d["architecture"].update(inputs=True)),
     "architecture.inputs: expected an integer"),
    ("inputs-huge", lambda d: mutate(d, lambda d: d["architecture"].update(inputs=10**9)),
     "architecture.inputs: must be 1..64"),
    ("width-huge", lambda d: mutate(d, lambda d: d["architecture"]["layers"][0].update(size=100000)),
     "architecture.layers[0].size: must be 1..64"),
    ("too-many-layers", lambda d: mutate(d, lambda d: d["architecture"].update(
        layers=[{"size": 1, "activation": "relu"}] * 1000)), "architecture.layers: expected 1..9 layers"),
    ("bad-activation", lambda d: mutate(d, lambda d: d["architecture"]["layers"][1].update(activation="gelu")),
     "architecture.layers[1].activation"),
    ("output-size", lambda d: mutate(d, lambda d: d["architecture"]["layers"][2].update(size=2)),
     "architecture.layers[2].size: the output layer must have 1 neuron"),
    ("params-count", lambda d: mutate(d, lambda d: d["parameters"].pop()),
     "parameters: expected 3 layers"),
    ("rows-missing", lambda d: mutate(d, lambda d: d["parameters"][1]["weights"].pop()),
     "parameters[1].weights: expected 4 rows of 5 numbers"),
    ("row-short", lambda d: mutate(d, lambda d: d["parameters"][1]["weights"][2].pop()),
     "parameters[1].weights: expected 4 rows of 5 numbers (row 2 has 4)"),
    ("weight-string", lambda d: mutate(d, lambda d: d["parameters"][0]["weights"][1].__setitem__(0, "0.5")),
     "parameters[0].weights[1][0]: expected a number, got a string"),
    ("weight-bool", lambda d: mutate(d, lambda d: d["parameters"][0]["weights"][1].__setitem__(1, True)),
     "parameters[0].weights[1][1]: expected a number, got a boolean"),
    ("weight-null", lambda d: mutate(d, lambda d: d["parameters"][0]["weights"][0].__setitem__(1, None)),
     "parameters[0].weights[0][1]: expected a number, got null"),
    ("biases-short", lambda d: mutate(d, lambda d: d["parameters"][2].update(biases=[])),
     "parameters[2].biases: expected a list of 1 numbers"),
    ("training-unknown", lambda d: mutate(d, lambda d: d["training"].update(colour="red")),
     "training: unknown field 'colour'"),
    ("training-type", lambda d: mutate(d, lambda d: d["training"].update(lr="fast")), "training.lr"),
    ("training-range", lambda d: mutate(d, lambda d: d["training"].update(epochs=-1)), "training.epochs"),
    ("training-disagrees", lambda d: mutate(d, lambda d: d["training"].update(
        activations=["relu", "relu", "linear"])), "training.activations: ['relu', 'relu', 'linear'] does not match"),
    ("training-layers", lambda d: mutate(d, lambda d: d["training"].update(layers=[5, 5, 1])),
     "training.layers"),
    ("data-task", lambda d: mutate(d, lambda d: d["data"].update(task="ranking")), "data.task"),
    ("data-features", lambda d: mutate(d, lambda d: d["data"].update(features=["a"])), "data.features"),
    ("history-ragged", lambda d: mutate(d, lambda d: d["history"]["lr"].pop()), "history.lr: has 3 points"),
    ("history-unknown", lambda d: mutate(d, lambda d: d["history"].update(foo=[1, 2, 3, 4])), "history.foo"),
    ("history-text", lambda d: mutate(d, lambda d: d["history"]["train_loss"].__setitem__(2, "x")),
     "history.train_loss[2]: expected a number or null"),
    ("metrics-deep", lambda d: mutate(d, lambda d: d["metrics"].update(deep=json.loads("[" * 40 + "]" * 40))),
     "metrics.deep"),
]


@pytest.mark.parametrize("mutation,expect", [b[1:] for b in BAD_DOCS], ids=[b[0] for b in BAD_DOCS])
def test_bad_document_is_refused_naming_the_field(saved, mutation, expect):
    doc = mutation(good_doc(saved))
    saved.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError) as e:
        modelfile.load(saved)
    msg = str(e.value)
    assert expect in msg, msg
    assert msg.startswith(str(saved)) and "\n" not in msg


def _text_edit(saved, old, new, count=1):
    text = saved.read_text()
    assert old in text
    saved.write_text(text.replace(old, new, count))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_non_finite_numbers_refused_with_field(saved, literal):
    doc = good_doc(saved)
    w = doc["parameters"][1]["weights"][3][2]
    _text_edit(saved, repr(w), literal)
    with pytest.raises(ModelFileError, match=re.escape(f"parameters[1].weights[3][2]: {literal} is not a finite number")):
        modelfile.load(saved)


@pytest.mark.parametrize("block,key,literal", [("metrics", "train_loss", "NaN"), ("training", "lr", "1e400"),
                                               ("data", "noise", "-Infinity"), ("history", "lr", "NaN")])
def test_non_finite_elsewhere_refused(saved, block, key, literal):
    doc = good_doc(saved)
    if block == "history":
        doc[block][key][1] = "@@"
    else:
        doc[block][key] = "@@"
    saved.write_text(json.dumps(doc).replace('"@@"', literal))
    with pytest.raises(ModelFileError, match=re.escape(f"{block}.{key}") + r".*" + f"{literal} is not a finite"):
        modelfile.load(saved)


@pytest.mark.parametrize("keep", [0.01, 0.5, 0.93, -2])
def test_truncated_json(saved, keep):
    text = saved.read_text()
    saved.write_text(text[:keep] if isinstance(keep, int) else text[: int(len(text) * keep)])
    with pytest.raises(ModelFileError, match="truncated JSON"):
        modelfile.load(saved)


def test_invalid_json_names_line(saved):
    _text_edit(saved, '"version": 1', '"version": 1,,')
    with pytest.raises(ModelFileError, match=r"line 3 column \d+: invalid JSON"):
        modelfile.load(saved)


def test_duplicate_key(saved):
    _text_edit(saved, '"version": 1', '"version": 1, "version": 2')
    with pytest.raises(ModelFileError, match=r"model.json: version: duplicate key"):
        modelfile.load(saved)


@pytest.mark.parametrize("depth", [5_000, 1_000_000])
def test_deep_nesting_refused(tmp_path, depth):
    p = tmp_path / "deep.json"
    p.write_text('{"format": "micrograd-model", "version": 1,\n "metrics": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(ModelFileError, match=r"deep.json: line 2 column 44: nested too deeply \(a model file nests at most 32"):
        modelfile.load(p)  # the document is level 1: the 32nd bracket (column 12 + 32) is level 33


def test_non_utf8(saved):
    saved.write_bytes(saved.read_bytes().replace(b'"relu"', b'"r\xe9lu"', 1))
    with pytest.raises(ModelFileError, match="line 7: not UTF-8"):
        modelfile.load(saved)


def test_missing_directory_empty_device(tmp_path):
    with pytest.raises(ModelFileError, match="file not found"):
        modelfile.load(tmp_path / "nope.json")
    with pytest.raises(ModelFileError, match="is a directory"):
        modelfile.load(tmp_path)
    (tmp_path / "empty.json").write_text("  \n")
    with pytest.raises(ModelFileError, match="empty"):
        modelfile.load(tmp_path / "empty.json")
    if os.path.exists("/dev/zero"):
        with pytest.raises(ModelFileError, match="not a regular file"):
            modelfile.load("/dev/zero")


def test_huge_file_refused_without_reading(tmp_path, monkeypatch):
    p = tmp_path / "huge.json"
    with open(p, "wb") as f:
        f.truncate(100 * 1024 * 1024)  # sparse: no disk used
    opened = []
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a) or pytest.fail("opened"))
    with pytest.raises(ModelFileError, match=r"100\.0 MB \(104,857,600 bytes\); a model file is at most 20 MB"):
        modelfile.load(p)
    assert not opened  # refused from its size alone: fast whatever the machine


def test_every_refusal_is_a_value_error(tmp_path):
    assert issubclass(ModelFileError, ValueError)


@pytest.mark.parametrize("where", ["weight", "lr"])
def test_integers_beyond_float_range_refused_with_field(saved, where):
    doc = good_doc(saved)
    if where == "weight":
        doc["parameters"][0]["biases"][0] = "@@"
        field = "parameters[0].biases"
    else:
        doc["training"]["lr"] = "@@"
        field = "training.lr"
    saved.write_text(json.dumps(doc).replace('"@@"', "1" + "0" * 400))
    with pytest.raises(ModelFileError, match=re.escape(field)):
        modelfile.load(saved)


# --- issue 10: linear checks, huge integers, wrong types, lone surrogates -------

class CountingKey(str):
    """A key that counts how often it is compared: a set lookup hashes, a list search compares."""
    compares = 0

    def __eq__(self, other):
        CountingKey.compares += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_duplicate_key_check_is_linear():
    n = 2_000
    pairs = [(CountingKey(f"k{i}"), 0) for i in range(n)] + [(CountingKey("k0"), 1)]
    CountingKey.compares = 0
    try:
        modelfile.files._unique_keys(pairs)
    except ModelFileError:
        pass
    assert CountingKey.compares <= 4 * n  # a search of the keys seen so far would make n**2 / 2


def test_duplicate_key_is_named_with_its_field(saved):
    _text_edit(saved, '"metrics": {', '"metrics": {"summary": {"runs": 2, "runs": 3}, ')
    with pytest.raises(ModelFileError, match=re.escape("metrics.summary.runs: duplicate key")):
        modelfile.load(saved)


def test_field_names_are_spelled_only_for_a_message(saved, monkeypatch):
    """Spelling every value's field on the way in costs the key's length per value: a 100 KB key
    over 20,000 numbers would copy 2 GB."""
    spelled = []
    real = modelfile.schema._spell
    monkeypatch.setattr(modelfile.schema, "_spell", lambda path: spelled.append(path) or real(path))
    doc = good_doc(saved)
    key = "k" * 100_000
    doc["metrics"][key] = [0.5] * 20_000
    saved.write_text(json.dumps(doc))
    modelfile.load(saved)
    assert spelled == []
    doc["metrics"][key][-1] = "@@"
    saved.write_text(json.dumps(doc).replace('"@@"', "NaN"))
    with pytest.raises(ModelFileError, match=r"metrics\['kkkk.*'\.\.\.\]\[19999\]: NaN is not a finite number"):
        modelfile.load(saved)


@pytest.mark.parametrize("digits", [400, 5_000])
@pytest.mark.parametrize("block,key", [("metrics", "train_loss"), ("data", "noise"), ("metrics", "extra"),
                                       ("parameters", None)])
def test_huge_integers_refused_naming_the_field(saved, block, key, digits):
    doc = good_doc(saved)
    if block == "parameters":
        doc["parameters"][1]["weights"][0][2] = "@@"
        field = "parameters[1].weights[0][2]"
    else:
        doc[block][key] = "@@"
        field = f"{block}.{key}"
    saved.write_text(json.dumps(doc).replace('"@@"', "-" + "1" * digits))
    with pytest.raises(ModelFileError) as e:
        modelfile.load(saved)
    msg = str(e.value)
    assert f"{field}: -11111111111...1111 ({digits + 1} characters) is not a finite number" in msg, msg
    assert len(msg) < len(str(saved)) + 120  # the number is not quoted in full


def test_largest_float_integer_is_accepted(saved):
    doc = good_doc(saved)
    doc["metrics"]["extra"] = int(np.finfo(np.float64).max)  # 309 digits
    saved.write_text(json.dumps(doc))
    assert modelfile.load(saved).metrics["extra"] == int(np.finfo(np.float64).max)
    doc["metrics"]["extra"] = 2 * int(np.finfo(np.float64).max)  # still 309 digits, beyond the range
    saved.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="metrics.extra: .* is not a finite number"):
        modelfile.load(saved)


def test_save_refuses_huge_python_integers(tmp_path):
    cfg = Config(inputs=1, layers=[1], activations=["linear"])
    with pytest.raises(ModelFileError, match=r"not saved: metrics\.x: an integer of about 401 digits is not a finite"):
        modelfile.save(tmp_path / "x.json", [([[1.0]], [0.0])], cfg, metrics={"x": 10**400})
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("field,value,expect", [
    ("run", '"x"', "metrics.run: expected an integer, got a string"),
    ("epoch", "-1", "metrics.epoch: must be 0.."),
    ("train_loss", '"low"', "metrics.train_loss: expected a number or null, got a string"),
    ("stop", "[]", "metrics.stop: expected a string or null, got a list"),
    ("summary", "[]", "metrics.summary: expected an object, got a list"),
    ("summary", '{"runs": true}', "metrics.summary.runs: expected an integer, got a boolean"),
    ("summary", '{"runs": 3, "test_metric": {"mean": "0.9"}}',
     "metrics.summary.test_metric.mean: expected a number or null, got a string"),
])
def test_metrics_fields_have_the_documented_types(saved, field, value, expect):
    doc = good_doc(saved)
    doc["metrics"]["summary"] = {"runs": 3}
    doc["metrics"][field] = "@@"
    saved.write_text(json.dumps(doc).replace('"@@"', value))
    with pytest.raises(ModelFileError, match=re.escape(expect)):
        modelfile.load(saved)


@pytest.mark.parametrize("edit,field", [
    (lambda d: d["data"]["classes"].__setitem__(1, "\ud800"), "data.classes[1]"),
    (lambda d: d["data"].update(label="a\udfffb"), "data.label"),
    (lambda d: d["data"]["features"].__setitem__(0, "\udc00"), "data.features[0]"),
    (lambda d: d["metrics"].update({"\ud800": 1}), "metrics"),
    (lambda d: d["training"].update(loss="\ud800"), "training.loss"),
])
def test_lone_surrogates_refused_naming_the_field(saved, edit, field):
    doc = good_doc(saved)
    edit(doc)
    saved.write_text(json.dumps(doc))  # ASCII JSON: "\ud800" is an escape, valid JSON text
    with pytest.raises(ModelFileError) as e:
        modelfile.load(saved)
    msg = str(e.value)
    assert f"{field}: " in msg and "lone surrogate" in msg, msg
    msg.encode("utf-8")  # the message itself can be printed


def test_surrogate_pairs_are_characters(saved):
    doc = good_doc(saved)
    doc["data"]["classes"] = ["cat \U0001f408", "dog"]
    saved.write_text(json.dumps(doc))  # written as "\ud83d\udc08": one character
    assert modelfile.load(saved).classes[0] == "cat \U0001f408"


# --- the limits of docs/model-format.md, each at the limit and just past it ------------

def test_limit_file_size(saved):
    text = saved.read_text()
    saved.write_text(text + " " * (modelfile.MAX_FILE_BYTES - len(text.encode())))
    modelfile.load(saved)  # exactly 20 MB
    with open(saved, "a") as f:
        f.write(" ")
    with pytest.raises(ModelFileError, match=r"file is 20\.0 MB \(20,971,521 bytes\); a model file is at most 20 MB"):
        modelfile.load(saved)


def test_limit_nesting(saved):
    doc = good_doc(saved)
    for lists, ok in ((30, True), (31, False)):  # the document and metrics are 2 levels
        doc["metrics"]["deep"] = json.loads("[" * lists + "]" * lists)
        saved.write_text(json.dumps(doc))
        if ok:
            modelfile.load(saved)
        else:
            with pytest.raises(ModelFileError, match=r"metrics\.deep(\[0\]){30}: nested too deeply \(at most 32"):
                modelfile.load(saved)


@pytest.mark.parametrize("inputs,hidden,ok", [(64, [64] * 8, True), (65, [4], False), (2, [65], False),
                                              (2, [4] * 9, False)])
def test_limit_network_size(tmp_path, inputs, hidden, ok):
    sizes = hidden + [1]
    cfg = dict(inputs=inputs, layers=sizes, activations=["tanh"] * len(hidden) + ["linear"])
    doc = {"format": "micrograd-model", "version": 1,
           "architecture": {"inputs": inputs, "layers": [{"size": n, "activation": a}
                                                         for n, a in zip(sizes, cfg["activations"])]},
           "parameters": [{"weights": [[0.1] * fan_in] * n, "biases": [0.0] * n}
                          for n, fan_in in zip(sizes, [inputs] + sizes)],
           "training": {**Config().to_dict(), **cfg}}
    path = tmp_path / "net.json"
    path.write_text(json.dumps(doc))
    if ok:
        assert modelfile.load(path).parameter_count == 64 * 64 * 8 + 64 * 8 + 64 + 1
    else:
        with pytest.raises(ModelFileError, match=r"architecture\.(inputs: must be 1\.\.64|layers\[0\]\.size: must be "
                                                 r"1\.\.64|layers: expected 1\.\.9 layers)"):
            modelfile.load(path)


def test_limit_history_points(tmp_path):
    cfg = Config(inputs=1, layers=[1], activations=["linear"])
    for n, ok in ((modelfile.MAX_HISTORY, True), (modelfile.MAX_HISTORY + 1, False)):
        doc = modelfile.to_document(modelfile.Model(cfg, [(np.ones((1, 1)), np.zeros(1))]))
        doc["history"] = {"epoch": list(range(1, n + 1))}
        path = tmp_path / "h.json"
        path.write_text(json.dumps(doc))
        if ok:
            assert len(modelfile.load(path).history["epoch"]) == n
        else:
            with pytest.raises(ModelFileError, match="history.epoch: 10001 points; a model file holds at most 10000"):
                modelfile.load(path)


def test_limit_numbers(saved):
    doc = good_doc(saved)
    doc["parameters"][0]["biases"][0] = "@@"
    for literal, ok in (("1.7976931348623157e308", True), ("1.7976931348623159e308", False),
                        ("-1.7976931348623157e308", True), ("1e309", False)):
        saved.write_text(json.dumps(doc).replace('"@@"', literal))
        if ok:
            assert abs(modelfile.load(saved).weights[0][1][0]) == np.finfo(np.float64).max
        else:
            with pytest.raises(ModelFileError, match=re.escape(f"parameters[0].biases[0]: {literal} is not a finite")):
                modelfile.load(saved)


def test_limits_table_states_the_limits_the_code_enforces():
    table = DOC.read_text(encoding="utf-8").split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]
    for limit in (modelfile.MAX_FILE_BYTES, data.MAX_CSV_BYTES, data.MAX_ROW_BYTES, modelfile.MAX_HISTORY,
                  data.MAX_ROWS, csv.field_size_limit()):
        assert f"{limit:,}" in table, limit
    assert f"| nesting | {modelfile.MAX_DEPTH} levels" in table and f"{data.MAX_FEATURES} features" in table
    assert f"1..{MAX_WIDTH} inputs; 1..{MAX_LAYERS + 1} layers (8 hidden and the output) of 1..{MAX_WIDTH}" in table
    readme = (DOC.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "(docs/model-format.md#limits)" in readme
