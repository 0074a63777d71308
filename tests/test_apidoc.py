"""The API reference is generated from the code: the checked-in page must be what the code renders."""

from __future__ import annotations

from pathlib import Path

from tinygrad_rnn import REGISTRY, apidoc

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_the_api_reference_is_up_to_date():
    assert PAGE.read_text() == apidoc.render(), "docs/api.md is stale: run python -m tinygrad_rnn.apidoc docs/api.md"


def test_every_primitive_is_listed_with_its_vjp():
    text = apidoc.render()
    for name, cls in REGISTRY.items():
        assert f"| `{name}` |" in text
        assert cls.__doc__, f"{name} has no docstring for the reference"


def test_the_reference_names_who_calls_each_primitive():
    text = apidoc.render()
    assert "| `tanh` | d tanh(x) = grad * (1 - out²) | `Tensor.tanh`, `F.tanh` |" in text


def test_writing_the_reference_replaces_the_file_atomically(tmp_path):
    out = tmp_path / "api.md"
    out.write_text("old")
    assert apidoc.main([str(out)]) == 0
    assert out.read_text() == apidoc.render()
