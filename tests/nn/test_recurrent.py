"""GRUCell, LSTMCell, GRU, LSTM: against PyTorch (when installed), a numpy transcription, finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn

from torch_compare import assert_matches_torch


def sig(v):
    return 1 / (1 + np.exp(-v))


def gru_cell_numpy(p, x, state, sfx=""):
    (h,) = state
    gx = x @ p["weight_ih" + sfx].T + p["bias_ih" + sfx]
    gh = h @ p["weight_hh" + sfx].T + p["bias_hh" + sfx]
    xr, xz, xn = np.split(gx, 3, axis=-1)
    hr, hz, hn = np.split(gh, 3, axis=-1)
    r, z = sig(xr + hr), sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return ((1 - z) * n + z * h,)


def lstm_cell_numpy(p, x, state, sfx=""):
    h, c = state
    gates = x @ p["weight_ih" + sfx].T + p["bias_ih" + sfx] + h @ p["weight_hh" + sfx].T + p["bias_hh" + sfx]
    i, f, g, o = np.split(gates, 4, axis=-1)
    c = sig(f) * c + sig(i) * np.tanh(g)
    return sig(o) * np.tanh(c), c


def stacked_numpy(cell, p, x, num_layers, bidirectional, hidden, n_states):
    """The multi-layer, maybe bidirectional recurrence, written out step by step (batch first)."""
    batch, steps = x.shape[:2]
    finals = []
    for layer in range(num_layers):
        outs = []
        for d in range(2 if bidirectional else 1):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            state = tuple(np.zeros((batch, hidden)) for _ in range(n_states))
            out = np.zeros((batch, steps, hidden))
            for t in (reversed(range(steps)) if d else range(steps)):
                state = cell(p, x[:, t], state, sfx)
                out[:, t] = state[0]
            outs.append(out)
            finals.append(state)
        x = np.concatenate(outs, axis=-1)
    return x, [np.stack([f[k] for f in finals]) for k in range(n_states)]


KINDS = {"GRU": (nn.GRU, gru_cell_numpy, 1), "LSTM": (nn.LSTM, lstm_cell_numpy, 2)}


def _states(kind, result):
    out, last = result
    return out, ([last] if kind == "GRU" else list(last))


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
@pytest.mark.parametrize("num_layers,bidirectional", [(1, False), (2, True)])
def test_layer_matches_numpy(kind, num_layers, bidirectional):
    cls, cell, n_states = KINDS[kind]
    model = cls(3, 4, num_layers=num_layers, bidirectional=bidirectional, seed=1)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    out, last = _states(kind, model(x))
    want_out, want_last = stacked_numpy(cell, model.state_dict(), x, num_layers, bidirectional, 4, n_states)
    np.testing.assert_allclose(out.data, want_out, atol=1e-12)
    assert out.shape == (2, 5, 4 * (2 if bidirectional else 1))
    for got, want in zip(last, want_last):
        assert got.shape == (num_layers * (2 if bidirectional else 1), 2, 4)
        np.testing.assert_allclose(got.data, want, atol=1e-12)


def test_cells_match_numpy_and_start_from_zeros():
    rng = np.random.default_rng(0)
    x, h, c = rng.standard_normal((2, 3)), rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    gru, lstm = nn.GRUCell(3, 4, seed=0), nn.LSTMCell(3, 4, seed=0)
    assert gru.weight_ih.shape == (12, 3) and lstm.weight_hh.shape == (16, 4) and lstm.bias_ih.shape == (16,)
    np.testing.assert_allclose(gru(x, h).data, gru_cell_numpy(gru.state_dict(), x, (h,))[0], atol=1e-12)
    np.testing.assert_allclose(gru(x).data, gru_cell_numpy(gru.state_dict(), x, (0 * h,))[0], atol=1e-12)
    for got, want in zip(lstm(x, (h, c)), lstm_cell_numpy(lstm.state_dict(), x, (h, c))):
        np.testing.assert_allclose(got.data, want, atol=1e-12)
    for got, want in zip(lstm(x[0]), lstm_cell_numpy(lstm.state_dict(), x[0], (0 * h[0], 0 * c[0]))):
        np.testing.assert_allclose(got.data, want, atol=1e-12)
    with pytest.raises(ValueError, match=r"GRUCell: input has shape \(2, 5\), expected \(batch, 3\)"):
        gru(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"LSTMCell: c has shape \(2, 3\), expected \(2, 4\)"):
        lstm(x, (h, np.zeros((2, 3))))


@pytest.mark.parametrize("make", [lambda: nn.RNNCell(3, 4, "relu"), lambda: nn.RNN(3, 4, "relu"),
                                  lambda: nn.GRU(3, 4, 2, "x"), lambda: nn.LSTMCell(3, 4, 0)])
def test_arguments_out_of_pytorchs_order_are_refused_not_misread(make):
    with pytest.raises(TypeError, match="the order is PyTorch's: pass nonlinearity= by name"):
        make()


def test_init_is_uniform_within_one_over_sqrt_hidden_and_seeded():
    a, b = nn.LSTM(3, 16, num_layers=2, seed=5), nn.LSTM(3, 16, num_layers=2, seed=5)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert np.abs(p.data).max() <= 0.25 and np.array_equal(p.data, q.data), name
    assert not nn.GRU(3, 4, bias=False).state_dict().keys() & {"bias_ih_l0", "bias_hh_l0"}


@pytest.mark.parametrize("kind", ["GRUCell", "LSTMCell", "GRU", "LSTM"])
def test_matches_torch_outputs_states_and_gradients(kind):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    if kind.endswith("Cell"):
        ours = getattr(nn, kind)(3, 4, seed=0)
        theirs = getattr(torch.nn, kind)(3, 4, dtype=torch.float64)
        x = rng.standard_normal((2, 3))
        state = rng.standard_normal((2, 4)) if kind == "GRUCell" else tuple(rng.standard_normal((2, 2, 4)))
    else:
        ours = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, seed=0)
        theirs = getattr(torch.nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True,
                                         dtype=torch.float64)
        x = rng.standard_normal((2, 5, 3))
        state = rng.standard_normal((4, 2, 4)) if kind == "GRU" else tuple(rng.standard_normal((2, 4, 2, 4)))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    as_torch = (torch.from_numpy(state) if isinstance(state, np.ndarray)
                else tuple(torch.from_numpy(s) for s in state))
    ours_out = ours(Tensor(x), state if isinstance(state, np.ndarray) else tuple(state))
    assert_matches_torch(ours, theirs, ours_out, theirs(torch.from_numpy(x), as_torch), np.random.default_rng(7))


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_padded_batch_ends_in_each_sequences_own_state(kind):
    cls, _, _ = KINDS[kind]
    model = cls(3, 4, num_layers=2, bidirectional=True, seed=2)
    lengths = [4, 2, 3]
    x = np.random.default_rng(1).standard_normal((3, 4, 3))  # padding holds garbage, not zeros
    mask = np.arange(4)[None, :] < np.array(lengths)[:, None]
    out, last = _states(kind, model(x, mask=mask))
    for b, n in enumerate(lengths):
        alone_out, alone_last = _states(kind, model(x[b:b + 1, :n]))
        np.testing.assert_allclose(out.data[b, :n], alone_out.data[0], atol=1e-12)
        np.testing.assert_array_equal(out.data[b, n:], 0.0)
        for got, want in zip(last, alone_last):
            np.testing.assert_allclose(got.data[:, b], want.data[:, 0], atol=1e-12)
    with pytest.raises(ValueError, match=r"mask must be booleans of shape \(batch, time\) = \(3, 4\)"):
        model(x, mask=mask[:, :3])


def test_padded_batch_matches_torch_packed_sequence():
    torch = pytest.importorskip("torch")
    model = nn.GRU(3, 4, bidirectional=True, seed=0)
    theirs = torch.nn.GRU(3, 4, bidirectional=True, batch_first=True, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    lengths = [4, 2, 3]
    x = np.random.default_rng(1).standard_normal((3, 4, 3))
    mask = np.arange(4)[None, :] < np.array(lengths)[:, None]
    out, h_n = model(x, mask=mask)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), lengths, batch_first=True,
                                                     enforce_sorted=False)
    t_out, t_h = theirs(packed)
    t_out, _ = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(h_n.data, t_h.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_gradcheck_every_element_and_second_order(kind):
    cls, _, _ = KINDS[kind]
    model = cls(2, 2, num_layers=2, bidirectional=True, seed=0)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 2)), requires_grad=True)
    mask = np.array([[True, True, True], [True, True, False]])

    def loss():
        out, last = _states(kind, model(x, mask=mask))
        return (out ** 2).sum() + sum((s ** 2).sum() for s in last)

    assert tg.gradcheck_model(model, loss, fast=False)
    small = cls(2, 2, seed=1)
    w = [small.weight_ih_l0, small.weight_hh_l0]
    assert tg.gradgradcheck(lambda xs, *_: small(xs)[0], [x, *w])


def test_cells_gradcheck_to_second_order():
    rng = np.random.default_rng(0)
    x, h, c = (Tensor(rng.standard_normal((2, 3)), requires_grad=True) for _ in range(3))
    gru, lstm = nn.GRUCell(3, 3, seed=0), nn.LSTMCell(3, 3, seed=0)
    assert tg.gradcheck_model(gru, lambda: (gru(x, h) ** 2).sum(), fast=False)
    assert tg.gradcheck_model(lstm, lambda: (lstm(x, (h, c))[1] ** 2).sum(), fast=False)
    assert tg.gradgradcheck(lambda x, h: gru(x, h), [x, h])
    assert tg.gradgradcheck(lambda x, h, c: _h_times_c(lstm(x, (h, c))), [x, h, c])


def _h_times_c(state):  # both outputs of the cell in one tensor
    return state[0] * state[1]


def test_dropout_between_layers_in_training_only():
    model = nn.GRU(3, 4, num_layers=2, dropout=0.5, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    a, b = model(x)[0].data, model(x)[0].data
    assert not np.array_equal(a, b)
    model.eval()
    a, b = model(x)[0].data, model(x)[0].data
    assert np.array_equal(a, b)
    assert np.array_equal(nn.GRU(3, 4, num_layers=2, seed=0).eval()(x)[0].data, a)
    single = nn.GRU(3, 4, dropout=0.5, seed=0)  # one layer: nothing between layers, nothing dropped
    assert np.array_equal(single(x)[0].data, single(x)[0].data)


def test_shapes_unbatched_time_first_and_errors():
    model = nn.LSTM(3, 4, num_layers=2, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    out, (h, c) = model(x)
    one, (h1, c1) = model(x[0])
    assert one.shape == (5, 4) and h1.shape == (2, 4)
    np.testing.assert_allclose(one.data, out.data[0], atol=1e-12)
    np.testing.assert_allclose(c1.data, c.data[:, 0], atol=1e-12)
    tf = nn.LSTM(3, 4, num_layers=2, batch_first=False, seed=0)
    out_tf, (h_tf, _) = tf(x.transpose(1, 0, 2), (h, c))
    assert out_tf.shape == (5, 2, 4)
    np.testing.assert_allclose(out_tf.data.transpose(1, 0, 2), model(x, (h, c))[0].data, atol=1e-12)
    with pytest.raises(ValueError, match=r"LSTM: input has shape \(2, 5, 2\), expected \(batch, time, 3\)"):
        model(x[..., :2])
    with pytest.raises(ValueError, match=r"LSTM: c0 has shape \(1, 2, 4\), expected \(2, 2, 4\)"):
        model(x, (h, c[:1]))
    with pytest.raises(ValueError, match="GRU: num_layers must be positive, got 0"):
        nn.GRU(3, 4, num_layers=0)


def test_parameters_are_registered_with_torch_names_and_no_plain_lists():
    model = nn.GRU(3, 4, num_layers=2, bidirectional=True)
    names = [n for n, _ in model.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert len(names) == 16 and names[-1] == "bias_hh_l1_reverse"
    assert model.weight_ih_l1.shape == (12, 8)
    model.load_state_dict(model.state_dict())  # a saved model loads back key for key

    class Stack(nn.Module):
        def __init__(self):
            self.layers = nn.ModuleList([nn.LSTM(3, 4, seed=0), nn.LSTM(4, 2, seed=1)])

    assert "layers.1.weight_hh_l0" in Stack().state_dict()
    with pytest.raises(TypeError, match="use nn.ModuleList"):
        Stack().plain = [nn.GRU(3, 4)]
