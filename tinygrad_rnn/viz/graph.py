"""The graph behind a tensor as Graphviz DOT text, an unrolled recurrence's steps grouped, and as a picture.

``to_dot`` needs nothing but the tape; ``render`` calls Graphviz's ``dot`` for .svg, .png and .pdf.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ..checkpoint import atomic_write
from ..function import Node
from ..tensor import Tensor

__all__ = ["GraphvizMissing", "render", "to_dot"]

PICTURES = (".svg", ".png", ".pdf")
TEXTS = (".dot", ".gv")
EXPANDED_STEPS = 8  # collapse="auto" draws a recurrence of up to this many steps in full
MAX_NODES = 2000  # past a few thousand nodes dot takes minutes and the picture is unreadable
DOT_TIMEOUT = 120.0  # seconds
_STYLES = {
    "op": {"shape": "box", "style": "rounded,filled", "fillcolor": "gray95"},
    "leaf": {"shape": "ellipse", "style": "filled", "fillcolor": "lightblue"},
    "const": {"shape": "ellipse", "style": "filled", "fillcolor": "white"},
    "step": {"shape": "box3d", "style": "filled", "fillcolor": "gray85"},
}
_OUTPUT = {"fillcolor": "darkolivegreen1", "penwidth": "2"}
_BREAKS = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


class GraphvizMissing(RuntimeError):
    """``dot`` is not on PATH: the DOT text can still be written (a .dot path), the picture cannot."""


def to_dot(tensor: Tensor, params=None, *, edge_labels: bool = False, collapse="auto",
           max_nodes: int = MAX_NODES) -> str:
    """Graphviz DOT text for the graph behind ``tensor``: a box per recorded op (its name and output shape),
    an ellipse per leaf that requires grad (named by ``params``, a Module or a mapping name → Tensor, else
    by its shape), the output filled green; constants are not drawn. ``edge_labels`` numbers each edge by
    the input position it feeds (``sub``'s 0 and 1). Ids follow recording order, so a program gives the
    same text on every run.

    The steps of an unrolled recurrence (see ``_steps``) are drawn as clusters ``step k``. ``collapse``
    draws steps as one node each (its op count and output shape), with edges to and from it merged:
    ``True`` every step, ``False`` none, ``"auto"`` the middle ones when there are more than
    ``EXPANDED_STEPS`` (steps 0, 1 and the last stay drawn in full). More than ``max_nodes`` drawn
    nodes is a ValueError rather than a file that dot cannot lay out.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    if collapse not in ("auto", True, False):
        raise ValueError(f"to_dot: collapse must be 'auto', True or False, got {collapse!r}")
    names = _names(params)
    nodes = _collect(tensor._node) if tensor._node is not None else []
    consumers: dict[Node, list[Node]] = {}
    for node in nodes:
        for e in node.edges:
            if type(e) is Node and node not in consumers.setdefault(e, []):
                consumers[e].append(node)
    steps = _steps(nodes, consumers)
    n = len(steps)
    folded = set(range(n)) if collapse is True else \
        set(range(2, n - 1)) if collapse == "auto" and n > EXPANDED_STEPS else set()
    blocks, edges = _draw(tensor, nodes, steps, folded, names)
    drawn = sum(len(b) for b in blocks.values())
    if drawn > max_nodes:
        raise ValueError(f"to_dot: the graph has {drawn} nodes to draw, more than max_nodes={max_nodes}; pass "
                         f"collapse=True to draw each recurrent step as one node ({n} steps found), or a larger "
                         "max_nodes")
    lines = ["digraph tape {", '  node [fontname="Helvetica", fontsize=10];', "  edge [fontsize=9];"]
    lines += ["  " + d for d in blocks[None]]
    for k in sorted(key for key in blocks if key is not None):
        lines += [f"  subgraph cluster_step{k} {{", f'    label="step {k}"; style="rounded,dashed"; color=gray50;']
        lines += ["    " + d for d in blocks[k]] + ["  }"]
    fold_ids = {f"s{k}" for k in folded}
    for (src, dst), positions in edges.items():
        label = f" [label={_quote(','.join(map(str, positions)))}]" if edge_labels and dst not in fold_ids else ""
        lines.append(f"  {src} -> {dst}{label};")
    return "\n".join(lines) + "\n}\n"


def _draw(tensor: Tensor, nodes: list[Node], steps: list[list[Node]], folded: set[int], names: dict[int, str]):
    """The node declarations per cluster (None: outside every step) and the edges, (source, target) → the
    input positions it stands for; a folded step is one node, and edges inside it are dropped."""
    step_of = {node: k for k, step in enumerate(steps) for node in step}
    rank = {node: i for i, node in enumerate(nodes)}
    leaves: dict[int, str] = {}
    blocks: dict[int | None, list[str]] = {None: []}
    edges: dict[tuple[str, str], list[int]] = {}

    def ident(x) -> str:
        if type(x) is Node:
            k = step_of.get(x)
            return f"s{k}" if k in folded else f"n{rank[x]}"
        if id(x) not in leaves:  # leaves numbered in order of first use
            leaves[id(x)] = f"l{len(leaves)}"
            kind = "leaf" if x.requires_grad else "const"
            blocks[None].append(_declare(leaves[id(x)], _leaf_label(x, names), kind, x is tensor))
        return leaves[id(x)]

    if not nodes:
        ident(tensor)
    for k in sorted(folded):
        label = f"step {k}\n{len(steps[k])} ops\n{tuple(steps[k][-1].shape)}"
        blocks[None].append(_declare(f"s{k}", label, "step", tensor._node in steps[k]))
    for node in nodes:
        dst = ident(node)
        k = step_of.get(node)
        if k not in folded:
            blocks.setdefault(k, []).append(_declare(dst, _op_label(node), "op", node is tensor._node))
        for pos, e in enumerate(node.edges):
            if e is not None and (src := ident(e)) != dst:
                edges.setdefault((src, dst), []).append(pos)
    return blocks, edges


def render(tensor_or_dot, path, params=None, *, timeout: float = DOT_TIMEOUT, **to_dot_options) -> Path:
    """Write the graph to ``path``, the format by its suffix: .dot/.gv the DOT text itself (needs nothing),
    .svg/.png/.pdf drawn by Graphviz's ``dot``. ``tensor_or_dot`` is a Tensor (drawn by ``to_dot`` with
    ``params`` and the options) or DOT text. The file is replaced atomically: a failed run leaves the old one.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in PICTURES + TEXTS:
        raise ValueError(f"render: unknown suffix {suffix or '(none)'!r} of {path}; use one of "
                         f"{', '.join(PICTURES + TEXTS)}")
    if isinstance(tensor_or_dot, str):
        if params is not None or to_dot_options:
            raise TypeError("render: params and to_dot options apply to a Tensor, not to DOT text")
        text = tensor_or_dot
    else:
        text = to_dot(tensor_or_dot, params, **to_dot_options)
    if suffix in TEXTS:
        atomic_write(path, text.encode())
        return path
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizMissing("the Graphviz program 'dot' is not installed (apt install graphviz, brew install "
                              "graphviz, conda install graphviz); write the DOT text with a .dot path instead")
    try:  # the picture comes back on stdout and is written by atomic_write: no half-written file
        run = subprocess.run([dot, f"-T{suffix[1:]}"], input=text.encode(), capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"render: dot took more than {timeout} s to draw {path}; draw fewer nodes "
                           "(collapse=True) or pass a longer timeout") from None
    if run.returncode != 0:
        lines = run.stderr.decode(errors="replace").strip().splitlines() or ["(no message)"]
        raise RuntimeError(f"render: dot failed to draw {path} (exit {run.returncode}): {lines[0]}")
    atomic_write(path, run.stdout)
    return path


def _steps(nodes: list[Node], consumers: dict) -> list[list[Node]]:
    """The steps of the most repeated unrolled recurrence among ``nodes`` (in seq order), each in seq order.

    Anchors are the ops that use the recurrent weight: the largest group (at least 3, the earliest on a
    tie) of same-named ops that share an input (leaf or node), each reachable from the one before.
    Step i is anchor i and the ops recorded after it and before anchor i+1 that are reachable from it.
    The last step is its anchor and the ops after it that repeat, by name and order, the previous
    step's ops after its anchor, each fed by the step so far. When anchor 0's state input is an op that shares a
    consumer with step 0's state (the plain RNN's first tanh, which has no state to multiply: both go
    into the stack of states), that op is a step of its own before step 0. Last, an op outside every
    step joins step i when all its consumers are in step i and it is recorded at most one step's length
    before the step (the slice ``xw[:, t]`` feeding step t), to a fixpoint; the rest stays outside.
    """
    groups: dict[tuple[int, str], list[Node]] = {}
    for node in nodes:
        for e in node.edges:
            group = groups.setdefault((id(e), node.name), []) if e is not None else None
            if group is not None and (not group or group[-1] is not node):
                group.append(node)
    for anchors in sorted((g for g in groups.values() if len(g) >= 3), key=lambda g: (-len(g), g[0].seq)):
        steps = _windows(anchors, consumers)
        if steps is not None:
            break
    else:
        return []
    before, last = anchors[-2], anchors[-1]
    pattern = [x.name for x in sorted(steps[-1], key=_seq) if x is not before]
    step, j = {last}, 0
    for node in nodes[nodes.index(last) + 1:]:
        if j == len(pattern):
            break
        if node.name == pattern[j] and any(type(e) is Node and e in step for e in node.edges):
            step.add(node)
            j += 1
    steps.append(step)
    state = next((pos for pos, e in enumerate(anchors[1].edges) if type(e) is Node and e in steps[0]), None)
    lead = anchors[0].edges[state] if state is not None and state < len(anchors[0].edges) else None
    if type(lead) is Node:
        inner = {x for s in steps for x in s}
        shared = set(consumers[anchors[1].edges[state]]) & set(consumers[lead]) - inner
        if shared:
            steps.insert(0, {lead})
    span = anchors[1].seq - anchors[0].seq
    floors = [min(x.seq for x in s) - span for s in steps]
    step_of = {x: k for k, s in enumerate(steps) for x in s}
    for node in reversed(nodes):
        if node in step_of or node not in consumers:
            continue
        ks = {step_of.get(c, -1) for c in consumers[node]}
        k = ks.pop()
        if not ks and k >= 0 and node.seq > floors[k]:
            step_of[node] = k
            steps[k].add(node)
    return [sorted(s, key=_seq) for s in steps]


def _windows(anchors: list[Node], consumers: dict) -> list[set[Node]] | None:
    """Per anchor but the last: it and the ops recorded before the next that it reaches; None when an
    anchor does not reach the next (not a recurrence)."""
    steps = []
    for a, b in zip(anchors, anchors[1:]):
        seen, stack = {a}, [a]
        while stack:
            for c in consumers.get(stack.pop(), ()):
                if c not in seen and c.seq <= b.seq:
                    seen.add(c)
                    stack.append(c)
        if b not in seen:
            return None
        seen.discard(b)
        steps.append(seen)
    return steps


def _collect(root: Node) -> list[Node]:
    """Every node behind ``root``, in recording order, by an explicit stack (graphs are deep)."""
    seen, stack = {root}, [root]
    while stack:
        node = stack.pop()
        if node.edges is None:
            raise ValueError(f"to_dot: the graph behind this tensor was freed by backward() (at {node.name}, "
                             f"output shape {tuple(node.shape)}); draw it before backward or pass retain_graph=True")
        for e in node.edges:
            if type(e) is Node and e not in seen:
                seen.add(e)
                stack.append(e)
    return sorted(seen, key=_seq)


def _names(params) -> dict[int, str]:
    """id of each named tensor → its name, from a Module (its named_parameters) or a mapping; the first name wins."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        items = params.named_parameters()
    elif isinstance(params, Mapping):
        items = params.items()
    else:
        raise TypeError(f"to_dot: params must be a Module or a mapping name → Tensor, got {type(params).__name__}")
    names: dict[int, str] = {}
    for name, t in items:
        names.setdefault(id(t), str(name))
    return names


def _seq(node: Node) -> int:
    return node.seq


def _op_label(node: Node) -> str:
    activation = getattr(node.fn, "activation", None)  # F.linear's fused nonlinearity, noted by its forward
    name = f"{node.name}·{activation}" if isinstance(activation, str) else node.name
    return f"{name}\n{tuple(node.shape)}"


def _leaf_label(t: Tensor, names: dict[int, str]) -> str:
    name = names.get(id(t))  # its line breaks made plain first: a trailing "\r" must not join the "\n" after it
    return f"{tuple(t.shape)}" if name is None else f"{_BREAKS.sub(chr(10), name)}\n{tuple(t.shape)}"


def _declare(ident: str, label: str, kind: str, output: bool) -> str:
    attrs = {"label": label, **_STYLES[kind], **(_OUTPUT if output else {})}
    return f"{ident} [{', '.join(f'{k}={_quote(v)}' for k, v in attrs.items())}];"


def _quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, every line break (as ``str.splitlines`` sees them) as
    DOT's centred one, so that one declaration stays one line."""
    return '"' + _BREAKS.sub(r"\\n", text.replace("\\", "\\\\").replace('"', '\\"')) + '"'
