"""The lens: one sample's loss as a graph a person can read. No Qt.

* `Lens(config, task).graph(weights, x, y)` builds the scalar graph of `loss(model(x), y)` with
  the `Value` engine itself (the network of `config` at `weights`, the per-sample loss of
  `losses.LOSSES`, `backward()`) and keeps its numbers as plain data: a `Graph`.
* `Lens.shown(expanded)` is the graph as drawn: every neuron one node, or, for the neurons in
  `expanded`, its weights, bias, weighted sum (`dot`) and activation; the loss likewise one node
  or its ops.
* `layout(nodes, edges)` places a drawn graph in columns, left to right by depth.
* `Steps` is the order a forward and a backward pass reveal the drawn nodes in.
* `to_dot(graph, nodes, edges)` writes what is drawn as Graphviz DOT text.

Nodes are named by keys, tuples that mean the same node whatever the weights or the sample:
("x", i) input i; ("w", l, j, i) and ("b", l, j) a weight and the bias of neuron j of layer l;
("dot", l, j) its weighted sum b + w . x; ("act", l, j) its activation (none for a linear
neuron: its dot is its output); ("n", l, j) the whole neuron, collapsed; ("loss", k) the k-th op
of the per-sample loss; ("L",) the loss collapsed. Layers count from 0, as the network diagram's
w[l][j][i] do.
"""
from __future__ import annotations

import numpy as np

from .engine import Value, dot_text
from .losses import LOSSES

LOSS_GROUP = "loss"      # the loss's group in `expanded`; a neuron's group is (l, j)
EXPAND_ALL = 40          # a network whose whole graph has at most this many nodes is drawn whole
SWEEPS = 8               # barycentric ordering passes (each left to right, then right to left)


def op_text(v):
    """The op of a Value as drawn, with its constant when it is one number: "+1.0", "*-1.0", "**2"."""
    c = v.const
    return v.op if c is None or isinstance(c, tuple) else f"{v.op}{c!r}"


class Graph:
    """The numbers of one sample's graph, read by node key: `data(key)`, `grad(key)`, `op(key)`,
    `name(key)`. `loss` is the per-sample loss (no L1/L2 penalty: that is the trainer's, on the
    whole parameter vector), `theta_grad` d loss / d parameter in the trainer's parameter order
    (per neuron its weights, then its bias)."""

    def __init__(self, lens, x, target, xs, layers, loss_values, theta_grad):
        self.lens, self.x, self.target = lens, tuple(x), target
        self._x = (np.array([v.data for v in xs]), np.array([v.grad for v in xs]))
        self._layers = layers  # per layer: dict of arrays W, Wg, b, bg, z, zg, a, ag
        self._loss = [(op_text(v), v.data, v.grad) for v in loss_values]
        self.loss = loss_values[-1].data
        self.theta_grad = theta_grad

    def _pair(self, key):
        kind = key[0]
        if kind == "x":
            return self._x[0][key[1]], self._x[1][key[1]]
        if kind == "loss":
            return self._loss[key[1]][1:]
        if kind == "L":
            return self._loss[-1][1:]
        layer = self._layers[key[1]]
        if kind == "w":
            return layer["W"][key[2], key[3]], layer["Wg"][key[2], key[3]]
        if kind == "b":
            return layer["b"][key[2]], layer["bg"][key[2]]
        if kind == "dot":
            return layer["z"][key[2]], layer["zg"][key[2]]
        return layer["a"][key[2]], layer["ag"][key[2]]  # "act", and "n": a neuron is its output

    def data(self, key):
        return float(self._pair(key)[0])

    def grad(self, key):
        return float(self._pair(key)[1])

    def op(self, key):
        """What the node computes: "" for an input or a parameter."""
        kind = key[0]
        if kind == "loss":
            return self._loss[key[1]][0]
        if kind == "L":
            return self.lens.config.loss
        if kind in ("dot", "act", "n"):
            act = self.lens.activations[key[1]]
            return "dot" if kind == "dot" or (kind == "n" and act == "linear") else act
        return ""

    def name(self, key):
        return self.lens.name(key)

    def grads(self):
        """Per layer (dW [outputs][inputs], db [outputs]): the shape of a Snapshot's `grads`."""
        return [(layer["Wg"], layer["bg"]) for layer in self._layers]

    def grad_peak(self):
        """The largest finite |grad| of any node (1 at least: the loss's own)."""
        arrays = [self._x[1], [g for _, _, g in self._loss]]
        arrays += [layer[k] for layer in self._layers for k in ("Wg", "bg", "zg", "ag")]
        peak = 1.0
        for a in arrays:
            a = np.abs(np.asarray(a, dtype=float).ravel())
            a = a[np.isfinite(a)]
            if a.size:
                peak = max(peak, float(a.max()))
        return peak


class Lens:
    """The per-sample graph of one network and loss: `graph(weights, x, y)` for the numbers,
    `shown(expanded)` for what is drawn. The `Value` network is built once here and given new
    weights for each graph."""

    def __init__(self, config, task):
        self.config, self.task = config, task
        self.sizes = [config.inputs, *config.layers]
        self.activations = list(config.activations)
        self.model = config.model(seed=0)  # its own weights are replaced by each graph's
        self.loss_fn = LOSSES[config.loss][0]
        # The loss's ops do not depend on the numbers: trace them once, at placeholder outputs.
        outs = [Value(0.1 * (j + 1)) for j in range(self.sizes[-1])]
        values, self.loss_parents = _loss_part(self.loss_fn(outs, self._targets(1.0)), outs)
        self.loss_count = len(values)
        # Where each stage starts in the forward order (the ops, layer by layer, then the loss)
        # and in the backward order (the loss, then layer by layer from the last, then the inputs).
        self._fwd, self._bwd, f = [], [], 0
        for l, n in enumerate(self.sizes[1:]):
            self._fwd.append(f)
            f += n * self._ops(l)
        self._fwd.append(f)
        b = self.loss_count
        for l in reversed(range(len(self.sizes) - 1)):
            self._bwd.append(b)
            b += self.sizes[l + 1] * (self._ops(l) + self.sizes[l] + 1)
        self._bwd.reverse()
        self._bwd.append(b)  # the inputs
        self.forward_count = f + self.loss_count
        self.backward_count = b + self.sizes[0]

    def _ops(self, l):
        """Ops per neuron of layer l: its dot, and its activation unless linear."""
        return 1 if self.activations[l] == "linear" else 2

    def _targets(self, y):
        """The loss's target for a sample's label, as the trainer makes it: a class (0 or 1)
        becomes the loss's two targets (-1/+1 for hinge), a regression value stays."""
        if self.task == "classification":
            neg, pos = self.config.targets()
            return [pos if y > 0.5 else neg]
        return [float(y)]

    # --- the numbers -------------------------------------------------------------------------

    def graph(self, weights, x, y):
        """Forward and backward through the engine for one sample: inputs `x`, label `y` (the
        data's: a class 0/1 or a regression value). Weights per layer (W, b) as a Snapshot has
        them."""
        parts = self.graph_parts(weights, x, y)
        while True:
            try:
                next(parts)
            except StopIteration as done:
                return done.value

    def graph_parts(self, weights, x, y):
        """`graph` as a generator that yields between its parts (an 8x64 network's graph takes
        15-45 ms, too long for one turn of a window's event loop) and returns the Graph."""
        if len(x) != self.sizes[0]:
            raise ValueError(f"the network takes {self.sizes[0]} inputs, got {len(x)}")
        model = self.model
        model.load_weights(weights)
        model.zero_grad()
        yield
        xs = [Value(v, label=f"x{i + 1}") for i, v in enumerate(x)]
        h, neurons = xs, []
        for layer in model.layers:  # MLP.__call__, keeping each neuron's output
            h = [n(h) for n in layer.neurons]
            neurons.append(h)
            yield
        target = self._targets(y)
        root = self.loss_fn(h, target)
        root.backward()
        yield
        values, _ = _loss_part(root, h)
        if len(values) != self.loss_count:
            raise RuntimeError(f"the {self.config.loss} loss built {len(values)} ops, traced {self.loss_count}")
        layers = []
        for (W, b), layer, outs, act in zip(weights, model.layers, neurons, self.activations):
            dots = outs if act == "linear" else [o.parents[0] for o in outs]
            layers.append({
                "W": np.asarray(W, dtype=float), "b": np.asarray(b, dtype=float),
                "Wg": np.array([[w.grad for w in n.w] for n in layer.neurons]),
                "bg": np.array([n.b.grad for n in layer.neurons]),
                "z": np.array([v.data for v in dots]), "zg": np.array([v.grad for v in dots]),
                "a": np.array([v.data for v in outs]), "ag": np.array([v.grad for v in outs]),
            })
        theta_grad = np.array([p.grad for p in model.parameters()])
        return Graph(self, x, target[0], xs, layers, values, theta_grad)

    # --- what is drawn -----------------------------------------------------------------------

    def node_count(self, expanded):
        """Nodes drawn with the groups of `expanded` open."""
        n = self.sizes[0] + (self.loss_count if LOSS_GROUP in expanded else 1)
        for l, (nin, nout) in enumerate(zip(self.sizes, self.sizes[1:])):
            opened = sum(1 for j in range(nout) if (l, j) in expanded)
            n += nout - opened + opened * (nin + 1 + self._ops(l))
        return n

    def every_group(self):
        return frozenset({LOSS_GROUP, *((l, j) for l, n in enumerate(self.sizes[1:]) for j in range(n))})

    def default_expanded(self):
        """The rule: a network whose whole graph has at most EXPAND_ALL nodes is drawn whole;
        a bigger one one node per neuron (the loss's few ops always open)."""
        every = self.every_group()
        return every if self.node_count(every) <= EXPAND_ALL else frozenset({LOSS_GROUP})

    def output(self, l, j, expanded):
        """The key that stands for neuron (l, j)'s output."""
        if (l, j) not in expanded:
            return ("n", l, j)
        return ("dot", l, j) if self.activations[l] == "linear" else ("act", l, j)

    def shown(self, expanded):
        """(nodes, edges) as drawn with the groups of `expanded` open (a neuron (l, j), or
        LOSS_GROUP): nodes in reading order (inputs; per layer, per neuron; the loss), edges
        (parent key, child key), each once."""
        nodes = [("x", i) for i in range(self.sizes[0])]
        edges = []
        for l, (nin, nout) in enumerate(zip(self.sizes, self.sizes[1:])):
            sources = [("x", i) for i in range(nin)] if l == 0 else \
                [self.output(l - 1, i, expanded) for i in range(nin)]
            for j in range(nout):
                if (l, j) not in expanded:
                    key = ("n", l, j)
                    nodes.append(key)
                    edges += [(s, key) for s in sources]
                    continue
                dot = ("dot", l, j)
                ws = [("w", l, j, i) for i in range(nin)]
                nodes += [*ws, ("b", l, j), dot]
                edges += [(s, dot) for s in sources] + [(w, dot) for w in ws] + [(("b", l, j), dot)]
                if self.activations[l] != "linear":
                    nodes.append(("act", l, j))
                    edges.append((dot, ("act", l, j)))
        last = len(self.sizes) - 2
        outs = [self.output(last, j, expanded) for j in range(self.sizes[-1])]
        if LOSS_GROUP in expanded:
            nodes += [("loss", k) for k in range(self.loss_count)]
            for k, parents in enumerate(self.loss_parents):
                edges += [(("loss", p) if kind == "loss" else outs[p], ("loss", k)) for kind, p in parents]
        else:
            nodes.append(("L",))
            edges += [(o, ("L",)) for o in outs]
        return nodes, list(dict.fromkeys(edges))

    def group(self, key):
        """The group a click on `key` opens or closes: (l, j), LOSS_GROUP, or None (an input)."""
        kind = key[0]
        if kind == "x":
            return None
        if kind in ("loss", "L"):
            return LOSS_GROUP
        return key[1], key[2]

    def name(self, key):
        kind = key[0]
        if kind == "x":
            return f"x{key[1] + 1}"
        if kind == "w":
            return f"w[{key[1]}][{key[2]}][{key[3]}]"
        if kind in ("loss", "L"):
            return "loss" if kind == "L" or key[1] == self.loss_count - 1 else ""
        letter = {"b": "b", "dot": "z", "act": "a", "n": "n"}[kind]
        return f"{letter}[{key[1]}][{key[2]}]"

    # --- the order of a pass -----------------------------------------------------------------

    def forward_rank(self, key):
        """Where the node's data is computed in the forward order; None for an input or a parameter."""
        kind = key[0]
        if kind in ("x", "w", "b"):
            return None
        if kind == "loss":
            return self._fwd[-1] + key[1]
        if kind == "L":
            return self.forward_count - 1
        l, j = key[1], key[2]
        ops = self._ops(l)
        last = self._fwd[l] + j * ops + ops - 1  # the neuron's output
        return last - 1 if kind == "dot" and ops == 2 else last

    def backward_rank(self, key):
        """Where the node's gradient is final in the backward order (a neuron's output first,
        then its dot, then its weights and bias; layers from the last; the inputs at the end)."""
        kind = key[0]
        if kind == "x":
            return self._bwd[-1] + key[1]
        if kind == "loss":
            return self.loss_count - 1 - key[1]
        if kind == "L":
            return 0
        l, j = key[1], key[2]
        ops, nin = self._ops(l), self.sizes[l]
        start = self._bwd[l] + j * (ops + nin + 1)
        if kind in ("act", "n"):
            return start
        if kind == "dot":
            return start + ops - 1
        return start + ops + (key[3] if kind == "w" else nin)


class Steps:
    """A pass over the drawn nodes: first each op's data in forward order, then every node's
    gradient in backward order. Its state is one number, the cursor, in 0..end: how far along the
    engine's whole graph the pass is (forward ops, then backward nodes). Measured on the whole
    graph, not on what is drawn, so opening or closing a neuron mid-pass keeps what has been
    revealed. A collapsed neuron stands for its output: its data comes with its activation, its
    gradient with its output's."""

    def __init__(self, lens, nodes):
        self.lens = lens
        self.forward_end = lens.forward_count
        self.end = lens.forward_count + lens.backward_count
        fwd = sorted((lens.forward_rank(k), i) for i, k in enumerate(nodes) if lens.forward_rank(k) is not None)
        bwd = sorted((self.forward_end + lens.backward_rank(k), i) for i, k in enumerate(nodes))
        self.positions = [p for p, _ in fwd] + [p for p, _ in bwd]  # increasing
        self.keys = [nodes[i] for _, i in fwd] + [nodes[i] for _, i in bwd]
        self.forward_steps = len(fwd)

    def data_shown(self, key, cursor):
        r = self.lens.forward_rank(key)
        return r is None or r < cursor

    def grad_shown(self, key, cursor):
        return self.forward_end + self.lens.backward_rank(key) < cursor

    def next(self, cursor, backward):
        """The cursor after the next drawn node of the forward (or backward) pass is revealed,
        or None when that pass has no drawn node left after `cursor`."""
        start = np.searchsorted(self.positions, cursor)  # the first position at or after cursor
        stop = len(self.positions) if backward else self.forward_steps
        start = max(start, self.forward_steps) if backward else start
        return self.positions[start] + 1 if start < stop else None

    def current(self, cursor):
        """(key, backward) of the drawn node revealed last at `cursor`, or None."""
        i = int(np.searchsorted(self.positions, cursor)) - 1  # the last position before cursor
        return None if i < 0 else (self.keys[i], i >= self.forward_steps)

    def count(self, cursor):
        """Drawn steps done at `cursor`, of len(self.keys)."""
        return int(np.searchsorted(self.positions, cursor))


def _loss_part(root, outs):
    """The loss's nodes from the model's outputs `outs` up to `root`, parents first, and each
    one's parents as ("loss", k) or ("out", j) (the j-th output)."""
    out_index = {id(v): j for j, v in enumerate(outs)}
    order, index = [], {}
    stack = [(root, False)]
    while stack:
        v, done = stack.pop()
        if id(v) in index:
            continue
        if done:
            index[id(v)] = len(order)
            order.append(v)
            continue
        stack.append((v, True))
        stack += [(p, False) for p in reversed(v.parents) if id(p) not in out_index and id(p) not in index]
    parents = [[("out", out_index[id(p)]) if id(p) in out_index else ("loss", index[id(p)]) for p in v.parents]
               for v in order]
    return order, parents


# --- the layout ---------------------------------------------------------------------------------

def layout(nodes, edges, sweeps=SWEEPS):
    """Columns of node keys, left to right, each in order top to bottom.

    Layering by the longest path to the sink (so an input or a weight sits just left of the op
    that reads it, not in the first column), then barycentric ordering: sweeps that sort each
    column by the mean position of its neighbours in the columns already placed, left to right
    on parents, then right to left on children, keeping the order with the fewest crossings.
    Ties keep the previous order, so the result is deterministic and a network's natural order
    (neurons by index) survives wherever nothing better exists.
    """
    index = {k: i for i, k in enumerate(nodes)}
    n = len(nodes)
    eu = np.array([index[u] for u, _ in edges], dtype=np.int64)
    ev = np.array([index[v] for _, v in edges], dtype=np.int64)
    column = _columns(n, eu, ev)
    columns = [[] for _ in range(int(column.max()) + 1 if n else 0)]
    for i in range(n):
        columns[column[i]].append(i)
    pos = np.empty(n)

    def place():
        for col in columns:
            pos[col] = (np.arange(len(col)) + 0.5) / len(col)

    place()
    into = [np.flatnonzero(column[ev] == c) for c in range(len(columns))]
    out_of = [np.flatnonzero(column[eu] == c) for c in range(len(columns))]
    best, best_crossings = [list(c) for c in columns], crossings(columns, column, eu, ev)
    for sweep in range(2 * sweeps):
        if best_crossings == 0:
            break
        backward = sweep % 2 == 1
        for c in (reversed(range(len(columns) - 1)) if backward else range(1, len(columns))):
            col = columns[c]
            sel = out_of[c] if backward else into[c]
            mine, theirs = (eu[sel], ev[sel]) if backward else (ev[sel], eu[sel])
            total = np.bincount(mine, weights=pos[theirs], minlength=n)
            count = np.bincount(mine, minlength=n)
            keys = [(total[i] / count[i] if count[i] else pos[i], r) for r, i in enumerate(col)]
            columns[c] = [col[r] for _, r in sorted(keys)]
            pos[columns[c]] = (np.arange(len(col)) + 0.5) / len(col)
        found = crossings(columns, column, eu, ev)
        if found < best_crossings:
            best, best_crossings = [list(c) for c in columns], found
    return [[nodes[i] for i in col] for col in best]


def _columns(n, eu, ev):
    """Each node's column: the longest path from it to a sink, counted from the right. The
    heights grow a step per round over every edge at once (as many rounds as the longest path:
    a third of a topological sort's time in Python at 8 x 64)."""
    height = np.zeros(n, dtype=np.int64)
    for _ in range(n + 1):
        longer = np.zeros(n, dtype=np.int64)
        np.maximum.at(longer, eu, height[ev] + 1)
        if np.array_equal(longer, height):
            return (height.max() if n else 0) - height
        height = longer
    raise ValueError("the graph has a cycle")


def crossings(columns, column, eu, ev):
    """Edge crossings between each pair of columns, counting the edges that join that pair
    (a long edge is not counted against the columns it passes)."""
    rank = np.empty(len(column), dtype=np.int64)
    for col in columns:
        rank[col] = np.arange(len(col))
    total = 0
    pairs = column[eu] * len(columns) + column[ev]
    for pair in np.unique(pairs):
        sel = pairs == pair
        a, b = divmod(int(pair), len(columns))
        rows, cols = len(columns[a]), len(columns[b])  # bincount: a tenth of np.add.at's time
        m = np.bincount(rank[eu[sel]] * cols + rank[ev[sel]], minlength=rows * cols).reshape(rows, cols)
        # edges (i, j) and (i', j') cross when i < i' and j > j': per cell, the edges above-right
        right = np.cumsum(m[:, ::-1], axis=1)[:, ::-1]
        right = np.hstack([right[:, 1:], np.zeros((len(m), 1))])
        above = np.vstack([np.zeros((1, m.shape[1])), np.cumsum(right, axis=0)[:-1]])
        total += int((m * above).sum())
    return total


# --- export -----------------------------------------------------------------------------------

def to_dot(graph, nodes, edges, rankdir="LR"):
    """What is drawn as Graphviz DOT text, in the style of `engine.to_dot`: one record per node
    (its name, data and grad), its op as a circle of its own."""
    return dot_text([(k, graph.name(k), graph.data(k), graph.grad(k), graph.op(k)) for k in nodes], edges, rankdir)
