"""Live updates: frames fed through the sink pipeline by another thread (as the receiving
thread does) reach every panel, and bursts are batched into at most ~20 redraws a second.
Run: ./run-tests tests/tui/test_live_updates.py"""

from __future__ import annotations

import threading
import time

from stratlog.protocol import RecordingReader
from stratlog.sink.dashboard_view import HISTORY_SHOWN
from tests.tui.replayed import RECORDING, empty_model, text_of
from stratlog.tui.app import DashboardApp
from stratlog.tui.screens.dashboard import REDRAW_INTERVAL_S
from stratlog.tui.widgets.header.run_header import RunHeader
from stratlog.tui.widgets.history.findings_history import FindingsHistory
from stratlog.tui.widgets.input.token_view import TokenView
from stratlog.tui.widgets.overview.metric_chart import MetricChart


async def test_frames_from_a_feeding_thread_reach_every_panel(tmp_path):
    model, pipeline = empty_model(tmp_path)
    records = list(RecordingReader(RECORDING))
    app = DashboardApp(model, source="test feed", clock=lambda: records[-1].received_at)

    def feed() -> None:
        for record in records:
            pipeline.handle(record.frame, record.received_at)
            time.sleep(0.003)  # a stream, not one burst: several redraws happen meanwhile

    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert "no data yet" in text_of(app.query_one("#chart-loss"))
        redraws_before, started = screen.redraws, time.monotonic()
        thread = threading.Thread(target=feed, name="feed")
        thread.start()
        while thread.is_alive():
            await pilot.pause(0.05)
        await pilot.pause(2 * REDRAW_INTERVAL_S)
        elapsed = time.monotonic() - started

        header = text_of(app.query_one(RunHeader))
        assert "step 20" in header and "ranks 2/2" in header and "messages 86" in header
        chart = text_of(app.query_one("#chart-loss"))
        assert "loss 11" in chart and "13.9┤" in chart and "step└1" in chart and chart.splitlines()[-1].endswith("20")
        assert len(screen.view.metrics["loss"]) == 20
        assert "run_end" in text_of(app.query_one("#stream-summary"))
        assert "uniform_heads" in text_of(app.query_one("#attention-summary"))
        assert "▶ reference audio" in text_of(app.query_one(TokenView))
        await pilot.press("6")  # a RichLog renders what was written once it is shown
        assert len(app.query_one(FindingsHistory).lines) == min(model.findings_total, HISTORY_SHOWN)
        redraws = screen.redraws - redraws_before
        assert 2 <= redraws <= elapsed / REDRAW_INTERVAL_S + 2, f"{redraws} redraws in {elapsed:.2f} s"
        assert all(chart.metric for chart in app.query(MetricChart))
