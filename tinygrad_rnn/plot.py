"""A training run's curves as a PNG: the loss, and the gradient norms when the run logged them
(needs the optional ``plot`` extra: matplotlib)."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from .checkpoint import atomic_write
from .train import LOSSES_FILE

HEADER = ["epoch", "sentences_seen", "loss", "lr"]
GRAD_PREFIX = "grad_norm"  # grad_norm, grad_norm_max, grad_norm:<parameter>
MAX_NAMED = 10  # parameters drawn with their names; past this many they share one legend entry


class PlotError(ValueError):
    """Nothing to plot, or no matplotlib; the message says which and what to do."""


@dataclass
class LossLog:
    """A ``losses.csv`` as read: the loss of each evaluated epoch, the gradient norms of each trained one."""

    epochs: list[int] = field(default_factory=list)  # the epochs whose loss was evaluated
    losses: list[float] = field(default_factory=list)
    grad_norms: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)  # column → (epochs, norms)


def plot_losses(directory: str | Path, out: str | Path | None = None) -> Path:
    """Write ``loss.png`` (or ``out``) from the run's ``losses.csv``; return its path."""
    directory = Path(directory)
    path = directory / LOSSES_FILE
    log = read_losses(path, directory)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("matplotlib is not installed; install it with: pip install 'tinygrad_rnn[plot]'") from None
    panels = 2 if log.grad_norms else 1
    fig, axes = plt.subplots(panels, 1, figsize=(7, 7) if panels == 2 else (6, 4), sharex=True, squeeze=False)
    try:
        return _draw(fig, axes[:, 0], log, directory, out)
    except (ValueError, OverflowError) as e:  # values matplotlib cannot lay out (±1e308, say)
        raise PlotError(f"{path}: cannot plot these losses ({str(e)[:80]})") from None
    finally:
        plt.close(fig)


def _draw(fig, axes, log: LossLog, directory: Path, out) -> Path:
    from matplotlib.ticker import MaxNLocator

    ax = axes[0]
    ax.plot(log.epochs, log.losses, marker="o")
    ax.set_ylabel("loss per token (cross-entropy, nats)")
    ax.set_title(f"training loss: {directory.name}")
    if log.grad_norms:
        _draw_grad_norms(axes[1], log.grad_norms)
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("epochs trained")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    out = Path(out) if out is not None else directory / "loss.png"
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write(out, buf.getvalue())
    return out


def _draw_grad_norms(ax, columns: dict[str, tuple[list[int], list[float]]]) -> None:
    """The global norm's epoch mean and max, bold; each parameter's epoch mean, thin; log scale."""
    params = [c for c in columns if c.startswith(GRAD_PREFIX + ":")]
    named = len(params) <= MAX_NAMED
    for column, (epochs, norms) in columns.items():
        positive = [n if n > 0 else math.nan for n in norms]  # a zero norm has no place on a log scale
        if column == GRAD_PREFIX:
            ax.plot(epochs, positive, color="black", linewidth=2, marker="o", label="all, epoch mean")
        elif column == GRAD_PREFIX + "_max":
            ax.plot(epochs, positive, color="black", linestyle="--", label="all, epoch max")
        else:
            label = column.split(":", 1)[1] if named else (
                f"each of {len(params)} parameters" if column == params[0] else "_nolegend_")
            ax.plot(epochs, positive, linewidth=1, alpha=0.8 if named else 0.4,
                    color=None if named else "tab:blue", label=label)
    ax.set_yscale("log")
    ax.set_ylabel("gradient norm per step (before clipping)")
    ax.set_title("gradient norms during each epoch")
    ax.legend(fontsize="small", ncol=2 if len(params) > 4 and named else 1)


def read_losses(path: Path, directory: Path) -> LossLog:
    """The loss and gradient-norm columns of a ``losses.csv``, every row checked; a bad file is named
    with its line. An empty loss cell is an epoch trained but not evaluated; other columns are ignored."""
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
    if not rows or rows[0][:4] != HEADER:
        raise PlotError(f"{path}: the header must be {','.join(HEADER)}")
    header = rows[0]
    grad_columns = {i: name for i, name in enumerate(header) if name == GRAD_PREFIX or name == GRAD_PREFIX + "_max"
                    or name.startswith(GRAD_PREFIX + ":")}
    log = LossLog()
    for line, row in enumerate(rows[1:], start=2):
        _read_row(log, row, len(header), grad_columns, f"{path}, line {line}")
    if not log.epochs and not log.grad_norms:
        raise PlotError(f"{path}: no evaluated epochs yet")
    return log


def _read_row(log: LossLog, row: list[str], cells: int, grad_columns: dict[int, str], where: str) -> None:
    try:
        epoch, loss = int(row[0]), float(row[2]) if row[2] != "" else None
    except (ValueError, IndexError):
        raise PlotError(f"{where}: expected an integer epoch and a number for the loss (or nothing), "
                        f"got {','.join(row)[:60]!r}") from None
    if len(row) != cells:
        raise PlotError(f"{where}: {len(row)} cells, the header has {cells}")
    if loss is not None:
        if not math.isfinite(loss):
            raise PlotError(f"{where}: the loss is {loss}, not a finite number")
        log.epochs.append(epoch)
        log.losses.append(loss)
    for i, column in grad_columns.items():
        if row[i] == "":
            continue
        try:
            norm = float(row[i])
        except ValueError:
            norm = math.nan
        if not (math.isfinite(norm) and norm >= 0):
            raise PlotError(f"{where}: {column} is {row[i][:30]!r}, not a finite norm >= 0")
        epochs, norms = log.grad_norms.setdefault(column, ([], []))
        epochs.append(epoch)
        norms.append(norm)
