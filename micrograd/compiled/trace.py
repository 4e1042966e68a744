"""Trace one symbolic sample of model + per-sample loss, and read its graph into a plain IR.

The graph is read through `Value`'s public graph API only (`op`, `parents`, `const`):
the compiler knows nothing of how the engine stores a node.
"""
from typing import NamedTuple

from ..engine import Value
from ..losses import LOSSES
from ..nn import as_list
from ..ops import UNARY


CHECK_EVERY = 4096  # Values read between two calls of a Graph's `check`: a few ms


def unchecked(fraction):
    """The `check` of a compile nobody may stop (`Program`'s default)."""


class Unsupported(Exception):
    """The compiler cannot handle this model or loss; the message says what."""


def trace(model, loss):
    """Model + per-sample loss for one symbolic sample.

    Returns (params, xs, ys, outs, term): the parameter Values, input and
    target placeholders, the model's output Values and the per-sample loss Value.
    """
    if loss not in LOSSES:
        raise Unsupported(f"unknown loss {loss!r}")
    fn = LOSSES[loss][0]
    params = model.parameters()
    nin = getattr(model, "nin", None)
    if not isinstance(nin, int):
        raise Unsupported("the model does not say how many inputs it takes (no `nin`)")
    # Distinct, irregular placeholder numbers: no accidental ties or zeros.
    xs = [Value(0.3141 + 0.1 * j, label=f"x{j}") for j in range(nin)]
    try:
        outs = as_list(model(xs))
        ys = [Value(0.2718 + 0.1 * j, label=f"y{j}") for j in range(len(outs))]
        term = fn(outs, ys)
    except Unsupported:
        raise
    except Exception as e:  # a data-dependent error at the placeholder values
        raise Unsupported(f"tracing the model and loss failed: {e}") from None
    if not all(isinstance(o, Value) for o in outs) or not isinstance(term, Value):
        raise Unsupported("the model or loss does not return Values")
    return params, xs, ys, outs, term


# -- the IR ------------------------------------------------------------------------

class Leaf(NamedTuple):
    """A graph input: parameter `index` of theta, or column `index` of the inputs X or targets Y."""

    source: str  # "param", "x" or "y"
    index: int


class Node:
    """One interior op of the sample's graph; `args` are positions in `Graph.items`.

    kind: "add" (x + y), "add_const" (x + c), "mul", "mul_const", "pow" (x ** const),
    "sum", "dot" (args: the weights, the inputs, the bias), or "unary" (then `fn` names
    the op in `micrograd.ops.UNARY`). `needs_grad`: it depends on a parameter.
    `depth` and `row` are filled in by the layout.
    """

    __slots__ = ("id", "kind", "fn", "args", "const", "needs_grad", "depth", "row")

    def __init__(self, id_, kind, fn, args, const):
        self.id, self.kind, self.fn, self.args, self.const = id_, kind, fn, args, const
        self.needs_grad, self.depth, self.row = False, 0, None

    def dot_parts(self):
        """A dot's (weights, inputs, bias)."""
        n = (len(self.args) - 1) // 2
        return self.args[:n], self.args[n:2 * n], self.args[-1]


class Graph:
    """The traced sample as an IR.

    items: a Leaf or Node per position; nodes: the Nodes, parents first;
    outputs, sample_loss: positions of the model's outputs and of the per-sample loss.
    """

    def __init__(self, model, loss, check):
        params, xs, ys, outs, term = trace(model, loss)
        check(0.0)
        self.nparams, self.nin, self.nout = len(params), len(xs), len(outs)
        leaves = {id(v): Leaf(source, i) for source, values in (("param", params), ("x", xs), ("y", ys))
                  for i, v in enumerate(values)}
        if len(leaves) < len(params) + len(xs) + len(ys):  # the placeholders are new Values
            raise Unsupported("a parameter is listed twice in model.parameters()")
        check(0.0)
        self.items, self.nodes = [], []
        position = {}  # id(Value) -> its position in items (a one-term sum: its term's)
        order = _parents_first([*outs, term])
        for k, v in enumerate(order):
            if k % CHECK_EVERY == 0:
                check(0.0)
            parents = v.parents
            if not parents:
                if id(v) not in leaves:
                    raise Unsupported(f"a constant Value leaf ({v.data!r}) in the graph")
                position[id(v)] = len(self.items)
                self.items.append(leaves[id(v)])
                continue
            kind, fn, const = _decode(v)
            args = [position[id(p)] for p in parents]
            if kind == "sum" and len(args) == 1:
                position[id(v)] = args[0]
                continue
            node = Node(len(self.items), kind, fn, args, const)
            self._check_params(node, v)
            node.needs_grad = kind == "dot" or any(self.is_node(a) and self.items[a].needs_grad for a in args)
            position[id(v)] = node.id
            self.items.append(node)
            self.nodes.append(node)
        self.outputs = [position[id(o)] for o in outs]
        self.sample_loss = position[id(term)]
        if not self.is_node(self.sample_loss):
            raise Unsupported("the loss is a leaf")

    def is_node(self, ref):
        return isinstance(self.items[ref], Node)

    def is_param(self, ref):
        item = self.items[ref]
        return isinstance(item, Leaf) and item.source == "param"

    def _check_params(self, node, v):
        """Parameters may only be a neuron's weights and bias."""
        if node.kind == "dot":
            w, x, b = node.dot_parts()
            if not all(self.is_param(a) for a in (*w, b)):
                raise Unsupported("a weighted sum whose weights are not parameters")
            if any(self.is_param(a) for a in x):
                raise Unsupported("a weighted sum over parameters as inputs")
        elif any(self.is_param(a) for a in node.args):
            raise Unsupported(f"a parameter used outside a weighted sum (in {v.op!r})")


def _parents_first(roots):
    """Every Value reachable from roots, parents first (iterative)."""
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, False)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append(v)
                continue
            stack.append((v, True))
            for p in reversed(v.parents):  # first parent first: rows come out in neuron order
                if id(p) not in seen:
                    seen.add(id(p))
                    stack.append((p, False))
    return order


def _decode(v):
    """(kind, fn, const) of one interior Value; Unsupported if unknown."""
    op, n, const = v.op, len(v.parents), v.const
    if op == "+" and n == 2:
        return "add", None, None
    if op == "+" and n == 1:
        return "add_const", None, const
    if op == "*" and n == 2:
        return "mul", None, None
    if op == "*" and n == 1:
        return "mul_const", None, const
    if op == "**" and n == 1:
        return "pow", None, float(const)
    if op in UNARY and n == 1:
        return "unary", op, None
    if op == "sum" and n:
        return "sum", None, None
    if op == "dot":
        if const is not None:
            raise Unsupported("a weighted sum over constant inputs (dot with number x)")
        return "dot", None, None
    raise Unsupported(f"operation {op or 'leaf'!r} with {n} operand(s)")
