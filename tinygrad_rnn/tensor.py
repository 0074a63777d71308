"""Tensor: a numpy array, its gradient, its version, and the node of the tape that produced it.

The methods call primitives through the registry (``registry.REGISTRY``), which the package fills
on import, so this module imports no op and no import order matters.
"""

from __future__ import annotations

import numpy as np

from . import grad_mode, gradients
from .registry import REGISTRY as _P
from .shapes import ShapeError, check_axis

_ALLOWED_KINDS = "biuf"  # bool, int, unsigned, float: what numpy arithmetic here is defined on
# In-place changes counted so far, over all tensors: a node recorded when it was n, backpropagated
# while it still is n, saw no change to what it saved, and skips the per-tensor check.
CHANGES = [0]


class Tensor:
    """An n-dimensional array that records the operations applied to it when it requires grad.

    ``data`` is the live numpy array (an ndarray given to the constructor is used as is, not
    copied; lists and scalars are converted the way ``numpy.array`` does). ``grad`` is ``None``
    until a backward pass reaches the tensor, then a C-contiguous array of its shape and dtype
    that belongs to this tensor alone. ``_version`` counts the in-place changes made through the
    tensor's methods (and optimizer steps); tensors that share memory through ``detach``, views
    or ``Tensor(t)`` share the count. Writing to ``data`` directly is not counted.
    """

    __slots__ = ("data", "requires_grad", "_grad", "_node", "_counter", "__weakref__")
    __array_ufunc__ = None  # make ``ndarray <op> Tensor`` defer to the Tensor's reflected operator
    __hash__ = object.__hash__  # ``==`` is elementwise, identity stays the hash

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        counter = None
        if isinstance(data, Tensor):
            if data._counter is None:
                data._counter = [0]
            counter, data = data._counter, data.data
        if dtype is not None or not isinstance(data, np.ndarray):
            data, counter = np.array(data, dtype=dtype), None  # a new array: a count of its own
        if data.dtype.kind not in _ALLOWED_KINDS:
            raise TypeError(f"Tensor: unsupported dtype {data.dtype}; use a bool, integer or float array")
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"Tensor: requires_grad=True needs a floating-point dtype, got {data.dtype}")
        self.data = data
        self.requires_grad = bool(requires_grad)
        self._grad = self._node = None
        self._counter = counter

    @staticmethod
    def _make(data: np.ndarray, node, counter: list | None = None) -> Tensor:
        """The fast path for op outputs: no conversion, no checks. ``counter`` is shared with a viewed input."""
        t = object.__new__(Tensor)
        t.data = data
        t.requires_grad = node is not None
        t._grad = None
        t._node = node
        t._counter = counter  # None until first needed (a node saves it, a view shares it)
        return t

    # --- the gradient ------------------------------------------------------------------
    @property
    def grad(self) -> np.ndarray | None:
        """The accumulated gradient: a C-contiguous array of this tensor's shape and dtype, or None."""
        g = self._grad
        if g is not None and type(g) is not np.ndarray:  # a deferred form becomes an array when read
            g = self._grad = gradients.densify(g)
        return g

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            value = value.data if isinstance(value, Tensor) else value
            if not isinstance(value, np.ndarray) or value.shape != self.shape:
                raise ValueError(f"grad: expected None or an array of shape {self.shape}, "
                                 f"got {type(value).__name__} of shape {np.shape(value)}")
            if value.dtype != self.dtype:
                value = value.astype(self.dtype)
        self._grad = value

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
        return self._node is None

    @property
    def grad_fn(self):
        """The node that produced this tensor, or None for a leaf."""
        return self._node

    @property
    def _version(self) -> int:
        """How many in-place changes the tensor's memory has seen (PyTorch's name)."""
        return 0 if self._counter is None else self._counter[0]

    def _bump(self) -> None:
        """Count one in-place change."""
        CHANGES[0] += 1
        if self._counter is None:
            self._counter = [1]
        else:
            self._counter[0] += 1

    def item(self):
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data (and version count), cut from the graph."""
        if self._counter is None:
            self._counter = [0]
        return Tensor._make(self.data, None, self._counter)

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
        if self._node is not None:
            extra += f", grad_fn={self._node!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    # --- the reverse pass --------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate this tensor's gradient into ``.grad`` of every leaf it depends on."""
        from .tape import backward  # the tape imports Tensor: resolved here, at call time

        backward(self, grad, retain_graph, create_graph)

    # --- in place: only outside the graph, each one counted -----------------------------
    def add_(self, other) -> Tensor:
        """self += other, in place."""
        return self._inplace("add_", np.add, other)

    def sub_(self, other) -> Tensor:
        """self -= other, in place."""
        return self._inplace("sub_", np.subtract, other)

    def mul_(self, other) -> Tensor:
        """self *= other, in place."""
        return self._inplace("mul_", np.multiply, other)

    def zero_(self) -> Tensor:
        """Set every element to zero, in place."""
        return self.fill_(0)

    def fill_(self, value) -> Tensor:
        """Set every element to ``value``, in place."""
        return self._write("fill_", lambda data, v: data.__setitem__(Ellipsis, v), value)

    def copy_(self, src) -> Tensor:
        """Copy ``src`` (broadcast to this shape, converted to this dtype) into the tensor, in place."""
        return self._write("copy_", lambda data, v: np.copyto(data, v, casting="unsafe"), src)

    def __setitem__(self, index, value) -> None:
        raw = _raw_index(index)
        try:
            self._write("__setitem__", lambda data, v: data.__setitem__(raw, v), value)
        except IndexError as e:
            raise IndexError(f"__setitem__: index {index!r} is invalid for shape {self.shape}: {e}") from None

    def _inplace(self, op: str, ufunc, other) -> Tensor:
        return self._write(op, lambda data, v: ufunc(data, v, out=data), other)

    def _write(self, op: str, write, value) -> Tensor:
        """Change the data in place with ``write(data, value)``: checked, errors named, counted."""
        self._check_inplace(op, value)
        value = _raw(value)
        try:
            write(self.data, value)
        except TypeError:  # numpy's casting error: e.g. a float result into an integer tensor
            raise TypeError(f"{op}: cannot write a {np.result_type(value)} value into a tensor of dtype "
                            f"{self.dtype} in place") from None
        except ValueError as e:
            try:
                np.broadcast_shapes(np.shape(value), self.shape)
            except ValueError:
                raise ShapeError(f"{op}: a value of shape {np.shape(value)} does not broadcast to the tensor's "
                                 f"shape {self.shape}") from None
            raise ValueError(f"{op}: {e}") from None
        self._bump()
        return self

    def _check_inplace(self, op: str, value=None) -> None:
        if grad_mode.enabled:
            if self.requires_grad and self._node is None:
                raise RuntimeError(f"{op}: a leaf tensor that requires grad cannot be changed in place while "
                                   "operations are recorded; change it inside `with no_grad():`, as optimizers do")
            if self.requires_grad:
                raise RuntimeError(f"{op}: this tensor is the result of a recorded operation ({self._node!r}); "
                                   "in-place changes to tensors in the graph are not supported, use the "
                                   "out-of-place form")
            if isinstance(value, Tensor) and value.requires_grad:
                raise RuntimeError(f"{op}: the value requires grad, and an in-place write is not recorded, so its "
                                   "gradient would be lost; build the result out of place (x + y, where, stack, "
                                   "cat), or write value.detach()")
        if not self.data.flags.writeable:
            raise ValueError(f"{op}: the tensor's array of shape {self.shape} is read-only "
                             "(a broadcast view, say); copy it first")

    # --- augmented assignment: in place outside the graph, a new tensor inside it -------
    def __iadd__(self, other):
        return self._augmented("add_", np.add, other, Tensor.__add__)

    def __isub__(self, other):
        return self._augmented("sub_", np.subtract, other, Tensor.__sub__)

    def __imul__(self, other):
        return self._augmented("mul_", np.multiply, other, Tensor.__mul__)

    def __itruediv__(self, other):
        return self._augmented("div_", np.divide, other, Tensor.__truediv__)

    def _augmented(self, op: str, ufunc, other, out_of_place):
        """``x += y`` writes into x, like numpy and PyTorch, when no gradient is being recorded through
        it; a tensor in the graph (``total += loss``) gets a new tensor, as ``total = total + loss``."""
        if grad_mode.enabled and (self._node is not None or (isinstance(other, Tensor) and other.requires_grad)):
            return out_of_place(self, other)
        return self._inplace(op, ufunc, other)

    # --- arithmetic --------------------------------------------------------------------
    def __add__(self, other):
        return _P["add"].apply(self, other)

    def __radd__(self, other):
        return _P["add"].apply(other, self)

    def __sub__(self, other):
        return _P["sub"].apply(self, other)

    def __rsub__(self, other):
        return _P["sub"].apply(other, self)

    def __mul__(self, other):
        return _P["mul"].apply(self, other)

    def __rmul__(self, other):
        return _P["mul"].apply(other, self)

    def __truediv__(self, other):
        return _P["div"].apply(self, other)

    def __rtruediv__(self, other):
        return _P["div"].apply(other, self)

    def __neg__(self):
        return _P["neg"].apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
            return _P["pow_scalar"].apply(self, exponent=exponent)
        return _P["pow"].apply(self, exponent)

    def __rpow__(self, base):
        return _P["pow"].apply(base, self)

    def __matmul__(self, other):
        return _P["matmul"].apply(self, other)

    def __rmatmul__(self, other):
        return _P["matmul"].apply(other, self)

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
        return _P["exp"].apply(self)

    def log(self):
        return _P["log"].apply(self)

    def sqrt(self):
        return _P["sqrt"].apply(self)

    def tanh(self):
        return _P["tanh"].apply(self)

    def sigmoid(self):
        return _P["sigmoid"].apply(self)

    def relu(self):
        return _P["relu"].apply(self)

    def abs(self):
        return _P["abs"].apply(self)

    def clip(self, lo, hi):
        return _P["clip"].apply(self, lo=lo, hi=hi)

    def astype(self, dtype):
        return _P["cast"].apply(self, dtype=np.dtype(dtype))

    def softmax(self, axis: int = -1):
        return _P["softmax"].apply(self, axis=axis)

    def log_softmax(self, axis: int = -1):
        return _P["log_softmax"].apply(self, axis=axis)

    # --- elementwise math (ops/math_ops.py) ----------------------------------------------

    # --- activations (ops/activations.py) ----------------------------------------------

    # --- reductions --------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False):
        return _P["sum"].apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        total = self.sum(axis=axis, keepdims=keepdims)
        count = self.size // max(total.size, 1)
        return total * (1.0 / count) if count else total * np.nan

    def max(self, axis=None, keepdims: bool = False):
        """Maximum; where several elements tie, the gradient is split evenly between them."""
        return _P["max"].apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False):
        """Minimum; where several elements tie, the gradient is split evenly between them."""
        return _P["min"].apply(self, axis=axis, keepdims=keepdims)

    # --- more reductions and linear algebra (ops/reduce.py, ops/linalg.py) --------------

    # --- movement ----------------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _P["reshape"].apply(self, shape=tuple(shape))

    def flatten(self):
        return self.reshape(-1)

    def transpose(self, *axes):
        """Permute the axes (numpy's meaning: no argument or None reverses them all)."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _P["transpose"].apply(self, axes=tuple(axes) if axes else None)

    permute = transpose

    def swapaxes(self, axis1: int, axis2: int):
        axes = list(range(self.ndim))
        a, b = check_axis(axis1, self.ndim, "swapaxes"), check_axis(axis2, self.ndim, "swapaxes")
        axes[a], axes[b] = axes[b], axes[a]
        return self.transpose(axes)

    @property
    def T(self):
        return self.transpose()

    def broadcast_to(self, shape):
        return _P["broadcast_to"].apply(self, shape=tuple(shape))

    def __getitem__(self, index):
        return _P["getitem"].apply(self, index=_raw_index(index))

    # --- more movement (ops/movement.py) -------------------------------------------------


def increment_version(*tensors: Tensor) -> None:
    """Count an in-place change made to the tensors' data by other means (an optimizer's numpy update).

    A recorded operation that saved one of them then refuses to run its backward.
    """
    for t in tensors:
        t._bump()


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _raw_index(index):
    """The index with Tensors, lists and tuples inside it as arrays, as numpy reads them: so it can be
    saved, and its repeated entries are seen (``x[(0, 0), :]`` picks row 0 twice)."""
    if isinstance(index, tuple):
        for i in index:
            if isinstance(i, (Tensor, list, tuple)):
                return tuple(_raw_part(i) for i in index)
        return index
    return _raw_part(index)


def _raw_part(part):
    if isinstance(part, Tensor):
        return part.data
    if isinstance(part, (list, tuple)):
        return np.asarray([p.data if isinstance(p, Tensor) else p for p in part])
    return part
