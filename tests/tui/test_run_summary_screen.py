"""The dashboard's final screen under Pilot: it shows the sink's run summary of the fixed demo
recording and stays until a key, which closes the app. Run: ./run-tests tests/tui/test_run_summary_screen.py"""

from __future__ import annotations

from textual.widgets import Static

from stratlog.tui.app import DashboardApp
from stratlog.tui.screens.run_summary import RunSummaryScreen
from tests.tui.replayed import replayed, text_of


async def test_final_screen_shows_the_summary_until_a_key(tmp_path):
    model, player = replayed(tmp_path)
    summary = player.pipeline.summary_text()
    app = DashboardApp(model, source="replay demo", player=player)
    async with app.run_test(size=(120, 40)) as pilot:
        app.show_summary(summary)
        app.show_summary(summary)  # a timer firing again adds no second screen
        await pilot.pause(0.5)
        assert isinstance(app.screen, RunSummaryScreen) and len(app.screen_stack) == 2
        shown = text_of(app.screen.query_one(Static), width=400)
        assert "checks: 0 FAIL, 0 WARN, 22 OK, 3 PENDING" in shown and f"log: {tmp_path / 'findings.jsonl'}" in shown
        assert app.return_code is None  # still open after the pause
        await pilot.press("x")
        await pilot.pause()
        assert app.return_code == 0
