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
from operator import mul

from .ops import UNARY


class Value:
    """A scalar, the parents it was computed from, and d(self)/d(parent) for each.

    The graph, read-only (for drawing, the compiler and tests):
      op           the op that made this node: "" for a leaf; "+" (x + y and x + c), "*"
                   (x * y and x * c), "**", a name from `micrograd.ops.UNARY` ("relu",
                   "tanh", ...), "dot" or "sum"
      parents      the Values it was computed from, a tuple
      local_grads  d(self)/d(parent) for each parent, floats aligned with `parents`
      const        the constant of x + c and x * c (a float) and of x ** k (k as given);
                   for a `dot` over number inputs, those inputs (a tuple); else None
    A `dot`'s parents are its weights w0..w(n-1), then its inputs x0..x(n-1) if they are
    Values, then its bias b. A parent used twice (x * x) is listed twice.

    The unary ops (relu, tanh, sigmoid, softplus, exp, log, abs, ...) are methods made from
    the op table, `micrograd.ops.UNARY`, at import.

    micrograd's names work too, so graph-walking code written for it runs unchanged:
    `Value(data, _children=(), _op='', label='')` builds a node by hand, and every node has
    `_prev` (its distinct parents, a set) and `_op` (its op as drawn, constant included:
    "*2.0", "+1.0", "**2", "relu"). A node built by hand has no local derivatives: like
    micrograd's default `_backward`, it passes no gradient to its `_children`.
    """

    # Parents and d(self)/d(parent): the first two in slots (_a, _da), (_b, _db),
    # any more (dot, total) in `_rest` as a flat tuple (p, d, p, d, ...). A leaf has
    # _a None. Slots rather than a tuple per node: one object per node, not two, for
    # the cyclic collector to count and walk (W4's build: 79 -> 67 ms). `_const` is
    # set only by the ops that have a constant, and read through `const`.
    __slots__ = ("data", "grad", "_a", "_da", "_b", "_db", "_rest", "_name", "_const", "label")

    def __init__(self, data, _children=(), _op="", label=""):
        self.data = float(data)
        self.grad = 0.0
        self._a = self._b = None
        self._name = _op
        self.label = label
        if _children:
            self._adopt(_children)

    def _adopt(self, children):
        """Parents given by hand, each with a local derivative of 0."""
        children = tuple(children)
        if not children:  # an empty iterator
            return
        if not all(isinstance(c, Value) for c in children):
            raise TypeError(f"Value: _children must be Values, got {children!r}")
        self._a, self._da = children[0], 0.0
        if len(children) > 1:
            self._b, self._db = children[1], 0.0
            self._rest = tuple(x for c in children[2:] for x in (c, 0.0))

    # -- the graph ---------------------------------------------------------------

    @property
    def op(self):
        return self._name

    @property
    def parents(self):
        if self._a is None:
            return ()
        if self._b is None:
            return (self._a,)
        return (self._a, self._b, *self._rest[::2])

    @property
    def local_grads(self):
        if self._a is None:
            return ()
        if self._b is None:
            return (self._da,)
        return (self._da, self._db, *self._rest[1::2])

    @property
    def const(self):
        try:
            return self._const
        except AttributeError:  # not set: the op has no constant
            return None

    # micrograd's names for the same graph, for code written against it.

    @property
    def _prev(self):
        """The distinct parents, as a (new) set: micrograd's `_prev`."""
        return set(self.parents)

    @property
    def _op(self):
        """The op as drawn, with its constant ("*2.0", "**2"): micrograd's `_op`."""
        return _op_label(self)

    # -- primitives: output, parents, local derivatives ------------------------

    def __add__(self, other):
        if isinstance(other, Value):
            return _node(self.data + other.data, "+", self, 1.0, other, 1.0)
        if isinstance(other, (int, float)):
            v = _node(self.data + other, "+", self, 1.0)
            v._const = float(other)  # the local derivative (1) does not keep it
            return v
        return NotImplemented

    def __mul__(self, other):
        if isinstance(other, Value):
            return _node(self.data * other.data, "*", self, other.data, other, self.data)
        if isinstance(other, (int, float)):
            v = _node(self.data * other, "*", self, float(other))
            v._const = float(other)
            return v
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
        v = _node(float(out), "**", self, float(local))
        v._const = k
        return v

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


def _unary(name, scalar):
    """The `Value` method for a unary op of the table: output and local derivative from `scalar`."""
    def method(self):
        y, d = scalar(self.data)
        return _node(y, name, self, d)
    method.__name__, method.__qualname__ = name, f"Value.{name}"
    method.__doc__ = f"{name}(self), as `micrograd.ops.UNARY[{name!r}]` computes it."
    return method


def _attach_unary_ops():
    for name, op in UNARY.items():
        setattr(Value, name, _unary(name, op.scalar))
    Value.__abs__ = Value.abs


_attach_unary_ops()

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
    v._name = op
    v.label = ""
    return v


def _many(data, op, pairs):
    """A node with any number of parents, from a flat list (p, d, p, d, ...)."""
    if len(pairs) == 2:
        return _node(data, op, pairs[0], pairs[1])
    return _node(data, op, *pairs[:4], tuple(pairs[4:]))


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
    out = _many(sum(map(mul, wd, xd), b.data), "dot", prev)
    if not x_tracked:
        out._const = tuple(xd)
    return out


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

    For drawing: each node carries `op` (and `const`), `data`, `grad` and `label`.
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
    return dot_text([(id(v), v.label, v.data, v.grad, _op_label(v) if v.op else "") for v in nodes],
                    [(id(p), id(v)) for p, v in edges], rankdir)


def dot_text(nodes, edges, rankdir="LR"):
    """Graphviz DOT text for `nodes`, (key, name, data, grad, op) each, and `edges`, (key, key)
    pairs: one record per node (its name, data and grad), its op (if any) a circle of its own
    that the node's incoming edges point to."""
    ids = {key: f"n{i}" for i, (key, *_) in enumerate(nodes)}
    lines = [f"digraph G {{\n  rankdir={rankdir};", '  node [shape=record, fontname="Helvetica"];']
    target = {}
    for key, name, data, grad, op in nodes:
        n = ids[key]
        label = f"{_dot_escape(name)} | " if name else ""
        lines.append(f'  {n} [label="{{ {label}data {data:.4f} | grad {grad:.4f} }}"];')
        if op:
            target[key] = f"{n}_op"
            lines.append(f'  {n}_op [label="{_dot_escape(op)}", shape=circle];')
            lines.append(f"  {n}_op -> {n};")
    for u, v in edges:
        lines.append(f"  {ids[u]} -> {target.get(v, ids[v])};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _op_label(v):
    """The op as drawn: with its constant when it is one number ("+2.0", "*-1.0", "**2")."""
    c = v.const
    return v.op if c is None or isinstance(c, tuple) else f"{v.op}{c!r}"


def _dot_escape(text):
    return "".join("\\" + c if c in '{}|<>"\\' else c for c in text)
