"""Tensor: a numpy array, its gradient, and the node of the tape that produced it."""

from __future__ import annotations

import numpy as np

_ALLOWED_KINDS = "biuf"  # bool, int, unsigned, float: what numpy arithmetic here is defined on


class Tensor:
    """An n-dimensional array that records the operations applied to it when it requires grad.

    ``data`` is the live numpy array (an ndarray given to the constructor is used as is, not
    copied; lists and scalars are converted the way ``numpy.array`` does). ``grad`` is ``None``
    until a backward pass reaches the tensor, then a C-contiguous array of its shape and dtype.
    """

    __slots__ = ("data", "_grad", "_pending", "requires_grad", "_ctx", "__weakref__")
    __array_ufunc__ = None  # make ``ndarray <op> Tensor`` defer to the Tensor's reflected operator
    __hash__ = object.__hash__  # ``==`` is elementwise, identity stays the hash

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        if dtype is not None or not isinstance(data, np.ndarray):
            data = np.array(data, dtype=dtype)
        if data.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"Tensor: unsupported dtype {data.dtype}; use a bool, integer or float array")
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"Tensor: requires_grad=True needs a floating-point dtype, got {data.dtype}")
        self.data = data
        self._grad = self._pending = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None

    @staticmethod
    def _make(data: np.ndarray, ctx) -> Tensor:
        """The fast path for op outputs: no conversion, no checks."""
        t = object.__new__(Tensor)
        t.data = data
        t._grad = t._pending = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        return t

    # --- the gradient ------------------------------------------------------------------
    @property
    def grad(self) -> np.ndarray | None:
        """The accumulated gradient: a C-contiguous array of this tensor's shape and dtype, or None."""
        if self._pending is not None:  # a lazy gradient is made dense only when someone looks
            pending, self._pending = self._pending, None
            self._grad = pending.dense() if self._grad is None else pending.add_to(self._grad)
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        self._grad = value
        self._pending = None

    def accumulate_lazy(self, g) -> None:
        """Add a lazy gradient (tape internals, see ``sparse``): kept as it is until ``.grad`` is read,
        so an optimizer can apply a lookup's gradient to the looked-up entries only."""
        if self._grad is not None:
            g.add_to(self._grad)
        else:
            self._pending = g if self._pending is None else self._pending + g

    # --- array facts -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made; False for results of recorded operations."""
        return self._ctx is None

    @property
    def grad_fn(self):
        """The node that produced this tensor, or None for a leaf."""
        return self._ctx

    def item(self):
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._make(self.data, None)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        return bool(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = "" if self.dtype in (np.float64, np.int64, np.bool_) else f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # --- the reverse pass --------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate this tensor's gradient into ``.grad`` of every leaf it depends on."""
        _tape.backward(self, grad, retain_graph, create_graph)

    # --- arithmetic --------------------------------------------------------------------
    def __add__(self, other):
        return _ops.Add.apply(self, other)

    def __radd__(self, other):
        return _ops.Add.apply(other, self)

    def __sub__(self, other):
        return _ops.Sub.apply(self, other)

    def __rsub__(self, other):
        return _ops.Sub.apply(other, self)

    def __mul__(self, other):
        return _ops.Mul.apply(self, other)

    def __rmul__(self, other):
        return _ops.Mul.apply(other, self)

    def __truediv__(self, other):
        return _ops.Div.apply(self, other)

    def __rtruediv__(self, other):
        return _ops.Div.apply(other, self)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            return _ops.PowScalar.apply(self, exponent=exponent)
        return _ops.Pow.apply(self, exponent)

    def __rpow__(self, base):
        return _ops.Pow.apply(base, self)

    def __matmul__(self, other):
        return _ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return _ops.MatMul.apply(other, self)

    # --- comparisons: values only, never differentiable --------------------------------
    def __lt__(self, other):
        return Tensor(self.data < _raw(other))

    def __le__(self, other):
        return Tensor(self.data <= _raw(other))

    def __gt__(self, other):
        return Tensor(self.data > _raw(other))

    def __ge__(self, other):
        return Tensor(self.data >= _raw(other))

    def __eq__(self, other):
        return Tensor(self.data == _raw(other))

    def __ne__(self, other):
        return Tensor(self.data != _raw(other))

    # --- elementwise functions ---------------------------------------------------------
    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def sqrt(self):
        return _ops.Sqrt.apply(self)

    def tanh(self):
        return _ops.Tanh.apply(self)

    def sigmoid(self):
        return _ops.Sigmoid.apply(self)

    def relu(self):
        return _ops.Relu.apply(self)

    def abs(self):
        return _ops.Abs.apply(self)

    def clip(self, lo, hi):
        return _ops.Clip.apply(self, lo=lo, hi=hi)

    def astype(self, dtype):
        return _ops.Cast.apply(self, dtype=np.dtype(dtype))

    def softmax(self, axis: int = -1):
        return _ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1):
        return _ops.LogSoftmax.apply(self, axis=axis)

    # --- reductions --------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False):
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        total = self.sum(axis=axis, keepdims=keepdims)
        count = self.size // max(total.size, 1)
        return total * (1.0 / count) if count else total * np.nan

    def max(self, axis=None, keepdims: bool = False):
        """Maximum; where several elements tie, the gradient is split evenly between them."""
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False):
        return -((-self).max(axis=axis, keepdims=keepdims))

    # --- movement ----------------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _ops.Reshape.apply(self, shape=tuple(shape))

    def flatten(self):
        return self.reshape(-1)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        return _ops.Transpose.apply(self, axes=tuple(axes) if axes else None)

    permute = transpose

    def swapaxes(self, axis1: int, axis2: int):
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.transpose(axes)

    @property
    def T(self):
        return self.transpose()

    def broadcast_to(self, shape):
        return _ops.BroadcastTo.apply(self, shape=tuple(shape))

    def __getitem__(self, index):
        return _ops.GetItem.apply(self, index=_raw_index(index))


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _raw_index(index):
    """Tensors and lists inside an index become arrays, so the index can be saved and reused."""
    if isinstance(index, tuple):
        if not any(isinstance(i, (Tensor, list, tuple)) for i in index):
            return index
        return tuple(_raw_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


from . import ops as _ops  # noqa: E402  (ops import Tensor: bound after the class exists)
from . import tape as _tape  # noqa: E402
