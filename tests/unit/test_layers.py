"""Imports run one way: service -> matcher -> indexer; nothing in the product imports benchmarks.

Every ``import`` and ``from ... import`` of every product module is read from
its syntax tree (function-level and ``TYPE_CHECKING`` imports included), as are
string arguments to ``importlib.import_module`` / ``importlib.util.find_spec``,
so a lazy or dynamic import cannot slip past.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("indexer", "matcher", "service")

#: What each product package must never import (DESIGN: data flows one way).
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "indexer": ("benchmarks", "tests", "matcher", "service", "fastapi"),
    "matcher": ("benchmarks", "tests", "service", "fastapi"),
    "service": ("benchmarks", "tests"),
}

DYNAMIC_IMPORTERS = {"import_module", "find_spec", "__import__"}


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in ``tree``, static or by a literal string."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in DYNAMIC_IMPORTERS and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    yield node.lineno, first.value


def violations(package: str) -> list[str]:
    found: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, module in imported_modules(tree):
            top = module.split(".")[0]
            if top in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", PRODUCT, ids=PRODUCT)
def test_product_package_imports_only_downward(package: str) -> None:
    assert violations(package) == []


@pytest.mark.parametrize(
    "source",
    [
        "import benchmarks.cli",
        "from benchmarks.generator import sample_dataset",
        "def f():\n    from benchmarks import plots",
        "if TYPE_CHECKING:\n    from benchmarks.generator import Population",
        "importlib.import_module('benchmarks.cli')",
        "importlib.util.find_spec('benchmarks.cli')",
    ],
    ids=["import", "from-import", "lazy", "type-checking", "import_module", "find_spec"],
)
def test_every_kind_of_import_is_seen(source: str) -> None:
    assert next(m for _, m in imported_modules(ast.parse(source))).startswith("benchmarks")


#: The one module that may import the search client (the engine seam, ``indexer/engine.py``).
SEAM = ROOT / "indexer" / "engine.py"


def test_only_the_engine_seam_imports_the_search_client() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != SEAM
        for line, module in imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if module.split(".")[0] == "opensearchpy"
    ]
    assert found == []
