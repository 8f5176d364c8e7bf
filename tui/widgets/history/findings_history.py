"""`FindingsHistory`: every finding as it arrives, newest at the bottom, all ranks of the run
shown (switching runs starts it again from that run's recent findings).

A log, not a table: findings are appended, never redrawn, so a long run costs one line per
finding; `max_lines` bounds it like the sink's own in-memory list (findings.jsonl has all).
"""

from __future__ import annotations

from textual.widgets import RichLog

from stratlog.sink.dashboard_view import HISTORY_SHOWN, DashboardView
from stratlog.tui.styles import finding_line


class FindingsHistory(RichLog):
    def __init__(self, *, id: str | None = None):
        super().__init__(id=id, max_lines=HISTORY_SHOWN, wrap=False, auto_scroll=True)
        self.border_title = "Findings history (all ranks)"
        self._written = 0
        self._run_id = ""

    def show(self, view: DashboardView) -> None:
        if view.run_id != self._run_id:
            self._run_id = view.run_id
            self.clear()
            self._written = view.findings_total - len(view.recent_findings)
        new = min(view.findings_total - self._written, len(view.recent_findings))
        if new <= 0:
            return
        self._written = view.findings_total
        for finding in view.recent_findings[-new:]:
            self.write(finding_line(finding, with_origin=True))
