"""Fusion groups and the row layout of the batch buffer.

A group is the nodes at one depth doing the same thing: one numpy call on a block of
rows. Rows are numbered so that a group's outputs are contiguous and in the order the
next layer reads them, so blocks are views, not copies.
"""
from .trace import Unsupported


class Group:
    """Nodes fused into one numpy call: same depth, same kind, same `detail`.

    detail: a dot's input positions (a layer: same inputs, same order), a sum's
    number of terms, a power's exponent, a unary op's name; else None.
    """

    __slots__ = ("depth", "kind", "detail", "members")

    def __init__(self, depth, kind, detail):
        self.depth, self.kind, self.detail, self.members = depth, kind, detail, []

    def __repr__(self):
        name = self.detail if self.kind == "unary" else self.kind
        return f"depth {self.depth}: {name} x{len(self.members)}"


def fuse(graph):
    """The graph's nodes in groups, ordered by depth, first appearance first within a depth."""
    groups = {}
    for node in graph.nodes:
        node.depth = 1 + max((graph.items[a].depth for a in node.args if graph.is_node(a)), default=0)
        if node.kind == "dot":
            detail = tuple(node.dot_parts()[1])
        elif node.kind == "sum":
            detail = len(node.args)
        elif node.kind == "pow":
            detail = node.const
        else:
            detail = node.fn
        key = (node.depth, node.kind, detail)
        if key not in groups:
            groups[key] = Group(*key)
        groups[key].members.append(node)
    # A group that a layer reads as its inputs is laid out in the order it reads them.
    for layer in groups.values():
        if layer.kind == "dot":
            wanted = layer.detail
            for group in groups.values():
                if len(group.members) == len(wanted) and {nd.id for nd in group.members} == set(wanted):
                    position = {ref: i for i, ref in enumerate(wanted)}
                    group.members.sort(key=lambda nd: position[nd.id])
    return sorted(groups.values(), key=lambda g: g.depth)  # stable: first appearance within a depth


class Layout:
    """Row numbers of the batch buffer (one row per scalar, one column per sample).

    Rows: the inputs, a row of ones, the targets, then each group's members in turn;
    a group that a layer reads as its inputs is followed by a row of ones, so that the
    layer's input block carries its bias column's partner and is one view.
    """

    def __init__(self, graph, groups):
        self.graph = graph
        layer_inputs = {g.detail for g in groups if g.kind == "dot"}
        self.x_rows = list(range(graph.nin))
        self.ones_rows = [graph.nin]
        rows = graph.nin + 1
        self.y_rows = list(range(rows, rows + graph.nout))
        rows += graph.nout
        for group in groups:
            for node in group.members:
                node.row = rows
                rows += 1
            if tuple(nd.id for nd in group.members) in layer_inputs:
                self.ones_rows.append(rows)
                rows += 1
        self.nrows = rows
        self.needs_grad = {nd.row: nd.needs_grad for g in groups for nd in g.members}

    def row(self, ref):
        """The row holding graph item `ref` (a node, an input or a target)."""
        item = self.graph.items[ref]
        if self.graph.is_node(ref):
            return item.row
        if item.source == "x":
            return self.x_rows[item.index]
        if item.source == "y":
            return self.y_rows[item.index]
        raise Unsupported("a parameter read as a batch row")
