"""Every fast path against the plain dense path, over the orders of operations real users produce.

A hypothesis state machine runs one program in two worlds that start identical: one with the
fast paths on (deferred gradients, no-copy hand-over to ``.grad``, VJPs that consume their saved
arrays, SGD applying deferred gradients directly), one inside ``fast_paths(False)``. It
interleaves forwards over shared leaves, backwards with and without ``retain_graph``, reads and
in-place edits of ``.grad``, writes to inputs (tracked and untracked), optimizer steps and
``zero_grad``; after every step all gradients and weights must agree, and any error must be the
same error in both worlds.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import Tensor, gradients
from tinygrad_rnn.optim import SGD, Adam

# big enough that a few rows make the deferred product pay (rows * (out + in) <= out * in)
SHAPES = {"E": (6, 3), "W": (8, 3), "b": (8,), "R": (6, 6), "h0": (6,), "V": (12, 6), "c": (3,)}
USES_X = {"linear_buffer", "cross_entropy"}  # the graphs that save the buffer x itself
FORWARDS = ["lookup", "lookup_transposed", "linear_many", "linear_buffer", "rnn_h0", "broadcast",
            "shared_add", "leaf_plus_lookup", "cross_entropy", "linear_cross_entropy", "leaf_output",
            "gather", "chunk", "unbind", "take_along_axis", "hooked_lookup"]
COVERAGE: Counter = Counter()


class World:
    """One copy of the program's state; every call runs with this world's fast-path setting."""

    def __init__(self, fast: bool, seed: int):
        self.fast = fast
        rng = np.random.default_rng(seed)
        self.leaves = {n: Tensor(rng.uniform(-1, 1, s), requires_grad=True) for n, s in SHAPES.items()}
        self.x = Tensor(rng.uniform(-1, 1, (2, 3)))  # an input buffer the program reuses
        self.big = Tensor(rng.uniform(-1, 1, (12, 3)))
        self.proj = Tensor(rng.uniform(-1, 1, (3, 6)))
        self.ids = np.array([1, 4, 1])
        params = list(self.leaves.values())
        self.optimizers = {"sgd": SGD(params, lr=0.1), "momentum": SGD(params, lr=0.05, momentum=0.9),
                           "adam": Adam(params, lr=0.01)}
        self.pending: list[tuple[Tensor, bool, int]] = []  # (loss, saved the buffer x, x's version then)

    def run(self, fn):
        """fn(self) with this world's fast paths; returns ("ok", value) or ("error", exception type)."""
        with tg.fast_paths(self.fast):
            try:
                return "ok", fn(self)
            except (RuntimeError, ValueError) as e:
                return "error", type(e)

    def forward(self, kind: str) -> Tensor:
        E, W, b, R, h0, V, c = (self.leaves[n] for n in SHAPES)
        if kind == "lookup":
            return F.linear(E[self.ids], W, b, activation="tanh").sum()
        if kind == "lookup_transposed":
            return (E.T[np.array([0, 2])] * E.T[np.array([2])]).sum()
        if kind == "linear_many":
            return (F.linear(self.big, W, b) ** 2).sum()
        if kind == "linear_buffer":
            return F.linear(self.x, W).tanh().sum()
        if kind == "rnn_h0":  # an RNN with a learned initial state
            h = h0[None]
            for t in range(2):
                h = F.linear(h, R, self.x[t:t + 1] @ self.proj, activation="tanh")
            return (h * h).sum()
        if kind == "broadcast":
            return (h0[:3] * W).sum() + (b[:, None] * W * 0.5).sum()
        if kind == "shared_add":
            return ((h0[:3] + E[1]) * 2.0).sum()
        if kind == "leaf_plus_lookup":  # one gradient array for a leaf and a lookup: the first repro
            return ((c + E[2]) * 2.0).sum()
        if kind == "cross_entropy":
            return F.cross_entropy(F.linear(self.x, W, b), np.array([3, 0]))
        if kind == "linear_cross_entropy":
            h = F.linear(self.x @ self.proj, R, activation="tanh")
            return F.linear_cross_entropy(h, V, np.array([4, 11]), reduction="sum")
        if kind == "gather":  # a deferred scatter from gather's VJP
            return (E.gather(0, np.array([[1, 0, 2], [1, 1, 0]])) * 2.0).sum()
        if kind == "chunk":  # the pieces' gradients meet as one deferred scatter
            top, bottom = W.chunk(2, dim=0)
            return (top * bottom).sum() + top.sum()
        if kind == "unbind":
            rows = E.unbind(0)
            return (rows[1] * rows[4] + rows[1]).sum()
        if kind == "take_along_axis":
            return F.take_along_axis(R, np.array([[0], [5], [5], [1], [2], [0]]), -1).sum()
        if kind == "hooked_lookup":  # a hook sees (and replaces) a gradient that travels deferred
            h = E[self.ids]
            h.register_hook(lambda g: g * 2.0)
            return (h * h).sum()
        return (h0 * 1.0).sum() + h0.sum()  # "leaf_output": a leaf delivered twice


class FastPathsAgainstDense(RuleBasedStateMachine):
    @initialize(seed=st.integers(0, 2**16))
    def start(self, seed):
        self.worlds = [World(True, seed), World(False, seed)]

    def both(self, fn):
        results = [w.run(fn) for w in self.worlds]
        assert [r[0] for r in results] == [r[0] for r in results[:1]] * 2, results
        if results[0][0] == "error":
            assert results[0][1] is results[1][1], results
        return results

    @rule(kind=st.sampled_from(FORWARDS))
    def forward(self, kind):
        COVERAGE[kind] += 1

        def go(w):
            w.pending.append((w.forward(kind), kind in USES_X, w.x._version))

        self.both(go)

    @rule(kinds=st.lists(st.sampled_from(FORWARDS), min_size=1, max_size=3), retain=st.booleans(),
          twice=st.booleans())
    def forward_and_backward(self, kinds, retain, twice):
        """Forwards over shared leaves, then a backward through their sum (or two, the first retaining)."""
        COVERAGE.update(kinds)

        def go(w):
            total = w.forward(kinds[0])
            for kind in kinds[1:]:
                total = total + w.forward(kind)
            total.backward(retain_graph=retain or twice)
            if twice:
                total.backward(retain_graph=retain)
            if retain:
                w.pending.append((total, bool(USES_X.intersection(kinds)), w.x._version))

        self.both(go)
        self.count_forms()

    @precondition(lambda self: hasattr(self, "worlds") and self.worlds[0].pending)
    @rule(data=st.data(), retain=st.booleans())
    def backward(self, data, retain):
        k = data.draw(st.integers(0, len(self.worlds[0].pending) - 1))
        _, uses_x, version = self.worlds[0].pending[k]
        stale = uses_x and version != self.worlds[0].x._version  # x was changed in place since

        def go(w):
            loss = w.pending[k][0] if retain else w.pending.pop(k)[0]
            loss.backward(retain_graph=retain)

        results = self.both(go)
        if stale:  # the model of the version rule: a graph that saved x refuses after x changed
            COVERAGE["refused_stale"] += 1
            assert results[0] == ("error", RuntimeError), results
        if results[0][0] == "error" and retain:  # refused: drop the graph in both worlds
            for w in self.worlds:
                w.pending.pop(k)
        self.count_forms()

    def count_forms(self):
        for leaf in self.worlds[0].leaves.values():
            COVERAGE[type(gradients.peek(leaf)).__name__] += 1

    @rule()
    def read_grads(self):
        self.both(lambda w: [p.grad for p in w.leaves.values()])

    @rule(name=st.sampled_from(sorted(SHAPES)), how=st.sampled_from(["zero", "scale", "add"]))
    def edit_grad(self, name, how):
        def go(w):
            g = w.leaves[name].grad
            if g is None:
                return
            if how == "zero":
                g[...] = 0
            elif how == "scale":
                g *= 0.5
            else:
                g += 1.0

        COVERAGE["edit_grad"] += 1
        self.both(go)

    @rule(tracked=st.booleans(), scale=st.floats(-1, 1))
    def write_input(self, tracked, scale):
        def go(w):
            new = np.full((2, 3), scale) + np.arange(6.0).reshape(2, 3) * 0.1
            if tracked:
                w.x.copy_(new)
            else:
                w.x.data[...] = new  # not tracked: both worlds see the new values alike
            w.ids[...] = [int(abs(scale) * 5) % 6, 2, 3]

        COVERAGE["write_input"] += 1
        self.both(go)

    @rule(name=st.sampled_from(["sgd", "momentum", "adam"]))
    def step(self, name):
        fast = self.worlds[0]
        COVERAGE[f"step_{name}"] += 1
        if name == "sgd" and any(isinstance(gradients.peek(p), gradients.Deferred) for p in fast.leaves.values()):
            COVERAGE["sgd_on_deferred"] += 1
        self.both(lambda w: w.optimizers[name].step())

    @rule()
    def zero_grad(self):
        self.both(lambda w: w.optimizers["sgd"].zero_grad())

    @rule(name=st.sampled_from(sorted(SHAPES)))
    def nudge_leaf(self, name):
        def go(w):
            with tg.no_grad():
                w.leaves[name].add_(0.01)

        self.both(go)

    @invariant()
    def same_gradients_and_weights(self):
        if not hasattr(self, "worlds"):
            return
        fast, dense = self.worlds
        for name in SHAPES:
            a, b = fast.leaves[name], dense.leaves[name]
            np.testing.assert_allclose(a.data, b.data, rtol=1e-10, atol=1e-12, err_msg=name)
            ga = gradients.densify(gradients.peek(a))  # without changing the fast world's state
            gb = gradients.peek(b)
            assert (ga is None) == (gb is None), name
            if ga is not None:
                assert not isinstance(gb, gradients.Deferred)
                np.testing.assert_allclose(ga, gb, rtol=1e-10, atol=1e-12, err_msg=f"{name}.grad")


def test_fast_paths_match_the_dense_path():
    COVERAGE.clear()
    run_state_machine_as_test(FastPathsAgainstDense, settings=settings(
        settings(), max_examples=max(200, settings().max_examples), stateful_step_count=50, deadline=None))
    # every fast path was taken: deferred lookups and products in leaves, SGD applying them, consumption
    for needed in ("IndexedGrad", "OuterGrad", "sgd_on_deferred", "cross_entropy", "linear_cross_entropy",
                   "edit_grad", "write_input", "step_adam", "step_momentum", "refused_stale"):
        assert COVERAGE[needed] > 0, f"the state machine never exercised {needed}: {dict(COVERAGE)}"
    print("fast-path coverage:", dict(sorted(COVERAGE.items())))


@pytest.mark.parametrize("fast", [True, False])
def test_fast_paths_switch_is_scoped_and_reads_the_environment(fast, monkeypatch):
    before = tg.fast_paths_enabled()
    with tg.fast_paths(fast):
        assert tg.fast_paths_enabled() is fast
        x = Tensor(np.zeros((4, 2)), requires_grad=True)
        x[np.array([1, 1])].sum().backward()
        assert isinstance(gradients.peek(x), gradients.IndexedGrad) is fast
    assert tg.fast_paths_enabled() is before


def test_environment_flag_turns_the_fast_paths_off():
    import subprocess
    import sys

    code = "import tinygrad_rnn as tg; print(tg.fast_paths_enabled())"
    for value, want in (("0", "False"), ("1", "True")):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              env={"TINYGRAD_RNN_FAST_PATHS": value, "PATH": ""})
        assert proc.stdout.strip() == want, proc.stderr


@pytest.mark.parametrize("bug", ["shared_gradient_memory", "live_view_of_the_forward", "consumed_twice"])
def test_the_oracle_catches_a_planted_bug(bug, monkeypatch):
    """The comparison has teeth: each bug the fast paths once had makes the state machine fail."""
    from hypothesis import Phase

    if bug == "shared_gradient_memory":  # hand arrays to .grad without looking who else holds them
        monkeypatch.setattr(gradients, "settle", lambda results, foreign, copy_all: [
            gradients.densify(g) if copy_all else g for g in results])
    elif bug == "live_view_of_the_forward":  # a deferred product keeps the layer's input as it is
        monkeypatch.setattr(gradients.OuterGrad, "_owned", lambda self, shared: self)
    else:  # a consuming VJP is handed its saved arrays even when the graph is kept
        monkeypatch.setattr(tg.ops.CrossEntropy, "consumes", ())
        monkeypatch.setattr(tg.ops.CrossEntropy, "plain", True)
        monkeypatch.setattr(tg.ops.LinearCrossEntropy, "consumes", ())
        monkeypatch.setattr(tg.ops.LinearCrossEntropy, "plain", True)
    quick = settings(max_examples=300, stateful_step_count=50, deadline=None, derandomize=True,
                     phases=[Phase.generate], database=None)
    with pytest.raises(AssertionError):
        run_state_machine_as_test(FastPathsAgainstDense, settings=quick)
