"""Reductions over an axis (None, an int or a tuple), with or without keepdims, and running sums and products."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..function import Function, python_number, register
from ..shapes import check_axis, keepdims_shape, normalize_axis
from ..tensor import Tensor
from .elementwise import Exp, Where
from .movement import BroadcastTo


@register
class Sum(Function):
    """d sum(x) = grad broadcast back over the summed axes"""

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim, "sum")
        self.in_shape = x.shape
        self.kept_shape = keepdims_shape(x.shape, axes)
        return np.sum(x, axis=axes, keepdims=keepdims)

    def backward(self, grad):
        return (BroadcastTo.dispatch(grad.reshape(self.kept_shape), shape=self.in_shape),)


class _Extremum(Function):
    """max or min: the gradient goes to the elements equal to the result, split evenly between ties.

    A NaN wins the reduction (numpy's and PyTorch's rule); its gradient then goes to the NaNs
    alone, so the other elements' gradients stay finite. The reduction runs in the input's own
    dtype: exact for unsigned, int64 extremes and bool.
    """

    domains = ("distinct",)
    reduce = staticmethod(np.max)

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim, self.name)
        if x.size == 0 and (not x.ndim or any(x.shape[a] == 0 for a in axes)):  # an empty slice has no extremum
            raise ValueError(f"{self.name}: cannot reduce an empty array of shape {x.shape} over axis {axis}")
        out = self.reduce(x, axis=axes, keepdims=True)
        if self.needs_input_grad[0]:
            hit = x == out
            if out.dtype.kind in "fc" and np.isnan(out).any():
                hit |= np.isnan(x) & np.isnan(out)
            share = hit / np.sum(hit, axis=axes, keepdims=True)
            self.save_for_backward(share.astype(x.dtype, copy=False))
        self.kept_shape = out.shape
        return out if keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, grad, share):
        return (grad.reshape(self.kept_shape) * share,)


@register
class Max(_Extremum):
    """d max(x) = grad * (x == max) / (number of ties)"""

    name = "max"


@register
class Min(_Extremum):
    """d min(x) = grad * (x == min) / (number of ties)"""

    name = "min"
    reduce = staticmethod(np.min)


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    """How many elements each result of a reduction over ``axes`` combines."""
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _squeezed(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(n for i, n in enumerate(shape) if i not in axes)


@register
class Mean(Function):
    """d mean(x) = grad / n broadcast back over the n averaged elements

    One node, not sum then scale: half the cost of the composite (measured on a (32, 128) mean
    over the last axis: 6.4 µs against 11.6 µs forward). An empty reduction is NaN, as numpy's.
    """

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim, "mean")
        n = _count(x.shape, axes)
        self.scale = 1.0 / n if n else np.nan
        self.in_shape = x.shape
        self.kept_shape = keepdims_shape(x.shape, axes)
        if x.dtype.kind == "f":
            out = np.add.reduce(x, axis=axes, keepdims=keepdims)
            if type(out) is np.ndarray:
                out *= self.scale  # a fresh array: scaled in place
                return out
            return out * self.scale
        return np.sum(x, axis=axes, keepdims=keepdims) * self.scale  # integers and bools: a float mean

    def backward(self, grad):
        return (BroadcastTo.dispatch((grad * self.scale).reshape(self.kept_shape), shape=self.in_shape),)


def _check_correction(op: str, correction) -> None:
    if isinstance(correction, bool) or not isinstance(correction, (int, float, np.integer, np.floating)) \
            or not correction >= 0:
        raise ValueError(f"{op}: correction must be a number >= 0 (1 for the sample variance, 0 for the "
                         f"population's), got {correction!r}")


@register
class Var(Function):
    """d var(x) = grad * 2 (x - mean(x)) / (n - correction)

    One node: the core of layer norm. The centred input of the forward is kept for a first-order
    backward; under create_graph it is rebuilt from x, so the second derivative sees x - mean(x)
    as a function of x. ``n - correction <= 0`` divides by zero (inf or NaN), as PyTorch.
    """

    def forward(self, x, axis=None, keepdims=False, correction=1):
        _check_correction(self.name, correction)
        correction = python_number(correction)  # np.float64(1) must not widen float32
        axes = normalize_axis(axis, x.ndim, self.name)
        n = _count(x.shape, axes)
        divisor = n - correction if n > correction else 0
        self.axes, self.n = axes, n
        self.kept_shape = keepdims_shape(x.shape, axes)
        self.scale = 2.0 / divisor if divisor else np.inf
        if x.dtype.kind != "f":
            x = x.astype(np.float64)  # integers never require grad: nothing to save
        if divisor:
            d = x - np.add.reduce(x, axis=axes, keepdims=True) / n
            out = np.add.reduce(d * d, axis=axes, keepdims=keepdims) / divisor
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                d = x - np.add.reduce(x, axis=axes, keepdims=True) / n
                out = np.add.reduce(d * d, axis=axes, keepdims=keepdims) / divisor
        if self.needs_input_grad[0]:
            self.save_for_backward(x, d)
        return out

    def backward(self, grad, x, d):
        if isinstance(x, Tensor):  # recorded: the centring must be differentiated too
            d = x - x.sum(axis=self.axes, keepdims=True) * (1.0 / self.n if self.n else np.nan)
        return ((grad * self.scale).reshape(self.kept_shape) * d,)


@register
class Std(Var):
    """d std(x) = grad * (x - mean(x)) / ((n - correction) std), 0 where std = 0 (as PyTorch)

    One node, not sqrt(var): sqrt's gradient at a constant slice is 0 * inf = NaN, and a constant
    row (padding, say) must not poison ``(x - mean) / (std + eps)``.
    """

    def forward(self, x, axis=None, keepdims=False, correction=1):
        out = np.sqrt(super().forward(x, axis, keepdims, correction))
        self.scale = self.scale / 2  # (n - correction)⁻¹
        if self.needs_input_grad[0]:
            self.save_for_backward(*self.saved[:2], out)
        return out

    def backward(self, grad, x, d, out):
        if isinstance(x, Tensor):
            d = x - x.sum(axis=self.axes, keepdims=True) * (1.0 / self.n if self.n else np.nan)
        s = out.reshape(self.kept_shape)
        zero = (s.data if isinstance(s, Tensor) else s) == 0
        if not zero.any():
            return ((grad * self.scale).reshape(self.kept_shape) * d / s,)
        safe = Where.dispatch(zero, 1.0, s)
        return (Where.dispatch(zero, 0.0, (grad * self.scale).reshape(self.kept_shape) * d / safe),)


@register
class Prod(Function):
    """d prod(x) = grad * (the product of the other elements): out / x, exact where x has zeros

    With one zero in a reduced slice only the zero's own gradient is nonzero (the product of the
    others); with two or more every gradient is 0. The second derivative is exact at zeros too:
    the zeros enter the VJP as their own (zero-valued) sum, so their slopes are kept.
    """

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim, "prod")
        self.axes = axes
        self.kept_shape = keepdims_shape(x.shape, axes)
        if x.dtype.kind != "f":
            return np.prod(x, axis=axes, keepdims=keepdims)  # numpy's integer promotion; no gradient
        out = np.multiply.reduce(x, axis=axes, keepdims=keepdims)
        if self.needs_input_grad[0]:
            self.save_for_backward(x, out)  # zeros are looked for in the backward: the forward stays numpy's
        return out

    def backward(self, grad, x, out):
        g = grad.reshape(self.kept_shape)
        zero = _array(x) == 0
        if not zero.any():
            return (g * out.reshape(self.kept_shape) / x,)
        return (g * _product_of_others(x, zero, self.axes),)


def _array(x) -> np.ndarray:
    """A saved input's values: the array itself, or a recorded VJP's Tensor's data (a constant there)."""
    return x.data if isinstance(x, Tensor) else x


def _product_of_others(x, zero, axes):
    """For each element, the product of the others in its slice, for x with zeros (``zero`` marks them)."""
    count = np.sum(zero, axis=axes, keepdims=True)
    ones = Where.dispatch(zero, 1.0, x)  # the zeros replaced by ones: what is left has no zero
    rest = Prod.dispatch(ones, axis=axes, keepdims=True) / ones  # the product of the other nonzero elements
    zeros = Where.dispatch(zero, x, 0.0).sum(axis=axes, keepdims=True)  # 0, with slope 1 in each zero
    # times the product of the other zeros, right to first order: 1 with none, the zero itself with
    # one, the other zero for each of two, 0 otherwise
    others = Where.dispatch(count == 1, Where.dispatch(zero, 1.0, zeros),
                            Where.dispatch((count == 2) & zero, zeros - x, 0.0))
    return rest * Where.dispatch(count == 0, 1.0, others)


@register
class LogSumExp(Function):
    """d logsumexp(x) = grad * exp(x - out), the softmax over the reduced axes

    Shifted by the max, so large inputs do not overflow; float32 stays float32. An empty
    reduction is -inf (a sum of no exponentials), as PyTorch.
    """

    name = "logsumexp"

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim, "logsumexp")
        self.kept_shape = keepdims_shape(x.shape, axes)
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        m = np.asarray(np.maximum.reduce(x, axis=axes, keepdims=True, initial=-np.inf))
        if x.size and np.isfinite(m).all():
            out = np.log(np.add.reduce(np.exp(x - m), axis=axes, keepdims=True))
        else:  # an infinite max (or none at all) shifts by 0; log(0) = -inf is the answer, quietly
            m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
            with np.errstate(divide="ignore", invalid="ignore"):
                out = np.log(np.add.reduce(np.exp(x - m), axis=axes, keepdims=True))
        out += m
        if not keepdims:
            out = out.reshape(_squeezed(x.shape, axes))
        if self.needs_input_grad[0]:
            self.save_for_backward(x, out)
        return out

    def backward(self, grad, x, out):
        return (grad.reshape(self.kept_shape) * Exp.dispatch(x - out.reshape(self.kept_shape)),)


def _scan_axis(op: str, x, axis) -> int | None:
    """The axis of a running sum or product: None for a 0-d input given an int axis (PyTorch's dim)."""
    if x.ndim == 0:
        check_axis(axis, 1, op)
        return None
    return check_axis(axis, x.ndim, op)


def _reverse(axis: int) -> tuple:
    return (slice(None),) * axis + (slice(None, None, -1),)


def _reverse_cumsum(v, axis: int):
    """sum over j >= i along ``axis``: the adjoint of a running sum."""
    flip = _reverse(axis)
    return Cumsum.dispatch(v[flip], axis=axis)[flip]


@register
class Cumsum(Function):
    """d cumsum(x) = the running sum of grad taken from the end (flattened first for axis None)"""

    def forward(self, x, axis=None):
        self.in_shape = x.shape
        if axis is None:  # numpy's: over the flattened array
            self.axis = 0
            return np.cumsum(x)
        self.axis = _scan_axis("cumsum", x, axis)
        return np.cumsum(x, axis=self.axis) if self.axis is not None else x.copy()

    def backward(self, grad):
        if self.axis is None:
            return (grad,)
        return (_reverse_cumsum(grad, self.axis).reshape(self.in_shape),)


@register
class Cumprod(Function):
    """d cumprod(x) = (running sum from the end of grad * out) / x, exact at zeros

    Before a slice's first zero that formula holds; at the zero the gradient is the same sum with
    the running product of x with that zero taken as 1; after it the gradient is 0, and recorded
    (create_graph) as the zero times the VJP at x with that zero taken as 1, so that second
    derivatives see its slope.
    """

    def forward(self, x, axis=None):
        self.in_shape = x.shape
        self.flat = axis is None
        self.axis = 0 if axis is None else _scan_axis("cumprod", x, axis)
        if self.axis is None:
            return x.copy()
        out = np.cumprod(x, axis=axis)
        if self.needs_input_grad[0]:
            self.save_for_backward(x, out)
        return out

    def backward(self, grad, x=None, out=None):
        if self.axis is None:  # a 0-d input along an int axis: the identity, nothing saved
            return (grad,)
        if self.flat:
            x = x.reshape(-1)
        zero = _array(x) == 0
        return (_cumprod_vjp(grad, x, out, zero if zero.any() else None, self.axis).reshape(self.in_shape),)


def _cumprod_vjp(grad, x, out, zero, axis):
    """The VJP of ``out = cumprod(x, axis)``; ``zero`` marks x's zeros (None: there are none)."""
    if zero is None:
        return _reverse_cumsum(grad * out, axis) / x
    seen = np.cumsum(zero, axis=axis)
    before, first = seen == 0, zero & (seen == 1)  # before each slice's first zero; that zero
    skip = Where.dispatch(first, 1.0, x)  # x with each slice's first zero taken as 1
    skipped = Cumprod.dispatch(skip, axis=axis)
    if isinstance(x, Tensor):  # recorded: the VJP at skip, whole, for the slopes after the zero
        later = zero & ~first
        at_skip = _cumprod_vjp(grad, skip, skipped, later if later.any() else None, axis)
        after = Where.dispatch(first, x, 0.0).sum(axis=axis, keepdims=True) * at_skip
    else:  # first order: only its value at the zero is needed, and 0 after it
        at_skip, after = _reverse_cumsum(grad * skipped, axis), 0.0
    safe = Where.dispatch(zero, 1.0, x)
    return Where.dispatch(before, _reverse_cumsum(grad * out, axis) / safe, Where.dispatch(first, at_skip, after))


_NORMS = {1: "1", 2: "2", "fro": "2", np.inf: "inf", -np.inf: "-inf"}


def _norm_kind(p) -> str:
    kind = None if isinstance(p, bool) else _NORMS.get(p) if isinstance(p, (str, int, float, np.number)) else None
    if kind is None:
        raise ValueError(f"norm: p must be 1, 2, inf, -inf or 'fro', got {p!r}")
    return kind


@register
class Norm(Function):
    """d ‖x‖ = grad * x / out (p=2, 'fro'; 0 at x = 0), grad * sign(x) (p=1; at the max/min |x|, ties split, p=±inf)

    A vector norm of the elements over ``axis`` (PyTorch's ``torch.linalg.vector_norm``; 'fro' is
    its 2-norm), never numpy.linalg.norm's matrix norms.
    """

    domains = ("kink0",)

    def forward(self, x, p=2, axis=None, keepdims=False):
        kind = self.kind = _norm_kind(p)
        axes = self.axes = normalize_axis(axis, x.ndim, "norm")
        self.kept_shape = keepdims_shape(x.shape, axes)
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        if kind == "2":
            out = np.sqrt(np.add.reduce(x * x, axis=axes, keepdims=keepdims))
        elif kind == "1":
            out = np.add.reduce(np.abs(x), axis=axes, keepdims=keepdims)
        elif x.size == 0 and (not x.ndim or any(x.shape[a] == 0 for a in axes)):
            raise ValueError(f"norm: p={p!r} cannot reduce an empty array of shape {x.shape} over axis {axis}")
        else:
            out = (np.maximum if kind == "inf" else np.minimum).reduce(np.abs(x), axis=axes, keepdims=keepdims)
        if self.needs_input_grad[0]:
            self.save_for_backward(x, out)  # signs, ties and zeros are found in the backward
        return out

    def backward(self, grad, x, out):
        g = grad.reshape(self.kept_shape)
        data = _array(x)
        if self.kind == "1":  # the signs are constants: the second derivative is 0
            return (g * np.sign(data),)
        kept = out.reshape(self.kept_shape)
        if self.kind == "2":
            zero = _array(kept) == 0
            if zero.any():  # a zero vector: its gradient is 0 (x is 0 there), not 0 / 0
                kept = Where.dispatch(zero, 1.0, kept)
            return (g / kept * x,)
        a, top = np.abs(data), _array(kept)
        hit = a == top
        if np.isnan(top).any():  # a NaN wins: its gradient goes to the NaNs alone
            hit |= np.isnan(a) & np.isnan(top)
        return (g * (np.sign(data) * hit / np.sum(hit, axis=self.axes, keepdims=True)),)


class ValuesIndices(NamedTuple):
    """What ``max``/``min`` with ``return_indices=True`` give, like ``torch.max(x, dim)``."""

    values: Tensor
    indices: Tensor


def extremum_with_indices(x: Tensor, op: str, axis, keepdims: bool) -> ValuesIndices:
    """max or min along one axis, and the index of the first extreme element (NaN counts as extreme).

    The values are ``x`` indexed at those positions (one ``getitem`` node), so their gradient goes
    to the selected element alone, PyTorch's rule for a reduction along a dim.
    """
    if axis is None or isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{op}: return_indices=True needs an integer axis, got {axis!r}")
    data = x.data
    if data.ndim == 0:
        check_axis(axis, 1, op)
        return ValuesIndices(x.reshape(()), Tensor(np.zeros((), np.int64)))
    ax = check_axis(axis, data.ndim, op)
    if data.shape[ax] == 0:
        raise ValueError(f"{op}: cannot reduce the empty axis {ax} of an array of shape {data.shape}")
    idx = (np.argmax if op == "max" else np.argmin)(data, axis=ax, keepdims=True).astype(np.int64, copy=False)
    out_ndim = data.ndim if keepdims else data.ndim - 1
    index = []
    for i, n in enumerate(data.shape):
        if i == ax:
            index.append(idx if keepdims else idx.reshape(_squeezed(idx.shape, (ax,))))
            continue
        at = i if keepdims or i < ax else i - 1
        index.append(np.arange(n).reshape((1,) * at + (n,) + (1,) * (out_ndim - at - 1)))
    indices = index[ax]
    return ValuesIndices(x[tuple(index)], Tensor(indices))
