"""Losses against a numpy transcription of PyTorch's definitions (always) and PyTorch itself (when installed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn.functional as F
from tinygrad_rnn import ShapeError, Tensor, gradcheck, gradgradcheck
from tinygrad_rnn.testing.strategies import broadcastable, seeds, shapes

from sweep import covers

REDUCTIONS = ["mean", "sum", "none"]


def _reduce(losses, reduction, denominator=None):
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return losses.sum() / (losses.size if denominator is None else denominator)


def _log_softmax(x):
    s = x - x.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def ref_nll(logp, t, weight, ignore_index, reduction):
    """PyTorch's nll_loss, transcribed: -w[t] logp[t], 'mean' divided by the weights that count."""
    valid = t != ignore_index
    ids = np.where(valid, t, 0)
    w = np.ones(logp.shape[-1]) if weight is None else weight
    picked = np.take_along_axis(logp, ids[..., None], axis=-1)[..., 0]
    scale = w[ids] * valid
    losses = -picked * scale
    denominator = scale.sum()
    return _reduce(losses, reduction, denominator) if denominator or reduction != "mean" else 0.0


def ref_cross_entropy(x, t, weight, ignore_index, reduction, smoothing):
    """PyTorch's cross_entropy with class ids, transcribed (label smoothing included)."""
    logp = _log_softmax(x)
    nll = ref_nll(logp, t, weight, ignore_index, reduction)
    n = x.shape[-1]
    valid = t != ignore_index
    ids = np.where(valid, t, 0)
    w = np.ones(n) if weight is None else weight
    smooth = -(logp * w).sum(axis=-1) * valid
    denominator = (w[ids] * valid).sum() if weight is not None else valid.sum()
    smooth = smooth if reduction == "none" else smooth.sum() / (denominator or np.inf) if reduction == "mean" \
        else smooth.sum()
    return (1 - smoothing) * nll + smoothing / n * smooth


def ref_cross_entropy_probs(x, p, weight, reduction, smoothing):
    n = x.shape[-1]
    p = p * (1 - smoothing) + smoothing / n
    w = np.ones(n) if weight is None else weight
    return _reduce(-(_log_softmax(x) * p * w).sum(axis=-1), reduction)


def ref_bce(p, y, w, reduction):
    losses = -(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log1p(-p), -100))
    return _reduce(losses * (1 if w is None else w), reduction)


def ref_bce_logits(x, y, w, pos_weight, reduction):
    log_sig = -np.logaddexp(0, -x)
    log_one_minus = -np.logaddexp(0, x)
    pw = 1 if pos_weight is None else pos_weight
    losses = -(pw * y * log_sig + (1 - y) * log_one_minus)
    return _reduce(losses * (1 if w is None else w), reduction)


def ref_huber(x, y, delta, reduction):
    d = np.abs(x - y)
    return _reduce(np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


def _check(fn, inputs, want, second_order=True):
    out = fn(*inputs)
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-12)
    assert gradcheck(fn, inputs)
    if second_order:
        assert gradgradcheck(fn, inputs)


@st.composite
def class_problem(draw):
    lead = draw(shapes(max_dims=2, max_side=3))
    n = draw(st.integers(1, 4))
    seed = draw(seeds)
    rng = np.random.default_rng(seed)
    t = rng.integers(0, n, lead)
    if draw(st.booleans()) and t.size:
        t.flat[0] = -100  # one ignored target
    weight = rng.uniform(0.5, 2.0, n) if draw(st.booleans()) else None
    return rng.uniform(-2, 2, lead + (n,)), t, weight


@given(problem=class_problem(), reduction=st.sampled_from(REDUCTIONS), smoothing=st.sampled_from([0.0, 0.1, 1.0]))
def test_cross_entropy_with_class_ids_weights_and_smoothing(problem, reduction, smoothing):
    x, t, weight = problem
    want = ref_cross_entropy(x, t, weight, -100, reduction, smoothing)
    fn = lambda s: F.cross_entropy(s, t, weight, reduction=reduction, label_smoothing=smoothing)  # noqa: E731
    _check(fn, [Tensor(x, requires_grad=True)], want)


@given(problem=class_problem(), reduction=st.sampled_from(REDUCTIONS))
def test_nll_loss_is_the_weighted_pick(problem, reduction):
    x, t, weight = problem
    logp = _log_softmax(x)
    want = ref_nll(logp, t, weight, -100, reduction)
    _check(lambda lp: F.nll_loss(lp, t, weight, reduction=reduction), [Tensor(logp, requires_grad=True)], want)


@given(problem=class_problem(), reduction=st.sampled_from(REDUCTIONS), smoothing=st.sampled_from([0.0, 0.2]))
def test_cross_entropy_with_class_probabilities(problem, reduction, smoothing):
    x, _, weight = problem
    rng = np.random.default_rng(int(abs(x).sum() * 1000) % 2**32)
    p = rng.dirichlet(np.ones(x.shape[-1]), x.shape[:-1]) if x.shape[-1] > 1 else np.ones(x.shape)
    want = ref_cross_entropy_probs(x, p, weight, reduction, smoothing)
    fn = lambda s, q: F.cross_entropy(s, q, weight, reduction=reduction, label_smoothing=smoothing)  # noqa: E731
    _check(fn, [Tensor(x, requires_grad=True), Tensor(p, requires_grad=True)], want)


@covers("binary_cross_entropy")
@given(pair=broadcastable(2), seed=seeds, reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans())
def test_binary_cross_entropy_on_probabilities(pair, seed, reduction, weighted):
    rng = np.random.default_rng(seed)
    shape = np.broadcast_shapes(*pair)
    p, y = rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, pair[1])
    w = rng.uniform(0.5, 2, shape) if weighted else None
    want = ref_bce(p, y, w, reduction)
    _check(lambda a, b: F.binary_cross_entropy(a, b, w, reduction=reduction),
           [Tensor(p, requires_grad=True), Tensor(y, requires_grad=True)], want)


@given(shape=shapes(), seed=seeds, reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       positive=st.booleans())
def test_binary_cross_entropy_with_logits(shape, seed, reduction, weighted, positive):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-3, 3, shape), rng.uniform(0, 1, shape)
    w = rng.uniform(0.5, 2, shape) if weighted else None
    pw = rng.uniform(0.5, 3, shape[-1:]) if positive else None
    want = ref_bce_logits(x, y, w, pw, reduction)
    _check(lambda a, b: F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=pw),
           [Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)], want)


@given(shape=shapes(), seed=seeds, reduction=st.sampled_from(REDUCTIONS))
def test_mse_l1_and_huber(shape, seed, reduction):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, shape)
    y = x + rng.choice([-1, 1], shape) * rng.uniform(0.1, 2, shape)  # away from the kinks
    y = np.where(np.abs(np.abs(x - y) - 1.0) < 0.05, y + 0.2, y)
    inputs = [Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)]
    _check(lambda a, b: F.mse_loss(a, b, reduction=reduction), inputs, _reduce((x - y) ** 2, reduction))
    _check(lambda a, b: F.l1_loss(a, b, reduction=reduction), inputs, _reduce(np.abs(x - y), reduction))
    _check(lambda a, b: F.huber_loss(a, b, reduction=reduction), inputs, ref_huber(x, y, 1.0, reduction))
    _check(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=0.5), inputs, ref_huber(x, y, 0.5, reduction),
           second_order=False)


def test_binary_cross_entropy_with_logits_is_exact_at_extreme_logits():
    for dtype in (np.float32, np.float64):
        x = Tensor(np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=dtype), requires_grad=True)
        y = np.array([1.0, 0.0, 1.0, 1.0, 0.0], dtype=dtype)
        loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
        np.testing.assert_allclose(loss.data, [1e4, np.log1p(np.exp(-50.0)), np.log(2), np.log1p(np.exp(-50.0)), 1e4],
                                   rtol=1e-6)
        loss.sum().backward()
        assert np.isfinite(x.grad).all() and x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad, [-1, 0, -0.5, 0, 1], atol=1e-6)


def test_binary_cross_entropy_clamps_its_logs_at_minus_100():
    p = Tensor(np.array([0.0, 1.0, 0.5, 1e-50]), requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 1.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, np.log(2), 100.0])
    loss.sum().backward()
    # PyTorch's gradient: (p - y) / max(p (1 - p), 1e-12)
    np.testing.assert_allclose(p.grad, [-1e12, 1e12, -2.0, -1e12], rtol=1e-8)


def test_binary_cross_entropy_at_saturation_matches_pytorch():
    torch = pytest.importorskip("torch")
    ps, ys = np.array([0.0, 1.0, 1e-50, 1 - 1e-17, 0.3]), np.array([1.0, 0.0, 1.0, 0.2, 0.6])
    p, y = Tensor(ps.copy(), requires_grad=True), Tensor(ys.copy(), requires_grad=True)
    F.binary_cross_entropy(p, y, reduction="sum").backward()
    tp, ty = torch.tensor(ps, requires_grad=True), torch.tensor(ys, requires_grad=True)
    torch.nn.functional.binary_cross_entropy(tp, ty, reduction="sum").backward()
    np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(y.grad, ty.grad.numpy(), rtol=1e-12)


def test_all_targets_ignored_gives_zero_not_nan():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    for loss in (F.cross_entropy(x, np.array([-100, -100])), F.nll_loss(x, np.array([-100, -100])),
                 F.cross_entropy(x, np.array([-100, -100]), np.ones(3), label_smoothing=0.1)):
        assert loss.item() == 0.0
        loss.backward()
        np.testing.assert_array_equal(x.grad, 0)
        x.grad = None


@pytest.mark.parametrize("call, error, message", [
    (lambda: F.mse_loss(np.ones(3), np.ones(3), reduction="avg"), ValueError,
     "mse_loss: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
    (lambda: F.mse_loss(Tensor(np.ones(3)), np.ones((2, 3))), ShapeError,
     r"mse_loss: target of shape \(2, 3\) does not broadcast to the input's shape \(3,\)"),
    (lambda: F.nll_loss(Tensor(np.ones((2, 3))), np.array([0, 3])), IndexError,
     "nll_loss: target id 3 is out of range for 3 classes"),
    (lambda: F.nll_loss(Tensor(np.ones((2, 3))), np.array([0, 1, 2])), ShapeError,
     r"nll_loss: targets of shape \(3,\) do not match scores of shape \(2, 3\)"),
    (lambda: F.cross_entropy(Tensor(np.ones((2, 3))), np.array([0, 1]), np.ones(4)), ShapeError,
     r"cross_entropy: weight of shape \(4,\) does not match the 3 classes"),
    (lambda: F.cross_entropy(Tensor(np.ones((2, 3))), np.ones((2, 2))), ShapeError,
     r"cross_entropy: probability targets of shape \(2, 2\) must match the scores' shape \(2, 3\)"),
    (lambda: F.cross_entropy(Tensor(np.ones((2, 3))), np.array([0, 1]), label_smoothing=1.5), ValueError,
     r"cross_entropy: label_smoothing must be in \[0, 1\], got 1.5"),
    (lambda: F.binary_cross_entropy(Tensor(np.array([0.5, 1.2])), np.ones(2)), ValueError,
     r"binary_cross_entropy: input values must be probabilities in \[0, 1\], found 1.2"),
    (lambda: F.huber_loss(Tensor(np.ones(2)), np.ones(2), delta=0.0), ValueError,
     "huber_loss: delta must be positive, got 0.0"),
    (lambda: F.nll_loss(Tensor(np.ones((2, 3))), np.array([0.0, 1.0])), TypeError,
     "nll_loss: class-id targets must be integers, got dtype float64"),
    (lambda: F.binary_cross_entropy_with_logits(Tensor(np.ones((3, 4))), np.ones((3, 4)), pos_weight=np.ones(3)),
     ShapeError, r"binary_cross_entropy_with_logits: pos_weight of shape \(3,\) does not broadcast to the input's "
                 r"shape \(3, 4\)"),
    (lambda: F.binary_cross_entropy(Tensor(np.full((3, 4), 0.5)), np.ones((3, 4)), weight=np.ones(3)),
     ShapeError, r"binary_cross_entropy: weight of shape \(3,\) does not broadcast to the input's shape \(3, 4\)"),
])
def test_bad_arguments_name_the_loss_and_the_value(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_losses_keep_float32():
    x = Tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    t = np.array([0, 2])
    for loss in (F.cross_entropy(x, t), F.cross_entropy(x, t, np.ones(3), label_smoothing=0.1),
                 F.mse_loss(x, np.ones((2, 3), dtype=np.float32)),
                 F.binary_cross_entropy_with_logits(x, np.ones((2, 3), dtype=np.float32))):
        assert loss.dtype == np.float32


def test_losses_match_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((5, 4)), np.array([0, 3, -100, 1, 2])
    w = rng.uniform(0.5, 2, 4)
    probs = rng.dirichlet(np.ones(4), 5)
    p, y = rng.uniform(0.02, 0.98, (5, 4)), rng.uniform(0, 1, (5, 4))
    pw = rng.uniform(0.5, 3, 4)
    cases = [
        (lambda f, a, **k: f.cross_entropy(a, k["t"], k["w"], reduction="mean", label_smoothing=0.1), x),
        (lambda f, a, **k: f.cross_entropy(a, k["t"], reduction="sum"), x),
        (lambda f, a, **k: f.cross_entropy(a, k["t"], k["w"], reduction="none"), x),
        (lambda f, a, **k: f.cross_entropy(a, k["probs"], k["w"], label_smoothing=0.2), x),
        (lambda f, a, **k: f.nll_loss(f.log_softmax(a, -1), k["t"], k["w"]), x),
        (lambda f, a, **k: f.binary_cross_entropy(a, k["y"], k["y"] + 0.5), p),
        (lambda f, a, **k: f.binary_cross_entropy_with_logits(a, k["y"], pos_weight=k["pw"]), x),
        (lambda f, a, **k: f.mse_loss(a, k["y"], reduction="sum"), x),
        (lambda f, a, **k: f.l1_loss(a, k["y"]), x),
        (lambda f, a, **k: f.huber_loss(a, k["y"], delta=0.7), x),
    ]
    for fn, data in cases:
        a = Tensor(data.copy(), requires_grad=True)
        ours = fn(F, a, t=t, w=w, probs=probs, y=y, pw=pw)
        ours.sum().backward()
        ta = torch.tensor(data, requires_grad=True)
        kw = {k: torch.tensor(v) for k, v in dict(t=t, w=w, probs=probs, y=y, pw=pw).items()}
        theirs = fn(tf, ta, **kw)
        theirs.sum().backward()
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-12, atol=1e-13)
