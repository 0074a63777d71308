"""Anomaly mode: the first NaN or inf, forward or backward, is reported at the user's line that made the op."""

from __future__ import annotations

import gc
import inspect
import sys

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, anomaly
from tinygrad_rnn.function import Function
from tinygrad_rnn.models import RNNLM

HERE = __file__


def _line() -> int:
    """The caller's line number: the line a test plants its fault on."""
    return inspect.currentframe().f_back.f_lineno


def _leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


class NaNBackward(Function):
    """y = 2x whose backward plants a NaN at position 1: a bug in a user's op."""

    def forward(self, x):
        return x * 2

    def backward(self, grad):
        out = grad * 2
        out[1] = np.nan
        return out


class FailingBackward(Function):
    def forward(self, x):
        return x * 1

    def backward(self, grad):
        raise ValueError("this VJP is broken")


def test_a_planted_log_of_zero_is_caught_in_forward_at_the_users_line():
    x = _leaf([1.0, 0.0, 2.0])
    with pytest.raises(tg.AnomalyError) as err, tg.detect_anomaly(), np.errstate(divide="ignore"):
        line = _line() + 1
        x.log()
    text = str(err.value)
    first = text.splitlines()[0]
    assert "the forward of log produced -inf at index (1,)" in first
    assert "output (3,) float64" in first and "inputs: (3,) float64" in first
    assert "its inputs were finite" in first
    assert f"created at {HERE}:{line}, in test_a_planted_log_of_zero" in first
    assert "x.log()" in text  # the forward's traceback shows the code


def test_a_planted_nan_in_a_custom_backward_is_caught_with_the_line_that_made_the_op():
    x = _leaf([1.0, 2.0, 3.0])
    with tg.detect_anomaly():
        line = _line() + 1
        y = NaNBackward.apply(x)
        loss = (y * y).sum()
        with pytest.raises(tg.AnomalyError) as err:
            loss.backward()
    first = str(err.value).splitlines()[0]
    assert "the backward of nanbackward returned nan at index (1,) of the gradient for input 0" in first
    assert "gradient (3,) float64" in first and "the op's inputs: (3,) float64" in first
    assert f"created at {HERE}:{line}" in first
    assert x.grad is None  # nothing reached the leaf


def test_a_builtin_backward_that_overflows_is_named():
    x = _leaf([4.0, 0.0])
    with tg.detect_anomaly(), np.errstate(divide="ignore"), \
            pytest.raises(tg.AnomalyError, match=r"backward of sqrt returned inf at index \(1,\)"):
        x.sqrt().sum().backward()


def test_the_users_line_is_found_through_a_models_internals():
    model = RNNLM(5, 3, seed=0)
    model.V.data[2, 0] = np.inf  # a diverged weight: the output layer's result is not finite
    with pytest.raises(tg.AnomalyError) as err, tg.detect_anomaly(), np.errstate(invalid="ignore"):
        line = _line() + 1
        model.loss([0, 1, 2], [1, 2, 3])
    first = str(err.value).splitlines()[0]
    assert "input 1 already held NaN or inf" in first
    assert f"created at {HERE}:{line}" in first
    assert "models.py" in str(err.value)  # the traceback goes on into the model


def test_outside_the_block_nothing_is_checked_and_apply_is_the_plain_one():
    plain = Function.__dict__["apply"]
    assert not tg.is_anomaly_enabled()
    with np.errstate(divide="ignore"):
        y = _leaf([0.0]).log()  # -inf, unchecked
    assert np.isneginf(y.data).all()
    with pytest.raises(tg.AnomalyError), tg.detect_anomaly(), np.errstate(divide="ignore"):
        assert tg.is_anomaly_enabled()
        _leaf([0.0]).log()
    assert not tg.is_anomaly_enabled()
    assert Function.__dict__["apply"] is plain  # restored, even after the error


def test_nesting_and_set_detect_anomaly_restore_the_previous_mode():
    with tg.detect_anomaly():
        with tg.detect_anomaly(check_nan=False):
            assert tg.is_anomaly_enabled() and not anomaly.check_nan
        assert anomaly.check_nan
        with tg.set_detect_anomaly(False):
            assert not tg.is_anomaly_enabled()
        assert tg.is_anomaly_enabled()
    tg.set_detect_anomaly(True)
    try:
        assert tg.is_anomaly_enabled()
    finally:
        tg.set_detect_anomaly(False)
    assert not tg.is_anomaly_enabled() and Function.__dict__["apply"] is anomaly._plain_apply


def test_as_a_decorator():
    @tg.detect_anomaly()
    def f(x):
        return x.log()

    with np.errstate(divide="ignore"), pytest.raises(tg.AnomalyError):
        f(_leaf([0.0]))
    assert not tg.is_anomaly_enabled()


def test_check_nan_false_records_only_and_annotates_errors_raised_in_a_backward():
    x = _leaf([1.0, 2.0])
    with tg.detect_anomaly(check_nan=False), np.errstate(divide="ignore"):
        _leaf([0.0]).log()  # not checked
        line = _line() + 1
        y = FailingBackward.apply(x)
        with pytest.raises(ValueError, match="this VJP is broken") as err:
            y.sum().backward()
    if sys.version_info >= (3, 11):
        notes = "\n".join(err.value.__notes__)
        assert "raised in the backward of failingbackward" in notes
        assert f'File "{HERE}", line {line}' in notes


def test_a_graph_recorded_outside_the_block_says_its_origin_is_unknown():
    x = _leaf([1.0, 2.0, 3.0])
    loss = NaNBackward.apply(x).sum()
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match="recorded outside detect_anomaly"):
        loss.backward()


def test_a_nan_gradient_passed_to_backward_is_named():
    y = _leaf([1.0, 2.0]) * 3
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError, match="the gradient reaching mul holds nan"):
        y.backward(np.array([1.0, np.nan]))


def test_second_order_gradients_are_checked_too():
    """Under create_graph the VJP is itself recorded: its first non-finite op is caught as it runs."""
    x = _leaf([4.0, 0.0])
    with tg.detect_anomaly():
        (g,) = tg.grad((x * x).sum(), x, create_graph=True)
        with pytest.raises(tg.AnomalyError, match="produced inf") as err, np.errstate(divide="ignore"):
            tg.grad(x.sqrt().sum(), x, create_graph=True)
    assert "in backward" in str(err.value)  # the traceback runs through sqrt's VJP
    np.testing.assert_array_equal(g.data, [8.0, 0.0])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_the_watched_apply_gives_the_same_losses_and_gradients(cell):
    """Anomaly mode is a second path through every op: on a finite model it changes nothing."""
    x, y = np.array([0, 3, 1, 4, 2]), np.array([3, 1, 4, 2, 0])

    def run():
        model = RNNLM(6, 4, bptt_truncate=2, cell=cell, seed=1)
        loss = model.loss(x, y, reduction="sum")
        loss.backward()
        return loss.item(), {n: p.grad.copy() for n, p in model.named_parameters()}

    plain_loss, plain = run()
    with tg.detect_anomaly():
        loss, watched = run()
    assert loss == plain_loss
    for name in plain:
        np.testing.assert_array_equal(watched[name], plain[name])


def test_the_records_go_with_the_graph():
    gc.collect()
    before = len(anomaly._records)
    with tg.detect_anomaly():
        x = _leaf([1.0, 2.0])
        loss = (x * x).sum()
        assert len(anomaly._records) == before + 2
        loss.backward()
    del loss
    gc.collect()
    assert len(anomaly._records) == before


def test_an_error_in_a_leafs_hook_is_not_blamed_on_an_op():
    x = _leaf([1.0, 2.0])

    def hook(g):
        raise ValueError("a broken hook")

    x.register_hook(hook)
    with tg.detect_anomaly(check_nan=False), pytest.raises(ValueError, match="a broken hook") as err:
        (x * 2).exp().sum().backward()
    assert not any("detect_anomaly" in n for n in getattr(err.value, "__notes__", ()))
