"""The dashboard shows what the sink judged and never judges itself: no module of tui/ imports
the sink's thresholds (a widget that needs a verdict gets it from its kind's readings, see
sink/snapshot_kinds.py). Run: ./run-tests tests/tui/test_shows_only.py"""

from __future__ import annotations

from tests.test_layers import ROOT, imported_modules


def test_no_dashboard_module_imports_the_thresholds():
    offenders = [str(path.relative_to(ROOT)) for path in sorted((ROOT / "tui").rglob("*.py"))
                 if any(module.startswith("stratlog.sink.thresholds") for module in imported_modules(path))]
    assert offenders == []
