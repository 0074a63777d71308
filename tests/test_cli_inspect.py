"""``tinygrad-rnn inspect`` and ``tinygrad-rnn graph``: tables, pictures and one-line errors."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_rnn import cli
from tinygrad_rnn.train import TrainConfig, fit

FIXTURE = str(Path(__file__).parent / "fixtures" / "comments.csv")


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tinygrad_rnn", *args], capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr
    for f in fragments:
        assert f in lines[-1], lines[-1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny trained runs: the tutorial's model (truncation 2) and a 2-layer GRU."""
    base = tmp_path_factory.mktemp("runs")
    out = {}
    for name, options in {"rnn": {}, "gru": {"cell": "gru", "layers": 2, "optimizer": "adam"}}.items():
        config = TrainConfig(data=FIXTURE, vocab_size=60, hidden=8, epochs=1, bptt_truncate=2, **options)
        fit(config, base / name, progress=False, log=lambda line: None)
        out[name] = base / name
    return out


def test_inspect_prints_the_flow_by_distance_and_agrees_with_the_gate_version(runs, capsys):
    assert cli.main(["inspect", "--checkpoint", str(runs["rnn"]), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "the tutorial's RNN, hidden 8, bptt_truncate 2, float64; training sentence" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [int(r.split("|")[1]) for r in rows] == [0, 1, 2]  # nothing past the truncation
    assert "tape and hand-written gates: the same (largest relative difference" in out


def test_inspect_with_full_bptt_and_a_text_shows_every_distance(runs, capsys):
    text = "the gradient of a vanilla network fades as it goes back through many steps of time"
    assert cli.main(["inspect", "--checkpoint", str(runs["rnn"]), "--no-plot", "--bptt-truncate", "full",
                     "--text", text, "--steps", "6"]) == 0
    out = capsys.readouterr().out
    assert "full BPTT, float64; the sentence of --text, 6 steps" in out
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [int(r.split("|")[1]) for r in rows] == list(range(6))


def test_inspect_of_a_gru_has_no_gate_version(runs, capsys):
    assert cli.main(["inspect", "--checkpoint", str(runs["gru"]), "--no-plot", "--sentence", "1"]) == 0
    out = capsys.readouterr().out
    assert "GRU × 2 layers" in out and "training sentence 1" in out
    assert "hand-written gates" not in out


def test_inspect_writes_the_plot(runs, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "flow.png"
    assert cli.main(["inspect", "--checkpoint", str(runs["rnn"]), "--output", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert f"wrote {out}" in capsys.readouterr().out


def test_inspect_without_matplotlib_says_how_to_install_it(runs, tmp_path):
    if importlib.util.find_spec("matplotlib") is not None:
        pytest.skip("matplotlib is installed")
    assert_one_line_error(run_cli("inspect", "--checkpoint", str(runs["rnn"])), "pip install 'tinygrad_rnn[plot]'")


def test_inspect_refuses_bad_requests_in_one_line(runs, tmp_path):
    assert_one_line_error(run_cli("inspect", "--checkpoint", str(runs["rnn"]), "--sentence", "999", "--no-plot"),
                          "--sentence 999: the run has")
    assert_one_line_error(run_cli("inspect", "--checkpoint", str(runs["rnn"]), "--text", "no", "--no-plot"),
                          "--text: no sentence")
    assert_one_line_error(run_cli("inspect", "--checkpoint", str(tmp_path / "nothing"), "--no-plot"),
                          str(tmp_path / "nothing"))
    broken = tmp_path / "broken"
    shutil.copytree(runs["rnn"], broken)
    (broken / "tokens.npz").write_bytes(b"not an npz")
    assert_one_line_error(run_cli("inspect", "--checkpoint", str(broken), "--no-plot"),
                          "tokens.npz", "pass --text")


def test_graph_writes_dot_text_without_graphviz(tmp_path, capsys):
    out = tmp_path / "graph.dot"
    assert cli.main(["graph", "--output", str(out), "--vocab-size", "30", "--hidden", "4", "--steps", "3",
                     "--bptt-truncate", "full"]) == 0
    text = out.read_text()
    assert text.startswith("digraph")
    assert 'label="W\\n(4, 4)"' in text and 'label="linear·tanh\\n(1, 4)"' in text
    assert f"wrote {out}" in capsys.readouterr().out


def test_graph_of_a_checkpoint_and_its_option_clash(runs, tmp_path):
    out = tmp_path / "g.dot"
    assert cli.main(["graph", "--checkpoint", str(runs["gru"]), "-o", str(out), "--steps", "3"]) == 0
    assert "rnn.weight_hh_l0" in out.read_text()
    assert_one_line_error(run_cli("graph", "--checkpoint", str(runs["gru"]), "-o", str(out), "--hidden", "5"),
                          "--hidden describes a new model")


def test_graph_without_graphviz_says_how_to_get_it(tmp_path):
    env_path = tmp_path / "bin"
    env_path.mkdir()
    proc = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "graph", "-o", str(tmp_path / "g.svg"),
                           "--vocab-size", "30", "--hidden", "4"], capture_output=True, text=True, timeout=120,
                          env={"PATH": str(env_path)})
    assert_one_line_error(proc, "dot", "graphviz")
    assert not (tmp_path / "g.svg").exists()


def test_graph_svg_with_graphviz(tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed")
    out = tmp_path / "g.svg"
    assert run_cli("graph", "-o", str(out), "--vocab-size", "30", "--hidden", "4").returncode == 0
    assert "<svg" in out.read_text()


def test_the_flow_table_matches_the_library(runs, capsys):
    """The printed medians are those of gradient_flow on the same sentence."""
    from tinygrad_rnn.train import load_model
    from tinygrad_rnn.viz.flow import by_distance, gradient_flow

    assert cli.main(["inspect", "--checkpoint", str(runs["rnn"]), "--no-plot", "--sentence", "0"]) == 0
    out = capsys.readouterr().out
    model, _, _ = load_model(runs["rnn"])
    from tinygrad_rnn import checkpoint, corpus

    arrays = checkpoint.read_npz(runs["rnn"] / "tokens.npz")
    x, y = corpus.TokenPairs(arrays["ids"], arrays["offsets"])[0]
    medians = [float(np.median(p)) for p in by_distance(gradient_flow(model, x[:40], y[:40]))[:3]]
    rows = [line for line in out.splitlines() if line.startswith("| ") and line[2].isdigit()]
    for row, median in zip(rows, medians):
        assert row.split("|")[2].strip() == f"{median:.3e}"


def test_inspect_of_a_float32_run_checks_in_float64(tmp_path, capsys):
    config = TrainConfig(data=FIXTURE, vocab_size=60, hidden=8, epochs=1, bptt_truncate=2, dtype="float32")
    fit(config, tmp_path / "r32", progress=False, log=lambda line: None)
    assert cli.main(["inspect", "--checkpoint", str(tmp_path / "r32"), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "float64" in out and "tape and hand-written gates: the same" in out


def test_inspect_says_when_there_is_no_gate_version_and_refuses_clashing_options(runs, tmp_path, capsys):
    assert cli.main(["inspect", "--checkpoint", str(runs["gru"]), "--no-plot"]) == 0
    assert "no hand-written gate version of the GRU × 2 layers" in capsys.readouterr().out
    assert_one_line_error(run_cli("inspect", "--checkpoint", str(runs["rnn"]), "--output", str(tmp_path / "x.svg")),
                          "the plot is a PNG")
    assert_one_line_error(run_cli("inspect", "--checkpoint", str(runs["rnn"]), "--no-plot", "--sentence", "1",
                                  "--text", "one two three four five"), "--text and --sentence")


def test_graph_refuses_bad_outputs_and_oversized_graphs_in_one_line(tmp_path):
    assert_one_line_error(run_cli("graph", "-o", str(tmp_path / "g.txt")), "g.txt", ".svg")
    assert_one_line_error(run_cli("graph", "-o", str(tmp_path)), "name a file ending in")
    assert_one_line_error(run_cli("graph", "-o", str(tmp_path / "g.dot"), "--vocab-size", "30", "--hidden", "4",
                                  "--steps", "1000", "--collapse", "none"), "more than max_nodes", "--collapse all")
    assert_one_line_error(run_cli("graph", "-o", str(tmp_path / "g.dot"), "--steps", "1001"), "at most 1000")


def test_a_failing_dot_is_one_line(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "dot").write_text("#!/bin/sh\necho 'Error: syntax error in line 1' >&2\nexit 1\n")
    (fake / "dot").chmod(0o755)
    proc = subprocess.run([sys.executable, "-m", "tinygrad_rnn", "graph", "-o", str(tmp_path / "g.svg"),
                           "--vocab-size", "30", "--hidden", "4"], capture_output=True, text=True, timeout=120,
                          env={"PATH": f"{fake}:/usr/bin:/bin"})
    assert_one_line_error(proc, "dot failed", "syntax error")


def test_a_damaged_gradient_log_does_not_keep_good_weights_from_generate(runs, tmp_path):
    import json

    damaged = tmp_path / "damaged"
    shutil.copytree(runs["rnn"], damaged)
    manifest = damaged / "checkpoint.json"
    meta = json.loads(manifest.read_text())
    meta["grad_history"] = "garbage"
    manifest.write_text(json.dumps(meta))
    assert run_cli("generate", "--checkpoint", str(damaged), "-n", "1", "--seed", "0").returncode == 0
    assert_one_line_error(run_cli("train", "--resume", str(damaged), "--epochs", "2", "--no-progress"),
                          "'grad_history'")
