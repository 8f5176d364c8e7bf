"""`RunHeader`: the run at a glance: run, step, ranks, source and its state, stream health
(the ranks' drops and gaps, refused frames, frames the sink failed to handle, and a live sink's
own lag and drops), and which rank and capture step the panels below show."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group
from rich.text import Text

from stratlog.sink.dashboard_view import DashboardView
from stratlog.sink.printable import printable
from stratlog.tui.widgets.view_widget import ViewWidget

RANK_STYLE = {"live": "green", "stalled": "bold white on red", "completed": "dim", "failed": "bold red",
              "interrupted": "yellow"}
LAG_SHOWN_S = 1.0
"""A live sink this far behind has its lag highlighted: more than a burst of snapshots takes."""
STEPS_AROUND = 3
"""Capture steps shown either side of the current one: the line must fit 80 columns."""


class RunHeader(ViewWidget):
    def __init__(self, source: Callable[[], str], *, id: str | None = None):
        """`source` describes where the data comes from and its state (listening address,
        replay file, paused / speed, training status); it is asked at every redraw."""
        super().__init__(id=id)
        self.source = source
        self._source_text = ""

    def key_of(self, view: DashboardView):
        self._source_text = self.source()  # asked once per redraw: it may poll the trainer or the player
        age = None if view.last_message_age_s is None else round(view.last_message_age_s, 1)
        load = view.sink_load
        load_key = None if load is None else (round(load.lag_s, 1), load.dropped_frames)
        return (view.run_id, view.ranks, view.messages, view.drops, view.gaps, view.bad_frames, view.analysis_errors,
                load_key, view.writes_paused, age, view.rank, view.shown_step, view.capture_steps, view.following, self._source_text)

    def render_view(self, view: DashboardView) -> Group:
        # Until the first capture the position line has nothing to place, and the source's word
        # (the trainer's progress and its log's path) is at its longest: it gets that line's room
        if view.shown_step is None:
            position = _position_line(view)
            if self._source_text:
                position.append("   ").append(self._source_text)
            return Group(_run_line(view), _health_line(view, ""), position)
        return Group(_run_line(view), _health_line(view, self._source_text), _position_line(view))


def _line() -> Text:
    return Text(no_wrap=True, overflow="ellipsis")


def _run_line(view: DashboardView) -> Text:
    line = _line()
    line.append("run ", style="dim").append(printable(view.run_id[:8]) or "—", style="bold")
    line.append("  step ", style="dim").append(str(view.step), style="bold")
    line.append("  ranks ", style="dim").append(f"{len(view.ranks)}/{view.world_size or '?'}", style="bold")
    line.append("  messages ", style="dim").append(str(view.messages))
    if view.last_message_age_s is not None:
        line.append("  last message ", style="dim").append(f"{view.last_message_age_s:.1f} s ago")
    return line


def _health_line(view: DashboardView, source: str) -> Text:
    line = _line()
    counts = [("drops", view.drops), ("gaps", view.gaps), ("bad frames", view.bad_frames)]
    # Alarms that are 0 in a healthy run take room only when they are not, so the line fits 80 columns
    counts += [(label, count) for label, count in (("analysis errors", view.analysis_errors),
                                                   ("sink dropped", view.sink_load.dropped_frames if view.sink_load else 0))
               if count]
    for label, count in counts:
        line.append(f"{label} ", style="dim").append(str(count), style="bold red" if count else "green").append("  ")
    if view.sink_load is not None:
        lag = view.sink_load.lag_s
        line.append("lag ", style="dim").append(f"{lag:.1f} s", style="bold yellow" if lag >= LAG_SHOWN_S else "green")
        line.append("  ")
    if view.writes_paused:
        line.append("writing paused ", style="dim").append(view.writes_paused, style="bold red").append("  ")
    line.append(source)
    return line


def _position_line(view: DashboardView) -> Text:
    line = _line()
    line.append("rank ", style="dim")
    for summary in view.ranks:
        style = RANK_STYLE.get(summary.status, "")
        label = f"[{summary.rank}]" if summary.rank == view.rank else f" {summary.rank} "
        line.append(label, style=f"{style} reverse" if summary.rank == view.rank else style)
    line.append("   capture ", style="dim")
    if view.shown_step is None:
        return line.append("none yet")
    index = view.capture_steps.index(view.shown_step)
    window = view.capture_steps[max(index - STEPS_AROUND, 0): index + STEPS_AROUND + 1]
    if window[0] != view.capture_steps[0]:
        line.append(" …", style="dim")
    for step in window:
        line.append(f" [{step}]" if step == view.shown_step else f" {step}",
                    style="bold reverse" if step == view.shown_step else "dim")
    if window[-1] != view.capture_steps[-1]:
        line.append(" …", style="dim")
    line.append(f"  {index + 1}/{len(view.capture_steps)}", style="dim")
    return line.append("  (following the latest)" if view.following else "  (held; end: latest)", style="dim")
