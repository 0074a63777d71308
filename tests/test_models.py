"""RNNLM: the tutorial's loss and truncated gradients exactly, padding that adds nothing, live storage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_rnn import Tensor, gradcheck
from tinygrad_rnn.models import RNNLM
from tinygrad_rnn.testing.strategies import seeds

import tutorial_bptt as tutorial


def grads_of(model, x, y, mask=None, reduction="sum"):
    model.zero_grad()
    loss = model.loss(x, y, mask, reduction=reduction)
    loss.backward()
    # with one step W meets only the zero initial state and gets no gradient at all: count it as zeros
    params = (model.U, model.V, model.W)
    return loss.item(), [np.zeros_like(p.data) if p.grad is None else p.grad.copy() for p in params]


@given(steps=st.integers(1, 9), k=st.one_of(st.none(), st.integers(0, 10)), seed=seeds)
def test_gradients_equal_the_tutorials_truncated_bptt(steps, k, seed):
    rng = np.random.default_rng(seed)
    model = RNNLM(6, 4, bptt_truncate=k, seed=seed % 1000)
    x, y = rng.integers(0, 6, steps), rng.integers(0, 6, steps)
    loss, got = grads_of(model, x, y)
    want = tutorial.bptt(model.U.data, model.V.data, model.W.data, x, y, steps if k is None else k)
    assert loss == pytest.approx(tutorial.loss_sum(model.U.data, model.V.data, model.W.data, x, y), rel=1e-12)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@given(steps=st.integers(1, 6), seed=seeds)
def test_full_bptt_gradient_matches_finite_differences(steps, seed):
    rng = np.random.default_rng(seed)
    model = RNNLM(5, 3, seed=seed % 1000)
    x, y = rng.integers(0, 5, steps), rng.integers(0, 5, steps)
    # closes over the model: gradcheck perturbs the parameters themselves; W is unused for one step
    assert gradcheck(lambda *_: model.loss(x, y), [model.U, model.V, model.W], allow_unused=steps == 1)


@given(steps=st.integers(2, 7), extra=st.integers(0, 3), seed=seeds)
def test_truncation_of_t_minus_1_or_more_is_full_bptt(steps, extra, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, 5, steps), rng.integers(0, 5, steps)
    full = grads_of(RNNLM(5, 3, None, seed=1), x, y)[1]
    cut = grads_of(RNNLM(5, 3, steps - 1 + extra, seed=1), x, y)[1]
    for a, b in zip(full, cut):
        np.testing.assert_array_equal(a, b)


@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4), k=st.sampled_from([None, 0, 1, 3]),
       seed=seeds)
def test_padded_batch_gradient_is_the_sum_of_per_sentence_gradients(lengths, k, seed):
    rng = np.random.default_rng(seed)
    model = RNNLM(7, 4, bptt_truncate=k, seed=seed % 1000)
    sentences = [(rng.integers(0, 7, n), rng.integers(0, 7, n)) for n in lengths]
    steps = max(lengths)
    x = rng.integers(0, 7, (len(lengths), steps))  # padding filled with arbitrary valid ids
    y = rng.integers(0, 7, (len(lengths), steps))
    mask = np.zeros_like(x, bool)
    for i, (sx, sy) in enumerate(sentences):
        x[i, : len(sx)], y[i, : len(sy)], mask[i, : len(sx)] = sx, sy, True
    total, batch_grads = grads_of(model, x, y, mask, "sum")
    singles = [grads_of(model, sx, sy) for sx, sy in sentences]
    assert total == pytest.approx(sum(s[0] for s in singles), rel=1e-12)
    for j in range(3):
        np.testing.assert_allclose(batch_grads[j], sum(s[1][j] for s in singles), rtol=1e-10, atol=1e-12)
    mean, mean_grads = grads_of(model, x, y, mask, "mean")
    assert mean == pytest.approx(total / mask.sum(), rel=1e-12)
    np.testing.assert_allclose(mean_grads[1], batch_grads[1] / mask.sum(), rtol=1e-10, atol=1e-14)


def test_padding_contributes_neither_loss_nor_gradient():
    model = RNNLM(6, 3, bptt_truncate=2, seed=0)
    x = np.array([[1, 2, 3, 0, 0]])
    y = np.array([[2, 3, 4, 0, 0]])
    mask = np.array([[True, True, True, False, False]])
    a = grads_of(model, x, y, mask)
    b = grads_of(model, np.array([[1, 2, 3, 5, 4]]), np.array([[2, 3, 4, 1, 1]]), mask)
    assert a[0] == b[0]
    for ga, gb in zip(a[1], b[1]):
        np.testing.assert_array_equal(ga, gb)


def test_forward_shapes_and_the_mean_loss_normalisation():
    model = RNNLM(8, 4, seed=0)
    assert model.forward(np.array([1, 2, 3])).shape == (3, 8)
    assert model.forward(np.array([[1, 2, 3], [4, 5, 6]])).shape == (2, 3, 8)
    x, y = np.array([1, 2, 3]), np.array([2, 3, 4])
    assert model.loss(x, y).item() == pytest.approx(model.loss(x, y, reduction="sum").item() / 3)
    assert model.loss(x, y).item() == pytest.approx(np.log(8), abs=0.3)  # near uniform at the start


def test_parameters_are_named_and_shaped_like_the_tutorial():
    model = RNNLM(10, 4, seed=0)
    shapes = {n: p.shape for n, p in model.named_parameters()}
    assert shapes == {"U": (4, 10), "V": (10, 4), "W": (4, 4)}
    assert np.abs(model.U.data).max() <= 1 / np.sqrt(10)
    assert np.abs(model.W.data).max() <= 1 / np.sqrt(4)


def test_writing_u_data_changes_the_model():
    model = RNNLM(5, 3, seed=0)
    x = np.array([1, 2])
    before = model.forward(x).data.copy()
    model.U.data[...] = 0.0
    model.W.data[...] = 0.0
    np.testing.assert_allclose(model.forward(x).data, 0.0)  # zero states give zero logits
    assert not np.allclose(before, 0.0)


def test_bad_token_ids_raise_index_error_naming_id_and_size():
    model = RNNLM(5, 3)
    with pytest.raises(IndexError, match="token id 7 is out of range for a vocabulary of size 5"):
        model.loss(np.array([1, 7]), np.array([1, 2]))
    with pytest.raises(IndexError, match="token id -1 is out of range"):
        model.forward(np.array([-1]))
    with pytest.raises(ValueError, match="x of shape"):
        model.loss(np.array([1, 2]), np.array([1, 2, 3]))


def test_float32_model_stays_float32():
    model = RNNLM(6, 3, bptt_truncate=1, dtype=np.float32, seed=0)
    loss = model.loss(np.array([1, 2, 3]), np.array([2, 3, 4]), reduction="sum")
    assert loss.dtype == np.float32
    loss.backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())


def test_stream_carries_the_state_detached_between_chunks():
    model = RNNLM(6, 3, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 6, 7), rng.integers(0, 6, 7)
    total, tokens = 0.0, 0
    for loss, n in model.stream(x, y, chunk=3):
        loss.backward()
        total, tokens = total + loss.item(), tokens + n
    assert tokens == 7
    assert total == pytest.approx(model.loss(x, y, reduction="sum").item(), rel=1e-12)
    # the same as running each chunk on its own from the (constant) state the previous chunks reached
    with_stream = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    h = None
    for start in range(0, 7, 3):
        chunk_loss, _ = next(model.stream(x[start:start + 3], y[start:start + 3], chunk=3, h0=h))
        chunk_loss.backward()
        h = Tensor(_state_after(model, x[: start + 3]))
    for a, p in zip(with_stream, model.parameters()):
        np.testing.assert_allclose(a, p.grad, rtol=1e-12)


def _state_after(model, x):
    """The hidden state (1, H) after reading x, computed step by step without the tape."""
    h = None
    for t in x:
        _, h = model.step(np.array([t]), h)
    return h
