"""RNNCell and RNN: against a numpy transcription, PyTorch, one-hot inputs and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, nn
from tinygrad_rnn.testing.strategies import seeds

from torch_compare import assert_matches_torch, flat

ACTIVATIONS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0.0)}


def rnn_cell_numpy(p, x, h, f, sfx=""):
    """h' = f(W_ih x + b_ih + W_hh h + b_hh), the biases only when there are any."""
    z = x @ p["weight_ih" + sfx].T + h @ p["weight_hh" + sfx].T
    if "bias_ih" + sfx in p:
        z = z + p["bias_ih" + sfx] + p["bias_hh" + sfx]
    return f(z)


def rnn_numpy(p, x, h0, num_layers, bidirectional, f):
    """The stacked, maybe bidirectional Elman recurrence step by step: x (B, T, I), h0 (L·D, B, H)."""
    directions = 2 if bidirectional else 1
    steps = x.shape[1]
    finals = []
    for layer in range(num_layers):
        outs = []
        for d in range(directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            h = h0[layer * directions + d]
            out = np.zeros(x.shape[:2] + h.shape[-1:])
            for t in (reversed(range(steps)) if d else range(steps)):
                h = rnn_cell_numpy(p, x[:, t], h, f, sfx)
                out[:, t] = h
            outs.append(out)
            finals.append(h)
        x = np.concatenate(outs, axis=-1)
    return x, np.stack(finals)


# --- against the equations ----------------------------------------------------------------


@given(nonlinearity=st.sampled_from(["tanh", "relu"]), num_layers=st.integers(1, 2), bidirectional=st.booleans(),
       bias=st.booleans(), with_h0=st.booleans(), batch=st.integers(1, 3), steps=st.integers(1, 4), seed=seeds)
def test_rnn_matches_numpy_batch_first_or_not_and_unbatched(nonlinearity, num_layers, bidirectional, bias, with_h0,
                                                             batch, steps, seed):
    rnn = nn.RNN(3, 4, num_layers, nonlinearity, bias, bidirectional=bidirectional, seed=seed % 1000)
    layers = num_layers * (2 if bidirectional else 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, steps, 3))
    h0 = rng.standard_normal((layers, batch, 4)) if with_h0 else None
    out, h_n = rnn(x, h0)
    want_out, want_h_n = rnn_numpy(rnn.state_dict(), x, np.zeros((layers, batch, 4)) if h0 is None else h0,
                                   num_layers, bidirectional, ACTIVATIONS[nonlinearity])
    assert out.shape == (batch, steps, 4 * (2 if bidirectional else 1)) and h_n.shape == (layers, batch, 4)
    np.testing.assert_allclose(out.data, want_out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n.data, want_h_n, rtol=0, atol=1e-12)

    time_first = nn.RNN(3, 4, num_layers, nonlinearity, bias, batch_first=False, bidirectional=bidirectional)
    time_first.load_state_dict(rnn.state_dict())
    out_tf, h_n_tf = time_first(x.transpose(1, 0, 2), h0)
    np.testing.assert_allclose(out_tf.data.transpose(1, 0, 2), want_out, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n_tf.data, want_h_n, rtol=0, atol=1e-12)

    one, h_one = rnn(x[0], None if h0 is None else h0[:, 0])  # unbatched: (T, I) and h0 (L·D, H)
    assert one.shape == out.shape[1:] and h_one.shape == (layers, 4)
    np.testing.assert_allclose(one.data, want_out[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_one.data, want_h_n[:, 0], rtol=0, atol=1e-12)


@given(nonlinearity=st.sampled_from(["tanh", "relu"]), bias=st.booleans(), batched=st.booleans(),
       with_h=st.booleans(), seed=seeds)
def test_rnn_cell_matches_numpy(nonlinearity, bias, batched, with_h, seed):
    cell = nn.RNNCell(3, 4, bias, nonlinearity, seed=seed % 1000)
    rng = np.random.default_rng(seed)
    lead = (2,) if batched else ()
    x, h = rng.standard_normal(lead + (3,)), rng.standard_normal(lead + (4,))
    got = cell(x, h if with_h else None)
    want = rnn_cell_numpy(cell.state_dict(), x, h if with_h else 0 * h, ACTIVATIONS[nonlinearity])
    assert got.shape == lead + (4,)
    np.testing.assert_allclose(got.data, want, rtol=0, atol=1e-12)


def test_one_layer_is_the_cell_unrolled():
    rnn, cell = nn.RNN(3, 4, nonlinearity="relu", seed=0), nn.RNNCell(3, 4, nonlinearity="relu")
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in rnn.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    out, h_n = rnn(x)
    h = None
    for t in range(5):
        h = cell(x[:, t], h)
        np.testing.assert_allclose(out.data[:, t], h.data, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(h_n.data[0], h.data)


# --- names, arguments, initialisation -----------------------------------------------------


def test_names_shapes_and_argument_order_are_pytorchs():
    rnn = nn.RNN(3, 4, 2, "relu", False, False, 0.0, True)  # positionally, as torch.nn.RNN's signature
    assert (rnn.num_layers, rnn.nonlinearity, rnn.bias, rnn.batch_first, rnn.bidirectional) == (2, "relu", False,
                                                                                                 False, True)
    assert list(rnn.state_dict()) == ["weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                                      "weight_ih_l1", "weight_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse"]
    assert rnn.weight_ih_l0.shape == (4, 3) and rnn.weight_ih_l1.shape == (4, 8) and rnn.weight_hh_l1.shape == (4, 4)
    cell = nn.RNNCell(3, 4, False, "relu")  # torch.nn.RNNCell's order: bias before nonlinearity
    assert (cell.bias_ih, cell.bias_hh, cell.nonlinearity) == (None, None, "relu")
    assert list(nn.RNNCell(3, 4).state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert not hasattr(nn.RNN(3, 4), "weight_ih")  # the old, suffix-less names are gone


def test_init_is_uniform_within_one_over_sqrt_hidden_and_seeded():
    a, b = nn.RNN(3, 16, num_layers=2, bidirectional=True, seed=5), nn.RNN(3, 16, num_layers=2, bidirectional=True,
                                                                           seed=5)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert np.abs(p.data).max() <= 0.25 and np.array_equal(p.data, q.data), name
    assert not np.array_equal(a.bias_ih_l0.data, a.bias_hh_l0.data)  # two biases, drawn separately


# --- against PyTorch ----------------------------------------------------------------------

TORCH_CASES = {
    "cell tanh": ("RNNCell", {}, (2, 3), (2, 4)),
    "cell relu no bias": ("RNNCell", {"nonlinearity": "relu", "bias": False}, (2, 3), (2, 4)),
    "cell unbatched": ("RNNCell", {}, (3,), (4,)),
    "1 layer tanh": ("RNN", {"batch_first": True}, (2, 5, 3), (1, 2, 4)),
    "2 layers bidirectional relu": ("RNN", {"num_layers": 2, "bidirectional": True, "nonlinearity": "relu",
                                            "batch_first": True}, (2, 5, 3), (4, 2, 4)),
    "time first no bias": ("RNN", {"num_layers": 2, "bias": False, "batch_first": False}, (5, 2, 3), (2, 2, 4)),
    "unbatched bidirectional": ("RNN", {"bidirectional": True, "batch_first": True}, (5, 3), (2, 4)),
}


@pytest.mark.parametrize("case", TORCH_CASES)
def test_matches_torch_outputs_h_n_and_every_gradient(case):
    torch = pytest.importorskip("torch")
    kind, options, x_shape, h_shape = TORCH_CASES[case]
    ours = getattr(nn, kind)(3, 4, seed=0, **options)
    theirs = getattr(torch.nn, kind)(3, 4, dtype=torch.float64, **options)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(3)
    x, h = Tensor(rng.standard_normal(x_shape), requires_grad=True), Tensor(rng.standard_normal(h_shape),
                                                                            requires_grad=True)
    tx, th = (torch.from_numpy(t.data.copy()).requires_grad_() for t in (x, h))
    assert_matches_torch(ours, theirs, ours(x, h), theirs(tx, th), rng, inputs=[(x, tx), (h, th)])


def test_padded_batch_matches_torch_packed_sequence():
    torch = pytest.importorskip("torch")
    model = nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True, seed=0)
    theirs = torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bidirectional=True, batch_first=True,
                          dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    lengths = [4, 2, 3]
    x = np.random.default_rng(1).standard_normal((3, 4, 3))
    out, h_n = model(x, mask=np.arange(4)[None, :] < np.array(lengths)[:, None])
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), lengths, batch_first=True,
                                                     enforce_sorted=False)
    t_out, t_h = theirs(packed)
    t_out, _ = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n.data, t_h.detach().numpy(), rtol=0, atol=1e-12)


# --- integer ids: the product with a one-hot vector -----------------------------------------

LAYERS = {"RNN": nn.RNN, "GRU": nn.GRU, "LSTM": nn.LSTM}
CELLS = {"RNNCell": nn.RNNCell, "GRUCell": nn.GRUCell, "LSTMCell": nn.LSTMCell}


def _same_results_and_gradients(model, ids, vocab):
    """model(ids) and model(one_hot(ids)) agree, and so do the parameters' gradients."""
    results = []
    for x in (ids, Tensor(np.eye(vocab)[ids])):
        model.zero_grad()
        outs = flat(model(x))
        weights = [np.random.default_rng(0).standard_normal(t.shape) for t in outs]
        sum(((t * w).sum() for t, w in zip(outs, weights)), Tensor(0.0)).backward()
        results.append(([t.data for t in outs], [p.grad.copy() for p in model.parameters()]))
    (outs, grads), (dense_outs, dense_grads) = results
    for a, b in zip(outs + grads, dense_outs + dense_grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    return outs


@pytest.mark.parametrize("kind", LAYERS)
@given(batch=st.integers(1, 3), steps=st.integers(1, 4), batch_first=st.booleans(), seed=seeds)
def test_layer_on_ids_equals_one_hot_inputs(kind, batch, steps, batch_first, seed):
    model = LAYERS[kind](6, 3, num_layers=2, bidirectional=True, batch_first=batch_first, seed=seed % 1000)
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 6, (batch, steps) if batch_first else (steps, batch))
    outs = _same_results_and_gradients(model, ids, 6)
    assert outs[0].shape == ids.shape + (6,)
    _same_results_and_gradients(model, rng.integers(0, 6, steps), 6)  # unbatched: ids (T,)


@pytest.mark.parametrize("kind", CELLS)
def test_cell_on_ids_equals_one_hot_inputs(kind):
    cell = CELLS[kind](6, 3, seed=0)
    assert _same_results_and_gradients(cell, np.array([5, 0, 5, 2]), 6)[0].shape == (4, 3)
    assert _same_results_and_gradients(cell, np.array(4), 6)[0].shape == (3,)  # one id, unbatched
    h = np.random.default_rng(0).standard_normal((2, 3))
    state = h if kind != "LSTMCell" else (h, h[::-1])
    for a, b in zip(flat(cell(np.array([1, 4]), state)), flat(cell(np.eye(6)[[1, 4]], state))):
        np.testing.assert_allclose(a.data, b.data, rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: nn.RNN(6, 3), lambda: nn.GRU(6, 3, num_layers=2), lambda: nn.LSTM(6, 3),
                                  lambda: nn.RNNCell(6, 3), lambda: nn.GRUCell(6, 3), lambda: nn.LSTMCell(6, 3)],
                         ids=["RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell"])
def test_bad_ids_are_a_clear_index_error(make):
    model = make()
    name = type(model).__name__
    lead = (2,) if name.endswith("Cell") else (2, 3)
    for bad in (6, -1):
        ids = np.zeros(lead, np.int64)
        ids.flat[-1] = bad
        with pytest.raises(IndexError, match=rf"{name}: token id {bad} is out of range for a vocabulary of size 6"):
            model(ids)
    with pytest.raises(ValueError, match=rf"{name}: ids have shape \(2, 2, 2, 2\), expected .* without the input"):
        model(np.zeros((2, 2, 2, 2), np.int64))


def test_ids_of_any_integer_dtype_agree_and_outputs_follow_the_weights_dtype():
    ids = np.array([[0, 5, 2], [3, 3, 1]])
    rnn = nn.RNN(6, 3, seed=0)
    want = rnn(ids)[0].data
    for dtype in (np.int32, np.uint8, np.int16):
        np.testing.assert_array_equal(rnn(ids.astype(dtype))[0].data, want)
    np.testing.assert_array_equal(rnn(Tensor(ids))[0].data, want)  # an integer Tensor is ids too
    single = nn.RNN(6, 3, dtype=np.float32, seed=0)
    out, h_n = single(ids)
    assert out.dtype == np.float32 and h_n.dtype == np.float32
    # float values are vectors, never ids: (2, 3) floats is one sequence of 2 steps of width 3, not 6
    with pytest.raises(ValueError, match=r"RNN: input has shape \(2, 3\), expected \(batch, time, 6\)"):
        rnn(ids.astype(np.float64))
    with pytest.raises(ValueError, match=r"RNNCell: input has shape \(2,\), expected \(batch, 6\)"):
        nn.RNNCell(6, 3)(np.array([1.0, 2.0]))


# --- masks --------------------------------------------------------------------------------


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_padded_batch_ends_in_each_sequences_own_state(nonlinearity):
    model = nn.RNN(3, 4, num_layers=2, nonlinearity=nonlinearity, bidirectional=True, seed=2)
    lengths = [4, 2, 3]
    x = np.random.default_rng(1).standard_normal((3, 4, 3))  # padding holds garbage, not zeros
    mask = np.arange(4)[None, :] < np.array(lengths)[:, None]
    h0 = np.random.default_rng(2).standard_normal((4, 3, 4))
    out, h_n = model(x, h0, mask=mask)
    for b, n in enumerate(lengths):
        alone_out, alone_h_n = model(x[b:b + 1, :n], h0[:, b:b + 1])
        np.testing.assert_allclose(out.data[b, :n], alone_out.data[0], rtol=0, atol=1e-12)
        np.testing.assert_array_equal(out.data[b, n:], 0.0)
        np.testing.assert_allclose(h_n.data[:, b], alone_h_n.data[:, 0], rtol=0, atol=1e-12)
    one, h_one = model(x[1], h0[:, 1], mask=mask[1])  # unbatched, mask (T,)
    np.testing.assert_allclose(one.data, out.data[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_one.data, h_n.data[:, 1], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"RNN: mask must be booleans of shape \(batch, time\) = \(3, 4\)"):
        model(x, mask=mask[:, :3])
    with pytest.raises(ValueError, match="RNN: mask must be booleans"):
        model(x, mask=mask.astype(int))


# --- finite differences -------------------------------------------------------------------


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck_every_element_with_mask_and_h0(nonlinearity):
    model = nn.RNN(2, 3, num_layers=2, nonlinearity=nonlinearity, bidirectional=True, seed=0)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    mask = np.array([[True, True, True], [True, True, False]])

    def loss():
        out, h_n = model(x, h0, mask=mask)
        return (out ** 2).sum() + (h_n ** 3).sum()

    assert tg.gradcheck_model(model, loss, fast=False)
    assert tg.gradcheck(lambda x, h0: model(x, h0, mask=mask)[0], [x, h0])


def test_gradcheck_on_ids_reaches_the_looked_up_columns():
    model = nn.RNN(5, 3, num_layers=2, seed=1)
    ids = np.array([[4, 0, 4], [1, 2, 0]])
    assert tg.gradcheck_model(model, lambda: (model(ids)[0] ** 2).sum(), fast=False)
    model(ids)[0].sum().backward()
    np.testing.assert_array_equal(model.weight_ih_l0.grad[:, 3], 0.0)  # id 3 never appears


def test_second_order():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    h0 = Tensor(rng.standard_normal((2, 2, 2)), requires_grad=True)
    rnn = nn.RNN(2, 2, bidirectional=True, seed=1)
    assert tg.gradgradcheck(lambda x, h0, *_: rnn(x, h0)[0], [x, h0, *rnn.parameters()])
    cell = nn.RNNCell(2, 2, seed=2)
    xc, hc = x[:, 0].detach().requires_grad_(), h0[0].detach().requires_grad_()
    assert tg.gradgradcheck(lambda x, h, *_: cell(x, h), [xc, hc, *cell.parameters()])
    assert tg.gradcheck_model(cell, lambda: (cell(xc, hc) ** 2).sum(), fast=False)


# --- errors -------------------------------------------------------------------------------


def test_errors_name_the_layer_and_what_was_expected():
    for make, name in ((lambda: nn.RNN(3, 4, nonlinearity="gelu"), "RNN"),
                       (lambda: nn.RNNCell(3, 4, nonlinearity="sigmoid"), "RNNCell")):
        with pytest.raises(ValueError, match=rf"{name}: nonlinearity must be 'tanh' or 'relu', got '"):
            make()
    rnn, cell = nn.RNN(3, 4), nn.RNNCell(3, 4)
    x = np.zeros((2, 5, 3))
    with pytest.raises(ValueError, match=r"RNN: input has shape \(2, 5, 2\), expected \(batch, time, 3\)"):
        rnn(x[..., :2])
    with pytest.raises(ValueError, match=r"RNN: input has shape \(5, 2, 2\), expected \(time, batch, 3\)"):
        nn.RNN(3, 4, batch_first=False)(np.zeros((5, 2, 2)))
    with pytest.raises(ValueError, match=r"RNN: h0 has shape \(2, 4\), expected \(1, 2, 4\)"):
        rnn(x, np.zeros((2, 4)))  # the old (B, H) initial state
    with pytest.raises(ValueError, match=r"RNN: input has shape \(2, 0, 3\), with no time steps"):
        rnn(x[:, :0])
    with pytest.raises(ValueError, match=r"RNNCell: input has shape \(2, 5\), expected \(batch, 3\)"):
        cell(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"RNNCell: h has shape \(2, 3\), expected \(2, 4\)"):
        cell(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="RNN: num_layers must be positive, got 0"):
        nn.RNN(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"RNN: dropout must be in \[0, 1\), got 1"):
        nn.RNN(3, 4, dropout=1)
    with pytest.raises(ValueError, match="RNNCell: sizes must be positive, got input 0, hidden 4"):
        nn.RNNCell(0, 4)


def test_dropout_between_layers_in_training_only():
    model = nn.RNN(3, 4, num_layers=2, dropout=0.5, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    assert not np.array_equal(model(x)[0].data, model(x)[0].data)
    model.eval()
    np.testing.assert_array_equal(model(x)[0].data, nn.RNN(3, 4, num_layers=2, seed=0)(x)[0].data)
