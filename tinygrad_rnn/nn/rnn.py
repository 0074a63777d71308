"""The tutorial's recurrence unrolled from primitives: one fused node per step, BPTT the generic reverse pass."""

from __future__ import annotations

from .. import functional as F
from .. import state_watch
from ..tensor import Tensor

_NONLINEARITIES = {"tanh": F.tanh, "relu": F.relu}


def recurrence(xw: Tensor, w_hh: Tensor, h0=None, nonlinearity: str = "tanh") -> tuple[Tensor, Tensor]:
    """h_t = f(xw[:, t] + h_{t-1} W_hhᵀ) for every t of a (B, T, H) input projection.

    Returns all states (B, T, H) and the last (B, H). ``h0=None`` is the zero state, and then
    the first step needs no matrix product. Only the H×H work happens inside the loop.
    """
    h = h0
    states = []
    for t in range(xw.shape[1]):
        if h is None:
            h = _NONLINEARITIES[nonlinearity](xw[:, t])
        else:  # one fused primitive per step: f(h W_hhᵀ + xw_t)
            h = F.linear(h, w_hh, xw[:, t], activation=nonlinearity)
        states.append(h)
        if state_watch.watching is not None:
            state_watch.seen(h, t)
    return F.stack(states, axis=1), h
