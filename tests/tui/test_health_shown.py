"""The header shows what went wrong inside the sink (analysis errors, a live sink's lag and own
drops), and a widget that cannot draw a strange capture says so in its place and has it counted,
while the dashboard goes on. Run: ./run-tests tests/tui/test_health_shown.py"""

from __future__ import annotations

from stratlog.protocol import RecordingReader
from stratlog.sink.backlog import SinkLoad
from stratlog.tui.app import DashboardApp
from stratlog.tui.widgets.header.run_header import RunHeader
from stratlog.tui.widgets.input.token_view import TokenView
from tests.processes import read_jsonl
from tests.tui.replayed import RECORDING, empty_model, text_of


def fed(tmp_path):
    model, pipeline = empty_model(tmp_path)
    records = list(RecordingReader(RECORDING))
    for record in records:
        pipeline.handle(record.frame, record.received_at)
    return model, pipeline, records[-1].received_at


async def test_a_live_sinks_lag_drops_and_analysis_errors_are_in_the_header(tmp_path):
    model, pipeline, end = fed(tmp_path)
    app = DashboardApp(model, source="live test", clock=lambda: end)
    async with app.run_test(size=(120, 40)) as pilot:
        header = text_of(app.query_one(RunHeader))
        assert "analysis errors" not in header and "lag" not in header  # a healthy replay: no alarms, no load
        pipeline.state.set_load(SinkLoad(lag_s=2.5, backlog_bytes=10, dropped_frames=3, dropped_bytes=300))
        model.drawing_failed("Probe", ValueError("odd"), rank=0, step=1)  # stands for any analysis error
        await pilot.pause(1.2)  # the header's periodic redraw
        header = text_of(app.query_one(RunHeader))
        assert "analysis errors 1" in header and "sink dropped 3" in header and "lag 2.5 s" in header
    pipeline.close()


async def test_a_widget_that_cannot_draw_says_so_and_the_error_is_counted(tmp_path, monkeypatch):
    def broken(self, capture, snapshot, readings):
        raise IndexError("a table shorter than its header says")

    monkeypatch.setattr(TokenView, "render_snapshot", broken)
    model, pipeline, end = fed(tmp_path)
    app = DashboardApp(model, source="live test", clock=lambda: end)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert "cannot draw this: IndexError" in text_of(app.query_one(TokenView))
        await pilot.press("r")  # the dashboard goes on: another rank, other data
        await pilot.pause()
        assert pipeline.state.analysis_errors == {"dashboard TokenView": 2}
    pipeline.tick()  # the sink writes what the dashboard could not draw
    pipeline.close()
    errors = [event for event in read_jsonl(tmp_path / "events.jsonl") if event["event"] == "analysis_error"]
    assert [error["where"] for error in errors] == ["dashboard TokenView"] * 2
    assert all(error["error"].startswith("IndexError") for error in errors)


async def test_before_the_first_capture_the_trainers_progress_and_log_path_are_shown_whole(tmp_path):
    model, pipeline = empty_model(tmp_path)
    progress = f"trainer: encoding 120 of 240 clips (1.6 clips/s, ETA 75 s) (log: {tmp_path / 'trainer.log'})"
    app = DashboardApp(model, source=progress)
    async with app.run_test(size=(120, 40)):
        header = text_of(app.query_one(RunHeader))
        assert "capture none yet" in header and progress in " ".join(header.split())
    pipeline.close()
