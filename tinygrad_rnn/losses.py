"""Loss functions with PyTorch's names, arguments and results, built from the primitives.

Where PyTorch puts the classes on axis 1 of an (N, C, d1, ...) input, these put them on the
last axis (as ``cross_entropy`` always has here, so a language model's (B, T, V) scores need no
transpose); for (C,) and (N, C) inputs the two agree. A ``'mean'`` over targets that are all
``ignore_index`` is 0, not PyTorch's NaN: a batch of padding adds nothing. Everything else — the
weighting, ``label_smoothing``, probability targets, the clamp of ``binary_cross_entropy``'s logs
at -100 — follows PyTorch. ``functional`` exports them all.
"""

from __future__ import annotations

import numpy as np

from .ops.losses import _check_reduction  # one message for every loss, fused or not
from .registry import REGISTRY as _P
from .shapes import ShapeError
from .tensor import Tensor

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "huber_loss", "l1_loss",
    "linear_cross_entropy", "mse_loss", "nll_loss",
]


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    total = losses.sum()
    return total if reduction == "sum" else total * (1.0 / losses.size) if losses.size else total * np.nan


def _pair(op: str, input, target) -> tuple[Tensor, Tensor]:
    """Input and target of one shape (a target may broadcast to the input, never the other way)."""
    x, y = _t(input), _t(target)
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        shape = None
    if shape != x.shape:
        raise ShapeError(f"{op}: target of shape {y.shape} does not broadcast to the input's shape {x.shape}")
    return x, y


def _weight(op: str, name: str, weight, shape) -> Tensor:
    """A weight that broadcasts to the input's shape, or an error naming the loss."""
    w = _t(weight)
    try:
        ok = np.broadcast_shapes(w.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"{op}: {name} of shape {w.shape} does not broadcast to the input's shape {tuple(shape)}")
    return w


def _class_ids(op: str, target, scores_shape, ignore_index) -> tuple[np.ndarray, np.ndarray]:
    """(valid mask, ids safe to index with), both of the target's shape, checked against the classes."""
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-id targets must be integers, got dtype {t.dtype}")
    if t.shape != tuple(scores_shape[:-1]):
        raise ShapeError(f"{op}: targets of shape {t.shape} do not match scores of shape {tuple(scores_shape)} "
                         f"(expected {tuple(scores_shape[:-1])}; the classes are the last axis)")
    if ignore_index is not None and (not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool)):
        raise TypeError(f"{op}: ignore_index must be None or an integer class id, got {ignore_index!r}")
    n = scores_shape[-1]
    valid = np.ones(t.shape, bool) if ignore_index is None else t != ignore_index
    bad = valid & ((t < 0) | (t >= n))
    if bad.any():
        raise IndexError(f"{op}: target id {t[bad].flat[0]} is out of range for {n} classes")
    return valid, np.where(valid, t, 0)


def _class_weight(op: str, weight, n_classes: int, dtype) -> np.ndarray | None:
    if weight is None:
        return None
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=dtype)
    if w.shape != (n_classes,):
        raise ShapeError(f"{op}: weight of shape {w.shape} does not match the {n_classes} classes "
                         f"(expected ({n_classes},))")
    return w


def _pick(scores: Tensor, ids: np.ndarray) -> Tensor:
    """scores[..., ids] elementwise: the score of each target's class, in the target's shape."""
    flat = scores.reshape(-1, scores.shape[-1])
    return flat[np.arange(flat.shape[0]), ids.reshape(-1)].reshape(ids.shape)


def nll_loss(input, target, weight=None, *, ignore_index: int | None = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class ids under log-probabilities (classes on the last axis).

    ``weight`` (one per class) scales each target's loss; ``'mean'`` then divides by the sum of
    the weights of the targets that count, as PyTorch.
    """
    _check_reduction("nll_loss", reduction)
    logp = _t(input)
    if logp.ndim == 0:
        raise ShapeError("nll_loss: input must have a class axis, got a 0-d tensor")
    valid, ids = _class_ids("nll_loss", target, logp.shape, ignore_index)
    return _nll(logp, valid, ids, _class_weight("nll_loss", weight, logp.shape[-1], logp.dtype), reduction)


def _nll(logp: Tensor, valid: np.ndarray, ids: np.ndarray, w: np.ndarray | None, reduction: str) -> Tensor:
    scale = valid.astype(logp.dtype) if w is None else w[ids] * valid
    losses = -_pick(logp, ids) * scale
    if reduction == "none":
        return losses
    total = losses.sum()
    if reduction == "sum":
        return total
    denominator = float(scale.sum())
    return total * (1.0 / denominator) if denominator else total * 0.0


def cross_entropy(input, target, weight=None, *, ignore_index: int | None = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of class scores (last axis) against class ids or class probabilities.

    Integer targets are class ids (``ignore_index`` ones are skipped); float targets of the
    scores' shape are probabilities. ``weight`` (one per class) and ``label_smoothing`` (mix the
    target with the uniform distribution) follow PyTorch. Class ids with neither option run one
    fused primitive; the rest is a composite of log_softmax.
    """
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    scores = _t(input)
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if scores.ndim == 0:
        raise ShapeError("cross_entropy: input must have a class axis, got a 0-d tensor")
    n = scores.shape[-1]
    if t.dtype.kind == "f":  # class probabilities
        if t.shape == scores.shape[:-1]:
            raise TypeError(f"cross_entropy: targets must be integer class ids, or class probabilities of the scores' "
                            f"shape {scores.shape}; got dtype {t.dtype} of shape {t.shape}")
        if t.shape != scores.shape:
            raise ShapeError(f"cross_entropy: probability targets of shape {t.shape} must match the scores' "
                             f"shape {scores.shape}")
        logp = _P["log_softmax"].apply(scores, axis=-1)
        probs = target if isinstance(target, Tensor) else Tensor(t)
        if label_smoothing:
            probs = probs * (1.0 - label_smoothing) + label_smoothing / n
        w = _class_weight("cross_entropy", weight, n, scores.dtype)
        terms = logp * probs if w is None else logp * probs * w
        return _reduce(-terms.sum(axis=-1), reduction)
    if weight is None and not label_smoothing:
        return _P["cross_entropy"].apply(scores, t, reduction=reduction, ignore_index=ignore_index)
    valid, ids = _class_ids("cross_entropy", t, scores.shape, ignore_index)
    w = _class_weight("cross_entropy", weight, n, scores.dtype)
    logp = _P["log_softmax"].apply(scores, axis=-1)
    nll = _nll(logp, valid, ids, w, reduction)
    if not label_smoothing:
        return nll
    smooth = -(logp.sum(axis=-1) if w is None else (logp * w).sum(axis=-1)) * valid.astype(scores.dtype)
    if reduction == "none":
        smooth_term = smooth
    elif reduction == "sum":
        smooth_term = smooth.sum()
    else:
        denominator = float(valid.sum() if w is None else (w[ids] * valid).sum())
        smooth_term = smooth.sum() * (1.0 / denominator if denominator else 0.0)
    return nll * (1.0 - label_smoothing) + smooth_term * (label_smoothing / n)


def linear_cross_entropy(x, w, targets, reduction: str = "mean", ignore_index: int | None = None) -> Tensor:
    """``cross_entropy(linear(x, w), targets, ...)`` as one primitive: an output layer and its loss
    with one (N, classes) array instead of two."""
    return _P["linear_cross_entropy"].apply(x, w, targets, reduction=reduction, ignore_index=ignore_index)


def binary_cross_entropy(input, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """-w (y log p + (1 - y) log(1 - p)) for probabilities p, the logs clamped at -100 as PyTorch.

    One primitive with PyTorch's gradients, finite where p is 0 or 1. Prefer
    ``binary_cross_entropy_with_logits``: it is exact where p rounds to 0 or 1.
    """
    _check_reduction("binary_cross_entropy", reduction)
    p, y = _pair("binary_cross_entropy", input, target)
    if p.size and (np.any(p.data < 0) or np.any(p.data > 1)):
        bad = p.data[(p.data < 0) | (p.data > 1)].flat[0]
        raise ValueError(f"binary_cross_entropy: input values must be probabilities in [0, 1], found {bad}")
    losses = _P["binary_cross_entropy"].apply(p, y)
    if weight is not None:
        losses = losses * _weight("binary_cross_entropy", "weight", weight, p.shape)
    return _reduce(losses, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """-(pos_weight y log σ(x) + (1 - y) log σ(-x)) for logits x: exact for any x, no cancellation."""
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    x, y = _pair("binary_cross_entropy_with_logits", input, target)
    log_sig = _P["logsigmoid"]
    log_p, log_q = log_sig.apply(x), log_sig.apply(-x)  # log σ(x) and log(1 - σ(x)): no cancellation
    op = "binary_cross_entropy_with_logits"
    positive = y * log_p if pos_weight is None else y * _weight(op, "pos_weight", pos_weight, x.shape) * log_p
    losses = -(positive + (1.0 - y) * log_q)
    if weight is not None:
        losses = losses * _weight(op, "weight", weight, x.shape)
    return _reduce(losses, reduction)


def mse_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """(input - target)², reduced."""
    _check_reduction("mse_loss", reduction)
    x, y = _pair("mse_loss", input, target)
    d = x - y
    return _reduce(d * d, reduction)


def l1_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """|input - target|, reduced (gradient 0 where they are equal, as PyTorch)."""
    _check_reduction("l1_loss", reduction)
    x, y = _pair("l1_loss", input, target)
    return _reduce((x - y).abs(), reduction)


def huber_loss(input, target, *, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d² where |d| < delta, else delta (|d| - 0.5 delta), for d = input - target, reduced."""
    _check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, y = _pair("huber_loss", input, target)
    d = x - y
    a = d.abs()
    small = a.data < delta
    return _reduce(_P["where"].apply(small, d * d * 0.5, (a - 0.5 * delta) * delta), reduction)
