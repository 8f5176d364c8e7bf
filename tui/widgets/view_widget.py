"""`ViewWidget`: a Static that draws one part of a `DashboardView`, and only when it changed.

The screen hands every view to every such widget up to 20 times a second; each widget names
the few values its picture depends on (`key_of`) and re-renders only when they differ, so a
burst of metrics redraws the charts and header but leaves the token view and heatmap alone.
A widget that fails to draw shows the error in its place and posts `DrawingFailed` (once per
change of its data), so a strange frame never closes the dashboard.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from rich.text import Text
from textual.widgets import Static

from stratlog.sink.dashboard_view import DashboardView
from stratlog.sink.printable import printable
from stratlog.tui.messages import DrawingFailed


class ViewWidget(Static):
    def __init__(self, *, title: str = "", id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.border_title = title
        self._drawn_key: Any = object()

    def show(self, view: DashboardView) -> None:
        key = self.key_of(view)
        if key != self._drawn_key:
            self._drawn_key = key
            try:
                renderable = self.render_view(view)
            except Exception as error:  # noqa: BLE001 - by design: one strange capture must not close the dashboard
                renderable = Text(printable(f"cannot draw this: {type(error).__name__}: {error}"), style="bold red")
                self.post_message(DrawingFailed(type(self).__name__, error))
            self.update(renderable)

    def redraw(self) -> None:
        """Draw again at the next view even if the data did not change (a display option did)."""
        self._drawn_key = object()

    def key_of(self, view: DashboardView) -> Any:
        raise NotImplementedError

    def render_view(self, view: DashboardView) -> RenderableType:
        raise NotImplementedError


class CaptureWidget(ViewWidget):
    """Draws one snapshot kind of the viewed capture step, or says that step has none. The
    dashboard screen puts it in its kind's tab, in a frame titled `frame_title`."""

    snapshot = ""
    """The snapshot kind drawn (a key of `sink.snapshot_kinds`, e.g. "zero_shot")."""
    frame_title = ""
    missing = ""
    """What to show when the viewed step has no such snapshot."""

    def key_of(self, view: DashboardView) -> Any:
        capture = view.capture
        return (view.rank, capture.step if capture else None,
                capture is not None and self.snapshot in capture.snapshots)

    def render_view(self, view: DashboardView) -> RenderableType:
        capture = view.capture
        if capture is None or self.snapshot not in capture.snapshots:
            return Text(self.missing, style="dim")
        return self.render_snapshot(capture, capture.snapshots[self.snapshot], capture.readings.get(self.snapshot))

    def render_snapshot(self, capture, snapshot, readings) -> RenderableType:
        """`readings`: what the sink computed for this snapshot (its kind's `readings`), shown as is."""
        raise NotImplementedError
