"""Load: 1 000 messages a second for 10 s (metrics plus full-size snapshots, 2 ranks) while
keys are pressed. Functional checks only (timings are in BENCHMARKS.md, from
bench/bench_dashboard.py): every key press is handled while the feed runs, redraws stay
batched, and every history stays within its bound. Run: ./run-tests tests/tui/test_load.py"""

from __future__ import annotations

import time

from stratlog.sink.dashboard_model import CAPTURE_STEPS, METRIC_POINTS
from stratlog.sink.dashboard_view import HISTORY_SHOWN
from stratlog.dashboard_load import RANKS, LoadFeed, load_frames, press_and_wait, resident_mib
from stratlog.tui.app import DashboardApp
from stratlog.tui.screens.dashboard import REDRAW_INTERVAL_S
from stratlog.tui.widgets.history.findings_history import FindingsHistory

PER_SECOND = 1000
SECONDS = 10


async def test_keys_answer_and_memory_stays_bounded_under_1000_messages_per_second(tmp_path):
    feed = LoadFeed(tmp_path, load_frames(PER_SECOND * SECONDS), PER_SECOND)
    app = DashboardApp(feed.model, source="load test")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.press("6")  # the history tab: its log is written to throughout
        feed.start()
        started, presses, resident = time.monotonic(), 0, []
        try:
            while feed.alive:
                if screen.rank is not None:
                    expected = (screen.rank + 1) % RANKS
                    answered = await press_and_wait(app, "r", lambda: screen.rank == expected)
                    assert answered is not None, "a key press went unanswered during the feed"
                    presses += feed.alive
                resident.append(resident_mib())
                await pilot.pause(0.2)
        finally:
            feed.stop()
        elapsed = time.monotonic() - started
        await pilot.pause(2 * REDRAW_INTERVAL_S)

        assert feed.fed == PER_SECOND * SECONDS
        assert presses >= 20, f"only {presses} presses landed while the feed ran"
        assert screen.redraws <= elapsed / REDRAW_INTERVAL_S + presses + 5, "redraws were not batched"
        for history in feed.model.ranks.values():
            assert all(len(series) == METRIC_POINTS for series in history.metrics.values())
            assert len(history.captures) <= CAPTURE_STEPS
        assert len(app.query_one(FindingsHistory).lines) <= HISTORY_SHOWN
        middle, end = resident[len(resident) // 2], resident[-1]
        assert end - middle < 64, f"memory kept growing: {middle:.0f} MiB half-way, {end:.0f} MiB at the end"
