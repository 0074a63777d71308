"""Module: parameter registration by attribute, state dicts checked key by key."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn.nn import Linear, Module, Parameter


class Two(Module):
    def __init__(self):
        self.first = Linear(3, 4, seed=0)
        self.second = Linear(4, 2, bias=False, seed=1)
        self.scale = Parameter(np.ones(2))
        self.shared = self.scale  # the same parameter twice is listed once
        self.note = "not a parameter"


def test_named_parameters_walks_attributes_in_order():
    names = [n for n, _ in Two().named_parameters()]
    assert names == ["first.weight", "first.bias", "second.weight", "scale"]


def test_zero_grad_clears_every_gradient():
    m = Two()
    x = np.ones((5, 3))
    (m.second(m.first(x)) * m.scale).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_state_dict_round_trip_writes_into_live_storage():
    a, b = Two(), Two()
    b.first.weight.data[...] = 7.0
    storage = b.first.weight.data
    b.load_state_dict(a.state_dict())
    assert b.first.weight.data is storage
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
    sd = a.state_dict()
    sd["scale"][...] = 5.0  # a copy: changing it leaves the model alone
    assert a.scale.data[0] == 1.0


def test_load_state_dict_names_the_offending_key():
    m = Two()
    sd = m.state_dict()
    with pytest.raises(KeyError, match="missing key 'scale'"):
        m.load_state_dict({k: v for k, v in sd.items() if k != "scale"})
    with pytest.raises(KeyError, match="unexpected key 'extra'"):
        m.load_state_dict({**sd, "extra": np.ones(1)})
    with pytest.raises(ValueError, match=r"'first.weight' has shape \(3, 4\), the model expects \(4, 3\)"):
        m.load_state_dict({**sd, "first.weight": np.ones((3, 4))})
    with pytest.raises(ValueError, match="'scale' has dtype float32, the model expects float64"):
        m.load_state_dict({**sd, "scale": np.ones(2, np.float32)})
    np.testing.assert_array_equal(m.scale.data, np.ones(2))  # nothing was written by the failed loads


def test_calling_a_module_without_forward_says_so():
    with pytest.raises(TypeError, match="Two has no forward\\(\\); define one to call the module"):
        Two()(np.ones(3))
