"""Activations: forward against float64 references written from their definitions, gradients and second
derivatives against finite differences, one node each, stability at ±1e4 in float32, float32 kept,
option errors, and PyTorch's values and derivatives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import Tensor
from tinygrad_rnn.testing.strategies import inputs_for, seeds, shapes

from sweep import check, covers

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
_erf = np.vectorize(math.erf, otypes=[np.float64])


def _softplus(x, beta, threshold):
    return np.where(beta * x > threshold, x, np.log(1 + np.exp(beta * x)) / beta)


def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _elu(x, alpha):
    return np.where(x > 0, x, alpha * (np.exp(x) - 1))


# name -> (domain, options strategy, ours(x, **options), reference(x, **options))
ACTIVATIONS = {
    # (β, threshold) with the switch to the linear branch at x = 20 or x = 1, which "clip" keeps away from
    "softplus": ("clip", st.sampled_from([(1.0, 20.0), (2.0, 2.0), (0.5, 0.5)]),
                 lambda x, o: F.softplus(x, beta=o[0], threshold=o[1]), lambda x, o: _softplus(x, *o)),
    "gelu": ("any", st.sampled_from(["none", "tanh"]), lambda x, o: F.gelu(x, approximate=o),
             lambda x, o: x * 0.5 * (1 + _erf(x / math.sqrt(2))) if o == "none" else _gelu_tanh(x)),
    "silu": ("any", st.none(), lambda x, o: F.silu(x), lambda x, o: x / (1 + np.exp(-x))),
    "leaky_relu": ("kink0", st.sampled_from([0.01, 0.2, -0.5, 1.5]), lambda x, o: F.leaky_relu(x, o),
                   lambda x, o: np.where(x > 0, x, o * x)),
    "elu": ("kink0", st.sampled_from([1.0, 0.5, 2.0]), lambda x, o: F.elu(x, alpha=o), _elu),
    "selu": ("kink0", st.none(), lambda x, o: F.selu(x), lambda x, o: SELU_SCALE * _elu(x, SELU_ALPHA)),
    # shifted so that the bounds stay where "clip" keeps x away from them (x = ±1)
    "hardtanh": ("clip", st.sampled_from([0.0, 0.5, -3.0]), lambda x, o: F.hardtanh(x + o, o - 1.0, o + 1.0),
                 lambda x, o: np.clip(x + o, o - 1.0, o + 1.0)),
    "softsign": ("kink0", st.none(), lambda x, o: F.softsign(x), lambda x, o: x / (1 + np.abs(x))),
    "logsigmoid": ("any", st.none(), lambda x, o: F.logsigmoid(x), lambda x, o: -np.log(1 + np.exp(-x))),
}
# name -> (Tensor method call, functional call): the same function two ways, at default options
DEFAULTS = {
    "softplus": (lambda t: t.softplus(), F.softplus),
    "gelu": (lambda t: t.gelu(), F.gelu),
    "gelu_tanh": (lambda t: t.gelu("tanh"), lambda t: F.gelu(t, "tanh")),
    "silu": (lambda t: t.silu(), F.silu),
    "leaky_relu": (lambda t: t.leaky_relu(), F.leaky_relu),
    "elu": (lambda t: t.elu(), F.elu),
    "selu": (lambda t: t.selu(), F.selu),
    "hardtanh": (lambda t: t.hardtanh(), F.hardtanh),
    "relu6": (lambda t: t.relu6(), F.relu6),
    "softsign": (lambda t: t.softsign(), F.softsign),
    "logsigmoid": (lambda t: t.logsigmoid(), F.logsigmoid),
}


@covers(*ACTIVATIONS)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(shape=shapes(), data=st.data(), seed=seeds)
def test_activation_matches_its_definition_and_finite_differences(name, shape, data, seed):
    domain, options, ours, ref = ACTIVATIONS[name]
    o = data.draw(options)
    check(lambda x: ours(x, o), inputs_for([shape], [domain], seed), lambda x: ref(x, o))


@given(shape=shapes(), seed=seeds)
def test_relu6_is_hardtanh_from_0_to_6(shape, seed):
    (x,) = inputs_for([shape], ["kink0"], seed)
    x6 = Tensor(x.data * 4, requires_grad=True)  # reaches past 6, away from it by at least 0.4
    check(F.relu6, [x6], lambda v: np.minimum(np.maximum(v, 0), 6))
    assert F.relu6(x6).grad_fn.name == "hardtanh"


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_method_and_function_agree_and_make_one_node(name):
    method, function = DEFAULTS[name]
    x = Tensor(np.array([-3.0, -0.5, 0.25, 2.0, 7.0]), requires_grad=True)
    out = method(x)
    np.testing.assert_array_equal(out.data, function(x).data)
    node = out.grad_fn
    assert node.edges[0] is x  # one primitive straight on the leaf: no composite of several nodes


# --- stability: ±1e4 in float32, and float32 kept --------------------------------------------------
# name -> (value at +1e4, value at -1e4, gradient at +1e4, gradient at -1e4)
LIMITS = {
    "softplus": (1e4, 0.0, 1.0, 0.0),
    "gelu": (1e4, 0.0, 1.0, 0.0),
    "gelu_tanh": (1e4, 0.0, 1.0, 0.0),
    "silu": (1e4, 0.0, 1.0, 0.0),
    "leaky_relu": (1e4, -100.0, 1.0, 0.01),
    "elu": (1e4, -1.0, 1.0, 0.0),
    "selu": (SELU_SCALE * 1e4, -SELU_SCALE * SELU_ALPHA, SELU_SCALE, 0.0),
    "hardtanh": (1.0, -1.0, 0.0, 0.0),
    "relu6": (6.0, 0.0, 0.0, 0.0),
    "softsign": (1e4 / (1 + 1e4), -1e4 / (1 + 1e4), 1 / (1 + 1e4) ** 2, 1 / (1 + 1e4) ** 2),
    "logsigmoid": (0.0, -1e4, 0.0, 1.0),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(LIMITS))
def test_stable_at_plus_and_minus_1e4_with_the_right_limits(name, dtype):
    fn = DEFAULTS[name][0]
    x = Tensor(np.array([1e4, -1e4], dtype), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, not even unused
        out = fn(x)
        (g,) = tg.grad(out.sum(), x, create_graph=True)
        (h,) = tg.grad(g.sum(), x, allow_unused=True) if g.requires_grad else (None,)
    assert out.dtype == dtype and g.dtype == dtype
    up, down, g_up, g_down = LIMITS[name]
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, [up, down], rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(g.data, [g_up, g_down], rtol=rtol, atol=1e-30)
    assert h is None or np.isfinite(h.data).all()


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_float32_stays_float32_in_forward_and_in_the_vjp(name):
    x = Tensor(np.array([-30.0, -2.0, -0.3, 0.4, 3.0, 30.0], np.float32), requires_grad=True)
    out = DEFAULTS[name][0](x)
    assert out.dtype == np.float32
    node = out.grad_fn
    (g,) = node.fn.backward(np.ones(6, np.float32), *node.saved)  # the VJP itself, before the tape casts
    assert g.dtype == np.float32
    x64 = Tensor(x.data.astype(np.float64), requires_grad=True)
    want = DEFAULTS[name][0](x64)
    np.testing.assert_allclose(out.data, want.data, rtol=1e-6, atol=1e-7)
    (g64,) = tg.grad(want.sum(), x64)
    np.testing.assert_allclose(g, g64.data, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(DEFAULTS))
@pytest.mark.parametrize("shape", [(0,), (3, 0)])
def test_empty_arrays(name, shape):
    x = Tensor(np.zeros(shape), requires_grad=True)
    out = DEFAULTS[name][0](x)
    out.sum().backward()
    assert out.shape == shape and x.grad.shape == shape


def test_gelu_second_derivative_goes_through_erf_under_create_graph():
    x = Tensor(np.array([-1.5, 0.3, 2.0]), requires_grad=True)
    (g,) = tg.grad(F.gelu(x).sum(), x, create_graph=True)
    (h,) = tg.grad(g.sum(), x)
    pdf = np.exp(-x.data ** 2 / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(h.data, pdf * (2 - x.data ** 2), rtol=1e-14)


def test_softplus_switches_to_x_above_the_threshold():
    x = Tensor(np.array([0.5, 1.0, 1.01, 5.0]), requires_grad=True)
    out = F.softplus(x, beta=2.0, threshold=2.0)
    np.testing.assert_array_equal(out.data[2:], [1.01, 5.0])  # βx > threshold: x itself
    np.testing.assert_allclose(out.data[:2], np.log1p(np.exp(2 * x.data[:2])) / 2, rtol=1e-15)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad[2:], [1.0, 1.0])
    np.testing.assert_allclose(x.grad[:2], 1 / (1 + np.exp(-2 * x.data[:2])), rtol=1e-15)


def test_hardtanh_has_zero_gradient_at_its_bounds_as_pytorch():
    x = Tensor(np.array([-1.0, -0.5, 1.0, 2.0]), requires_grad=True)
    F.hardtanh(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0, 0.0])
    y = Tensor(np.array([-1.0, 0.0, 3.0, 6.0, 7.0]), requires_grad=True)
    F.relu6(y).sum().backward()
    np.testing.assert_array_equal(y.grad, [0.0, 0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(F.hardtanh(x, -0.5, -0.5).data, [-0.5] * 4)  # min_val == max_val is fine


@pytest.mark.parametrize("call, message", [
    (lambda x: F.softplus(x, beta=-1.0), "softplus: beta must be positive, got beta=-1.0"),
    (lambda x: F.softplus(x, beta=0), "softplus: beta must be positive, got beta=0.0"),
    (lambda x: x.softplus(threshold="high"), "softplus: threshold must be a real number, got 'high'"),
    (lambda x: F.gelu(x, approximate="fast"), "gelu: approximate must be 'none' or 'tanh', got 'fast'"),
    (lambda x: x.gelu(approximate=None), "gelu: approximate must be 'none' or 'tanh', got None"),
    (lambda x: F.hardtanh(x, 2.0, 1.0), "hardtanh: min_val=2.0 is greater than max_val=1.0"),
    (lambda x: F.leaky_relu(x, negative_slope=float("nan")), "leaky_relu: negative_slope must be a real number"),
    (lambda x: x.elu(alpha=[1.0]), r"elu: alpha must be a real number, got \[1.0\]"),
    (lambda x: x.softplus(beta="2"), "softplus: beta must be a real number, got '2'"),
])
def test_bad_options_are_value_errors_naming_the_op_and_the_value(call, message):
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    with pytest.raises(ValueError, match=message):
        call(x)


# --- PyTorch ------------------------------------------------------------------------------------
def _cases(torch):
    tf = torch.nn.functional
    return [
        ("softplus", F.softplus, tf.softplus),
        ("softplus beta 2, threshold 1", lambda x: F.softplus(x, 2.0, 1.0), lambda x: tf.softplus(x, 2.0, 1.0)),
        ("softplus beta 0.5", lambda x: F.softplus(x, beta=0.5), lambda x: tf.softplus(x, beta=0.5)),
        ("gelu", F.gelu, tf.gelu),
        ("gelu tanh", lambda x: F.gelu(x, approximate="tanh"), lambda x: tf.gelu(x, approximate="tanh")),
        ("silu", F.silu, tf.silu),
        ("leaky_relu", F.leaky_relu, tf.leaky_relu),
        ("leaky_relu 0.2", lambda x: F.leaky_relu(x, 0.2), lambda x: tf.leaky_relu(x, 0.2)),
        ("elu", F.elu, tf.elu),
        ("elu 0.7", lambda x: F.elu(x, alpha=0.7), lambda x: tf.elu(x, alpha=0.7)),
        ("selu", F.selu, tf.selu),
        ("hardtanh", F.hardtanh, tf.hardtanh),
        ("hardtanh -0.5, 2", lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: tf.hardtanh(x, -0.5, 2.0)),
        ("relu6", F.relu6, tf.relu6),
        ("softsign", F.softsign, tf.softsign),
        ("logsigmoid", F.logsigmoid, tf.logsigmoid),
    ]


# kinks and bounds exactly (0, ±1, -0.5, 2, 6), both sides of softplus's switches, and the far tails
POINTS = np.array([-1e4, -40.0, -7.0, -2.0, -1.0, -0.5, -0.3, 0.0, 0.3, 0.49, 0.5, 0.51, 1.0, 2.0, 3.7, 6.0, 9.9,
                   10.1, 20.0, 21.0, 40.0, 1e4])


# softplus cases: the x where βx equals the threshold; there the first derivative is still σ(βx) in both
# (the linear branch is βx > threshold), and so is our second derivative β σ'(βx), while PyTorch's is 0
SWITCH = {"softplus": 20.0, "softplus beta 2, threshold 1": 0.5, "softplus beta 0.5": 40.0}


def _sigmoid_slope(x, label):
    beta = {"softplus": 1.0, "softplus beta 2, threshold 1": 2.0, "softplus beta 0.5": 0.5}[label]
    s = 1 / (1 + np.exp(-beta * x))
    return beta * s * (1 - s)


def test_values_and_first_and_second_derivatives_match_pytorch():
    torch = pytest.importorskip("torch")
    cot = np.random.default_rng(0).standard_normal(POINTS.shape)
    for label, ours, theirs in _cases(torch):
        x = Tensor(POINTS.copy(), requires_grad=True)
        out = ours(x)
        (g,) = tg.grad((out * cot).sum(), x, create_graph=True)
        (h,) = tg.grad((g * g).sum(), x, allow_unused=True) if g.requires_grad else (None,)
        tx = torch.tensor(POINTS, requires_grad=True)
        tout = theirs(tx)
        (tg_,) = torch.autograd.grad((tout * torch.tensor(cot)).sum(), tx, create_graph=True)
        (th,) = torch.autograd.grad((tg_ * tg_).sum(), tx, allow_unused=True) if tg_.requires_grad else (None,)
        # atol: Φ(x) = (1 + erf(x/√2))/2 cancels for x << 0, in PyTorch's formula as in ours
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-14, atol=1e-14, err_msg=label)
        np.testing.assert_allclose(g.data, tg_.detach().numpy(), rtol=1e-13, atol=1e-14, err_msg=label)
        h = np.zeros_like(POINTS) if h is None else h.data
        th = np.zeros_like(POINTS) if th is None else th.numpy()
        if label in SWITCH:  # exactly at βx = threshold PyTorch's second derivative is already the linear branch's 0
            at = POINTS == SWITCH[label]
            np.testing.assert_allclose(h[at], 2 * g.data[at] * cot[at] * _sigmoid_slope(POINTS[at], label))
            h, th = h[~at], th[~at]
        np.testing.assert_allclose(h, th, rtol=1e-12, atol=1e-13, err_msg=label)


def test_float32_values_and_gradients_match_pytorch():
    torch = pytest.importorskip("torch")
    x32 = POINTS.astype(np.float32)
    for label, ours, theirs in _cases(torch):
        x = Tensor(x32.copy(), requires_grad=True)
        out = ours(x)
        out.sum().backward()
        tx = torch.tensor(x32, requires_grad=True)
        tout = theirs(tx)
        tout.sum().backward()
        assert out.dtype == np.float32 and x.grad.dtype == np.float32
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=2e-6, atol=1e-6, err_msg=label)
        np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=2e-6, atol=1e-6, err_msg=label)
