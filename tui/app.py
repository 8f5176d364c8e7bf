"""`DashboardApp`: run header, per-rank table (step, loss, drops, gaps), latest decoded input.

It never blocks the sink: the receiving thread only updates `RunState` (under its lock) and
the app polls the state's `version` on a 10 Hz timer, redrawing only when it changed. So a
burst of messages costs the UI at most ten redraws a second, and a slow terminal never
slows the sink.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Static

from sink.state import RunState

STALL_AFTER_S = 10.0


class DashboardApp(App):
    CSS_PATH = "dashboard.tcss"
    TITLE = "stratlog"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, state: RunState, *, source: str, status: Callable[[], str] | None = None):
        super().__init__()
        self.state = state
        self.source = source
        self.status = status or (lambda: "")
        self._drawn_version = -1

    def compose(self) -> ComposeResult:
        yield Static(id="run-header")
        table = DataTable(id="ranks", cursor_type="none")
        table.border_title = "Ranks"
        yield table
        decoded = Static(id="decoded-input")
        decoded.border_title = "Latest decoded input (rank 0)"
        yield decoded
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("rank", "step", "loss", "text loss", "audio loss", "lr", "drops", "gaps", "state")
        self.redraw()
        self.set_interval(0.1, self.redraw)

    def redraw(self) -> None:
        state = self.state
        with state.lock:
            if state.version == self._drawn_version and not self.status():
                return
            self._drawn_version = state.version
            ranks = sorted(state.ranks.values(), key=lambda r: r.rank)
            header = (
                f"run [b]{state.run_id or '—'}[/b]   step [b]{state.step}[/b]   "
                f"ranks {len(ranks)}/{state.world_size or '?'}   messages {state.messages}   "
                f"bad frames {sum(state.bad_frames.values())}\nsource {self.source}   {self.status()}"
            )
            rows = [
                (
                    str(r.rank), str(r.step), _fmt(r.metrics.get("loss")), _fmt(r.metrics.get("text_loss")),
                    _fmt(r.metrics.get("audio_loss")), _fmt(r.metrics.get("learning_rate"), ".2e"),
                    str(r.reported_drops), str(r.gaps), _rank_state(r.ended, r.last_message_time),
                )
                for r in ranks
            ]
            first = ranks[0] if ranks else None
            decoded = f"step {first.input_step}: {first.decoded_input}" if first and first.decoded_input else "waiting for an input snapshot…"
        self.query_one("#run-header", Static).update(header)
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(*row)
        self.query_one("#decoded-input", Static).update(Text(decoded))


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "—" if value is None else format(value, spec)


def _rank_state(ended: str, last_message_time: float) -> str:
    if ended:
        return ended
    if last_message_time and time.time() - last_message_time > STALL_AFTER_S:
        return "stalled"
    return "live"
