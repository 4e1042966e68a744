"""Scalar reverse-mode autograd: the `Value` node and its ops.

Each op computes its output and, right then, the local derivative of the
output with respect to each parent, as plain numbers. `backward()` then runs
the chain rule with no closures: `parent.grad += local * out.grad`.

Why not micrograd's closures: a `_backward` closure that captures `out` makes
every node a reference cycle, so only Python's cyclic collector frees a graph
(80% of a training step, and long GUI pauses). Here a node refers only to its
parents, a graph is acyclic, and reference counting frees it the moment the
last handle goes away.
"""
import math
from operator import mul


class Value:
    """A scalar, the parents it was computed from, and d(self)/d(parent) for each."""

    __slots__ = ("data", "grad", "_prev", "_op", "label")

    def __init__(self, data, _prev=(), _op="", label=""):
        self.data = float(data)
        self.grad = 0.0
        # Each parent followed by d(self)/d(parent): (a, da, b, db, ...).
        # One flat tuple rather than two is a third fewer objects per node.
        self._prev = _prev
        self._op = _op
        self.label = label

    @property
    def parents(self):
        return self._prev[::2]

    # -- primitives: output, parents, local derivatives ------------------------

    def __add__(self, other):
        if isinstance(other, Value):
            return _node(self.data + other.data, (self, 1.0, other, 1.0), "+")
        if isinstance(other, (int, float)):
            # The op names the constant: the local derivative (1) does not
            # keep it, and a drawing or the compiler needs it.
            return Value(self.data + other, (self, 1.0), f"+{float(other)!r}")
        return NotImplemented

    def __mul__(self, other):
        if isinstance(other, Value):
            return _node(self.data * other.data, (self, other.data, other, self.data), "*")
        if isinstance(other, (int, float)):
            return Value(self.data * other, (self, float(other)), "*")
        return NotImplemented

    def __pow__(self, k):
        if not isinstance(k, (int, float)):
            return NotImplemented
        x = self.data
        try:
            out = x**k
            local = k * x ** (k - 1) if k != 0 else 0.0
        except ZeroDivisionError:
            raise ZeroDivisionError(f"pow: {x} ** {k} divides by zero") from None
        except OverflowError:
            raise OverflowError(f"pow: {x} ** {k} overflows float64") from None
        if isinstance(out, complex):
            raise ValueError(f"pow: {x} ** {k} is not a real number")
        return Value(out, (self, local), f"**{k}")

    def relu(self):
        # NOTE: the gradient at exactly 0 is taken as 0, as in micrograd and PyTorch.
        x = self.data
        return Value(x if x > 0 else 0.0, (self, 1.0 if x > 0 else 0.0), "relu")

    def tanh(self):
        # math.tanh saturates to +-1 for any finite input; the blog's
        # (exp(2x)-1)/(exp(2x)+1) overflows from x = 355.
        t = math.tanh(self.data)
        return Value(t, (self, 1.0 - t * t), "tanh")

    def sigmoid(self):
        # exp of a non-positive number only, so it never overflows.
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            z = math.exp(x)
            s = z / (1.0 + z)
        return Value(s, (self, s * (1.0 - s)), "sigmoid")

    def softplus(self):
        # log(1 + e^x) as max(x, 0) + log1p(e^-|x|): exact and finite for any
        # finite x. The derivative is sigmoid(x).
        x = self.data
        z = math.exp(-abs(x))
        s = 1.0 / (1.0 + z) if x >= 0 else z / (1.0 + z)
        return Value(max(x, 0.0) + math.log1p(z), (self, s), "softplus")

    def exp(self):
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp: exp({self.data}) overflows float64") from None
        return Value(e, (self, e), "exp")

    def log(self):
        x = self.data
        if x <= 0:
            raise ValueError(f"log: log({x}) is undefined (needs a positive value)")
        return Value(math.log(x), (self, 1.0 / x), "log")

    def __abs__(self):
        # NOTE: like relu, the gradient at exactly 0 is taken as 0.
        x = self.data
        return Value(abs(x), (self, float((x > 0) - (x < 0))), "abs")

    # -- derived ops: one line each on top of the primitives --------------------

    def __neg__(self):  # -self
        return self * -1.0

    def __radd__(self, other):  # other + self
        return self + other

    def __sub__(self, other):  # self - other
        return self + (-other)

    def __rsub__(self, other):  # other - self
        return other + (-self)

    def __rmul__(self, other):  # other * self
        return self * other

    def __truediv__(self, other):  # self / other
        if isinstance(other, (int, float)):
            if other == 0:
                raise ZeroDivisionError(f"div: {self.data} / 0")
            return self * (1.0 / other)
        if isinstance(other, Value):
            return self * other**-1
        return NotImplemented

    def __rtruediv__(self, other):  # other / self
        return other * self**-1

    # -- backward ---------------------------------------------------------------

    def backward(self):
        """Add d(self)/d(leaf) to every leaf's `grad`.

        Leaves (parameters, inputs) accumulate across calls, as in PyTorch:
        call `zero_grad()` (or set `grad = 0`) between steps. Interior nodes
        are reset, so after a call they hold this call's gradient only.
        """
        topo = _interior_topo(self)
        for v in topo:
            v.grad = 0.0
        self.grad = 1.0 if self._prev else self.grad + 1.0
        for v in reversed(topo):
            g = v.grad
            prev = v._prev
            if len(prev) == 4:
                # A binary op, most nodes of a graph. Unpacking skips the two
                # iterator objects per node of the general loop: a third of backward.
                a, da, b, db = prev
                a.grad += da * g
                b.grad += db * g
            else:
                pairs = iter(prev)
                for p, d in zip(pairs, pairs):
                    p.grad += d * g

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"


_new = object.__new__


def _node(data, prev, op):
    """`Value(data, prev, op)` for the hot ops (`+`, `*`, dot), whose `data` is already a float.

    Calling the class re-enters the interpreter for `__init__` (and its float());
    a plain function call is inlined by 3.11's eval loop. 10-20% off building a
    chain of `+` and `*` (measured with the cyclic GC off, which otherwise dominates).
    """
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._prev = prev
    v._op = op
    v.label = ""
    return v


def dot(w, x, b):
    """b + w[0]*x[0] + w[1]*x[1] + ...: a neuron's weighted sum as one node.

    One node with the w (and Value x) as parents instead of a chain of 2n
    binary nodes: the same numbers and gradients, a fraction of the objects.
    `x` is either all Values (a hidden layer) or all numbers (a data row).
    """
    n = len(w)
    if len(x) != n:
        raise ValueError(f"dot: {n} weights but {len(x)} inputs")
    wd = [wi.data for wi in w]
    x_tracked = bool(x) and isinstance(x[0], Value)
    xd = [xi.data for xi in x] if x_tracked else [float(xi) for xi in x]
    # prev = (w0, x0, w1, x1, ..., [x0, w0, x1, w1, ...,] b, 1.0), filled by
    # strided slice assignment (loops in C) rather than a tuple per pair:
    # this halves the cost of a 16-input neuron.
    prev = [1.0] * ((4 * n if x_tracked else 2 * n) + 2)
    prev[0 : 2 * n : 2] = w
    prev[1 : 2 * n : 2] = xd
    if x_tracked:
        prev[2 * n : 4 * n : 2] = x
        prev[2 * n + 1 : 4 * n : 2] = wd
    prev[-2] = b
    return _node(sum(map(mul, wd, xd), b.data), tuple(prev), "dot")


def total(values):
    """values[0] + values[1] + ...: a sum of many terms as one node, not a chain."""
    values = list(values)
    prev = [1.0] * (2 * len(values))  # (v0, 1.0, v1, 1.0, ...)
    prev[::2] = values
    return Value(sum(v.data for v in values), tuple(prev), "sum")


def _interior_topo(root):
    """Nodes with parents, reachable from root, parents before children.

    Iterative depth-first search, so graph depth is limited by memory, not
    by Python's recursion limit. A None on the stack marks the node below it
    as done. Leaves are skipped: they pass nothing on.
    """
    topo, seen = [], set()
    stack = [root] if root._prev else []
    push = stack.append
    while stack:
        v = stack.pop()
        if v is None:  # the node below is done: all its parents are in topo
            topo.append(stack.pop())
        elif v not in seen:
            seen.add(v)
            push(v)
            push(None)
            for p in v._prev[::2]:
                if p._prev and p not in seen:
                    push(p)
    return topo


def walk(root):
    """Every node reachable from root (parents first) and every edge (parent, child).

    For drawing: each node carries `_op`, `data`, `grad` and `label`.
    """
    nodes, edges, seen = [], [], {root}
    stack = [root]
    while stack:
        v = stack.pop()
        nodes.append(v)
        for p in v.parents:
            edges.append((p, v))
            if p not in seen:
                seen.add(p)
                stack.append(p)
    order = {id(v): i for i, v in enumerate(_interior_topo(root))}
    nodes.sort(key=lambda v: order.get(id(v), -1))
    return nodes, edges


def to_dot(root, rankdir="LR"):
    """The graph under root as Graphviz DOT text: one record per node, ops as their own nodes."""
    nodes, edges = walk(root)
    ids = {id(v): f"n{i}" for i, v in enumerate(nodes)}
    lines = [f"digraph G {{\n  rankdir={rankdir};", '  node [shape=record, fontname="Helvetica"];']
    for v in nodes:
        n = ids[id(v)]
        label = f"{_dot_escape(v.label)} | " if v.label else ""
        lines.append(f'  {n} [label="{{ {label}data {v.data:.4f} | grad {v.grad:.4f} }}"];')
        if v._op:
            lines.append(f'  {n}_op [label="{_dot_escape(v._op)}", shape=circle];')
            lines.append(f"  {n}_op -> {n};")
    for p, v in edges:
        lines.append(f"  {ids[id(p)]} -> {ids[id(v)]}_op;")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_escape(text):
    return "".join("\\" + c if c in '{}|<>"\\' else c for c in text)
