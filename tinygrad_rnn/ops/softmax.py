"""Softmax and log-softmax along an axis, shifted by the max for stability."""

from __future__ import annotations

import numpy as np

from ..function import Function, register
from .elementwise import Exp


def _shifted(x, axis):
    return x - np.max(x, axis=axis, keepdims=True)


@register
class Softmax(Function):
    """d softmax(x) = out * (grad - sum(grad * out, axis))"""

    def forward(self, x, axis=-1):
        self.axis = axis
        e = np.exp(_shifted(x, axis))
        out = e / np.sum(e, axis=axis, keepdims=True)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out = self.saved[0]
        return (out * (grad - (grad * out).sum(axis=self.axis, keepdims=True)),)


@register
class LogSoftmax(Function):
    """d log_softmax(x) = grad - exp(out) * sum(grad, axis)"""

    name = "log_softmax"

    def forward(self, x, axis=-1):
        self.axis = axis
        s = _shifted(x, axis)
        out = s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out = self.saved[0]
        return (grad - Exp.dispatch(out) * grad.sum(axis=self.axis, keepdims=True),)
