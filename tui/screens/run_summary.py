"""`RunSummaryScreen`: the dashboard's final screen, the sink's end-of-run summary as text.

The summary is built by the sink (`sink.run_summary`), so the screen only shows it. It stays
until a key is pressed, then the app exits: the result of a run must not vanish with the
dashboard the moment training ends.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static


class RunSummaryScreen(Screen[None]):
    def __init__(self, summary: str):
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="summary-body") as body:
            body.border_title = "Run finished — press any key to close"
            yield Static(self.summary, markup=False)

    def on_key(self, event: events.Key) -> None:
        event.stop()
        self.app.exit()
