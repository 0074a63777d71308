"""gradcheck itself: it passes right gradients, catches wrong ones, and cannot pass vacuously."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Function, GradcheckError, Tensor, gradcheck, gradcheck_model, gradgradcheck
from tinygrad_rnn.models import RNNLM
from tinygrad_rnn.nn import Linear


class WrongSquare(Function):
    """A deliberately wrong VJP: x² with gradient x instead of 2x."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad, x):
        return (grad * x,)


class Cube(Function):
    """x³ with the right VJP, written with shared operators so it can be differentiated again."""

    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, grad, x):
        return (grad * 3 * x * x,)


def test_gradcheck_reports_input_element_and_both_values():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda t: WrongSquare.apply(t).sum(), [x])
    msg = str(err.value)
    assert "input 0 of shape (2, 2), element (1, 1)" in msg
    assert "analytic 4 vs numeric 8" in msg


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

        def backward(self, grad, x):  # right values, but 3x² taken as a constant
            return (grad * (3 * np.asarray(x) ** 2),)

    assert gradcheck(lambda t: WrongSecond.apply(t), [x])
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda t: WrongSecond.apply(t), [x])


def test_gradcheck_runs_in_float64_for_float32_inputs_and_gives_them_back():
    data = np.array([0.3, 0.7], np.float32)
    x = Tensor(data, requires_grad=True)
    assert gradcheck(lambda t: (t * t).tanh(), [x])
    assert x.data is data and x.dtype == np.float32  # the same array, untouched
    np.testing.assert_array_equal(data, np.array([0.3, 0.7], np.float32))


def test_gradcheck_only_checks_inputs_that_require_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    assert gradcheck(lambda a, b: a * b, [x, c])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda a: a * 2, [c])


def test_gradcheck_reports_an_input_the_output_does_not_depend_on():
    x = Tensor([1.0], requires_grad=True)
    y = Tensor([2.0], requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 1 of shape \(1,\) does not affect the output"):
        gradcheck(lambda a, b: a * 2, [x, y])
    assert gradcheck(lambda a, b: a * 2, [x, y], allow_unused=True)  # then compared with zero


def test_gradcheck_of_a_closure_over_a_model_checks_the_model():
    """The PyTorch habit: fn ignores its arguments and reads the model's parameters."""
    model = RNNLM(6, 3, seed=0)
    x, y = np.array([0, 3, 1, 4]), np.array([3, 1, 4, 2])
    params = list(model.parameters())
    before = [p.data for p in params]
    copies = [p.data.copy() for p in params]
    assert gradcheck(lambda *_: model.loss(x, y), params)
    assert all(p.data is b for p, b in zip(params, before))  # the same arrays put back
    for p, c in zip(params, copies):
        np.testing.assert_array_equal(p.data, c)  # bit for bit

    class BrokenLM(RNNLM):
        def loss(self, x, y):  # V's gradient scaled wrongly by a stop-gradient factor
            out = super().loss(x, y)
            return out + (self.V * Tensor(self.V.data)).sum() * 0.5

    broken = BrokenLM(6, 3, seed=0)
    with pytest.raises(GradcheckError, match=r"input 1 of shape \(6, 3\)"):
        gradcheck(lambda *_: broken.loss(x, y), list(broken.parameters()))


def test_gradcheck_of_a_closure_over_tensors_that_are_not_the_inputs_is_refused():
    w = Tensor(np.ones(3), requires_grad=True)
    stranger = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(GradcheckError, match="does not affect the output"):
        gradcheck(lambda *_: (w * 2).sum(), [stranger])


def test_fast_mode_checks_a_random_direction_and_catches_a_wrong_gradient():
    x = Tensor(np.linspace(0.5, 2, 50).reshape(5, 10), requires_grad=True)
    assert gradcheck(lambda t: Cube.apply(t), [x], fast=True)
    assert gradgradcheck(lambda t: Cube.apply(t), [x], fast=True)
    with pytest.raises(GradcheckError, match="a random direction"):
        gradcheck(lambda t: WrongSquare.apply(t), [x], fast=True)


def test_gradcheck_model_checks_every_parameter_by_name():
    model = RNNLM(40, 8, seed=1)  # full BPTT: truncation is not the derivative of the loss
    x, y = np.array([0, 5, 9, 3, 7, 2]), np.array([5, 9, 3, 7, 2, 1])
    assert gradcheck_model(model, lambda: model.loss(x, y))
    assert gradcheck_model(model, lambda: model.loss(x, y), fast=False)

    layer = Linear(3, 2, seed=0)
    inputs = Tensor(np.array([[1.0, -2.0, 0.5]]))

    def wrong_loss():  # the bias enters through a constant copy: its gradient is lost
        return (inputs @ layer.weight.T + Tensor(layer.bias.data)).tanh().sum() + (layer.bias * 0).sum()

    with pytest.raises(GradcheckError, match=r"bias of shape \(2,\)"):
        gradcheck_model(layer, wrong_loss)


def test_default_tolerances_are_tight():
    """A gradient off by one part in 1e5 is caught (the old 1e-3 tolerance let it through)."""

    class SlightlyOff(Function):
        def forward(self, x):
            self.save_for_backward(x)
            return np.sin(x)

        def backward(self, grad, x):
            return (grad * np.cos(x) * (1 + 1e-5),)

    x = Tensor(np.array([0.3, 1.1, -0.7]), requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(SlightlyOff.apply, [x])


def test_eps_must_be_positive():
    with pytest.raises(ValueError, match="eps must be positive"):
        gradcheck(lambda t: t * 2, [Tensor([1.0], requires_grad=True)], eps=0)


def test_custom_function_is_registered_only_when_asked():
    assert "wrongsquare" not in tg.REGISTRY


def test_a_large_output_does_not_fail_a_right_gradient():
    """The rounding of a big objective (u * sum |terms| / eps) is allowed on top of the tolerances."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.uniform(100, 200, 200), requires_grad=True)
    assert gradcheck(lambda t: (t * t).sum(), [x])
    model = RNNLM(200, 16, seed=0)
    xs, ys = rng.integers(0, 200, (32, 100)), rng.integers(0, 200, (32, 100))
    assert gradcheck_model(model, lambda: model.loss(xs, ys, reduction="sum"))
