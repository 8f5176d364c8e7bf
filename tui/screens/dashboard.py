"""`DashboardScreen`: the main screen: header, tabs (overview, one per snapshot kind, history), footer.

The snapshot kinds' panels and tabs come from `sink.snapshot_kinds`, in its order; a kind's
tab holds its findings, the widgets that draw its snapshots (DETAIL_WIDGETS, each naming
its kind) and its trends over captures (`TRENDS`), so a kind without a widget still gets its
panel and tab. The screen draws
`DashboardView`s of the model and owns what the user is looking at: the rank, the capture step
(None follows the latest) and the tab. Redraws are throttled: a `DataChanged` from the
receiving thread schedules one redraw no sooner than REDRAW_INTERVAL_S after the previous one,
so at most about 20 a second however fast messages arrive; each widget then re-renders only
what its data changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, TabbedContent, TabPane

from stratlog.sink import snapshot_kinds
from stratlog.sink.dashboard_model import CHART_METRICS, TRENDS, DashboardModel
from stratlog.sink.dashboard_view import DashboardView, panels
from stratlog.sink.replay import ReplayPlayer
from stratlog.tui.feed import ChangeNotifier
from stratlog.tui.messages import DataChanged, DrawingFailed
from stratlog.tui.screens.seek import SeekScreen
from stratlog.tui.widgets.attention.attention_heatmap import AttentionHeatmap
from stratlog.tui.widgets.attention.dual_ffn_table import DualFfnTable
from stratlog.tui.widgets.header.run_header import RunHeader
from stratlog.tui.widgets.history.findings_history import FindingsHistory
from stratlog.tui.widgets.input.token_view import TokenView
from stratlog.tui.widgets.output.codebook_bars import CodebookBars
from stratlog.tui.widgets.overview.findings_panel import FindingsPanel
from stratlog.tui.widgets.overview.metric_chart import MetricChart
from stratlog.tui.widgets.overview.trend_chart import TrendChart
from stratlog.tui.widgets.view_widget import CaptureWidget
from stratlog.tui.widgets.zero_shot.zero_shot_table import ZeroShotTable

REDRAW_INTERVAL_S = 0.05
"""At most 20 redraws a second: smooth to the eye, a small share of one core."""
DETAIL_WIDGETS: tuple[type[CaptureWidget], ...] = (TokenView, CodebookBars, AttentionHeatmap, DualFfnTable, ZeroShotTable)
"""Widgets drawing a snapshot kind's snapshots, in the order they stack in its tab."""
REPLAY_ACTIONS = {"toggle_pause", "faster", "slower"}


def tab_ids() -> tuple[str, ...]:
    """Every tab in order; a tab's label is its number and its id capitalised ("5 Zero-shot")."""
    return ("overview", *(tab_id(kind) for kind in snapshot_kinds.SNAPSHOT_KINDS), "history")


def tab_id(kind: snapshot_kinds.SnapshotKind) -> str:
    return kind.key.replace("_", "-")


class DashboardScreen(Screen):
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    """Below 34 rows the overview's trend charts and secondary metric charts give their room to the findings."""
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (160, "-wide")]
    """From 160 columns the overview's findings panels stand side by side in one row."""
    BINDINGS = [
        # The footer shows one key of each pair so that it fits 80 columns; the help screen
        # lists every key with its tooltip.
        Binding("left", "step(-1)", "Step", key_display="←→", priority=True,
                tooltip="Show the previous capture step of this rank (from history)"),
        Binding("right", "step(1)", "Step forward", priority=True, show=False,
                tooltip="Show the next capture step; past the last one, follow the latest again"),
        Binding("home", "oldest_step", "Oldest step", show=False, tooltip="Show the oldest capture step kept"),
        Binding("end", "follow", "Latest", tooltip="Follow the latest capture step as it arrives"),
        Binding("r", "rank(1)", "Rank", tooltip="Show the next rank"),
        Binding("R", "rank(-1)", "Previous rank", show=False, tooltip="Show the previous rank"),
        Binding("u", "run(1)", "Run", show=False,
                tooltip="Show the next run this sink has seen (its history is kept); U: the previous one"),
        Binding("U", "run(-1)", "Previous run", show=False, tooltip="Show the previous run this sink has seen"),
        Binding("g", "seek", "Go to step", tooltip="Replay: play on to a later step; otherwise show a kept step"),
        Binding("space", "toggle_pause", "Pause", tooltip="Replay: pause or resume"),
        Binding("plus,equals_sign", "faster", "Speed", key_display="+-", tooltip="Replay: faster"),
        Binding("minus", "slower", "Slower", show=False, tooltip="Replay: slower"),
        Binding("a", "next_table", "Heatmap statistic", show=False,
                tooltip="Attention tab: show the next statistic in the heatmap"),
        *(Binding(str(number), f"tab('{tab}')", f"{tab.capitalize()} tab", show=False, tooltip=f"Show the {tab} tab")
          for number, tab in enumerate(tab_ids(), start=1)),
    ]

    def __init__(self, model: DashboardModel, *, source: Callable[[], str], clock: Callable[[], float],
                 player: ReplayPlayer | None = None):
        super().__init__()
        self.model = model
        self.source = source
        self.clock = clock
        self.player = player
        self.rank: int | None = None
        """The rank shown: rank 0 (or the lowest known) until the user picks one with r."""
        self._rank_chosen = False
        self.step: int | None = None
        """The capture step shown; None follows the latest."""
        self.redraws = 0
        self.view: DashboardView | None = None
        self._notifier = ChangeNotifier(self)
        self._redraw_timer: Timer | None = None
        self._last_redraw = 0.0
        self._shown: list = []

    def compose(self) -> ComposeResult:
        yield RunHeader(self.source, id="run-header")
        labels = {tab: f"{number} {tab.capitalize()}" for number, tab in enumerate(tab_ids(), start=1)}
        with TabbedContent(initial="overview"):
            with TabPane(labels["overview"], id="overview"):
                with Grid(id="charts") as charts:
                    charts.border_title = "Metrics"
                    for metric in CHART_METRICS:
                        yield MetricChart(metric)
                with Horizontal(id="trends") as trends:
                    trends.border_title = "Over captures"
                    for trend in TRENDS:
                        yield TrendChart(trend)
                with Grid(id="summaries"):
                    for key, title in panels():
                        yield FindingsPanel(key, title, compact=True)
            for kind in snapshot_kinds.SNAPSHOT_KINDS:
                with TabPane(labels[tab_id(kind)], id=tab_id(kind)):
                    yield _scrolling(FindingsPanel(kind.key, "", compact=False), kind.findings_title, "findings-frame")
                    for widget in DETAIL_WIDGETS:
                        if widget.snapshot == kind.key:
                            yield _scrolling(widget(), widget.frame_title)
                    if trends := [trend for trend in self.model.trends if trend.snapshot == kind.key]:
                        with Horizontal(classes="detail trends-frame") as frame:
                            frame.border_title = "Over captures"
                            for trend in trends:
                                yield TrendChart(trend)
            with TabPane(labels["history"], id="history"):
                yield FindingsHistory(id="findings-history")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # Every widget that shows the view, found once: none is added after compose.
        self._shown = [self.query_one(RunHeader),
                       *self.query(".follows-view, MetricChart, TrendChart, FindingsPanel, FindingsHistory")]
        self.model.listener = self._notifier
        self._redraw()
        self.set_interval(1.0, self._schedule_redraw)  # ages and replay status move without messages

    def on_unmount(self) -> None:
        self.model.listener = None

    def on_data_changed(self, _: DataChanged) -> None:
        self._schedule_redraw()

    def on_drawing_failed(self, failure: DrawingFailed) -> None:
        self.model.drawing_failed(failure.widget, failure.error, rank=self.rank, step=self.view.shown_step if self.view else None)

    def _schedule_redraw(self) -> None:
        if self._redraw_timer is None:
            wait = max(0.0, self._last_redraw + REDRAW_INTERVAL_S - time.monotonic())
            self._redraw_timer = self.set_timer(max(wait, 0.001), self._scheduled_redraw)  # 0 s is not allowed

    def _scheduled_redraw(self) -> None:
        self._redraw_timer = None
        self._redraw()

    def _redraw_now(self) -> None:
        """After a key: draw at once, and drop the pending redraw this one makes redundant."""
        if self._redraw_timer is not None:
            self._redraw_timer.stop()
            self._redraw_timer = None
        self._redraw()

    def _redraw(self) -> None:
        self._last_redraw = time.monotonic()
        self._notifier.taken()  # before reading: any later change posts a new DataChanged
        view = self.view = self.model.view(self.rank if self._rank_chosen else None, self.step, now=self.clock())
        self.rank = view.rank
        self.redraws += 1
        for widget in self._shown:
            widget.show(view)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Replay controls exist only when a replay feeds the dashboard (hidden otherwise)."""
        return self.player is not None or action not in REPLAY_ACTIONS

    def action_step(self, delta: int) -> None:
        steps = self.view.capture_steps if self.view else ()
        if not steps:
            return
        index = len(steps) - 1 if self.step not in steps else steps.index(self.step)
        index = min(max(index + delta, 0), len(steps) - 1)
        self.step = None if index == len(steps) - 1 else steps[index]
        self._redraw_now()

    def action_oldest_step(self) -> None:
        if self.view and self.view.capture_steps:
            self.step = self.view.capture_steps[0]
            self._redraw_now()

    def action_follow(self) -> None:
        self.step = None
        self._redraw_now()

    def action_rank(self, delta: int) -> None:
        ranks = [summary.rank for summary in self.view.ranks] if self.view else []
        if ranks:
            index = ranks.index(self.rank) if self.rank in ranks else 0
            self.rank = ranks[(index + delta) % len(ranks)]
            self._rank_chosen = True
            self._redraw_now()

    def action_run(self, delta: int) -> None:
        """Another run of the sink's: its latest step, its lowest rank, until the user picks again."""
        if self.model.state.show_next_run(delta) != (self.view.run_id if self.view else None):
            self.step, self.rank, self._rank_chosen = None, None, False
            self._redraw_now()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_next_table(self) -> None:
        self.query_one(AttentionHeatmap).next_table()
        self._redraw_now()

    def action_toggle_pause(self) -> None:
        self.player.toggle_pause()
        self._redraw_now()

    def action_faster(self) -> None:
        self.player.faster()
        self._redraw_now()

    def action_slower(self) -> None:
        self.player.slower()
        self._redraw_now()

    def action_seek(self) -> None:
        hint = ("A later step plays the replay on to it; an earlier one shows it from history."
                if self.player else "Shows the latest kept capture at or before that step.")
        self.app.push_screen(SeekScreen(hint), self._seek_to)

    def _seek_to(self, step: int | None) -> None:
        if step is None:
            return
        if self.player is not None and self.player.seek(step):
            self.step = None  # follow the replay as it arrives there
        else:
            kept = [capture for capture in (self.view.capture_steps if self.view else ()) if capture <= step]
            if not kept:
                self.notify(f"step {step} is not in the history kept for this rank", severity="warning")
                return
            self.step = kept[-1]
        self._redraw_now()


def _scrolling(widget, title: str, classes: str = "detail") -> VerticalScroll:
    """A detail widget in a titled, scrollable frame: full-size tables outgrow small terminals."""
    widget.add_class("follows-view")
    frame = VerticalScroll(widget, classes=classes)
    frame.border_title = title
    return frame
