"""The gradient-flow matrix as a PNG: a heatmap per version and a line per distance t − k, log scale.

Needs the optional ``plot`` extra (matplotlib).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from ..checkpoint import atomic_write
from ..plot import PlotError
from .flow import by_distance


def distances_to_draw(steps: int, nonzero: np.ndarray) -> list[int]:
    """0, 1, 2, 4, 8, … up to the last distance with a nonzero entry: enough lines to read, no more."""
    picked, d = [0], 1
    while d < steps:
        if nonzero[d]:
            picked.append(d)
        d *= 2
    return picked


def plot_flow(flow: np.ndarray, out: str | Path, gate: np.ndarray | None = None, title: str = "") -> Path:
    """Write the figure to ``out``: the tape's heatmap, the gate version's beside it (if given), the lines."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm
    except ImportError:
        raise PlotError("matplotlib is not installed; install it with: pip install 'tinygrad_rnn[plot]'") from None
    panels = 3 if gate is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.4))
    try:
        positive = np.concatenate([m[m > 0] for m in (flow, gate) if m is not None])
        if positive.size == 0:
            raise PlotError("every gradient norm is 0: nothing to draw on a log scale")
        norm = LogNorm(vmin=positive.min(), vmax=positive.max())
        maps = [(flow, "tape (RNNLM)")] + ([(gate, "hand-written gates")] if gate is not None else [])
        for ax, (m, name) in zip(axes, maps):
            shown = np.ma.masked_where(m <= 0, m)
            image = ax.imshow(shown, norm=norm, cmap="viridis", origin="upper", interpolation="nearest")
            ax.set_title(f"‖∂E_t/∂s_k‖, {name}")
            ax.set_xlabel("k (the state's step)")
            ax.set_ylabel("t (the loss's step)")
        fig.colorbar(image, ax=list(axes[: len(maps)]), shrink=0.85)
        _lines(axes[-1], flow, gate)
        if title:
            fig.suptitle(title)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
    finally:
        plt.close(fig)
    out = Path(out)
    atomic_write(out, buf.getvalue())
    return out


def _lines(ax, flow: np.ndarray, gate: np.ndarray | None) -> None:
    tape_parts = by_distance(flow)
    gate_parts = by_distance(gate) if gate is not None else None
    nonzero = [bool(np.any(p > 0)) for p in tape_parts]
    for d in distances_to_draw(flow.shape[0], nonzero):
        t = np.arange(d, flow.shape[0])
        (line,) = ax.semilogy(t, np.where(tape_parts[d] > 0, tape_parts[d], np.nan), label=f"t − k = {d}")
        if gate_parts is not None:
            ax.semilogy(t, np.where(gate_parts[d] > 0, gate_parts[d], np.nan), linestyle="none", marker="x",
                        markersize=4, color=line.get_color())
    ax.set_xlabel("t (the loss's step)")
    ax.set_ylabel("‖∂E_t/∂s_{t−d}‖ (log scale)")
    ax.set_title("one line per distance" + (" (×: gate version)" if gate is not None else ""))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
