"""Code written for Karpathy's micrograd, and for the tutorials built on it, runs unchanged.

Each test is written the way such code is: the demo notebook's training loop, the graph walk of
trace_graph.ipynb, a tutorial's training script. micrograd itself is not needed: the demo is
checked against micrograd's algorithm written out here in plain floats (its init order, its
forward sums, its hinge loss and update).
"""
import random
import re
from pathlib import Path

import pytest

from micrograd import MLP, Layer, Neuron, Value
from micrograd.config import Config
from micrograd.data import make_dataset
from micrograd.nn import as_list


# -- the demo notebook (demo.ipynb) ----------------------------------------------------

def demo_loss(model, X, y, alpha=1e-4):
    """demo.ipynb's `loss()`, as written there (numpy rows and int labels included)."""
    inputs = [list(map(Value, xrow)) for xrow in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum((p * p for p in model.parameters()))
    total_loss = data_loss + reg_loss
    accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
    return total_loss, sum(accuracy) / len(accuracy)


def demo_run(X, y, steps):
    """demo.ipynb from `random.seed(1337)` on: the model, then the SGD loop. (loss, accuracy) per step."""
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    history = []
    for k in range(steps):
        total_loss, acc = demo_loss(model, X, y)
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        history.append((total_loss.data, acc))
    return history


def reference_run(X, y, steps, sizes=(2, 16, 16, 1), alpha=1e-4):
    """micrograd 0.1.0's MLP and the demo loop in plain floats.

    Init: for each layer, each neuron: its weights `random.uniform(-1, 1)` in turn, bias 0.
    Forward: `sum(w*x, b)` left to right, relu on hidden layers (0 if z < 0), linear output.
    Loss: mean of relu(1 - y*score) + alpha * sum(p*p). Backward by hand; relu passes the
    gradient where its output is > 0.
    """
    random.seed(1337)
    net = [[[random.uniform(-1, 1) for _ in range(nin)] + [0.0] for _ in range(nout)]
           for nin, nout in zip(sizes, sizes[1:])]  # per neuron: weights, then bias
    X, n, history = X.tolist(), len(X), []
    for k in range(steps):
        grads = [[[0.0] * len(row) for row in layer] for layer in net]
        losses, correct = [], 0
        for x, t in zip(X, y.tolist()):
            hs = [x]
            for i, layer in enumerate(net):
                zs = [sum((w * h for w, h in zip(row, hs[-1])), row[-1]) for row in layer]
                hs.append(zs if i == len(net) - 1 else [0.0 if z < 0 else z for z in zs])
            score = hs[-1][0]
            margin = 1 + -t * score
            losses.append(0.0 if margin < 0 else margin)
            correct += (t > 0) == (score > 0)
            dh = [-t / n if margin > 0 else 0.0]
            for i in reversed(range(len(net))):
                if i < len(net) - 1:  # relu: the gradient passes where the output is positive
                    dh = [d if h > 0 else 0.0 for d, h in zip(dh, hs[i + 1])]
                below = [0.0] * len(hs[i])
                for row, g, d in zip(net[i], grads[i], dh):
                    for j, h in enumerate(hs[i]):
                        g[j] += d * h
                        below[j] += d * row[j]
                    g[-1] += d
                dh = below
        params = [p for layer in net for row in layer for p in row]
        total = sum(losses) * (1.0 / n) + alpha * sum(p * p for p in params)
        learning_rate = 1.0 - 0.9 * k / 100
        for layer, glayer in zip(net, grads):
            for row, g in zip(layer, glayer):
                for j, p in enumerate(row):
                    row[j] = p - learning_rate * (g[j] + 2 * alpha * p)
        history.append((total, correct / n))
    return history


def test_the_demo_notebook_gives_micrograds_losses():
    ds = make_dataset("moons", 100, 0.1, 1337)  # the demo's 100 points (ours: the demo's need sklearn)
    X, y = ds.X, (ds.y * 2 - 1).astype(int)  # the demo's y: an int array of -1/+1
    ours, theirs = demo_run(X, y, 100), reference_run(X, y, 100)
    for (loss, acc), (ref_loss, ref_acc) in zip(ours, theirs):
        assert loss == pytest.approx(ref_loss, rel=0, abs=1e-9)
        assert acc == ref_acc
    assert ours[-1][0] < ours[0][0] / 2  # and it trains


def test_a_model_without_a_seed_draws_from_the_global_random_in_micrograds_order():
    random.seed(1337)
    model = MLP(2, [3, 1], bias_init="uniform")
    random.seed(1337)
    draws = [random.uniform(-1, 1) for _ in range(3 * 3 + 4)]  # each neuron: its weights, then its bias
    assert [p.data for p in model.parameters()] == draws
    random.seed(1337)
    assert [p.data for p in MLP(2, [3, 1], bias_init="uniform").parameters()] == draws
    random.seed(7)
    assert [p.data for p in MLP(2, [3, 1], bias_init="uniform").parameters()] != draws


def test_an_explicit_seed_keeps_its_own_generator():
    random.seed(5)
    state = random.getstate()
    a = MLP(2, [4, 1], seed=9).weights()
    assert random.getstate() == state  # the global generator was not touched
    random.seed(6)
    assert MLP(2, [4, 1], seed=9).weights() == a


def test_the_settings_always_pass_a_seed():
    """The window, the command line and the trainer build models through `Config.model`: a
    global `random.seed` elsewhere must not change their initial weights."""
    cfg = Config(layers=[5, 1], activations=["tanh", "linear"], seed=4)
    random.seed(1)
    a = cfg.model().weights()
    random.seed(2)
    assert cfg.model().weights() == a == MLP(2, [5, 1], ["tanh", "linear"], init="auto", seed=4).weights()
    assert cfg.model(seed=5).weights() == MLP(2, [5, 1], ["tanh", "linear"], init="auto", seed=5).weights()


# -- the graph walk of trace_graph.ipynb --------------------------------------------------

class Digraph:
    """What draw_dot asks of graphviz.Digraph, recorded."""

    def __init__(self, **kwargs):
        self.nodes, self.edges = {}, set()

    def node(self, name, label, **kwargs):
        self.nodes[name] = label

    def edge(self, tail, head):
        self.edges.add((tail, head))


def trace(root):
    nodes, edges = set(), set()

    def build(v):
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)
    build(root)
    return nodes, edges


def draw_dot(root, format='svg', rankdir='LR'):
    assert rankdir in ['LR', 'TB']
    nodes, edges = trace(root)
    dot = Digraph(format=format, graph_attr={'rankdir': rankdir})
    for n in nodes:
        dot.node(name=str(id(n)), label="{ data %.4f | grad %.4f }" % (n.data, n.grad), shape='record')
        if n._op:
            dot.node(name=str(id(n)) + n._op, label=n._op)
            dot.edge(str(id(n)) + n._op, str(id(n)))
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


def test_trace_graph_draws_the_right_picture():
    x = Value(1.0)
    y = (x * 2 + 1).relu()
    y.backward()
    dot = draw_dot(y)
    # x -> (*2.0) -> [2.0] -> (+1.0) -> [3.0] -> (relu) -> [3.0]: constants drawn with their op
    ids = {v: str(id(v)) for v in trace(y)[0]}
    by_data = {(v.data, v._op): ids[v] for v in ids}
    twice, plus, out = by_data[(2.0, "*2.0")], by_data[(3.0, "+1.0")], by_data[(3.0, "relu")]
    assert dot.nodes[ids[x]] == "{ data 1.0000 | grad 2.0000 }"
    assert dot.nodes[twice] == "{ data 2.0000 | grad 1.0000 }"
    assert dot.nodes[plus] == dot.nodes[out] == "{ data 3.0000 | grad 1.0000 }"
    assert {label for name, label in dot.nodes.items() if name not in ids.values()} == {"*2.0", "+1.0", "relu"}
    assert dot.edges == {(ids[x], twice + "*2.0"), (twice + "*2.0", twice), (twice, plus + "+1.0"),
                         (plus + "+1.0", plus), (plus, out + "relu"), (out + "relu", out)}


def test_trace_graph_neuron_example():
    random.seed(1337)
    n = Neuron(2)  # micrograd's default neuron: relu
    x = [Value(1.0), Value(-2.0)]
    y = n(x)
    y.backward()
    random.seed(1337)
    w0, w1 = random.uniform(-1, 1), random.uniform(-1, 1)
    assert y.data == max(0.0, 0.0 + w0 * 1.0 + w1 * -2.0) and y._op == "relu"
    nodes, edges = trace(y)
    (z,) = y._prev  # the weighted sum: one node with the weights, inputs and bias as parents
    assert z._op == "dot" and z._prev == {*n.w, *x, n.b} and len(nodes) == 7 and len(edges) == 6
    assert [v.grad for v in x] == ([w0, w1] if z.data > 0 else [0.0, 0.0])
    assert all(v._prev == set() and v._op == "" for v in (*n.w, *x, n.b))


def test_prev_is_a_set_of_distinct_parents():
    a = Value(3.0)
    assert (a * a)._prev == {a} and (a * a).parents == (a, a)


def test_value_takes_micrograds_constructor():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = Value(a.data + b.data, (a, b), "+", label="c")
    assert (c.data, c._prev, c._op, c.label) == (-1.0, {a, b}, "+", "c")
    assert (c.op, c.parents, c.local_grads) == ("+", (a, b), (0.0, 0.0))
    d = Value(4.0, (a, b, c), "f")
    assert d._prev == {a, b, c} and d.parents == (a, b, c)
    (d * 2).backward()  # like micrograd's default _backward: a node made by hand passes nothing on
    assert (d.grad, a.grad, b.grad, c.grad) == (2.0, 0.0, 0.0, 0.0)
    with pytest.raises(TypeError, match="_children"):
        Value(1.0, (a, 2.0), "+")
    assert Value(1.0, iter(()), "x")._prev == set() and Value(1.0, iter([a]))._prev == {a}


# -- a tutorial's network and training script -----------------------------------------------

def test_a_tutorial_training_script():
    random.seed(42)
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    n = MLP(3, [4, 4, 1], "tanh", 0.05)
    tolerance, losses = 0.01, []
    for k in range(500):
        ypred = [n(x) for x in xs]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(ys, ypred))
        losses.append(loss.data)
        if loss.data < tolerance:
            break
        n.zero_grad()
        loss.backward()
        n.update_parameters()
    assert losses[-1] < tolerance < losses[0]
    for x, ygt in zip(xs, ys):  # the evaluation loop
        assert abs(n(x).data - ygt) < 0.1
    assert [len(p.parameters()) for p in n.layers] == [16, 20, 5]


def test_tutorial_update_parameters_is_a_plain_sgd_step():
    n = MLP(2, [3, 1], "relu", 0.1, seed=0)
    for i, p in enumerate(n.parameters()):
        p.grad = 0.5 - i
    before = [p.data for p in n.parameters()]
    n.update_parameters()
    assert [p.data for p in n.parameters()] == [d + 0.1 * -(0.5 - i) for i, d in enumerate(before)]
    with pytest.raises(ValueError, match="step"):
        MLP(2, [3, 1], seed=0).update_parameters()


def test_tutorial_constructors():
    assert Neuron(3, "tanh")([1.0, 2.0, 3.0]).op == "tanh"
    assert Neuron(3, nonlin=False)([1.0, 2.0, 3.0]).op == "dot"  # micrograd's linear neuron
    layer = Layer(3, 4, "relu")
    outs = layer([1.0, -1.0, 0.5])
    assert len(outs) == 4 and all(o.op == "relu" for o in outs)
    assert Layer(3, 4, nonlin=False).act == "linear"
    net = MLP(3, [4, 4, 1], "tanh", 0.05)
    assert net.activations == ["tanh", "tanh", "tanh"] and net.step == 0.05  # every layer, output too
    assert MLP(3, [4, 1], ["relu", "linear"]).activations == ["relu", "linear"]


def test_one_neuron_gives_a_bare_value():
    assert isinstance(Layer(3, 1)([1.0, 2.0, 3.0]), Value)
    assert isinstance(Neuron(3)([1.0, 2.0, 3.0]), Value)
    assert isinstance(MLP(2, [4, 1], seed=0)([0.5, -0.5]), Value)
    assert len(MLP(2, [4, 2], seed=0)([0.5, -0.5])) == 2
    thin = MLP(2, [1, 3, 1], seed=0)  # a hidden layer of one neuron still feeds the next layer
    assert isinstance(thin([0.5, -0.5]), Value)
    out = MLP(2, [4, 1], seed=0)([0.5, -0.5])
    assert as_list(out) == [out] and as_list([out, out]) == [out, out]


def test_the_readme_example_prints_what_it_says():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", readme.split("## Coming from micrograd", 1)[1], re.S).group(1)
    said = float(re.search(r"print\(total_loss.data\) +# ([0-9.e-]+)", block).group(1))
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["total_loss"].data == pytest.approx(said, rel=1e-12)
