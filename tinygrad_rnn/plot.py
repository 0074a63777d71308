"""The loss curve of a training run as a PNG (needs the optional ``plot`` extra: matplotlib)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .checkpoint import atomic_write
from .train import LOSSES_FILE


class PlotError(ValueError):
    """Nothing to plot, or no matplotlib; the message says which and what to do."""


def plot_losses(directory: str | Path, out: str | Path | None = None) -> Path:
    """Write ``loss.png`` (or ``out``) from the run's ``losses.csv``; return its path."""
    directory = Path(directory)
    path = directory / LOSSES_FILE
    try:
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
    except FileNotFoundError:
        raise PlotError(f"{path}: not found; is {directory} a training output directory?") from None
    if not rows:
        raise PlotError(f"{path}: no evaluated epochs yet")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("matplotlib is not installed; install it with: pip install 'tinygrad_rnn[plot]'") from None
    epochs = [int(r["epoch"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, [float(r["loss"]) for r in rows], marker="o")
    ax.set_xlabel("epochs trained")
    ax.set_ylabel("loss per token (cross-entropy, nats)")
    ax.set_title(f"training loss: {directory.name}")
    ax.grid(alpha=0.3)
    out = Path(out) if out is not None else directory / "loss.png"
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write(out, buf.getvalue())
    return out
