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

SUMMARY_CHECK_S = 0.5
"""How often the dashboard asks whether its source is over (then it shows the run summary)."""
RESTART_REPLAY = "restart replay"
"""What `DashboardApp.run()` returns when the user asked to replay again from the start."""


class DashboardApp(App):
    CSS_PATH = "dashboard.tcss"
    TITLE = "stratlog"
    ENABLE_COMMAND_PALETTE = False
    """Every action has its own key; the palette would only take room in the footer."""
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="Quit (the demo stops its trainer too)"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, tooltip="Quit, from anywhere"),
        Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="This help"),
        Binding("s", "restart_replay", "Restart", show=False,
                tooltip="Replay: start again from the first record (paused after the first capture)"),
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
        self._summary_shown = False

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
        """Ends on the run summary (the sink's text): it stays until a key, which closes the app
        (in a replay, `s` restarts it instead; escape goes back to the dashboard). Shown once:
        called again (a timer that still fires) it changes nothing."""
        if not self._summary_shown:
            self._summary_shown = True
            self.push_screen(RunSummaryScreen(summary, restart_key="s" if self.player is not None else None))

    def show_summary_when(self, ended: Callable[[], bool], summary: Callable[[], str]) -> None:
        """Ends on the run summary once `ended()` says the source is over (asked every
        SUMMARY_CHECK_S): the training, the live run (--exit-after-run) or the replay."""

        def check() -> None:
            if not self._summary_shown and ended():
                self.show_summary(summary())

        self.call_later(lambda: self.set_interval(SUMMARY_CHECK_S, check))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        return self.player is not None or action != "restart_replay"

    def action_restart_replay(self) -> None:
        """Closes the dashboard with RESTART_REPLAY: the command replays again from the start through
        a fresh pipeline (analyses cannot run backwards, so a restart is a new replay)."""
        self.exit(RESTART_REPLAY)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen([*self.BINDINGS, *DashboardScreen.BINDINGS]))
