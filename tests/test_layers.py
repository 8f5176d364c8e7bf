"""The layering the architecture promises, checked on the source: protocol depends on nothing
of ours (and no torch/textual), trainer never imports sink or tui, sink never imports textual,
torch, tui or trainer, tui never imports trainer. Run: ./run-tests tests/test_layers.py"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "protocol": {"trainer", "sink", "tui", "stratlog", "torch", "textual", "transformers"},
    "trainer": {"sink", "tui", "stratlog", "textual"},
    "sink": {"trainer", "tui", "stratlog", "torch", "textual", "transformers"},
    "tui": {"trainer", "stratlog", "torch", "transformers"},
}


def imported_top_levels(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_its_layer(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {file: names for file, names in offenders.items() if names} == {}


def test_the_check_sees_imports():
    """Guards the guard: the scanner finds both import forms."""
    source = ROOT / "sink" / "pipeline.py"
    assert "protocol" in imported_top_levels(source)
