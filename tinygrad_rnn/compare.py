"""The tape-based RNNLM beside the hand-written gate version: same weights, same gradients, timed."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from .models import RNNLM
from .reference import GateRNN
from .tensor import Tensor

PARAMETERS = ("U", "W", "V")


def transfer_weights(src, dst) -> None:
    """Copy U, W and V from one model to the other, either way (RNNLM ↔ GateRNN), into live storage."""
    for name in PARAMETERS:
        source, target = _array(src, name), _array(dst, name)
        if source.shape != target.shape:
            raise ValueError(f"transfer_weights: {name} is {source.shape} in the source, {target.shape} in the target")
        target[...] = source


def tape_gradients(model: RNNLM, x, y) -> tuple[float, dict[str, np.ndarray]]:
    """Summed loss and (dU, dW, dV) of one sentence through the tape; a parameter never reached gets zeros."""
    model.zero_grad()
    loss = model.loss(x, y, reduction="sum")
    loss.backward()
    grads = {n: np.zeros_like(p.data) if p.grad is None else p.grad for n, p in model.named_parameters()}
    return float(loss.item()), grads


def gate_gradients(model: GateRNN, x, y) -> tuple[float, dict[str, np.ndarray]]:
    """Summed loss and (dU, dW, dV) of one sentence through the hand-written BPTT."""
    dU, dW, dV = model.bptt(x, y)
    return float(model.calculate_loss(x, y)) * len(y), {"U": dU, "W": dW, "V": dV}


@dataclass
class Comparison:
    sentences: int
    tokens: int
    abs_diff: dict[str, float]
    rel_diff: dict[str, float]
    loss_tape: float
    loss_gate: float
    seconds_tape: float
    seconds_gate: float

    @property
    def worst_rel(self) -> float:
        return max(self.rel_diff.values())

    @property
    def speedup(self) -> float:
        return self.seconds_gate / self.seconds_tape


def compare(pairs, word_dim: int, hidden: int, bptt_truncate: int | None, seed: int = 0,
            repeats: int = 3) -> Comparison:
    """Gradients and losses of both models on each sentence from the same weights, then their speed."""
    tape = RNNLM(word_dim, hidden, bptt_truncate, seed=seed)
    gate = GateRNN(word_dim, hidden, bptt_truncate=len(max((y for _, y in pairs), key=len))
                   if bptt_truncate is None else bptt_truncate)
    transfer_weights(tape, gate)
    abs_diff = dict.fromkeys(PARAMETERS, 0.0)
    scale = dict.fromkeys(PARAMETERS, 0.0)
    loss_tape = loss_gate = 0.0
    for x, y in pairs:
        lt, gt = tape_gradients(tape, x, y)
        lg, gg = gate_gradients(gate, x, y)
        loss_tape, loss_gate = loss_tape + lt, loss_gate + lg
        for n in PARAMETERS:
            abs_diff[n] = max(abs_diff[n], float(np.abs(gt[n] - gg[n]).max()))
            scale[n] = max(scale[n], float(np.abs(gg[n]).max()))
    rel_diff = {n: abs_diff[n] / scale[n] if scale[n] else abs_diff[n] for n in PARAMETERS}
    tokens = sum(len(y) for _, y in pairs)
    seconds_tape, seconds_gate = _time_both(tape, gate, pairs, repeats)
    return Comparison(len(pairs), tokens, abs_diff, rel_diff, loss_tape / tokens, loss_gate / tokens,
                      seconds_tape, seconds_gate)


def _time_both(tape: RNNLM, gate: GateRNN, pairs, repeats: int) -> tuple[float, float]:
    """Seconds per sentence for a gradient computation, median of interleaved runs."""
    runs: dict[str, list[float]] = {"tape": [], "gate": []}
    for _ in range(repeats):
        for name, fn in (("tape", lambda x, y: tape_gradients(tape, x, y)),
                         ("gate", lambda x, y: gate.bptt(x, y))):
            start = time.perf_counter()
            for x, y in pairs:
                fn(x, y)
            runs[name].append((time.perf_counter() - start) / len(pairs))
    return statistics.median(runs["tape"]), statistics.median(runs["gate"])


def _array(model, name: str) -> np.ndarray:
    value = getattr(model, name)
    return value.data if isinstance(value, Tensor) else value
