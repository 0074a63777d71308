"""The hand-written gate version and the tape version: same loss, same gradients, same training."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import reference
from tinygrad_rnn.compare import gate_gradients, tape_gradients, transfer_weights
from tinygrad_rnn.models import RNNLM
from tinygrad_rnn.optim import SGD
from tinygrad_rnn.reference import GateRNN
from tinygrad_rnn.testing.strategies import seeds

import tutorial_bptt as tutorial


def twins(word_dim, hidden, k, seed):
    tape = RNNLM(word_dim, hidden, bptt_truncate=k, seed=seed)
    gate = GateRNN(word_dim, hidden, bptt_truncate=10**6 if k is None else k)
    transfer_weights(tape, gate)
    return tape, gate


def assert_close(a, b, rtol):
    scale = max(float(np.abs(b).max()), 1e-300)
    assert float(np.abs(a - b).max()) <= rtol * scale


@st.composite
def sentences_and_truncation(draw):
    steps = draw(st.integers(1, 8))
    return steps, draw(st.sampled_from([1, 2, 4, max(steps - 1, 0), steps, steps + 3, None]))  # None: full


@given(sentences_and_truncation(), seeds)
def test_same_loss_and_gradients_for_every_truncation(case, seed):
    steps, k = case
    rng = np.random.default_rng(seed)
    word_dim, hidden = int(rng.integers(3, 9)), int(rng.integers(2, 6))
    tape, gate = twins(word_dim, hidden, k, seed % 1000)
    x, y = rng.integers(0, word_dim, steps), rng.integers(0, word_dim, steps)
    loss_tape, g_tape = tape_gradients(tape, x, y)
    loss_gate, g_gate = gate_gradients(gate, x, y)
    assert loss_tape == pytest.approx(loss_gate, rel=1e-10)
    for name in ("U", "W", "V"):
        assert_close(g_tape[name], g_gate[name], 1e-10)


@given(seeds)
def test_gate_bptt_equals_the_literal_tutorial_transcription(seed):
    rng = np.random.default_rng(seed)
    gate = GateRNN(6, 4, bptt_truncate=2, seed=seed % 1000)
    x, y = rng.integers(0, 6, 7), rng.integers(0, 6, 7)
    dU, dW, dV = gate.bptt(x, y)
    want = tutorial.bptt(gate.U, gate.V, gate.W, x, y, 2)
    for got, expected in zip((dU, dV, dW), want):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("k", [1, 4, None])
def test_three_epochs_of_sgd_end_with_the_same_weights(k):
    rng = np.random.default_rng(7)
    tape, gate = twins(12, 5, k, seed=3)
    sentences = [(rng.integers(0, 12, n), rng.integers(0, 12, n)) for n in (3, 6, 2, 8, 5)]
    opt = SGD(tape.parameters(), lr=0.05)
    for _ in range(3):
        for x, y in sentences:
            gate.sgd_step(x, y, 0.05)
            opt.zero_grad()
            tape.loss(x, y, reduction="sum").backward()
            opt.step()
    for name in ("U", "W", "V"):
        assert_close(getattr(tape, name).data, getattr(gate, name), 1e-9)


def test_transfer_weights_both_ways_into_live_storage():
    tape = RNNLM(6, 3, seed=0)
    gate = GateRNN(6, 3, seed=1)
    storage = tape.U.data
    transfer_weights(gate, tape)
    assert tape.U.data is storage
    np.testing.assert_array_equal(tape.W.data, gate.W)
    gate.V[...] = 0
    transfer_weights(tape, gate)
    np.testing.assert_array_equal(gate.V, tape.V.data)
    with pytest.raises(ValueError, match="U is"):
        transfer_weights(GateRNN(7, 3), tape)


def test_gate_api_predict_losses_and_training_schedule():
    rng = np.random.default_rng(0)
    gate = GateRNN(10, 4, bptt_truncate=2, seed=0)
    X = [rng.integers(0, 10, n) for n in (4, 6, 5)]
    Y = [np.roll(x, -1) for x in X]
    assert len(gate.predict(X[0])) == 4
    per_sentence = [gate.calculate_loss(x, y) for x, y in zip(X, Y)]
    assert gate.calculate_total_loss(X, Y) == pytest.approx(np.mean(per_sentence))
    lines = []
    losses = gate.train(X, Y, learning_rate=0.1, nepoch=4, evaluate_loss_after=2, log=lines.append)
    assert [n for n, _ in losses] == [0, 6]
    assert losses[1][1] < losses[0][1]
    assert lines[0].startswith("Loss after num_examples_seen=0 epoch=0:")


def test_reference_does_not_import_the_tape():
    tree = ast.parse(Path(reference.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported == {"numpy", "__future__"}
