"""`DashboardApp`: the optional Textual front end of the sink, live or replayed.

Thin on purpose: it wires a `DashboardModel` (sink/, no Textual) to the `DashboardScreen`,
knows the few app-wide keys (quit, help), and describes its source for the header. The sink
never waits for it: the receiving thread only updates the model, and the model's listener
posts one collapsible message to the screen (see tui/feed.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import App
from textual.binding import Binding

from stratlog.sink.dashboard_model import DashboardModel
from stratlog.sink.replay import ReplayPlayer
from stratlog.tui.screens.dashboard import DashboardScreen
from stratlog.tui.screens.help import HelpScreen
from stratlog.tui.screens.run_summary import RunSummaryScreen


class DashboardApp(App):
    CSS_PATH = "dashboard.tcss"
    TITLE = "stratlog"
    ENABLE_COMMAND_PALETTE = False
    """Every action has its own key; the palette would only take room in the footer."""
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Quit (the demo stops its trainer too)"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="Quit, from anywhere"),
        Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="This help"),
    ]

    def __init__(self, model: DashboardModel, *, source: str, player: ReplayPlayer | None = None,
                 status: Callable[[], str] | None = None, clock: Callable[[], float] | None = None):
        """`source` names where data comes from ("live tcp://..." or "replay FILE"); `status`
        adds a word about it (the demo's training state); `clock` is "now" for message ages:
        the wall clock live, the replay's position by default when replaying."""
        super().__init__()
        self.model = model
        self.player = player
        self._source = source
        self._status = status
        self._clock = clock or (player.clock if player is not None else time.time)

    def get_default_screen(self) -> DashboardScreen:
        return DashboardScreen(self.model, source=self.describe_source, clock=self._clock, player=self.player)

    def describe_source(self) -> str:
        parts = [self._source]
        if self.player is not None:
            parts.append(self.player.status().describe())
        if self._status is not None and (status := self._status()):
            parts.append(status)
        return " · ".join(parts)

    def show_summary(self, summary: str) -> None:
        """Ends on the run summary (the sink's text): it stays until a key, which closes the app.
        Called again (a timer that still fires) it changes nothing."""
        if not isinstance(self.screen, RunSummaryScreen):
            self.push_screen(RunSummaryScreen(summary))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen([*self.BINDINGS, *DashboardScreen.BINDINGS]))
