"""Central finite differences in float64 against the reverse pass, to first and second order.

The check perturbs the given tensors themselves (their arrays swapped for float64 copies while it
runs, and put back after), so a function that closes over a model — ``lambda *_: loss(model)``
with ``model.parameters()`` as the inputs — is really checked, not compared with itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .functional import cat
from .tape import grad
from .tensor import Tensor

# Central differences in float64 with eps = 1e-6 are good to about 1e-9 relative (rounding:
# 1e-16 / eps; truncation: eps²); these defaults leave room for sums of many terms, no more.
EPS, ATOL, RTOL = 1e-6, 1e-7, 1e-6
# On top, the rounding of the objective itself: a sum of terms of total size S is only known to
# about u * S, so a difference quotient is only good to about u * S / eps. A small multiple of it
# is allowed, so a large output (a summed loss) does not fail a right gradient.
ROUNDING = 8 * np.finfo(np.float64).eps / 2


class GradcheckError(AssertionError):
    """The reverse pass disagrees with finite differences; the message says where and by how much."""


@dataclass
class InputCheck:
    """How one input's analytic gradient compares with the numerical one."""

    index: int
    name: str
    shape: tuple[int, ...]
    max_abs_err: float
    max_rel_err: float
    worst: tuple[int, ...] | None  # the element (elementwise mode), None for a projection
    analytic: float
    numeric: float
    ok: bool
    unused: bool = False  # the output does not depend on this input at all
    noise: float = 0.0  # the rounding bound of the difference quotients, allowed on top of atol


def compare_gradients(
    fn: Callable[..., Tensor],
    inputs: Sequence,
    eps: float = EPS,
    atol: float = ATOL,
    rtol: float = RTOL,
    seed: int = 0,
    fast: bool = False,
    names: Sequence[str] | None = None,
) -> list[InputCheck]:
    """Compare d<v, fn(inputs)>/d(input) analytically and numerically for every input that requires grad.

    ``v`` is one for a one-element output and a fixed random cotangent otherwise. Elementwise, every
    element of every input is perturbed in turn; with ``fast=True`` each input is moved once along
    a random unit direction and the directional derivatives are compared (two evaluations per input).
    """
    if not eps > 0:
        raise ValueError(f"gradcheck: eps must be positive, got {eps}")
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    names = list(names) if names is not None else [f"input {i}" for i in range(len(inputs))]
    rng = np.random.default_rng(seed)
    with _in_float64(inputs):
        out = fn(*inputs)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
        v = np.ones(out.shape) if out.size == 1 else rng.standard_normal(out.shape)
        noise = ROUNDING * float(np.sum(np.abs(v * np.asarray(out.data, dtype=np.float64)))) / eps
        if out.requires_grad:
            analytic = grad(out, [inputs[i] for i in wrt], grad_outputs=v, allow_unused=True)
        else:
            analytic = (None,) * len(wrt)
        del out

        def objective() -> float:
            return float(np.sum(v * np.asarray(fn(*inputs).data, dtype=np.float64)))

        checks = []
        for i, a in zip(wrt, analytic):
            x = inputs[i].data
            # no path from this input to the output: the tape says zero; the numbers must agree
            a = np.zeros(x.shape) if a is None else np.asarray(a.data, dtype=np.float64)
            if fast:
                check = _directional(i, names[i], x, a, objective, eps, atol + noise, rtol, rng)
            else:
                check = _judge(i, names[i], a, _numeric(x, objective, eps), atol + noise, rtol)
            check.unused = analytic[wrt.index(i)] is None
            check.noise = noise
            checks.append(check)
    return checks


def _numeric(x: np.ndarray, objective: Callable[[], float], eps: float) -> np.ndarray:
    numeric = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + eps
        up = objective()
        x[idx] = orig - eps
        down = objective()
        x[idx] = orig
        numeric[idx] = (up - down) / (2 * eps)
    return numeric


def _directional(index, name, x, a, objective, eps, atol, rtol, rng) -> InputCheck:
    """One directional derivative along a random unit vector u: <analytic, u> against the difference quotient."""
    u = rng.standard_normal(x.shape)
    u /= max(np.linalg.norm(u), 1e-300)
    orig = x.copy()
    try:
        x += eps * u
        up = objective()
        x[...] = orig
        x -= eps * u
        down = objective()
    finally:
        x[...] = orig
    numeric = (up - down) / (2 * eps)
    analytic = float(np.sum(a * u))
    err = abs(analytic - numeric)
    ok = bool(err <= atol + rtol * abs(numeric))
    return InputCheck(index, name, x.shape, err, err / max(abs(numeric), atol), None, analytic, numeric, ok)


def gradcheck(fn, inputs, eps: float = EPS, atol: float = ATOL, rtol: float = RTOL, seed: int = 0,
              fast: bool = False, allow_unused: bool = False) -> bool:
    """Return True if the reverse pass matches central differences, else raise GradcheckError.

    An input that the output does not depend on is an error unless ``allow_unused=True``: it
    usually means ``fn`` ignores its arguments and the check would compare nothing.
    """
    _raise_on_failure(compare_gradients(fn, inputs, eps, atol, rtol, seed, fast), atol, rtol, allow_unused)
    return True


def gradgradcheck(fn, inputs, eps: float = EPS, atol: float = ATOL, rtol: float = RTOL, seed: int = 0,
                  fast: bool = False) -> bool:
    """Check second derivatives: the recorded backward pass of fn is itself gradchecked.

    A gradient that does not depend on an input (fn linear in it) is fine here: it is compared
    with a zero second derivative.
    """
    return gradcheck(first_derivative(fn, inputs, seed), inputs, eps, atol, rtol, seed, fast, allow_unused=True)


def gradcheck_model(model, loss: Callable[[], Tensor], fast: bool = True, eps: float = EPS, atol: float = ATOL,
                    rtol: float = RTOL, seed: int = 0) -> bool:
    """Check the gradient of ``loss()`` (a function of no arguments that uses ``model``) for every
    parameter of the model, named in the error by its dotted name.

    ``fast=True`` (the default) checks one random directional derivative per parameter — two
    forwards each, so it suits real models; ``fast=False`` checks every element.
    """
    named = list(model.named_parameters())
    if not named:
        raise ValueError(f"gradcheck_model: {type(model).__name__} has no parameters")
    params = [p for _, p in named]
    checks = compare_gradients(lambda *_: loss(), params, eps, atol, rtol, seed, fast, [n for n, _ in named])
    _raise_on_failure(checks, atol, rtol, allow_unused=False)
    return True


def _raise_on_failure(checks: list[InputCheck], atol: float, rtol: float, allow_unused: bool) -> None:
    for c in checks:
        if c.unused and not allow_unused and c.ok:
            raise GradcheckError(
                f"gradcheck: {c.name} of shape {c.shape} does not affect the output, so there is nothing to "
                "compare: fn ignores it (does fn use its arguments?); pass allow_unused=True if that is intended"
            )
        if not c.ok:
            where = f"element {c.worst}" if c.worst is not None else "a random direction"
            raise GradcheckError(
                f"gradcheck: {c.name} of shape {c.shape}, {where}: "
                f"analytic {c.analytic:.8g} vs numeric {c.numeric:.8g} "
                f"(abs err {c.max_abs_err:.3g}, allowed {atol} + {rtol} * |numeric|"
                + (f" + rounding {c.noise:.2g})" if c.noise > atol / 100 else ")")
            )


def first_derivative(fn: Callable[..., Tensor], inputs: Sequence, seed: int = 0) -> Callable[..., Tensor]:
    """fn's gradient (against a fixed cotangent) as a function, flattened into one Tensor: what gradgradcheck checks."""
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with _in_float64(inputs):
        shape = fn(*inputs).shape
    v = np.ones(shape) if int(np.prod(shape)) == 1 else np.random.default_rng(seed + 1).standard_normal(shape)

    def gradient(*args):
        out = fn(*args)
        if not out.requires_grad:
            return Tensor(np.zeros(sum(args[i].size for i in wrt)))
        gs = grad(out, [args[i] for i in wrt], grad_outputs=v, create_graph=True, allow_unused=True)
        parts = [g.reshape(-1) if g is not None else Tensor(np.zeros(args[i].size)) for i, g in zip(wrt, gs)]
        return cat(parts, axis=0)

    return gradient


class _in_float64:
    """Swap every float Tensor's array for a float64 copy while the check runs; put the originals back."""

    def __init__(self, inputs: Sequence):
        self.tensors = [x for x in inputs if isinstance(x, Tensor) and x.dtype.kind == "f"]
        self.originals: list[np.ndarray] = []

    def __enter__(self):
        self.originals = [t.data for t in self.tensors]
        for t in self.tensors:
            t.data = np.array(t.data, dtype=np.float64)
        return self

    def __exit__(self, *exc):
        for t, data in zip(self.tensors, self.originals):
            t.data = data
        return False


def _judge(index: int, name: str, a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> InputCheck:
    if a.size == 0:
        return InputCheck(index, name, a.shape, 0.0, 0.0, None, 0.0, 0.0, True)
    err = np.abs(a - n)
    bad = ~(err <= atol + rtol * np.abs(n))  # NaN counts as bad
    rel = err / np.maximum(np.abs(n), atol)
    score = np.where(np.isnan(err), np.inf, err)  # the worst element: a failing one first
    flat = int(np.argmax(np.where(bad, score, -1.0) if bad.any() else score))
    worst = np.unravel_index(flat, a.shape)
    return InputCheck(
        index, name, a.shape, float(np.nanmax(err)), float(np.nanmax(rel)), tuple(int(i) for i in worst),
        float(a[worst]), float(n[worst]), not bool(bad.any()),
    )
