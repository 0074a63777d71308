"""Hooks, retained gradients and the in-place autograd switches, with PyTorch's orders and results."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, hooks


def _leaf(values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def test_retain_grad_keeps_a_computed_tensors_gradient():
    x = _leaf([1.0, 2.0, 3.0])
    y = x * 2
    assert not y.retains_grad
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward(retain_graph=True)
    np.testing.assert_array_equal(y.grad, [4.0, 8.0, 12.0])
    (y * y).sum().backward()  # accumulates, as a leaf's does
    np.testing.assert_array_equal(y.grad, [8.0, 16.0, 24.0])
    z = x * 3
    z.sum().backward()
    assert z.grad is None  # not asked for
    x.retain_grad()  # a leaf keeps its gradient anyway
    assert not x.retains_grad


def test_a_hook_sees_the_gradient_and_may_replace_it():
    x = _leaf([1.0, -2.0])
    y = x * x
    seen = []
    handle = y.register_hook(lambda g: seen.append(g.data.copy()) or g * 10)
    (y * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad, 2 * x.data * 30)
    handle.remove()
    handle.remove()  # twice is harmless
    x.grad = None
    (x * x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, 6 * x.data)
    assert len(seen) == 1


def test_a_leaf_hook_runs_on_the_whole_gradient_once_before_accumulation():
    x = _leaf([1.0, 2.0])
    calls = []
    x.register_hook(lambda g: calls.append(g.data.copy()) or g + 1)
    (x * 2 + x * 3).sum().backward()  # two contributions, one call with their sum
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], [5.0, 5.0])
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])


def test_hooks_run_in_registration_order_and_retain_grad_sees_their_result():
    x = _leaf([1.0])
    y = x * 1.0
    order = []
    y.register_hook(lambda g: order.append("a") or g * 2)
    y.retain_grad()
    y.register_hook(lambda g: order.append("b") or g + 1)
    y.sum().backward()
    assert order == ["a", "b"]
    np.testing.assert_array_equal(y.grad, [3.0])
    np.testing.assert_array_equal(x.grad, [3.0])


def test_a_hooks_array_becomes_the_leafs_own():
    x = _leaf([1.0, 2.0])
    kept = np.array([7.0, 7.0])
    x.register_hook(lambda g: kept)
    (x * 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, kept)
    assert not np.shares_memory(x.grad, kept)


def test_hooks_work_under_create_graph_and_in_grad():
    x = _leaf([0.5, 1.5])
    y = x ** 3
    y.register_hook(lambda g: g * 2)
    (dx,) = tg.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(dx.data, 2 * 3 * x.data ** 2)
    (d2x,) = tg.grad(dx.sum(), x)
    np.testing.assert_allclose(d2x.data, 2 * 6 * x.data)


def test_a_hook_returning_the_wrong_shape_is_named():
    x = _leaf([1.0, 2.0])
    y = x * 2

    def bad_hook(g):
        return np.zeros(3)

    y.register_hook(bad_hook)
    with pytest.raises(RuntimeError, match=r"hook .*bad_hook.* returned a gradient of shape \(3,\) for a tensor "
                                           r"of shape \(2,\)"):
        y.sum().backward()


def test_hooks_need_a_tensor_that_requires_grad_and_a_function():
    with pytest.raises(RuntimeError, match="register_hook: this tensor does not require grad"):
        Tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="register_hook: expected a function of the gradient, got int"):
        _leaf([1.0]).register_hook(3)
    with pytest.raises(RuntimeError, match="retain_grad: this tensor does not require grad"):
        Tensor([1.0]).retain_grad()


def test_hooks_go_with_their_tensor():
    x = _leaf([1.0])
    y = x * 2
    y.register_hook(lambda g: g)
    y.retain_grad()
    assert hooks.active()
    del y
    gc.collect()
    assert not hooks.active()


def test_a_hook_on_a_deferred_gradient_sees_a_dense_array():
    table = _leaf(np.arange(12.0).reshape(4, 3))
    seen = []
    table.register_hook(lambda g: seen.append(type(g.data)) or None)
    table[np.array([1, 1, 3])].sum().backward()
    assert seen == [np.ndarray]
    np.testing.assert_array_equal(table.grad, [[0, 0, 0], [2, 2, 2], [0, 0, 0], [1, 1, 1]])


def test_requires_grad_and_detach_in_place():
    t = Tensor(np.ones(2))
    assert t.requires_grad_() is t and t.requires_grad
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad, [2.0, 2.0])
    t.requires_grad_(False)
    assert not t.requires_grad
    with pytest.raises(TypeError, match="requires_grad_: only floating-point tensors can require grad"):
        Tensor([1, 2]).requires_grad_()
    y = _leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="only leaves can stop requiring grad"):
        y.requires_grad_(False)
    assert y.detach_() is y and y.is_leaf and not y.requires_grad
    assert not (y * 2).requires_grad


def test_hooks_and_retain_grad_match_pytorch():
    torch = pytest.importorskip("torch")
    xs = np.array([0.3, -1.2, 2.0])

    def run(lib, leaf):
        x = leaf(xs)
        y = (x * x).tanh() if lib == "tg" else torch.tanh(x * x)
        y.retain_grad()
        y.register_hook(lambda g: g * 3)
        z = y * 2
        x.register_hook(lambda g: g - 1)
        (z.sum() + y.sum()).backward()
        return np.asarray(y.grad), np.asarray(x.grad)

    ours = run("tg", lambda a: Tensor(a.copy(), requires_grad=True))
    theirs = run("torch", lambda a: torch.tensor(a.copy(), requires_grad=True))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-14)


def test_zero_d_tensors_and_numpy_scalars_do_not_widen_float32():
    a = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    b = Tensor(2.0, requires_grad=True)  # float64, 0-d
    for out in (a * b, b * a, a + b, a - b, b / a, a ** b, a * np.float64(2.0), a * 2.0,
                tg.where(np.array([True, False, True]), a, Tensor(0.0))):
        assert out.dtype == np.float32 and out.shape == (3,)
    (a * b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64 and b.grad == 3.0
    assert (a + Tensor(np.ones(3))).dtype == np.float64  # a 1-d float64 still widens, as in PyTorch
    assert (Tensor(1.0) * Tensor(np.float32(2.0))).dtype == np.float64  # two 0-d: ordinary promotion


def test_float32_promotion_matches_pytorch():
    torch = pytest.importorskip("torch")
    a32 = np.ones(3, dtype=np.float32)
    cases = [
        (lambda x, s: x * s, a32, np.array(2.0)),
        (lambda x, s: x + s, a32, np.array(2.0)),
        (lambda x, s: x * s, a32, np.ones(3)),
        (lambda x, s: x * s, np.array(1.0, dtype=np.float32), np.array(2.0)),
    ]
    for fn, x, s in cases:
        ours = fn(Tensor(x), Tensor(s)).dtype
        theirs = fn(torch.from_numpy(x), torch.from_numpy(s)).dtype
        assert str(ours) == str(theirs).replace("torch.", "")


def test_retain_grad_is_filled_by_grad_too_as_in_pytorch():
    x = _leaf([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    tg.grad((y * 3).sum(), [x])
    np.testing.assert_array_equal(y.grad, [3.0, 3.0])


def test_numpy_scalars_act_as_python_numbers():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    zero_d = Tensor(np.float32(1.0))
    for out in (x ** np.float64(2), x * np.float64(2), zero_d * np.float64(2), x.var(correction=np.float64(1)),
                x.std(correction=np.float64(0)), x.leaky_relu(np.float64(0.1)), x.clip(np.float64(0), np.float64(1)),
                tg.functional.cross_entropy(x[None], np.array([0]), label_smoothing=np.float64(0.1))):
        assert out.dtype == np.float32
