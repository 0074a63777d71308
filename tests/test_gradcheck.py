"""gradcheck itself: it passes right gradients, and it catches and reports wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Function, GradcheckError, Tensor, gradcheck, gradgradcheck


class WrongSquare(Function):
    """A deliberately wrong VJP: x² with gradient x instead of 2x."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad):
        return (grad * self.saved[0],)


class Cube(Function):
    """x³ with the right VJP, written with shared operators so it can be differentiated again."""

    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, grad):
        (x,) = self.saved
        return (grad * 3 * x * x,)


def test_gradcheck_reports_input_element_and_both_values():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda t: WrongSquare.apply(t).sum(), [x])
    msg = str(err.value)
    assert "input 0 of shape (2, 2), element (1, 1)" in msg
    assert "analytic 4 vs numeric 8 " in msg


def test_gradcheck_uses_a_random_cotangent_for_non_scalar_outputs():
    x = Tensor(np.linspace(0.5, 2, 6).reshape(2, 3), requires_grad=True)
    assert gradcheck(lambda t: Cube.apply(t), [x])
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: WrongSquare.apply(t), [x])


def test_gradgradcheck_passes_for_a_custom_op_and_catches_a_wrong_one():
    x = Tensor(np.array([0.5, -1.5]), requires_grad=True)
    assert gradgradcheck(lambda t: Cube.apply(t), [x])

    class WrongSecond(Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x ** 3

        def backward(self, grad):  # right values, but 3x² taken as a constant
            (x,) = self.saved
            return (grad * (3 * np.asarray(x.data if isinstance(x, Tensor) else x) ** 2),)

    assert gradcheck(lambda t: WrongSecond.apply(t), [x])
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda t: WrongSecond.apply(t), [x])


def test_gradcheck_runs_in_float64_for_float32_inputs():
    x = Tensor(np.array([0.3, 0.7], np.float32), requires_grad=True)
    assert gradcheck(lambda t: (t * t).tanh(), [x])


def test_gradcheck_only_checks_inputs_that_require_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    assert gradcheck(lambda a, b: a * b, [x, c])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda a: a * 2, [c])


def test_gradcheck_treats_unused_inputs_as_zero_gradient():
    x = Tensor([1.0], requires_grad=True)
    y = Tensor([2.0], requires_grad=True)
    assert gradcheck(lambda a, b: a * 2, [x, y])


def test_custom_function_is_registered_only_when_asked():
    assert "wrongsquare" not in tg.REGISTRY
