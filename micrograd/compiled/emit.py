"""Code generation: straight-line forward/backward Python over the laid-out rows.

The program is one numpy call per line, every buffer and view preallocated and bound by
name, compiled once and bound once per batch size. Names in the generated code:

  values, grads        the batch buffer (one row per scalar, one column per sample) and its gradient
  theta, theta_grad    the parameter vector and its gradient
  val*, grad*          blocks of rows of `values` / `grads`: views when contiguous
  gathered*            rows of `values` copied together (np.take) where they are not
  layer_in*            a layer's input rows plus a row of ones (for the bias column)
  weights*             a layer's weights with the bias as last column (a view of theta when
                       its parameters are contiguous); weights*_only without it
  weights_grad*        the gradient of such a block
  index*, const*       index arrays and per-row constants
  tmp*                 scratch blocks
  <op>_forward, <op>_derivative   a unary op's numpy forms, from micrograd.ops.UNARY
"""
import threading
from typing import NamedTuple

import numpy as np

from ..losses import LOSSES
from ..ops import UNARY
from .layout import Layout, fuse
from .trace import Graph, Unsupported, unchecked

MAX_BOUND = 8  # batch sizes kept compiled at once

BINARY_UFUNC = {"add": "np.add", "mul": "np.multiply", "add_const": "np.add", "mul_const": "np.multiply"}


class Bound(NamedTuple):
    """The program for one batch size: forward(X, Y) -> summed loss, backward(seed) fills
    theta_grad; values is the batch buffer; values[output_rows] the model's outputs."""

    forward: object
    backward: object
    values: np.ndarray
    output_rows: object  # a slice when the outputs are contiguous rows, else an index array


class Program:
    """A compiled model + per-sample loss. `bind(B)` gives the runnable program for batch size B."""

    def __init__(self, model, loss, check=None):
        """`check(0.0)`, if given, is called every few milliseconds of the compile (8 x 64 takes
        0.1-0.4 s): a trainer's callback that raises to stop its run stops the compile there,
        and a window waiting for that thread to end waits no longer."""
        check = check or unchecked
        graph = Graph(model, loss, check)  # refuses an unknown loss
        self.reduce = LOSSES[loss][1]  # "mean" or "sum" over the batch
        self.nparams, self.nin, self.nout = graph.nparams, graph.nin, graph.nout
        check(0.0)
        self.groups = fuse(graph)
        self.layout = Layout(graph, self.groups)
        self.nrows = self.layout.nrows
        self.theta = np.zeros(self.nparams)  # copied in each call; weight blocks are views of it
        self.theta_grad = np.zeros(self.nparams)  # written by backward
        check(0.0)
        self._emitter = _Emitter(graph, self.layout)
        self.source = self._emitter.generate(self.groups)
        check(0.0)
        self._code = compile(self.source, "<micrograd.compiled>", "exec")
        outs = [self.layout.row(o) for o in graph.outputs]
        if outs == list(range(outs[0], outs[0] + len(outs))):
            self._output_rows = slice(outs[0], outs[0] + len(outs))
        else:
            self._output_rows = np.array(outs, dtype=np.intp)
        self._bound = {}
        self.lock = threading.Lock()  # its buffers serve one call at a time

    def bind(self, batch):
        """The forward/backward functions with every buffer for this batch size (cached)."""
        got = self._bound.get(batch)
        if got is not None:
            return got
        if len(self._bound) >= MAX_BOUND:
            self._bound.pop(next(iter(self._bound)))
        values = np.empty((self.nrows, batch))
        values[self.layout.ones_rows] = 1.0
        ns = {"np": np, "values": values, "grads": np.empty((self.nrows, batch)),
              "theta": self.theta, "theta_grad": self.theta_grad, **self._emitter.functions}
        for name, make in self._emitter.setup:
            ns[name] = make(ns, batch)
        exec(self._code, ns)
        got = Bound(ns["forward"], ns["backward"], values, self._output_rows)
        self._bound[batch] = got
        return got

    def describe(self):
        """One line per fused group: depth, op, size (for debugging and tests)."""
        return [repr(g) for g in self.groups]


class _Emitter:
    """Writes the forward/backward source and the buffers it names.

    `setup` lists (name, make(ns, batch)): how to build each named buffer once per batch size.
    """

    def __init__(self, graph, layout):
        self.graph, self.layout = graph, layout
        self.fwd, self.bwd, self.setup = [], [], []
        self.functions = {}  # the op table's numpy functions the code calls, by name
        self.blocks = {}  # (buffer, rows) -> name
        self.grad_rows_written = set()  # rows of `grads` that hold a value already
        self.params_written = set()  # entries of theta_grad that hold a value already
        self.count = 0
        self.layers = {}  # dot group -> what its backward reads: (layer_in, weights_only, param_index,
        #                                                          contiguous, in_rows)
        self.param_uses = {}  # parameter index -> how many neurons use it

    def generate(self, groups):
        """The source of forward(X, Y) -> summed loss and backward(seed)."""
        graph, layout = self.graph, self.layout
        for g in groups:
            if g.kind == "dot":
                for nd in g.members:
                    w, _, b = nd.dot_parts()
                    for ref in (*w, b):
                        i = graph.items[ref].index
                        self.param_uses[i] = self.param_uses.get(i, 0) + 1
        self.fwd.append("np.copyto(inputs, X.T)")
        self.fwd.append("np.copyto(targets, Y.T)")
        self.view("inputs", layout.x_rows[0], len(layout.x_rows))
        self.view("targets", layout.y_rows[0], len(layout.y_rows))
        for g in groups:
            self.forward(g)
        # the per-sample loss row, summed over the batch
        loss_row = layout.row(graph.sample_loss)
        self.fwd.append(f"return float(np.add.reduce(values[{loss_row}]))")
        # backward: seed, then the groups in reverse, skipping those no gradient reaches
        self.grad_rows_written.add(loss_row)
        self.bwd.append(f"grads[{loss_row}].fill(seed)")
        live = {graph.sample_loss}
        for g in reversed(groups):
            if not any(nd.needs_grad and nd.id in live for nd in g.members):
                continue
            for nd in g.members:
                live.update(nd.args)
            self.backward(g)
        unused = sorted(set(range(graph.nparams)) - self.params_written)
        if unused:
            self.constant("unused_params", np.array(unused, dtype=np.intp))
            self.bwd.append("theta_grad[unused_params] = 0.0")
        return ("def forward(X, Y):\n" + "".join(f"    {line}\n" for line in self.fwd) + "\n"
                + "def backward(seed):\n" + "".join(f"    {line}\n" for line in self.bwd or ["pass"]))

    def new(self, prefix):
        self.count += 1
        return f"{prefix}{self.count}"

    # ---- buffers, bound per batch size --------------------------------------
    def view(self, name, start, k, buffer="values"):
        self.setup.append((name, lambda ns, batch, a=buffer, s=start, k=k: ns[a][s:s + k]))
        return name

    def constant(self, name, value):
        self.setup.append((name, lambda ns, batch, v=value: v))
        return name

    def scratch(self, k, prefix="tmp", ones_row=False):
        """A (k, batch) block, plus a row of ones under it if asked."""
        name = self.new(prefix)

        def make(ns, batch, k=k, ones=ones_row):
            a = np.empty((k + (1 if ones else 0), batch))
            if ones:
                a[k] = 1.0
            return a
        self.setup.append((name, make))
        return name

    def index(self, rows):
        return self.constant(self.new("index"), np.array(rows, dtype=np.intp))

    def block(self, rows, buffer="values", forward=True):
        """Name of an array holding these rows of `buffer`: a view when contiguous, else a gather."""
        rows = tuple(rows)
        key = (buffer, rows)
        if key in self.blocks:
            return self.blocks[key]
        if rows == tuple(range(rows[0], rows[0] + len(rows))):
            name = self.view(self.new("val" if buffer == "values" else "grad"), rows[0], len(rows), buffer)
        else:
            index = self.index(rows)
            name = self.scratch(len(rows), "gathered")
            (self.fwd if forward else self.bwd).append(f"np.take({buffer}, {index}, axis=0, out={name})")
        self.blocks[key] = name
        return name

    def const_column(self, values):
        """A scalar literal when all equal, else a (k, 1) array."""
        if len(set(values)) == 1:
            return repr(float(values[0]))
        return self.constant(self.new("const"), np.array(values, dtype=float).reshape(-1, 1))

    def table_function(self, fn, form):
        """The name the code calls op `fn`'s numpy `form` ("forward" or "derivative") by."""
        name = f"{fn}_{form}"
        self.functions[name] = getattr(UNARY[fn], form)
        return name

    def operand_rows(self, group):
        """Per operand position, the rows the group's members read there."""
        return [[self.layout.row(nd.args[j]) for nd in group.members] for j in range(len(group.members[0].args))]

    # ---- forward -----------------------------------------------------------------
    def forward(self, group):
        kind, f = group.kind, self.fwd
        out = self.block([nd.row for nd in group.members])
        if kind == "dot":
            self.forward_layer(group, out)
            return
        operands = self.operand_rows(group)
        x = self.block(operands[0])
        if kind == "unary":
            f.append(f"{self.table_function(group.detail, 'forward')}({x}, out={out})")
        elif kind == "pow":
            exponent = group.detail
            if exponent == 2:
                f.append(f"np.multiply({x}, {x}, out={out})")
            else:
                f.append(f"np.power({x}, {exponent!r}, out={out})")
        elif kind in BINARY_UFUNC:  # x op c (one constant per row) or x op y
            if kind.endswith("_const"):
                y = self.const_column([nd.const for nd in group.members])
            else:
                y = self.block(operands[1])
            f.append(f"{BINARY_UFUNC[kind]}({x}, {y}, out={out})")
        elif kind == "sum":
            f.append(f"np.add({x}, {self.block(operands[1])}, out={out})")
            for rows in operands[2:]:
                f.append(f"np.add({out}, {self.block(rows)}, out={out})")
        else:  # pragma: no cover - the trace only lets known kinds through
            raise Unsupported(f"no code for {kind!r}")

    def forward_layer(self, group, out):
        """A layer of neurons: one matmul of [W | b] with [inputs; ones]."""
        k, f = len(group.members), self.fwd
        n = len(group.detail)
        in_rows = [self.layout.row(ref) for ref in group.detail]
        if in_rows == list(range(in_rows[0], in_rows[0] + n)) and in_rows[0] + n in self.layout.ones_rows:
            layer_in = self.view(self.new("layer_in"), in_rows[0], n + 1)
        else:
            layer_in = self.scratch(n, "layer_in", ones_row=True)
            top = self.new("layer_in_top")
            self.setup.append((top, lambda ns, batch, name=layer_in, n=n: ns[name][:n]))
            f.append(f"np.take(values, {self.index(in_rows)}, axis=0, out={top})")
        items = self.graph.items
        param_index = np.array([[items[ref].index for ref in (*w, b)]
                                for w, _, b in (nd.dot_parts() for nd in group.members)], dtype=np.intp)
        weights = self.new("weights")
        start = int(param_index[0, 0])
        contiguous = bool(np.array_equal(param_index.ravel(), np.arange(start, start + param_index.size)))
        if contiguous:
            self.setup.append((weights, lambda ns, batch, s=start, k=k, n=n:
                               ns["theta"][s:s + k * (n + 1)].reshape(k, n + 1)))
        else:
            self.setup.append((weights, lambda ns, batch, k=k, n=n: np.empty((k, n + 1))))
            f.append(f"np.take(theta, {self.index(param_index)}, out={weights})")
        weights_only = f"{weights}_only"
        self.setup.append((weights_only, lambda ns, batch, name=weights, n=n: ns[name][:, :n]))
        f.append(f"np.matmul({weights}, {layer_in}, out={out})")
        self.layers[group] = (layer_in, weights_only, param_index, contiguous, in_rows)

    # ---- backward ------------------------------------------------------------------
    def add_grad(self, rows, compute, src=None):
        """Add a (k, batch) block to `grads` at rows: `src`, or what compute(dest) writes into dest.

        Assigns straight into a view when this is the rows' first contribution, adds in
        place when they all have one, and uses np.add.at only when a row repeats in `rows`.
        """
        b = self.bwd
        needed = [i for i, r in enumerate(rows) if self.layout.needs_grad.get(r)]
        if not needed:
            return
        k = len(rows)
        targets = [rows[i] for i in needed]
        repeats = len(set(targets)) < len(targets)
        contiguous = targets == list(range(targets[0], targets[0] + len(targets)))
        fresh = [r for r in dict.fromkeys(targets) if r not in self.grad_rows_written]
        every_row = len(needed) == k
        if every_row and contiguous and not repeats and len(fresh) == len(targets):
            dest = self.block(targets, "grads", forward=False)
            if src is not None:
                b.append(f"np.copyto({dest}, {src})")
            else:
                compute(dest)
        elif every_row and contiguous and not repeats and not fresh:
            dest = self.block(targets, "grads", forward=False)
            if src is None:
                src = self.scratch(k)
                compute(src)
            b.append(f"np.add({dest}, {src}, out={dest})")
        else:
            if src is None:
                src = self.scratch(k)
                compute(src)
            if not every_row:
                src = f"{src}[{self.index(needed)}]"
            if fresh:
                b.append(f"grads[{self.index(fresh)}] = 0.0")
            index = self.index(targets)
            if repeats:
                b.append(f"np.add.at(grads, {index}, {src})")
            else:
                b.append(f"grads[{index}] += {src}")
        self.grad_rows_written.update(targets)

    def backward(self, group):
        kind, b = group.kind, self.bwd
        k = len(group.members)
        out_rows = [nd.row for nd in group.members]
        unreached = [r for r in out_rows if r not in self.grad_rows_written]
        if unreached:  # rows of this group nobody downstream sent a gradient to
            b.append(f"grads[{self.index(unreached)}] = 0.0")
            self.grad_rows_written.update(unreached)
        out_grad = self.block(out_rows, "grads", forward=False)
        if kind == "dot":
            self.backward_layer(group, out_grad)
            return
        operands = self.operand_rows(group)
        x = self.block(operands[0])  # made by the forward pass: a name, no new code
        if kind == "unary":
            local, out = self.scratch(k), self.block(out_rows)
            b.append(f"{self.table_function(group.detail, 'derivative')}({x}, {out}, out={local})")
            self.add_grad(operands[0], lambda d: b.append(f"np.multiply({out_grad}, {local}, out={d})"))
        elif kind == "pow":
            exponent = group.detail
            if exponent == 0:
                return  # local derivative 0, as in the engine
            if exponent == 1:
                self.add_grad(operands[0], None, src=out_grad)
                return
            local = self.scratch(k)
            if exponent == 2:
                b.append(f"np.multiply({x}, 2.0, out={local})")
            else:
                b.append(f"np.power({x}, {exponent - 1!r}, out={local})")
                b.append(f"np.multiply({local}, {exponent!r}, out={local})")
            self.add_grad(operands[0], lambda d: b.append(f"np.multiply({out_grad}, {local}, out={d})"))
        elif kind == "add_const":
            self.add_grad(operands[0], None, src=out_grad)
        elif kind == "mul_const":
            c = self.const_column([nd.const for nd in group.members])
            self.add_grad(operands[0], lambda d: b.append(f"np.multiply({out_grad}, {c}, out={d})"))
        elif kind in ("add", "sum"):
            for rows in operands:
                self.add_grad(rows, None, src=out_grad)
        elif kind == "mul":
            y = self.block(operands[1])
            self.add_grad(operands[0], lambda d: b.append(f"np.multiply({out_grad}, {y}, out={d})"))
            self.add_grad(operands[1], lambda d: b.append(f"np.multiply({out_grad}, {x}, out={d})"))

    def backward_layer(self, group, out_grad):
        """dW = dOut @ [inputs; ones].T (the bias gradient is its last column); dInputs = W.T @ dOut."""
        b, k = self.bwd, len(group.members)
        layer_in, weights_only, param_index, contiguous, in_rows = self.layers[group]
        n = len(group.detail)
        params = param_index.ravel().tolist()
        weights_grad = self.new("weights_grad")
        if contiguous and all(self.param_uses[i] == 1 for i in params) and not set(params) & self.params_written:
            # these parameters are this layer's alone: write their gradient in place, a view of theta_grad
            start = int(param_index[0, 0])
            self.setup.append((weights_grad, lambda ns, batch, s=start, k=k, n=n:
                               ns["theta_grad"][s:s + k * (n + 1)].reshape(k, n + 1)))
            b.append(f"np.matmul({out_grad}, {layer_in}.T, out={weights_grad})")
        else:
            self.setup.append((weights_grad, lambda ns, batch, k=k, n=n: np.empty((k, n + 1))))
            b.append(f"np.matmul({out_grad}, {layer_in}.T, out={weights_grad})")
            fresh = sorted(set(params) - self.params_written)
            if fresh:
                b.append(f"theta_grad[{self.index(fresh)}] = 0.0")
            index = self.index(param_index)
            b.append(f"theta_grad[{index}] += {weights_grad}" if len(set(params)) == len(params)
                     else f"np.add.at(theta_grad, {index}, {weights_grad})")
        self.params_written.update(params)
        self.add_grad(in_rows, lambda d: b.append(f"np.matmul({weights_only}.T, {out_grad}, out={d})"))
