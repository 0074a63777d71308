"""Linear algebra: einsum (and tensordot on it), diagonals, trace, triangles; each forward beside its VJP."""

from __future__ import annotations

import string
from functools import lru_cache

import numpy as np

from ..function import Function, register
from ..shapes import ShapeError, check_axis
from .movement import BroadcastTo

_LETTERS = string.ascii_letters
# Past this many multiply-adds numpy's optimized path (BLAS through tensordot) repays its ~20 µs of planning.
_OPTIMIZE_AT = 1 << 16


def _fresh(used) -> list[str]:
    """The letters not in ``used``, in order: names for ellipsis dims and for a VJP's extra indices."""
    return [c for c in _LETTERS if c not in used]


@lru_cache(maxsize=512)
def _parse(subscripts: str, ndims: tuple[int, ...]) -> tuple[tuple[str, ...], str]:
    """numpy's subscripts (explicit or implicit, with ``...``) as one string of letters per operand and
    one for the output, the ellipsis spelled out as letters of its own, right-aligned as numpy's."""
    bad = f"einsum: invalid subscripts {subscripts!r}"
    s = subscripts.replace(" ", "")
    if any(c not in _LETTERS + ",.->" for c in s):
        raise ValueError(f"{bad}: use letters, ',', '...' and '->'")
    if s.count("->") > 1:
        raise ValueError(f"{bad}: more than one '->'")
    lhs, arrow, rhs = s.partition("->")
    if "-" in lhs + rhs or ">" in lhs + rhs:
        raise ValueError(f"{bad}: a '-' or '>' outside '->'")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"{bad}: they name {len(terms)} operand(s), got {len(ndims)}")
    spare = _fresh(s)
    parsed = []
    for i, (term, ndim) in enumerate(zip(terms, ndims)):
        if term.count("...") > 1 or term.replace("...", "").count("."):
            raise ValueError(f"{bad}: operand {i} has a stray '.' (an ellipsis is '...', once per operand)")
        letters = term.replace("...", "")
        n_ell = ndim - len(letters)
        if ("..." in term and n_ell < 0) or ("..." not in term and n_ell != 0):
            raise ValueError(f"{bad}: operand {i} has {ndim} dimension(s) but its subscripts {term!r} "
                             f"name {len(letters)}")
        parsed.append((term, n_ell))
    n_ell = max((k for term, k in parsed if "..." in term), default=0)
    if n_ell > len(spare):
        raise ValueError(f"{bad}: too many dimensions for einsum's {len(_LETTERS)} letters")
    ell = "".join(spare[:n_ell])
    ins = tuple(term.replace("...", ell[n_ell - k:]) if "..." in term else term for term, k in parsed)
    if arrow:
        if rhs.count("...") > 1 or rhs.replace("...", "").count("."):
            raise ValueError(f"{bad}: the output has a stray '.'")
        if n_ell and "..." not in rhs:
            raise ValueError(f"{bad}: the operands have {n_ell} broadcast dimension(s) ('...') but the "
                             "output does not say where they go")
        out = rhs.replace("...", ell)
        joined = "".join(ins)
        for c in out:
            if out.count(c) > 1:
                raise ValueError(f"{bad}: the output repeats {c!r}")
            if c not in joined:
                raise ValueError(f"{bad}: the output's {c!r} is in no operand")
    else:  # numpy's implicit output: the ellipsis, then the letters used once, in order
        joined = "".join(t.replace("...", "") for t in terms)
        out = ell + "".join(sorted(c for c in set(joined) if joined.count(c) == 1))
    return ins, out


@lru_cache(maxsize=512)
def _plan(subscripts: str, shapes: tuple[tuple[int, ...], ...]):
    """Check the operands' shapes against the subscripts once per (subscripts, shapes)."""
    ins, out = _parse(subscripts, tuple(len(s) for s in shapes))
    sizes: dict[str, int] = {}
    for term, shape in zip(ins, shapes):
        own: dict[str, int] = {}
        for c, n in zip(term, shape):
            if own.setdefault(c, n) != n:  # a repeated index within one operand is a diagonal: equal sides
                raise ShapeError(f"einsum: index {c!r} of {subscripts!r} has sides {own[c]} and {n} in one "
                                 f"operand of shape {shape}")
            known = sizes.setdefault(c, n)
            if known != n and 1 not in (known, n):
                listed = ", ".join(str(s) for s in shapes)
                raise ShapeError(f"einsum: index {c!r} of {subscripts!r} is {known} in one operand and {n} in "
                                 f"another; shapes {listed}")
            if known == 1:
                sizes[c] = n
    work = 1
    for n in sizes.values():
        work *= n
    optimize = len(shapes) > 1 and work >= _OPTIMIZE_AT
    return ins, out, ",".join(ins) + "->" + out, optimize


@lru_cache(maxsize=512)
def _vjp_plan(ins: tuple[str, ...], out: str, i: int):
    """The einsum that gives operand i's gradient, from the output's gradient and the other operands.

    A letter repeated within operand i (a diagonal, "ii->i") gets a fresh letter per repeat and a
    constant identity operand tying them together; a letter in operand i alone (summed over there
    only) is missing from the product and is broadcast back. Returns (subscripts, the identity
    operands as (letters, position in operand i)), the product's letters, operand i's letters).
    """
    spare = iter(_fresh("".join(ins) + out))
    groups: dict[str, list[int]] = {}
    own = []
    for pos, c in enumerate(ins[i]):
        if c in groups:
            groups[c].append(pos)
            own.append(next(spare))
        else:
            groups[c] = [pos]
            own.append(c)
    ties = tuple(("".join(own[p] for p in ps), ps[0]) for ps in groups.values() if len(ps) > 1)
    terms = [out] + [t for j, t in enumerate(ins) if j != i] + [letters for letters, _ in ties]
    present = set("".join(terms))
    target = "".join(c for c in own if c in present)
    return ",".join(terms) + "->" + target, ties, target, "".join(own)


def _contract(subscripts: str, operands, optimize: bool):
    return np.einsum(subscripts, *operands, optimize=optimize)


@register
class Einsum(Function):
    """d einsum(s, ..., x_i, ...) = einsum(out, ...others -> s_i)(grad, ...): each operand's VJP is an einsum

    numpy's subscripts, explicit and implicit, with ``...`` and size-1 broadcasting; repeated
    indices within an operand (diagonals, "ii->i", "ii") included. Small contractions run in
    numpy's C loop; large ones through BLAS (numpy's optimized path).
    """

    def forward(self, *operands, subscripts):
        if not isinstance(subscripts, str):
            raise ValueError(f"einsum: subscripts must be a string such as 'ij,jk->ik', got {subscripts!r}")
        shapes = tuple(np.shape(o) for o in operands)
        ins, out, spec, optimize = _plan(subscripts, shapes)
        self.ins, self.out = ins, out
        self.save_for_backward(*operands)
        return _contract(spec, operands, optimize)

    def backward(self, grad, *operands):
        return tuple(self._operand_grad(i, grad, operands) if need else None
                     for i, need in enumerate(self.needs_input_grad))

    def _operand_grad(self, i, grad, operands):
        spec, ties, target, own = _vjp_plan(self.ins, self.out, i)
        shape = operands[i].shape
        parts = [grad] + [o for j, o in enumerate(operands) if j != i]
        for letters, pos in ties:  # the identity over the repeats of one index: 1 where they are all equal
            n = shape[pos]
            eye = np.zeros((n,) * len(letters), dtype=grad.dtype)
            eye[(np.arange(n),) * len(letters)] = 1
            parts.append(eye)
        g = grad if len(parts) == 1 and spec == f"{target}->{target}" else Einsum.dispatch(*parts, subscripts=spec)
        sizes = dict(zip(target, g.shape))
        full = tuple(sizes.get(c, 1) for c in own)
        if target != own:  # letters summed in operand i alone: axes of 1 for them...
            g = g.reshape(full)
        if full != shape:  # ...broadcast back; a side of 1 in x against n elsewhere, the tape sums back
            want = np.broadcast_shapes(full, shape)
            if want != full:
                g = BroadcastTo.dispatch(g, shape=want)
        return g


@lru_cache(maxsize=256)
def tensordot_subscripts(shape_a: tuple[int, ...], shape_b: tuple[int, ...], axes) -> str:
    """numpy.tensordot's ``axes`` (an int N: a's last N with b's first N; or a pair of axis lists) as einsum
    subscripts."""
    na, nb = len(shape_a), len(shape_b)
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        if not 0 <= axes <= min(na, nb):
            raise ValueError(f"tensordot: axes={axes} must be between 0 and the smaller rank, "
                             f"for shapes {shape_a} and {shape_b}")
        pairs = list(zip(range(na - axes, na), range(axes)))
    else:
        try:
            left, right = axes
        except (TypeError, ValueError):
            raise ValueError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}") from None
        left = [left] if isinstance(left, (int, np.integer)) else list(left)
        right = [right] if isinstance(right, (int, np.integer)) else list(right)
        if len(left) != len(right):
            raise ValueError(f"tensordot: axes {axes!r} pair {len(left)} axes of a with {len(right)} of b")
        pairs = [(check_axis(p, na, "tensordot"), check_axis(q, nb, "tensordot")) for p, q in zip(left, right)]
        if len({p for p, _ in pairs}) < len(pairs) or len({q for _, q in pairs}) < len(pairs):
            raise ValueError(f"tensordot: axes {axes!r} repeat an axis")
    for p, q in pairs:
        if shape_a[p] != shape_b[q]:
            raise ShapeError(f"tensordot: axis {p} of shape {shape_a} ({shape_a[p]}) does not match axis {q} "
                             f"of shape {shape_b} ({shape_b[q]})")
    if na + nb - len(pairs) > len(_LETTERS):
        raise ValueError(f"tensordot: shapes {shape_a} and {shape_b} have more dimensions than einsum has letters")
    a = _LETTERS[:na]
    paired = dict((q, a[p]) for p, q in pairs)
    extra = iter(_LETTERS[na:])
    b = "".join(paired[q] if q in paired else next(extra) for q in range(nb))
    contracted = {a[p] for p, _ in pairs}
    return f"{a},{b}->" + "".join(c for c in a if c not in contracted) + "".join(c for c in b if c not in contracted)


def _check_offset(op: str, offset) -> int:
    if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
        raise TypeError(f"{op}: the diagonal offset must be an integer, got {offset!r}")
    return int(offset)


def _diagonal_axes(op: str, ndim: int, axis1, axis2) -> tuple[int, int]:
    a1, a2 = check_axis(axis1, ndim, op), check_axis(axis2, ndim, op)
    if a1 == a2:
        raise ValueError(f"{op}: axis1 and axis2 must be different axes, got {axis1} and {axis2}")
    return a1, a2


@register
class Diagonal(Function):
    """d diagonal(x) = grad written on the same diagonal of zeros shaped like x (diag_embed)

    numpy's and PyTorch's meaning: x[..., i, i + offset] along (axis1, axis2), put last; a view.
    """

    def forward(self, x, offset=0, axis1=0, axis2=1):
        offset = _check_offset("diagonal", offset)
        if x.ndim < 2:
            raise ShapeError(f"diagonal: needs at least 2 dimensions, got shape {x.shape}")
        a1, a2 = _diagonal_axes("diagonal", x.ndim, axis1, axis2)
        self.in_shape, self.where = x.shape, (offset, a1, a2)
        out = x.diagonal(offset, a1, a2)
        if x.flags.writeable:  # a writable view, as PyTorch's (numpy marks it read-only)
            out.setflags(write=True)
        return out

    def backward(self, grad):
        offset, a1, a2 = self.where
        return (DiagEmbed.dispatch(grad, offset=offset, axis1=a1, axis2=a2, shape=self.in_shape),)


@register
class DiagEmbed(Function):
    """d diag_embed(x) = the same diagonal of grad (diagonal)

    PyTorch's ``diag_embed``: x's last axis put on a diagonal of new axes (axis1, axis2) of side
    n + |offset|, zeros elsewhere. With ``shape`` it fills that shape's diagonal instead, square or
    not: the adjoint of ``diagonal``.
    """

    name = "diag_embed"

    def forward(self, x, offset=0, axis1=-2, axis2=-1, shape=None):
        offset = _check_offset("diag_embed", offset)
        if shape is None:
            if x.ndim == 0:
                raise ShapeError("diag_embed: needs at least 1 dimension, got shape ()")
            ndim = x.ndim + 1
            a1, a2 = _diagonal_axes("diag_embed", ndim, axis1, axis2)
            side, rest = x.shape[-1] + abs(offset), iter(x.shape[:-1])
            shape = tuple(side if d in (a1, a2) else next(rest) for d in range(ndim))
        else:
            a1, a2 = _diagonal_axes("diag_embed", len(shape), axis1, axis2)
        out = np.zeros(shape, dtype=x.dtype)
        view = out.diagonal(offset, a1, a2)
        if view.shape != x.shape:
            raise ShapeError(f"diag_embed: a diagonal of shape {view.shape} in shape {tuple(shape)} cannot hold "
                             f"an input of shape {x.shape}")
        view.flags.writeable = True  # numpy gives diagonals read-only; out is ours
        view[...] = x
        self.where = (offset, a1, a2)
        return out

    def backward(self, grad):
        offset, a1, a2 = self.where
        return (Diagonal.dispatch(grad, offset=offset, axis1=a1, axis2=a2),)


@register
class Trace(Function):
    """d trace(x) = grad * eye(rows, cols)"""

    def forward(self, x):
        if x.ndim != 2:
            raise ShapeError(f"trace: needs a 2-d tensor, got shape {x.shape}")
        self.in_shape = x.shape
        return np.trace(x)

    def backward(self, grad):
        return (grad * np.eye(*self.in_shape, dtype=grad.dtype),)


class _Triangle(Function):
    """Zero one side of the k-th diagonal of the last two axes; self-adjoint: the VJP masks grad the same way."""

    def forward(self, x, k=0):
        k = _check_offset(self.name, k)
        if x.ndim < 2:
            raise ShapeError(f"{self.name}: needs at least 2 dimensions, got shape {x.shape}")
        self.k = k
        return np.where(self.mask(x.shape[-2], x.shape[-1], k), x, x.dtype.type(0))

    def backward(self, grad):
        return (type(self).dispatch(grad, k=self.k),)


@register
class Tril(_Triangle):
    """d tril(x, k) = tril(grad, k)"""

    @staticmethod
    def mask(rows: int, cols: int, k: int) -> np.ndarray:
        return np.tri(rows, cols, k, dtype=bool)


@register
class Triu(_Triangle):
    """d triu(x, k) = triu(grad, k)"""

    @staticmethod
    def mask(rows: int, cols: int, k: int) -> np.ndarray:
        return ~np.tri(rows, cols, k - 1, dtype=bool)

