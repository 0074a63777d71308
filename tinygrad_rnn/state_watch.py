"""The recurrent state at every step, as the tape holds it: the recurrent loops report it while a tool watches.

``viz.gradient_flow`` asks for the gradient of each step's loss with respect to each step's state.
Those states are tensors inside the loops (and, under truncation, one copy per window), so the loops
report them here. Off, this is one attribute test per step.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from .tensor import Tensor

watching: list | None = None  # the loops call ``seen`` only while this is a list


@dataclass
class SeenState:
    """A (N, H) state tensor: row r is the state after step ``steps[r]`` (negative: before the sequence
    starts), as the loss at flat position ``owners[r]`` sees it (None: as every loss sees it)."""

    tensor: Tensor
    steps: np.ndarray
    owners: np.ndarray | None


def seen(state: Tensor, steps, owners=None) -> None:
    """Report the top layer's state after ``steps`` (an int, or one per row); ``owners``: see SeenState."""
    if state.requires_grad:
        rows = state.shape[0]
        watching.append(SeenState(state, np.broadcast_to(np.asarray(steps), (rows,)),
                                  None if owners is None else np.broadcast_to(np.asarray(owners), (rows,))))


@contextlib.contextmanager
def watch():
    """Collect, in a list, every state the recurrent loops report inside the block."""
    global watching
    previous, watching = watching, []
    try:
        yield watching
    finally:
        watching = previous
