"""The ONNX export: a standard float64 graph that onnxruntime runs to the same outputs as
`micrograd predict`, from the command line and from the function the window calls."""
import csv
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest

from micrograd import cli, modelfile, onnx_export
from micrograd.config import Config
from micrograd.data import make_dataset
from micrograd.ops import ACTIVATIONS
from micrograd.train import Trainer

DOC = Path(__file__).resolve().parents[1] / "docs" / "model-format.md"


def run(path, X):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": X})[0]


def random_inputs(n, inputs, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 3.0, (n, inputs)) * rng.choice([0.1, 1.0, 10.0], (n, 1))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained model file, per activation set."""
    def make(acts):
        ds = make_dataset("plane", 40, 0.1, 2)
        cfg = Config(inputs=2, layers=[6, 5, 1][-len(acts):], activations=acts, loss="mse",
                     lr=0.05, epochs=3, bias_init="uniform")
        t = Trainer(cfg, ds)
        for _ in range(3):
            t.step()
        path = tmp_path_factory.mktemp("onnx") / "model.json"
        return modelfile.load(modelfile.save_trainer(path, t, ds))
    return make


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_onnxruntime_gives_the_models_outputs(tmp_path, saved, act):
    m = saved([act, act, act])
    path = onnx_export.save(tmp_path / "m.onnx", m.weights, m.activations, m.features)
    X = random_inputs(200, m.inputs)
    np.testing.assert_allclose(run(path, X), m.predict(X), rtol=1e-9, atol=1e-9)


def test_the_graph_is_standard_float64_onnx(tmp_path, saved):
    m = saved(["leaky_relu", "silu", "tanh"])
    model = onnx.load(onnx_export.save(tmp_path / "m.onnx", m.weights, m.activations, m.features))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == onnx_export.OPSET and model.ir_version == onnx_export.IR_VERSION
    (x,), (y,) = model.graph.input, model.graph.output
    assert x.type.tensor_type.elem_type == y.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert [d.dim_value for d in x.type.tensor_type.shape.dim] == [0, 2]  # any batch, 2 inputs
    assert all(t.data_type == onnx.TensorProto.DOUBLE for t in model.graph.initializer)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Gemm") == 3 and "Tanh" in ops and "Sigmoid" in ops and "Max" in ops
    props = {p.key: p.value for p in model.metadata_props}
    assert props["features"] == '["x1", "x2"]' and props["activations"] == '["leaky_relu", "silu", "tanh"]'


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """A model on all seven features of x1, x2, in a shuffled order, trained and saved."""
    ds = make_dataset("plane", 40, 0.1, 3)
    names = ["sinx2", "x1x2", "x2", "x1sq", "sinx1", "x1", "x2sq"]
    t = Trainer(Config(inputs=7, feature_map=names, layers=[5, 1], activations=["tanh", "linear"], loss="mse",
                       epochs=3, bias_init="uniform"), ds)
    while not t.done:
        t.step()
    return modelfile.load(modelfile.save_trainer(tmp_path_factory.mktemp("onnx") / "mapped.json", t, ds))


def test_the_feature_map_stage_gives_predicts_outputs(tmp_path, mapped):
    path = onnx_export.save(tmp_path / "m.onnx", mapped.weights, mapped.activations, mapped.features,
                            mapped.feature_map)
    X = random_inputs(300, 2, seed=5)
    np.testing.assert_allclose(run(path, X), mapped.predict(X), rtol=1e-9, atol=1e-9)
    model = onnx.load(path)
    (x,) = model.graph.input
    assert [d.dim_value for d in x.type.tensor_type.shape.dim] == [0, 2]  # the data's x1, x2
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Gather") == 2 and ops.count("Sin") == 2 and ops.count("Mul") == 3 and "Concat" in ops
    assert {p.key: p.value for p in model.metadata_props}["feature_map"] == json.dumps(mapped.feature_map)


def test_the_command_line_exports_the_map_as_predict_applies_it(tmp_path, mapped, capsys):
    out = tmp_path / "m.onnx"
    assert cli.main(["export", str(mapped.path), "--out", str(out)]) == 0
    X = random_inputs(25, 2, seed=6)
    args = [a for x in X.tolist() for a in ("--x", ",".join(map(repr, x)))]
    capsys.readouterr()
    assert cli.main(["predict", str(mapped.path), *args]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == ["x1", "x2", "output"]
    np.testing.assert_allclose(run(out, X), [[float(r["output"])] for r in rows], rtol=1e-9, atol=1e-9)


def test_a_feature_map_that_does_not_fit_is_refused(tmp_path):
    weights = [([[1.0, 2.0, 3.0]], [0.0])]
    with pytest.raises(onnx_export.ExportError, match="2 features in the feature map for a first layer of 3 inputs"):
        onnx_export.save(tmp_path / "m.onnx", weights, ["relu"], None, ["x1", "x2"])
    with pytest.raises(onnx_export.ExportError, match="feature map: unknown feature 'cosx1'"):
        onnx_export.save(tmp_path / "m.onnx", weights, ["relu"], None, ["x1", "x2", "cosx1"])
    with pytest.raises(onnx_export.ExportError, match="3 feature names for 2 inputs"):
        onnx_export.save(tmp_path / "m.onnx", weights, ["relu"], ["a", "b", "c"], ["x1", "x2", "x1sq"])
    assert not list(tmp_path.iterdir())


def test_every_activation_has_an_onnx_form():
    assert set(onnx_export.ACTIVATIONS) == set(ACTIVATIONS)


def test_one_layer_one_input(tmp_path):
    path = onnx_export.save(tmp_path / "m.onnx", [([[2.0]], [-1.0])], ["relu"])
    np.testing.assert_array_equal(run(path, np.array([[0.25], [3.0]])), [[0.0], [5.0]])


def test_the_command_line_exports_what_predict_prints(tmp_path, saved, capsys):
    m = saved(["tanh", "relu", "linear"])
    out = tmp_path / "m.onnx"
    assert cli.main(["export", str(m.path), "--format", "onnx", "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"saved {out}\n"
    X = random_inputs(30, m.inputs, seed=4)
    args = [a for x in X.tolist() for a in ("--x", ",".join(map(repr, x)))]
    assert cli.main(["predict", str(m.path), *args]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    printed = np.array([[float(r["output"])] for r in rows])
    np.testing.assert_allclose(run(out, X), printed, rtol=1e-9, atol=1e-9)


def test_without_onnx_one_line_says_what_to_install(tmp_path, saved, capsys, monkeypatch):
    m = saved(["relu", "linear"])
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now raises ImportError
    with pytest.raises(onnx_export.ExportError, match=r"needs the onnx package: pip install"):
        onnx_export.save(tmp_path / "m.onnx", m.weights, m.activations)
    assert cli.main(["export", str(m.path), "--out", str(tmp_path / "m.onnx")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("micrograd: error: ONNX export needs the onnx package") and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_refusals_are_export_errors(tmp_path, capsys):
    with pytest.raises(onnx_export.ExportError, match="could not write"):
        onnx_export.save(tmp_path / "no" / "m.onnx", [([[1.0]], [0.0])], ["relu"])
    with pytest.raises(onnx_export.ExportError, match="layer 1: weights"):
        onnx_export.save(tmp_path / "m.onnx", [([[1.0]], [0.0]), ([[1.0, 2.0]], [0.0])], ["relu", "linear"])
    with pytest.raises(onnx_export.ExportError, match="not all finite"):
        onnx_export.save(tmp_path / "m.onnx", [([[float("inf")]], [0.0])], ["relu"])
    with pytest.raises(onnx_export.ExportError, match="activation 'gelu'"):
        onnx_export.save(tmp_path / "m.onnx", [([[1.0]], [0.0])], ["gelu"])
    with pytest.raises(onnx_export.ExportError, match="1 feature names for 2 inputs"):
        onnx_export.save(tmp_path / "m.onnx", [([[1.0, 2.0]], [0.0])], ["relu"], ["x"])
    assert not list(tmp_path.iterdir())
    assert cli.main(["export", str(tmp_path / "none.json"), "--out", str(tmp_path / "m.onnx")]) == 2
    assert cli.main(["export", str(tmp_path / "none.json"), "--format", "tflite", "--out", "x"]) == 2
    assert "invalid choice: 'tflite'" in capsys.readouterr().err


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"old")

    def fail(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(onnx_export.os, "replace", fail)
    with pytest.raises(onnx_export.ExportError, match="No space left on device"):
        onnx_export.save(path, [([[1.0]], [0.0])], ["relu"])
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


# -- the PyTorch loader of docs/model-format.md ---------------------------------------------

def torch_loader():
    section = DOC.read_text(encoding="utf-8").split("## Loading it in PyTorch", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_documented_pytorch_loader_is_valid_python():
    compile(torch_loader(), str(DOC), "exec")  # runs below only where torch is installed


def test_the_documented_pytorch_loader_matches(tmp_path, saved, monkeypatch):
    torch = pytest.importorskip("torch")  # not a dependency: checked where it happens to be
    m = saved(["leaky_relu", "silu", "sigmoid"])
    (tmp_path / "model.json").write_bytes(Path(m.path).read_bytes())
    monkeypatch.chdir(tmp_path)
    ns = {}
    exec(compile(torch_loader(), str(DOC), "exec"), ns)
    X = random_inputs(20, m.inputs)
    with torch.no_grad():
        theirs = ns["net"](torch.tensor(X, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(theirs, m.predict(X), rtol=1e-12, atol=1e-12)
