"""Optimizers against their formulas, clipping, and the tutorial's lr-halving schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_rnn import gradients
from tinygrad_rnn.nn import Parameter
from tinygrad_rnn.optim import SGD, Adam, HalveOnIncrease, clip_grad_norm_


def param(values, grad):
    p = Parameter(np.array(values, dtype=float))
    p.grad = np.array(grad, dtype=float)
    return p


def test_sgd_step_in_place():
    p = param([1.0, 2.0], [0.5, -1.0])
    storage = p.data
    SGD([p], lr=0.1).step()
    assert p.data is storage
    np.testing.assert_allclose(p.data, [0.95, 2.1])


def test_sgd_momentum_and_weight_decay():
    p = param([1.0], [1.0])
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    opt.step()  # g = 1 + 0.5 = 1.5; v = 1.5
    np.testing.assert_allclose(p.data, [1 - 0.15])
    p.grad = np.array([1.0])
    opt.step()  # g = 1 + 0.5 * 0.85; v = 0.9 * 1.5 + g
    np.testing.assert_allclose(p.data, [0.85 - 0.1 * (0.9 * 1.5 + 1 + 0.425)])


def test_sgd_skips_parameters_without_gradient():
    p = param([1.0], [0.0])
    p.grad = None
    SGD([p], lr=1.0).step()
    assert p.data[0] == 1.0


def test_adam_matches_its_formula():
    p = param([1.0, -2.0], [0.3, 0.1])
    opt = Adam([p], lr=0.01)
    m = v = np.zeros(2)
    x = p.data.copy()
    for t in range(1, 4):
        g = np.array([0.3, 0.1]) * t
        p.grad = g.copy()
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        x = x - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(p.data, x, rtol=1e-12)


def test_optimizer_state_round_trip_is_exact():
    p, q = param([1.0, 2.0], [0.1, 0.2]), param([1.0, 2.0], [0.1, 0.2])
    a, b = Adam([p], lr=0.1), Adam([q], lr=0.1)
    a.step()
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    q.data[...] = p.data
    p.grad = q.grad = np.array([0.3, -0.4])
    a.step()
    b.step()
    np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(KeyError, match="expected"):
        b.load_state_dict({})


def test_clip_grad_norm_scales_and_returns_the_norm():
    a, b = param([0.0], [3.0]), param([0.0, 0.0], [0.0, 4.0])
    assert clip_grad_norm_([a, b], 1.0) == pytest.approx(5.0)
    total = math.sqrt(float(a.grad @ a.grad + b.grad @ b.grad))
    assert total == pytest.approx(1.0)
    assert clip_grad_norm_([a, b], 10.0) == pytest.approx(1.0)  # below the limit: untouched
    assert total == pytest.approx(math.sqrt(float(a.grad @ a.grad + b.grad @ b.grad)))


def test_halve_on_increase_follows_the_tutorial():
    opt = SGD([param([0.0], [0.0])], lr=0.005)
    sched = HalveOnIncrease(opt, every=2)
    assert [sched.due(e) for e in range(4)] == [True, False, True, False]
    assert not sched.record(8.9)
    assert not sched.record(8.5)
    assert sched.record(8.6) and opt.lr == 0.0025
    assert not sched.record(8.6)  # equal is not a rise
    assert sched.history == [8.9, 8.5, 8.6, 8.6]


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="lr must be positive"):
        SGD([param([0.0], [0.0])], lr=0)
    with pytest.raises(ValueError, match="no parameters"):
        Adam([])


def test_sgd_applies_a_lookup_gradient_to_the_looked_up_entries_only():
    from tinygrad_rnn.models import RNNLM

    x, y = np.array([1, 4, 4, 2]), np.array([4, 4, 2, 0])
    sparse, dense = RNNLM(6, 3, bptt_truncate=2, seed=0), RNNLM(6, 3, bptt_truncate=2, seed=0)
    for model, densify in ((sparse, False), (dense, True)):
        model.loss(x, y, reduction="sum").backward()
        if densify:
            assert model.U.grad is not None  # reading .grad makes it dense: the plain update runs
        else:
            assert isinstance(gradients.peek(model.U), gradients.IndexedGrad)
        SGD(model.parameters(), lr=0.1).step()
    np.testing.assert_allclose(sparse.U.data, dense.U.data, rtol=1e-15, atol=1e-15)
    np.testing.assert_array_equal(sparse.U.data[:, [0, 3, 5]], RNNLM(6, 3, seed=0).U.data[:, [0, 3, 5]])
