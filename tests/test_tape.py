"""The reverse pass: accumulation, ordering without recursion, freeing, no_grad, grad(), higher order."""

from __future__ import annotations

import gc
import sys
import time
import weakref

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, gradients


def test_backward_diamond_sums_both_paths():
    x = Tensor(3.0, requires_grad=True)
    a = x * 2
    y = a * a + a  # a is used three times
    y.backward()
    assert x.grad == pytest.approx(2 * (2 * 6) + 2)


def test_backward_accumulates_across_calls_until_zeroed():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [2 + 3, 4 + 3])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad, [3, 3])


def test_leaf_used_twice_in_one_op():
    x = Tensor([1.5, -2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_grad_is_contiguous_and_owned_even_through_a_transpose():
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    b = Tensor(np.ones((3, 2)), requires_grad=True)
    (w.T + b.T).sum().backward()
    assert w.grad.flags.c_contiguous and b.grad.flags.c_contiguous
    w.grad += 1  # the two leaves received the same array from Add: it must not be shared
    np.testing.assert_array_equal(b.grad, np.ones((3, 2)))


def test_grad_keeps_the_leaf_dtype():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    (x * np.ones(3) * 2.0).sum().backward()  # float64 constant: the result is float64
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("limit", [100, 1000])
def test_chain_of_200000_ops_needs_no_recursion(limit):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        x = Tensor(np.ones(2), requires_grad=True)
        y = x
        start = time.perf_counter()
        for _ in range(200_000):
            y = y * 1.0
        y.sum().backward()
        elapsed = time.perf_counter() - start
    finally:
        sys.setrecursionlimit(old)
    np.testing.assert_array_equal(x.grad, np.ones(2))
    assert elapsed < 60  # linear: a quadratic pass would take hours; timing proper is in benchmarks/


def test_second_backward_without_retain_graph_is_an_error():
    x = Tensor(2.0, requires_grad=True)
    y = (x * x).tanh()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = Tensor(2.0, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == pytest.approx(8.0)


def test_backward_frees_intermediates_without_the_cycle_collector():
    gc.disable()
    try:
        x = Tensor(np.ones(1000), requires_grad=True)
        h = (x * 2).tanh()
        ref = weakref.ref(h.data)
        y = (h * h).sum()
        node = weakref.ref(y.grad_fn)
        del h
        assert ref() is not None  # saved by the multiplication for its backward
        y.backward()
        assert ref() is None  # released during the pass, while y still exists
        del y
        assert node() is None
    finally:
        gc.enable()


def test_saved_arrays_are_released_after_backward():
    x = Tensor(np.ones(4), requires_grad=True)
    y = (x.exp() * 3).sum()
    exp_node = y.grad_fn.edges[0].edges[0]
    assert exp_node.saved
    y.backward()
    assert exp_node.saved is None and exp_node.edges is None


def test_no_grad_records_nothing_and_restores_on_error():
    x = Tensor([1.0], requires_grad=True)
    with tg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(ZeroDivisionError), tg.no_grad():
        raise ZeroDivisionError
    assert tg.is_grad_enabled()


def test_no_grad_as_decorator():
    @tg.no_grad()
    def f(t):
        return t * 2

    assert not f(Tensor([1.0], requires_grad=True)).requires_grad
    assert tg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = Tensor(2.0, requires_grad=True)
    y = x * x.detach()
    y.backward()
    assert x.grad == pytest.approx(2.0)


def test_backward_needs_grad_for_non_scalar_output():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"output of shape \(2,\) has 2 elements; .* pass grad="):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2, 20])
    (x * 2).backward(Tensor([1.0, 1.0]))
    np.testing.assert_allclose(x.grad, [4, 22])


def test_backward_rejects_wrong_grad_shape():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"grad of shape \(3,\) does not match output of shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(1.0).backward()


def test_backward_on_a_leaf_fills_its_own_grad():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    x.backward(np.full((2, 2), 3.0))
    np.testing.assert_array_equal(x.grad, np.full((2, 2), 3.0))


def test_grad_returns_tensors_and_leaves_dot_grad_alone():
    x = Tensor([1.0, 2.0], requires_grad=True)
    w = Tensor([3.0, 4.0], requires_grad=True)
    gx, gw = tg.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.data, w.data)
    np.testing.assert_allclose(gw.data, x.data)
    assert x.grad is None and w.grad is None


def test_grad_of_an_intermediate_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    (gh,) = tg.grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.data, 2 * h.data)


def test_grad_unused_input_is_error_or_none():
    x = Tensor(1.0, requires_grad=True)
    z = Tensor(1.0, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="input 1 of shape \\(\\) is not used"):
        tg.grad(y, [x, z], retain_graph=True)
    gx, gz = tg.grad(y, [x, z], allow_unused=True)
    assert gz is None and gx.item() == 2.0


def test_grad_with_several_outputs_and_grad_outputs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.grad([x * 2, x * x], x, grad_outputs=[np.ones(2), np.array([1.0, 0.0])])
    np.testing.assert_allclose(g.data, [2 + 2, 2])


def test_create_graph_gives_second_derivatives():
    x = Tensor(0.7, requires_grad=True)
    (dy,) = tg.grad(x.tanh(), x, create_graph=True)
    (d2y,) = tg.grad(dy, x)
    t = np.tanh(0.7)
    assert dy.item() == pytest.approx(1 - t**2)
    assert d2y.item() == pytest.approx(-2 * t * (1 - t**2))


def test_hessian_vector_product():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    x = Tensor([0.5, -1.0], requires_grad=True)
    f = 0.5 * (x @ (a @ x)) + (x**3).sum()
    (g,) = tg.grad(f, x, create_graph=True)
    v = np.array([1.0, 2.0])
    (hv,) = tg.grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.data, a @ v + 6 * x.data * v)


def test_backward_create_graph_keeps_the_graph():
    x = Tensor(1.5, requires_grad=True)
    y = x**3
    y.backward(create_graph=True)
    assert x.grad == pytest.approx(3 * 1.5**2)
    y.backward()  # the graph was kept
    assert x.grad == pytest.approx(6 * 1.5**2)


def test_first_order_backward_records_nothing():
    x = Tensor(np.ones(3), requires_grad=True)
    seen = []

    class Spy(tg.Function):
        def forward(self, a):
            return a * 2

        def backward(self, grad):
            seen.append(type(grad))
            return (grad * 2,)

    Spy.apply(x).sum().backward()
    assert seen == [np.ndarray]


def test_indexed_gradients_stay_sparse_until_read_and_then_add_up():
    w = Tensor(np.zeros((3, 5)), requires_grad=True)
    ids = np.array([4, 1, 4])
    w.T[ids].sum().backward()  # a column lookup through a transpose: the gradient stays indexed
    assert isinstance(gradients.peek(w), gradients.IndexedGrad)
    w.T[np.array([0])].sum().backward()  # a second pass joins the pending parts
    expected = np.zeros((3, 5))
    expected[:, [0, 1]] = 1
    expected[:, 4] = 2
    np.testing.assert_array_equal(w.grad, expected)  # reading makes it dense, once
    assert gradients.peek(w) is w.grad and w.grad.flags.c_contiguous
    (w * 1.0).sum().backward()  # dense on top of dense
    np.testing.assert_array_equal(w.grad, expected + 1)
