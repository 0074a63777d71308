"""Stateless functions with numpy-style signatures; each returns a Tensor."""

from __future__ import annotations

from collections.abc import Sequence

from . import ops
from .losses import (  # noqa: F401 - the losses are part of the functional API
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    linear_cross_entropy,
    mse_loss,
    nll_loss,
)
from .tensor import Tensor


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def exp(x) -> Tensor:
    return ops.Exp.apply(x)


def log(x) -> Tensor:
    return ops.Log.apply(x)


def sqrt(x) -> Tensor:
    return ops.Sqrt.apply(x)


def tanh(x) -> Tensor:
    return ops.Tanh.apply(x)


def sigmoid(x) -> Tensor:
    return ops.Sigmoid.apply(x)


def relu(x) -> Tensor:
    return ops.Relu.apply(x)


def abs(x) -> Tensor:  # noqa: A001 - numpy's name
    return ops.Abs.apply(x)


def matmul(x, y) -> Tensor:
    return ops.MatMul.apply(x, y)


def linear(x, w, b=None, activation: str | None = None) -> Tensor:
    """activation(x @ wᵀ + b) for x (..., in), w (out, in), b broadcastable to the result and
    activation None, "tanh" or "relu": one primitive, with w's gradient in w's own layout."""
    return ops.Linear.apply(x, w, b, activation=activation)


def where(cond, x, y) -> Tensor:
    """Elements of ``x`` where ``cond`` is true, else of ``y``; differentiable in ``x`` and ``y``."""
    return ops.Where.apply(cond, x, y)


def clip(x, lo, hi) -> Tensor:
    """Limit ``x`` to ``[lo, hi]`` (either may be None); the gradient is zero where it was clipped."""
    return _t(x).clip(lo, hi)


def cat(tensors: Sequence, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis (``numpy.concatenate``)."""
    return ops.Cat.apply(*tensors, axis=axis)


def stack(tensors: Sequence, axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis (``numpy.stack``)."""
    return ops.Stack.apply(*tensors, axis=axis)


def sum(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - numpy's name
    return _t(x).sum(axis=axis, keepdims=keepdims)


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    return _t(x).mean(axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - numpy's name
    return _t(x).max(axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - numpy's name
    return _t(x).min(axis=axis, keepdims=keepdims)


def reshape(x, shape) -> Tensor:
    return _t(x).reshape(shape)


def transpose(x, axes=None) -> Tensor:
    return _t(x).transpose(axes) if axes is not None else _t(x).transpose()


def broadcast_to(x, shape) -> Tensor:
    return _t(x).broadcast_to(shape)


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, computed after subtracting the max (finite for any finite x)."""
    return ops.Softmax.apply(x, axis=axis)


def log_softmax(x, axis: int = -1) -> Tensor:
    """log(softmax(x)) along ``axis`` without forming softmax first."""
    return ops.LogSoftmax.apply(x, axis=axis)


# --- elementwise math (ops/math_ops.py) --------------------------------------------------
def maximum(x, y) -> Tensor:
    """Elementwise maximum, broadcasting; at a tie each input gets half the gradient (as PyTorch)."""
    return ops.Maximum.apply(x, y)


def minimum(x, y) -> Tensor:
    """Elementwise minimum, broadcasting; at a tie each input gets half the gradient (as PyTorch)."""
    return ops.Minimum.apply(x, y)


def sin(x) -> Tensor:
    """Sine, elementwise."""
    return ops.Sin.apply(x)


def cos(x) -> Tensor:
    """Cosine, elementwise."""
    return ops.Cos.apply(x)


def tan(x) -> Tensor:
    """Tangent, elementwise."""
    return ops.Tan.apply(x)


def arctan(x) -> Tensor:
    """Inverse tangent, elementwise, in (-π/2, π/2)."""
    return ops.Atan.apply(x)


def arctan2(y, x) -> Tensor:
    """The angle of the point (x, y) in (-π, π], broadcasting; y first, as numpy.arctan2 and torch.atan2."""
    return ops.Atan2.apply(y, x)


atan, atan2 = arctan, arctan2


def sinh(x) -> Tensor:
    """Hyperbolic sine, elementwise."""
    return ops.Sinh.apply(x)


def cosh(x) -> Tensor:
    """Hyperbolic cosine, elementwise."""
    return ops.Cosh.apply(x)


def log1p(x) -> Tensor:
    """log(1 + x), accurate for small x."""
    return ops.Log1p.apply(x)


def expm1(x) -> Tensor:
    """exp(x) - 1, accurate for small x."""
    return ops.Expm1.apply(x)


def log2(x) -> Tensor:
    """Base-2 logarithm, elementwise."""
    return ops.Log2.apply(x)


def log10(x) -> Tensor:
    """Base-10 logarithm, elementwise."""
    return ops.Log10.apply(x)


def erf(x) -> Tensor:
    """The error function, elementwise (numpy has none): within 4 ulp of math.erf in float64."""
    return ops.Erf.apply(x)


def reciprocal(x) -> Tensor:
    """1 / x, elementwise, as a float also for integer input."""
    return ops.Reciprocal.apply(x)


def rsqrt(x) -> Tensor:
    """1 / sqrt(x), elementwise."""
    return ops.Rsqrt.apply(x)


def square(x) -> Tensor:
    """x², elementwise."""
    return _t(x).square()


def sign(x) -> Tensor:
    """-1, 0 or 1 by the sign of x (nan for nan), with a zero gradient."""
    return ops.Sign.apply(x)


def floor(x) -> Tensor:
    """The largest integer not above x, elementwise, with a zero gradient."""
    return ops.Floor.apply(x)


def ceil(x) -> Tensor:
    """The smallest integer not below x, elementwise, with a zero gradient."""
    return ops.Ceil.apply(x)


def round(x, decimals: int = 0) -> Tensor:  # noqa: A001 - numpy's name
    """Round to ``decimals`` places, halves to even (numpy's and PyTorch's rule), with a zero gradient."""
    return ops.Round.apply(x, decimals=decimals)


def trunc(x) -> Tensor:
    """x rounded toward zero, elementwise, with a zero gradient."""
    return ops.Trunc.apply(x)


def remainder(x, y) -> Tensor:
    """Floor modulo x - y * floor(x / y), broadcasting: the result has the divisor's sign (numpy, Python's %)."""
    return ops.Remainder.apply(x, y)


def isnan(x) -> Tensor:
    """A bool Tensor, True where x is nan; never recorded."""
    return _t(x).isnan()


def isinf(x) -> Tensor:
    """A bool Tensor, True where x is +inf or -inf; never recorded."""
    return _t(x).isinf()


def isfinite(x) -> Tensor:
    """A bool Tensor, True where x is neither inf nor nan; never recorded."""
    return _t(x).isfinite()



# --- activations (ops/activations.py) ----------------------------------------------------
def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(βx)) / β, and x itself where βx > threshold (as PyTorch); β must be positive."""
    return ops.Softplus.apply(x, beta=beta, threshold=threshold)


def gelu(x, approximate: str = "none") -> Tensor:
    """x Φ(x) with Φ the standard normal CDF (exact, through erf), or its tanh approximation if approximate="tanh"."""
    return ops.Gelu.apply(x, approximate=approximate)


def silu(x) -> Tensor:
    """x * sigmoid(x) (swish)."""
    return ops.Silu.apply(x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return ops.LeakyRelu.apply(x, negative_slope=negative_slope)


def elu(x, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return ops.Elu.apply(x, alpha=alpha)


def selu(x) -> Tensor:
    """Self-normalizing ELU: λ elu(x, α) with the fixed α ≈ 1.6733 and λ ≈ 1.0507."""
    return ops.Selu.apply(x)


def hardtanh(x, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is zero outside the open interval, bounds included (as PyTorch)."""
    return ops.Hardtanh.apply(x, min_val=min_val, max_val=max_val)


def relu6(x) -> Tensor:
    """min(max(x, 0), 6): hardtanh(x, 0, 6)."""
    return ops.Hardtanh.apply(x, min_val=0.0, max_val=6.0)


def softsign(x) -> Tensor:
    """x / (1 + |x|)."""
    return ops.Softsign.apply(x)


def logsigmoid(x) -> Tensor:
    """log(sigmoid(x)), finite for any finite x."""
    return ops.Logsigmoid.apply(x)



# --- more reductions and linear algebra (ops/reduce.py, ops/linalg.py) -------------------
def var(x, axis=None, keepdims: bool = False, correction=1) -> Tensor:
    """Variance over ``axis`` divided by n - correction; correction=1 by default as torch.var, not numpy's ddof=0."""
    return ops.Var.apply(x, axis=axis, keepdims=keepdims, correction=correction)


def std(x, axis=None, keepdims: bool = False, correction=1) -> Tensor:
    """Standard deviation, sqrt(var); correction=1 by default as torch.std, not numpy's ddof=0."""
    return _t(x).std(axis=axis, keepdims=keepdims, correction=correction)


def prod(x, axis=None, keepdims: bool = False) -> Tensor:
    """Product over ``axis``, with a gradient (and second derivative) exact where elements are zero."""
    return ops.Prod.apply(x, axis=axis, keepdims=keepdims)


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, shifted by the max: finite for large inputs, float32 kept."""
    return ops.LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def cumsum(x, axis=None) -> Tensor:
    """Running sum along ``axis``; None flattens first, as numpy."""
    return ops.Cumsum.apply(x, axis=axis)


def cumprod(x, axis=None) -> Tensor:
    """Running product along ``axis``; None flattens first, as numpy; the gradient is exact at zeros."""
    return ops.Cumprod.apply(x, axis=axis)


def norm(x, p=2, axis=None, keepdims: bool = False) -> Tensor:
    """Vector p-norm over ``axis`` for p in 1, 2, inf, -inf, 'fro' (torch.linalg.vector_norm, not matrix norms)."""
    return ops.Norm.apply(x, p=p, axis=axis, keepdims=keepdims)


def argmax(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the first largest element (flat for axis None) as an int64 Tensor; never recorded."""
    return _t(x).argmax(axis=axis, keepdims=keepdims)


def argmin(x, axis=None, keepdims: bool = False) -> Tensor:
    """Index of the first smallest element (flat for axis None) as an int64 Tensor; never recorded."""
    return _t(x).argmin(axis=axis, keepdims=keepdims)


def any(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - numpy's name
    """Whether any element over ``axis`` is nonzero, as a bool Tensor; never recorded."""
    return _t(x).any(axis=axis, keepdims=keepdims)


def all(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001 - numpy's name
    """Whether every element over ``axis`` is nonzero, as a bool Tensor; never recorded."""
    return _t(x).all(axis=axis, keepdims=keepdims)


def einsum(subscripts: str, *operands) -> Tensor:
    """numpy's einsum ('ij,jk->ik', implicit form, '...') as one node whose VJPs are einsums too."""
    return ops.Einsum.apply(*operands, subscripts=subscripts)


def tensordot(a, b, axes=2) -> Tensor:
    """numpy.tensordot: sum over a's last ``axes`` and b's first (or the given pair of axis lists), via einsum."""
    if isinstance(axes, (list, tuple)):  # hashable, for the cached plan
        axes = tuple(tuple(side) if isinstance(side, (list, tuple)) else side for side in axes)
    return ops.Einsum.apply(a, b, subscripts=ops.linalg.tensordot_subscripts(_t(a).shape, _t(b).shape, axes))


def diag(x, k: int = 0) -> Tensor:
    """A 1-d tensor on the k-th diagonal of a square matrix, or the k-th diagonal of a matrix (numpy.diag)."""
    return _t(x).diag(k)


def diagonal(x, offset: int = 0, axis1: int = 0, axis2: int = 1, *, dim1=None, dim2=None) -> Tensor:
    """x[..., i, i + offset] over axes (axis1, axis2), put last: torch.diagonal's dim1, dim2."""
    return _t(x).diagonal(offset, axis1, axis2, dim1=dim1, dim2=dim2)


def diag_embed(x, offset: int = 0, axis1: int = -2, axis2: int = -1) -> Tensor:
    """The last axis put on the offset diagonal of new axes (axis1, axis2), zeros elsewhere (torch.diag_embed)."""
    return ops.DiagEmbed.apply(x, offset=offset, axis1=axis1, axis2=axis2)


def trace(x) -> Tensor:
    """Sum of the main diagonal of a 2-d tensor."""
    return ops.Trace.apply(x)


def tril(x, k: int = 0, *, diagonal=None) -> Tensor:
    """Lower triangle of the last two axes: on and below the k-th diagonal (PyTorch's ``diagonal=``), zeros above."""
    return _t(x).tril(k, diagonal=diagonal)


def triu(x, k: int = 0, *, diagonal=None) -> Tensor:
    """Upper triangle of the last two axes: on and above the k-th diagonal (PyTorch's ``diagonal=``), zeros below."""
    return _t(x).triu(k, diagonal=diagonal)


# --- more movement (ops/movement.py) -----------------------------------------------------
def squeeze(x, axis=None, *, dim=None) -> Tensor:
    """Drop axes of length 1 (all, or those in ``axis``); a named axis of another length is kept, as in PyTorch."""
    return _t(x).squeeze(axis, dim=dim)


def unsqueeze(x, axis: int | None = None, *, dim=None) -> Tensor:
    """Insert an axis of length 1 at ``axis`` (or PyTorch's ``dim=``)."""
    return _t(x).unsqueeze(axis, dim=dim)


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge the axes start_dim..end_dim into one (a 0-d tensor becomes shape (1,))."""
    return _t(x).flatten(start_dim, end_dim)


def permute(x, dims) -> Tensor:
    """Reorder the axes by ``dims``, a permutation of all of them (PyTorch's ``torch.permute``)."""
    return _t(x).permute(dims)


def swapaxes(x, axis0: int, axis1: int) -> Tensor:
    """Exchange two axes (PyTorch's ``transpose(x, a, b)``)."""
    return _t(x).swapaxes(axis0, axis1)


def swapdims(x, dim0: int, dim1: int) -> Tensor:
    """Exchange two axes (``swapaxes``)."""
    return _t(x).swapaxes(dim0, dim1)


def pad(x, pad_width, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with numpy's ``pad_width`` (not torch's flat last-axis-first list); mode 'constant', 'reflect' or 'edge'."""
    return ops.Pad.apply(x, pad_width=pad_width, mode=mode, value=value)


def split(x, split_size_or_sections, dim: int = 0) -> tuple:
    """Cut along ``dim`` into pieces of split_size (the last smaller) or of the listed sizes (PyTorch's)."""
    return _t(x).split(split_size_or_sections, dim)


def chunk(x, chunks: int, dim: int = 0) -> tuple:
    """Cut along ``dim`` into pieces of ceil(n / chunks), fewer when they run out (PyTorch's)."""
    return _t(x).chunk(chunks, dim)


def unbind(x, dim: int = 0) -> tuple:
    """The slices of ``x`` along ``dim``, that axis removed."""
    return _t(x).unbind(dim)


def gather(x, dim: int, index) -> Tensor:
    """Values of ``x`` picked along ``dim`` at ``index`` (PyTorch's argument order and bounds: 0 <= index < size)."""
    return ops.Gather.apply(x, dim=dim, index=index.data if isinstance(index, Tensor) else index)


def take_along_axis(x, indices, axis: int | None) -> Tensor:
    """numpy's take_along_axis: ``gather`` with negative indices and broadcasting of the other axes."""
    return _t(x).take_along_axis(indices, axis)


def scatter_add(x, dim: int, index, src) -> Tensor:
    """A copy of ``x`` with ``src`` added at ``index`` along ``dim`` (PyTorch's, out of place; repeats add up)."""
    return ops.ScatterAddDim.apply(x, src, dim=dim, index=index.data if isinstance(index, Tensor) else index)


def tile(x, reps) -> Tensor:
    """numpy's tile, which is PyTorch's ``Tensor.repeat``: ``x`` repeated ``reps`` times per axis."""
    return ops.Tile.apply(x, reps=reps)


def repeat_interleave(x, repeats, dim: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times along ``dim`` (numpy's ``repeat``); dim None flattens first."""
    return ops.RepeatInterleave.apply(x, repeats=repeats.data if isinstance(repeats, Tensor) else repeats, dim=dim)


def flip(x, dims=None) -> Tensor:
    """Reverse the order along ``dims``; None reverses every axis (numpy's default; torch.flip needs dims)."""
    return ops.Flip.apply(x, dims=dims)


def roll(x, shifts, dims=None) -> Tensor:
    """Shift elements cyclically along ``dims``; dims None rolls the flattened tensor (PyTorch's)."""
    return ops.Roll.apply(x, shifts=shifts, dims=dims)


# --- losses: see losses.py ---------------------------------------------------------------
