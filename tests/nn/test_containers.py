"""ModuleList, ModuleDict, Sequential: registered items with PyTorch's dotted names; plain lists refused."""

from __future__ import annotations

import numpy as np
import pytest

from tinygrad_rnn import Tensor
from tinygrad_rnn.nn import (
    Dropout,
    LayerNorm,
    Linear,
    Module,
    ModuleDict,
    ModuleList,
    Parameter,
    Sequential,
)


class Stack(Module):
    def __init__(self):
        self.layers = ModuleList([Linear(3, 4, seed=0), Linear(4, 4, seed=1)])
        self.head = Sequential(LayerNorm(4), Dropout(0.1), Linear(4, 2, seed=2))
        self.heads = ModuleDict({"fine": Linear(2, 5, seed=3), "coarse": Linear(2, 1, bias=False, seed=4)})

    def forward(self, x):
        for layer in self.layers:
            x = layer(x).tanh()
        return self.head(x)


NAMES = ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "head.0.weight", "head.0.bias",
         "head.2.weight", "head.2.bias", "heads.fine.weight", "heads.fine.bias", "heads.coarse.weight"]


def torch_stack(torch):
    tnn = torch.nn

    class TorchStack(tnn.Module):
        def __init__(self):
            super().__init__()
            self.layers = tnn.ModuleList([tnn.Linear(3, 4), tnn.Linear(4, 4)])
            self.head = tnn.Sequential(tnn.LayerNorm(4), tnn.Dropout(0.1), tnn.Linear(4, 2))
            self.heads = tnn.ModuleDict({"fine": tnn.Linear(2, 5), "coarse": tnn.Linear(2, 1, bias=False)})

        def forward(self, x):
            for layer in self.layers:
                x = layer(x).tanh()
            return self.head(x)

    return TorchStack().double()


def test_parameter_names_and_shapes_are_pytorchs():
    m = Stack()
    assert [n for n, _ in m.named_parameters()] == NAMES
    torch = pytest.importorskip("torch")
    t = torch_stack(torch)
    assert [(n, tuple(p.shape)) for n, p in t.named_parameters()] == [(n, p.shape) for n, p in m.named_parameters()]
    assert [n for n, _ in t.named_modules()] == [n for n, _ in m.named_modules()]
    assert [n for n, _ in t.named_children()] == [n for n, _ in m.named_children()]
    assert m.num_parameters() == sum(p.numel() for p in t.parameters())


def test_forward_matches_torch_and_numpy_with_the_same_weights():
    m = Stack().eval()
    x = np.random.default_rng(0).standard_normal((5, 3))
    h = x
    for i in range(2):
        h = np.tanh(h @ m.layers[i].weight.data.T + m.layers[i].bias.data)
    h = (h - h.mean(-1, keepdims=True)) / np.sqrt(h.var(-1, keepdims=True) + 1e-5)
    want = h @ m.head[2].weight.data.T + m.head[2].bias.data
    np.testing.assert_allclose(m(x).data, want, rtol=1e-12, atol=1e-12)
    torch = pytest.importorskip("torch")
    t = torch_stack(torch)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    t.eval()
    np.testing.assert_allclose(m(x).data, t(torch.from_numpy(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_module_list_behaves_as_a_list_and_renumbers():
    a, b, c = Linear(1, 1, seed=0), Linear(1, 2, seed=1), Linear(2, 2, seed=2)
    ml = ModuleList()
    assert len(ml) == 0 and list(ml) == []
    assert ml.append(a) is ml
    ml.extend([c])
    ml.insert(1, b)
    assert list(ml) == [a, b, c] and len(ml) == 3
    assert ml[0] is a and ml[-1] is c
    assert isinstance(ml[1:], ModuleList) and list(ml[1:]) == [b, c]
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    del ml[0]
    assert ml[0] is b and [n for n, _ in ml.named_parameters()][0] == "0.weight"
    ml[0] = a
    assert ml[0] is a
    with pytest.raises(IndexError, match="ModuleList: index 5 is out of range for 2 modules"):
        ml[5]
    with pytest.raises(TypeError, match="ModuleList.append: expected a Module, got int"):
        ml.append(3)
    with pytest.raises(TypeError, match="ModuleList.extend: expected a Module, got float"):
        ml.extend([a, 1.0])
    assert len(ml) == 2  # a failed extend adds nothing


def test_a_shared_module_is_listed_once():
    lin = Linear(2, 2, seed=0)
    ml = ModuleList([lin, lin])
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias"]
    assert ml.num_parameters() == 6


def test_sequential_chains_and_slices():
    s = Sequential(Linear(3, 4, seed=0), Linear(4, 2, seed=1))
    x = Tensor(np.ones((2, 3)))
    np.testing.assert_array_equal(s(x).data, s[1](s[0](x)).data)
    assert isinstance(s[:1], Sequential) and s[:1](x).shape == (2, 4)
    assert Sequential()(x) is x
    with pytest.raises(TypeError, match=r"pass the modules as arguments, Sequential\(a, b\), not a list"):
        Sequential([Linear(1, 1)])
    with pytest.raises(TypeError, match="ModuleList has no forward"):
        ModuleList([Linear(1, 1)])(x)


def test_module_dict_mapping_api():
    a, b = Linear(1, 1, seed=0), Linear(1, 2, seed=1)
    d = ModuleDict([("a", a)])
    d["b"] = b
    assert list(d) == ["a", "b"] and list(d.keys()) == ["a", "b"] and list(d.values()) == [a, b]
    assert dict(d.items()) == {"a": a, "b": b} and "a" in d and "z" not in d and len(d) == 2
    assert [n for n, _ in d.named_parameters()] == ["a.weight", "a.bias", "b.weight", "b.bias"]
    assert d.pop("a") is a and list(d) == ["b"]
    with pytest.raises(KeyError, match="ModuleDict: no module 'a' \\(it has 'b'\\)"):
        d["a"]
    with pytest.raises(KeyError, match="keys must be non-empty strings without '.'"):
        d["x.y"] = a
    with pytest.raises(TypeError, match=r"ModuleDict\['c'\] = ...: expected a Module, got str"):
        d["c"] = "not a module"
    d.update({"c": a})
    del d["b"]
    assert list(d) == ["c"]
    d.clear()
    assert len(d) == 0


@pytest.mark.parametrize("value, kind, fix", [
    ([Linear(1, 1)], "list", r"use nn.ModuleList \(or nn.Sequential\)"),
    ((Linear(1, 1), 3), "tuple", "use nn.ModuleList"),
    ({"enc": Linear(1, 1)}, "dict", "use nn.ModuleDict"),
    ([[1, Linear(1, 1)]], "list", "use nn.ModuleList"),
    ([Parameter(np.ones(2))], "list", "assign each Parameter as its own attribute"),
])
def test_a_plain_container_of_modules_is_refused_naming_the_attribute(value, kind, fix):
    class Model(Module):
        def __init__(self):
            self.layers = value

    with pytest.raises(TypeError, match=rf"Model.layers: a plain {kind} holding .* is not registered, .*{fix}"):
        Model()


def test_a_plain_list_filled_after_assignment_is_caught_when_parameters_are_listed():
    class Model(Module):
        def __init__(self):
            self.layers = []
            for i in range(2):
                self.layers.append(Linear(2, 2, seed=i))

    m = Model()
    with pytest.raises(TypeError, match="Model.layers: a plain list holding Linear \\(at 0\\) is not registered"):
        m.parameters()


def test_plain_containers_of_other_things_stay_allowed():
    class Model(Module):
        def __init__(self):
            self.sizes = [3, 4]
            self.history = []
            self.config = {"lr": 0.1, "names": ("a", "b")}
            self.cache = (Tensor(np.ones(2)),)  # a plain Tensor is not registered, in PyTorch either
            self.lin = Linear(3, 4, seed=0)

    m = Model()
    m.history.append(1.0)
    assert [n for n, _ in m.named_parameters()] == ["lin.weight", "lin.bias"]


def test_train_eval_reach_every_submodule_and_return_self():
    m = Stack()
    assert m.training and all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    assert m.train() is m and all(x.training for x in m.modules())
    m.train(False)
    assert not m.head[1].training
    with pytest.raises(TypeError, match="Stack.train: mode must be True or False, got 'no'"):
        m.train("no")


def test_apply_visits_children_before_parents_as_torch():
    m = Stack()
    seen = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen == ["Linear", "Linear", "ModuleList", "LayerNorm", "Dropout", "Linear", "Sequential", "Linear",
                    "Linear", "ModuleDict", "Stack"]
    torch = pytest.importorskip("torch")
    torch_seen = []
    torch_stack(torch).apply(lambda mod: torch_seen.append(type(mod).__name__))
    assert torch_seen == seen[:-1] + ["TorchStack"]


def test_apply_as_an_initialiser():
    m = Sequential(Linear(3, 3, seed=0), Linear(3, 1, seed=1))

    def zero_bias(mod):
        if isinstance(mod, Linear):
            mod.bias.data[...] = 0

    m.apply(zero_bias)
    assert all(not layer.bias.data.any() for layer in m)


def test_children_are_direct_and_unique():
    m = Stack()
    assert [n for n, _ in m.named_children()] == ["layers", "head", "heads"]
    assert m.children() == [m.layers, m.head, m.heads]
    assert len(m.modules()) == 11 and m.modules()[0] is m
    assert [n for n, _ in m.named_modules(prefix="model")][:3] == ["model", "model.layers", "model.layers.0"]


def test_a_container_subclass_registers_its_own_attributes_too():
    class Scaled(Sequential):
        def __init__(self):
            super().__init__(Linear(2, 2, seed=0))
            self.scale = Parameter(np.ones(2))
            self.head = Linear(2, 1, seed=1)

    names = [n for n, _ in Scaled().named_parameters()]
    assert sorted(names) == ["0.bias", "0.weight", "head.bias", "head.weight", "scale"]
    layers = ModuleList([Linear(1, 1, seed=0)])
    layers += [Linear(1, 1, seed=1)]
    assert len(layers) == 2


def test_a_tuple_of_registered_parameters_is_an_alias_and_allowed():
    class Cell(Module):
        def __init__(self):
            self.h0 = Parameter(np.zeros(2))
            self.c0 = Parameter(np.zeros(2))
            self.init_state = (self.h0, self.c0)
            loop = []
            loop.append(loop)
            self.loop = loop  # a self-referencing list holds no module: allowed, no recursion error

    assert [n for n, _ in Cell().named_parameters()] == ["h0", "c0"]
