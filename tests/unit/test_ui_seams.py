"""The review page reaches the engine only through the engine seam (``Engine``'s own
methods such as ``search``), never through its raw opensearch-py client."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "service" / "ui"
MODULES = sorted(UI.glob("*.py"))


def _raw_client_uses(tree: ast.AST) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "client"
    ]


def test_the_ui_has_modules() -> None:
    assert {"routes.py", "reads.py", "runs.py", "inbox.py"} <= {m.name for m in MODULES}


@pytest.mark.parametrize("module", MODULES, ids=[m.name for m in MODULES])
def test_ui_module_uses_no_raw_engine_client(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    assert _raw_client_uses(tree) == [], f"{module.name}: use Engine.search / the seam's methods"
