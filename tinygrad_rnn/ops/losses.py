"""Fused softmax cross-entropy, alone and behind the output layer of a language model.

The gradient of softmax cross-entropy with respect to the scores is softmax − onehot(target),
built in an array of probabilities without a one-hot matrix. ``cross_entropy`` keeps its logits
(one (N, classes) array, as PyTorch keeps one) and recomputes the probabilities into a fresh array
that becomes the gradient. ``linear_cross_entropy``, the output layer of a language model, keeps
the probabilities it computed in forward and turns them into the gradient in place
(``consumes``; the tape hands over a copy when the graph is kept): the largest array of the model
exists once. Their VJPs run on arrays only; ``create_graph`` differentiates their composite form
(log_softmax, indexing, sum) instead.
"""

from __future__ import annotations

import numpy as np

from .. import gradients
from ..function import Function, register
from ..shapes import ShapeError

_REDUCTIONS = ("mean", "sum", "none")
_BCE_EPS = float(np.float32(1e-12))  # PyTorch's floor of p (1 - p), a float32 constant


def _check_reduction(op: str, reduction, ignore_index=None) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if ignore_index is not None and (not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool)):
        raise TypeError(f"{op}: ignore_index must be None or an integer class id, got {ignore_index!r}")


def _targets(op: str, scores_shape, targets, ignore_index):
    """Checked targets, flattened: (valid mask, ids safe to index with)."""
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
    total = _exp_shifted(scores, top, out)
    losses = np.log(total) - picked
    out /= total[:, None]
    losses[~valid] = 0
    return losses


def _exp_shifted(scores, top, out):
    """out = exp(scores - top) row by row; returns the row sums."""
    np.subtract(scores, top, out=out)
    np.exp(out, out=out)
    return out.sum(axis=1)


def _softmax(scores, out):
    """The probabilities of (N, classes) scores, written into ``out``."""
    out /= _exp_shifted(scores, scores.max(axis=1, keepdims=True), out)[:, None]
    return out


def _reduce(losses, reduction, count, shape):
    if reduction == "none":
        return losses.reshape(shape)
    total = losses.sum()
    return total if reduction == "sum" else total / max(count, 1)


def _score_grad(fn: Function, grad, probs, valid, safe_t):
    """d loss / d scores (N, classes): probs − onehot, weighted by the incoming gradient, built in
    ``probs`` itself (the tape hands over a copy when the graph is kept)."""
    if fn.reduction == "none":
        weight = grad.reshape((-1, 1))
    else:
        weight = grad if fn.reduction == "sum" else grad * (1.0 / max(fn.count, 1))
    g = probs
    g[np.arange(len(safe_t)), safe_t] -= 1
    if fn.count < len(valid):
        g *= valid[:, None]
    if not (np.ndim(weight) == 0 and weight == 1):
        g *= weight
    return g


def _composite_loss(fn: Function, logits):
    """The same loss from primitives (log_softmax, indexing, sum): what create_graph differentiates."""
    picked = logits.reshape((-1, logits.shape[-1])).log_softmax(axis=-1)[np.arange(len(fn.targets)), fn.targets]
    losses = -picked * fn.valid
    if fn.reduction == "none":
        return losses.reshape(fn.out_shape)
    total = losses.sum()
    return total if fn.reduction == "sum" else total * (1.0 / max(fn.count, 1))


@register
class CrossEntropy(Function):
    """d cross_entropy(logits, t) = (softmax(logits) - onehot(t)) * grad, without building the one-hot

    Class scores lie along the last axis; ``targets`` has the shape of ``logits`` without it.
    """

    name = "cross_entropy"
    domains = ("any", "targets")
    once_differentiable = True  # backward works in place on arrays; second order through composite()

    def forward(self, logits, targets, reduction="mean", ignore_index=None):
        _check_reduction("cross_entropy", reduction, ignore_index)
        if logits.ndim == 0:
            raise ShapeError("cross_entropy: logits need a class axis, got a 0-d array")
        valid, safe_t = _targets("cross_entropy", logits.shape, targets, ignore_index)
        scores = logits.reshape(-1, logits.shape[-1])
        losses = _softmax_xent(scores, safe_t, valid, np.empty_like(scores))
        self.reduction, self.in_shape, self.count = reduction, logits.shape, int(valid.sum())
        self.targets, self.valid, self.out_shape = safe_t, valid, logits.shape[:-1]
        # the logits, as PyTorch keeps one (N, classes) array: backward recomputes the probabilities
        # into a fresh array that becomes the gradient, and create_graph re-links the logits
        self.save_for_backward(logits)
        return _reduce(losses, reduction, self.count, logits.shape[:-1])

    def backward(self, grad, logits):
        scores = logits.reshape(-1, logits.shape[-1])
        probs = _softmax(scores, np.empty_like(scores))
        return _score_grad(self, grad, probs, self.valid, self.targets).reshape(self.in_shape), None

    def composite(self, logits, targets=None):
        return _composite_loss(self, logits)


@register
class LinearCrossEntropy(Function):
    """d cross_entropy(x @ wᵀ, t) = g @ w, gᵀ @ x with g = (softmax - onehot) * grad

    The output layer and its loss in one node: the scores are computed into one array that becomes
    the probabilities and then, in backward, the gradient — one (N, classes) array where the two
    separate primitives need two.
    """

    name = "linear_cross_entropy"
    domains = ("any", "any", "targets")
    consumes = (2,)
    once_differentiable = True

    def forward(self, x, w, targets, reduction="mean", ignore_index=None):
        _check_reduction("linear_cross_entropy", reduction, ignore_index)
        xs, ws = np.shape(x), np.shape(w)
        if len(ws) != 2 or len(xs) == 0 or xs[-1] != ws[1]:
            raise ShapeError(f"linear_cross_entropy: needs x (..., in) and a 2-d weight (classes, in), "
                             f"got {xs} and {ws}")
        valid, safe_t = _targets("linear_cross_entropy", xs[:-1] + ws[:1], targets, ignore_index)
        x2 = x.reshape(-1, ws[1])
        scores = x2 @ w.T
        losses = _softmax_xent(scores, safe_t, valid, scores)
        self.reduction, self.count = reduction, int(valid.sum())
        self.targets, self.valid, self.out_shape = safe_t, valid, xs[:-1]
        self.save_for_backward(x, w, scores)
        return _reduce(losses, reduction, self.count, xs[:-1])

    def backward(self, grad, x, w, probs):
        g = _score_grad(self, grad, probs, self.valid, self.targets)
        gx = (g @ w).reshape(x.shape) if self.needs_input_grad[0] else None
        gw = gradients.outer(g, x.reshape((-1, w.shape[1])), w.shape) if self.needs_input_grad[1] else None
        return gx, gw, None

    def composite(self, x, w, targets=None):
        return _composite_loss(self, x.reshape((-1, w.shape[1])) @ w.T)


@register
class BinaryCrossEntropy(Function):
    """d bce(p, y) = grad (p - y) / max(p (1 - p), 1e-12), grad (log(1 - p) - log p); the loss's logs clamped at -100

    PyTorch's loss and its gradients, elementwise: a prediction that rounded to 0 or 1 still gets a
    (large, finite) gradient. Second order goes through the composite of clipped logs.
    """

    name = "binary_cross_entropy"
    domains = ("unit", "unit")
    once_differentiable = True
    broadcasting = True

    def forward(self, p, y):
        with np.errstate(divide="ignore"):
            log_p, log_q = np.maximum(np.log(p), -100.0), np.maximum(np.log1p(-p), -100.0)
        self.save_for_backward(p, y)
        return -(y * log_p + (1 - y) * log_q)

    def backward(self, grad, p, y):
        gp = gy = None
        if self.needs_input_grad[0]:
            gp = grad * (p - y) / np.maximum(p * (1 - p), _BCE_EPS)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):  # unclamped, as PyTorch's: infinite where p is 0 or 1
                gy = grad * (np.log1p(-p) - np.log(p))
        return gp, gy

    def composite(self, p, y):
        floor = float(np.exp(-100.0))
        return -(y * p.clip(floor, None).log() + (1.0 - y) * (1.0 - p).clip(floor, None).log())
