"""Trace the scalar graph once, replay it over the whole batch.

The `Value` engine builds, every step and for every sample, the same graph
of scalar nodes; only the numbers change. Here we build it once, for one
symbolic sample (placeholder leaves for the inputs and targets, the model's
own parameter Values), and compile it into a program over *slots*: a slot is
one scalar node, holding a row of the batch's values.

Fusion is what makes it fast: nodes at the same depth doing the same thing
become one numpy call on a block of rows.

* `dot` nodes (a neuron's weighted sum) at the same depth that read the same
  inputs in the same order, with parameter weights and bias, are a layer:
  one `W @ X` with the bias folded in as a column of W against a row of ones.
* same-op elementwise nodes (`tanh`, `+`, `**2`, ...) at one depth: one ufunc
  call on a (k, batch) block.
* `total` of one term is the term itself (no copy); the batch reduction
  (mean/sum as in `LOSSES`) is part of the program. The L1/L2 penalties,
  which involve only the parameters, are added by `CompiledEngine` in numpy.

Rows are laid out so that a fused group's outputs are contiguous and in the
order the next group reads them: blocks are views, not copies. Where that is
not so the compiler falls back to gathers (`np.take`) and, only where it proved
that one group writes one row twice, to `np.add.at`.

The program is emitted as straight-line Python source (one numpy call per
line, every buffer and view preallocated and bound by name), compiled once
per batch size. A training step of a 3-4-4-1 network is ~40 numpy calls.

Anything the compiler does not know raises `Unsupported`; `make_engine` in
`train.py` then falls back to the `Value` engine and records why.

NOTE: the batch is summed in a different order than the `Value` engine does
(BLAS dot products, numpy's pairwise sums), so results agree to rounding
(~1e-15 relative), not bit for bit.
"""
from contextlib import contextmanager

import numpy as np

from .engine import Value, _pairs
from .losses import LOSSES

ELEMENTWISE = ("relu", "tanh", "sigmoid", "softplus", "exp", "log", "abs")
CHUNK_BYTES = 64 << 20  # per-chunk budget for the row buffers; bigger batches run in chunks
MAX_BOUND = 8  # batch sizes kept compiled at once


class Unsupported(Exception):
    """The compiler cannot handle this model or loss; the message says what."""


# -- one BLAS thread ------------------------------------------------------------

def _find_blas():
    """(get, set) of OpenBLAS's thread count, found in the loaded libraries, or None.

    NOTE: on a 2-core machine shared with other work, a multi-threaded OpenBLAS
    stalls 10x on our small matrices (a 64x65 @ 65x2000 product: 15 ms instead of
    0.6). The engine computes on one thread, like the torch1 baseline, and leaves
    the other core to the GUI.
    """
    import ctypes
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return None
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", ""), ("scipy_openblas", "")):
            try:
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}")
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}")
            except AttributeError:
                continue
            get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
            return get, put
    return None


_BLAS = _find_blas()


@contextmanager
def one_blas_thread():
    """Run the block with OpenBLAS on one thread (no-op where it cannot be found)."""
    if _BLAS is None:
        yield
        return
    get, put = _BLAS
    n = get()
    if n == 1:
        yield
        return
    put(1)
    try:
        yield
    finally:
        put(n)


# -- tracing -----------------------------------------------------------------

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
        outs = list(model(xs))
        ys = [Value(0.2718 + 0.1 * j, label=f"y{j}") for j in range(len(outs))]
        term = fn(outs, ys)
    except Unsupported:
        raise
    except Exception as e:  # a data-dependent error at the placeholder values
        raise Unsupported(f"tracing the model and loss failed: {e}") from None
    if not all(isinstance(o, Value) for o in outs) or not isinstance(term, Value):
        raise Unsupported("the model or loss does not return Values")
    return params, xs, ys, outs, term


# -- the graph as a plain IR -----------------------------------------------------

class _Node:
    __slots__ = ("id", "kind", "args", "const", "depth", "row")

    def __init__(self, id_, kind, args=(), const=None):
        self.id, self.kind, self.args, self.const = id_, kind, list(args), const
        self.depth, self.row = 0, None


def _topo(roots):
    """Every node reachable from roots, parents first (iterative)."""
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
            for p in reversed(_pairs(v)[::2]):  # first parent first: rows come out in neuron order
                if id(p) not in seen:
                    seen.add(id(p))
                    stack.append((p, False))
    return order


def _decode(v):
    """(kind, parents, const) of one interior Value; Unsupported if unknown."""
    op, prev = v._op, _pairs(v)
    ps, ds = prev[::2], prev[1::2]
    if op == "+":
        if len(ps) == 2:
            return "add2", ps, None
    elif op.startswith("+") and len(ps) == 1:  # x + c names c in the op: "+3.0"
        return "addc", ps, float(op[1:])
    elif op == "*":
        if len(ps) == 2:
            return "mul2", ps, None
        if len(ps) == 1:
            return "mulc", ps, float(ds[0])
    elif op.startswith("**") and len(ps) == 1:
        try:
            k = float(op[2:])
        except ValueError:
            raise Unsupported(f"power with exponent {op[2:]!r}") from None
        return "pow", ps, k
    elif op in ELEMENTWISE and len(ps) == 1:
        return op, ps, None
    elif op == "sum" and ps:
        return "sum", ps, None
    elif op == "dot":
        # Value inputs: (w0, x0.data, ..., w_{n-1}, x_{n-1}.data, x0, w0.data, ..., b, 1.0)
        m = len(ps)
        if m % 2 == 1 and m >= 3 and ds[-1] == 1.0:
            n = (m - 1) // 2
            w, x = ps[:n], ps[n:2 * n]
            if all(ds[i] == x[i].data and ds[n + i] == w[i].data for i in range(n)):
                return "dot", (*w, *x, ps[-1]), None
        raise Unsupported("a weighted sum over constant inputs (dot with number x)")
    raise Unsupported(f"operation {op or 'leaf'!r} with {len(ps)} operand(s)")


# -- the compiler -----------------------------------------------------------------

# Forward code of the kinds that are one numpy call on their operand block(s).
UNARY_UFUNC = {"tanh": "np.tanh", "exp": "np.exp", "log": "np.log", "abs": "np.abs"}
BINARY_UFUNC = {"add2": "np.add", "mul2": "np.multiply", "addc": "np.add", "mulc": "np.multiply"}

class Program:
    """A compiled model + loss. `bind(B)` gives the runnable forward/backward for batch size B."""

    def __init__(self, model, loss):
        self.reduce = LOSSES[loss][1] if loss in LOSSES else None
        params, xs, ys, outs, term = trace(model, loss)
        self.nparams, self.nin, self.nout = len(params), len(xs), len(outs)
        self._build(params, xs, ys, outs, term)
        self._bound = {}
        self.TH = np.zeros(self.nparams)  # theta, copied in each call; W blocks are views of it
        self.GR = np.zeros(self.nparams)  # the gradient, written by backward
        self._generate()

    # ---- IR ----------------------------------------------------------------
    def _build(self, params, xs, ys, outs, term):
        pindex = {}
        for i, p in enumerate(params):
            if id(p) in pindex:
                raise Unsupported("a parameter is listed twice in model.parameters()")
            pindex[id(p)] = i
        xindex = {id(x): j for j, x in enumerate(xs)}
        yindex = {id(y): j for j, y in enumerate(ys)}
        nodes = {}  # id(Value) -> _Node (interior) or ("param", i) / ("x", j) / ("y", j)
        alias = {}  # id of a one-term `total` -> id of its term
        order = []
        for v in _topo([*outs, term]):
            k = id(v)
            if v._a is None:
                if k in pindex:
                    nodes[k] = ("param", pindex[k])
                elif k in xindex:
                    nodes[k] = ("x", xindex[k])
                elif k in yindex:
                    nodes[k] = ("y", yindex[k])
                else:
                    raise Unsupported(f"a constant Value leaf ({v.data!r}) in the graph")
                continue
            kind, ps, const = _decode(v)
            args = [alias.get(id(p), id(p)) for p in ps]
            if kind == "sum" and len(args) == 1:
                alias[k] = args[0]
                continue
            node = _Node(k, kind, args, const)
            # Parameters may only be a neuron's weights and bias.
            if kind == "dot":
                n = (len(args) - 1) // 2
                w, x, b = args[:n], args[n:2 * n], args[-1]
                if not all(isinstance(nodes[a], tuple) and nodes[a][0] == "param" for a in (*w, b)):
                    raise Unsupported("a weighted sum whose weights are not parameters")
                if any(isinstance(nodes[a], tuple) and nodes[a][0] == "param" for a in x):
                    raise Unsupported("a weighted sum over parameters as inputs")
            elif any(isinstance(nodes[a], tuple) and nodes[a][0] == "param" for a in args):
                raise Unsupported(f"a parameter used outside a weighted sum (in {v._op!r})")
            nodes[k] = node
            order.append(node)
        self._nodes, self._alias = nodes, alias
        self._outs = [alias.get(id(o), id(o)) for o in outs]
        self._root = alias.get(id(term), id(term))
        if isinstance(nodes[self._root], tuple):
            raise Unsupported("the loss is a leaf")

        # depth and needs-grad (depends on a parameter)
        grad = {}
        for nd in order:
            ds, g = [], nd.kind == "dot"
            for a in nd.args:
                p = nodes[a]
                if isinstance(p, tuple):
                    ds.append(0)
                else:
                    ds.append(p.depth)
                    g = g or grad[a]
            nd.depth = 1 + max(ds)
            grad[nd.id] = g
        self._grad = grad

        # fuse: group by (depth, key), first-appearance order within a depth
        groups = {}
        for nd in order:
            if nd.kind == "dot":
                n = (len(nd.args) - 1) // 2
                key = (nd.depth, "dot", tuple(nd.args[n:2 * n]))
            elif nd.kind == "sum":
                key = (nd.depth, "sum", len(nd.args))
            elif nd.kind == "pow":
                key = (nd.depth, "pow", nd.const)
            else:
                key = (nd.depth, nd.kind)
            groups.setdefault(key, []).append(nd)
        # A group that a layer reads as its inputs is laid out in the order it reads them.
        for key in list(groups):
            if key[1] == "dot":
                want = key[2]
                for m2 in groups.values():
                    if len(m2) == len(want) and {nd.id for nd in m2} == set(want):
                        pos = {a: i for i, a in enumerate(want)}
                        m2.sort(key=lambda nd: pos[nd.id])
        self._groups = sorted(groups.items(), key=lambda kv: kv[0][0])  # stable: by depth

    # ---- layout --------------------------------------------------------------
    def _layout(self):
        xlists = {key[2] for key, _ in self._groups if key[1] == "dot"}
        self._xrows = list(range(self.nin))
        ones = [self.nin]  # a row of ones under every matmul input block (the bias column)
        rows = self.nin + 1
        self._yrows = list(range(rows, rows + self.nout))
        rows += self.nout
        for _, members in self._groups:
            for nd in members:
                nd.row = rows
                rows += 1
            if tuple(nd.id for nd in members) in xlists:
                ones.append(rows)
                rows += 1
        self.nrows, self._ones = rows, ones
        # row -> does it need a gradient (depends on a parameter)
        self._row_grad = {nd.row: self._grad[nd.id] for _, members in self._groups for nd in members}

    def row(self, ref):
        v = self._nodes[ref]
        if isinstance(v, tuple):
            kind, j = v
            if kind == "x":
                return self._xrows[j]
            if kind == "y":
                return self._yrows[j]
            raise Unsupported("a parameter read as a batch row")
        return v.row

    # ---- code generation -----------------------------------------------------------
    def _generate(self):
        self._layout()
        E = _Emitter(self)
        nodes, grad = self._nodes, self._grad
        E.fwd.append("np.copyto(XIN, X.T)")
        E.fwd.append("np.copyto(YIN, Y.T)")
        E.setup_view("XIN", self._xrows[0], len(self._xrows))
        E.setup_view("YIN", self._yrows[0], len(self._yrows))
        # parameter usage: which groups write which theta entries
        puse = {}
        for key, members in self._groups:
            if key[1] == "dot":
                for nd in members:
                    n = (len(nd.args) - 1) // 2
                    for a in (*nd.args[:n], nd.args[-1]):
                        i = nodes[a][1]
                        puse[i] = puse.get(i, 0) + 1
        self._puse = puse

        for gi, (key, members) in enumerate(self._groups):
            E.forward_group(gi, key, members)
        # objective: the per-sample loss row, summed over the batch
        root = self.row(self._root)
        E.fwd.append(f"return float(np.add.reduce(BUF[{root}]))")
        # backward: seed, then the groups in reverse
        E.ginit.add(root)
        E.bwd.append(f"G[{root}].fill(seed)")
        live = {self._root}
        for gi in range(len(self._groups) - 1, -1, -1):
            key, members = self._groups[gi]
            if not any(grad[nd.id] and nd.id in live for nd in members):
                continue
            for nd in members:
                live.update(nd.args)
            E.backward_group(gi, key, members)
        unused = sorted(set(range(self.nparams)) - E.pinit)
        if unused:
            E.setup_const("UNUSED", np.array(unused, dtype=np.intp))
            E.bwd.append("GR[UNUSED] = 0.0")
        outs = [self.row(o) for o in self._outs]
        E.outs = outs
        self._emitter = E
        src_f = "def forward(X, Y):\n" + "".join(f"    {l}\n" for l in E.fwd)
        src_b = "def backward(seed):\n" + "".join(f"    {l}\n" for l in (E.bwd or ["pass"]))
        self.source = src_f + "\n" + src_b
        self._code = compile(self.source, "<micrograd.compiled>", "exec")

    def bind(self, B):
        """Forward/backward functions with every buffer for batch size B (cached)."""
        got = self._bound.get(B)
        if got is not None:
            return got
        if len(self._bound) >= MAX_BOUND:
            self._bound.pop(next(iter(self._bound)))
        E = self._emitter
        BUF = np.empty((self.nrows, B))
        G = np.empty((self.nrows, B))
        BUF[self._ones] = 1.0
        ns = {"np": np, "BUF": BUF, "G": G, "TH": self.TH, "GR": self.GR}
        for name, make in E.setup:
            ns[name] = make(ns, B)
        exec(self._code, ns)
        outs = E.outs
        if outs == list(range(outs[0], outs[0] + len(outs))):
            out_view = BUF[outs[0]:outs[0] + len(outs)]
        else:
            out_view = None
        got = (ns["forward"], ns["backward"], BUF, out_view, np.array(outs, dtype=np.intp))
        self._bound[B] = got
        return got

    def describe(self):
        """One line per fused group: depth, op, rows (for debugging and tests)."""
        return [f"depth {key[0]}: {key[1]} x{len(m)}" for key, m in self._groups]


class _Emitter:
    """Writes the straight-line forward/backward code and the buffers it names."""

    def __init__(self, prog):
        self.p = prog
        self.fwd, self.bwd, self.setup = [], [], []
        self.names = {}
        self.ginit, self.pinit = set(), set()
        self.n = 0
        self.dots = {}  # group index -> the buffers its backward needs

    def new(self, prefix):
        self.n += 1
        return f"{prefix}{self.n}"

    # ---- buffers, bound per batch size --------------------------------------
    def setup_view(self, name, start, k, arr="BUF"):
        self.setup.append((name, lambda ns, B, a=arr, s=start, k=k: ns[a][s:s + k]))
        return name

    def setup_const(self, name, value):
        self.setup.append((name, lambda ns, B, v=value: v))
        return name

    def setup_temp(self, k, prefix="T", extra_ones=False):
        name = self.new(prefix)

        def make(ns, B, k=k, ones=extra_ones):
            a = np.empty((k + (1 if ones else 0), B))
            if ones:
                a[k] = 1.0
            return a
        self.setup.append((name, make))
        return name

    def block(self, rows, arr="BUF", forward=True):
        """Name of an array holding rows of BUF (or G): a view when contiguous, else a gather."""
        rows = tuple(rows)
        key = (arr, rows)
        if key in self.names:
            return self.names[key]
        if rows == tuple(range(rows[0], rows[0] + len(rows))):
            name = self.setup_view(self.new("V" if arr == "BUF" else "GV"), rows[0], len(rows), arr)
        else:
            idx = self.setup_const(self.new("I"), np.array(rows, dtype=np.intp))
            name = self.setup_temp(len(rows), "GA")
            (self.fwd if forward else self.bwd).append(f"np.take({arr}, {idx}, axis=0, out={name})")
        self.names[key] = name
        return name

    def const(self, values):
        """A scalar literal when all equal, else a (k, 1) array."""
        if len(set(values)) == 1:
            return repr(float(values[0]))
        return self.setup_const(self.new("C"), np.array(values, dtype=float).reshape(-1, 1))

    # ---- forward -----------------------------------------------------------------
    def forward_group(self, gi, key, members):
        p, kind = self.p, key[1]
        k = len(members)
        out = self.block([nd.row for nd in members])
        f = self.fwd
        if kind == "dot":
            xs = key[2]
            n = len(xs)
            xrows = [p.row(a) for a in xs]
            if xrows == list(range(xrows[0], xrows[0] + n)) and xrows[0] + n in p._ones:
                XB = self.setup_view(self.new("XB"), xrows[0], n + 1)
            else:
                XB = self.setup_temp(n, "XB", extra_ones=True)
                idx = self.setup_const(self.new("I"), np.array(xrows, dtype=np.intp))
                top = self.new("XT")
                self.setup.append((top, lambda ns, B, X=XB, n=n: ns[X][:n]))
                f.append(f"np.take(BUF, {idx}, axis=0, out={top})")
            pidx = np.array([[p._nodes[a][1] for a in (*nd.args[:n], nd.args[-1])] for nd in members],
                            dtype=np.intp)
            WB = self.new("WB")
            contiguous = bool(np.array_equal(pidx.ravel(), np.arange(pidx[0, 0], pidx[0, 0] + pidx.size)))
            if contiguous:
                s = int(pidx[0, 0])
                self.setup.append((WB, lambda ns, B, s=s, k=k, n=n: ns["TH"][s:s + k * (n + 1)].reshape(k, n + 1)))
            else:
                I = self.setup_const(self.new("I"), pidx)
                self.setup.append((WB, lambda ns, B, k=k, n=n: np.empty((k, n + 1))))
                f.append(f"np.take(TH, {I}, out={WB})")
            W = self.new("W")
            self.setup.append((W, lambda ns, B, WB=WB, n=n: ns[WB][:, :n]))
            f.append(f"np.matmul({WB}, {XB}, out={out})")
            self.dots[gi] = (XB, WB, W, pidx, contiguous, xrows)
            return
        args = [[p.row(nd.args[j]) for nd in members] for j in range(len(members[0].args))]
        A = self.block(args[0])
        if kind in UNARY_UFUNC:
            f.append(f"{UNARY_UFUNC[kind]}({A}, out={out})")
        elif kind == "relu":
            f.append(f"np.maximum({A}, 0.0, out={out})")
        elif kind in ("sigmoid", "softplus"):
            # z = exp(-|x|); sigmoid = 1/(1+z) for x >= 0 else z/(1+z); softplus = max(x,0) + log1p(z)
            Z = self.setup_temp(k, "Z")
            f.append(f"np.abs({A}, out={Z})")
            f.append(f"np.negative({Z}, out={Z})")
            f.append(f"np.exp({Z}, out={Z})")
            if kind == "sigmoid":
                f.append(f"{out}[...] = np.where({A} >= 0, 1.0 / (1.0 + {Z}), {Z} / (1.0 + {Z}))")
            else:
                f.append(f"np.add(np.maximum({A}, 0.0), np.log1p({Z}), out={out})")
        elif kind == "pow":
            kk = key[2]
            if kk == 2:
                f.append(f"np.multiply({A}, {A}, out={out})")
            else:
                f.append(f"np.power({A}, {kk!r}, out={out})")
        elif kind in BINARY_UFUNC:  # x op c (one constant per row) or x op y
            B = self.const([nd.const for nd in members]) if kind.endswith("c") else self.block(args[1])
            f.append(f"{BINARY_UFUNC[kind]}({A}, {B}, out={out})")
        elif kind == "sum":
            f.append(f"np.add({A}, {self.block(args[1])}, out={out})")
            for j in range(2, len(args)):
                f.append(f"np.add({out}, {self.block(args[j])}, out={out})")
        else:  # pragma: no cover - _decode only lets known kinds through
            raise Unsupported(f"no code for {kind!r}")

    # ---- backward ------------------------------------------------------------------
    def write_grad(self, rows, compute, src=None):
        """Add C (k, B) to G at rows: C is `src` or what compute(dest) writes into dest.

        Assigns straight into a G view when this is the rows' first contribution,
        adds in place when they all have one, and uses np.add.at only when a row
        repeats within `rows`.
        """
        p, b = self.p, self.bwd
        need = [i for i, r in enumerate(rows) if p._row_grad.get(r)]
        if not need:
            return
        k = len(rows)
        sel = [rows[i] for i in need]
        dup = len(set(sel)) < len(sel)
        contiguous = sel == list(range(sel[0], sel[0] + len(sel)))
        fresh = [r for r in dict.fromkeys(sel) if r not in self.ginit]
        full = len(need) == k
        if full and contiguous and not dup and len(fresh) == len(sel):
            dest = self.block(sel, "G", forward=False)
            if src is not None:
                b.append(f"np.copyto({dest}, {src})")
            else:
                compute(dest)
        elif full and contiguous and not dup and not fresh:
            dest = self.block(sel, "G", forward=False)
            if src is None:
                src = self.setup_temp(k)
                compute(src)
            b.append(f"np.add({dest}, {src}, out={dest})")
        else:
            if src is None:
                src = self.setup_temp(k)
                compute(src)
            if not full:
                I = self.setup_const(self.new("I"), np.array(need, dtype=np.intp))
                src = f"{src}[{I}]"
            if fresh:
                F = self.setup_const(self.new("I"), np.array(fresh, dtype=np.intp))
                b.append(f"G[{F}] = 0.0")
            I = self.setup_const(self.new("I"), np.array(sel, dtype=np.intp))
            if dup:
                b.append(f"np.add.at(G, {I}, {src})")
            else:
                b.append(f"G[{I}] += {src}")
        self.ginit.update(sel)

    def backward_group(self, gi, key, members):
        p, kind, b = self.p, key[1], self.bwd
        k = len(members)
        orows = [nd.row for nd in members]
        fresh_out = [r for r in orows if r not in self.ginit]
        if fresh_out:  # rows of this group nobody downstream sent a gradient to
            I = self.setup_const(self.new("I"), np.array(fresh_out, dtype=np.intp))
            b.append(f"G[{I}] = 0.0")
            self.ginit.update(fresh_out)
        GS = self.block(orows, "G", forward=False)
        O = self.block(orows)
        if kind == "dot":
            XB, WB, W, pidx, contiguous, xrows = self.dots[gi]
            n = len(key[2])
            flat = pidx.ravel().tolist()
            unique_here = len(set(flat)) == len(flat)
            once = all(p._puse[i] == 1 for i in flat)
            if contiguous and once and not (set(flat) & self.pinit):
                s = int(pidx[0, 0])
                GW = self.new("GW")
                self.setup.append((GW, lambda ns, B, s=s, k=k, n=n: ns["GR"][s:s + k * (n + 1)].reshape(k, n + 1)))
                b.append(f"np.matmul({GS}, {XB}.T, out={GW})")
            else:
                T = self.new("TW")
                self.setup.append((T, lambda ns, B, k=k, n=n: np.empty((k, n + 1))))
                b.append(f"np.matmul({GS}, {XB}.T, out={T})")
                fresh = sorted(set(flat) - self.pinit)
                if fresh:
                    F = self.setup_const(self.new("I"), np.array(fresh, dtype=np.intp))
                    b.append(f"GR[{F}] = 0.0")
                I = self.setup_const(self.new("I"), pidx)
                b.append(f"GR[{I}] += {T}" if unique_here else f"np.add.at(GR, {I}, {T})")
            self.pinit.update(flat)
            self.write_grad(xrows, lambda d: b.append(f"np.matmul({W}.T, {GS}, out={d})"))
            return
        args = [[p.row(nd.args[j]) for nd in members] for j in range(len(members[0].args))]
        A = self.block(args[0])
        if kind == "relu":
            self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, {A} > 0.0, out={d})"))
        elif kind == "tanh":
            T = self.setup_temp(k)
            b.append(f"np.multiply({O}, {O}, out={T})")
            b.append(f"np.subtract(1.0, {T}, out={T})")
            self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, {T}, out={d})"))
        elif kind in ("sigmoid", "softplus"):
            T = self.setup_temp(k)
            if kind == "sigmoid":  # s (1 - s)
                b.append(f"np.subtract(1.0, {O}, out={T})")
                b.append(f"np.multiply({T}, {O}, out={T})")
            else:  # sigmoid(x), from the z = exp(-|x|) of the forward pass
                Z = self.setup_temp(k, "Z")
                b.append(f"np.abs({A}, out={Z})")
                b.append(f"np.negative({Z}, out={Z})")
                b.append(f"np.exp({Z}, out={Z})")
                b.append(f"{T}[...] = np.where({A} >= 0, 1.0 / (1.0 + {Z}), {Z} / (1.0 + {Z}))")
            self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, {T}, out={d})"))
        elif kind == "exp":
            self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, {O}, out={d})"))
        elif kind == "log":
            self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, 1.0 / {A}, out={d})"))
        elif kind == "abs":
            self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, np.sign({A}), out={d})"))
        elif kind == "pow":
            kk = key[2]
            if kk == 0:
                return  # local derivative 0, as in the engine
            if kk == 1:
                self.write_grad(args[0], None, src=GS)
            elif kk == 2:
                T = self.setup_temp(k)
                b.append(f"np.multiply({A}, 2.0, out={T})")
                self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, {T}, out={d})"))
            else:
                T = self.setup_temp(k)
                b.append(f"np.power({A}, {kk - 1!r}, out={T})")
                b.append(f"np.multiply({T}, {kk!r}, out={T})")
                self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, {T}, out={d})"))
        elif kind == "addc":
            self.write_grad(args[0], None, src=GS)
        elif kind == "mulc":
            c = self.const([nd.const for nd in members])
            self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, {c}, out={d})"))
        elif kind in ("add2", "sum"):
            for rows in args:
                self.write_grad(rows, None, src=GS)
        elif kind == "mul2":
            B_ = self.block(args[1])
            self.write_grad(args[0], lambda d: b.append(f"np.multiply({GS}, {B_}, out={d})"))
            self.write_grad(args[1], lambda d: b.append(f"np.multiply({GS}, {A}, out={d})"))


# -- the engine -----------------------------------------------------------------------

class CompiledEngine:
    """Same interface as `train.ValueEngine`: loss(theta, X, Y), loss_and_grad(theta, X, Y).

    Compiles in the constructor (raises `Unsupported` for what it cannot handle);
    recompile (make a new engine) only when the architecture or loss changes.
    """

    name = "compiled"
    fallback_reason = None

    def __init__(self, model, cfg):
        self.model, self.cfg = model, cfg
        self.program = Program(model, cfg.loss)
        self.TH, self.GR = self.program.TH, self.program.GR
        self.scratch = np.empty(self.program.nparams)
        self.chunk = max(64, CHUNK_BYTES // (8 * 3 * max(self.program.nrows, 1)))
        self.mean = self.program.reduce == "mean"

    def _penalty(self, obj):
        TH, c = self.TH, self.cfg
        if c.l2:
            obj = obj + c.l2 * float(np.dot(TH, TH))
        if c.l1:
            obj = obj + c.l1 * float(np.add.reduce(np.abs(TH)))
        return obj

    def _run(self, theta, X, Y, want_grad):
        n = len(X)
        if n == 0:
            raise ValueError("an empty batch has no loss")
        X = np.asarray(X, dtype=float).reshape(n, self.program.nin)
        Y = np.asarray(Y, dtype=float).reshape(n, self.program.nout)
        np.copyto(self.TH, theta)
        seed = 1.0 / n if self.mean else 1.0
        if n <= self.chunk:
            fwd, bwd, BUF, out_view, outs = self.program.bind(n)
            s = fwd(X, Y)
            out = out_view.T.copy() if out_view is not None else BUF[outs].T.copy()
            if want_grad:
                bwd(seed)
                grad = self.GR.copy()
        else:
            s, parts, grad = 0.0, [], np.zeros_like(self.TH) if want_grad else None
            for i in range(0, n, self.chunk):
                fwd, bwd, BUF, out_view, outs = self.program.bind(min(self.chunk, n - i))
                s += fwd(X[i:i + self.chunk], Y[i:i + self.chunk])
                parts.append(BUF[outs].T.copy())
                if want_grad:
                    bwd(seed)
                    grad += self.GR
            out = np.concatenate(parts)
        obj = self._penalty(s * (1.0 / n) if self.mean else s)
        if not want_grad:
            return obj, out
        c = self.cfg
        if c.l2:
            np.multiply(self.TH, 2.0 * c.l2, out=self.scratch)
            grad += self.scratch
        if c.l1:
            np.sign(self.TH, out=self.scratch)
            self.scratch *= c.l1
            grad += self.scratch
        return obj, grad, out

    # NOTE: where the Value engine raises (exp/pow overflow, log of a non-positive
    # number) we return inf/nan, silently; the Trainer stops such a run as diverged.
    def loss(self, theta, X, Y):
        """(objective, outputs (n, outputs)) at theta, no gradient."""
        with one_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._run(theta, X, Y, False)

    def loss_and_grad(self, theta, X, Y):
        """(objective, d objective / d theta, outputs) at theta."""
        with one_blas_thread(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._run(theta, X, Y, True)
