"""Severity colours and the one-line form of a finding, shared by every panel that lists
findings, so OK / WARN / FAIL look the same in the overview, the detail tabs and the history.
Reasons quote the ranks' data (sample ids, error messages): their control characters are
shown escaped, never sent to the terminal."""

from __future__ import annotations

from rich.text import Text

from stratlog.sink.findings import FAIL, OK, PENDING, WARN, Finding
from stratlog.sink.printable import printable

SEVERITY_STYLE = {OK: "bold green", WARN: "bold yellow", FAIL: "bold white on red", PENDING: "bold cyan"}
SEVERITY_MARK = {OK: " OK ", WARN: "WARN", FAIL: "FAIL", PENDING: "PEND"}


def severity_badge(severity: str) -> Text:
    return Text(SEVERITY_MARK.get(severity, severity[:4].center(4)), style=SEVERITY_STYLE.get(severity, "bold"))


def finding_line(finding: Finding, *, with_origin: bool = False) -> Text:
    """`FAIL check: reason`, optionally prefixed with the step and rank it is about."""
    line = Text(no_wrap=True, overflow="ellipsis")
    if with_origin:
        origin = "run" if finding.rank is None else f"r{finding.rank}"
        step = "" if finding.step is None else f"{finding.step:>5}"
        line.append(f"{step} {origin:>3} {finding.analysis:<9} ", style="dim")
    line.append_text(severity_badge(finding.severity))
    line.append(f" {finding.check}", style="bold")
    line.append(f": {printable(finding.reason)}")
    return line
