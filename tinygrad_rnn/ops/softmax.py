"""Softmax and log-softmax along an axis, shifted by the max for stability."""

from __future__ import annotations

import numpy as np

from ..function import Function, register
from ..shapes import check_axis
from .elementwise import Exp


def _shifted(x, axis):
    return x - np.max(x, axis=axis, keepdims=True)


def _axis(op: str, x, axis) -> int | None:
    """The checked axis; None for a 0-d array, which accepts 0 and -1 as PyTorch does."""
    if x.ndim:
        return check_axis(axis, x.ndim, op)
    check_axis(axis, 1, op)
    return None


@register
class Softmax(Function):
    """d softmax(x) = out * (grad - sum(grad * out, axis))"""

    def forward(self, x, axis=-1):
        self.axis = axis = _axis("softmax", x, axis)
        e = np.exp(_shifted(x, axis))
        out = e / np.sum(e, axis=axis, keepdims=True)
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (out * (grad - (grad * out).sum(axis=self.axis, keepdims=True)),)


@register
class LogSoftmax(Function):
    """d log_softmax(x) = grad - exp(out) * sum(grad, axis)"""

    name = "log_softmax"

    def forward(self, x, axis=-1):
        self.axis = axis = _axis("log_softmax", x, axis)
        s = _shifted(x, axis)
        out = s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
        self.save_for_backward(out)
        return out

    def backward(self, grad, out):
        return (grad - Exp.dispatch(out) * grad.sum(axis=self.axis, keepdims=True),)
