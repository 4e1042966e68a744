"""A trained network as a standard ONNX graph, float64, for onnxruntime and the rest of the ecosystem.

    from micrograd import modelfile, onnx_export
    m = modelfile.load("model.json")
    onnx_export.save("model.onnx", m.weights, m.activations, m.features, m.feature_map)

    import onnxruntime
    session = onnxruntime.InferenceSession("model.onnx")
    session.run(None, {"input": X})[0]      # X float64 (n, m.inputs) -> (n, 1), as m.predict(X)

The graph, in stages: the input `input` [n, inputs] (the data's inputs); the feature map, if
the model has one (`Gather` x1 and x2, then per feature `Mul` or `Sin` as micrograd.features
defines it, `Concat` in the map's order); then per layer k `Gemm(h, W_k, b_k, transB=1)` (W_k
stays [outputs][inputs], as in the model file) and its activation; the output `output`
[n, outputs]. Standard ops of opset 17 only.

Needs the optional `onnx` package (`pip install .[onnx]`); everything else in micrograd runs
without it. Every failure is an `ExportError` with a one-line message.
"""
import json
import os

import numpy as np

from .features import FEATURES, RAW_INPUTS
from .features import problem as feature_map_problem
from .ops import LEAKY_SLOPE
from .whole import write_whole

FORMATS = ("onnx",)
OPSET = 17  # understood by onnxruntime >= 1.11 and most converters
IR_VERSION = 8  # the IR that goes with opset 17: older runtimes refuse newer ones
INPUT, OUTPUT = "input", "output"


class ExportError(Exception):
    """The network could not be exported; the message says why, on one line."""


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ExportError("ONNX export needs the onnx package: pip install 'micrograd-studio[onnx]' "
                          "(or pip install onnx)") from None
    return onnx


class _Graph:
    """The nodes and constants of the graph being built; each node's output is named after it."""

    def __init__(self, onnx):
        self.onnx, self.nodes, self.constants = onnx, [], []

    def node(self, op, inputs, name, **attributes):
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [name], name=name, **attributes))
        return name

    def constant(self, name, array, dtype=np.float64):
        self.constants.append(self.onnx.numpy_helper.from_array(np.asarray(array, dtype=dtype), name))
        return name


def _leaky_relu(g, x, name):
    # max(x, slope x), as ops.py computes it. Not ONNX's LeakyRelu: its slope is a float32
    # attribute (0.01 becomes 0.0099999998), which moves the output by 2e-8 of itself.
    slope = g.constant(f"{name}_slope", LEAKY_SLOPE)
    return g.node("Max", [x, g.node("Mul", [x, slope], f"{name}_scaled")], name)


def _silu(g, x, name):  # x * sigmoid(x): ONNX has no SiLU op before opset 24
    return g.node("Mul", [x, g.node("Sigmoid", [x], f"{name}_sigmoid")], name)


# Each activation of the op table (ops.ACTIVATIONS) as ONNX nodes: (graph, input, output name) -> output.
ACTIVATIONS = {
    "relu": lambda g, x, name: g.node("Relu", [x], name),
    "tanh": lambda g, x, name: g.node("Tanh", [x], name),
    "sigmoid": lambda g, x, name: g.node("Sigmoid", [x], name),
    "linear": lambda g, x, name: g.node("Identity", [x], name),
    "leaky_relu": _leaky_relu,
    "silu": _silu,
}


# Each op of micrograd.features as ONNX nodes: (graph, the raw columns it reads, output name) -> output.
FEATURE_OPS = {
    "x": lambda g, columns, name: g.node("Identity", columns, name),
    "mul": lambda g, columns, name: g.node("Mul", columns, name),
    "sin": lambda g, columns, name: g.node("Sin", columns, name),
}


def _feature_map(g, feature_map):
    """The network's inputs [n, len(feature_map)] computed from `input` [n, 2]: each raw column
    taken once as [n, 1], each feature from them, all side by side in the map's order."""
    columns = [g.node("Gather", [INPUT, g.constant(f"x{i + 1}_index", [i], np.int64)], f"x{i + 1}_column", axis=1)
               for i in range(RAW_INPUTS)]
    made = [FEATURE_OPS[FEATURES[name].op](g, [columns[i] for i in FEATURES[name].columns], f"feature_{name}")
            for name in feature_map]
    return g.node("Concat", made, "features", axis=1)


def _checked(weights, activations):
    """The weights as float64 arrays, after checking that they chain and are finite."""
    if not weights or len(weights) != len(activations):
        raise ExportError(f"{len(weights)} layers of weights but {len(activations)} activations")
    layers, width = [], None
    for k, ((W, b), act) in enumerate(zip(weights, activations)):
        W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if W.ndim != 2 or b.shape != (len(W),) or (width is not None and W.shape[1] != width):
            raise ExportError(f"layer {k}: weights {W.shape} and biases {b.shape} do not fit the layer before")
        if not (np.isfinite(W).all() and np.isfinite(b).all()):
            raise ExportError(f"layer {k}: the weights are not all finite")
        if act not in ACTIVATIONS:
            raise ExportError(f"layer {k}: no ONNX form for the activation {act!r}")
        layers.append((W, b, act))
        width = len(W)
    return layers


def build(weights, activations, features=None, feature_map=()):
    """The ONNX `ModelProto` of the network: weights per layer (W [outputs][inputs], b [outputs]),
    one activation name per layer, optionally the inputs' names (kept in the metadata) and the
    feature map the first layer's inputs are computed with (Config.feature_map)."""
    onnx = _onnx()
    layers = _checked(weights, activations)
    width = layers[0][0].shape[1]
    problem = feature_map_problem(feature_map)
    if problem:
        raise ExportError(f"feature map: {problem}")
    if feature_map and len(feature_map) != width:
        raise ExportError(f"{len(feature_map)} features in the feature map for a first layer of {width} inputs")
    inputs = RAW_INPUTS if feature_map else width
    if features is not None and len(features) != inputs:
        raise ExportError(f"{len(features)} feature names for {inputs} inputs")
    g = _Graph(onnx)
    h = _feature_map(g, feature_map) if feature_map else INPUT
    for k, (W, b, act) in enumerate(layers):
        z = g.node("Gemm", [h, g.constant(f"W{k}", W), g.constant(f"b{k}", b)], f"z{k}", transB=1)
        h = ACTIVATIONS[act](g, z, OUTPUT if k == len(layers) - 1 else f"h{k}")
    stages = [str(inputs), *([", ".join(feature_map)] if feature_map else []),
              *(f"{len(W)} {a}" for W, _, a in layers)]
    double = onnx.TensorProto.DOUBLE
    graph = onnx.helper.make_graph(
        g.nodes, "micrograd_mlp",
        [onnx.helper.make_tensor_value_info(INPUT, double, ["n", inputs])],
        [onnx.helper.make_tensor_value_info(OUTPUT, double, ["n", len(layers[-1][0])])],
        g.constants)
    model = onnx.helper.make_model(graph, producer_name="micrograd-studio", ir_version=IR_VERSION,
                                   opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   doc_string="An MLP trained with micrograd studio: " + " -> ".join(stages))
    onnx.helper.set_model_props(model, {"features": json.dumps(list(features or [])),
                                        "feature_map": json.dumps(list(feature_map)),
                                        "activations": json.dumps(list(activations))})
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:  # a bug of ours, not of the caller's network
        raise ExportError(f"the exported graph does not pass onnx's checker: {' '.join(str(e).split())}") from None
    return model


def save(path, weights, activations, features=None, feature_map=()):
    """Write the network to `path` as ONNX (see `build`) and return the path.

    This is what `micrograd export` and the window's File > Export > ONNX call. Any failure,
    a missing onnx package included, raises ExportError; the file is then left as it was.
    """
    data = build(weights, activations, features, feature_map).SerializeToString()
    path = os.fspath(path)
    try:
        write_whole(path, data)
    except OSError as e:
        raise ExportError(f"could not write {path}: {e.strerror or e}") from None
    return path
