"""The one global switch of the tape: whether operations are recorded."""

from __future__ import annotations

import contextlib

enabled = True


def is_grad_enabled() -> bool:
    """True when operations on Tensors that require grad are being recorded."""
    return enabled


class _SetGrad(contextlib.ContextDecorator):
    def __init__(self, mode: bool):
        self.mode = mode
        self.prev: list[bool] = []

    def __enter__(self):
        global enabled
        self.prev.append(enabled)
        enabled = self.mode
        return self

    def __exit__(self, *exc):
        global enabled
        enabled = self.prev.pop()
        return False


def no_grad() -> _SetGrad:
    """Record nothing inside the block (or the decorated function); the old mode comes back in ``finally``."""
    return _SetGrad(False)


def enable_grad() -> _SetGrad:
    """Record again inside a ``no_grad`` block."""
    return _SetGrad(True)
