"""The tape's global switches: whether operations are recorded, and whether fast paths are taken."""

from __future__ import annotations

import contextlib
import os

enabled = True
# The fast paths: deferred gradient forms, gradients handed to ``.grad`` without a copy, VJPs that
# overwrite their saved arrays. Off, every gradient is a plain dense array built the obvious way:
# the reference the fast paths are tested against. TINYGRAD_RNN_FAST_PATHS=0 starts with them off.
fast = os.environ.get("TINYGRAD_RNN_FAST_PATHS", "1").strip().lower() not in ("0", "false", "no", "off")


def is_grad_enabled() -> bool:
    """True when operations on Tensors that require grad are being recorded."""
    return enabled


def fast_paths_enabled() -> bool:
    """True when the tape takes its fast paths (the default); see ``fast_paths``."""
    return fast


class _Switch(contextlib.ContextDecorator):
    """Set one of this module's flags inside a block (or a decorated function), restored in ``finally``."""

    def __init__(self, flag: str, mode: bool):
        self.flag, self.mode = flag, bool(mode)
        self.prev: list[bool] = []

    def __enter__(self):
        self.prev.append(globals()[self.flag])
        globals()[self.flag] = self.mode
        return self

    def __exit__(self, *exc):
        globals()[self.flag] = self.prev.pop()
        return False


def no_grad() -> _Switch:
    """Record nothing inside the block (or the decorated function)."""
    return _Switch("enabled", False)


def enable_grad() -> _Switch:
    """Record again inside a ``no_grad`` block."""
    return _Switch("enabled", True)


def set_grad_enabled(mode: bool) -> _Switch:
    """Recording on or off inside the block, as ``mode`` says."""
    return _Switch("enabled", mode)


def fast_paths(mode: bool) -> _Switch:
    """Take the tape's fast paths (True, the default) or force plain dense gradients everywhere (False).

    With ``fast_paths(False)`` no gradient is deferred, every leaf gets a fresh copy and no VJP
    overwrites what it saved: slower, and the oracle every fast path is tested against.
    """
    return _Switch("fast", mode)
