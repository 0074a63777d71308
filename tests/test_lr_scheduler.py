"""Learning-rate schedulers against torch's lr sequences, and their state."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_rnn import optim
from tinygrad_rnn.nn import Parameter
from tinygrad_rnn.optim import lr_scheduler

SCHEDULES = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=10, eta_min=0.001)),
    ("CosineAnnealingLR", dict(T_max=8)),
    ("LinearLR", dict(start_factor=0.1, total_iters=8)),
    ("LinearLR", dict()),
]


def ours(name, options, steps=30):
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1, momentum=0.9)
    sched = getattr(lr_scheduler, name)(opt, **options)
    lrs = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
        assert lrs[-1] == [g["lr"] for g in opt.param_groups]
    return lrs


@pytest.mark.parametrize(("name", "options"), SCHEDULES)
def test_schedules_match_torch(name, options):
    torch = pytest.importorskip("torch")
    a, b = torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1, momentum=0.9)
    sched = getattr(torch.optim.lr_scheduler, name)(opt, **options)
    theirs = [sched.get_last_lr()]
    for _ in range(30):
        opt.step()
        sched.step()
        theirs.append(sched.get_last_lr())
    np.testing.assert_allclose(ours(name, options), theirs, rtol=1e-12, atol=0)


def test_schedules_follow_their_closed_forms():
    base = np.array([0.1, 0.3])
    for e, lrs in enumerate(ours("StepLR", dict(step_size=7, gamma=0.5))):
        np.testing.assert_allclose(lrs, base * 0.5 ** (e // 7), rtol=1e-12)
    for e, lrs in enumerate(ours("CosineAnnealingLR", dict(T_max=10, eta_min=0.001))):
        np.testing.assert_allclose(lrs, 0.001 + (base - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2, rtol=1e-9)
    for e, lrs in enumerate(ours("LinearLR", dict(start_factor=0.1, total_iters=8))):
        np.testing.assert_allclose(lrs, base * (0.1 + 0.9 * min(e, 8) / 8), rtol=1e-12)


METRICS = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.2, 4.3, 3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 2.0, 2.5, 2.5, 2.5, 2.5, 2.5]
PLATEAUS = [dict(patience=2), dict(patience=1, cooldown=2, factor=0.5, min_lr=0.02),
            dict(mode="max", patience=0, threshold=0.1), dict(patience=1, threshold_mode="abs", threshold=0.5)]


def plateau_ours(options, metrics=METRICS):
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, **options)
    out = []
    for m in metrics:
        sched.step(m)
        out.append(sched.get_last_lr())
    return out


@pytest.mark.parametrize("options", PLATEAUS)
def test_reduce_on_plateau_matches_torch(options):
    torch = pytest.importorskip("torch")
    a, b = torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)
    opt = torch.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **options)
    theirs = []
    for m in METRICS:
        sched.step(m)
        theirs.append(sched.get_last_lr())
    np.testing.assert_allclose(plateau_ours(options), theirs, rtol=1e-12, atol=0)


def test_reduce_on_plateau_waits_for_patience():
    lrs = plateau_ours(dict(patience=2), [1.0, 1.0, 1.0, 1.0])
    assert [lr[0] for lr in lrs] == [0.1, 0.1, 0.1, pytest.approx(0.01)]


@pytest.mark.parametrize(("name", "options"), SCHEDULES)
def test_state_round_trip_continues_the_schedule(name, options):
    full = ours(name, options, steps=20)
    a = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt = optim.SGD([{"params": [a[0]]}, {"params": [a[1]], "lr": 0.3}], lr=0.1, momentum=0.9)
    sched = getattr(lr_scheduler, name)(opt, **options)
    for _ in range(9):
        opt.step()
        sched.step()
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    b = Parameter(np.ones(2)), Parameter(np.ones(3))
    opt2 = optim.SGD([{"params": [b[0]]}, {"params": [b[1]], "lr": 0.3}], lr=0.1, momentum=0.9)
    sched2 = getattr(lr_scheduler, name)(opt2, **options)  # as in torch: the scheduler first, then the states
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    for e in range(10, 21):
        opt2.step()
        sched2.step()
        assert sched2.get_last_lr() == full[e]


def test_plateau_state_round_trip():
    p = Parameter(np.ones(1))
    opt = optim.SGD([p], lr=0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for m in METRICS[:6]:
        sched.step(m)
    other = lr_scheduler.ReduceLROnPlateau(optim.SGD([Parameter(np.ones(1))], lr=0.1), patience=5)
    other.load_state_dict(sched.state_dict())
    other.optimizer.load_state_dict(opt.state_dict())
    for m in METRICS[6:]:
        sched.step(m)
        other.step(m)
        assert other.get_last_lr() == sched.get_last_lr()
    with pytest.raises(KeyError, match="ReduceLROnPlateau: state has keys"):
        other.load_state_dict({})


def test_scheduler_arguments_are_checked():
    opt = optim.SGD([Parameter(np.ones(1))], lr=0.1)
    with pytest.raises(ValueError, match="StepLR: step_size must be an integer >= 1, got 0"):
        lr_scheduler.StepLR(opt, 0)
    with pytest.raises(ValueError, match="LinearLR: start_factor must be in"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: mode must be 'min' or 'max', got 'low'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="low")
    with pytest.raises(TypeError, match="ExponentialLR: list is not an optimizer"):
        lr_scheduler.ExponentialLR([], 0.5)
