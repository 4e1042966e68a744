"""The Value engine against central finite differences, plus its structural promises."""
import gc

import pytest
from hypothesis import assume, given, settings, strategies as st

import numpy as np

from micrograd import MLP, Value, dot, to_dot, total, walk
from micrograd.losses import LOSSES, l1, l2, objective, penalty
from micrograd.ops import ACTIVATIONS, UNARY as TABLE

H = 1e-6


def numeric_grad(f, xs):
    """Central differences of the scalar function f(list of floats) at xs."""
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += H
        down[i] -= H
        grads.append((f(up) - f(down)) / (2 * H))
    return grads


def check(f, xs, rel=1e-6, abs_=1e-6):
    """f builds a graph from Values; compare backward() with finite differences on plain data."""
    leaves = [Value(x) for x in xs]
    out = f(leaves)
    out.backward()
    num = numeric_grad(lambda v: f([Value(x) for x in v]).data, xs)
    for leaf, n in zip(leaves, num):
        assert leaf.grad == pytest.approx(n, rel=rel, abs=abs_)


POINTS = [-37.5, -3.0, -1.0, -1e-3, 1e-3, 0.5, 2.0, 41.0]

UNARY = {
    "tanh": (lambda v: v.tanh(), POINTS),
    "sigmoid": (lambda v: v.sigmoid(), POINTS),
    "softplus": (lambda v: v.softplus(), POINTS),
    "exp": (lambda v: v.exp(), [-30.0, -1.0, -1e-3, 1e-3, 1.0, 5.0, 30.0]),
    "log": (lambda v: v.log(), [1e-3, 0.5, 1.0, 7.0, 1e6]),
    "relu": (lambda v: v.relu(), [-3.0, -1e-3, 1e-3, 41.0]),
    "abs": (lambda v: abs(v), [-3.0, -1e-3, 1e-3, 41.0]),
    "neg": (lambda v: -v, POINTS),
    "square": (lambda v: v**2, POINTS),
    "cube": (lambda v: v**3, POINTS),
    "inverse": (lambda v: v**-1, POINTS),
    "sqrt": (lambda v: v**0.5, [1e-3, 0.5, 2.0, 41.0]),
    "rdiv": (lambda v: 3.0 / v, POINTS),
    "rsub": (lambda v: 3.0 - v, POINTS),
    "scalar ops": (lambda v: (2 * v + 1 - 4) / 3 * v, POINTS),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_ops_match_finite_differences(name):
    f, points = UNARY[name]
    for x in points:
        # relative step: the function is smooth on the scale of |x|
        check(lambda v: f(v[0]), [x], rel=1e-6, abs_=1e-6 * max(1.0, abs(f(Value(x)).data)))


# Where each table op is checked: 0-adjacent, moderate, large and negative points in its domain.
TABLE_POINTS = {
    "exp": [-30.0, -1.0, -1e-3, 1e-3, 1.0, 5.0, 30.0],
    "log": [1e-3, 0.5, 1.0, 7.0, 1e6],
}


def table_points(name):
    return TABLE_POINTS.get(name, POINTS)


@pytest.mark.parametrize("name", TABLE)
def test_every_table_op_matches_finite_differences(name):
    scalar = TABLE[name].scalar
    for x in table_points(name):
        y, d = scalar(x)
        h = 1e-6 * max(1.0, abs(x))
        numeric = (scalar(x + h)[0] - scalar(x - h)[0]) / (2 * h)
        assert d == pytest.approx(numeric, rel=1e-6, abs=1e-6 * max(1.0, abs(y)))
        v = Value(x)
        out = getattr(v, name)()  # the Value method is the table's scalar form
        out.backward()
        assert (out.data, v.grad, out.op, out.parents) == (y, d, name, (v,))


@pytest.mark.parametrize("name", TABLE)
def test_every_table_op_numpy_forms_match_the_scalar_form(name):
    xs = np.array([*table_points(name), *(() if name in TABLE_POINTS else (0.0, -0.0, -800.0, 800.0))])
    ys, ds = np.array([TABLE[name].scalar(float(x)) for x in xs]).T
    op = TABLE[name]
    np.testing.assert_allclose(op.forward(xs), ys, rtol=1e-14, atol=0)
    np.testing.assert_allclose(op.derivative(xs, ys), ds, rtol=1e-14, atol=0)
    out, grad_out = np.empty_like(xs), np.empty_like(xs)  # numpy's `out` convention: written, returned
    assert op.forward(xs, out=out) is out and op.derivative(xs, ys, out=grad_out) is grad_out
    np.testing.assert_array_equal(out, op.forward(xs))
    np.testing.assert_array_equal(grad_out, op.derivative(xs, ys))


def test_every_activation_is_in_the_op_table():
    assert set(ACTIVATIONS) <= set(TABLE)
    assert {"relu", "tanh", "sigmoid", "linear", "leaky_relu", "silu"} <= set(ACTIVATIONS)


def test_leaky_relu_and_silu_values():
    assert TABLE["leaky_relu"].scalar(-2.0) == (-0.02, 0.01) and TABLE["leaky_relu"].scalar(3.0) == (3.0, 1.0)
    s = 1 / (1 + np.exp(-1.5))
    assert TABLE["silu"].scalar(1.5) == pytest.approx((1.5 * s, s + 1.5 * s * (1 - s)), rel=1e-15)
    assert TABLE["silu"].scalar(-800.0) == (-0.0, 0.0) and TABLE["silu"].scalar(800.0) == (800.0, 1.0)


def test_gradients_at_exactly_zero():
    # NOTE: relu and abs take 0 at their kink, as micrograd and PyTorch do; leaky_relu its slope.
    for name, want in (("relu", 0.0), ("abs", 0.0), ("leaky_relu", 0.01)):
        assert TABLE[name].scalar(0.0)[1] == want
        assert TABLE[name].derivative(np.zeros(1), np.zeros(1))[0] == want


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("a,b", [(-2.5, 3.0), (1e-3, -7.0), (40.0, 0.25), (-1e-3, -1e-3)])
def test_binary_ops_match_finite_differences(name, a, b):
    check(lambda v: BINARY[name](v[0], v[1]), [a, b])


def test_dot_and_total_match_finite_differences():
    check(lambda v: dot(v[0:3], v[3:6], v[6]), [0.3, -1.2, 2.0, -0.7, 0.1, 4.0, 0.5])
    check(lambda v: dot(v[0:2], [0.5, -2.0], v[2]).tanh(), [0.3, -1.2, 0.2])
    check(lambda v: total([v[0], v[1] * v[0], v[2]]), [0.3, -1.2, 2.0])


def test_reused_subexpressions_accumulate():
    a = Value(3.0)
    b = a * a  # a feeds one op twice
    c = b + a  # and a second op
    d = c * b  # b feeds two ops
    d.backward()
    # d = (a^2 + a) a^2 = a^4 + a^3 -> 4a^3 + 3a^2
    assert a.grad == 4 * 27 + 3 * 9


def test_gradients_accumulate_until_zeroed():
    a, b = Value(2.0), Value(-3.0)
    out = a * b + a
    out.backward()
    out.backward()
    assert (a.grad, b.grad) == (2 * (-3.0 + 1), 2 * 2.0)
    # interior nodes hold only the last call's gradient
    assert out.grad == 1.0
    a.grad = b.grad = 0.0
    out.backward()
    assert (a.grad, b.grad) == (-2.0, 2.0)


def test_saturating_ops_take_their_limits():
    assert Value(1000).tanh().data == 1.0 and Value(-1000).tanh().data == -1.0
    assert Value(1000).sigmoid().data == 1.0 and Value(-1000).sigmoid().data == 0.0
    assert Value(-1000).exp().data == 0.0
    assert Value(1000).softplus().data == 1000.0 and Value(-1000).softplus().data == 0.0
    t = Value(400.0)
    t.tanh().backward()
    assert t.grad == 0.0


def test_overflow_and_domain_errors_name_the_op():
    with pytest.raises(OverflowError, match="exp"):
        Value(1000).exp()
    with pytest.raises(OverflowError, match="pow"):
        Value(1e200) ** 3.5
    with pytest.raises(ValueError, match=r"log\(0.0\)"):
        Value(0.0).log()
    with pytest.raises(ValueError, match=r"log\(-2.0\)"):
        Value(-2.0).log()
    with pytest.raises(ZeroDivisionError, match="pow"):
        Value(0.0) ** -1
    with pytest.raises(ZeroDivisionError, match="div"):
        Value(1.0) / 0
    with pytest.raises(ValueError, match="not a real number"):
        Value(-8.0) ** (1 / 3)


def test_unsupported_operands_raise_type_error():
    with pytest.raises(TypeError):
        Value(1.0) + "a"
    with pytest.raises(TypeError):
        Value(1.0) * None
    with pytest.raises(TypeError):
        Value(1.0) ** Value(2.0)


def test_a_million_deep_chain_backpropagates():
    x = Value(0.5)
    s = x
    for _ in range(1_000_000):
        s = s + 1.0
    s.backward()
    assert x.grad == 1.0
    del s  # freeing a million-deep chain must not overflow the C stack


def test_a_finished_step_leaves_nothing_for_the_cyclic_collector():
    model = MLP(2, [8, 8, 1], seed=3)
    X, ys = [[0.5, -1.0], [1.5, 0.25], [-0.3, 0.8]], [[1.0], [-1.0], [1.0]]
    gc.collect()
    gc.disable()
    try:
        loss = objective(model, X, ys, "hinge", l2_weight=1e-3)
        model.zero_grad()
        loss.backward()
        del loss
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_mlp_gradients_match_finite_differences(act):
    model = MLP(3, [4, 3, 2], [act, act, act], bias_init="uniform", seed=11)
    X, ys = [[0.3, -0.7, 1.1], [-1.2, 0.4, 0.05]], [[0.5, -1.0], [1.0, 0.2]]
    params = model.parameters()
    theta = [p.data for p in params]

    def f(values):
        for p, v in zip(params, values):
            p.data = v
        return objective(model, X, ys, "mse", l2_weight=0.01).data

    loss = objective(model, X, ys, "mse", l2_weight=0.01)
    model.zero_grad()
    loss.backward()
    analytic = [p.grad for p in params]
    numeric = numeric_grad(f, theta)
    for a, n in zip(analytic, numeric):
        assert a == pytest.approx(n, rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_matches_finite_differences(name):
    ys = [[0.0], [1.0], [1.0]] if name == "bce" else [[-1.0], [1.0], [1.0]]
    check(lambda v: objective(lambda x: [x[0] * v[0] + v[1]], [[0.5], [-2.0], [3.0]], ys, name), [0.7, -0.2])


def test_penalties_match_finite_differences():
    check(lambda v: l1(v) * 0.5 + l2(v) * 3, [0.7, -0.2, 1.5])


@pytest.mark.parametrize("l1_weight,l2_weight", [(0.0, 0.0), (0.5, 0.0), (0.0, 3.0), (0.5, 3.0)])
def test_numpy_penalty_is_the_value_penalty(l1_weight, l2_weight):
    theta = [0.7, -0.2, 1.5, 0.0]
    params = [Value(t) for t in theta]
    value = l1(params) * l1_weight + l2(params) * l2_weight
    value.backward()
    ours, grad = penalty(np.array(theta), l1_weight, l2_weight)
    assert ours == pytest.approx(value.data, rel=1e-15)
    np.testing.assert_allclose(grad, [p.grad for p in params], rtol=1e-15)


def test_bce_is_finite_for_huge_logits():
    z = Value(800.0)
    loss = objective(lambda x: [z], [[0.0]], [[0.0]], "bce")
    loss.backward()
    assert loss.data == 800.0 and z.grad == 1.0


def test_same_seed_same_network_and_no_global_random_state():
    import random

    random.seed(1)
    a = MLP(2, [5, 1], seed=42).weights()
    random.seed(2)
    b = MLP(2, [5, 1], seed=42).weights()
    assert a == b
    assert MLP(2, [5, 1], seed=43).weights() != a


def test_mlp_layout_and_init():
    m = MLP(2, [16, 16, 1], seed=0)
    assert m.activations == ["relu", "relu", "linear"] and m.sizes == [16, 16, 1]
    assert len(m.parameters()) == 337
    assert all(b == 0.0 for _, bs in m.weights() for b in bs)
    assert all(-1 <= w <= 1 for W, _ in m.weights() for row in W for w in row)
    u = MLP(2, [4, 1], hidden="tanh", bias_init="uniform", seed=0)
    assert any(b != 0.0 for _, bs in u.weights() for b in bs)


@pytest.mark.parametrize("args", [(0, [3]), (2, []), (2, [0, 1]), (2, [3, -1]), (2, [2.5])])
def test_bad_layer_sizes_are_refused(args):
    with pytest.raises(ValueError, match="positive integers"):
        MLP(*args)


def test_bad_activation_is_refused():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        MLP(2, [3, 1], ["gelu", "linear"])


def test_graph_api():
    x, y = Value(2.0), Value(-3.0)
    assert (x.op, x.parents, x.local_grads, x.const) == ("", (), (), None)
    cases = [  # node, op, parents, local grads, const
        (x + y, "+", (x, y), (1.0, 1.0), None),
        (x + 2, "+", (x,), (1.0,), 2.0),
        (x * y, "*", (x, y), (-3.0, 2.0), None),
        (x * x, "*", (x, x), (2.0, 2.0), None),
        (-x, "*", (x,), (-1.0,), -1.0),
        (x**3, "**", (x,), (12.0,), 3),
        (x.tanh(), "tanh", (x,), (x.tanh().local_grads[0],), None),
        (total([x, y, x]), "sum", (x, y, x), (1.0, 1.0, 1.0), None),
    ]
    for v, op, parents, local_grads, const in cases:
        assert (v.op, v.parents, v.local_grads, v.const) == (op, parents, local_grads, const)
    # dot: the weights, then the inputs (when they are Values), then the bias
    w, b = [Value(0.5), Value(-1.5)], Value(0.25)
    xs = [Value(3.0), Value(4.0)]
    v = dot(w, xs, b)
    assert v.op == "dot" and v.parents == (*w, *xs, b) and v.const is None
    assert v.local_grads == (3.0, 4.0, 0.5, -1.5, 1.0)
    v = dot(w, [3.0, 4.0], b)
    assert v.parents == (*w, b) and v.local_grads == (3.0, 4.0, 1.0) and v.const == (3.0, 4.0)


def test_no_module_reads_the_engines_private_names():
    """Private stays private: outside engine.py nothing reads a Value's slots or the engine's _names."""
    import ast
    from pathlib import Path

    slots = {"_a", "_da", "_b", "_db", "_rest"}  # the parent slots; `_name`/`_const` are too common a name
    root = Path(__file__).resolve().parents[1]
    for path in [*root.glob("micrograd/**/*.py"), *root.glob("tests/*.py")]:
        if path.name == "engine.py" and path.parent.name == "micrograd":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute):
                assert node.attr not in slots, f"{path.name}:{node.lineno} reads .{node.attr}"
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("engine"):
                assert all(not a.name.startswith("_") for a in node.names), f"{path.name}:{node.lineno}"


def test_walk_and_dot_export():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b
    d = (c + a).tanh()
    d.backward()
    nodes, edges = walk(d)
    assert nodes[-1] is d and {a, b, c, d} <= set(nodes)
    assert len(nodes) == 5 and len(edges) == 5
    assert nodes.index(c) < nodes.index(d)
    text = to_dot(d)
    assert text.startswith("digraph") and text.count("->") == 5 + 3
    assert "a | data 2.0000 | grad" in text and "tanh" in text
    # a constant shows with its op
    text = to_dot((a + 2) ** 2 * 0.5)
    assert 'label="+2.0"' in text and 'label="**2"' in text and 'label="*0.5"' in text


# -- random expression graphs that reuse subexpressions -----------------------------

OPS = ["add", "mul", "sub", "div", "tanh", "sigmoid", "square", "relu", "exp", "scale"]


def build(program, leaves, kinks=None):
    """The program's graph over leaves; `kinks` collects every relu's input."""
    nodes = list(leaves)
    for op, i, j in program:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op == "add":
            v = a + b
        elif op == "mul":
            v = a * b
        elif op == "sub":
            v = a - b
        elif op == "div":
            v = a / (b * b + 1.0)
        elif op == "tanh":
            v = a.tanh()
        elif op == "sigmoid":
            v = a.sigmoid()
        elif op == "square":
            v = a**2
        elif op == "relu":
            z = a + 0.31
            if kinks is not None:
                kinks.append(z.data)
            v = z.relu()
        elif op == "exp":
            v = (a.tanh() * 2).exp()
        else:
            v = 1.7 * a - 0.2
        nodes.append(v)
    return total(nodes[len(leaves):]) if len(nodes) > len(leaves) else nodes[0] * 1.0


@settings(max_examples=150, deadline=None)
@given(
    xs=st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=4),
    program=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 50), st.integers(0, 50)), max_size=12),
)
def test_random_graphs_match_finite_differences(xs, program):
    leaves, kinks = [Value(x) for x in xs], []
    out = build(program, leaves, kinks)
    # central differences straddling a relu's kink measure neither side's slope
    assume(all(abs(z) > 1e-3 for z in kinks))
    out.backward()
    num = numeric_grad(lambda v: build(program, [Value(x) for x in v]).data, xs)
    for leaf, n in zip(leaves, num):
        assert leaf.grad == pytest.approx(n, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("act", ACTIVATIONS)
def test_numpy_predict_matches_the_value_engine(act):
    from micrograd.predict import predict

    model = MLP(2, [5, 3, 1], [act, act, act], bias_init="uniform", seed=5)
    X = [[0.3, -0.7], [2.5, 1.0], [-40.0, 3.0]]
    ours = predict(model.weights(), model.activations, X)
    for row, x in zip(ours, X):
        assert row[0] == pytest.approx(model(x).data, rel=1e-12, abs=1e-12)


def test_walk_leaves_gradients_as_they_were():
    a, b = Value(2.0), Value(-3.0)
    c = a * b
    d = (c + a).tanh()
    d.backward()
    before = [v.grad for v in (a, b, c, d)]
    walk(d)
    to_dot(d)
    assert [v.grad for v in (a, b, c, d)] == before and c.grad != 0.0
