"""The overview's findings panels fit their box (tui/widgets/overview/findings_panel.py): with
room every finding wraps in full under its badge; with less, the quiet ones (OK, PENDING) go to
one line each, then to one line per severity ("OK 3 checks: ..."); a WARN or FAIL is never
collapsed, and when even they do not fit, a line counts the ones not shown.
Run: ./run-tests tests/tui/test_findings_fit.py"""

from __future__ import annotations

import io

from rich.console import Console

from stratlog.sink.findings import FAIL, OK, WARN, Finding
from stratlog.tui.widgets.overview.findings_panel import FittedFindings, severity_counts

LONG = "the reference clip is silent in 3 of 4 samples; check the data set's reference audio paths and levels"


def finding(check: str, severity: str, reason: str = "fine") -> Finding:
    return Finding("run", 0, 10, "input", check, severity, reason)


FINDINGS = [finding("reference_audio", WARN, LONG), finding("rank_data", OK), finding("truncation", OK),
            finding("special_tokens", OK)]


def fitted(findings, width: int, height: int) -> list[str]:
    """The panel's lines as drawn in a box `width` x `height` (a cut line ends in "…")."""
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(FittedFindings(findings), height=height)
    return [line.rstrip() for line in console.file.getvalue().splitlines()]


def test_with_room_every_finding_wraps_in_full_with_a_hanging_indent():
    lines = fitted(FINDINGS, 40, 20)
    assert lines[0].startswith("WARN reference_audio: the reference")
    assert all(line.startswith("     ") for line in lines[1:4]), "the reason continues under the check name"
    assert " ".join(line.strip() for line in lines[:4]).endswith("levels") and len(lines) == 7
    assert all(len(line) <= 40 for line in lines)


def test_short_of_room_each_finding_gets_a_line_and_the_worst_the_spare_ones():
    lines = fitted(FINDINGS, 40, 5)
    assert lines[0].startswith("WARN reference_audio") and lines[1].startswith("     ") and lines[1].endswith("…")
    assert lines[2:] == [" OK  rank_data: fine", " OK  truncation: fine", " OK  special_tokens: fine"]


def test_with_fewer_lines_than_findings_the_quiet_ones_collapse_by_severity():
    findings = [*FINDINGS, finding("conditioning_effect", "PENDING", "pending until step 140")]
    lines = fitted(findings, 40, 3)
    assert lines[0].startswith("WARN reference_audio") and lines[0].endswith("…")
    assert lines[1:] == [" OK  3 checks: rank_data, truncation, s…", "PEND 1 check: conditioning_effect"]
    lines = fitted(findings, 40, 4)
    assert lines[1].startswith("     ") and lines[2].startswith(" OK  3 checks") and len(lines) == 4


def test_quiet_findings_fill_the_box_one_by_one_and_the_rest_collapse():
    findings = [finding(f"check_{index}", OK) for index in range(6)]
    assert fitted(findings, 40, 4) == [" OK  check_0: fine", " OK  check_1: fine", " OK  check_2: fine",
                                       " OK  3 more: check_3, check_4, check_5"]


def test_problems_are_cut_to_a_line_each_but_never_collapsed():
    findings = [finding("audio_eos", FAIL, LONG), *FINDINGS]
    lines = fitted(findings, 40, 3)
    assert lines[0].startswith("FAIL audio_eos") and lines[0].endswith("…")
    assert lines[1].startswith("WARN reference_audio") and lines[1].endswith("…")
    assert lines[2].startswith(" OK  3 checks")
    assert fitted(findings, 40, 2) == lines[:2], "the quiet line goes first (the subtitle counts it)"


def test_more_problems_than_lines_are_counted():
    findings = [finding(f"check_{index}", WARN, LONG) for index in range(5)]
    lines = fitted(findings, 40, 3)
    assert lines[:2] == [line for line in lines[:2] if line.startswith("WARN check_")]
    assert lines[2] == "… 3 more: see the tab"


def test_the_subtitle_counts_every_severity_worst_first():
    assert severity_counts([finding("a", WARN), finding("b", OK), finding("c", OK)]) == "1 WARN · 2 OK"
