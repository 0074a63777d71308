"""After backward() returns, every gradient is its leaf's own: the silent-wrong-gradient repros.

Each program runs twice, with the fast paths on and off (``fast_paths(False)``: dense gradients,
fresh copies everywhere), and both must give the right numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
import tinygrad_rnn.functional as F
from tinygrad_rnn import Tensor
from tinygrad_rnn.nn import Linear
from tinygrad_rnn.optim import SGD, Adam

both = pytest.mark.parametrize("fast", [True, False], ids=["fast", "dense"])


@both
def test_two_backwards_before_reading_grad(fast):
    """The issue's first repro: x's gradient array was also w's pending lookup gradient."""
    with tg.fast_paths(fast):
        x = Tensor(np.zeros(3), requires_grad=True)
        w = Tensor(np.zeros(5), requires_grad=True)
        (x + w[:3]).backward(np.ones(3))
        (x * 1.0).backward(np.full(3, 100.0))
        np.testing.assert_array_equal(w.grad, [1, 1, 1, 0, 0])
        np.testing.assert_array_equal(x.grad, [101, 101, 101])


@both
def test_editing_one_leafs_grad_leaves_the_others_alone(fast):
    with tg.fast_paths(fast):
        a = Tensor(np.zeros(4), requires_grad=True)
        b = Tensor(np.zeros(4), requires_grad=True)
        c = Tensor(np.zeros((2, 4)), requires_grad=True)
        (a + b + c[0] + c[1]).backward(np.arange(4.0))
        a.grad[...] = 0
        b.grad += 1
        np.testing.assert_array_equal(c.grad, [np.arange(4.0)] * 2)
        np.testing.assert_array_equal(b.grad, np.arange(4.0) + 1)
        np.testing.assert_array_equal(a.grad, 0)


@both
def test_a_deferred_weight_gradient_keeps_no_live_view_of_its_input(fast):
    """F.linear(h0, W).sum().backward(); h0.data -= 0.1: W.grad must not read the new h0."""
    with tg.fast_paths(fast):
        h0 = Tensor(np.array([[0.5, -1.0, 2.0]]), requires_grad=True)
        w = Tensor(np.ones((4, 3)), requires_grad=True)
        F.linear(h0, w).sum().backward()
        want = np.ones((4, 1)) @ np.array([[0.5, -1.0, 2.0]])
        h0.data -= 0.1
        np.testing.assert_array_equal(w.grad, want)


@both
def test_a_lookup_gradient_keeps_no_live_view_of_its_ids(fast):
    with tg.fast_paths(fast):
        table = Tensor(np.zeros((5, 2)), requires_grad=True)
        ids = np.array([1, 3])
        table[ids].sum().backward()
        ids[:] = [0, 0]  # the caller reuses its buffer
        np.testing.assert_array_equal(table.grad, [[0, 0], [1, 1], [0, 0], [1, 1], [0, 0]])


@both
def test_micro_batches_through_one_input_buffer_accumulate_correctly(fast):
    """Gradient accumulation with nn.Linear (few rows: the deferred form) over a reused buffer."""
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((2, 5)) for _ in range(3)]
    with tg.fast_paths(fast):
        layer = Linear(5, 7, seed=0)
        buffer = Tensor(np.empty((2, 5)))
        for batch in batches:
            buffer.copy_(batch)
            layer(buffer).tanh().sum().backward()
    ref = Linear(5, 7, seed=0)
    want_w = sum((1 - np.tanh(b @ ref.weight.data.T + ref.bias.data) ** 2).T @ b for b in batches)
    np.testing.assert_allclose(layer.weight.grad, want_w, rtol=1e-12)


def _rnn_with_learned_h0(read_grad_before_step: bool, fast: bool, steps: int = 3):
    """One Adam step on a tiny RNN whose initial state is a parameter; returns every weight after."""
    rng = np.random.default_rng(1)
    w_hh0, w_ih0, h00 = rng.standard_normal((4, 4)) * 0.5, rng.standard_normal((4, 3)) * 0.5, rng.standard_normal(4)
    xs = rng.standard_normal((steps, 3))
    with tg.fast_paths(fast):
        w_hh, w_ih, h0 = (Tensor(a.copy(), requires_grad=True) for a in (w_hh0, w_ih0, h00))
        opt = Adam([h0, w_hh, w_ih], lr=0.1)  # h0 first: its update lands before W_hh's
        h = h0[None]
        loss = 0
        for t in range(steps):
            h = F.linear(h, w_hh, F.linear(Tensor(xs[t:t + 1]), w_ih), activation="tanh")
            loss = loss + (h * h).sum()
        loss.backward()
        if read_grad_before_step:
            _ = [p.grad for p in (h0, w_hh, w_ih)]
        opt.step()
        return [p.data.copy() for p in (h0, w_hh, w_ih)], (w_hh0, w_ih0, h00, xs)


def _numpy_rnn_adam_step(w_hh, w_ih, h0, xs, lr=0.1):
    """An independent transcription: hand-derived BPTT of sum_t |h_t|², then one Adam step."""
    hs = [h0]
    for x in xs:
        hs.append(np.tanh(w_hh @ hs[-1] + w_ih @ x))
    g_hh, g_ih, dh = np.zeros_like(w_hh), np.zeros_like(w_ih), np.zeros_like(h0)
    for t in range(len(xs), 0, -1):
        dh = dh + 2 * hs[t]
        dz = dh * (1 - hs[t] ** 2)
        g_hh += np.outer(dz, hs[t - 1])
        g_ih += np.outer(dz, xs[t - 1])
        dh = w_hh.T @ dz
    out = []
    for p, g in ((h0, dh), (w_hh, g_hh), (w_ih, g_ih)):
        m, v = 0.1 * g, 0.001 * g * g
        out.append(p - lr * (m / 0.1) / (np.sqrt(v / 0.001) + 1e-8))
    return out


@both
@pytest.mark.parametrize("read_first", [False, True])
def test_learned_initial_state_with_adam_matches_a_transcription(fast, read_first):
    got, (w_hh, w_ih, h0, xs) = _rnn_with_learned_h0(read_first, fast)
    for g, w in zip(got, _numpy_rnn_adam_step(w_hh, w_ih, h0, xs)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_learned_initial_state_with_adam_matches_pytorch():
    torch = pytest.importorskip("torch")
    got, (w_hh, w_ih, h0, xs) = _rnn_with_learned_h0(False, True)
    params = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (h0, w_hh, w_ih)]
    opt = torch.optim.Adam(params, lr=0.1)
    h, loss = params[0][None], 0
    for t in range(len(xs)):
        h = torch.tanh(h @ params[1].T + torch.tensor(xs[t:t + 1]) @ params[2].T)
        loss = loss + (h * h).sum()
    loss.backward()
    opt.step()
    for g, p in zip(got, params):
        np.testing.assert_allclose(g, p.detach().numpy(), rtol=1e-12, atol=1e-14)


@both
def test_sgd_on_a_lookup_gradient_reads_the_gradient_of_the_forward(fast):
    """SGD applies the deferred form directly; the update must equal the dense one."""
    with tg.fast_paths(fast):
        emb = Tensor(np.arange(12.0).reshape(6, 2), requires_grad=True)
        w = Tensor(np.ones((3, 2)), requires_grad=True)
        ids = np.array([4, 1, 4])
        F.linear(emb[ids], w).sum().backward()
        SGD([emb, w], lr=0.5).step()
    want = np.arange(12.0).reshape(6, 2)
    want[1] -= 0.5 * 3
    want[4] -= 0.5 * 6
    np.testing.assert_array_equal(emb.data, want)
    np.testing.assert_array_equal(w.data, 1 - 0.5 * np.array([[8.0 + 2 + 8, 9.0 + 3 + 9]] * 3))


@both
def test_retained_graph_gives_the_same_gradient_twice(fast):
    """cross_entropy consumes its saved probabilities; with retain_graph it gets a copy."""
    with tg.fast_paths(fast):
        logits = Tensor(np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]]), requires_grad=True)
        loss = F.cross_entropy(logits, np.array([2, 0]))
        loss.backward(retain_graph=True)
        first = logits.grad.copy()
        loss.backward()
    np.testing.assert_allclose(logits.grad, 2 * first, rtol=1e-15)


def test_backward_grad_argument_is_not_kept():
    x = Tensor(np.zeros(3), requires_grad=True)
    seed = np.ones(3)
    (x * 1.0).backward(seed)
    x.grad += 1
    np.testing.assert_array_equal(seed, 1)


def test_an_array_a_custom_backward_keeps_is_copied_into_grad():
    """A Function that breaks the contract (returns an array it keeps) cannot alias a leaf's grad."""
    kept = np.ones(3)

    class Leaky(tg.Function):
        def forward(self, x):
            return x * 1

        def backward(self, grad):
            return (kept,)

    x = Tensor(np.zeros(3), requires_grad=True)
    Leaky.apply(x).sum().backward()
    x.grad[...] = 7
    np.testing.assert_array_equal(kept, 1)


@both
def test_create_graph_grad_does_not_alias_the_recorded_graph(fast):
    with tg.fast_paths(fast):
        x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
        y = (x ** 3).sum()
        y.backward(create_graph=True)
        x.grad[...] = 0  # must not change what the recorded backward saved
        (g,) = tg.grad(y, x, create_graph=True)
        (h,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)


@both
def test_a_custom_lookup_through_scatter_add_dispatch_keeps_no_live_view_of_its_ids(fast):
    """A Function that follows the contract (docs/adding_an_op.md) gets a gradient it owns, too."""

    class Lookup(tg.Function):
        def forward(self, w, ids):
            self.shape = w.shape
            self.save_for_backward(ids)
            return w[ids]

        def backward(self, grad, ids):
            return tg.ops.ScatterAdd.dispatch(grad, index=ids, shape=self.shape), None

    with tg.fast_paths(fast):
        w = Tensor(np.zeros((4, 2)), requires_grad=True)
        buffer = np.array([0, 1])
        Lookup.apply(w, buffer).sum().backward()
        buffer[:] = [2, 3]
        np.testing.assert_array_equal(w.grad, [[1, 1], [1, 1], [0, 0], [0, 0]])


@both
def test_a_consuming_vjp_never_overwrites_an_input_it_saved(fast):
    class Double(tg.Function):
        consumes = (0,)
        once_differentiable = True

        def forward(self, x):
            self.save_for_backward(x)
            return x * 2

        def backward(self, grad, buf):
            return (np.multiply(grad, 2, out=buf),)  # uses its saved array as the result's memory

    with tg.fast_paths(fast):
        x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        Double.apply(x).sum().backward()
    np.testing.assert_array_equal(x.data, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


@both
def test_a_float32_weight_of_a_float64_product_gets_the_dense_paths_gradient(fast):
    """The deferred product is taken in the factors' precision and cast after, as the dense one is."""
    with tg.fast_paths(fast):
        w = Tensor(np.ones((40, 30), np.float32), requires_grad=True)
        (F.linear(Tensor(np.full((1, 30), 1e20)), w) * 1e-46).sum().backward()
    np.testing.assert_allclose(w.grad, np.full((40, 30), 1e-26, np.float32), rtol=1e-6)
