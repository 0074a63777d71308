"""Tensor construction, dtype policy, operators and the errors users see."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import ShapeError, Tensor


def test_tensor_from_lists_scalars_and_arrays():
    assert Tensor([1.0, 2.0]).shape == (2,)
    assert Tensor(3.0).ndim == 0 and Tensor(3.0).item() == 3.0
    a = np.arange(6.0).reshape(2, 3)
    t = Tensor(a)
    assert t.data is a and t.size == 6 and t.T.shape == (3, 2)
    assert Tensor([1, 2]).dtype == np.int64
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32


def test_data_is_live_storage():
    t = Tensor(np.zeros(3), requires_grad=True)
    t.data[1] = 5.0
    (t * 1.0).sum().backward()
    assert t.numpy()[1] == 5.0 and t.grad.shape == (3,)


def test_requires_grad_on_integer_tensor_is_a_clear_error():
    with pytest.raises(TypeError, match="requires_grad=True needs a floating-point dtype, got int64"):
        Tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="unsupported dtype"):
        Tensor(["a"])


def test_float32_stays_float32_with_python_scalars():
    x = Tensor(np.ones(3, np.float32), requires_grad=True)
    for y in (x * 2.5, 2.5 * x, x + 1, 1 - x, x / 3, 3 / x, x ** 2, 2 ** x, -x, x.exp(), x.tanh()):
        assert y.dtype == np.float32
    y = (x * 2.5).sum()
    y.backward()
    assert x.grad.dtype == np.float32


def test_mixed_float_dtypes_follow_numpy_promotion():
    a = Tensor(np.ones(2, np.float32), requires_grad=True)
    b = Tensor(np.ones(2, np.float64), requires_grad=True)
    c = a * b
    assert c.dtype == np.result_type(np.float32, np.float64)
    c.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_reflected_operators_with_arrays_on_the_left():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x + np.array([1.0, 1.0]) - x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 3.0])
    z = np.eye(2) @ x
    assert isinstance(z, Tensor)


def test_comparisons_return_non_differentiable_tensors():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (x > 1.5, x >= 2, x < 2, x <= 2, x == 2, x != 2):
        assert isinstance(r, Tensor) and r.dtype == bool and not r.requires_grad
    np.testing.assert_array_equal((x > 1.5).data, [False, True, True])
    assert len({x, x}) == 1  # still hashable by identity


def test_repr_is_readable():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert repr(Tensor([1.0], requires_grad=True)) == "Tensor([1.], requires_grad=True)"
    assert repr(Tensor([1.0], requires_grad=True) * 2) == "Tensor([2.], grad_fn=<Mul>)"
    assert "dtype=float32" in repr(Tensor(np.ones(1, np.float32)))


def test_methods_mirror_numpy_names():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(4, 6).shape == (4, 6) and x.reshape((4, 6)).shape == (4, 6)
    assert x.transpose(2, 0, 1).shape == (4, 2, 3) and x.transpose((2, 0, 1)).shape == (4, 2, 3)
    assert x.permute(1, 0, 2).shape == (3, 2, 4)
    assert x.swapaxes(0, 2).shape == (4, 3, 2)
    assert x.sum(axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert x.flatten().shape == (24,)
    assert [t.shape for t in Tensor(np.ones((2, 3)))] == [(3,), (3,)]


def test_matmul_shape_error_names_op_and_shapes():
    with pytest.raises(ShapeError, match=r"matmul: inner dims differ, \(3, 4\) @ \(5, 2\)"):
        Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match="matmul: both operands need at least 1 dimension"):
        Tensor(1.0) @ Tensor(np.ones(2))


def test_broadcast_error_names_op_and_shapes():
    with pytest.raises(ShapeError, match=r"add: shapes \(3,\), \(4,\) do not broadcast together"):
        Tensor(np.ones(3)) + Tensor(np.ones(4))
    with pytest.raises(ShapeError, match=r"mul: shapes \(2, 3\), \(2,\) do not broadcast together"):
        Tensor(np.ones((2, 3))) * np.ones(2)


def test_cat_and_stack_errors_name_the_shapes():
    with pytest.raises(ShapeError, match=r"cat: cannot concatenate shapes \(2, 3\), \(3, 3\) along axis 1"):
        tg.cat([Tensor(np.ones((2, 3))), Tensor(np.ones((3, 3)))], axis=1)
    with pytest.raises(ShapeError, match=r"stack: all inputs must have the same shape, got \(2,\), \(3,\)"):
        tg.stack([Tensor(np.ones(2)), Tensor(np.ones(3))])


def test_reshape_transpose_and_index_errors():
    with pytest.raises(ShapeError, match=r"reshape: cannot reshape an array of shape \(2, 3\) into \(4,\)"):
        Tensor(np.ones((2, 3))).reshape(4)
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0\) are not a permutation") as bad:
        Tensor(np.ones((2, 3))).transpose(0, 0)
    assert not isinstance(bad.value, ShapeError)  # a bad option, not a shape clash
    with pytest.raises(IndexError, match=r"getitem: .* invalid for shape \(2,\)"):
        Tensor(np.ones(2))[5]
    with pytest.raises(tg.AxisError, match="sum: axis 2 is out of range") as bad:
        Tensor(np.ones((2, 3))).sum(axis=2)
    assert isinstance(bad.value, IndexError) and isinstance(bad.value, ValueError)  # as numpy's AxisError


def test_clip_with_lo_above_hi_is_an_error():
    with pytest.raises(ValueError, match="clip: the lower bound lo=2 is greater than the upper bound hi=1") as bad:
        F.clip(Tensor([0.0]), 2, 1)
    assert not isinstance(bad.value, ShapeError)


@pytest.mark.parametrize("scale", [1e4, -1e4, 1e300])
def test_softmax_family_stays_finite_for_huge_logits(scale):
    x = Tensor(np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -3.0]]) * scale, requires_grad=True)
    for fn in (F.softmax, F.log_softmax):
        y = fn(x)
        y.backward(np.ones_like(y.data))
        assert np.isfinite(y.data).all() and np.isfinite(x.grad).all()
    loss = F.cross_entropy(x, np.array([1, 2]))
    loss.backward()
    assert np.isfinite(loss.data) and np.isfinite(x.grad).all()


def test_cross_entropy_errors_name_the_problem():
    logits = Tensor(np.zeros((2, 4)))
    with pytest.raises(IndexError, match="target id 9 is out of range for 4 classes"):
        F.cross_entropy(logits, np.array([1, 9]))
    with pytest.raises(TypeError, match="targets must be integer class ids"):
        F.cross_entropy(logits, np.array([1.0, 2.0]))
    with pytest.raises(ShapeError, match=r"targets of shape \(3,\) do not match logits of shape \(2, 4\)"):
        F.cross_entropy(logits, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="reduction must be"):
        F.cross_entropy(logits, np.array([1, 2]), reduction="avg")


def test_cross_entropy_ignores_padding_entirely():
    x = Tensor(np.random.default_rng(0).standard_normal((3, 5)), requires_grad=True)
    F.cross_entropy(x, np.array([1, -100, 4]), ignore_index=-100).backward()
    np.testing.assert_array_equal(x.grad[1], 0.0)
    all_ignored = F.cross_entropy(x, np.array([-100, -100, -100]), ignore_index=-100)
    assert all_ignored.item() == 0.0


# --- in-place changes and version counters -----------------------------------------------
def test_in_place_methods_change_the_data_and_count_versions():
    t = Tensor(np.array([1.0, 2.0, 3.0]))
    storage = t.data
    assert t.add_(1) is t and t._version == 1
    t.sub_(Tensor([1.0, 1.0, 1.0])).mul_(2)
    np.testing.assert_array_equal(t.data, [2.0, 4.0, 6.0])
    t[1] = 10.0
    t.copy_(t.data * 0.5)
    assert t.data is storage and t._version == 5
    np.testing.assert_array_equal(t.data, [1.0, 5.0, 3.0])
    t.fill_(7).zero_()
    assert t._version == 7 and not t.data.any()


def test_in_place_errors_name_the_op_and_the_shapes():
    t = Tensor(np.zeros(3))
    with pytest.raises(ShapeError, match=r"add_: a value of shape \(4,\) does not broadcast to .* \(3,\)"):
        t.add_(np.ones(4))
    with pytest.raises(TypeError, match="mul_: cannot write a float64 value into a tensor of dtype int64"):
        Tensor(np.arange(3)).mul_(0.5)
    with pytest.raises(ValueError, match="read-only"):
        Tensor(np.ones(3)).broadcast_to((2, 3)).detach().zero_()
    assert t._version == 0  # a refused change is not counted


def test_a_leaf_that_requires_grad_changes_in_place_only_under_no_grad():
    w = Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad .* no_grad"):
        w.add_(1)
    with tg.no_grad():
        w.add_(1)
    np.testing.assert_array_equal(w.data, [2.0, 2.0])
    y = w * 2
    with pytest.raises(RuntimeError, match=r"__setitem__: this tensor is the result of a recorded operation \(<Mul>\)"):
        y[0] = 1.0


def test_backward_after_a_saved_tensor_changed_in_place_is_an_error():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = Tensor(np.array([3.0, 4.0]))
    y = (x * c).sum()
    c.add_(1)  # c was saved by the multiplication for x's gradient
    with pytest.raises(RuntimeError, match=r"backward through mul: its input 1, a tensor of shape \(2,\) "
                                           r"\(float64\) .* changed in place .* \(version 1, saved at 0\)"):
        y.backward()


def test_an_optimizer_step_between_forward_and_backward_is_an_error():
    from tinygrad_rnn.optim import SGD

    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    first = (w * w).sum()
    first.backward(retain_graph=True)
    SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="backward through mul: its input 0"):
        first.backward()


def test_a_changed_output_and_a_changed_view_are_caught():
    x = Tensor(np.array([0.5, 1.0]), requires_grad=True)
    y = x.exp()  # saves its output
    z = y.sum()
    with tg.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="backward through exp: its output"):
        z.backward()
    base = Tensor(np.arange(6.0))
    view = base.reshape(2, 3)  # shares base's memory, and so its version count
    out = (x.reshape(2, 1) * view).sum()
    base.add_(1)
    assert view._version == base._version == 1
    with pytest.raises(RuntimeError, match="backward through mul"):
        out.backward()


def test_detach_shares_the_version_count_and_data_writes_are_not_counted():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    d = x.detach()
    d.add_(1)
    assert x._version == 1
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()
    z = (x * x).sum()
    x.data += 1  # written directly: not tracked (documented)
    z.backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)


def test_increment_version_marks_a_change_made_by_other_means():
    x = Tensor(np.ones(2), requires_grad=True)
    y = (x * x).sum()
    x.data[0] = 5.0
    tg.increment_version(x)
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()


def test_grad_setter_checks_the_shape():
    x = Tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"grad: expected None or an array of shape \(3,\)"):
        x.grad = np.zeros(4)
    x.grad = np.ones(3, np.float32)
    assert x.grad.dtype == np.float64


@pytest.mark.parametrize("call, message", [
    (lambda: F.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))), activation="gelu"),
     "linear: activation must be None, 'tanh' or 'relu', got 'gelu'"),
    (lambda: F.cross_entropy(Tensor(np.ones((2, 3))), np.array([0, 1]), reduction="avg"),
     "cross_entropy: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    (lambda: F.linear_cross_entropy(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))), np.array([0, 1]),
                                    reduction="avg"),
     "linear_cross_entropy: reduction must be"),
    (lambda: F.clip(Tensor([1.0]), 3.0, 1.0), "clip: the lower bound"),
])
def test_a_bad_option_is_a_value_error_naming_it_not_a_shape_error(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as bad:
        call()
    assert not isinstance(bad.value, ShapeError)


def test_a_bad_option_is_refused_before_any_work(monkeypatch):
    calls = []
    real = np.matmul
    monkeypatch.setattr(np, "matmul", lambda *a, **k: calls.append("matmul") or real(*a, **k))
    F.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))))
    assert calls == ["matmul"]  # the spy sees the work
    with pytest.raises(ValueError, match="activation"):
        F.linear(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))), activation="gelu")
    assert calls == ["matmul"]  # refused before any


@pytest.mark.parametrize("call", [
    lambda: Tensor(np.ones((2, 3))).softmax(axis=2),
    lambda: Tensor(np.ones((2, 3))).max(axis=-3),
    lambda: tg.cat([Tensor(np.ones(2)), Tensor(np.ones(2))], axis=1),
    lambda: tg.stack([Tensor(np.ones(2))], axis=3),
    lambda: Tensor(np.ones((2, 3))).swapaxes(0, 2),
])
def test_an_axis_out_of_range_is_an_index_error_and_a_value_error(call):
    with pytest.raises(tg.AxisError) as bad:
        call()
    assert isinstance(bad.value, IndexError) and isinstance(bad.value, ValueError)
    assert not isinstance(bad.value, ShapeError)


def test_a_cast_to_integers_or_bool_leaves_the_graph():
    x = Tensor([0.3, 1.7, 2.2], requires_grad=True)
    for dtype in (np.int64, np.bool_):
        assert not x.astype(dtype).requires_grad and x.astype(dtype).grad_fn is None
    y = (x.astype(np.int64) * 2.0 + x).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])  # the integer path carries no gradient


@pytest.mark.parametrize("write", [
    lambda out, v: out.__setitem__(0, v),
    lambda out, v: out.add_(v),
    lambda out, v: out.copy_(v),
])
def test_writing_a_value_that_requires_grad_in_place_is_refused(write):
    w = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = Tensor(np.zeros(3))
    with pytest.raises(RuntimeError, match="the value requires grad, and an in-place write is not recorded"):
        write(out, (w * 2).sum())
    assert out._version == 0
    write(out, w.detach().sum())  # a detached value is fine


def test_augmented_assignment_writes_in_place_outside_the_graph_and_rebinds_inside():
    p = Tensor(np.ones(3), requires_grad=True)
    p.grad = np.full(3, 2.0)
    alias = p
    with tg.no_grad():
        p -= 0.1 * p.grad  # the numpy and PyTorch idiom of a hand-written SGD step
    assert p is alias and p._version == 1
    np.testing.assert_allclose(p.data, [0.8, 0.8, 0.8])
    with pytest.raises(RuntimeError, match="sub_: a leaf tensor that requires grad"):
        p -= 1.0
    total = 0
    for k in range(3):
        total += (p * k).sum()  # a tensor in the graph: a new tensor, as total = total + ...
    total.backward()
    np.testing.assert_allclose(p.grad, [2.0 + 3.0] * 3)
    buffer = Tensor(np.ones(2))
    before = buffer.data
    buffer *= 3.0
    buffer /= 2.0
    assert buffer.data is before and buffer._version == 2
    np.testing.assert_array_equal(buffer.data, [1.5, 1.5])


@pytest.mark.parametrize("call, kind, message", [
    (lambda: Tensor(np.arange(3)).__setitem__(0, np.nan), ValueError, "cannot convert float NaN to integer"),
    (lambda: Tensor(np.ones(3)).copy_("abc"), ValueError, "copy_: could not convert"),
    (lambda: Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 2))), ShapeError,
     r"matmul: batch dimensions do not broadcast, \(2, 3, 4\) @ \(5, 4, 2\)"),
    (lambda: Tensor(np.ones(3)).clip(np.zeros(2), np.ones(2)), ShapeError, r"clip: bounds of shapes \(2,\), \(2,\)"),
    (lambda: Tensor(np.ones(3)).sum(axis=True), TypeError, "sum: axis must be None, an integer"),
    (lambda: F.cross_entropy(Tensor(np.ones((2, 3))), np.array([0, 1]), ignore_index="a"), TypeError,
     "cross_entropy: ignore_index must be None or an integer"),
    (lambda: F.linear(Tensor(np.ones(3)), Tensor(np.ones((4, 3))), Tensor(np.ones((2, 4)))), ShapeError,
     r"linear: a bias of shape \(2, 4\) would broadcast the output of shape \(4,\) to \(2, 4\)"),
])
def test_errors_say_what_kind_of_problem_it_is(call, kind, message):
    with pytest.raises(kind, match=message) as bad:
        call()
    if kind is ValueError:
        assert not isinstance(bad.value, ShapeError)


def test_clip_takes_tensor_bounds_as_constants():
    x = Tensor(np.array([-2.0, 0.5, 3.0]), requires_grad=True)
    out = F.clip(x, Tensor(0.0), Tensor(1.0))
    np.testing.assert_array_equal(out.data, [0.0, 0.5, 1.0])
    with pytest.raises(RuntimeError, match="clip: a bound that requires grad gets no gradient here"):
        x.clip(Tensor(0.0, requires_grad=True), None)


def test_pytorch_keyword_names_are_accepted_beside_numpys():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert t.flip(dims=(0,)).tolist() == t.flip(0).tolist()
    assert t.permute(dims=(1, 0)).shape == (3, 2)
    assert t[None].squeeze(dim=0).shape == (2, 3) and t.unsqueeze(dim=0).shape == (1, 2, 3)
    assert F.unsqueeze(t, dim=-1).shape == (2, 3, 1) and F.squeeze(t[None], dim=0).shape == (2, 3)
    assert t.expand(size=(2, 2, 3)).shape == (2, 2, 3)
    np.testing.assert_array_equal(t.tril(diagonal=1).data, np.tril(t.data, 1))
    np.testing.assert_array_equal(F.triu(t, diagonal=-1).data, np.triu(t.data, -1))
    np.testing.assert_array_equal(t.diagonal(offset=1, dim1=0, dim2=1).data, [1.0, 5.0])
    with pytest.raises(TypeError, match=r"tril: got both k=1 and diagonal=2; they are one option"):
        t.tril(1, diagonal=2)
    with pytest.raises(TypeError, match="permute: give the axes either positionally or as dims=, not both"):
        t.permute(1, 0, dims=(1, 0))
    with pytest.raises(TypeError, match="unsqueeze: give the axis"):
        t.unsqueeze()


def test_writing_through_a_diagonal_changes_the_matrix_as_in_pytorch():
    W = Tensor(np.ones((3, 3)))
    with tg.no_grad():
        W.diagonal().fill_(0.0)
    np.testing.assert_array_equal(W.data, 1 - np.eye(3))
    assert W._version == 1  # the view shares the matrix's version count
