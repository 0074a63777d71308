"""LayerNorm against torch, a numpy transcription and finite differences; Dropout's masks, scaling and modes."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import Tensor, gradcheck_model
from tinygrad_rnn.nn import Dropout, LayerNorm, Sequential


def numpy_layer_norm(x, weight, bias, k, eps=1e-5):
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    out = (x - mu) / np.sqrt(var + eps)
    return out * (1 if weight is None else weight) + (0 if bias is None else bias)


def randomised(ln, seed):
    """Non-trivial affine parameters, so their gradients are checked for real."""
    rng = np.random.default_rng(seed)
    for p in ln.parameters():
        p.data[...] = rng.standard_normal(p.shape)
    return ln


@pytest.mark.parametrize("shape, normalized", [((4, 6), 6), ((2, 3, 4), (3, 4)), ((5,), [5]), ((2, 1, 3), 3)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_matches_torch_and_numpy(shape, normalized, dtype):
    ln = randomised(LayerNorm(normalized, dtype=dtype), 1)
    k = len(ln.normalized_shape)
    x = Tensor(np.random.default_rng(0).standard_normal(shape).astype(dtype), requires_grad=True)
    out = ln(x)
    assert out.dtype == dtype and ln.weight.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(out.data, numpy_layer_norm(x.data.astype(np.float64), ln.weight.data,
                                                          ln.bias.data, k), rtol=tol, atol=tol)
    g = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    out.backward(g)
    torch = pytest.importorskip("torch")
    t = torch.nn.LayerNorm(normalized).to(torch.float64 if dtype == np.float64 else torch.float32)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in ln.state_dict().items()})
    tx = torch.from_numpy(x.data.copy()).requires_grad_()
    tout = t(tx)
    tout.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(ln.weight.grad, t.weight.grad.numpy(), rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(ln.bias.grad, t.bias.grad.numpy(), rtol=tol * 10, atol=tol * 10)


def test_layer_norm_names_and_gradcheck():
    ln = randomised(LayerNorm((3, 4)), 3)
    assert [(n, p.shape) for n, p in ln.named_parameters()] == [("weight", (3, 4)), ("bias", (3, 4))]
    x = Tensor(np.random.default_rng(4).standard_normal((2, 3, 4)), requires_grad=True)
    w = np.random.default_rng(5).standard_normal((2, 3, 4))
    assert gradcheck_model(ln, lambda: (ln(x) * w).sum(), fast=False)
    assert tg.gradcheck(lambda x: (ln(x) * w).sum(), [x])


def test_layer_norm_without_affine_parameters():
    x = np.random.default_rng(0).standard_normal((3, 5))
    plain = LayerNorm(5, elementwise_affine=False, eps=1e-3)
    assert plain.parameters() == [] and plain.weight is None and plain.bias is None
    np.testing.assert_allclose(plain(x).data, numpy_layer_norm(x, None, None, 1, eps=1e-3), rtol=1e-12, atol=1e-12)
    no_bias = LayerNorm(5, bias=False)
    assert [n for n, _ in no_bias.named_parameters()] == ["weight"]
    torch = pytest.importorskip("torch")
    want = torch.nn.functional.layer_norm(torch.from_numpy(x), (5,), eps=1e-3).numpy()
    np.testing.assert_allclose(plain(x).data, want, rtol=1e-12, atol=1e-12)


def test_layer_norm_refuses_bad_shapes():
    with pytest.raises(ValueError, match=r"LayerNorm: input of shape \(2, 4\) does not end in normalized_shape \(3,\)"):
        LayerNorm(3)(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"does not end in normalized_shape \(2, 3\)"):
        LayerNorm((2, 3))(np.ones(3))
    with pytest.raises(ValueError, match="normalized_shape must be positive integers, got 0"):
        LayerNorm(0)
    with pytest.raises(ValueError, match="eps must be >= 0"):
        LayerNorm(3, eps=-1.0)


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_dropout_is_the_identity_in_eval_mode(p):
    d = Dropout(p).eval()
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert d(x) is x


def test_dropout_with_p_zero_and_one():
    x = Tensor(np.ones((3, 4)), requires_grad=True)
    assert Dropout(0.0)(x) is x
    out = Dropout(1.0, seed=0)(x)
    np.testing.assert_array_equal(out.data, np.zeros((3, 4)))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros((3, 4)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_keeps_and_scales_a_fixed_mask(dtype):
    """The mask is the seed's uniform draws >= p (numpy transcription); kept values and their gradients
    are scaled by 1/(1-p)."""
    p = 0.25
    x = Tensor(np.random.default_rng(1).uniform(1, 2, (4, 5)).astype(dtype), requires_grad=True)
    out = Dropout(p, seed=7)(x)
    mask = np.random.default_rng(7).random((4, 5)) >= p
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, np.where(mask, x.data / (1 - p), 0), rtol=1e-6)
    out.backward(np.full((4, 5), 2.0, dtype))
    np.testing.assert_allclose(x.grad, np.where(mask, 2 / (1 - p), 0), rtol=1e-6)


def test_dropout_statistics_match_torch():
    p, n = 0.3, 200_000
    out = Dropout(p, seed=0)(np.ones(n)).data
    ours = [float((out == 0).mean()), float(out.mean())]
    assert set(np.unique(out)) == {0.0, 1 / (1 - p)}
    tol = 4 * np.sqrt(p * (1 - p) / n)  # four standard errors: fails once in ~16,000 seeds, and the seed is fixed
    assert abs(ours[0] - p) < tol and abs(ours[1] - 1) < tol / (1 - p)
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.Dropout(p)(torch.ones(n, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(np.unique(t), np.unique(out), rtol=1e-15)
    assert abs(float((t == 0).mean()) - ours[0]) < 2 * tol


def test_dropout_randomness_is_reproducible():
    x = np.ones((8, 8))
    a, b = Dropout(0.5, seed=3)(x).data, Dropout(0.5, seed=3)(x).data
    np.testing.assert_array_equal(a, b)
    d = Dropout(0.5, seed=3)
    assert not np.array_equal(d(x).data, d(x).data)  # one stream, new masks each call
    tg.manual_seed(11)
    first = Dropout(0.5)(x).data
    tg.manual_seed(11)
    np.testing.assert_array_equal(Dropout(0.5)(x).data, first)  # seed=None: the default generator
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(Dropout(0.5, seed=rng)(x).data, a)


def test_dropout_follows_the_model_mode():
    model = Sequential(Dropout(0.5, seed=0))
    x = np.ones((4, 4))
    assert (model(x).data == 0).any()
    model.eval()
    np.testing.assert_array_equal(model(x).data, x)


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True, float("nan")])
def test_dropout_validates_p(p):
    with pytest.raises(ValueError, match="Dropout: p must be a probability between 0 and 1, got"):
        Dropout(p)
