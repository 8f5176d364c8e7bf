"""SVG snapshots of the main screens, drawn from the fixed demo recording (tests/fixtures/).

Deterministic by construction: the replay is complete before the app starts, ages are taken
on the replay's clock (no wall clock on screen), the size is fixed and animations are off.
A change in the dashboard's look fails here on purpose; look at the new SVG (its path is in
the failure), and if it is right, accept it with
`STRATLOG_UPDATE_SNAPSHOTS=1 ./run-tests tests/tui/test_snapshots.py`, which also refreshes
docs/dashboard.svg (the README's screenshot is the 120x40 overview).
Run: ./run-tests tests/tui/test_snapshots.py"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.tui.replayed import replayed
from stratlog.tui.app import DashboardApp

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.svg"
UPDATE = os.environ.get("STRATLOG_UPDATE_SNAPSHOTS") == "1"
SCREENS = {
    "overview-120x40": ((120, 40), []),
    "overview-80x24": ((80, 24), []),
    "overview-200x60": ((200, 60), []),
    "input-120x40": ((120, 40), ["2"]),
    "output-120x40": ((120, 40), ["3"]),
    "attention-120x40": ((120, 40), ["4", "a", "a", "a"]),
    "zero-shot-120x40": ((120, 40), ["5"]),
    "history-120x40": ((120, 40), ["6"]),
    "past-step-rank-1-120x40": ((120, 40), ["r", "left", "left", "3"]),
    "help-120x40": ((120, 40), ["question_mark"]),
}


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return replayed(tmp_path_factory.mktemp("logs"))


@pytest.mark.parametrize("name", SCREENS)
async def test_screen_matches_its_snapshot(recording, name, tmp_path):
    model, player = recording
    size, keys = SCREENS[name]
    app = DashboardApp(model, source="replay demo-20-steps.stratrec", player=player)
    app.animation_level = "none"
    async with app.run_test(size=size) as pilot:
        await pilot.press(*keys)
        await pilot.pause()
        await pilot.pause()  # the size's breakpoint classes restyle the screen after the first pause
        svg = app.export_screenshot(title="stratlog dashboard")
    expected = SNAPSHOTS / f"{name}.svg"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        expected.write_text(svg)
        if name == "overview-120x40":
            README_SCREENSHOT.parent.mkdir(exist_ok=True)
            README_SCREENSHOT.write_text(svg)
    actual = tmp_path / f"{name}.svg"
    actual.write_text(svg)
    assert expected.is_file(), f"no snapshot yet: accept {actual} with STRATLOG_UPDATE_SNAPSHOTS=1"
    assert svg == expected.read_text(), f"{name} changed: compare {actual} with {expected}"


def test_readme_screenshot_is_the_overview_snapshot():
    assert README_SCREENSHOT.read_text() == (SNAPSHOTS / "overview-120x40.svg").read_text()
