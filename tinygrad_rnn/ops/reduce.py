"""Reductions over an axis (None, an int or a tuple), with or without keepdims."""

from __future__ import annotations

import numpy as np

from ..function import Function, register
from ..shapes import keepdims_shape, normalize_axis
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
        if x.size == 0:
            raise ValueError(f"{self.name}: cannot reduce an empty array of shape {x.shape}")
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
