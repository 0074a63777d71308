"""Central finite differences in float64 against the reverse pass, to first and second order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import ops
from .tape import grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The reverse pass disagrees with finite differences; the message says where and by how much."""


@dataclass
class InputCheck:
    """How one input's analytic gradient compares with the numerical one."""

    index: int
    shape: tuple[int, ...]
    max_abs_err: float
    max_rel_err: float
    worst: tuple[int, ...] | None
    analytic: float
    numeric: float
    ok: bool


def compare_gradients(
    fn: Callable[..., Tensor],
    inputs: Sequence,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> list[InputCheck]:
    """Compare d<v, fn(inputs)>/d(input) analytically and numerically for every input that requires grad.

    ``v`` is one for a scalar output and a fixed random cotangent otherwise. Inputs are copied to
    float64 first, so the check is as sharp for a float32 model as for a float64 one.
    """
    xs = [_as_float64(x) for x in inputs]
    wrt = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    rng = np.random.default_rng(seed)
    v = np.ones(out.shape) if out.ndim == 0 else rng.standard_normal(out.shape)
    if out.requires_grad:
        analytic = grad(out, [xs[i] for i in wrt], grad_outputs=v, allow_unused=True)
    else:  # fn does not depend on its inputs at all
        analytic = (None,) * len(wrt)
    del out

    def objective() -> float:
        return float(np.sum(v * np.asarray(fn(*xs).data, dtype=np.float64)))

    checks = []
    for i, a in zip(wrt, analytic):
        x = xs[i].data
        a = np.zeros(x.shape) if a is None else a.data.astype(np.float64)
        numeric = np.zeros(x.shape)
        for idx in np.ndindex(x.shape):
            orig = x[idx]
            x[idx] = orig + eps
            up = objective()
            x[idx] = orig - eps
            down = objective()
            x[idx] = orig
            numeric[idx] = (up - down) / (2 * eps)
        checks.append(_judge(i, a, numeric, atol, rtol))
    return checks


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Return True if the reverse pass matches central differences, else raise GradcheckError."""
    for c in compare_gradients(fn, inputs, eps, atol, rtol, seed):
        if not c.ok:
            raise GradcheckError(
                f"gradcheck: input {c.index} of shape {c.shape}, element {c.worst}: "
                f"analytic {c.analytic:.8g} vs numeric {c.numeric:.8g} "
                f"(abs err {c.max_abs_err:.3g}, allowed {atol} + {rtol} * |numeric|)"
            )
    return True


def first_derivative(fn: Callable[..., Tensor], inputs: Sequence, seed: int = 0) -> Callable[..., Tensor]:
    """fn's gradient (against a fixed cotangent) as a function, flattened into one Tensor: what gradgradcheck checks."""
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    shape = fn(*[_as_float64(x) for x in inputs]).shape
    v = np.ones(shape) if not shape else np.random.default_rng(seed + 1).standard_normal(shape)

    def gradient(*args):
        out = fn(*args)
        if not out.requires_grad:
            return Tensor(np.zeros(sum(args[i].size for i in wrt)))
        gs = grad(out, [args[i] for i in wrt], grad_outputs=v, create_graph=True, allow_unused=True)
        parts = [g.reshape(-1) if g is not None else Tensor(np.zeros(args[i].size)) for i, g in zip(wrt, gs)]
        return ops.Cat.apply(*parts, axis=0)

    return gradient


def gradgradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check second derivatives: the recorded backward pass of fn is itself gradchecked."""
    return gradcheck(first_derivative(fn, inputs, seed), inputs, eps, atol, rtol, seed)


def _as_float64(x):
    if isinstance(x, Tensor) and x.dtype.kind == "f":
        return Tensor(np.array(x.data, dtype=np.float64), requires_grad=x.requires_grad)
    return x


def _judge(index: int, a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> InputCheck:
    err = np.abs(a - n)
    bad = ~(err <= atol + rtol * np.abs(n))  # NaN counts as bad
    rel = err / np.maximum(np.abs(n), atol)
    if a.size == 0:
        return InputCheck(index, a.shape, 0.0, 0.0, None, 0.0, 0.0, True)
    score = np.where(np.isnan(err), np.inf, err)  # the worst element: a failing one first
    flat = int(np.argmax(np.where(bad, score, -1.0) if bad.any() else score))
    worst = np.unravel_index(flat, a.shape)
    return InputCheck(
        index, a.shape, float(np.nanmax(err)), float(np.nanmax(rel)), tuple(int(i) for i in worst),
        float(a[worst]), float(n[worst]), not bool(bad.any()),
    )
