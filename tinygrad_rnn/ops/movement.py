"""Shape and indexing primitives: reshape, transpose, broadcast_to, indexing, cat, stack, pad, flip, roll, tile,
repeat_interleave, gather and scatter_add along a dim."""

from __future__ import annotations

import functools

import numpy as np

from .. import gradients
from ..function import Function, register
from ..shapes import ShapeError, check_axis, frozen_index, normalize_axis, scatter_add


@register
class Reshape(Function):
    """d reshape(x) = grad reshaped back"""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ShapeError(f"reshape: cannot reshape an array of shape {x.shape} into {shape}") from None

    def backward(self, grad):
        return (grad.reshape(self.in_shape),)


@register
class Transpose(Function):
    """d transpose(x, axes) = grad transposed by the inverse permutation"""

    accepts_lazy_grad = True  # a lookup of U.T's rows is a lookup of U's columns: it stays deferred

    def forward(self, x, axes=None, op="transpose"):
        n = x.ndim
        if axes is None:  # reversing the axes is its own inverse
            self.inverse = axes = tuple(range(n - 1, -1, -1))
            return x.transpose(axes)
        norm = [check_axis(a, max(n, 1), op) for a in axes] if len(axes) == n else None
        if norm is None or sorted(norm) != list(range(n)):
            raise ValueError(f"{op}: axes {axes} are not a permutation of the {n} axes of shape {x.shape}")
        inverse = [0] * n
        for i, a in enumerate(norm):
            inverse[a] = i
        self.inverse = tuple(inverse)
        return x.transpose(axes)

    def backward(self, grad):
        return (grad.transpose(self.inverse),)  # a deferred gradient transposes its parts


@register
class BroadcastTo(Function):
    """d broadcast_to(x) = grad (the tape sums it back to x's shape)"""

    name = "broadcast_to"

    def forward(self, x, shape, op="broadcast_to"):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ShapeError(f"{op}: cannot broadcast shape {np.shape(x)} to {shape}") from None

    def backward(self, grad):
        return (grad,)


@register
class GetItem(Function):
    """d x[index] = grad scattered (added) into zeros of x's shape, so repeated indices accumulate"""

    name = "getitem"

    def forward(self, x, index):
        self.in_shape = x.shape
        try:
            out = x[index]
        except IndexError as e:
            raise IndexError(f"getitem: index {index!r} is invalid for shape {x.shape}: {e}") from None
        self.save_for_backward(frozen_index(index))  # a copy: the caller may reuse its index array
        return out

    def backward(self, grad, index):
        return (ScatterAdd.dispatch(grad, index=index, shape=self.in_shape),)


@register
class ScatterAdd(Function):
    """d scatter_add(g, index, shape) = grad[index]; the adjoint of indexing"""

    name = "scatter_add"

    def forward(self, g, index, shape):
        index = frozen_index(index)
        self.save_for_backward(index)
        return scatter_add(g, index, shape)

    def backward(self, grad, index):
        return (GetItem.dispatch(grad, index=index),)

    @classmethod
    def on_arrays(cls, g, index, shape):
        """In a first-order VJP: the gradient form that keeps only the indexed values."""
        return gradients.scatter(g, index, shape)


@register
class Cat(Function):
    """d cat(xs, axis) = grad split back into the inputs' extents along axis"""

    def forward(self, *xs, axis=0):
        if not xs:
            raise ValueError("cat: needs at least one tensor")
        ndims = {np.ndim(x) for x in xs}
        if 0 in ndims:
            raise ShapeError("cat: 0-d arrays cannot be concatenated; use stack")
        axis = check_axis(axis, np.ndim(xs[0]), "cat")
        try:
            out = np.concatenate(xs, axis=axis)
        except ValueError as e:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ShapeError(f"cat: cannot concatenate shapes {shapes} along axis {axis}: {e}") from None
        self.axis = axis
        self.bounds = np.cumsum([0] + [np.shape(x)[axis] for x in xs]).tolist()
        return out

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(
            grad[lead + (slice(a, b),)] if need else None
            for a, b, need in zip(self.bounds, self.bounds[1:], self.needs_input_grad)
        )


@register
class Stack(Function):
    """d stack(xs, axis) = grad indexed at each input's position along the new axis"""

    def forward(self, *xs, axis=0):
        if not xs:
            raise ValueError("stack: needs at least one tensor")
        if len({np.shape(x) for x in xs}) > 1:
            shapes = ", ".join(str(np.shape(x)) for x in xs)
            raise ShapeError(f"stack: all inputs must have the same shape, got {shapes}")
        self.axis = check_axis(axis, np.ndim(xs[0]) + 1, "stack")
        return np.stack(xs, axis=self.axis)

    def backward(self, grad):
        lead = (slice(None),) * self.axis
        return tuple(
            grad[lead + (i,)] if need else None for i, need in enumerate(self.needs_input_grad)
        )


# --- padding, flips, rolls, tiles, gathers and scatters -----------------------------------
_PAD_MODES = ("constant", "reflect", "edge")


def _pad_options(op: str, pad_width, mode, ndim: int) -> tuple[tuple[int, int], ...]:
    """numpy's pad_width (an int, one (before, after) pair, or a pair per axis) as one pair per axis."""
    if mode not in _PAD_MODES:
        raise ValueError(f"{op}: mode must be 'constant', 'reflect' or 'edge', got {mode!r}")
    if isinstance(pad_width, (int, np.integer)) and not isinstance(pad_width, bool) and pad_width >= 0:
        return ((int(pad_width),) * 2,) * ndim  # the common case, without numpy's conversions
    try:
        widths = np.asarray(pad_width)
    except ValueError:  # ragged: ((1, 2), (3,))
        raise ValueError(f"{op}: pad_width {pad_width!r} is neither one (before, after) pair nor one per axis "
                         f"of a {ndim}-d array") from None
    if widths.size == 0 and ndim == 0:  # no pairs for no axes
        return ()
    if widths.dtype.kind not in "iu" or (widths < 0).any():
        raise ValueError(f"{op}: pad_width must be non-negative integers, got {pad_width!r}")
    try:
        pairs = np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ValueError(f"{op}: pad_width {pad_width!r} is neither one (before, after) pair nor one per axis "
                         f"of a {ndim}-d array") from None
    return tuple((int(b), int(a)) for b, a in pairs.tolist())


def _fold(g: np.ndarray, pairs, mode: str) -> np.ndarray:
    """The adjoint of padding: each padded element's value added to the element of the original it copies."""
    for d, (b, a) in enumerate(pairs):
        if not (b or a):
            continue
        m = g.shape[d]
        n = m - b - a
        lead = (slice(None),) * d
        out = g[lead + (slice(b, b + n),)]
        if mode == "constant":  # the padding is not a copy of anything
            g = out
            continue
        out = out.copy()
        src = np.pad(np.arange(n), (b, a), mode)  # the element each position copies, by numpy's own rule
        if b:
            np.add.at(out, lead + (src[:b],), g[lead + (slice(0, b),)])
        if a:
            np.add.at(out, lead + (src[b + n:],), g[lead + (slice(b + n, m),)])
        g = out
    return g


@register
class Pad(Function):
    """d pad(x) = pad_adjoint(grad): the padding cut off, or ('reflect', 'edge') added onto the elements it copies"""

    def forward(self, x, pad_width, mode="constant", value=0.0):
        self.pairs = pairs = _pad_options("pad", pad_width, mode, x.ndim)
        self.mode = mode
        self.interior = tuple(slice(b, b + n) for n, (b, _) in zip(x.shape, pairs)) or Ellipsis
        if mode == "constant":  # numpy's pad is ~10 µs of Python; this is one allocation and one copy
            out = np.full(tuple(n + b + a for n, (b, a) in zip(x.shape, pairs)), value, dtype=x.dtype)
            out[self.interior] = x
            return out
        try:
            return np.pad(x, pairs or 0, mode)  # () is no pad_width numpy accepts
        except ValueError:
            raise ShapeError(f"pad: cannot pad shape {x.shape} by {pairs} in mode {mode!r}: an empty axis has "
                             "nothing to copy") from None

    def backward(self, grad):
        if self.mode == "constant":
            return (grad[self.interior],)
        return (PadAdjoint.dispatch(grad, pad_width=self.pairs, mode=self.mode),)


@register
class PadAdjoint(Function):
    """d pad_adjoint(g) = pad(grad) with zeros: folding is the transpose of padding, and padding of folding"""

    name = "pad_adjoint"

    def forward(self, g, pad_width, mode="constant"):
        self.pairs = pairs = _pad_options("pad_adjoint", pad_width, mode, g.ndim)
        self.mode = mode
        if any(b + a > m or (mode != "constant" and b + a == m and m) for m, (b, a) in zip(g.shape, pairs)):
            raise ShapeError(f"pad_adjoint: shape {g.shape} is not a padding of an array by {pairs} in mode {mode!r}")
        out = _fold(g, pairs, mode)
        return g[...] if out is g else out  # a view, never the input itself

    def backward(self, grad):
        return (Pad.dispatch(grad, pad_width=self.pairs, mode=self.mode),)


@register
class Flip(Function):
    """d flip(x, dims) = grad flipped along the same dims"""

    def forward(self, x, dims=None):
        axes = normalize_axis(dims, x.ndim, "flip")
        self.index = tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(x.ndim)) or Ellipsis
        return x[self.index]

    def backward(self, grad):
        return (grad[self.index],)


def _ints(op: str, what: str, value) -> tuple[int, ...]:
    """An int or a sequence of ints as a tuple of ints; a TypeError naming the op otherwise."""
    if type(value) is int:
        return (value,)
    if type(value) is tuple and all(type(v) is int for v in value):
        return value
    values = (value,) if isinstance(value, (int, np.integer)) else value
    try:
        values = tuple(values)
    except TypeError:
        values = (value,)
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in values):
        raise TypeError(f"{op}: {what} must be an integer or a tuple of integers, got {value!r}")
    return tuple(int(v) for v in values)


@register
class Roll(Function):
    """d roll(x, shifts, dims) = grad rolled back by -shifts"""

    def forward(self, x, shifts, dims=None):
        if dims is None:  # PyTorch: roll the flattened tensor, then restore the shape
            shift = _ints("roll", "shifts", shifts)
            if len(shift) != 1:
                raise ValueError(f"roll: with dims=None, shifts must be one integer, got {shifts!r}")
            self.shifts, self.dims = shift[0], None
            return np.roll(x, shift[0])
        self.shifts = _ints("roll", "shifts", shifts)
        self.dims = tuple(check_axis(d, max(x.ndim, 1), "roll") for d in _ints("roll", "dims", dims))
        if len(self.shifts) != len(self.dims):
            raise ValueError(f"roll: shifts {shifts!r} and dims {dims!r} must have the same length")
        return np.roll(x, self.shifts, self.dims) if x.ndim else x[...]

    def backward(self, grad):
        back = -self.shifts if self.dims is None else tuple(-s for s in self.shifts)
        return (Roll.dispatch(grad, shifts=back, dims=self.dims),)


@register
class Tile(Function):
    """d tile(x, reps) = grad cut into its copies of x, summed"""

    def forward(self, x, reps):
        reps = _ints("tile", "reps", reps)
        if any(r < 0 for r in reps):
            raise ValueError(f"tile: reps must be non-negative, got {reps}")
        self.in_shape, self.reps = x.shape, reps
        return np.tile(x, reps)

    def backward(self, grad):
        d = max(len(self.reps), len(self.in_shape))
        reps = (1,) * (d - len(self.reps)) + self.reps
        shape = (1,) * (d - len(self.in_shape)) + self.in_shape
        blocks = tuple(v for pair in zip(reps, shape) for v in pair)  # (r0, n0, r1, n1, ...)
        return (grad.reshape(blocks).sum(axis=tuple(range(0, 2 * d, 2))).reshape(self.in_shape),)


@register
class RepeatInterleave(Function):
    """d repeat_interleave(x, repeats, dim) = grad summed over each element's run of copies"""

    name = "repeat_interleave"

    def forward(self, x, repeats, dim=None):
        self.in_shape = x.shape
        if dim is None:  # PyTorch: the flattened tensor
            flat, axis = x.reshape(-1), 0
        else:
            axis = check_axis(dim, max(x.ndim, 1), "repeat_interleave")
            flat = x if x.ndim else x.reshape(1)
        n = flat.shape[axis]
        if type(repeats) is int and repeats >= 0:  # the common case, without numpy's conversions
            return self._uniform(flat, axis, n, repeats)
        counts = np.asarray(repeats)
        if counts.dtype.kind not in "iu" and counts.size:
            raise TypeError(f"repeat_interleave: repeats must be integers, got {repeats!r}")
        if counts.ndim > 1 or (counts < 0).any():
            raise ValueError(f"repeat_interleave: repeats must be a non-negative integer or a 1-d sequence of them, "
                             f"got {repeats!r}")
        if counts.size == 1:
            return self._uniform(flat, axis, n, int(counts.reshape(-1)[0]))
        if counts.shape[0] != n:
            raise ShapeError(f"repeat_interleave: {counts.shape[0]} repeats for the {n} elements along dim "
                             f"{dim} of shape {x.shape}")
        runs = np.repeat(np.arange(n), counts.astype(np.intp))
        self.index = (slice(None),) * axis + (runs,) if flat.shape == x.shape else np.unravel_index(runs, x.shape)
        return np.repeat(flat, counts.astype(np.intp), axis)

    def _uniform(self, flat, axis, n, k):
        """One count for every element: a reshape and a sum undo it."""
        self.index = None
        self.blocks = flat.shape[:axis] + (n, k) + flat.shape[axis + 1:]
        self.axis = axis + 1
        return np.repeat(flat, k, axis)

    def backward(self, grad):
        if self.index is None:
            return (grad.reshape(self.blocks).sum(axis=self.axis).reshape(self.in_shape),)
        return (ScatterAdd.dispatch(grad, index=self.index, shape=self.in_shape),)


def _along(op: str, shape: tuple[int, ...], dim, index, src_shape=None, negative: bool = False) -> tuple:
    """PyTorch's gather/scatter index along ``dim``, checked, as the numpy index that picks the same
    elements (``x[full]`` is the gather): an array of index's shape at ``dim``, aranges elsewhere.
    ``negative`` counts negative indices from the end (numpy's take_along_axis) in the same one pass."""
    index = np.asarray(index)
    if index.dtype.kind not in "iu":
        if index.size:
            raise TypeError(f"{op}: index must hold integers, got dtype {index.dtype}")
        index = index.astype(np.intp)
    ndim = len(shape)
    dim = check_axis(dim, max(ndim, 1), op)
    if index.ndim != ndim:
        raise ShapeError(f"{op}: index of shape {index.shape} must have as many dimensions as the input of "
                         f"shape {shape}")
    for d in range(ndim):
        if index.shape[d] > shape[d] and d != dim:
            raise ShapeError(f"{op}: index of shape {index.shape} is larger than the input of shape {shape} "
                         f"outside dimension {dim}")
    if src_shape is not None and any(i > s for i, s in zip(index.shape, src_shape)):
        raise ShapeError(f"{op}: index of shape {index.shape} is larger than src of shape {src_shape}")
    size = shape[dim] if ndim else 1
    if index.size:
        lo, hi = index.min(), index.max()
        low = -size if negative else 0
        if lo < low or hi >= size:
            where = f"axis {dim}" if negative else f"dimension {dim}"
            raise IndexError(f"{op}: index {lo if lo < low else hi} is out of range for {where} with size {size}")
        if lo < 0:
            index = np.where(index < 0, index + size, index)
    if not ndim:
        return ()  # the one element
    full = list(_aranges(index.shape))
    full[dim] = np.array(index, dtype=np.intp)  # a copy: the caller may change its index
    return tuple(full)


@functools.lru_cache(maxsize=64)
def _aranges(shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """np.indices(shape, sparse=True), read-only and kept: an index's other axes, the same for every call."""
    out = np.indices(shape, sparse=True)
    for a in out:
        a.flags.writeable = False
    return tuple(out)


@register
class Gather(Function):
    """d gather(x, dim, index) = grad added into zeros of x's shape where index picked (repeats accumulate)"""

    def forward(self, x, dim, index, negative=False):
        full = _along("take_along_axis" if negative else "gather", x.shape, dim, index, negative=negative)
        self.in_shape = x.shape
        self.save_for_backward(full)
        return x[full]

    def backward(self, grad, full):
        return (ScatterAdd.dispatch(grad, index=full, shape=self.in_shape),)


@register
class ScatterAddDim(Function):
    """d scatter_add(x, dim, index, src) = grad, gather(grad, dim, index) (zero where src is past index's shape)"""

    name = "scatter_add_dim"

    def forward(self, x, src, dim, index):
        src = np.asarray(src)
        if src.ndim != np.ndim(x):
            raise ShapeError(f"scatter_add: src of shape {src.shape} must have as many dimensions as the input "
                             f"of shape {np.shape(x)}")
        full = _along("scatter_add", x.shape, dim, index, src.shape)
        used = np.shape(index)
        self.src_shape = src.shape
        self.used = None if used == src.shape else tuple(slice(0, n) for n in used)  # only index's shape of src
        self.save_for_backward(full)
        out = np.array(x, dtype=np.result_type(x, src))
        np.add.at(out, full, src if self.used is None else src[self.used])
        return out

    def backward(self, grad, full):
        gsrc = None
        if self.needs_input_grad[1]:
            gsrc = grad[full] if full else grad
            if self.used is not None:
                gsrc = ScatterAdd.dispatch(gsrc, index=self.used, shape=self.src_shape)
        return (grad if self.needs_input_grad[0] else None), gsrc
