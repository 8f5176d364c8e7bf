"""The minimal dashboard under Pilot: live updates from a feeding thread reach the screen.
Run: ./run-tests tests/tui/test_dashboard.py"""

from __future__ import annotations

import threading
import time

import numpy as np

from protocol import Array, InputSnapshot, Metrics, RunStart
from sink.state import RunState
from tui.app import DashboardApp

ENVELOPE = dict(run_id="run42", world_size=2, time=1_700_000_000.0)


def feed(state: RunState) -> None:
    """Plays the sink's receiving thread: updates the state while the app runs."""
    for rank in (0, 1):
        state.apply(RunStart(rank=rank, seq=0, step=0, model_path="m", tokenizer_path="m", audio_tokenizer_path="a",
                             model_config={}, training_args={}, hostname="h", pid=1, capture_interval=10,
                             capture_ranks=[], **ENVELOPE), time.time())
        state.apply(Metrics(rank=rank, seq=1, step=7, values={"loss": 3.25 + rank, "learning_rate": 1e-3}, **ENVELOPE), time.time())
    snapshot = InputSnapshot(rank=0, seq=2, step=7, tensors=[], input_ids=Array.from_numpy(np.arange(3, dtype=np.int32)),
                             segments=[], sample_ids=[], speakers=[], languages=[], **ENVELOPE)
    state.apply(snapshot, time.time(), decoded_input="<|begin_of_text|>hello<|AUDIO_OUT|> x52")


async def test_updates_from_a_thread_appear_on_screen():
    state = RunState()
    app = DashboardApp(state, source="test")
    async with app.run_test(size=(120, 40)) as pilot:
        thread = threading.Thread(target=feed, args=(state,))
        thread.start()
        thread.join()
        await pilot.pause(0.3)  # two redraw ticks
        header = str(app.query_one("#run-header").render())
        assert "run42" in header and "step 7" in header and "ranks 2/2" in header
        table = app.query_one("#ranks")
        assert table.row_count == 2
        assert "3.2500" in [str(cell) for cell in table.get_row_at(0)]
        assert "hello<|AUDIO_OUT|> x52" in str(app.query_one("#decoded-input").render())


async def test_q_quits():
    app = DashboardApp(RunState(), source="test")
    async with app.run_test() as pilot:
        await pilot.press("q")
    assert app.return_code == 0
