"""The dashboard shows rank 0 by default, whichever rank's run_start reached the sink first;
once the user picks a rank with r, it stays on that rank.
Run: ./run-tests tests/tui/test_default_rank.py"""

from __future__ import annotations

from stratlog.protocol import encode
from stratlog.tui.app import DashboardApp
from tests.sink.builders import input_snapshot, run_start
from tests.tui.replayed import empty_model

T0 = 1_700_000_000.0


async def test_rank_0_is_shown_once_it_arrives_and_a_chosen_rank_stays(tmp_path):
    model, pipeline = empty_model(tmp_path)
    app = DashboardApp(model, source="test feed", clock=lambda: T0)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        pipeline.handle(encode(run_start(rank=1)), T0)
        pipeline.handle(encode(input_snapshot(rank=1, step=10, seq=1)), T0)
        await pilot.pause(0.2)
        assert screen.view.rank == 1, "the only rank known is shown"
        pipeline.handle(encode(run_start(rank=0)), T0)
        pipeline.handle(encode(input_snapshot(rank=0, step=10, seq=1)), T0)
        await pilot.pause(0.2)
        assert screen.view.rank == 0
        await pilot.press("r")
        pipeline.handle(encode(input_snapshot(rank=0, step=20, seq=2)), T0)
        await pilot.pause(0.2)
        assert screen.view.rank == 1, "the rank picked with r stays while data arrives"
