"""Making tensors: filled, ranges, identity, and random ones from a generator you pass or a seeded default.

Shapes are given PyTorch's way or numpy's (``zeros(2, 3)`` or ``zeros((2, 3))``). The default
dtype is numpy's float64, not PyTorch's float32: the library's gradient checks run in float64,
and ``dtype=np.float32`` is one keyword away. Random tensors come from a
``numpy.random.Generator``: the one given as ``generator=``, else a module-level default seeded
with 0 at import and reseeded by ``manual_seed`` (so a script is reproducible by default).
"""

from __future__ import annotations

import numbers

import numpy as np

from .tensor import Tensor

__all__ = [
    "arange", "default_generator", "empty", "empty_like", "eye", "full", "full_like", "linspace", "manual_seed",
    "normal", "ones", "ones_like", "rand", "randint", "randn", "uniform", "zeros", "zeros_like",
]

_default = [np.random.default_rng(0)]


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the default generator (as ``torch.manual_seed``); returns it."""
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: the seed must be a non-negative integer, got {seed!r}")
    _default[0] = np.random.default_rng(int(seed))
    return _default[0]


def default_generator() -> np.random.Generator:
    """The generator that random tensors use when no ``generator=`` is given."""
    return _default[0]


def _shape(op: str, size) -> tuple[int, ...]:
    """``(2, 3)``, ``((2, 3),)`` or ``([2, 3],)`` → (2, 3), checked."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
            raise ValueError(f"{op}: sizes must be non-negative integers, got {tuple(size)!r}")
    return tuple(int(n) for n in size)


def _wrap(op: str, data: np.ndarray, requires_grad: bool) -> Tensor:
    if requires_grad and data.dtype.kind != "f":
        raise TypeError(f"{op}: requires_grad=True needs a floating-point dtype, got {data.dtype}")
    return Tensor(data, requires_grad=requires_grad)


def _float(op: str, dtype) -> np.dtype:
    dt = np.dtype(np.float64 if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"{op}: draws floating-point values; dtype {dt} is not a float dtype")
    return dt


def _generator(op: str, generator) -> np.random.Generator:
    if generator is None:
        return _default[0]
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{op}: generator must be a numpy.random.Generator (numpy.random.default_rng(seed)), "
                        f"got {type(generator).__name__}")
    return generator


# --- filled ------------------------------------------------------------------------------
def zeros(*size, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given shape."""
    return _wrap("zeros", np.zeros(_shape("zeros", size), dtype=dtype), requires_grad)


def ones(*size, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given shape."""
    return _wrap("ones", np.ones(_shape("ones", size), dtype=dtype), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``fill_value``; the dtype follows the value as numpy's ``full`` (3 → int64, 3.0 → float64)."""
    return _wrap("full", np.full(_shape("full", (size,)), fill_value, dtype=dtype), requires_grad)


def empty(*size, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of the given shape whose values are whatever the memory held: fill it before reading."""
    return _wrap("empty", np.empty(_shape("empty", size), dtype=dtype), requires_grad)


def _like(op: str, t, dtype):
    data = t.data if isinstance(t, Tensor) else np.asarray(t)
    return data.shape, (data.dtype if dtype is None else np.dtype(dtype))


def zeros_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    """Zeros of ``t``'s shape and dtype (or ``dtype``)."""
    shape, dt = _like("zeros_like", t, dtype)
    return _wrap("zeros_like", np.zeros(shape, dtype=dt), requires_grad)


def ones_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    """Ones of ``t``'s shape and dtype (or ``dtype``)."""
    shape, dt = _like("ones_like", t, dtype)
    return _wrap("ones_like", np.ones(shape, dtype=dt), requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` in ``t``'s shape and dtype (or ``dtype``)."""
    shape, dt = _like("full_like", t, dtype)
    return _wrap("full_like", np.full(shape, fill_value, dtype=dt), requires_grad)


def empty_like(t, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uninitialised memory in ``t``'s shape and dtype (or ``dtype``): fill it before reading."""
    shape, dt = _like("empty_like", t, dtype)
    return _wrap("empty_like", np.empty(shape, dtype=dt), requires_grad)


def eye(n: int, m: int | None = None, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """The (n, m) identity: ones on the diagonal (m defaults to n)."""
    for name, v in (("n", n), ("m", m)):
        if v is not None and (not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0):
            raise ValueError(f"eye: {name} must be a non-negative integer, got {v!r}")
    return _wrap("eye", np.eye(n, m, dtype=dtype), requires_grad)


# --- ranges ------------------------------------------------------------------------------
def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` by ``step``; ``arange(n)`` is 0 … n-1.

    The dtype follows the arguments as numpy's (integers give int64), as PyTorch's does.
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    return _wrap("arange", np.arange(start, end, step, dtype=dtype), requires_grad)


def linspace(start, end, steps: int, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included (torch.linspace)."""
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative integer, got {steps!r}")
    return _wrap("linspace", np.linspace(start, end, int(steps), dtype=dtype), requires_grad)


# --- random ------------------------------------------------------------------------------
def rand(*size, generator=None, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """Uniform values in [0, 1)."""
    dt = _float("rand", dtype)
    return _wrap("rand", _generator("rand", generator).random(_shape("rand", size)).astype(dt, copy=False),
                 requires_grad)


def randn(*size, generator=None, dtype=np.float64, requires_grad: bool = False) -> Tensor:
    """Standard normal values (mean 0, standard deviation 1)."""
    dt = _float("randn", dtype)
    return _wrap("randn", _generator("randn", generator).standard_normal(_shape("randn", size)).astype(dt, copy=False),
                 requires_grad)


def randint(low: int, high: int | None = None, size=(), generator=None, dtype=np.int64) -> Tensor:
    """Integers from ``low`` up to (not including) ``high``; ``randint(high, size)`` starts at 0 (PyTorch's
    ``randint(high, size)`` form works too)."""
    if isinstance(high, (tuple, list)):  # randint(high, (3,)): PyTorch's two-argument form
        if size != ():
            raise TypeError(f"randint: got a size {high!r} in high's place and size={size!r}")
        high, size = None, high
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    shape = _shape("randint", (size,))
    return Tensor(_generator("randint", generator).integers(low, high, shape, dtype=dtype))


def uniform(low: float = 0.0, high: float = 1.0, size=(), generator=None, dtype=np.float64,
            requires_grad: bool = False) -> Tensor:
    """Uniform values in [low, high)."""
    if not high >= low:
        raise ValueError(f"uniform: high ({high}) must be at least low ({low})")
    dt = _float("uniform", dtype)
    shape = _shape("uniform", (size,))
    return _wrap("uniform", _generator("uniform", generator).uniform(low, high, shape).astype(dt, copy=False),
                 requires_grad)


def normal(mean: float = 0.0, std: float = 1.0, size=(), generator=None, dtype=np.float64,
           requires_grad: bool = False) -> Tensor:
    """Normal values of the given mean and standard deviation."""
    if not std >= 0:
        raise ValueError(f"normal: std must be non-negative, got {std}")
    dt = _float("normal", dtype)
    shape = _shape("normal", (size,))
    return _wrap("normal", _generator("normal", generator).normal(mean, std, shape).astype(dt, copy=False),
                 requires_grad)
