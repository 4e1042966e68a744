"""The lens's Qt-free half (micrograd/lens.py): one sample's graph built by the engine, its
numbers against the trainer's, collapsing to neurons, the layered layout and the order of a pass."""
import collections
import re
import subprocess
import sys

import numpy as np
import pytest

from micrograd import lens as lenses
from micrograd.config import Config, DataSpec
from micrograd.engine import Value, to_dot
from micrograd.losses import LOSSES
from micrograd.session import Session

CASES = {  # name -> (config changes, data)
    "hinge": ({}, DataSpec("moons", samples=40)),
    "bce tanh": ({"loss": "bce", "activations": ["tanh", "tanh", "linear"]}, DataSpec("circles", samples=40)),
    "mse plane": ({"loss": "mse", "activations": ["tanh", "sigmoid", "linear"]}, DataSpec("plane", samples=40)),
    "sse sine": ({"loss": "sse", "inputs": 1, "activations": ["silu", "leaky_relu", "tanh"]},
                 DataSpec("sine", samples=40)),
}


def trained(case, engine="compiled", epochs=5, **kw):
    changes, data = CASES[case]
    session = Session(Config(**{"layers": [5, 4, 1], "l2": 1e-3, "epochs": 100, "engine": engine,
                                **changes, **kw}), data)
    for _ in range(epochs):
        session.step()
    return session


@pytest.mark.parametrize("engine", ["compiled", "value"])
@pytest.mark.parametrize("case", CASES)
def test_the_graph_gives_the_trainers_gradient_for_one_sample(case, engine):
    """The lens's loss and d loss / d theta for one sample are what the trainer's engine gives
    for a batch of that one sample (the data loss: the trainer adds L1/L2 on theta, and so
    does not its engine)."""
    s = trained(case, engine)
    t = s.trainer
    assert t.engine.name == engine
    lens = lenses.Lens(s.config, s.dataset.task)
    largest = 0.0
    for i in (0, 3, 7):
        g = lens.graph(t.weights(), t.train.X[i], t.train.y[i])
        largest = max(largest, np.abs(g.theta_grad).max())
        loss, grad, _ = t.engine.loss_and_grad(t.theta, t.train.X[i:i + 1], t.Y[i:i + 1])
        assert abs(g.loss - loss) <= 1e-12
        np.testing.assert_allclose(g.theta_grad, grad, rtol=0, atol=1e-12)
        assert g.target == t.Y[i, 0]
        for (dW, db), (W, b) in zip(g.grads(), t.weights()):
            assert dW.shape == W.shape and db.shape == b.shape
    assert largest > 0  # samples that teach something (a hinge loss of 0 teaches nothing)


def engine_graph(config, weights, x, target):
    """The same sample's graph built by hand with the engine: model(x), the loss, backward()."""
    model = config.model()
    model.load_weights(weights)
    xs = [Value(v, label=f"x{i + 1}") for i, v in enumerate(x)]
    out = model(xs)
    root = LOSSES[config.loss][0]([out] if isinstance(out, Value) else out, [target])
    root.backward()
    return root


def records(dot):
    """The (data, grad) of every record and the label of every op circle of DOT text."""
    data = collections.Counter(re.findall(r"data (\S+) \| grad (\S+) }", dot))
    ops = collections.Counter(re.findall(r'_op \[label="([^"]*)", shape=circle', dot))
    return data, ops


@pytest.mark.parametrize("case", CASES)
def test_opened_up_it_is_the_engines_own_graph(case):
    """With every group open the lens draws exactly `engine.to_dot`'s graph: the same nodes with
    the same numbers and ops, the same number of edges."""
    s = trained(case, layers=[3, 2, 1], activations=CASES[case][0].get("activations", ["relu", "relu", "linear"]))
    lens = lenses.Lens(s.config, s.dataset.task)
    x, y = s.train.X[2], s.train.y[2]
    g = lens.graph(s.trainer.weights(), x, y)
    nodes, edges = lens.shown(lens.every_group())
    ours = lenses.to_dot(g, nodes, edges)
    theirs = to_dot(engine_graph(s.config, s.trainer.weights(), x, g.target))
    assert records(ours) == records(theirs)
    assert ours.count("->") == theirs.count("->")
    assert len(nodes) == lens.node_count(lens.every_group())


def demo():
    return lenses.Lens(Config(), "classification")  # 2-16-16-1 relu, hinge


def test_big_networks_are_drawn_one_node_per_neuron():
    lens = demo()
    opened = lens.default_expanded()
    assert opened == {lenses.LOSS_GROUP}  # 408 nodes whole: one per neuron, the loss's ops open
    nodes, edges = lens.shown(opened)
    assert len(nodes) == lens.node_count(opened) == 2 + 16 + 16 + 1 + 4
    assert len(edges) == 2 * 16 + 16 * 16 + 16 + 1 + 3
    opened = opened | {(1, 3)}  # a neuron of the second layer opened: its 16 weights, bias, dot, relu
    nodes, edges = lens.shown(opened)
    assert len(nodes) == 39 - 1 + 16 + 1 + 2
    assert {("w", 1, 3, 0), ("b", 1, 3), ("dot", 1, 3), ("act", 1, 3)} <= set(nodes)
    assert (("n", 0, 5), ("dot", 1, 3)) in edges and (("act", 1, 3), ("n", 2, 0)) in edges
    assert ("n", 1, 3) not in nodes
    small = lenses.Lens(Config(layers=[2, 1], activations=["tanh", "linear"]), "classification")
    assert small.default_expanded() == small.every_group()  # 20 nodes: drawn whole
    assert small.node_count(small.every_group()) <= lenses.EXPAND_ALL


def test_a_click_opens_the_group_of_the_node_clicked():
    lens = demo()
    assert lens.group(("n", 1, 3)) == lens.group(("w", 1, 3, 7)) == lens.group(("act", 1, 3)) == (1, 3)
    assert lens.group(("L",)) == lens.group(("loss", 2)) == lenses.LOSS_GROUP
    assert lens.group(("x", 0)) is None


def columns_of(columns):
    return {k: c for c, col in enumerate(columns) for k in col}


@pytest.mark.parametrize("opened", [frozenset({"loss"}), frozenset({"loss", (1, 3), (2, 0)}), frozenset({(0, 0)})])
def test_layout_runs_left_to_right_by_depth(opened):
    lens = demo()
    nodes, edges = lens.shown(opened)
    columns = lenses.layout(nodes, edges)
    assert sorted(k for col in columns for k in col) == sorted(nodes)
    at = columns_of(columns)
    assert all(at[u] < at[v] for u, v in edges)
    # a leaf sits just left of the op that reads it (the longest path to the loss decides)
    leaves = [k for k in nodes if k[0] in ("w", "b")]
    assert all(at[u] == at[v] - 1 for u, v in edges if u in leaves)
    assert at[("x", 0)] == 0
    assert columns[-1] == ([("loss", 3)] if "loss" in opened else [("L",)])
    assert lenses.layout(nodes, edges) == columns  # deterministic


def test_the_demo_network_keeps_its_natural_order():
    columns = lenses.layout(*demo().shown(frozenset({"loss"})))
    assert [len(c) for c in columns] == [2, 16, 16, 1, 1, 1, 1, 1]
    assert columns[1] == [("n", 0, j) for j in range(16)] and columns[2] == [("n", 1, j) for j in range(16)]


def test_barycentric_ordering_undoes_crossings():
    # a0..a3 each feed the b in the mirrored row: every pair of edges crosses, as given
    nodes = [("a", i) for i in range(4)] + [("b", i) for i in range(4)] + [("s",)]
    edges = [(("a", i), ("b", 3 - i)) for i in range(4)] + [(("b", i), ("s",)) for i in range(4)]
    column = np.array([0] * 4 + [1] * 4 + [2])
    eu = np.array([nodes.index(u) for u, _ in edges])
    ev = np.array([nodes.index(v) for _, v in edges])
    given = [list(range(4)), list(range(4, 8)), [8]]
    assert lenses.crossings(given, column, eu, ev) == 6
    columns = lenses.layout(nodes, edges)
    at = {k: (c, r) for c, col in enumerate(columns) for r, k in enumerate(col)}
    order = [[nodes.index(k) for k in col] for col in columns]
    assert lenses.crossings(order, column, eu, ev) == 0
    assert all((at[u][1] - at[v][1]) == 0 for u, v in edges[:4])  # straight across


def test_crossings_counts_pairs_of_edges_that_cross():
    column = np.array([0, 0, 0, 1, 1, 1])
    eu, ev = np.array([0, 1, 2, 0]), np.array([5, 4, 3, 3])
    cols = [[0, 1, 2], [3, 4, 5]]
    # 0-5 crosses 1-4 and 2-3; 1-4 crosses 2-3; 0-3 crosses nothing that starts at 0
    assert lenses.crossings(cols, column, eu, ev) == 3


def drawn_pass(lens, opened):
    nodes, edges = lens.shown(opened)
    return nodes, edges, lenses.Steps(lens, nodes)


@pytest.mark.parametrize("opened", [frozenset({"loss"}), frozenset({"loss", (0, 2), (2, 0)}), None])
def test_a_pass_reveals_each_node_after_what_it_needs(opened):
    lens = demo() if opened is not None else lenses.Lens(Config(layers=[3, 2, 1]), "classification")
    nodes, edges, steps = drawn_pass(lens, lens.every_group() if opened is None else opened)
    parents = collections.defaultdict(list)
    children = collections.defaultdict(list)
    for u, v in edges:
        parents[v].append(u)
        children[u].append(v)
    interior = [k for k in nodes if parents[k]]
    assert steps.forward_steps == len(interior) and len(steps.keys) == len(interior) + len(nodes)
    assert all(steps.data_shown(k, 0) == (not parents[k]) for k in nodes)  # inputs and weights are given
    cursor, seen = 0, []
    while (nxt := steps.next(cursor, backward=False)) is not None:
        key, backward = steps.current(nxt)
        assert not backward and not steps.data_shown(key, cursor) and steps.data_shown(key, nxt)
        assert all(steps.data_shown(p, cursor) for p in parents[key])
        cursor = nxt
        seen.append(key)
    assert sorted(seen) == sorted(interior) and cursor == steps.forward_end
    assert not any(steps.grad_shown(k, cursor) for k in nodes)
    while (nxt := steps.next(cursor, backward=True)) is not None:
        key, backward = steps.current(nxt)
        assert backward and not steps.grad_shown(key, cursor) and steps.grad_shown(key, nxt)
        assert all(steps.grad_shown(c, cursor) for c in children[key])
        cursor = nxt
        seen.append(key)
    assert cursor == steps.end and len(seen) == len(steps.keys)
    assert all(steps.data_shown(k, cursor) and steps.grad_shown(k, cursor) for k in nodes)


def test_opening_a_neuron_mid_pass_keeps_what_was_revealed():
    lens = demo()
    nodes, _, steps = drawn_pass(lens, frozenset({"loss"}))
    cursor = 0
    while steps.current(cursor) is None or steps.current(cursor)[0] != ("n", 0, 3):
        cursor = steps.next(cursor, backward=False)
    nodes, _, opened = drawn_pass(lens, frozenset({"loss", (0, 3), (0, 4)}))
    assert opened.current(cursor) == (("act", 0, 3), False)
    assert opened.data_shown(("dot", 0, 3), cursor) and not opened.data_shown(("dot", 0, 4), cursor)
    assert opened.next(cursor, backward=False) == lens.forward_rank(("dot", 0, 4)) + 1


def test_dot_text_is_what_is_drawn():
    s = trained("hinge", layers=[16, 16, 1], activations=["relu", "relu", "linear"])
    lens = lenses.Lens(s.config, "classification")
    g = lens.graph(s.trainer.weights(), s.train.X[0], s.train.y[0])
    nodes, edges = lens.shown(lens.default_expanded())
    text = lenses.to_dot(g, nodes, edges)
    assert text.startswith("digraph G {") and text.rstrip().endswith("}")
    assert len(re.findall(r"^  n\d+ \[label=", text, re.M)) == len(nodes)
    assert len(re.findall(r"^  n\d+ -> n\d+(_op)?;", text, re.M)) == len(edges)
    assert f"data {g.loss:.4f} | grad 1.0000" in text


def test_the_lens_imports_no_qt():
    code = ("import sys, micrograd.lens; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'microgradgui')]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_a_nodes_column_is_its_longest_path_to_a_sink():
    # 0 -> 1 -> 2 -> 4, 0 -> 3 -> 4, 5 -> 4: 0 is three steps from the sink, 5 one
    eu, ev = np.array([0, 1, 2, 0, 3, 5]), np.array([1, 2, 4, 3, 4, 4])
    assert lenses._columns(6, eu, ev).tolist() == [0, 1, 2, 2, 3, 2]
    with pytest.raises(ValueError, match="cycle"):
        lenses._columns(3, np.array([0, 1, 2]), np.array([1, 2, 0]))
