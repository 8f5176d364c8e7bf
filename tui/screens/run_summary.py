"""`RunSummaryScreen`: the dashboard's final screen, the sink's end-of-run summary as text.

The summary is built by the sink (`sink.run_summary`), so the screen only shows it. It stays
until a key is pressed, then the app exits: the result of a run must not vanish with the
dashboard the moment training ends (or a replay is over; there one key replays it again).
Escape goes back to the dashboard, to look at the finished run; it is not shown again.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static


class RunSummaryScreen(Screen[None]):
    def __init__(self, summary: str, *, restart_key: str | None = None):
        """`restart_key`: the key that runs the app's `restart_replay` action instead (a replay)."""
        super().__init__()
        self.summary = summary
        self.restart_key = restart_key

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary-body") as body:
            again = f", {self.restart_key} to replay it again" if self.restart_key else ""
            body.border_title = f"Run finished — press any key to close, escape to look at the dashboard{again}"
            yield Static(self.summary, markup=False)

    async def on_key(self, event: events.Key) -> None:
        event.stop()
        if event.key == self.restart_key:
            await self.app.run_action("restart_replay")
        elif event.key == "escape":
            self.dismiss()
        else:
            self.app.exit()
