"""The loss curve of a training run as a PNG (needs the optional ``plot`` extra: matplotlib)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from .checkpoint import atomic_write
from .train import LOSSES_FILE


class PlotError(ValueError):
    """Nothing to plot, or no matplotlib; the message says which and what to do."""


def plot_losses(directory: str | Path, out: str | Path | None = None) -> Path:
    """Write ``loss.png`` (or ``out``) from the run's ``losses.csv``; return its path."""
    directory = Path(directory)
    path = directory / LOSSES_FILE
    epochs, losses = read_losses(path, directory)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("matplotlib is not installed; install it with: pip install 'tinygrad_rnn[plot]'") from None
    fig, ax = plt.subplots(figsize=(6, 4))
    try:
        return _draw(plt, fig, ax, epochs, losses, directory, out)
    except (ValueError, OverflowError) as e:  # values matplotlib cannot lay out (±1e308, say)
        raise PlotError(f"{path}: cannot plot these losses ({str(e)[:80]})") from None
    finally:
        plt.close(fig)


def _draw(plt, fig, ax, epochs, losses, directory: Path, out) -> Path:
    ax.plot(epochs, losses, marker="o")
    ax.set_xlabel("epochs trained")
    ax.set_ylabel("loss per token (cross-entropy, nats)")
    ax.set_title(f"training loss: {directory.name}")
    ax.grid(alpha=0.3)
    out = Path(out) if out is not None else directory / "loss.png"
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write(out, buf.getvalue())
    return out


def read_losses(path: Path, directory: Path) -> tuple[list[int], list[float]]:
    """(epochs, losses) of a ``losses.csv``, every row checked; a bad file is named with its line."""
    if path.exists() and not path.is_file() and not path.is_dir():
        raise PlotError(f"{path}: not a regular file (a pipe or a device)")
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise PlotError(f"{path}: not found; is {directory} a training output directory?") from None
    except IsADirectoryError:
        raise PlotError(f"{path}: is a directory, expected the run's losses") from None
    except UnicodeDecodeError:
        raise PlotError(f"{path}: not UTF-8 text; it is not a losses file this program wrote") from None
    except csv.Error as e:
        raise PlotError(f"{path}: malformed CSV: {e}") from None
    if not rows or rows[0][:4] != ["epoch", "sentences_seen", "loss", "lr"]:
        raise PlotError(f"{path}: the header must be epoch,sentences_seen,loss,lr")
    if len(rows) == 1:
        raise PlotError(f"{path}: no evaluated epochs yet")
    epochs, losses = [], []
    for line, row in enumerate(rows[1:], start=2):
        try:
            epoch, loss = int(row[0]), float(row[2])
        except (ValueError, IndexError):
            raise PlotError(f"{path}, line {line}: expected an integer epoch and a number for the loss, "
                            f"got {','.join(row)[:60]!r}") from None
        if not math.isfinite(loss):
            raise PlotError(f"{path}, line {line}: the loss is {loss}, not a finite number")
        epochs.append(epoch)
        losses.append(loss)
    return epochs, losses
