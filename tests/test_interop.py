"""Models move to PyTorch and back with the same outputs and exactly the same weights."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tinygrad_rnn import interop, nn
from tinygrad_rnn.models import RNNLM
from tinygrad_rnn.tensor import Tensor

RNG = np.random.default_rng(0)


def _np(x) -> np.ndarray:
    """A library Tensor or a torch tensor as a numpy array."""
    return x.data if isinstance(x, Tensor) else x.detach().cpu().numpy()


def _flat(out) -> list[np.ndarray]:
    """Every array in a nested output: (output, (h_n, c_n)) and the like."""
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _flat(o)]
    return [_np(out)]


def _same_outputs(ours, theirs, *args) -> None:
    import torch

    with torch.no_grad():
        got = theirs(*(torch.from_numpy(np.asarray(a)) for a in args))
    want = ours(*args)
    for a, b in zip(_flat(want), _flat(got), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def _same_state(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def _round_trip(module, *args):
    theirs = interop.to_torch(module)
    back = interop.from_torch(theirs)
    assert type(back) is type(module)
    _same_state(module.state_dict(), back.state_dict())
    _same_outputs(module, theirs, *args)
    _same_outputs(back, theirs, *args)
    return theirs, back


def _x(*shape):
    return RNG.standard_normal(shape)


CASES = {
    "linear": lambda: (nn.Linear(5, 3, seed=0), _x(4, 5)),
    "linear_no_bias": lambda: (nn.Linear(5, 3, bias=False, seed=0), _x(4, 5)),
    "embedding": lambda: (nn.Embedding(7, 3, seed=0), RNG.integers(0, 7, (2, 4))),
    "layernorm": lambda: (_randomised(nn.LayerNorm((3, 4))), _x(2, 3, 4)),
    "layernorm_plain": lambda: (nn.LayerNorm(4, elementwise_affine=False), _x(2, 4)),
    "rnn": lambda: (nn.RNN(5, 3, seed=0), _x(2, 6, 5)),
    "rnn_relu_no_bias": lambda: (nn.RNN(5, 3, nonlinearity="relu", bias=False, seed=0), _x(2, 6, 5)),
    "rnn_with_h0": lambda: (nn.RNN(5, 3, seed=0), _x(2, 6, 5), _x(1, 2, 3)),
    "rnn_2_layers_bidirectional_relu": lambda: (nn.RNN(5, 3, num_layers=2, nonlinearity="relu", bidirectional=True,
                                                       seed=0), _x(2, 6, 5), _x(4, 2, 3)),
    "rnn_time_first": lambda: (nn.RNN(5, 3, batch_first=False, seed=0), _x(6, 2, 5)),
    "rnn_unbatched_2_layers": lambda: (nn.RNN(5, 3, num_layers=2, seed=0), _x(6, 5), _x(2, 3)),
    "rnncell": lambda: (nn.RNNCell(5, 3, seed=0), _x(4, 5), _x(4, 3)),
    "rnncell_relu_no_bias": lambda: (nn.RNNCell(5, 3, bias=False, nonlinearity="relu", seed=0), _x(4, 5), _x(4, 3)),
    "gru_2_layers_bidirectional": lambda: (nn.GRU(5, 3, num_layers=2, bidirectional=True, seed=0), _x(2, 6, 5)),
    "lstm": lambda: (nn.LSTM(5, 3, seed=0), _x(2, 6, 5)),
    "lstm_2_layers_no_bias": lambda: (nn.LSTM(5, 3, num_layers=2, bias=False, seed=0), _x(2, 6, 5)),
    "grucell": lambda: (nn.GRUCell(5, 3, seed=0), _x(4, 5), _x(4, 3)),
    "lstmcell": lambda: (nn.LSTMCell(5, 3, seed=0), _x(4, 5)),
    "sequential": lambda: (nn.Sequential(nn.Linear(5, 4, seed=0), nn.LayerNorm(4), nn.Dropout(0.5),
                                         nn.Linear(4, 2, seed=1)).eval(), _x(3, 5)),
}


def _randomised(module):
    for p in module.parameters():
        p.data[...] = RNG.standard_normal(p.shape)
    return module


@pytest.mark.parametrize("name", CASES)
def test_round_trip_keeps_outputs_and_weights(name):
    pytest.importorskip("torch")
    module, *args = CASES[name]()
    _round_trip(module, *args)
    if name == "rnncell":  # the library cell starts from zeros when h is None, as torch's does
        _round_trip(module, args[0])


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_round_trip_keeps_the_torch_options(kind):
    pytest.importorskip("torch")
    extra = {"nonlinearity": "relu"} if kind == "RNN" else {}
    layer = getattr(nn, kind)(5, 3, num_layers=2, bidirectional=True, dropout=0.25, batch_first=False, bias=False,
                              seed=0, **extra)
    options = lambda m: (m.num_layers, m.bidirectional, m.dropout, m.batch_first, m.bias,
                         m.nonlinearity if kind == "RNN" else None)
    want = (2, True, 0.25, False, False, extra.get("nonlinearity"))
    theirs = interop.to_torch(layer)
    assert type(theirs).__name__ == kind and options(theirs) == want
    back = interop.from_torch(theirs)
    assert type(back) is type(layer) and options(back) == want
    assert list(theirs.state_dict()) == list(layer.state_dict())


def test_cells_keep_nonlinearity_and_bias():
    pytest.importorskip("torch")
    cell = nn.RNNCell(5, 3, bias=False, nonlinearity="relu")
    theirs = interop.to_torch(cell)
    assert (type(theirs).__name__, theirs.nonlinearity, theirs.bias) == ("RNNCell", "relu", False)
    back = interop.from_torch(theirs)
    assert (type(back), back.nonlinearity, back.bias_ih) == (nn.RNNCell, "relu", None)
    assert list(theirs.state_dict()) == list(cell.state_dict()) == ["weight_ih", "weight_hh"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtype_is_kept(dtype):
    torch = pytest.importorskip("torch")
    for module in (nn.Linear(3, 2, dtype=dtype), nn.LSTM(3, 2, num_layers=2, dtype=dtype), RNNLM(6, 3, dtype=dtype),
                   nn.RNN(3, 2, dtype=dtype), nn.RNNCell(3, 2, dtype=dtype), nn.Embedding(4, 2, dtype=dtype)):
        theirs = interop.to_torch(module)
        assert all(p.dtype == (torch.float32 if dtype == np.float32 else torch.float64) for p in theirs.parameters())
        back = interop.from_torch(theirs)
        _same_state(module.state_dict(), back.state_dict())


def test_float32_outputs_agree_to_float32_rounding():
    pytest.importorskip("torch")
    import torch

    lstm = nn.LSTM(5, 4, num_layers=2, dtype=np.float32, seed=0)
    x = _x(2, 6, 5).astype(np.float32)
    with torch.no_grad():
        got = interop.to_torch(lstm)(torch.from_numpy(x))[0].numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(lstm(x)[0].data, got, rtol=0, atol=1e-5)


def test_rnnlm_scores_and_loss_survive_the_round_trip():
    pytest.importorskip("torch")
    import torch

    model = RNNLM(word_dim=11, hidden_dim=4, bptt_truncate=2, seed=0)
    theirs = interop.to_torch(model)
    back = interop.from_torch(theirs)
    assert isinstance(back, RNNLM) and back.bptt_truncate == 2
    _same_state(model.state_dict(), back.state_dict())
    assert dict(theirs.named_parameters()).keys() == {"rnn.weight_ih_l0", "rnn.weight_hh_l0", "out.weight"}

    xb = np.array([[0, 3, 5, 2], [0, 6, 1, 0]])
    yb = np.array([[3, 5, 2, 1], [6, 1, 10, 0]])
    mask = np.array([[True, True, True, True], [True, True, True, False]])
    h0 = _x(2, 4)
    with torch.no_grad():
        for ours in (model, back):
            for x in (xb, xb[0]):
                np.testing.assert_allclose(ours(x).data, theirs(torch.from_numpy(x)).numpy(), rtol=0, atol=1e-12)
            np.testing.assert_allclose(ours.hidden_states(xb, h0).data, theirs.hidden_states(xb, h0).numpy(),
                                       rtol=0, atol=1e-12)
            for reduction in ("mean", "sum"):
                for m in (None, mask):
                    want = ours.loss(xb, yb, m, reduction=reduction).item()
                    got = theirs.loss(xb, yb, m, reduction=reduction).item()
                    assert abs(want - got) <= 1e-12 * max(1.0, abs(want))


@pytest.mark.parametrize("cell, layers", [("rnn", 2), ("gru", 1), ("gru", 2), ("lstm", 2)])
def test_stacked_rnnlm_scores_loss_and_gradients_survive_the_round_trip(cell, layers):
    torch = pytest.importorskip("torch")
    model = RNNLM(word_dim=11, hidden_dim=4, cell=cell, num_layers=layers, dropout=0.2 if layers > 1 else 0.0,
                  seed=0).eval()
    theirs = interop.to_torch(model)
    back = interop.from_torch(theirs)
    assert isinstance(back, RNNLM) and (back.cell, back.num_layers, back.dropout) == (model.cell, layers,
                                                                                     model.dropout)
    _same_state(model.state_dict(), back.state_dict())
    assert theirs.rnn.dropout == model.dropout and not theirs.training
    np.testing.assert_array_equal(theirs.embedding.weight.detach().numpy(), model.E.data.T)
    xb, yb = np.array([[0, 3, 5, 2], [0, 6, 1, 0]]), np.array([[3, 5, 2, 1], [6, 1, 10, 0]])
    mask = np.array([[True, True, True, True], [True, True, True, False]])
    h0 = _x(layers, 2, 4)
    state = h0 if cell != "lstm" else (h0, _x(layers, 2, 4) + 1)
    with torch.no_grad():
        np.testing.assert_allclose(model(xb).data, theirs(torch.from_numpy(xb)).numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(model.hidden_states(xb, state).data, theirs.hidden_states(xb, state).numpy(),
                                   rtol=0, atol=1e-12)
        want, got = model.loss(xb, yb, mask).item(), theirs.loss(xb, yb, mask).item()
        assert abs(want - got) <= 1e-12
    model.loss(xb, yb, mask, reduction="sum").backward()
    theirs.loss(xb, yb, mask, reduction="sum").backward()
    grads = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
    np.testing.assert_allclose(model.E.grad, grads.pop("embedding.weight").T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.V.grad, grads.pop("out.weight"), rtol=0, atol=1e-12)
    ours = dict(model.named_parameters())
    for name, g in grads.items():  # rnn.weight_ih_l0, …: the same names on both sides
        np.testing.assert_allclose(ours[name].grad, g, rtol=0, atol=1e-12, err_msg=name)


def test_rnnlm_gradients_match_with_full_bptt():
    pytest.importorskip("torch")
    model = RNNLM(word_dim=9, hidden_dim=3, seed=1)
    theirs = interop.to_torch(model)
    x, y = np.array([[1, 4, 2, 8, 0]]), np.array([[4, 2, 8, 0, 3]])
    model.loss(x, y, reduction="sum").backward()
    theirs.loss(x, y, reduction="sum").backward()
    for ours, their in ((model.U, theirs.rnn.weight_ih_l0), (model.W, theirs.rnn.weight_hh_l0),
                        (model.V, theirs.out.weight)):
        np.testing.assert_allclose(ours.grad, their.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "RNNCell"])
def test_torch_rnn_biases_map_name_for_name(kind):
    """Both of torch's biases are kept as they are: no summing, so no rounding, and b_hh is not lost."""
    torch = pytest.importorskip("torch")
    theirs = getattr(torch.nn, kind)(4, 3, dtype=torch.float64)  # torch's defaults: time first for RNN
    ours = interop.from_torch(theirs)
    _same_state(_arrays(theirs), ours.state_dict())
    assert not np.array_equal(_arrays(theirs)["bias_hh" + ("_l0" if kind == "RNN" else "")], 0)
    _same_outputs(ours, theirs, _x(5, 2, 4) if kind == "RNN" else _x(2, 4))


def _arrays(torch_module) -> dict:
    return {k: v.detach().numpy() for k, v in torch_module.state_dict().items()}


def test_torch_modules_without_an_exact_counterpart_are_refused():
    torch = pytest.importorskip("torch")
    for module in (torch.nn.LSTM(4, 3, proj_size=2), torch.nn.Embedding(5, 2, padding_idx=0),
                   torch.nn.Embedding(5, 2, max_norm=1.0)):
        with pytest.raises(ValueError, match="from_torch"):
            interop.from_torch(module)
    with pytest.raises(TypeError, match=r"torch\.nn\.modules\.conv\.Conv1d.*supported: torch\.nn\.Linear"):
        interop.from_torch(torch.nn.Conv1d(2, 2, 1))


def test_unsupported_module_names_its_type_and_the_supported_ones():
    pytest.importorskip("torch")

    class Mine(nn.Module):
        pass

    with pytest.raises(TypeError, match=r"Mine; supported: nn\.Linear.*models\.RNNLM"):
        interop.to_torch(Mine())
    with pytest.raises(TypeError, match="Mine"):  # inside a Sequential too
        interop.to_torch(nn.Sequential(nn.Linear(2, 2), Mine()))


def test_training_mode_is_carried_over():
    pytest.importorskip("torch")
    seq = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1)).eval()
    theirs = interop.to_torch(seq)
    assert not theirs.training and not any(m.training for m in theirs.modules())
    back = interop.from_torch(theirs.train())
    assert all(m.training for m in back.modules())


def test_without_torch_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes ``import torch`` raise ImportError
    for convert, arg in ((interop.to_torch, nn.Linear(2, 2)), (interop.from_torch, object())):
        with pytest.raises(ImportError, match=r"interop needs PyTorch: pip install torch"):
            convert(arg)


def test_importing_interop_does_not_import_torch():
    import subprocess

    code = "import sys, tinygrad_rnn.interop; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
