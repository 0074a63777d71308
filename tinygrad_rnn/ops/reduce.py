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


@register
class Max(Function):
    """d max(x) = grad * (x == max) / (number of ties): tied maxima share the gradient evenly"""

    domains = ("distinct",)

    def forward(self, x, axis=None, keepdims=False):
        axes = normalize_axis(axis, x.ndim, "max")
        if x.size == 0:
            raise ValueError(f"max: cannot reduce an empty array of shape {x.shape}")
        out = np.max(x, axis=axes, keepdims=True)
        hit = x == out
        share = hit / np.sum(hit, axis=axes, keepdims=True)
        self.save_for_backward(share.astype(x.dtype, copy=False))
        self.kept_shape = out.shape
        return out if keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, grad):
        return (grad.reshape(self.kept_shape) * self.saved[0],)
