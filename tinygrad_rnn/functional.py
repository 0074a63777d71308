"""Stateless functions with numpy-style signatures; each returns a Tensor."""

from __future__ import annotations

from collections.abc import Sequence

from . import ops
from .tensor import Tensor


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x) -> Tensor:
    return ops.Exp.apply(x)


def log(x) -> Tensor:
    return ops.Log.apply(x)


def sqrt(x) -> Tensor:
    return ops.Sqrt.apply(x)


def tanh(x) -> Tensor:
    return ops.Tanh.apply(x)


def sigmoid(x) -> Tensor:
    return ops.Sigmoid.apply(x)


def relu(x) -> Tensor:
    return ops.Relu.apply(x)


def abs(x) -> Tensor:  # noqa: A001 - numpy's name
    return ops.Abs.apply(x)


def matmul(x, y) -> Tensor:
    return ops.MatMul.apply(x, y)


def linear(x, w, b=None, activation: str | None = None) -> Tensor:
    """activation(x @ wᵀ + b) for x (..., in), w (out, in), b broadcastable to the result and
    activation None, "tanh" or "relu": one primitive, with w's gradient in w's own layout."""
    return ops.Linear.apply(x, w, b, activation=activation)


def where(cond, x, y) -> Tensor:
    """Elements of ``x`` where ``cond`` is true, else of ``y``; differentiable in ``x`` and ``y``."""
    return ops.Where.apply(cond, x, y)


def clip(x, lo, hi) -> Tensor:
    """Limit ``x`` to ``[lo, hi]`` (either may be None); the gradient is zero where it was clipped."""
    return ops.Clip.apply(x, lo=lo, hi=hi)


def cat(tensors: Sequence, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``numpy.concatenate``)."""
    return ops.Cat.apply(*tensors, axis=axis)


def stack(tensors: Sequence, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis (``numpy.stack``)."""
    return ops.Stack.apply(*tensors, axis=axis)


def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - numpy's name
    return _t(x).sum(axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    return _t(x).mean(axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - numpy's name
    return _t(x).max(axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - numpy's name
    return _t(x).min(axis=axis, keepdims=keepdims)


def reshape(x, shape) -> Tensor:
    return _t(x).reshape(shape)


def transpose(x, axes=None) -> Tensor:
    return _t(x).transpose(axes) if axes is not None else _t(x).transpose()


def broadcast_to(x, shape) -> Tensor:
    return _t(x).broadcast_to(shape)


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, computed after subtracting the max (finite for any finite x)."""
    return ops.Softmax.apply(x, axis=axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    """log(softmax(x)) along ``axis`` without forming softmax first."""
    return ops.LogSoftmax.apply(x, axis=axis)


def cross_entropy(logits, targets, reduction: str = "mean", ignore_index: int | None = None) -> Tensor:
    """Softmax cross-entropy of class scores (last axis) against integer targets, fused.

    ``reduction='mean'`` averages over the targets that are not ``ignore_index`` (0 when there
    are none), ``'sum'`` adds them, ``'none'`` returns one loss per target.
    """
    return ops.CrossEntropy.apply(logits, targets, reduction=reduction, ignore_index=ignore_index)


def linear_cross_entropy(x, w, targets, reduction: str = "mean", ignore_index: int | None = None) -> Tensor:
    """``cross_entropy(linear(x, w), targets, ...)`` as one primitive: an output layer and its loss
    with one (N, classes) array instead of two."""
    return ops.LinearCrossEntropy.apply(x, w, targets, reduction=reduction, ignore_index=ignore_index)


# --- elementwise math (ops/math_ops.py) --------------------------------------------------


# --- activations (ops/activations.py) ----------------------------------------------------


# --- more reductions and linear algebra (ops/reduce.py, ops/linalg.py) -------------------


# --- more movement (ops/movement.py) -----------------------------------------------------


# --- losses ------------------------------------------------------------------------------
