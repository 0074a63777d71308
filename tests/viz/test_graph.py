"""The graph as DOT text, read back node by node; an unrolled RNN's steps as clusters; render with and without dot."""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.models import RNNLM
from tinygrad_rnn.viz.graph import GraphvizMissing, render, to_dot

_NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
_EDGE = re.compile(r'^\s*(\w+) -> (\w+)(?: \[label="([^"]*)"\])?;$')
_CLUSTER = re.compile(r"^\s*subgraph cluster_(\w+) \{$")
_CLUSTER_LABEL = re.compile(r'^\s*label="([^"]*)";')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


class Dot:
    """The DOT text read back: nodes (id → label, attributes), edges ((src, dst) → label), clusters (label → ids)."""

    def __init__(self, text: str):
        self.nodes: dict[str, tuple[str, str]] = {}
        self.edges: dict[tuple[str, str], str | None] = {}
        self.clusters: dict[str, list[str]] = {}
        self.edge_lines = 0
        cluster = None
        for line in text.splitlines():
            if m := _CLUSTER.match(line):
                cluster = m.group(1)
            elif cluster is not None and (m := _CLUSTER_LABEL.match(line)):
                cluster = m.group(1)
                self.clusters[cluster] = []
            elif line.strip() == "}":
                cluster = None
            elif m := _NODE.match(line):
                assert m.group(1) not in self.nodes, f"{m.group(1)} declared twice"
                self.nodes[m.group(1)] = (_unescape(m.group(2)), m.group(3))
                if cluster is not None:
                    self.clusters[cluster].append(m.group(1))
            elif m := _EDGE.match(line):
                self.edges[m.group(1), m.group(2)] = m.group(3)
                self.edge_lines += 1

    def label(self, ident: str) -> str:
        return self.nodes[ident][0].replace("\n", " ")

    def labelled_edges(self) -> dict[tuple[str, str], str | None]:
        return {(self.label(s), self.label(d)): lab for (s, d), lab in self.edges.items()}

    def labels(self, ids=None) -> list[str]:
        return sorted(self.label(i) for i in (self.nodes if ids is None else ids))


def _small():
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((3,)), requires_grad=True)
    return a, b, (a * b).sum()


def _rnnlm_loss(tokens: int, **options):
    m = RNNLM(20, 8, seed=0, **options)
    ids = np.arange(tokens) % 20
    return m, m.loss(ids, (ids + 1) % 20)


# --- the DOT text, node by node --------------------------------------------------------------


def test_small_graph_node_by_node():
    a, b, y = _small()
    assert (y._node.name, y._node.edges[0].name) == ("sum", "mul")
    dot = Dot(to_dot(y, {"a": a, "b": b}))
    assert dot.labels() == ["a (2, 3)", "b (3,)", "mul (2, 3)", "sum ()"]
    assert dot.labelled_edges() == {("a (2, 3)", "mul (2, 3)"): None, ("b (3,)", "mul (2, 3)"): None,
                                    ("mul (2, 3)", "sum ()"): None}
    kinds = {dot.label(i): attrs for i, (_, attrs) in dot.nodes.items()}
    assert "ellipse" in kinds["a (2, 3)"] and "lightblue" in kinds["b (3,)"]
    assert "box" in kinds["mul (2, 3)"] and "darkolivegreen1" not in kinds["mul (2, 3)"]
    assert "darkolivegreen1" in kinds["sum ()"]  # the output


def test_edge_labels_give_input_positions():
    a, b, y = _small()
    dot = Dot(to_dot(y, {"a": a, "b": b}, edge_labels=True))
    assert dot.labelled_edges() == {("a (2, 3)", "mul (2, 3)"): "0", ("b (3,)", "mul (2, 3)"): "1",
                                    ("mul (2, 3)", "sum ()"): "0"}
    reversed_sub = Dot(to_dot(b - a, {"a": a, "b": b}, edge_labels=True))
    assert reversed_sub.labelled_edges() == {("b (3,)", "sub (2, 3)"): "0", ("a (2, 3)", "sub (2, 3)"): "1"}
    square = Dot(to_dot(a * a, {"a": a}, edge_labels=True))  # one input twice: one edge, both positions
    assert square.labelled_edges() == {("a (2, 3)", "mul (2, 3)"): "0,1"}


def test_leaves_named_by_a_module_unnamed_by_shape_constants_omitted():
    layer = nn.Linear(3, 4)
    extra = Tensor(np.ones((2, 4)), requires_grad=True)
    x = Tensor(np.ones((2, 3)))  # a constant: not drawn
    y = (layer(x) * extra * 2.0).sum()
    dot = Dot(to_dot(y, layer))
    assert dot.labels() == ["(2, 4)", "bias (4,)", "linear (2, 4)", "mul (2, 4)", "mul (2, 4)", "sum ()",
                            "weight (4, 3)"]
    assert len(dot.edges) == 6  # weight, bias → linear → mul ← extra; mul → mul → sum


def test_linear_shows_its_fused_activation_and_the_model_names_its_parameters():
    m, loss = _rnnlm_loss(3)
    labels = Dot(to_dot(loss, m)).labels()
    assert "linear·tanh (1, 8)" in labels and {"U (8, 20)", "W (8, 8)", "V (20, 8)"} <= set(labels)


def test_a_leaf_or_a_tensor_without_graph_is_drawn_alone():
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    dot = Dot(to_dot(a, {"a": a}))
    assert dot.labels() == ["a (2, 3)"] and not dot.edges and "darkolivegreen1" in dot.nodes["l0"][1]
    assert Dot(to_dot(Tensor(np.ones(4)))).labels() == ["(4,)"]


def test_same_program_same_text_and_no_addresses():
    texts = []
    for _ in range(2):
        m, loss = _rnnlm_loss(12, cell="gru")
        texts.append(to_dot(loss, m, edge_labels=True))
    assert texts[0] == texts[1]
    assert "0x" not in texts[0] and str(id(m.V)) not in texts[0]


@given(st.text(min_size=1, max_size=12))
def test_labels_are_escaped(name):
    a = Tensor(np.ones(2), requires_grad=True)
    dot = Dot(to_dot((a * 2.0).sum(), {name: a}))
    shown = re.sub("\r\n|[\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]", "\n", name)  # every line break as DOT's
    assert sorted(dot.nodes[i][0] for i in dot.nodes) == sorted([f"{shown}\n(2,)", "mul\n(2,)", "sum\n()"])


def test_a_deep_graph_needs_no_recursion():
    x = Tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    limit = sys.getrecursionlimit()
    assert limit < 5000
    dot = Dot(to_dot(y, {"x": x}, max_nodes=10_000))
    assert len(dot.nodes) == 5001 and len(dot.edges) == 5000
    with pytest.raises(ValueError, match=r"5001 nodes .*max_nodes=2000.*collapse=True"):
        to_dot(y)


def test_a_freed_graph_is_refused_by_name():
    a, b, y = _small()
    y.backward()
    with pytest.raises(ValueError, match=r"freed by backward\(\) \(at sum, output shape \(\)\).*retain_graph=True"):
        to_dot(y)


def test_bad_arguments():
    a, b, y = _small()
    with pytest.raises(ValueError, match="collapse must be 'auto', True or False, got 'some'"):
        to_dot(y, collapse="some")
    with pytest.raises(TypeError, match="params must be a Module or a mapping.*got list"):
        to_dot(y, [a, b])
    with pytest.raises(TypeError, match="expected a Tensor, got ndarray"):
        to_dot(np.ones(3))


# --- an unrolled recurrence's steps --------------------------------------------------------


def test_vanilla_rnn_steps_are_clusters_each_with_its_linear():
    m, loss = _rnnlm_loss(6, bptt_truncate=None)
    dot = Dot(to_dot(loss, m))
    assert list(dot.clusters) == [f"step {k}" for k in range(6)]
    # step 0 has no state to multiply: tanh(xu[:, 0]); the others one fused linear·tanh with W, fed their slice
    assert dot.labels(dot.clusters["step 0"]) == ["getitem (1, 8)", "tanh (1, 8)"]
    for k in range(1, 6):
        assert dot.labels(dot.clusters[f"step {k}"]) == ["getitem (1, 8)", "linear·tanh (1, 8)"]
    grouped = {i for ids in dot.clusters.values() for i in ids}
    outside = [dot.label(i) for i in dot.nodes if i not in grouped]
    assert sorted(outside) == ["U (8, 20)", "V (20, 8)", "W (8, 8)", "getitem (1, 6, 8)", "linear_cross_entropy ()",
                               "reshape (6, 8)", "stack (1, 6, 8)", "transpose (20, 8)"]


def test_gru_steps_hold_the_same_nodes():
    m, loss = _rnnlm_loss(6, cell="gru")
    dot = Dot(to_dot(loss, m))
    assert list(dot.clusters) == [f"step {k}" for k in range(6)]
    for ids in dot.clusters.values():
        labels = dot.labels(ids)
        assert len(labels) == 19 and labels.count("linear (1, 24)") == 1 and labels.count("tanh (1, 8)") == 1


def test_truncated_windows_are_the_k_plus_1_batched_steps():
    # bptt_truncate=k computes every window at once: k+1 steps on (T, H) rows, the first k masked by where.
    m, loss = _rnnlm_loss(6, bptt_truncate=2)
    dot = Dot(to_dot(loss, m))
    assert list(dot.clusters) == ["step 0", "step 1", "step 2"]
    for name, ids in dot.clusters.items():
        extra = [] if name == "step 2" else ["where (6, 8)"]
        assert dot.labels(ids) == sorted(["getitem (6, 8)", "linear·tanh (6, 8)"] + extra)


def test_no_recurrence_no_clusters():
    a, b, y = _small()
    assert not Dot(to_dot(y, collapse=True)).clusters


def test_fifty_steps_collapse_to_a_readable_graph():
    m, loss = _rnnlm_loss(50)
    auto = Dot(to_dot(loss, m, edge_labels=True))
    assert len(auto.nodes) < 80
    assert list(auto.clusters) == ["step 0", "step 1", "step 49"]
    folded = {i: lab for i, (lab, attrs) in auto.nodes.items() if "box3d" in attrs}
    assert sorted(folded.values()) == sorted(f"step {k}\n2 ops\n(1, 8)" for k in range(2, 49))
    by_label = {auto.label(i): i for i in auto.nodes}
    step7, step8, w = by_label["step 7 2 ops (1, 8)"], by_label["step 8 2 ops (1, 8)"], by_label["W (8, 8)"]
    assert (step7, step8) in auto.edges and (w, step7) in auto.edges and auto.edges[w, step7] is None
    assert auto.edges[step7, by_label["stack (1, 50, 8)"]] == "7"  # out of a folded step: still its position
    assert auto.edge_lines == len(auto.edges)  # rerouted edges merged
    full = Dot(to_dot(loss, m, collapse=False))
    assert len(full.clusters) == 50 and len(full.nodes) == 2 * 50 + 5 + 3
    every = Dot(to_dot(loss, m, collapse=True))
    assert not every.clusters and len(every.nodes) == 50 + 5 + 3
    assert "darkolivegreen1" in every.nodes[by_label["linear_cross_entropy ()"]][1]


def test_few_steps_stay_expanded_under_auto():
    m, loss = _rnnlm_loss(8)
    assert len(Dot(to_dot(loss, m)).clusters) == 8


# --- render ----------------------------------------------------------------------------------


def _fake_dot(tmp_path, body: str):
    """A ``dot`` on PATH that records its arguments and input, then runs ``body``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "dot"
    script.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/args"\ncat > "{tmp_path}/stdin"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_render_dot_text_needs_no_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    a, b, y = _small()
    for name in ("g.dot", "g.GV"):
        out = render(y, tmp_path / name, {"a": a, "b": b}, edge_labels=True)
        assert out == tmp_path / name
        assert out.read_text() == to_dot(y, {"a": a, "b": b}, edge_labels=True)
    assert render("digraph {}\n", tmp_path / "t.gv").read_text() == "digraph {}\n"
    with pytest.raises(TypeError, match="not to DOT text"):
        render("digraph {}\n", tmp_path / "t.gv", edge_labels=True)


def test_render_without_dot_says_how_to_get_it(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GraphvizMissing) as caught:
        render(_small()[2], tmp_path / "g.svg")
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError) and "\n" not in message
    assert "'dot' is not installed" in message and "apt install graphviz" in message and ".dot path" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_render_runs_dot_and_writes_its_output_atomically(tmp_path, monkeypatch):
    bin_dir = _fake_dot(tmp_path, "printf '<svg>fake</svg>'")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "g.svg").write_text("old")
    a, b, y = _small()
    assert render(y, out_dir / "g.svg", {"a": a}) == out_dir / "g.svg"
    assert (out_dir / "g.svg").read_text() == "<svg>fake</svg>"
    assert (tmp_path / "args").read_text().split() == ["-Tsvg"]
    assert (tmp_path / "stdin").read_text() == to_dot(y, {"a": a})
    render(y, out_dir / "g.PNG")
    assert (tmp_path / "args").read_text().split() == ["-Tpng"]
    assert sorted(p.name for p in out_dir.iterdir()) == ["g.PNG", "g.svg"]  # no temporary file left


def test_a_failing_dot_is_named_and_leaves_the_old_file(tmp_path, monkeypatch):
    bin_dir = _fake_dot(tmp_path, "printf 'Error: <stdin>: syntax error in line 1\\nmore\\n' >&2\nexit 3")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    target = tmp_path / "g.pdf"
    target.write_text("old")
    with pytest.raises(RuntimeError, match=r"dot failed to draw .*g\.pdf \(exit 3\): Error: <stdin>: syntax error in "
                                           r"line 1$"):
        render(_small()[2], target)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["args", "bin", "g.pdf", "stdin"]


def test_a_slow_dot_times_out(tmp_path, monkeypatch):
    bin_dir = _fake_dot(tmp_path, "exec sleep 5")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(RuntimeError, match=r"more than 0.2 s to draw .*g\.svg"):
        render(_small()[2], tmp_path / "g.svg", timeout=0.2)
    assert not (tmp_path / "g.svg").exists()


def test_unknown_suffix_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"unknown suffix '\.jpg' of .*g\.jpg; use one of \.svg, \.png, \.pdf, \.dot"):
        render(_small()[2], tmp_path / "g.jpg")
    with pytest.raises(ValueError, match=r"unknown suffix '\(none\)'"):
        render(_small()[2], tmp_path / "graph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_with_the_real_dot(tmp_path):
    m, loss = _rnnlm_loss(12)
    out = render(loss, tmp_path / "g.svg", m, edge_labels=True)
    assert "<svg" in out.read_text()
