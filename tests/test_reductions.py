"""Reductions and linear algebra: forward against float64 numpy, first and second derivatives by finite differences."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import Tensor, gradcheck, gradgradcheck
from tinygrad_rnn.testing.strategies import axis_args, inputs_for, seeds, shapes

from sweep import check, covers, domains

SMALL = shapes(max_side=3)  # second derivatives perturb every element: keep the arrays small


def _axes(ndim: int, axis) -> tuple[int, ...]:
    """numpy's reading of ``axis`` (None, an int, a tuple) as non-negative axes; none for a 0-d array."""
    if ndim == 0:
        return ()
    return tuple(range(ndim)) if axis is None else tuple(a % ndim for a in ((axis,) if isinstance(axis, int) else axis))


def _count(shape, axis) -> int:
    return int(np.prod([shape[a] for a in _axes(len(shape), axis)], dtype=int))


def _with_zeros(x: Tensor, seed: int, most: int = 3) -> Tensor:
    """x with up to ``most`` of its elements set to exactly 0."""
    rng = np.random.default_rng(seed + 1)
    flat = x.data.reshape(-1)
    flat[rng.choice(flat.size, size=min(int(rng.integers(0, most + 1)), flat.size), replace=False)] = 0.0
    return x


# --- reductions ----------------------------------------------------------------------------
@covers("mean")
@given(shape=shapes(), data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_mean_over_any_axes(shape, data, keepdims, seed):
    axis = data.draw(axis_args(len(shape)))
    (x,) = inputs_for([shape], ["any"], seed)
    check(lambda t: t.mean(axis=axis, keepdims=keepdims), [x],
          lambda a: np.sum(a, axis=axis, keepdims=keepdims) / max(_count(shape, axis), 1))
    assert x.mean(axis=axis).grad_fn.name == "mean"  # one fused node, not sum then scale


@covers("var", "std")
@given(shape=SMALL, data=st.data(), keepdims=st.booleans(), correction=st.sampled_from([0, 1, 0.5, 2]), seed=seeds)
def test_var_and_std_with_a_correction(shape, data, keepdims, correction, seed):
    axis = data.draw(axis_args(len(shape)))
    (x,) = inputs_for([shape], ["any"], seed)
    n = _count(shape, axis)

    def reference(a):
        centred = a - np.sum(a, axis=axis, keepdims=True) / n
        return np.sum(centred ** 2, axis=axis, keepdims=keepdims) / (n - correction)

    if n <= correction:  # no degrees of freedom left: a division by zero, as PyTorch
        assert not np.isfinite(x.var(axis=axis, correction=correction).data).any()
        return
    check(lambda t: t.var(axis=axis, keepdims=keepdims, correction=correction), [x], reference)
    if n > 1:  # the std of one element is 0 whatever it is: its gradient is 0 there, as PyTorch's
        check(lambda t: t.std(axis=axis, keepdims=keepdims, correction=correction), [x],
              lambda a: np.sqrt(reference(a)))


def test_std_of_a_constant_slice_has_gradient_zero_as_pytorch():
    x = Tensor(np.array([[1.0, 2.0, 4.0], [5.0, 5.0, 5.0]]), requires_grad=True)
    ((x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-5)).sum().backward()
    assert np.isfinite(x.grad).all()
    z = Tensor(np.zeros(3), requires_grad=True)
    z.std().backward()
    np.testing.assert_array_equal(z.grad, 0.0)
    assert z.std().grad_fn.name == "std"


def test_var_defaults_to_the_sample_variance_unlike_numpy():
    x = Tensor(np.array([1.0, 2.0, 4.0]))
    np.testing.assert_allclose(x.var().item(), np.var(x.data, ddof=1))
    np.testing.assert_allclose(F.std(x, correction=0).item(), np.std(x.data))
    assert x.var().grad_fn is None and Tensor(x.data, requires_grad=True).var().grad_fn.name == "var"


def test_var_keeps_float32_and_is_one_node():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32), requires_grad=True)
    v = x.var(axis=-1, keepdims=True)
    assert v.dtype == np.float32 and v.grad_fn.name == "var" and v.grad_fn.edges[0] is x
    v.sum().backward()
    assert x.grad.dtype == np.float32


@covers("prod")
@given(shape=SMALL, data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_prod_with_and_without_zeros(shape, data, keepdims, seed):
    axis = data.draw(axis_args(len(shape)))
    (x,) = inputs_for([shape], ["any"], seed)
    x = _with_zeros(x, seed)

    axes = _axes(len(shape), axis)

    def reference(a):  # one multiplication at a time, in float64
        out = np.ones([1 if i in axes else n for i, n in enumerate(shape)])
        for idx in np.ndindex(a.shape):
            out[tuple(0 if i in axes else k for i, k in enumerate(idx))] *= a[idx]
        return out if keepdims else out.reshape([n for i, n in enumerate(shape) if i not in axes])

    check(lambda t: t.prod(axis=axis, keepdims=keepdims), [x], reference)


@pytest.mark.parametrize("values, grad, hessian", [
    ([2.0, 3.0, 5.0], [15.0, 10.0, 6.0], [[0, 5, 3], [5, 0, 2], [3, 2, 0]]),
    ([0.0, 3.0, 5.0], [15.0, 0.0, 0.0], [[0, 5, 3], [5, 0, 0], [3, 0, 0]]),
    ([0.0, 0.0, 5.0], [0.0, 0.0, 0.0], [[0, 5, 0], [5, 0, 0], [0, 0, 0]]),
    ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [[0, 0, 0], [0, 0, 0], [0, 0, 0]]),
])
def test_prod_at_zeros_is_exact_to_second_order(values, grad, hessian):
    x = Tensor(np.array(values), requires_grad=True)
    (g,) = tg.grad(x.prod(), x, create_graph=True)
    np.testing.assert_array_equal(g.data, grad)
    rows = [tg.grad(g[i], x, retain_graph=True)[0].data for i in range(3)]
    np.testing.assert_array_equal(np.stack(rows), hessian)


@covers("logsumexp")
@given(shape=SMALL, data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_logsumexp_over_any_axes(shape, data, keepdims, seed):
    axis = data.draw(axis_args(len(shape)))
    check(lambda t: t.logsumexp(axis=axis, keepdims=keepdims), inputs_for([shape], ["any"], seed),
          lambda a: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)))


def test_logsumexp_is_stable_for_large_inputs_and_keeps_float32():
    x = Tensor(np.array([[1000.0, 1000.0], [-1000.0, -1001.0]], np.float32), requires_grad=True)
    y = F.logsumexp(x, axis=1)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, [1000 + np.log(2), -1000 + np.log1p(np.exp(-1))], rtol=1e-6)
    y.sum().backward()
    # exp(x - out), as PyTorch: good to float32's rounding of out (an ulp of 1000 is 6e-5)
    np.testing.assert_allclose(x.grad, [[0.5, 0.5], [1 / (1 + np.exp(-1)), 1 - 1 / (1 + np.exp(-1))]], rtol=1e-4)
    assert F.logsumexp(Tensor([np.inf, 1.0])).item() == np.inf
    assert F.logsumexp(Tensor([-np.inf, -np.inf])).item() == -np.inf


@st.composite
def scan_axis(draw, ndim):
    """None (flatten, as numpy) or one axis; a 0-d tensor takes 0 and -1 (PyTorch's dim)."""
    return draw(st.one_of(st.none(), st.integers(-max(ndim, 1), max(ndim, 1) - 1)))


def _scan_reference(ufunc, axis):
    def reference(a):
        if axis is not None and a.ndim == 0:
            return a
        flat = a.reshape(-1) if axis is None else np.moveaxis(a, axis, -1)
        out = np.empty_like(flat)
        for idx in np.ndindex(flat.shape[:-1]):
            total = 0.0 if ufunc is np.add else 1.0
            for k in range(flat.shape[-1]):
                total = ufunc(total, flat[idx + (k,)])
                out[idx + (k,)] = total
        return out if axis is None else np.moveaxis(out, -1, axis)
    return reference


@covers("cumsum", "cumprod")
@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@given(shape=SMALL, data=st.data(), seed=seeds)
def test_cumsum_and_cumprod_along_an_axis_or_flattened(name, shape, data, seed):
    axis = data.draw(scan_axis(len(shape)))
    (x,) = inputs_for([shape], ["any"], seed)
    if name == "cumprod":
        x = _with_zeros(x, seed)  # exact at zeros, to second order
    check(lambda t: getattr(t, name)(axis=axis), [x], _scan_reference(np.add if name == "cumsum" else np.multiply,
                                                                       axis))


def test_cumprod_at_zeros_matches_the_product_of_the_others():
    x = Tensor(np.array([2.0, 0.0, 3.0, 0.0, 5.0]), requires_grad=True)
    x.cumprod().sum().backward()
    # d/dx_i sum_j cumprod_j: only the first zero's own gradient (2 + 2*3) and x_0's (1 + 0 ...) survive
    np.testing.assert_array_equal(x.grad, [1.0, 2.0 + 2.0 * 3.0, 0.0, 0.0, 0.0])


@covers("norm")
@pytest.mark.parametrize("p", [1, 2, np.inf, -np.inf, "fro"])
@given(shape=SMALL, data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_norm_kinds_over_any_axes(p, shape, data, keepdims, seed):
    axis = data.draw(axis_args(len(shape)))
    if p in (np.inf, -np.inf) and _count(shape, axis) == 0:
        return
    reduce = {1: lambda a: np.sum(np.abs(a), axis=axis, keepdims=keepdims),
              2: lambda a: np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdims)),
              np.inf: lambda a: np.max(np.abs(a), axis=axis, keepdims=keepdims),
              -np.inf: lambda a: np.min(np.abs(a), axis=axis, keepdims=keepdims)}
    check(lambda t: t.norm(p, axis=axis, keepdims=keepdims), inputs_for([shape], domains("norm", 1), seed),
          reduce[2 if p == "fro" else p])


def test_norm_gradient_at_the_zero_vector_is_zero_as_pytorch():
    x = Tensor(np.array([[0.0, 0.0], [3.0, 4.0]]), requires_grad=True)
    x.norm(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.0, 0.0], [0.6, 0.8]], rtol=1e-15, atol=0)


def test_norm_inf_splits_the_gradient_between_ties():
    x = Tensor(np.array([3.0, -3.0, 1.0]), requires_grad=True)
    x.norm(np.inf).backward()
    np.testing.assert_array_equal(x.grad, [0.5, -0.5, 0.0])


@pytest.mark.parametrize("name", ["max", "min"])
@given(shape=shapes(min_dims=1), data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_max_and_min_with_indices_route_the_gradient_to_the_selected_element(name, shape, data, keepdims, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    values = np.round(np.random.default_rng(seed).uniform(-2, 2, shape), 1)  # ties happen
    x = Tensor(values, requires_grad=True)
    out = getattr(x, name)(axis=axis, keepdims=keepdims, return_indices=True)
    want = getattr(np, f"arg{name}")(values, axis=axis, keepdims=keepdims)
    assert out.indices.dtype == np.int64 and out.indices.grad_fn is None
    np.testing.assert_array_equal(out.indices.data, want)
    np.testing.assert_array_equal(out.values.data, getattr(np, name)(values, axis=axis, keepdims=keepdims))
    values_, indices = out  # a namedtuple, like torch.max(x, dim)
    cotangent = np.random.default_rng(seed).standard_normal(values_.shape)
    values_.backward(cotangent)
    expected = np.zeros(shape)
    np.put_along_axis(expected, want if keepdims else np.expand_dims(want, axis),
                      cotangent if keepdims else np.expand_dims(cotangent, axis), axis=axis)
    np.testing.assert_array_equal(x.grad, expected)  # the first of ties takes it all
    (d,) = inputs_for([shape], ["distinct"], seed)
    check(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims, return_indices=True).values, [d])


def test_max_without_indices_still_splits_ties_numpy_style():
    x = Tensor(np.array([[1.0, 3.0, 3.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5]])
    x.grad = None
    x.max(axis=1, return_indices=True).values.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0]])


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(shape=shapes(), data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_argmax_and_argmin_are_int64_and_never_recorded(name, shape, data, keepdims, seed):
    axis = data.draw(st.one_of(st.none(), st.integers(-max(len(shape), 1), max(len(shape), 1) - 1)))
    values = np.round(np.random.default_rng(seed).uniform(-2, 2, shape), 1)
    x = Tensor(values, requires_grad=True)
    out = getattr(x, name)(axis=axis, keepdims=keepdims)
    ref = getattr(np, name)(values, axis=None if values.ndim == 0 else axis, keepdims=keepdims)
    assert out.dtype == np.int64 and out.grad_fn is None and not out.requires_grad
    np.testing.assert_array_equal(out.data, ref)
    np.testing.assert_array_equal(getattr(F, name)(values, axis=axis, keepdims=keepdims).data, ref)


@pytest.mark.parametrize("name", ["any", "all"])
@given(shape=shapes(), data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_any_and_all_are_bool_tensors(name, shape, data, keepdims, seed):
    axis = data.draw(axis_args(len(shape)))
    values = np.random.default_rng(seed).integers(0, 3, shape) * 0.5
    out = getattr(Tensor(values, requires_grad=True), name)(axis=axis, keepdims=keepdims)
    assert out.dtype == np.bool_ and out.grad_fn is None
    np.testing.assert_array_equal(out.data, getattr(np, name)(values != 0, axis=axis, keepdims=keepdims))
    np.testing.assert_array_equal(getattr(F, name)(values, axis=axis, keepdims=keepdims).data, out.data)


# --- size 0 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, want", [
    (lambda t: t.mean(axis=0), np.full(3, np.nan)),
    (lambda t: t.var(axis=0), np.full(3, np.nan)),
    (lambda t: t.prod(axis=0), np.ones(3)),
    (lambda t: t.logsumexp(axis=0), np.full(3, -np.inf)),
    (lambda t: t.norm(axis=0), np.zeros(3)),
    (lambda t: t.norm(1), np.array(0.0)),
    (lambda t: t.cumsum(axis=0), np.zeros((0, 3))),
    (lambda t: t.cumprod(), np.zeros(0)),
    (lambda t: t.prod(axis=1), np.zeros(0)),
    (lambda t: F.einsum("ij,jk->ik", t.T, Tensor(np.ones((0, 2)))), np.zeros((3, 2))),
    (lambda t: F.einsum("ij->j", t), np.zeros(3)),
    (lambda t: t.any(axis=0), np.zeros(3, bool)),
    (lambda t: t.all(axis=0), np.ones(3, bool)),
])
def test_sum_like_reductions_over_no_elements(fn, want):
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    out = fn(x)
    np.testing.assert_array_equal(out.data, want)
    if out.requires_grad and out.size:
        out.backward(np.ones(out.shape))
        assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("fn, message", [
    (lambda t: t.norm(np.inf, axis=0), r"norm: p=inf cannot reduce an empty array of shape \(0, 3\)"),
    (lambda t: t.norm(-np.inf), r"norm: p=-inf cannot reduce an empty array of shape \(0, 3\)"),
    (lambda t: t.argmax(), r"argmax: cannot reduce an empty array of shape \(0, 3\)"),
    (lambda t: t.argmin(axis=0), r"argmin: cannot reduce an empty array of shape \(0, 3\)"),
    (lambda t: t.max(axis=0, return_indices=True), r"max: cannot reduce the empty axis 0 of .* \(0, 3\)"),
    (lambda t: t.min(axis=-2, return_indices=True), r"min: cannot reduce the empty axis 0 of an array of shape"),
])
def test_max_like_reductions_refuse_no_elements(fn, message):
    with pytest.raises(ValueError, match=message):
        fn(Tensor(np.zeros((0, 3)), requires_grad=True))


# --- linear algebra ----------------------------------------------------------------------------
@st.composite
def einsum_problems(draw):
    """One- or two-operand einsums: transposes, batch dims (letters or '...'), contractions, sums over an
    index of one operand only, repeated indices (diagonals), explicit and implicit outputs."""
    sizes = {c: draw(st.integers(1, 3)) for c in "abcd"}
    batch = draw(st.sampled_from(["", "z", "zy"]))
    sizes.update(z=draw(st.integers(1, 2)), y=draw(st.integers(1, 2)))
    n_ops = draw(st.integers(1, 2))
    terms = []
    for _ in range(n_ops):
        letters = draw(st.lists(st.sampled_from("abcd"), min_size=0, max_size=3 - len(batch)))
        terms.append(batch + "".join(letters))
    used = sorted(set("".join(terms)) - set(batch))
    ellipsis = bool(batch) and draw(st.booleans())
    if draw(st.booleans()):  # explicit output: some of the letters, in any order
        out = "".join(draw(st.permutations(used))[: draw(st.integers(0, len(used)))])
        out = batch + out
        written = out.replace(batch, "...", 1) if ellipsis else out
        arrow = "->" + written
    else:  # numpy's implicit output: the letters used once, sorted (after the ellipsis' dims, if any)
        joined = "".join(t[len(batch):] if ellipsis else t for t in terms)
        out = (batch if ellipsis else "") + "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
        arrow = ""
    shown = [t.replace(batch, "...", 1) if ellipsis else t for t in terms]
    return ",".join(shown) + arrow, terms, out, sizes


def _einsum_reference(terms, out, sizes):
    letters = sorted(set("".join(terms)))

    def reference(*arrays):
        result = np.zeros(tuple(sizes[c] for c in out))
        for values in itertools.product(*(range(sizes[c]) for c in letters)):
            at = dict(zip(letters, values))
            term = 1.0
            for t, a in zip(terms, arrays):
                term *= a[tuple(at[c] for c in t)]
            result[tuple(at[c] for c in out)] += term
        return result
    return reference


@covers("einsum")
@given(problem=einsum_problems(), seed=seeds)
def test_einsum_against_a_loop_over_every_index(problem, seed):
    subscripts, terms, out, sizes = problem
    inputs = inputs_for([tuple(sizes[c] for c in t) for t in terms], ["any"] * len(terms), seed)
    check(lambda *xs: F.einsum(subscripts, *xs), inputs, _einsum_reference(terms, out, sizes))


@given(shared=st.lists(st.integers(1, 3), max_size=2), a_free=st.lists(st.integers(1, 3), max_size=1),
       b_free=st.lists(st.integers(1, 3), max_size=1), data=st.data(), seed=seeds)
def test_tensordot_matches_numpy(shared, a_free, b_free, data, seed):
    k = len(shared)
    inputs = inputs_for([tuple(a_free + shared), tuple(shared + b_free)], ["any", "any"], seed)
    check(lambda a, b: F.tensordot(a, b, axes=k), inputs, lambda a, b: np.tensordot(a, b, axes=k))
    order = data.draw(st.permutations(range(k)))  # the same pairs as a pair of lists, in any order
    axes = ([len(a_free) + i for i in order], list(order))
    check(lambda a, b: F.tensordot(a, b, axes=axes), inputs, lambda a, b: np.tensordot(a, b, axes=axes),
          second_order=False)


@st.composite
def diagonal_problems(draw, min_dims):
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=min_dims, max_size=3 if min_dims == 2 else 2)))
    ndim = len(shape) + (min_dims == 1)  # diag_embed adds an axis
    axis1, axis2 = (a - ndim * draw(st.booleans()) for a in draw(st.permutations(range(ndim)))[:2])
    return shape, draw(st.integers(-3, 3)), axis1, axis2


def _diagonal_reference(offset, axis1, axis2):
    def reference(a):
        moved = np.moveaxis(a, (axis1, axis2), (-2, -1))
        rows, cols = moved.shape[-2:]
        picked = [moved[..., i, i + offset] for i in range(rows) if 0 <= i + offset < cols]
        return np.stack(picked, axis=-1) if picked else np.zeros(moved.shape[:-2] + (0,))
    return reference


def _diag_embed_reference(offset, axis1, axis2):
    def reference(a):
        ndim, side = a.ndim + 1, a.shape[-1] + abs(offset)
        a1, a2 = axis1 % ndim, axis2 % ndim
        batch = iter(a.shape[:-1])
        out = np.zeros([side if d in (a1, a2) else next(batch) for d in range(ndim)])
        moved = np.moveaxis(out, (a1, a2), (-2, -1))  # a view: writing to it fills out
        for i in range(a.shape[-1]):
            moved[..., max(-offset, 0) + i, max(offset, 0) + i] = a[..., i]
        return out
    return reference


@covers("diagonal", "diag_embed")
@given(problem=diagonal_problems(2), embedded=diagonal_problems(1), seed=seeds)
def test_diagonal_and_its_adjoint_diag_embed(problem, embedded, seed):
    shape, offset, axis1, axis2 = problem
    (x,) = inputs_for([shape], ["any"], seed)
    check(lambda t: t.diagonal(offset, axis1, axis2), [x], _diagonal_reference(offset, axis1, axis2))
    shape, offset, axis1, axis2 = embedded
    (v,) = inputs_for([shape], ["any"], seed)
    check(lambda t: F.diag_embed(t, offset, axis1, axis2), [v], _diag_embed_reference(offset, axis1, axis2))
    np.testing.assert_array_equal(F.diag_embed(v, offset, axis1, axis2).diagonal(offset, axis1, axis2).data, v.data)


@given(n=st.integers(1, 4), m=st.integers(1, 4), k=st.integers(-4, 4), seed=seeds)
def test_diag_goes_both_ways_as_numpy(n, m, k, seed):
    vector, matrix = inputs_for([(n,), (n, m)], ["any", "any"], seed)
    check(lambda t: F.diag(t, k), [vector], lambda a: np.diag(a, k))
    check(lambda t: t.diag(k), [matrix], lambda a: np.diag(a, k))


@covers("trace")
@given(n=st.integers(1, 4), m=st.integers(1, 4), seed=seeds)
def test_trace_sums_the_main_diagonal(n, m, seed):
    check(lambda t: F.trace(t), inputs_for([(n, m)], ["any"], seed),
          lambda a: sum(a[i, i] for i in range(min(n, m))))


@covers("tril", "triu")
@pytest.mark.parametrize("name", ["tril", "triu"])
@given(shape=shapes(min_dims=2, max_side=3), k=st.integers(-3, 3), seed=seeds)
def test_tril_and_triu_keep_one_side_of_the_kth_diagonal(name, shape, k, seed):
    rows, cols = np.indices(shape[-2:])
    keep = cols - rows <= k if name == "tril" else cols - rows >= k
    check(lambda t: getattr(F, name)(t, k), inputs_for([shape], ["any"], seed), lambda a: np.where(keep, a, 0.0))


# --- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, error, message", [
    (lambda t: t.var(correction=-1), ValueError, "var: correction must be a number >= 0.*got -1"),
    (lambda t: F.std(t, correction="n"), ValueError, "std: correction must be a number >= 0.*got 'n'"),
    (lambda t: t.norm(p=3), ValueError, "norm: p must be 1, 2, inf, -inf or 'fro', got 3"),
    (lambda t: t.norm(p="nuc"), ValueError, "norm: p must be .* got 'nuc'"),
    (lambda t: t.var(axis=2), tg.AxisError, "var: axis 2 is out of range for an array of 2 dimensions"),
    (lambda t: t.prod(axis=(0, -3)), tg.AxisError, "prod: axis -3 is out of range"),
    (lambda t: t.logsumexp(axis=(1, 1)), ValueError, "logsumexp: repeated axis"),
    (lambda t: t.cumsum(axis=2), tg.AxisError, "cumsum: axis 2 is out of range"),
    (lambda t: t.cumprod(axis=(0,)), TypeError, "cumprod: axis must be an integer"),
    (lambda t: t.argmax(axis=-3), tg.AxisError, "argmax: axis -3 is out of range"),
    (lambda t: t.max(return_indices=True), ValueError, "max: return_indices=True needs an integer axis, got None"),
    (lambda t: t.min(axis=(0, 1), return_indices=True), ValueError, r"min: return_indices=True needs an integer axis"),
    (lambda t: t.max(axis=2, return_indices=True), tg.AxisError, "max: axis 2 is out of range"),
    (lambda t: F.einsum("ij;jk", t, t), ValueError, "einsum: invalid subscripts 'ij;jk'"),
    (lambda t: F.einsum("ij->i->j", t), ValueError, "einsum: invalid subscripts 'ij->i->j': more than one '->'"),
    (lambda t: F.einsum("ij,jk->ik", t), ValueError, "einsum: .*'ij,jk->ik': they name 2 operand.*got 1"),
    (lambda t: F.einsum("ijk->i", t), ValueError, "einsum: .*operand 0 has 2 dimension.*'ijk' name 3"),
    (lambda t: F.einsum("ij->k", t), ValueError, "einsum: .*the output's 'k' is in no operand"),
    (lambda t: F.einsum("ij->ii", t), ValueError, "einsum: .*the output repeats 'i'"),
    (lambda t: F.einsum("i..j", t), ValueError, "einsum: .*stray '.'"),
    (lambda t: F.einsum("...j->j", t), ValueError, r"einsum: .*broadcast dimension.*\('...'\)"),
    (lambda t: F.einsum(None, t), ValueError, "einsum: subscripts must be a string"),
    (lambda t: F.einsum("ij,ij->i", t, Tensor(np.ones((2, 4)))), tg.ShapeError,
     r"einsum: index 'j' .* is 3 in one operand and 4 in another; shapes \(2, 3\), \(2, 4\)"),
    (lambda t: F.einsum("ii->i", t), tg.ShapeError, r"einsum: index 'i' .* sides 2 and 3 .* shape \(2, 3\)"),
    (lambda t: F.tensordot(t, t, axes=1), tg.ShapeError, r"tensordot: axis 1 of shape \(2, 3\) \(3\) does not match"),
    (lambda t: F.tensordot(t, t, axes=3), ValueError, "tensordot: axes=3 must be between 0 and the smaller rank"),
    (lambda t: F.tensordot(t, t, axes=([0], [0, 1])), ValueError, "tensordot: axes .* pair 1 axes of a with 2"),
    (lambda t: F.tensordot(t, t, axes=([0], [5])), tg.AxisError, "tensordot: axis 5 is out of range"),
    (lambda t: t.diagonal(0, 1, -1), ValueError, "diagonal: axis1 and axis2 must be different axes, got 1 and -1"),
    (lambda t: t.diagonal(axis2=2), tg.AxisError, "diagonal: axis 2 is out of range"),
    (lambda t: t[0].diagonal(), tg.ShapeError, r"diagonal: needs at least 2 dimensions, got shape \(3,\)"),
    (lambda t: F.diag(t.reshape(1, 2, 3)), tg.ShapeError, r"diag: needs a 1-d or 2-d tensor, got shape \(1, 2, 3\)"),
    (lambda t: t.reshape(1, 2, 3).trace(), tg.ShapeError, r"trace: needs a 2-d tensor, got shape \(1, 2, 3\)"),
    (lambda t: t[0].tril(), tg.ShapeError, r"tril: needs at least 2 dimensions, got shape \(3,\)"),
    (lambda t: t.triu(0.5), TypeError, "triu: the diagonal offset must be an integer, got 0.5"),
])
def test_bad_options_and_shapes_are_named(fn, error, message):
    with pytest.raises(error, match=message):
        fn(Tensor(np.ones((2, 3)), requires_grad=True))


# --- against PyTorch -----------------------------------------------------------------------------
def _torch_pair(torch, values):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True), \
        torch.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def _same(torch, ours, theirs, x, tx):
    """Values, and gradients against one random cotangent, agree in float64."""
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-12)
    v = np.random.default_rng(0).standard_normal(ours.shape)
    ours.backward(v)
    theirs.backward(torch.tensor(v))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [
    "var", "var correction 0", "var correction 2 keepdims", "std", "std correction 0 all",
    "prod zeros axis 1", "prod zeros axis 0", "prod one zero all", "logsumexp", "cumsum", "cumprod zeros",
    "cumprod flat",
    "norm 1", "norm 2", "norm inf", "norm -inf", "norm fro", "norm 2 zero row",
    "max indices", "min indices keepdims", "diagonal 1", "diagonal -1 (2, 0)", "diag", "diag_embed", "trace",
    "tril", "triu", "einsum bij,bjk->bik", "einsum ij->ji", "einsum ii->i", "einsum i,j", "einsum ...ij,...j",
    "tensordot",
])
def test_matches_pytorch_in_float64(case):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    base = rng.uniform(-2, 2, (3, 4))
    zeros = base.copy()
    zeros[0, 1] = zeros[1, 0] = zeros[1, 2] = 0.0
    x, tx = _torch_pair(torch, zeros if "zero" in case else base)
    other = rng.uniform(-2, 2, (4, 2))
    y, ty = Tensor(other), torch.tensor(other)
    pairs = {
        "var": (lambda t: t.var(axis=1), lambda t: t.var(dim=1)),
        "var correction 0": (lambda t: t.var(axis=0, correction=0), lambda t: t.var(dim=0, correction=0)),
        "var correction 2 keepdims": (lambda t: t.var(axis=1, correction=2, keepdims=True),
                                      lambda t: t.var(dim=1, correction=2, keepdim=True)),
        "std": (lambda t: t.std(axis=1), lambda t: t.std(dim=1)),
        "std correction 0 all": (lambda t: t.std(correction=0), lambda t: t.std(correction=0)),
        "prod zeros axis 1": (lambda t: t.prod(axis=1), lambda t: t.prod(dim=1)),  # rows with 1 and 2 zeros
        "prod zeros axis 0": (lambda t: t.prod(axis=0), lambda t: t.prod(dim=0)),
        "prod one zero all": (lambda t: t[0].prod(), lambda t: t[0].prod()),
        "logsumexp": (lambda t: t.logsumexp(axis=1), lambda t: t.logsumexp(dim=1)),
        "cumsum": (lambda t: t.cumsum(axis=0), lambda t: t.cumsum(dim=0)),
        "cumprod zeros": (lambda t: t.cumprod(axis=1), lambda t: t.cumprod(dim=1)),
        "cumprod flat": (lambda t: t.cumprod(), lambda t: t.flatten().cumprod(dim=0)),
        "norm 1": (lambda t: t.norm(1, axis=1), lambda t: torch.linalg.vector_norm(t, 1, dim=1)),
        "norm 2": (lambda t: t.norm(axis=0), lambda t: torch.linalg.vector_norm(t, 2, dim=0)),
        "norm inf": (lambda t: t.norm(np.inf, axis=1), lambda t: torch.linalg.vector_norm(t, float("inf"), dim=1)),
        "norm -inf": (lambda t: t.norm(-np.inf), lambda t: torch.linalg.vector_norm(t, float("-inf"))),
        "norm fro": (lambda t: t.norm("fro"), lambda t: torch.norm(t, p="fro")),
        "norm 2 zero row": (lambda t: (t * np.array([[0.0], [1], [1]])).norm(axis=1),
                            lambda t: (t * torch.tensor([[0.0], [1], [1]], dtype=torch.float64)).norm(dim=1)),
        "max indices": (lambda t: t.max(axis=1, return_indices=True).values, lambda t: t.max(dim=1).values),
        "min indices keepdims": (lambda t: t.min(axis=0, keepdims=True, return_indices=True).values,
                                 lambda t: t.min(dim=0, keepdim=True).values),
        "diagonal 1": (lambda t: t.diagonal(1), lambda t: t.diagonal(1)),
        "diagonal -1 (2, 0)": (lambda t: t.reshape(3, 2, 2).diagonal(-1, 2, 0),
                               lambda t: t.reshape(3, 2, 2).diagonal(-1, 2, 0)),
        "diag": (lambda t: F.diag(t[0], -1), lambda t: torch.diag(t[0], -1)),
        "diag_embed": (lambda t: F.diag_embed(t, 1, 0, 2), lambda t: torch.diag_embed(t, 1, 0, 2)),
        "trace": (lambda t: t.trace(), lambda t: t.trace()),
        "tril": (lambda t: t.tril(1), lambda t: t.tril(1)),
        "triu": (lambda t: t.triu(-1), lambda t: t.triu(-1)),
        "einsum bij,bjk->bik": (lambda t: F.einsum("bij,bjk->bik", t.reshape(3, 2, 2), t.reshape(3, 2, 2)),
                                lambda t: torch.einsum("bij,bjk->bik", t.reshape(3, 2, 2), t.reshape(3, 2, 2))),
        "einsum ij->ji": (lambda t: F.einsum("ij->ji", t), lambda t: torch.einsum("ij->ji", t)),
        "einsum ii->i": (lambda t: F.einsum("ii->i", t[:, :3]), lambda t: torch.einsum("ii->i", t[:, :3])),
        "einsum i,j": (lambda t: F.einsum("i,j", t[0], t[1]), lambda t: torch.einsum("i,j", t[0], t[1])),
        "einsum ...ij,...j": (lambda t: F.einsum("...ij,...j", t.reshape(3, 2, 2), t[:, 2:]),
                              lambda t: torch.einsum("...ij,...j", t.reshape(3, 2, 2), t[:, 2:])),
        "tensordot": (lambda t: F.tensordot(t, y, axes=([1], [0])),
                      lambda t: torch.tensordot(t, ty, dims=([1], [0]))),
    }
    ours, theirs = pairs[case]
    _same(torch, ours(x), theirs(tx), x, tx)


def test_max_with_indices_matches_pytorch_on_ties():
    torch = pytest.importorskip("torch")
    x, tx = _torch_pair(torch, [[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    values, indices = x.max(axis=1, return_indices=True)
    t_values, t_indices = tx.max(dim=1)
    np.testing.assert_array_equal(indices.data, t_indices.numpy())
    values.sum().backward()
    t_values.sum().backward()
    np.testing.assert_array_equal(x.grad, tx.grad.numpy())


def test_second_derivatives_match_pytorch_at_zeros():
    torch = pytest.importorskip("torch")
    values = [[2.0, 0.0, 3.0, 0.0], [1.5, -2.0, 0.0, 4.0]]
    for ours, theirs in [(lambda t: t.prod(axis=1), lambda t: t.prod(dim=1)),
                         (lambda t: t.cumprod(axis=1), lambda t: t.cumprod(dim=1))]:
        x, tx = _torch_pair(torch, values)
        out, t_out = ours(x), theirs(tx)
        v = np.random.default_rng(1).standard_normal(out.shape)
        (g,) = tg.grad(out, x, grad_outputs=v, create_graph=True)
        (tg_,) = torch.autograd.grad(t_out, tx, grad_outputs=torch.tensor(v), create_graph=True)
        np.testing.assert_allclose(g.data, tg_.detach().numpy(), rtol=1e-12, atol=1e-12)
        w = np.random.default_rng(2).standard_normal((2, 4))
        (h,) = tg.grad((g * w).sum(), x)
        (th,) = torch.autograd.grad((tg_ * torch.tensor(w)).sum(), tx)
        np.testing.assert_allclose(h.data, th.numpy(), rtol=1e-12, atol=1e-12)


def test_second_order_through_einsum_matches_gradgradcheck_on_a_quadratic_form():
    rng = np.random.default_rng(3)
    a = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    v = Tensor(rng.standard_normal(3), requires_grad=True)
    quad = lambda a, v: F.einsum("i,ij,j->", v, a, v)
    assert gradcheck(quad, [a, v]) and gradgradcheck(quad, [a, v])


def test_extrema_of_empty_slices_are_refused_but_empty_results_are_fine():
    x = Tensor(np.zeros((3, 0)), requires_grad=True)
    assert x.max(axis=0).shape == (0,) and x.min(axis=0).shape == (0,) and x.norm(np.inf, axis=0).shape == (0,)
    x.max(axis=0).sum().backward()
    assert x.grad.shape == (3, 0)
    with pytest.raises(ValueError, match=r"max: cannot reduce an empty array of shape \(3, 0\) over axis 1"):
        x.max(axis=1)


def test_a_second_derivative_of_var_over_an_empty_axis_is_nan_not_a_crash():
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    (g,) = tg.grad(x.var(axis=0).sum(), [x], create_graph=True)
    assert g.shape == (0, 3)
