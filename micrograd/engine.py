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

    # Parents and d(self)/d(parent): the first two in slots (_a, _da), (_b, _db),
    # any more (dot, total) in `_rest` as a flat tuple (p, d, p, d, ...). A leaf has
    # _a None. Slots rather than a tuple per node: one object per node, not two, for
    # the cyclic collector to count and walk (W4's build: 79 -> 67 ms).
    __slots__ = ("data", "grad", "_a", "_da", "_b", "_db", "_rest", "_op", "label")

    def __init__(self, data, label=""):
        self.data = float(data)
        self.grad = 0.0
        self._a = self._b = None
        self._op = ""
        self.label = label

    @property
    def parents(self):
        return _pairs(self)[::2]

    # -- primitives: output, parents, local derivatives ------------------------

    def __add__(self, other):
        if isinstance(other, Value):
            return _node(self.data + other.data, "+", self, 1.0, other, 1.0)
        if isinstance(other, (int, float)):
            # The op names the constant: the local derivative (1) does not
            # keep it, and a drawing or the compiler needs it.
            return _node(self.data + other, f"+{float(other)!r}", self, 1.0)
        return NotImplemented

    def __mul__(self, other):
        if isinstance(other, Value):
            return _node(self.data * other.data, "*", self, other.data, other, self.data)
        if isinstance(other, (int, float)):
            return _node(self.data * other, "*", self, float(other))
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
        return _node(float(out), f"**{k}", self, float(local))

    def relu(self):
        # NOTE: the gradient at exactly 0 is taken as 0, as in micrograd and PyTorch.
        x = self.data
        return _node(x if x > 0 else 0.0, "relu", self, 1.0 if x > 0 else 0.0)

    def tanh(self):
        # math.tanh saturates to +-1 for any finite input; the blog's
        # (exp(2x)-1)/(exp(2x)+1) overflows from x = 355.
        t = math.tanh(self.data)
        return _node(t, "tanh", self, 1.0 - t * t)

    def sigmoid(self):
        # exp of a non-positive number only, so it never overflows.
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:
            z = math.exp(x)
            s = z / (1.0 + z)
        return _node(s, "sigmoid", self, s * (1.0 - s))

    def softplus(self):
        # log(1 + e^x) as max(x, 0) + log1p(e^-|x|): exact and finite for any
        # finite x. The derivative is sigmoid(x).
        x = self.data
        z = math.exp(-abs(x))
        s = 1.0 / (1.0 + z) if x >= 0 else z / (1.0 + z)
        return _node(max(x, 0.0) + math.log1p(z), "softplus", self, s)

    def exp(self):
        try:
            e = math.exp(self.data)
        except OverflowError:
            raise OverflowError(f"exp: exp({self.data}) overflows float64") from None
        return _node(e, "exp", self, e)

    def log(self):
        x = self.data
        if x <= 0:
            raise ValueError(f"log: log({x}) is undefined (needs a positive value)")
        return _node(math.log(x), "log", self, 1.0 / x)

    def __abs__(self):
        # NOTE: like relu, the gradient at exactly 0 is taken as 0.
        x = self.data
        return _node(abs(x), "abs", self, float((x > 0) - (x < 0)))

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
        self.grad = 1.0 if self._a is not None else self.grad + 1.0
        for v in reversed(topo):
            g = v.grad
            v._a.grad += v._da * g
            b = v._b
            if b is not None:
                b.grad += v._db * g
                if v._rest:
                    pairs = iter(v._rest)
                    for p, d in zip(pairs, pairs):
                        p.grad += d * g

    def __repr__(self):
        label = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{label})"


_new = object.__new__


def _node(data, op, a, da, b=None, db=0.0, rest=()):
    """An interior node: `data` (a float), its op, parents and local derivatives.

    Not `Value(...)`: calling the class re-enters the interpreter for `__init__`
    (and its float()); a plain function call is inlined by 3.11's eval loop.
    """
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._a = a
    v._da = da
    v._b = b
    v._db = db
    v._rest = rest
    v._op = op
    v.label = ""
    return v


def _many(data, op, pairs):
    """A node with any number of parents, from a flat list (p, d, p, d, ...)."""
    if len(pairs) == 2:
        return _node(data, op, pairs[0], pairs[1])
    return _node(data, op, *pairs[:4], tuple(pairs[4:]))


def _pairs(v):
    """A node's parents and local derivatives as one flat tuple (p, d, p, d, ...)."""
    if v._a is None:
        return ()
    if v._b is None:
        return (v._a, v._da)
    return (v._a, v._da, v._b, v._db, *v._rest)


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
    return _many(sum(map(mul, wd, xd), b.data), "dot", prev)


def total(values):
    """values[0] + values[1] + ...: a sum of many terms as one node, not a chain."""
    values = list(values)
    if not values:
        return Value(0.0)
    prev = [1.0] * (2 * len(values))  # (v0, 1.0, v1, 1.0, ...)
    prev[::2] = values
    return _many(sum(v.data for v in values), "sum", prev)


def _interior_topo(root):
    """Nodes with parents, reachable from root, parents before children; their grads set to 0.

    Iterative depth-first search, so graph depth is limited by memory, not
    by Python's recursion limit. A None on the stack marks the node below it
    as done. Leaves are skipped: they pass nothing on.
    NOTE: while the search runs, a grad of None marks a node as expanded. The
    grads are about to be reset anyway, and an attribute test is half the
    cost of a `seen` set (W4's sort: 25 -> 12 ms).
    """
    topo = []
    stack = [root] if root._a is not None else []
    push, pop = stack.append, stack.pop
    try:
        while stack:
            v = pop()
            if v is None:  # the node below is done: all its parents are in topo
                topo.append(pop())
            elif v.grad is not None:  # not expanded yet (a node can be pushed twice)
                v.grad = None
                push(v)
                push(None)
                a, b = v._a, v._b
                if a._a is not None and a.grad is not None:
                    push(a)
                if b is not None:
                    if b._a is not None and b.grad is not None:
                        push(b)
                    for p in v._rest[::2]:
                        if p._a is not None and p.grad is not None:
                            push(p)
    finally:  # every marked node is in topo or still on the stack, even after an interrupt
        for v in topo + stack:
            if v is not None:
                v.grad = 0.0
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
    grads = [v.grad for v in nodes]  # the sort below resets them: a drawing must not
    order = {id(v): i for i, v in enumerate(_interior_topo(root))}
    for v, g in zip(nodes, grads):
        v.grad = g
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
