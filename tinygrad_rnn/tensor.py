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

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place: it becomes a leaf that does not require grad."""
        self._node = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Start (or stop) recording operations on this leaf, in place; returns the tensor."""
        if self._node is not None and not requires_grad:
            raise RuntimeError("requires_grad_: this tensor is the result of a recorded operation "
                               f"({self._node!r}); only leaves can stop requiring grad — use detach()")
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating-point tensors can require grad, this one is {self.dtype}")
        self.requires_grad = bool(requires_grad) or self._node is not None
        return self

    # --- hooks: see and change gradients as the reverse pass goes ----------------------
    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient during every backward pass; it may return a
        replacement (a Tensor or array of the same shape) or None. Returns a handle with ``remove()``."""
        from .hooks import register_hook  # hooks imports Tensor: resolved here, at call time

        return register_hook(self, hook)

    def retain_grad(self) -> None:
        """Keep this computed tensor's gradient in ``.grad`` after ``backward`` (leaves always keep theirs)."""
        from .hooks import retain_grad

        retain_grad(self)

    @property
    def retains_grad(self) -> bool:
        """True for a computed tensor after ``retain_grad()``."""
        from .hooks import _RETAINED, _lookup

        refs = None if self._node is None else _lookup(_RETAINED, self._node)
        return bool(refs) and any(r() is self for r in refs)

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
                             "(a broadcast view such as expand's, say); copy it first")

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
        if isinstance(exponent, (int, float, np.integer, np.floating)) and not isinstance(exponent, bool):
            return _P["pow_scalar"].apply(self, exponent=exponent.item() if isinstance(exponent, np.generic)
                                          else exponent)  # a Python number never widens the tensor
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
        """Limit to [lo, hi] (either may be None; arrays or tensors broadcast to this shape); zero gradient
        where clipped. The bounds are constants: for a gradient in them use ``maximum``/``minimum``."""
        return _P["clip"].apply(self, lo=_bound("clip", lo), hi=_bound("clip", hi))

    def astype(self, dtype):
        return _P["cast"].apply(self, dtype=np.dtype(dtype))

    def softmax(self, axis: int = -1):
        return _P["softmax"].apply(self, axis=axis)

    def log_softmax(self, axis: int = -1):
        return _P["log_softmax"].apply(self, axis=axis)

    # --- elementwise math (ops/math_ops.py) ----------------------------------------------
    def maximum(self, other):
        """Elementwise maximum; at a tie each input gets half the gradient (as PyTorch)."""
        return _P["maximum"].apply(self, other)

    def minimum(self, other):
        """Elementwise minimum; at a tie each input gets half the gradient (as PyTorch)."""
        return _P["minimum"].apply(self, other)

    def __mod__(self, other):
        return _P["remainder"].apply(self, other)

    def __rmod__(self, other):
        return _P["remainder"].apply(other, self)

    def remainder(self, other):
        """Floor modulo (numpy's and Python's ``%``): the result has the divisor's sign."""
        return _P["remainder"].apply(self, other)

    def sin(self):
        return _P["sin"].apply(self)

    def cos(self):
        return _P["cos"].apply(self)

    def tan(self):
        return _P["tan"].apply(self)

    def arctan(self):
        return _P["atan"].apply(self)

    atan = arctan

    def arctan2(self, other):
        """atan2(self, other): the angle of the point (other, self), self being y (numpy's argument order)."""
        return _P["atan2"].apply(self, other)

    atan2 = arctan2

    def sinh(self):
        return _P["sinh"].apply(self)

    def cosh(self):
        return _P["cosh"].apply(self)

    def log1p(self):
        return _P["log1p"].apply(self)

    def expm1(self):
        return _P["expm1"].apply(self)

    def log2(self):
        return _P["log2"].apply(self)

    def log10(self):
        return _P["log10"].apply(self)

    def erf(self):
        return _P["erf"].apply(self)

    def reciprocal(self):
        return _P["reciprocal"].apply(self)

    def rsqrt(self):
        return _P["rsqrt"].apply(self)

    def square(self):
        return _P["pow_scalar"].apply(self, exponent=2)

    def sign(self):
        """-1, 0 or 1 (nan for nan); its gradient is zero."""
        return _P["sign"].apply(self)

    def floor(self):
        return _P["floor"].apply(self)

    def ceil(self):
        return _P["ceil"].apply(self)

    def round(self, decimals: int = 0):
        """Round half to even (numpy's and PyTorch's rule); its gradient is zero."""
        return _P["round"].apply(self, decimals=decimals)

    def trunc(self):
        return _P["trunc"].apply(self)

    def isnan(self):
        return Tensor(np.isnan(self.data))

    def isinf(self):
        return Tensor(np.isinf(self.data))

    def isfinite(self):
        return Tensor(np.isfinite(self.data))


    # --- activations (ops/activations.py) ----------------------------------------------
    def softplus(self, beta: float = 1.0, threshold: float = 20.0):
        return _P["softplus"].apply(self, beta=beta, threshold=threshold)

    def gelu(self, approximate: str = "none"):
        return _P["gelu"].apply(self, approximate=approximate)

    def silu(self):
        return _P["silu"].apply(self)

    def leaky_relu(self, negative_slope: float = 0.01):
        return _P["leaky_relu"].apply(self, negative_slope=negative_slope)

    def elu(self, alpha: float = 1.0):
        return _P["elu"].apply(self, alpha=alpha)

    def selu(self):
        return _P["selu"].apply(self)

    def hardtanh(self, min_val: float = -1.0, max_val: float = 1.0):
        return _P["hardtanh"].apply(self, min_val=min_val, max_val=max_val)

    def relu6(self):
        return _P["hardtanh"].apply(self, min_val=0.0, max_val=6.0)

    def softsign(self):
        return _P["softsign"].apply(self)

    def logsigmoid(self):
        return _P["logsigmoid"].apply(self)


    # --- reductions --------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False):
        return _P["sum"].apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        """Average over ``axis`` (NaN over no elements); one fused node, half the cost of sum then scale."""
        return _P["mean"].apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False, return_indices: bool = False):
        """Maximum; where several elements tie, the gradient is split evenly between them.

        ``return_indices=True`` (with an int axis) gives ``(values, indices)`` like ``torch.max(x, dim)``:
        the first maximal index, and the gradient of ``values`` to that element only (PyTorch's rule).
        """
        if return_indices:
            from .ops.reduce import extremum_with_indices  # ops import this module: resolved at call time

            return extremum_with_indices(self, "max", axis, keepdims)
        return _P["max"].apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims: bool = False, return_indices: bool = False):
        """Minimum; where several elements tie, the gradient is split evenly between them.

        ``return_indices=True`` (with an int axis) gives ``(values, indices)`` like ``torch.min(x, dim)``.
        """
        if return_indices:
            from .ops.reduce import extremum_with_indices

            return extremum_with_indices(self, "min", axis, keepdims)
        return _P["min"].apply(self, axis=axis, keepdims=keepdims)

    # --- more reductions and linear algebra (ops/reduce.py, ops/linalg.py) --------------
    def var(self, axis=None, keepdims: bool = False, correction=1):
        """Variance over ``axis`` divided by n - correction (1 by default as torch.var, numpy's ddof is 0); one node."""
        return _P["var"].apply(self, axis=axis, keepdims=keepdims, correction=correction)

    def std(self, axis=None, keepdims: bool = False, correction=1):
        """Standard deviation (correction=1 by default, as PyTorch, unlike numpy's ddof=0); gradient 0 where it is 0."""
        return _P["std"].apply(self, axis=axis, keepdims=keepdims, correction=correction)

    def prod(self, axis=None, keepdims: bool = False):
        """Product over ``axis``; its gradient is exact where elements are zero."""
        return _P["prod"].apply(self, axis=axis, keepdims=keepdims)

    def logsumexp(self, axis=None, keepdims: bool = False):
        """log(sum(exp(x))) over ``axis``, shifted by the max so large inputs do not overflow."""
        return _P["logsumexp"].apply(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None):
        """Running sum along ``axis`` (of the flattened tensor for None, as numpy)."""
        return _P["cumsum"].apply(self, axis=axis)

    def cumprod(self, axis=None):
        """Running product along ``axis`` (of the flattened tensor for None, as numpy)."""
        return _P["cumprod"].apply(self, axis=axis)

    def norm(self, p=2, axis=None, keepdims: bool = False):
        """Vector p-norm of the elements over ``axis``, p in 1, 2, inf, -inf, 'fro' (torch.linalg.vector_norm)."""
        return _P["norm"].apply(self, p=p, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims: bool = False):
        """Index of the first largest element (of the flattened tensor for None) as int64; never recorded."""
        return self._arg_extremum("argmax", axis, keepdims)

    def argmin(self, axis=None, keepdims: bool = False):
        """Index of the first smallest element (of the flattened tensor for None) as int64; never recorded."""
        return self._arg_extremum("argmin", axis, keepdims)

    def _arg_extremum(self, op: str, axis, keepdims: bool):
        data = self.data
        if axis is not None:
            axis = check_axis(axis, max(data.ndim, 1), op)  # a 0-d tensor accepts 0 and -1, as PyTorch
            if data.ndim == 0:
                axis = None
        if data.size == 0 and (axis is None or data.shape[axis] == 0):
            raise ValueError(f"{op}: cannot reduce an empty array of shape {data.shape}")
        found = (np.argmax if op == "argmax" else np.argmin)(data, axis=axis, keepdims=keepdims)
        return Tensor(np.asarray(found, dtype=np.int64))

    def any(self, axis=None, keepdims: bool = False):
        """True where any element over ``axis`` is nonzero, as a bool Tensor; never recorded."""
        from .shapes import normalize_axis

        return Tensor(np.asarray(np.any(self.data, axis=normalize_axis(axis, self.ndim, "any"), keepdims=keepdims)))

    def all(self, axis=None, keepdims: bool = False):
        """True where every element over ``axis`` is nonzero, as a bool Tensor; never recorded."""
        from .shapes import normalize_axis

        return Tensor(np.asarray(np.all(self.data, axis=normalize_axis(axis, self.ndim, "all"), keepdims=keepdims)))

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1, *, dim1=None, dim2=None):
        """The diagonal x[..., i, i + offset] of axes (axis1, axis2), put last (torch.diagonal's dim1, dim2)."""
        axis1 = _either("diagonal", "axis1", axis1, "dim1", dim1, 0)
        axis2 = _either("diagonal", "axis2", axis2, "dim2", dim2, 1)
        return _P["diagonal"].apply(self, offset=offset, axis1=axis1, axis2=axis2)

    def diag(self, k: int = 0):
        """A 1-d tensor put on the k-th diagonal of a square matrix, or a matrix's k-th diagonal (numpy.diag)."""
        if self.ndim == 1:
            return _P["diag_embed"].apply(self, offset=k, axis1=0, axis2=1)
        if self.ndim == 2:
            return _P["diagonal"].apply(self, offset=k, axis1=0, axis2=1)
        raise ShapeError(f"diag: needs a 1-d or 2-d tensor, got shape {self.shape}")

    def trace(self):
        """Sum of the main diagonal of a 2-d tensor."""
        return _P["trace"].apply(self)

    def tril(self, k: int = 0, *, diagonal=None):
        """The lower triangle (on and below the k-th diagonal) of the last two axes, zeros above."""
        return _P["tril"].apply(self, k=_either("tril", "k", k, "diagonal", diagonal, 0))

    def triu(self, k: int = 0, *, diagonal=None):
        """The upper triangle (on and above the k-th diagonal) of the last two axes, zeros below."""
        return _P["triu"].apply(self, k=_either("triu", "k", k, "diagonal", diagonal, 0))

    # --- movement ----------------------------------------------------------------------
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return _P["reshape"].apply(self, shape=tuple(shape))

    def transpose(self, *axes):
        """Permute the axes (numpy's meaning: no argument or None reverses them all)."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = axes[0]
        return _P["transpose"].apply(self, axes=tuple(axes) if axes else None)

    @property
    def T(self):
        return self.transpose()

    def broadcast_to(self, shape):
        return _P["broadcast_to"].apply(self, shape=tuple(shape))

    def __getitem__(self, index):
        return _P["getitem"].apply(self, index=_raw_index(index))

    # --- more movement (ops/movement.py) -------------------------------------------------
    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """Merge the axes start_dim..end_dim into one (PyTorch's; a 0-d tensor becomes shape (1,))."""
        shape = self.shape or (1,)
        s, e = check_axis(start_dim, len(shape), "flatten"), check_axis(end_dim, len(shape), "flatten")
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        merged = 1
        for n in shape[s:e + 1]:
            merged *= n
        return _P["reshape"].apply(self, shape=shape[:s] + (merged,) + shape[e + 1:])

    def squeeze(self, axis=None, *, dim=None):
        """Drop axes of length 1 (all, or those in ``axis``); a named axis of another length is kept, as in PyTorch."""
        axis = _either("squeeze", "axis", axis, "dim", dim, None)
        shape = self.shape
        if axis is None:
            drop = range(len(shape))
        else:
            named = axis if isinstance(axis, (tuple, list)) else (axis,)
            drop = [check_axis(a, max(len(shape), 1), "squeeze") for a in named]
            if len(set(drop)) != len(drop):
                raise ValueError(f"squeeze: axis {axis} names an axis twice")
        drop = {d for d in drop if d < len(shape) and shape[d] == 1}
        return _P["reshape"].apply(self, shape=tuple(n for d, n in enumerate(shape) if d not in drop))

    def unsqueeze(self, axis: int | None = None, *, dim=None):
        """Insert an axis of length 1 at ``axis`` (counted in the result: -1 appends one)."""
        axis = _either("unsqueeze", "axis", axis, "dim", dim, None)
        if axis is None:
            raise TypeError("unsqueeze: give the axis to insert (axis= or PyTorch's dim=)")
        a = check_axis(axis, self.ndim + 1, "unsqueeze")
        return _P["reshape"].apply(self, shape=self.shape[:a] + (1,) + self.shape[a:])

    def permute(self, *axes, dims=None):
        """Reorder the axes: ``permute(2, 0, 1)``, ``permute((2, 0, 1))`` or ``permute(dims=…)`` (PyTorch's)."""
        if dims is not None and axes:
            raise TypeError("permute: give the axes either positionally or as dims=, not both")
        dims = axes if dims is None else dims
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else tuple(dims)
        return _P["transpose"].apply(self, axes=dims, op="permute")  # which checks that dims are a permutation

    def swapaxes(self, axis0: int, axis1: int):
        """Exchange two axes (PyTorch's ``transpose(a, b)``; ``transpose`` here is numpy's permutation)."""
        n = self.ndim
        a, b = check_axis(axis0, max(n, 1), "swapaxes"), check_axis(axis1, max(n, 1), "swapaxes")
        axes = list(range(n))
        if n:
            axes[a], axes[b] = axes[b], axes[a]
        return _P["transpose"].apply(self, axes=tuple(axes), op="swapaxes")

    swapdims = swapaxes

    def expand(self, *sizes, size=None):
        """A broadcast view of ``sizes`` (PyTorch's): -1 keeps an axis's length, new leading axes may be added."""
        if size is not None and sizes:
            raise TypeError("expand: give the sizes either positionally or as size=, not both")
        sizes = (size,) if size is not None else sizes
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        shape = self.shape
        lead = len(sizes) - len(shape)
        if lead < 0:
            raise ShapeError(f"expand: {len(sizes)} sizes {sizes} for a tensor of shape {shape}; give one per axis")
        if -1 in sizes:
            if -1 in sizes[:lead]:
                raise ValueError(f"expand: size -1 in {sizes} is at a new leading axis; give its length")
            sizes = sizes[:lead] + tuple(n if s == -1 else s for s, n in zip(sizes[lead:], shape))
        return _P["broadcast_to"].apply(self, shape=sizes, op="expand")

    def pad(self, pad_width, mode: str = "constant", value: float = 0.0):
        """Pad by numpy's pad_width (int, pair, or pair per axis); mode 'constant' (with value), 'reflect' or 'edge'."""
        return _P["pad"].apply(self, pad_width=pad_width, mode=mode, value=value)

    def split(self, split_size_or_sections, dim: int = 0) -> tuple:
        """Cut along ``dim`` into pieces of split_size (the last smaller) or of the listed sizes (PyTorch's)."""
        d = check_axis(dim, self.ndim, "split")
        n = self.shape[d]
        sections = split_size_or_sections
        if isinstance(sections, (int, np.integer)) and not isinstance(sections, bool):
            if sections < 0 or (sections == 0 and n):
                raise ValueError(f"split: split_size must be a positive integer, got {sections}")
            bounds = [*range(0, n, int(sections)), n] if n else [0, 0]
        else:
            if not isinstance(sections, (tuple, list, np.ndarray)):
                raise TypeError(f"split: split_size_or_sections must be an int or a list of sizes, got {sections!r}")
            sizes = list(sections)
            if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in sizes):
                raise ValueError(f"split: sizes must be non-negative integers, got {sections!r}")
            if sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} sum to {sum(sizes)}, not to the length {n} of dim {dim} "
                                 f"of shape {self.shape}")
            bounds = np.cumsum([0, *sizes]).tolist()
        lead = (slice(None),) * d
        getitem = _P["getitem"].apply  # with fast paths on, the pieces' gradients meet as one deferred scatter
        return tuple(getitem(self, index=lead + (slice(a, b),)) for a, b in zip(bounds, bounds[1:]))

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """Cut along ``dim`` into pieces of ceil(n / chunks) (PyTorch's: fewer pieces when they run out)."""
        if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive integer, got {chunks!r}")
        n = self.shape[check_axis(dim, self.ndim, "chunk")]
        return self.split(-(-n // chunks), dim) if n else self.split([0] * int(chunks), dim)

    def unbind(self, dim: int = 0) -> tuple:
        """The slices along ``dim``, that axis removed."""
        d = check_axis(dim, self.ndim, "unbind")
        lead = (slice(None),) * d
        getitem = _P["getitem"].apply
        return tuple(getitem(self, index=lead + (i,)) for i in range(self.shape[d]))

    def gather(self, dim: int, index):
        """out[i][j] = x[index[i][j]][j] for dim 0 (PyTorch's): index has x's ndim, 0 <= index < size."""
        return _P["gather"].apply(self, dim=dim, index=_raw(index))

    def take_along_axis(self, indices, axis: int | None):
        """numpy's take_along_axis: gather with negative indices from the end and broadcasting of the other axes."""
        idx = np.asarray(_raw(indices))
        if axis is None:  # numpy: the flattened tensor
            return self.reshape(-1).take_along_axis(idx, 0)
        n_dim = self.ndim
        if idx.ndim != n_dim:
            raise ShapeError(f"take_along_axis: indices of shape {idx.shape} must have as many dimensions as the "
                             f"tensor of shape {self.shape}")
        a = check_axis(axis, n_dim, "take_along_axis")
        n = self.shape[a]
        if idx.dtype.kind not in "iu":
            if idx.size:
                raise TypeError(f"take_along_axis: indices must be integers, got dtype {idx.dtype}")
            idx = idx.astype(np.intp)
        x = self
        outside, ioutside = self.shape[:a] + self.shape[a + 1:], idx.shape[:a] + idx.shape[a + 1:]
        if outside != ioutside:  # broadcast both to their common shape outside the axis
            try:
                common = np.broadcast_shapes((1, *outside), (1, *ioutside))[1:]
            except ValueError:
                raise ShapeError(f"take_along_axis: indices of shape {idx.shape} do not broadcast with the tensor "
                                 f"of shape {self.shape} outside axis {a}") from None
            if outside != common:
                x = _P["broadcast_to"].apply(self, shape=common[:a] + (n,) + common[a:])
            if ioutside != common:
                idx = np.broadcast_to(idx, common[:a] + (idx.shape[a],) + common[a:])
        return _P["gather"].apply(x, dim=a, index=idx, negative=True)  # gather checks the range, in one pass

    def scatter_add(self, dim: int, index, src):
        """A copy of x with src[i][j] added at [index[i][j]][j] for dim 0 (PyTorch's, out of place)."""
        return _P["scatter_add_dim"].apply(self, src, dim=dim, index=_raw(index))

    def repeat(self, *sizes):
        """Tile ``sizes`` times per axis: PyTorch's repeat is numpy's tile (numpy's repeat is repeat_interleave)."""
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} sizes {sizes} for a tensor of {self.ndim} dimensions; give one "
                             "per axis (tile prepends ones)")
        return _P["tile"].apply(self, reps=sizes)

    def tile(self, reps):
        """numpy's tile: the tensor repeated ``reps`` times per axis (ones prepended to the shorter of the two)."""
        return _P["tile"].apply(self, reps=reps)

    def repeat_interleave(self, repeats, dim: int | None = None):
        """Repeat each element ``repeats`` times (an int or a count each) along ``dim``; None flattens first."""
        return _P["repeat_interleave"].apply(self, repeats=_raw(repeats), dim=dim)

    def flip(self, *axes, dims=None):
        """Reverse the order along ``dims`` (``flip(0, 1)``, ``flip((0, 1))``, ``flip(dims=…)``); none: every axis."""
        if dims is not None and axes:
            raise TypeError("flip: give the axes either positionally or as dims=, not both")
        if dims is None:
            dims = axes[0] if len(axes) == 1 else axes or None
        return _P["flip"].apply(self, dims=dims)

    def roll(self, shifts, dims=None):
        """Shift elements cyclically along ``dims`` (PyTorch's: dims None rolls the flattened tensor)."""
        return _P["roll"].apply(self, shifts=shifts, dims=dims)


def _bound(op: str, value):
    """A bound given as a Tensor, as its array; one that requires grad would lose its gradient: refused."""
    if isinstance(value, Tensor):
        if value.requires_grad and grad_mode.enabled:
            raise RuntimeError(f"{op}: a bound that requires grad gets no gradient here; use maximum/minimum "
                               "to differentiate through the bounds")
        return value.data
    return value


def _either(op: str, name: str, value, torch_name: str, torch_value, default):
    """One option under its numpy name or its PyTorch name (``axis``/``dim``, ``k``/``diagonal``), not both."""
    if torch_value is None:
        return value
    if value is not None and value != default:
        raise TypeError(f"{op}: got both {name}={value!r} and {torch_name}={torch_value!r}; they are one option")
    return torch_value


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
