"""Optimizers against torch and their formulas, param groups, clipping, and the tutorial's lr-halving schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinygrad_rnn import gradients, optim
from tinygrad_rnn.nn import Parameter
from tinygrad_rnn.optim import SGD, Adagrad, Adam, AdamW, HalveOnIncrease, RMSprop, clip_grad_norm_, clip_grad_value_
from tinygrad_rnn.tensor import Tensor


def param(values, grad):
    p = Parameter(np.array(values, dtype=float))
    p.grad = np.array(grad, dtype=float)
    return p


def test_sgd_step_in_place():
    p = param([1.0, 2.0], [0.5, -1.0])
    storage = p.data
    SGD([p], lr=0.1).step()
    assert p.data is storage
    np.testing.assert_allclose(p.data, [0.95, 2.1])


def test_sgd_momentum_and_weight_decay():
    p = param([1.0], [1.0])
    opt = SGD([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    opt.step()  # g = 1 + 0.5 = 1.5; v = 1.5
    np.testing.assert_allclose(p.data, [1 - 0.15])
    p.grad = np.array([1.0])
    opt.step()  # g = 1 + 0.5 * 0.85; v = 0.9 * 1.5 + g
    np.testing.assert_allclose(p.data, [0.85 - 0.1 * (0.9 * 1.5 + 1 + 0.425)])


def test_sgd_skips_parameters_without_gradient():
    p = param([1.0], [0.0])
    p.grad = None
    SGD([p], lr=1.0).step()
    assert p.data[0] == 1.0


def test_adam_matches_its_formula():
    p = param([1.0, -2.0], [0.3, 0.1])
    opt = Adam([p], lr=0.01)
    m = v = np.zeros(2)
    x = p.data.copy()
    for t in range(1, 4):
        g = np.array([0.3, 0.1]) * t
        p.grad = g.copy()
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        x = x - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(p.data, x, rtol=1e-12)


def test_optimizer_state_round_trip_is_exact():
    p, q = param([1.0, 2.0], [0.1, 0.2]), param([1.0, 2.0], [0.1, 0.2])
    a, b = Adam([p], lr=0.1), Adam([q], lr=0.1)
    a.step()
    b.load_state_dict({k: v.copy() for k, v in a.state_dict().items()})
    q.data[...] = p.data
    p.grad = q.grad = np.array([0.3, -0.4])
    a.step()
    b.step()
    np.testing.assert_array_equal(p.data, q.data)
    with pytest.raises(KeyError, match="expected"):
        b.load_state_dict({})


def test_clip_grad_norm_scales_and_returns_the_norm():
    a, b = param([0.0], [3.0]), param([0.0, 0.0], [0.0, 4.0])
    assert clip_grad_norm_([a, b], 1.0) == pytest.approx(5.0)
    total = math.sqrt(float(a.grad @ a.grad + b.grad @ b.grad))
    assert total == pytest.approx(1.0)
    assert clip_grad_norm_([a, b], 10.0) == pytest.approx(1.0)  # below the limit: untouched
    assert total == pytest.approx(math.sqrt(float(a.grad @ a.grad + b.grad @ b.grad)))


def test_halve_on_increase_follows_the_tutorial():
    opt = SGD([param([0.0], [0.0])], lr=0.005)
    sched = HalveOnIncrease(opt, every=2)
    assert [sched.due(e) for e in range(4)] == [True, False, True, False]
    assert not sched.record(8.9)
    assert not sched.record(8.5)
    assert sched.record(8.6) and opt.lr == 0.0025
    assert not sched.record(8.6)  # equal is not a rise
    assert sched.history == [8.9, 8.5, 8.6, 8.6]


def test_bad_optimizer_arguments():
    with pytest.raises(ValueError, match="lr must be >= 0"):
        SGD([param([0.0], [0.0])], lr=-0.1)
    frozen = param([1.0], [2.0])
    SGD([frozen], lr=0).step()  # lr 0 freezes, as in torch
    assert frozen.data[0] == 1.0
    with pytest.raises(ValueError, match="no parameters"):
        Adam([])


def test_sgd_applies_a_lookup_gradient_to_the_looked_up_entries_only():
    from tinygrad_rnn.models import RNNLM

    x, y = np.array([1, 4, 4, 2]), np.array([4, 4, 2, 0])
    sparse, dense = RNNLM(6, 3, bptt_truncate=2, seed=0), RNNLM(6, 3, bptt_truncate=2, seed=0)
    for model, densify in ((sparse, False), (dense, True)):
        model.loss(x, y, reduction="sum").backward()
        if densify:
            assert model.U.grad is not None  # reading .grad makes it dense: the plain update runs
        else:
            assert isinstance(gradients.peek(model.U), gradients.IndexedGrad)
        SGD(model.parameters(), lr=0.1).step()
    np.testing.assert_allclose(sparse.U.data, dense.U.data, rtol=1e-15, atol=1e-15)
    np.testing.assert_array_equal(sparse.U.data[:, [0, 3, 5]], RNNLM(6, 3, seed=0).U.data[:, [0, 3, 5]])


# --- torch's optimizers: the rules, the options, param groups ------------------------------
SHAPES = [(3, 4), (5,)]


def grads_for(step: int) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + step)
    return [rng.standard_normal(s) for s in SHAPES]


def start_values() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(s) for s in SHAPES]


# each case: (our class, torch's name, group options for both, per-group overrides)
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.2, betas=(0.85, 0.99))),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.5)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, centered=True, eps=1e-4)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-8)),
]


def run_ours(name, options, steps=6, groups=False):
    params = [Parameter(v.copy()) for v in start_values()]
    cls = getattr(optim, name)
    if groups:  # the second parameter in a group of its own with a different lr
        opt = cls([{"params": [params[0]]}, {"params": [params[1]], "lr": options.get("lr", 0.01) * 3}], **options)
    else:
        opt = cls(params, **options)
    out = []
    for t in range(steps):
        for p, g in zip(params, grads_for(t)):
            p.grad = g
        opt.step()
        out.append([p.data.copy() for p in params])
    return out


@pytest.mark.parametrize("groups", [False, True])
@pytest.mark.parametrize(("name", "options"), CASES)
def test_optimizers_match_torch(name, options, groups):
    torch = pytest.importorskip("torch")
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in start_values()]
    cls = getattr(torch.optim, name)
    if groups:
        opt = cls([{"params": [params[0]]}, {"params": [params[1]], "lr": options.get("lr", 0.01) * 3}], **options)
    else:
        opt = cls(params, **options)
    ours = run_ours(name, options, groups=groups)
    for t in range(len(ours)):
        for p, g in zip(params, grads_for(t)):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        for mine, theirs in zip(ours[t], params):
            np.testing.assert_allclose(mine, theirs.detach().numpy(), rtol=1e-12, atol=1e-15)


def transcription(name, options, steps=6):
    """The published update rules, written out again from torch's documentation, one parameter at a time."""
    o = dict(options)
    lr, wd = o.get("lr", {"SGD": 0.005, "Adam": 1e-3, "AdamW": 1e-3}.get(name, 0.01)), o.get("weight_decay", 0.0)
    if name == "AdamW" and "weight_decay" not in o:
        wd = 0.01
    xs = [v.copy() for v in start_values()]
    states = [{} for _ in xs]
    out = []
    for t in range(1, steps + 1):
        for x, g, s in zip(xs, grads_for(t - 1), states):
            if name != "AdamW":
                g = g + wd * x
            if name == "SGD":
                mu, damp = o.get("momentum", 0), o.get("dampening", 0)
                if mu:
                    s["b"] = g.copy() if t == 1 else mu * s["b"] + (1 - damp) * g
                    g = g + mu * s["b"] if o.get("nesterov") else s["b"]
                x -= lr * g
            elif name in ("Adam", "AdamW"):
                b1, b2 = o.get("betas", (0.9, 0.999))
                if name == "AdamW":
                    x *= 1 - lr * wd
                s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
                s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
                mhat, vhat = s["m"] / (1 - b1**t), s["v"] / (1 - b2**t)
                x -= lr * mhat / (np.sqrt(vhat) + o.get("eps", 1e-8))
            elif name == "RMSprop":
                a, mu = o.get("alpha", 0.99), o.get("momentum", 0)
                s["sq"] = a * s.get("sq", 0) + (1 - a) * g * g
                if o.get("centered"):
                    s["ga"] = a * s.get("ga", 0) + (1 - a) * g
                    d = np.sqrt(s["sq"] - s["ga"] ** 2) + o.get("eps", 1e-8)
                else:
                    d = np.sqrt(s["sq"]) + o.get("eps", 1e-8)
                if mu:
                    s["b"] = mu * s.get("b", 0) + g / d
                    x -= lr * s["b"]
                else:
                    x -= lr * g / d
            elif name == "Adagrad":
                s["sum"] = s.get("sum", o.get("initial_accumulator_value", 0)) + g * g
                x -= lr / (1 + (t - 1) * o.get("lr_decay", 0)) * g / (np.sqrt(s["sum"]) + o.get("eps", 1e-10))
        out.append([x.copy() for x in xs])
    return out


@pytest.mark.parametrize(("name", "options"), CASES)
def test_optimizers_match_their_published_rule(name, options):
    for mine, expected in zip(run_ours(name, options), transcription(name, options)):
        for a, b in zip(mine, expected):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize(("name", "options"), CASES)
def test_state_round_trip_mid_training_continues_identically(name, options):
    full = run_ours(name, options, steps=6)
    params = [Parameter(v.copy()) for v in start_values()]
    opt = getattr(optim, name)(params, **options)
    for t in range(3):
        for p, g in zip(params, grads_for(t)):
            p.grad = g
        opt.step()
    saved = {k: np.array(v) for k, v in opt.state_dict().items()}
    fresh = [Parameter(p.data.copy()) for p in params]
    other = getattr(optim, name)(fresh, lr=1.0, **{k: v for k, v in options.items() if k != "lr"})
    other.load_state_dict(saved)
    assert other.lr == opt.lr  # the lr travels in the state
    for t in range(3, 6):
        for p, g in zip(fresh, grads_for(t)):
            p.grad = g
        other.step()
        for a, b in zip(fresh, full[t]):
            np.testing.assert_array_equal(a.data, b)


def test_steps_are_in_place_and_bump_the_version():
    for name, options in CASES:
        p = Parameter(np.ones(3))
        storage, version = p.data, p._version
        opt = getattr(optim, name)([p], **options)
        p.grad = np.array([0.1, -0.2, 0.3])
        opt.step()
        assert p.data is storage and p._version == version + 1, name


def test_param_groups_are_filled_in_and_editable():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.1}], lr=0.01, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert opt.param_groups[0] == {"params": [a], "lr": 0.01, "momentum": 0.9, "dampening": 0.0,
                                   "weight_decay": 0.0, "nesterov": False}
    with pytest.raises(ValueError, match="different learning rates"):
        _ = opt.lr
    opt.param_groups[1]["lr"] = 0.5  # takes effect at the next step
    a.grad, b.grad = np.ones(2), np.ones(2)
    opt.step()
    np.testing.assert_allclose(a.data, 1 - 0.01)
    np.testing.assert_allclose(b.data, 1 - 0.5)
    opt.lr = 0.2  # code written before groups sets them all
    assert [g["lr"] for g in opt.param_groups] == [0.2, 0.2] and opt.lr == 0.2


def test_param_group_errors_name_the_problem():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    with pytest.raises(ValueError, match="SGD: param group 1 has no 'params'"):
        SGD([{"params": [a]}, {"lr": 0.1}])
    with pytest.raises(ValueError, match="Adam: param group 0 has unknown option 'momentum'"):
        Adam([{"params": [a], "momentum": 0.9}])
    with pytest.raises(ValueError, match="more than one param group"):
        SGD([{"params": [a, b]}, {"params": [b]}])
    with pytest.raises(ValueError, match="more than one param group"):
        SGD([a, a])
    with pytest.raises(TypeError, match="holds a ndarray, not a Parameter"):
        SGD([np.ones(2)])
    with pytest.raises(ValueError, match="does not require grad"):
        SGD([Tensor(np.ones(2))])
    with pytest.raises(TypeError, match="single Parameter"):
        SGD(a)
    with pytest.raises(ValueError, match=r"RMSprop: lr must be >= 0, got -1 \(param group 1\)"):
        RMSprop([{"params": [a]}, {"params": [b], "lr": -1}])
    with pytest.raises(ValueError, match="SGD: nesterov needs momentum > 0 and dampening 0"):
        SGD([a], nesterov=True)
    with pytest.raises(ValueError, match="AdamW: betas must be in"):
        AdamW([a], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Adagrad: lr_decay must be >= 0, got -0.1"):
        Adagrad([a], lr_decay=-0.1)


def test_bad_loaded_state_is_refused():
    p = Parameter(np.ones(2))
    opt = Adagrad([p])
    with pytest.raises(ValueError, match="sum of squares"):
        opt.load_state_dict({"t": np.array(1), "sum.0": -np.ones(2)})
    with pytest.raises(ValueError, match="step count"):
        opt.load_state_dict({"t": np.array(-2), "sum.0": np.ones(2)})
    with pytest.raises(ValueError, match="learning rate"):
        opt.load_state_dict({"t": np.array(1), "sum.0": np.ones(2), "lr.0": np.array(-1.0)})
    with pytest.raises(KeyError, match="expected"):
        opt.load_state_dict({"t": np.array(1), "sum.0": np.ones(2), "lr.1": np.array(1.0)})


def test_state_written_before_groups_still_loads():
    """Checkpoints of format 1/2 hold Adam's t, m.i, v.i and no lr: they load, and keep the given lr."""
    p = Parameter(np.ones(2))
    opt = Adam([p], lr=0.05)
    opt.load_state_dict({"t": np.array(3), "m.0": np.full(2, 0.1), "v.0": np.full(2, 0.2)})
    assert opt.t == 3 and opt.lr == 0.05
    np.testing.assert_array_equal(opt.state[0]["v"], [0.2, 0.2])
    SGD([p]).load_state_dict({})  # plain SGD: nothing


def test_momentum_and_decay_make_a_lookup_gradient_dense():
    """Only plain SGD keeps a lookup's gradient to the looked-up columns; the others are torch's dense rule."""
    from tinygrad_rnn.models import RNNLM

    x, y = np.array([1, 4, 4, 2]), np.array([4, 4, 2, 0])
    for name, options in [("SGD", dict(lr=0.1, momentum=0.9)), ("SGD", dict(lr=0.1, weight_decay=0.1)),
                          ("Adam", dict(lr=0.01)), ("RMSprop", dict()), ("Adagrad", dict()), ("AdamW", dict())]:
        sparse, dense = RNNLM(6, 3, bptt_truncate=2, seed=0), RNNLM(6, 3, bptt_truncate=2, seed=0)
        for model, densify in ((sparse, False), (dense, True)):
            model.loss(x, y, reduction="sum").backward()
            if densify:
                assert model.U.grad is not None
            else:
                assert isinstance(gradients.peek(model.U), gradients.IndexedGrad)
            getattr(optim, name)(model.parameters(), **options).step()
        np.testing.assert_array_equal(sparse.U.data, dense.U.data)


def test_clip_grad_value_matches_torch_and_handles_a_lookup_gradient():
    from tinygrad_rnn.models import RNNLM

    a, b = param([0.0, 0.0, 0.0], [0.5, -2.0, 0.1]), param([0.0], [-0.3])
    clip_grad_value_([a, b], 0.25)
    np.testing.assert_array_equal(a.grad, [0.25, -0.25, 0.1])
    np.testing.assert_array_equal(b.grad, [-0.25])
    model = RNNLM(6, 3, bptt_truncate=2, seed=0)
    model.loss(np.array([1, 4, 4, 2]), np.array([4, 4, 2, 0]), reduction="sum").backward()
    assert isinstance(gradients.peek(model.U), gradients.IndexedGrad)
    raw = gradients.densify(gradients.peek(model.U)).copy()
    clip_grad_value_(model.parameters(), 0.05)
    np.testing.assert_array_equal(model.U.grad, np.clip(raw, -0.05, 0.05))
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_([a], -1)
    torch = pytest.importorskip("torch")
    g = np.random.default_rng(0).standard_normal((4, 5))
    t = torch.zeros(4, 5, dtype=torch.float64, requires_grad=True)
    t.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_([t], 0.7)
    c = param(np.zeros((4, 5)), g)
    clip_grad_value_(c, 0.7)
    np.testing.assert_array_equal(c.grad, t.grad.numpy())


def test_halve_on_increase_halves_every_group_and_keeps_its_state():
    a, b = Parameter(np.ones(1)), Parameter(np.ones(1))
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.1}], lr=0.01)
    sched = HalveOnIncrease(opt)
    sched.record(2.0)
    assert sched.record(3.0) and sched.get_last_lr() == [0.005, 0.05]
    again = HalveOnIncrease(opt)
    again.load_state_dict(sched.state_dict())
    assert again.history == [2.0, 3.0] and not again.record(2.5)


def test_a_state_dict_is_a_snapshot_and_a_zero_momentum_buffer_resumes_exactly():
    p = param([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    opt = Adam([p], lr=0.1)
    opt.step()
    snapshot = opt.state_dict()
    m = snapshot["m.0"].copy()
    opt.step()
    np.testing.assert_array_equal(snapshot["m.0"], m)  # training on does not move the snapshot
    # SGD with dampening: a step with a zero gradient starts the buffer at zero; a reload must know it
    runs = []
    for reload in (False, True):
        q = param([1.0], [0.0])
        sgd = SGD([q], lr=0.1, momentum=0.9, dampening=0.5)
        sgd.step()
        if reload:
            state = sgd.state_dict()
            sgd = SGD([q], lr=0.1, momentum=0.9, dampening=0.5)
            sgd.load_state_dict(state)
        q.grad = np.ones(1)
        sgd.step()
        runs.append(q.data[0])
    assert runs[0] == runs[1] == 1.0 - 0.1 * 0.5
