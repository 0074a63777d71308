"""Anomaly mode: every op remembers the user's line that made it, and the first NaN or inf is reported there.

Off (the default) it costs nothing per op: ``Function.apply`` is the plain one, and the reverse
pass reads one flag per pass. On, ``Function.apply`` is swapped for a version that records where
each op was created (the forward's traceback, as PyTorch keeps it) and checks its output; the
reverse pass checks every gradient a VJP returns. The error names the op, its inputs' shapes, the
first bad index and the user's file and line, then shows the forward's traceback.
"""

from __future__ import annotations

import contextlib
import linecache
import os
import sys
import weakref

import numpy as np

from . import gradients
from .function import Function
from .tensor import Tensor

active = False  # read by the reverse pass, once per pass
check_nan = True
_plain_apply = Function.__dict__["apply"]
_records: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Node → (frames, input descriptions)
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_DEPTH = 40  # frames kept per op: enough to reach the user's code from inside a model


class AnomalyError(RuntimeError):
    """A forward output or a backward gradient holds NaN or inf; the message says where it was made."""


class detect_anomaly(contextlib.ContextDecorator):
    """Anomaly mode inside the block (or the decorated function), as ``torch.autograd.detect_anomaly``.

    Every op records where it was created; the first forward output or backward gradient holding NaN
    or inf raises ``AnomalyError`` naming the op, its inputs' shapes, the first bad index and the
    user's line that created it. ``check_nan=False`` keeps the tracebacks (an error raised inside a
    backward is then annotated with its op's forward traceback) without the checks. Slow: for finding
    a bug, not for training.
    """

    def __init__(self, check_nan: bool = True):
        self.mode, self.check = True, bool(check_nan)
        self.prev: list[tuple[bool, bool]] = []

    def __enter__(self):
        self.prev.append((active, check_nan))
        _set(self.mode, self.check)
        return self

    def __exit__(self, *exc):
        _set(*self.prev.pop())
        return False


class set_detect_anomaly:
    """Turn anomaly mode on or off: for the rest of the program, or inside a ``with`` block (PyTorch's)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = (active, globals()["check_nan"])
        _set(bool(mode), bool(check_nan))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(*self.prev)
        return False


def is_anomaly_enabled() -> bool:
    return active


def _set(mode: bool, check: bool) -> None:
    global active, check_nan
    active, check_nan = mode, check
    Function.apply = classmethod(_watched_apply) if mode else _plain_apply


def _watched_apply(cls, *args, **params) -> Tensor:
    """``Function.apply`` in anomaly mode: the op, then its output checked and its creation recorded."""
    out = _plain_apply.__func__(cls, *args, **params)
    frames = _frames(sys._getframe(1))
    inputs = [_describe(a) for a in args]
    if out._node is not None:
        _records[out._node] = (frames, inputs)
    if check_nan and out.data.dtype.kind in "fc":
        bad = _first_bad(out.data)
        if bad is not None:
            before = [i for i, a in enumerate(args)
                      if isinstance(a, (Tensor, np.ndarray)) and _first_bad(np.asarray(_data(a))) is not None]
            cause = (f"input {before[0]} already held NaN or inf" if before
                     else "its inputs were finite")
            raise AnomalyError(_message(
                f"the forward of {cls.name} produced {_value(out.data, bad)} at index {bad} of its output "
                f"{_shape_dtype(out.data)} ({cause}); inputs: {', '.join(inputs) or 'none'}", frames))
    return out


def check_backward(node, grad, grads: tuple) -> None:
    """Raise if the gradient reaching ``node`` or one it returned for an input holds NaN or inf."""
    if not check_nan:
        return
    frames, inputs = _records.get(node, (None, None))
    described = ", ".join(inputs) if inputs is not None else ", ".join(_edge(e) for e in node.edges)
    received = ("the gradient reaching {op} holds {value} at index {index} (gradient {shape}), though every "
                "gradient flowing into it was checked: the sum of its parts overflowed, or a gradient hook or the "
                "gradient passed to backward made it")
    returned = ("the backward of {op} returned {value} at index {index} of the gradient for input {i} "
                "(gradient {shape}; the gradient it received was finite)")
    for i, g, text in [(None, grad, received), *((i, g, returned) for i, g in enumerate(grads) if g is not None)]:
        g = _array(g)
        bad = _first_bad(g)
        if bad is not None:
            summary = text.format(op=node.name, value=_value(g, bad), index=bad, shape=_shape_dtype(g), i=i)
            raise AnomalyError(_message(f"{summary}; the op's inputs: {described}", frames))


def annotate(error: BaseException, node) -> None:
    """Add the forward traceback of the op whose backward raised ``error`` to the error (Python 3.11+)."""
    record = _records.get(node) if node is not None else None
    noted = any(n.startswith("detect_anomaly:") for n in getattr(error, "__notes__", ()))  # by an inner pass
    if record is not None and hasattr(error, "add_note") and not isinstance(error, AnomalyError) and not noted:
        error.add_note(_message(f"detect_anomaly: raised in the backward of {node.name}", record[0]))


# --- where an op came from ------------------------------------------------------------------
def _frames(frame) -> list[tuple[str, int, str]]:
    """(file, line, function) of the calling frames, innermost first."""
    out = []
    while frame is not None and len(out) < _DEPTH:
        out.append((frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name))
        frame = frame.f_back
    return out


def _user_frame(frames):
    """The innermost frame outside this package: the user's line (else the innermost one)."""
    for f in frames:
        if not os.path.abspath(f[0]).startswith(_PACKAGE):
            return f
    return frames[0] if frames else None


def _message(summary: str, frames) -> str:
    if frames is None:
        return (f"{summary}; the op was recorded outside detect_anomaly, so where it was created is unknown "
                "(run the forward inside the block too)")
    user = _user_frame(frames)
    lines = [f"{summary}; created at {user[0]}:{user[1]}, in {user[2]}",
             "Traceback of the op's forward (most recent call last):"]
    for file, line, name in reversed(frames):
        lines.append(f'  File "{file}", line {line}, in {name}')
        code = linecache.getline(file, line).strip()
        if code:
            lines.append(f"    {code}")
    return "\n".join(lines)


# --- values -----------------------------------------------------------------------------------
def _first_bad(a: np.ndarray):
    """The index of the first NaN or inf (a tuple; () for a 0-d array), or None when all are finite."""
    if a.dtype.kind not in "fc":
        return None
    finite = np.isfinite(a)
    if finite.all():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmin(finite.reshape(-1))), a.shape))


def _value(a: np.ndarray, index) -> str:
    return str(a[index])


def _array(g) -> np.ndarray:
    g = gradients.densify(g)
    return np.asarray(g.data if isinstance(g, Tensor) else g)


def _data(a):
    return a.data if isinstance(a, Tensor) else a


def _shape_dtype(a) -> str:
    return f"{tuple(np.shape(a))} {np.result_type(a)}"


def _describe(a) -> str:
    if isinstance(a, (Tensor, np.ndarray)):
        return _shape_dtype(_data(a))
    return "a number" if isinstance(a, (int, float, np.generic)) else type(a).__name__


def _edge(edge) -> str:
    if edge is None:
        return "a constant"
    return _shape_dtype(edge.data) if isinstance(edge, Tensor) else f"{edge.shape} {edge.dtype}"
