"""`FindingsPanel`: one analysis's findings for the shown rank and step, worst first.

The detail tabs hold the full panel: every finding wrapped in full under its badge. The overview holds five
compact ones that fit their box (`FittedFindings`): every finding wrapped when the box has the
room; else each finding gets one line and the spare lines go to the worst ones' reasons; when
even one line each is too many, the last quiet findings (OK, PENDING: anything not WARN / FAIL)
collapse to one line per severity ("OK 3 more: audio_eos, ..."), and only when the problems
alone fill the box is a line left to count those not shown (the subtitle counts every severity). WARN and FAIL
never collapse, so a problem is never hidden behind a count; a taller terminal simply shows
more of every reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from stratlog.sink.dashboard_view import DashboardView
from stratlog.sink.findings import FAIL, WARN, Finding
from stratlog.sink.printable import printable
from stratlog.tui.styles import finding_line, severity_badge
from stratlog.tui.widgets.view_widget import ViewWidget

PROBLEMS = (FAIL, WARN)
INDENT = 5
"""Continuation lines start under the check name, after the 4-character badge and a space."""


class FindingsPanel(ViewWidget):
    def __init__(self, panel: str, title: str, *, compact: bool):
        super().__init__(title=title, id=f"{panel}-{'summary' if compact else 'findings'}",
                         classes="findings-panel compact" if compact else "findings-panel full")
        self.panel = panel
        self.compact = compact

    def key_of(self, view: DashboardView):
        return view.panels.get(self.panel, ())

    def render_view(self, view: DashboardView) -> Text | FittedFindings:
        """A full panel's height follows its content, so every finding wraps in full there."""
        findings = view.panels.get(self.panel, ())
        if self.compact:
            self.border_subtitle = severity_counts(findings)
        return FittedFindings(findings) if findings else Text("no findings yet", style="dim")


class FittedFindings:
    """Findings (worst first) laid out to the width and height Textual gives the panel."""

    def __init__(self, findings: Sequence[Finding]):
        self.problems = [finding for finding in findings if finding.severity in PROBLEMS]
        self.quiet = [finding for finding in findings if finding.severity not in PROBLEMS]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        yield from self.lines(console, width, options.height or 10**6)

    def lines(self, console: Console, width: int, height: int) -> list[Text]:
        findings = self.problems + self.quiet
        if len(findings) <= height:
            return expanded(findings, wrapped_all(console, findings, width), height)
        problems = len(self.problems)
        if problems > height:
            shown = height - 1
            return [one_line(finding_line(finding)) for finding in self.problems[:shown]] + [
                one_line(Text(f"… {problems - shown} more: see the tab", style="bold yellow"))]
        # The problems' reasons first, leaving a line per quiet severity; then as many quiet
        # findings one by one as leave room for one collapsed line per severity of the rest.
        wraps = wrapped_all(console, self.problems, width)
        severities = len({finding.severity for finding in self.quiet})
        kept = expanded(self.problems, wraps, min(max(height - severities, problems), sum(map(len, wraps))))
        room = height - len(kept)
        shown = room
        while shown > 0 and shown + len({finding.severity for finding in self.quiet[shown:]}) > room:
            shown -= 1
        quiet, hidden = self.quiet[:shown], self.quiet[shown:]
        return kept + [one_line(finding_line(finding)) for finding in quiet] + collapsed(quiet, hidden)[:room - shown]


def severity_counts(findings: Sequence[Finding]) -> str:
    """`1 WARN · 5 OK`, worst first (the findings come worst first)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return " · ".join(f"{count} {severity}" for severity, count in counts.items())


def finding_text(finding: Finding) -> Text:
    text = Text(finding.check, style="bold")
    return text.append(f": {printable(finding.reason)}")


def collapsed(shown: list[Finding], hidden: list[Finding]) -> list[Text]:
    """One line per severity of the `hidden` quiet findings: `OK  3 more: audio_eos, ...`
    (`3 checks:` when none of that severity is `shown` one by one)."""
    groups: dict[str, list[Finding]] = {}
    for finding in hidden:
        groups.setdefault(finding.severity, []).append(finding)
    lines = []
    for severity, group in groups.items():
        counted = "more" if any(finding.severity == severity for finding in shown) else \
            f"check{'s' if len(group) > 1 else ''}"
        text = Text(f"{len(group)} {counted}: ", style="bold").append(", ".join(f.check for f in group), style="dim")
        lines.append(one_line(Text.assemble(severity_badge(severity), " ", text)))
    return lines


def wrapped_all(console: Console, findings: Sequence[Finding], width: int) -> list[list[Text]]:
    return [wrapped(console, finding_text(finding), finding.severity, width) for finding in findings]


def wrapped(console: Console, text: Text, severity: str, width: int) -> list[Text]:
    """The badge, then `text` wrapped to the rest of the width with a hanging indent."""
    lines = text.wrap(console, max(width - INDENT, 1))
    return [Text.assemble(severity_badge(severity) if index == 0 else " " * (INDENT - 1), " ", line)
            for index, line in enumerate(lines)]


def trimmed(line: Text) -> Text:
    line = line.copy()
    line.rstrip()
    return line


def one_line(line: Text) -> Text:
    line.no_wrap, line.overflow = True, "ellipsis"
    return line


def expanded(findings: Sequence[Finding], wraps: list[list[Text]], height: int) -> list[Text]:
    """One line per finding, and the `height` left over to the first (worst) ones' wrapped
    reasons, in order; a reason cut short ends in "…"."""
    spare = height - len(findings)
    kept: list[Text] = []
    for finding, lines in zip(findings, wraps):
        extra = min(len(lines) - 1, max(spare, 0))
        spare -= extra
        if extra == len(lines) - 1:
            kept.extend(lines)
        elif extra == 0:
            kept.append(one_line(finding_line(finding)))
        else:
            rest = [line[INDENT:] for line in lines[extra + 1:]]
            kept.extend(lines[:extra])
            kept.append(one_line(Text(" ").join([trimmed(line) for line in (lines[extra], *rest)])))
    return kept
