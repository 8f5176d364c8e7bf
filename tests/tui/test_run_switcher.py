"""The dashboard switches between the runs one sink has seen (issue 21): u / U under Pilot, on
the demo recording replayed as one run and its first 10 steps sent again as a second run."""

from __future__ import annotations

import msgspec
import pytest

from stratlog.protocol import RecordingReader, decode, encode
from stratlog.tui.app import DashboardApp
from stratlog.tui.screens.dashboard import DashboardScreen
from stratlog.tui.widgets.header.run_header import RunHeader
from tests.tui.replayed import RECORDING, empty_model, text_of

SIZE = (120, 40)
SECOND = "second0run"


def feed(pipeline, *, run_id: str | None = None, last_step: int | None = None) -> None:
    """The recording's frames into `pipeline`, as another run (`run_id`) up to `last_step` when given."""
    for record in RecordingReader(RECORDING):
        message = decode(record.frame)
        if last_step is not None and message.step > last_step:
            continue
        frame = encode(msgspec.structs.replace(message, run_id=run_id)) if run_id else record.frame
        pipeline.handle(frame, record.received_at)


@pytest.fixture
def two_runs(tmp_path):
    model, pipeline = empty_model(tmp_path / "logs")
    feed(pipeline)
    feed(pipeline, run_id=SECOND, last_step=10)
    return model, pipeline


def header(app: DashboardApp) -> str:
    return text_of(app.screen.query_one(RunHeader))


async def test_u_shows_the_other_run_with_its_own_history_and_back(two_runs):
    model, pipeline = two_runs
    first = model.state.run_ids[0]
    assert model.state.run_ids == [first, SECOND] and model.state.run_id == SECOND  # the later run took over
    app = DashboardApp(model, source="two runs")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DashboardScreen)
        assert f"run {SECOND[:8]}" in header(app) and "step 10" in header(app)
        assert screen.view.capture_steps == (1, 5, 10)

        await pilot.press("u")
        await pilot.pause()
        assert screen.view.run_id == first
        assert f"run {first[:8]}" in header(app) and "step 20" in header(app)
        assert screen.view.capture_steps == (1, 5, 10, 15, 20)  # kept while the other run was shown

        feed(pipeline, run_id=SECOND, last_step=10)  # the second run goes on: the choice holds
        await pilot.pause()
        assert model.state.run_id == first

        await pilot.press("U")
        await pilot.pause()
        assert screen.view.run_id == SECOND and screen.view.capture_steps == (1, 5, 10)


async def test_a_run_first_seen_after_the_choice_takes_over(two_runs):
    model, pipeline = two_runs
    first = model.state.run_ids[0]
    assert model.state.show_next_run(1) == first
    feed(pipeline, run_id="third0run", last_step=5)
    assert model.state.run_id == "third0run"
    assert model.state.run_ids == [first, SECOND, "third0run"]
