"""`stratlog replay --tui` under Pilot, as the command wires it: the replay pauses once the first
capture is in (not over before a key can be pressed), plays on with space, ends on the run summary
screen, which stays until a key (escape: back to the dashboard), and `s` there asks for the replay
again from the start.
Run: ./run-tests tests/tui/test_replay_final_screen.py"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from textual.widgets import Static

from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.pipeline import SinkPipeline
from stratlog.sink.replay import ReplayPlayer
from stratlog.tui.app import RESTART_REPLAY, DashboardApp
from stratlog.tui.screens.dashboard import DashboardScreen
from stratlog.tui.screens.run_summary import RunSummaryScreen
from tests.tui.replayed import RECORDING, TOKENIZER, text_of

FIRST_CAPTURE_STEP = 1
"""The fixture captures at step 1 and every 5 steps."""


@pytest.fixture
def replay(tmp_path) -> Iterator[tuple[DashboardApp, ReplayPlayer]]:
    """The app and its player, playing on a thread until the test ends."""
    pipeline = SinkPipeline(tmp_path, tokenizer_path=str(TOKENIZER))
    model = DashboardModel.attach(pipeline)
    player = ReplayPlayer(RECORDING, pipeline, speed=None, pause_after_first_capture=True)
    app = DashboardApp(model, source="replay demo", player=player)
    app.show_summary_when(lambda: player.status().finished, pipeline.summary_text)
    stop = threading.Event()
    threading.Thread(target=player.run, args=(stop,), daemon=True).start()
    yield app, player
    stop.set()


def _wait(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)


async def test_replay_pauses_after_the_first_capture_then_ends_on_the_summary_until_a_key(replay, tmp_path):
    app, player = replay
    async with app.run_test(size=(120, 40)) as pilot:
        _wait(lambda: player.status().paused)
        status = player.status()
        assert status.paused and not status.finished and status.step == FIRST_CAPTURE_STEP
        await pilot.pause(0.6)  # a summary check passes: nothing to show while paused
        assert not isinstance(app.screen, RunSummaryScreen)
        await pilot.press("space")
        _wait(lambda: player.status().finished)
        await pilot.pause(1.0)
        assert isinstance(app.screen, RunSummaryScreen)
        assert "s to replay it again" in app.screen.query_one("#summary-body").border_title
        shown = text_of(app.screen.query_one(Static), width=400)
        assert "checks:" in shown and f"log: {tmp_path / 'findings.jsonl'}" in shown
        await pilot.pause(0.5)
        assert app.return_code is None  # it stays
        await pilot.press("escape")  # back to the finished replay's dashboard, for good
        await pilot.pause(1.0)
        assert isinstance(app.screen, DashboardScreen) and app.return_code is None
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0 and app.return_value is None


async def test_s_on_the_final_screen_asks_for_the_replay_again(replay):
    app, player = replay
    async with app.run_test(size=(120, 40)) as pilot:
        _wait(lambda: player.status().paused)
        await pilot.press("space")
        _wait(lambda: player.status().finished)
        await pilot.pause(1.0)
        assert isinstance(app.screen, RunSummaryScreen)
        await pilot.press("s")
        await pilot.pause()
        assert app.return_value == RESTART_REPLAY


async def test_s_restarts_a_replay_while_it_plays_and_does_nothing_live(replay, tmp_path):
    app, player = replay
    async with app.run_test(size=(120, 40)) as pilot:
        _wait(lambda: player.status().paused)
        await pilot.press("s")
        await pilot.pause()
        assert app.return_value == RESTART_REPLAY
    live = DashboardApp(DashboardModel.attach(SinkPipeline(tmp_path / "live")), source="live")
    async with live.run_test(size=(120, 40)) as pilot:
        await pilot.press("s")
        await pilot.pause()
        assert live.return_code is None and live.return_value is None
