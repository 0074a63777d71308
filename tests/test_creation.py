"""Making tensors: shapes both ways, dtypes, requires_grad, and reproducible random draws."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor


@pytest.mark.parametrize("make, fill", [(tg.zeros, 0.0), (tg.ones, 1.0)])
def test_zeros_and_ones_take_the_shape_either_way(make, fill):
    for t in (make(2, 3), make((2, 3)), make([2, 3])):
        assert isinstance(t, Tensor) and t.shape == (2, 3) and t.dtype == np.float64
        np.testing.assert_array_equal(t.data, np.full((2, 3), fill))
    assert make().shape == () and make(0, 4).shape == (0, 4)
    t = make(3, dtype=np.float32, requires_grad=True)
    assert t.dtype == np.float32 and t.requires_grad and t.is_leaf


def test_full_follows_the_value_like_numpy():
    assert tg.full((2,), 3).dtype == np.int64
    np.testing.assert_array_equal(tg.full((2, 2), 0.5).data, np.full((2, 2), 0.5))
    assert tg.full(4, 1.5, dtype=np.float32).dtype == np.float32
    with pytest.raises(TypeError, match="full: requires_grad=True needs a floating-point dtype, got int64"):
        tg.full((2,), 3, requires_grad=True)


def test_like_functions_copy_shape_and_dtype():
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    for fn, value in ((tg.zeros_like, 0), (tg.ones_like, 1)):
        t = fn(x)
        assert t.shape == (2, 3) and t.dtype == np.float32 and (t.data == value).all()
    t = tg.full_like(x, 7.0, dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and (t.data == 7).all() and t.requires_grad
    assert tg.empty_like(x).shape == (2, 3) and tg.empty(1, 2).shape == (1, 2)
    assert tg.zeros_like(np.ones((4,), dtype=np.int32)).dtype == np.int32


def test_eye_arange_linspace_match_numpy():
    np.testing.assert_array_equal(tg.eye(3).data, np.eye(3))
    np.testing.assert_array_equal(tg.eye(2, 4).data, np.eye(2, 4))
    np.testing.assert_array_equal(tg.arange(5).data, np.arange(5))
    assert tg.arange(5).dtype == np.int64 and tg.arange(0.0, 1.0, 0.25).dtype == np.float64
    np.testing.assert_array_equal(tg.arange(2, 11, 3).data, [2, 5, 8])
    np.testing.assert_allclose(tg.linspace(0, 1, 5).data, [0, 0.25, 0.5, 0.75, 1.0])
    assert tg.linspace(-1, 1, 0).shape == (0,)


@pytest.mark.parametrize("call, message", [
    (lambda: tg.zeros(-1), r"zeros: sizes must be non-negative integers, got \(-1,\)"),
    (lambda: tg.ones(2.5), r"ones: sizes must be non-negative integers, got \(2.5,\)"),
    (lambda: tg.arange(0, 3, 0), "arange: step must be non-zero"),
    (lambda: tg.linspace(0, 1, -2), "linspace: steps must be a non-negative integer, got -2"),
    (lambda: tg.eye(-2), "eye: n must be a non-negative integer, got -2"),
    (lambda: tg.randint(5, 2), r"randint: high \(2\) must be greater than low \(5\)"),
    (lambda: tg.uniform(1.0, 0.0), r"uniform: high \(0.0\) must be at least low \(1.0\)"),
    (lambda: tg.normal(0.0, -1.0), "normal: std must be non-negative, got -1.0"),
    (lambda: tg.manual_seed(-3), "manual_seed: the seed must be a non-negative integer, got -3"),
])
def test_bad_arguments_name_the_function_and_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_random_tensors_use_the_generator_given():
    draws = {name: fn(generator=np.random.default_rng(5)) for name, fn in {
        "rand": lambda **k: tg.rand(2, 3, **k),
        "randn": lambda **k: tg.randn((2, 3), **k),
        "uniform": lambda **k: tg.uniform(-1.0, 2.0, (2, 3), **k),
        "normal": lambda **k: tg.normal(1.0, 0.5, (2, 3), **k),
        "randint": lambda **k: tg.randint(0, 10, (2, 3), **k),
    }.items()}
    rng = np.random.default_rng(5)
    np.testing.assert_array_equal(draws["rand"].data, rng.random((2, 3)))
    np.testing.assert_array_equal(draws["randn"].data, np.random.default_rng(5).standard_normal((2, 3)))
    np.testing.assert_array_equal(draws["uniform"].data, np.random.default_rng(5).uniform(-1, 2, (2, 3)))
    np.testing.assert_array_equal(draws["normal"].data, np.random.default_rng(5).normal(1, 0.5, (2, 3)))
    np.testing.assert_array_equal(draws["randint"].data, np.random.default_rng(5).integers(0, 10, (2, 3)))
    assert draws["randint"].dtype == np.int64 and ((draws["uniform"].data >= -1) & (draws["uniform"].data < 2)).all()


def test_manual_seed_makes_the_default_draws_repeat():
    tg.manual_seed(11)
    a = (tg.randn(4).data, tg.rand(2).data, tg.randint(3, size=5).data)
    tg.manual_seed(11)
    b = (tg.randn(4).data, tg.rand(2).data, tg.randint(3, size=5).data)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(tg.randn(4).data, a[0])  # the stream moves on
    assert tg.manual_seed(0) is tg.default_generator()


def test_random_tensors_take_dtype_and_requires_grad():
    t = tg.randn(3, dtype=np.float32, requires_grad=True)
    assert t.dtype == np.float32 and t.requires_grad
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad, np.full(3, 2, dtype=np.float32))
    with pytest.raises(TypeError, match="rand: draws floating-point values; dtype int64 is not a float dtype"):
        tg.rand(2, dtype=np.int64)
    with pytest.raises(TypeError, match="generator must be a numpy.random.Generator"):
        tg.rand(2, generator=np.random.RandomState(0))


def test_randint_takes_pytorchs_high_and_size_form():
    tg.manual_seed(3)
    a = tg.randint(10, (3,))
    tg.manual_seed(3)
    b = tg.randint(0, 10, size=(3,))
    assert a.shape == (3,) and np.array_equal(a.data, b.data)
    with pytest.raises(TypeError, match="randint: got a size"):
        tg.randint(10, (3,), size=(2,))
