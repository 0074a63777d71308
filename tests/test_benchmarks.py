"""The benchmarks run at tiny sizes, and every baseline trains exactly like the tape (or the timing is moot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_rnnlm  # noqa: E402
import rnn_baselines  # noqa: E402


def run(script, *args):
    proc = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_bench_ops_runs():
    out = run("bench_ops.py", "--ops", "40", "--size", "10", "--repeats", "2", "--long-chain", "2000")
    assert "µs per op" in out and "2,000-op chain" in out


def test_bench_anomaly_runs():
    out = run("bench_anomaly.py", "--ops", "20", "--repeats", "1", "--sentence", "3", "--steps", "1")
    assert "| chain of 20 ops, per op |" in out and "check_nan=False" in out and "on ÷ off" in out


def test_bench_recurrent_runs():
    out = run("bench_recurrent.py", "--repeats", "1", "--steps", "1", "--batch", "2", "--length", "3", "--vocabs", "7")
    assert "| gru | 7 | float32 | 1 |" in out and "| lstm | 7 | float64 | default |" in out


def test_bench_rnnlm_runs():
    out = run("bench_rnnlm.py", "--repeats", "1", "--sentences", "3", "--reference-sentences", "1", "--skip-long")
    assert "| tape RNNLM, full BPTT |" in out and "| hand-optimised numpy, no autodiff |" in out
    assert "tutorial truncation (k = 4) ÷ full BPTT" in out


def test_model_lines_quoted_in_the_docs_are_measured():
    import model_lines

    tape, gates = model_lines.model_code_lines()
    out = run("model_lines.py")
    assert f"| lines of model code | {gates} | {tape} |" in out
    doc = (Path(__file__).resolve().parents[1] / "docs" / "rnn_bptt.md").read_text()
    assert f"| lines of model code | {gates} | {tape} |" in doc


def trained(build, size):
    """U, V, W after one epoch of a builder, from the same small weights and sentences."""
    rng = np.random.default_rng(0)
    pairs = [(rng.integers(0, 40, n), rng.integers(0, 40, n)) for n in (5, 3, 7, 4)]
    weights = {n: p.data.copy() for n, p in bench_rnnlm.RNNLM(40, 6, seed=1).named_parameters()}
    epoch = build(weights, bench_rnnlm.batches(pairs, size), 0.1, np.float64)
    epoch()
    return {n: np.array(w) for n, w in epoch.weights().items()}


BUILDERS = {
    "numpy": lambda: rnn_baselines.numpy_epoch,
    "torch_loop": lambda: (pytest.importorskip("torch"), rnn_baselines.torch_loop_epoch)[1],
    "torch_rnn": lambda: (pytest.importorskip("torch"), rnn_baselines.torch_rnn_epoch)[1],
    "autograd": lambda: (pytest.importorskip("autograd"), rnn_baselines.autograd_epoch)[1],
}


CASES = [(name, size) for name in sorted(BUILDERS) for size in (1, 3) if not (name == "autograd" and size > 1)]


@pytest.mark.parametrize("baseline, size", CASES)  # the autograd baseline runs per sentence only
def test_baselines_train_exactly_like_the_tape(baseline, size):
    tape = trained(bench_rnnlm.tape_builder(None), size)
    other = trained(BUILDERS[baseline](), size)
    for name in ("U", "V", "W"):
        np.testing.assert_allclose(other[name], tape[name], rtol=1e-9, atol=1e-12, err_msg=name)


def test_bench_busy_runs():
    out = run("bench_busy.py", "--repeats", "1", "--sentences", "5")
    assert "| 1 thread (--threads 1, the default) |" in out and "busy ÷ quiet" in out
