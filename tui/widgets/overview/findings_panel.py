"""`FindingsPanel`: one analysis's findings for the shown rank and step, worst first.

The overview holds five compact ones (one line per finding, cut at the panel's edge); each
detail tab holds the full one, where a reason wraps so it can be read in full.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from stratlog.sink.dashboard_view import DashboardView
from stratlog.tui.styles import finding_line
from stratlog.tui.widgets.view_widget import ViewWidget


class FindingsPanel(ViewWidget):
    def __init__(self, panel: str, title: str, *, compact: bool):
        super().__init__(title=title, id=f"{panel}-{'summary' if compact else 'findings'}",
                         classes="findings-panel compact" if compact else "findings-panel full")
        self.panel = panel
        self.compact = compact

    def key_of(self, view: DashboardView):
        return view.panels.get(self.panel, ())

    def render_view(self, view: DashboardView) -> Group | Text:
        findings = view.panels.get(self.panel, ())
        if not findings:
            return Text("no findings yet", style="dim")
        lines = [finding_line(finding) for finding in findings]
        if not self.compact:
            for line in lines:
                line.no_wrap, line.overflow = False, "fold"
        return Group(*lines)
