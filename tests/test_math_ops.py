"""Elementwise math primitives: forward against float64 references from the ``math`` module, gradients
and second derivatives against finite differences, the exact zero gradient of the steps, erf's accuracy,
float32 kept, and PyTorch's values and gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import Tensor
from tinygrad_rnn.ops import math_ops
from tinygrad_rnn.testing.strategies import broadcastable, inputs_for, seeds, shapes

from sweep import check, covers, domains


def _math(f):
    """A scalar function of the math module over arrays: a reference independent of numpy's ufuncs."""
    v = np.vectorize(f, otypes=[np.float64])
    return lambda *arrays: v(*arrays)


UNARY = {
    "sin": (F.sin, _math(math.sin)),
    "cos": (F.cos, _math(math.cos)),
    "tan": (F.tan, _math(math.tan)),
    "atan": (F.arctan, _math(math.atan)),
    "sinh": (F.sinh, _math(math.sinh)),
    "cosh": (F.cosh, _math(math.cosh)),
    "log1p": (F.log1p, _math(math.log1p)),
    "expm1": (F.expm1, _math(math.expm1)),
    "log2": (F.log2, _math(math.log2)),
    "log10": (F.log10, _math(math.log10)),
    "reciprocal": (F.reciprocal, _math(lambda v: 1 / v)),
    "rsqrt": (F.rsqrt, _math(lambda v: 1 / math.sqrt(v))),
    "erf": (F.erf, _math(math.erf)),
}
BINARY = {
    "maximum": (F.maximum, _math(max)),
    "minimum": (F.minimum, _math(min)),
    "atan2": (F.arctan2, _math(math.atan2)),
    "remainder": (lambda x, y: x % y, _math(lambda a, b: a % b)),  # Python's float % is floor modulo
}
STEPS = {
    "sign": (F.sign, _math(lambda v: math.copysign(1.0, v) if v else 0.0)),
    "floor": (F.floor, _math(math.floor)),
    "ceil": (F.ceil, _math(math.ceil)),
    "round": (F.round, _math(round)),  # Python's round is half to even, like numpy's and PyTorch's
    "trunc": (F.trunc, _math(math.trunc)),
}
EVERY_UNARY = {**UNARY, **STEPS}


@covers(*UNARY)
@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes(), seed=seeds)
def test_unary_op_matches_math_and_finite_differences(name, shape, seed):
    fn, ref = UNARY[name]
    check(fn, inputs_for([shape], domains(name, 1), seed), ref)


@covers(*BINARY)
@pytest.mark.parametrize("name", sorted(BINARY))
@given(pair=broadcastable(2), seed=seeds)
def test_binary_op_broadcasts_and_matches_math(name, pair, seed):
    fn, ref = BINARY[name]
    check(fn, inputs_for(pair, domains(name, 2), seed), ref)


@covers(*STEPS)
@pytest.mark.parametrize("name", sorted(STEPS))
@given(shape=shapes(), seed=seeds)
def test_step_has_an_exact_zero_gradient_to_second_order(name, shape, seed):
    fn, ref = STEPS[name]
    (x,) = inputs_for([shape], domains(name, 1), seed)
    check(fn, [x], ref)  # finite differences away from the jumps see the zero too
    # exactly zero, even for an infinite cotangent (grad * 0 would give nan), as PyTorch
    (g,) = tg.grad(fn(x), x, grad_outputs=np.full(shape, np.inf))
    assert np.array_equal(g.data, np.zeros(shape))
    (g,) = tg.grad((fn(x) * x).sum(), x, create_graph=True)  # d/dx (step(x) x) = step(x)
    np.testing.assert_array_equal(g.data, ref(x.data))
    (h,) = tg.grad(g.sum(), x, allow_unused=True)
    assert h is None or not np.any(h.data)


def test_round_takes_decimals_and_rounds_halves_to_even():
    x = Tensor(np.array([0.5, 1.5, 2.5, -0.5, -2.5, 0.125, 1.2345]), requires_grad=True)
    np.testing.assert_array_equal(x.round().data, [0, 2, 2, -0.0, -2, 0, 1])
    np.testing.assert_array_equal(F.round(x, 2).data, np.round(x.data, 2))
    F.round(x, 2).sum().backward()
    assert np.array_equal(x.grad, np.zeros(7))
    with pytest.raises(ValueError, match="round: decimals must be an integer, got 1.5"):
        x.round(1.5)


def test_steps_keep_integer_dtypes_and_record_nothing():
    i = Tensor(np.array([-3, 0, 4]))
    for fn in (F.sign, F.floor, F.ceil, F.round, F.trunc):
        out = fn(i)
        assert out.dtype == np.int64 and out.grad_fn is None
        np.testing.assert_array_equal(out.data, fn(i.astype(np.float64)).data)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_and_minimum_split_the_gradient_at_ties(name):
    fn = getattr(F, name)
    x = Tensor(np.array([1.0, 2.0, 3.0, -1.0]), requires_grad=True)
    y = Tensor(np.array([1.0, 0.0, 5.0, -1.0]), requires_grad=True)
    fn(x, y).sum().backward()
    wins = [0.5, 1.0, 0.0, 0.5] if name == "maximum" else [0.5, 0.0, 1.0, 0.5]
    np.testing.assert_array_equal(x.grad, wins)
    np.testing.assert_array_equal(y.grad, 1 - np.array(wins))
    # broadcast: a scalar tying with two of four elements gets both halves, summed
    s = Tensor(2.0, requires_grad=True)
    z = Tensor(np.array([2.0, 2.0, 1.0, 3.0]), requires_grad=True)
    fn(z, s).sum().backward()
    np.testing.assert_array_equal(z.grad, [0.5, 0.5, 0.0, 1.0] if name == "maximum" else [0.5, 0.5, 1.0, 0.0])
    assert s.grad == 2.0  # 0.5 + 0.5 from the ties, 1 from the element it beats


def test_maximum_and_minimum_with_a_constant_and_ints():
    x = Tensor(np.array([-1.0, 0.5, 2.0]), requires_grad=True)
    F.maximum(x, 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0])
    out = F.minimum(Tensor(np.array([1, 5])), Tensor(np.array([3, 2])))
    assert out.dtype == np.int64 and out.tolist() == [1, 2]


def test_remainder_has_the_divisors_sign_and_floor_quotient_gradient():
    xs = np.array([5.5, -5.5, 5.5, -5.5, 0.0, 3.0])
    ys = np.array([2.0, 2.0, -2.0, -2.0, 1.5, 7.0])
    x, y = Tensor(xs, requires_grad=True), Tensor(ys, requires_grad=True)
    out = x % y
    np.testing.assert_array_equal(out.data, [1.5, 0.5, -0.5, -1.5, 0.0, 3.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(6))
    np.testing.assert_array_equal(y.grad, -np.floor(xs / ys))
    np.testing.assert_array_equal((7.0 % Tensor(np.array([2.0, -2.0]))).data, [1.0, -1.0])
    np.testing.assert_array_equal(x.remainder(2.0).data, np.remainder(xs, 2.0))


def test_atan2_is_y_first_and_covers_every_quadrant():
    y = np.array([1.0, 1.0, -1.0, -1.0, 0.0, 2.0])
    x = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 0.0])
    np.testing.assert_array_equal(F.arctan2(y, x).data, np.arctan2(y, x))
    assert F.atan2 is F.arctan2 and Tensor.atan2 is Tensor.arctan2 and Tensor.atan is Tensor.arctan
    np.testing.assert_array_equal(Tensor(y).atan2(Tensor(x)).data, np.arctan2(y, x))


def test_square_is_pow_scalar_and_isnan_isinf_isfinite_are_bool_and_unrecorded():
    x = Tensor(np.array([np.nan, np.inf, -np.inf, 1.5]), requires_grad=True)
    assert x.square().grad_fn.name == "pow_scalar"
    np.testing.assert_array_equal(F.square(np.array([3.0, -2.0])).data, [9.0, 4.0])
    for name, want in (("isnan", [1, 0, 0, 0]), ("isinf", [0, 1, 1, 0]), ("isfinite", [0, 0, 0, 1])):
        for out in (getattr(x, name)(), getattr(F, name)(x.data)):
            assert out.dtype == np.bool_ and not out.requires_grad and out.grad_fn is None
            np.testing.assert_array_equal(out.data, np.array(want, bool))


# --- erf ------------------------------------------------------------------------------------------
def _math_erf(x):
    return np.array([math.erf(v) for v in np.ravel(x).tolist()]).reshape(np.shape(x))


def test_erf_is_within_1e_15_of_math_erf_on_a_dense_grid_with_tails():
    grid = np.concatenate([np.linspace(-7.0, 7.0, 280_001), np.linspace(5.9, 6.1, 2001),
                           -np.geomspace(1e-3, 40.0, 5000)])
    got = F.erf(grid).data
    assert np.abs(got - _math_erf(grid)).max() <= 1e-15
    # relative accuracy near 0 too (erf(x)/x is what is interpolated), down to the smallest normals
    tiny = np.geomspace(1e-300, 0.5, 3000)
    assert (np.abs(F.erf(tiny).data - _math_erf(tiny)) / _math_erf(tiny)).max() <= 1e-15
    # exactly ±1 from 6 on, odd, and the special values
    big = np.array([6.0, 6.5, 27.0, 1e300, np.inf])
    np.testing.assert_array_equal(F.erf(big).data, np.ones(5))
    np.testing.assert_array_equal(F.erf(-big).data, -np.ones(5))
    np.testing.assert_array_equal(F.erf(-grid).data, -got)
    special = F.erf(np.array([0.0, -0.0, np.nan])).data
    assert special[0] == 0.0 and np.signbit(special[1]) and np.isnan(special[2])


def test_erf_in_float32_is_float32_and_correctly_rounded_or_one_ulp_off():
    x = np.concatenate([np.linspace(-7, 7, 20001), np.geomspace(1e-30, 1, 500)]).astype(np.float32)
    out = F.erf(Tensor(x)).data
    assert out.dtype == np.float32
    want = _math_erf(x.astype(np.float64))
    assert (np.abs(out - want) <= np.spacing(np.abs(want).astype(np.float32))).all()


def test_erf_handles_any_layout_and_size(monkeypatch):
    rng = np.random.default_rng(0)
    big = rng.normal(0, 3, (130, 170))  # more than one chunk
    got = F.erf(big.T).data  # a non-contiguous view
    np.testing.assert_array_equal(got, F.erf(np.ascontiguousarray(big.T)).data)
    assert np.abs(got - _math_erf(big.T)).max() <= 1e-15
    # few elements take another gather (whole rows of the table): the same numbers, bit for bit
    pieces = np.array_split(big.ravel(), 100)
    np.testing.assert_array_equal(np.concatenate([F.erf(p).data for p in pieces]), F.erf(big.ravel()).data)
    assert F.erf(np.zeros((0, 3))).shape == (0, 3) and F.erf(np.float64(0.5)).shape == ()
    assert F.erf(np.array([1, 2])).dtype == np.float64
    # vectorized: once its table is built, erf calls no per-element Python function
    monkeypatch.setattr(math, "erf", lambda v: pytest.fail("math.erf called per element"))
    np.testing.assert_array_equal(math_ops.erf(big), F.erf(big).data)


# --- every op: float32 kept, empty arrays, clashes --------------------------------------------------
@pytest.mark.parametrize("name", sorted(EVERY_UNARY))
def test_unary_op_keeps_float32_in_forward_and_backward(name):
    fn = EVERY_UNARY[name][0]
    x = Tensor(np.array([0.7, 1.3, 1.9], np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    node = y.grad_fn
    grads = node.fn.backward(np.ones(3, np.float32), *node.saved)  # the VJP itself, before the tape casts
    assert all(g is None or g.dtype == np.float32 for g in grads), [g.dtype for g in grads]


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_keeps_float32_in_forward_and_backward(name):
    fn = BINARY[name][0]
    x = Tensor(np.array([0.7, 1.3, -1.9], np.float32), requires_grad=True)
    y = Tensor(np.array([1.1, 1.3, 0.4], np.float32), requires_grad=True)
    out = fn(x, y)
    assert out.dtype == np.float32
    grads = out.grad_fn.fn.backward(np.ones(3, np.float32), *out.grad_fn.saved)
    assert all(g is None or g.dtype == np.float32 for g in grads)


@pytest.mark.parametrize("name", sorted(EVERY_UNARY) + sorted(BINARY))
@pytest.mark.parametrize("shape", [(0,), (2, 0, 3)])
def test_empty_arrays_go_through_forward_and_backward(name, shape):
    x = Tensor(np.zeros(shape), requires_grad=True)
    if name in BINARY:
        y = Tensor(np.ones(shape[-1:]), requires_grad=True)
        out = BINARY[name][0](x, y)
        out.sum().backward()
        assert y.grad.shape == y.shape and not y.grad.any()
    else:
        out = EVERY_UNARY[name][0](x)
        out.sum().backward()
    assert out.shape == shape and x.grad.shape == shape


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_names_itself_on_a_broadcast_clash(name):
    with pytest.raises(tg.ShapeError, match=f"{name}: shapes \\(2, 3\\), \\(4,\\) do not broadcast"):
        BINARY[name][0](Tensor(np.ones((2, 3))), Tensor(np.ones(4)))


# --- PyTorch ------------------------------------------------------------------------------------
def _torch_pairs():
    """(label, ours, theirs, inputs): the family, at points that pin down each rule."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    u = rng.uniform(-2, 2, 8)
    pos = rng.uniform(0.3, 2, 8)
    off = np.array([-1.7, -0.6, 0.3, 0.7, 1.2, 2.4, -2.8, 3.3])  # no integers or halves
    unary = [
        ("sin", F.sin, torch.sin, u), ("cos", F.cos, torch.cos, u), ("tan", F.tan, torch.tan, u * 0.7),
        ("atan", F.arctan, torch.atan, u * 3), ("sinh", F.sinh, torch.sinh, u), ("cosh", F.cosh, torch.cosh, u),
        ("log1p", F.log1p, torch.log1p, pos - 0.25), ("expm1", F.expm1, torch.expm1, u),
        ("log2", F.log2, torch.log2, pos), ("log10", F.log10, torch.log10, pos),
        ("reciprocal", F.reciprocal, torch.reciprocal, u), ("rsqrt", F.rsqrt, torch.rsqrt, pos),
        ("erf", F.erf, torch.erf, np.concatenate([u * 3, [0.0, -7.0, 6.0, 1e-8]])),
        ("sign", F.sign, torch.sign, np.append(u, 0.0)), ("floor", F.floor, torch.floor, off),
        ("ceil", F.ceil, torch.ceil, off), ("trunc", F.trunc, torch.trunc, off),
        ("round", F.round, torch.round, np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.49, 2.51, -3.7])),
    ]
    binary = [
        # ties split the gradient; a NaN passes it to both inputs
        ("maximum ties", F.maximum, torch.maximum, np.array([1.0, 2.0, 3.0, -1.0, np.nan]),
         np.array([1.0, 0.0, 5.0, -1.0, 0.5])),
        ("minimum ties", F.minimum, torch.minimum, np.array([1.0, 2.0, 3.0, -1.0, 0.5]),
         np.array([1.0, 0.0, 5.0, -1.0, np.nan])),
        ("atan2", F.arctan2, torch.atan2, np.array([1.0, 1.0, -1.0, -1.0, 0.5]), np.array([1.0, -1.0, -1.0, 1.0, 0.0])),
        ("remainder signs", lambda a, b: a % b, torch.remainder, np.array([5.5, -5.5, 5.5, -5.5, 0.0, 3.0, -0.25]),
         np.array([2.0, 2.0, -2.0, -2.0, 1.5, 7.0, 0.75])),
    ]
    return torch, unary, binary


def _ours(fn, arrays, cot):
    xs = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*xs)
    grads = tg.grad((out * cot).sum(), xs, create_graph=True)
    total = sum((g * g).sum() for g in grads)  # its gradient: a second derivative
    second = tg.grad(total, xs, allow_unused=True) if total.requires_grad else [None] * len(xs)
    second = [np.zeros_like(a) if s is None else s.data for s, a in zip(second, arrays)]
    return out.data, [g.data for g in grads], second


def _theirs(torch, fn, arrays, cot):
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*xs)
    grads = torch.autograd.grad((out * torch.tensor(cot)).sum(), xs, create_graph=True)
    total = sum((g * g).sum() for g in grads)
    second = torch.autograd.grad(total, xs, allow_unused=True) if total.requires_grad else [None] * len(xs)
    return (out.detach().numpy(), [g.detach().numpy() for g in grads],
            [np.zeros_like(a) if s is None else s.numpy() for s, a in zip(second, arrays)])


def test_values_and_first_and_second_derivatives_match_pytorch():
    torch, unary, binary = _torch_pairs()
    cases = [(label, ours, theirs, (x,)) for label, ours, theirs, x in unary]
    cases += [(label, ours, theirs, (x, y)) for label, ours, theirs, x, y in binary]
    for label, ours, theirs, arrays in cases:
        cot = np.random.default_rng(1).standard_normal(arrays[0].shape)
        mine, ref = _ours(ours, arrays, cot), _theirs(torch, theirs, arrays, cot)
        np.testing.assert_allclose(mine[0], ref[0], rtol=1e-14, atol=1e-15, err_msg=f"{label} value")
        for k, (a, b) in enumerate(zip(mine[1], ref[1])):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15, err_msg=f"{label} gradient {k}")
        for k, (a, b) in enumerate(zip(mine[2], ref[2])):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"{label} second derivative {k}")


def test_float32_values_match_pytorch():
    torch, unary, binary = _torch_pairs()
    for label, ours, theirs, x in unary:
        x32 = x.astype(np.float32)
        np.testing.assert_allclose(ours(x32).data, theirs(torch.tensor(x32)).numpy(), rtol=5e-7, atol=1e-7,
                                   err_msg=label)
    for label, ours, theirs, x, y in binary:
        x32, y32 = x.astype(np.float32), y.astype(np.float32)
        np.testing.assert_allclose(ours(x32, y32).data, theirs(torch.tensor(x32), torch.tensor(y32)).numpy(),
                                   rtol=5e-7, atol=1e-6, err_msg=label)


@given(x=st.floats(-1e3, 1e3), y=st.floats(-1e3, 1e3).filter(lambda v: abs(v) > 1e-3))
def test_remainder_matches_pythons_float_modulo(x, y):
    assert (Tensor(x) % y).item() == x % y
