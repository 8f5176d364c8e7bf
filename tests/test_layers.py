"""The layering the architecture promises, checked on the source: protocol depends on nothing
of ours (and no torch/textual), trainer never imports sink or tui, sink never imports textual,
torch, tui or trainer, tui never imports trainer. Run: ./run-tests tests/test_layers.py"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "protocol": {"trainer", "sink", "tui", "commands", "torch", "textual", "transformers"},
    "trainer": {"sink", "tui", "commands", "textual"},
    "sink": {"trainer", "tui", "commands", "torch", "textual", "transformers"},
    "tui": {"trainer", "commands", "torch", "transformers"},
}
"""Package -> layers it must not import. `commands` is stratlog's own modules (stratlog/: the CLI
and the demo's orchestration), which sit above every package."""

OUR_PACKAGES = ("protocol", "trainer", "sink", "tui")


def layer_of(module: str) -> str:
    """`stratlog.sink.pipeline` -> `sink`; `stratlog.cli` -> `commands`; `torch.nn` -> `torch`."""
    parts = module.split(".")
    if parts[0] != "stratlog":
        return parts[0]
    return parts[1] if len(parts) > 1 and parts[1] in OUR_PACKAGES else "commands"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from stratlog.sink import thresholds` may import the module stratlog.sink.thresholds:
            # keep each imported name (a superset: some are functions or classes, not modules)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imported_top_levels(path: Path) -> set[str]:
    return {layer_of(module) for module in imported_modules(path)}


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


def test_nothing_imports_our_packages_by_a_bare_name():
    """`import trainer` would work from a checkout and fail (or find someone else's package)
    once installed: everything of ours is imported as stratlog.*."""
    sources = [path for folder in ("stratlog", *OUR_PACKAGES, "tests", "bench") for path in (ROOT / folder).rglob("*.py")]
    offenders = {str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.split(".")[0] in OUR_PACKAGES)
                 for path in sources}
    assert {file: names for file, names in offenders.items() if names} == {}
