"""Fused softmax cross-entropy, alone and behind the output layer of a language model.

The gradient of softmax cross-entropy with respect to the scores is softmax − onehot(target):
both primitives compute the probabilities once in forward, keep only them, and on the last
backward turn them into the gradient in place — the (N, classes) array, the largest of a
language model, is never copied and no one-hot matrix is built.
"""

from __future__ import annotations

import numpy as np

from ..function import Function, register
from ..shapes import ShapeError
from ..sparse import OuterGrad
from ..tensor import Tensor
from .softmax import Softmax

_REDUCTIONS = ("mean", "sum", "none")


def _targets(op: str, scores_shape, targets, reduction, ignore_index):
    """Checked targets, flattened: (valid mask, ids safe to index with)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    targets = np.asarray(targets)
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class ids, got dtype {targets.dtype}")
    if targets.shape != scores_shape[:-1]:
        raise ShapeError(f"{op}: targets of shape {targets.shape} do not match logits of shape {scores_shape} "
                         f"(expected {scores_shape[:-1]})")
    n_classes = scores_shape[-1]
    flat = targets.reshape(-1)
    valid = np.ones(flat.shape, bool) if ignore_index is None else flat != ignore_index
    bad = valid & ((flat < 0) | (flat >= n_classes))
    if bad.any():
        raise IndexError(f"{op}: target id {flat[bad][0]} is out of range for {n_classes} classes")
    return valid, np.where(valid, flat, 0)


def _softmax_xent(scores, safe_t, valid, out):
    """Per-row losses; ``out`` (may be ``scores`` itself) receives the probabilities."""
    rows = np.arange(scores.shape[0])
    top = scores.max(axis=1, keepdims=True)
    picked = scores[rows, safe_t] - top[:, 0]
    np.subtract(scores, top, out=out)
    np.exp(out, out=out)
    total = out.sum(axis=1)
    losses = np.log(total) - picked
    out /= total[:, None]
    losses[~valid] = 0
    return losses


def _reduce(losses, reduction, count, shape):
    if reduction == "none":
        return losses.reshape(shape)
    total = losses.sum()
    return total if reduction == "sum" else total / max(count, 1)


def _score_grad(fn: Function, grad, probs, valid, safe_t, soft=None):
    """d loss / d scores (N, classes): probs − onehot, weighted by the incoming gradient.

    On arrays it is built in the saved probabilities (in place on their last use); under
    create_graph ``soft`` is the softmax as a graph Tensor and the result is recorded.
    """
    if fn.reduction == "none":
        weight = grad.reshape((-1, 1))
    else:
        weight = grad if fn.reduction == "sum" else grad * (1.0 / max(fn.count, 1))
    rows = np.arange(len(safe_t))
    if soft is not None:
        onehot = np.zeros(probs.shape, probs.dtype)
        onehot[rows, safe_t] = 1
        return (soft - onehot) * (weight * valid[:, None])
    g = probs if fn.last_use else probs.copy()
    g[rows, safe_t] -= 1
    if fn.count < len(valid):
        g *= valid[:, None]
    if not (np.ndim(weight) == 0 and weight == 1):
        g *= weight
    return g


@register
class CrossEntropy(Function):
    """d cross_entropy(logits, t) = (softmax(logits) - onehot(t)) * grad, without building the one-hot

    Class scores lie along the last axis; ``targets`` has the shape of ``logits`` without it.
    """

    name = "cross_entropy"
    domains = ("any", "targets")

    def forward(self, logits, targets, reduction="mean", ignore_index=None):
        if logits.ndim == 0:
            raise ShapeError("cross_entropy: logits need a class axis, got a 0-d array")
        valid, safe_t = _targets("cross_entropy", logits.shape, targets, reduction, ignore_index)
        scores = logits.reshape(-1, logits.shape[-1])
        probs = np.empty_like(scores)
        losses = _softmax_xent(scores, safe_t, valid, probs)
        self.reduction, self.in_shape, self.count = reduction, logits.shape, int(valid.sum())
        self.save_for_backward(probs, valid, safe_t)  # not the logits: the probabilities are enough
        return _reduce(losses, reduction, self.count, logits.shape[:-1])

    def backward(self, grad):
        probs, valid, safe_t = self.saved
        soft = None
        if isinstance(grad, Tensor):  # recorded: the softmax as a node on the logits, from its saved output
            soft = Softmax.from_output(probs.reshape(self.in_shape), [self.edges[0]], axis=-1).reshape(probs.shape)
        return _score_grad(self, grad, probs, valid, safe_t, soft).reshape(self.in_shape), None


@register
class LinearCrossEntropy(Function):
    """d cross_entropy(x @ wᵀ, t) = g @ w, gᵀ @ x with g = (softmax - onehot) * grad

    The output layer and its loss in one node: the scores are computed into one array that becomes
    the probabilities and then, in backward, the gradient — one (N, classes) array where the two
    separate primitives need two.
    """

    name = "linear_cross_entropy"
    domains = ("any", "any", "targets")

    def forward(self, x, w, targets, reduction="mean", ignore_index=None):
        xs, ws = np.shape(x), np.shape(w)
        if len(ws) != 2 or len(xs) == 0 or xs[-1] != ws[1]:
            raise ShapeError(f"linear_cross_entropy: needs x (..., in) and a 2-d weight (classes, in), "
                             f"got {xs} and {ws}")
        valid, safe_t = _targets("linear_cross_entropy", xs[:-1] + ws[:1], targets, reduction, ignore_index)
        x2 = x.reshape(-1, ws[1])
        scores = x2 @ w.T
        losses = _softmax_xent(scores, safe_t, valid, scores)
        self.reduction, self.count = reduction, int(valid.sum())
        self.save_for_backward(x, w, scores, valid, safe_t)
        return _reduce(losses, reduction, self.count, xs[:-1])

    def backward(self, grad):
        x, w, probs, valid, safe_t = self.saved
        x2 = x.reshape((-1, w.shape[1]))
        soft = (x2 @ w.T).softmax(axis=-1) if isinstance(grad, Tensor) else None  # recorded: recompute
        g = _score_grad(self, grad, probs, valid, safe_t, soft)
        gx = (g @ w).reshape(x.shape) if self.needs_input_grad[0] else None
        gw = None
        if self.needs_input_grad[1]:
            if soft is None and g.shape[0] * sum(w.shape) <= w.size:
                gw = OuterGrad(w.shape, g.dtype, [(g, x2)])
            else:
                gw = g.T @ x2
        return gx, gw, None
