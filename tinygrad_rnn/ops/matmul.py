"""Matrix product: 1-D, 2-D and batched N-D with broadcast batch dimensions, like ``numpy.matmul``."""

from __future__ import annotations

import numpy as np

from .. import gradients
from ..function import Function, register
from ..shapes import ShapeError, unbroadcast


@register
class MatMul(Function):
    """d(x @ y) = grad @ yᵀ, xᵀ @ grad (vectors promoted to matrices, batch dims summed back)"""

    def forward(self, x, y):
        xs, ys = np.shape(x), np.shape(y)
        if len(xs) == 0 or len(ys) == 0:
            raise ShapeError(f"matmul: both operands need at least 1 dimension, got {xs} @ {ys}")
        if xs[-1] != ys[0 if len(ys) == 1 else -2]:
            raise ShapeError(f"matmul: inner dims differ, {xs} @ {ys}")
        try:
            np.broadcast_shapes(xs[:-2], ys[:-2])
        except ValueError:
            raise ShapeError(f"matmul: batch dimensions do not broadcast, {xs} @ {ys}") from None
        self.save_for_backward(x, y)
        return np.matmul(x, y)

    def backward(self, grad, x, y):
        x2 = x.reshape((1,) + x.shape) if x.ndim == 1 else x
        y2 = y.reshape(y.shape + (1,)) if y.ndim == 1 else y
        # the output lost the promoted axes: put them back so both products are plain matmuls
        if x.ndim == 1:
            at = grad.ndim - 1 if y.ndim > 1 else grad.ndim
            grad = grad.reshape(grad.shape[:at] + (1,) + grad.shape[at:])
        if y.ndim == 1:
            grad = grad.reshape(grad.shape + (1,))
        gx = gy = None
        if self.needs_input_grad[0]:
            gx = unbroadcast(grad @ y2.swapaxes(-1, -2), x2.shape).reshape(x.shape)
        if self.needs_input_grad[1]:
            gy = unbroadcast(x2.swapaxes(-1, -2) @ grad, y2.shape).reshape(y.shape)
        return gx, gy


_ACTIVATIONS = (None, "tanh", "relu")


@register
class Linear(Function):
    """d f(x @ wᵀ + b) = gz @ w, gzᵀ @ x, gz with gz = grad * f'(out): w's gradient in w's own layout

    ``activation`` (None, "tanh" or "relu") fuses the nonlinearity of a dense layer into the same
    node: one op per step of an unrolled RNN instead of two.
    """

    name = "linear"

    def forward(self, x, w, b=None, activation=None):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"linear: activation must be None, 'tanh' or 'relu', got {activation!r}")
        xs, ws = np.shape(x), np.shape(w)
        if len(ws) != 2 or len(xs) == 0 or xs[-1] != ws[1]:
            raise ShapeError(f"linear: needs x (..., in) and a 2-d weight (out, in), got {xs} and {ws}")
        out = np.matmul(x, w.T)
        if b is not None:
            try:
                full = np.broadcast_shapes(np.shape(b), out.shape)
            except ValueError:
                raise ShapeError(f"linear: a bias of shape {np.shape(b)} does not broadcast to the output's "
                                 f"shape {out.shape}") from None
            if full != out.shape:
                raise ShapeError(f"linear: a bias of shape {np.shape(b)} would broadcast the output of shape "
                                 f"{out.shape} to {full}; give a bias of shape {out.shape[-1:]} or {out.shape}")
            if np.result_type(out, b) == out.dtype:
                out += b  # the product is a fresh array: add the bias in place
            else:
                out = out + b
        self.activation = activation
        if activation == "tanh":
            np.tanh(out, out=out)
        elif activation == "relu":
            np.maximum(out, 0, out=out)
        self.save_for_backward(x, w, out if activation else None)  # f' is read off the output
        return out

    def backward(self, grad, x, w, out):
        if self.activation == "tanh":
            grad = grad * (1 - out * out)
        elif self.activation == "relu":
            grad = grad * (out > 0)
        gx = grad @ w if self.needs_input_grad[0] else None
        gw = None
        if self.needs_input_grad[1]:  # few rows: deferred, so all uses of w are summed by one matmul
            gw = gradients.outer(grad.reshape((-1, w.shape[0])), x.reshape((-1, w.shape[1])), w.shape)
        return gx, gw, grad if self.needs_input_grad[2] else None
