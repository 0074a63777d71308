"""Softmax, log-softmax and the fused softmax cross-entropy, all shifted by the max for stability."""

from __future__ import annotations

import numpy as np

from ..function import Function, register
from ..shapes import ShapeError
from ..tensor import Tensor
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


@register
class CrossEntropy(Function):
    """d cross_entropy(logits, t) = (softmax(logits) - onehot(t)) * grad, without building the one-hot

    Class scores lie along the last axis; ``targets`` has the shape of ``logits`` without it.
    """

    name = "cross_entropy"
    domains = ("any", "targets")

    def forward(self, logits, targets, reduction="mean", ignore_index=None):
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        targets = np.asarray(targets)
        if logits.ndim == 0:
            raise ShapeError("cross_entropy: logits need a class axis, got a 0-d array")
        if targets.dtype.kind not in "iu":
            raise TypeError(f"cross_entropy: targets must be integer class ids, got dtype {targets.dtype}")
        if targets.shape != logits.shape[:-1]:
            raise ShapeError(
                f"cross_entropy: targets of shape {targets.shape} do not match logits of shape "
                f"{logits.shape} (expected {logits.shape[:-1]})"
            )
        n_classes = logits.shape[-1]
        flat_t = targets.reshape(-1)
        valid = np.ones(flat_t.shape, bool) if ignore_index is None else flat_t != ignore_index
        bad = valid & ((flat_t < 0) | (flat_t >= n_classes))
        if bad.any():
            raise IndexError(
                f"cross_entropy: target id {flat_t[bad][0]} is out of range for {n_classes} classes"
            )
        flat = logits.reshape(-1, n_classes)
        rows = np.arange(flat.shape[0])
        safe_t = np.where(valid, flat_t, 0)
        top = flat.max(axis=1, keepdims=True)
        picked = flat[rows, safe_t] - top[:, 0]
        probs = flat - top
        np.exp(probs, out=probs)
        total = probs.sum(axis=1)
        losses = np.log(total) - picked
        probs /= total[:, None]
        losses[~valid] = 0
        self.reduction, self.in_shape = reduction, logits.shape
        self.count = int(valid.sum())
        self.save_for_backward(probs, valid, safe_t)  # not the logits: the probabilities are enough
        if reduction == "none":
            return losses.reshape(targets.shape)
        total_loss = losses.sum()
        return total_loss if reduction == "sum" else total_loss / max(self.count, 1)

    def backward(self, grad):
        probs, valid, safe_t = self.saved
        if self.reduction == "none":
            weight = grad.reshape((-1, 1))
        else:
            weight = grad if self.reduction == "sum" else grad * (1.0 / max(self.count, 1))
        rows = np.arange(len(safe_t))
        if isinstance(grad, Tensor):  # recorded (create_graph): softmax - onehot, differentiable again
            onehot = np.zeros(probs.shape, probs.dtype)
            onehot[rows, safe_t] = 1
            soft = Softmax.from_output(probs.reshape(self.in_shape), [self.edges[0]], axis=-1)
            g = (soft.reshape(probs.shape) - onehot) * (weight * valid[:, None])
        else:  # on its last use the saved probabilities become the gradient in place: no new (N, C) array
            g = probs if self.last_use else probs.copy()
            g[rows, safe_t] -= 1
            if self.count < len(valid):
                g *= valid[:, None]
            g *= weight
        return g.reshape(self.in_shape), None
