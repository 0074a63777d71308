"""The package's modules import one another without a circle, so no import order matters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_rnn

PACKAGE = Path(tinygrad_rnn.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports_at_load(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports while it is being loaded (not inside functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.parse(path.read_text()).body:  # module level only
        if isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            if not node.level:
                target = node.module
            else:
                target = f"{base}.{node.module}" if node.module else base
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in MODULES and m != name}


def test_module_level_imports_form_no_circle():
    graph = {name: _imports_at_load(name, path) for name, path in MODULES.items()}
    graph["tinygrad_rnn"] = set()  # importing a submodule starts the package; its own imports are the leaves'
    state: dict[str, int] = {}

    def visit(start: str) -> None:
        stack = [(start, iter(sorted(graph[start])))]
        state[start] = 1
        path = [start]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                cycle = path[path.index(child):] + [child]
                pytest.fail("import circle: " + " -> ".join(cycle))
            elif child not in state:
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))

    for name in graph:
        if name not in state:
            visit(name)


@pytest.mark.parametrize("first", sorted(m for m in MODULES if m not in ("tinygrad_rnn", "tinygrad_rnn.__main__")))
def test_any_module_can_be_imported_first(first):
    code = f"import {first}; import tinygrad_rnn as tg; assert tg.Tensor([1.0]).exp().item() > 2"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
