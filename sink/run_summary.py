"""The end-of-run summary: per check, its worst severity, the first step it reached it and how often.

Built once here from the findings the pipeline produced, so every front end says the same:
headless sinks and replays print it, the dashboard's final screen shows it, and `--fail-on`
reads its worst severity for the exit code. It also picks the findings worth a live line: one
that moves a check (per run and rank) to WARN or FAIL, not each repeat of the same verdict,
so a headless sink's output stays readable for a whole run.

A check's summary is its worst severity, so a later OK never hides an earlier FAIL or WARN.
PENDING (a check inside its grace) ranks below OK: a check that was pending and then passed
reads OK, and one still pending when the run ended reads PENDING, neither a pass nor an alarm.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from stratlog.sink.analysis.history import forget_run
from stratlog.sink.findings import FAIL, OK, PENDING, WARN, Finding

SEVERITY_RANK = {PENDING: -1, OK: 0, WARN: 1, FAIL: 2}
"""Order of the severities: the worst is the highest."""
ALARMS = (WARN, FAIL)
FAIL_ON_EXIT_CODE = 3
"""Exit code of a sink, replay or demo whose run reached the severity given to --fail-on."""


@dataclass
class CheckSummary:
    """One check (analysis/check, all ranks together) over the whole run."""

    worst: str
    first_step: int | None
    """Step of the first finding at `worst` (None: a finding about the stream with no step)."""
    count: int
    """Findings at `worst`."""
    total: int
    """All findings of the check."""
    reason: str
    """The first finding at `worst`'s reason: what to check first."""


class RunSummary:
    def __init__(self):
        self._checks: dict[tuple[str, str], CheckSummary] = {}
        self._current: dict[tuple, str] = {}
        """(run, rank, analysis, check) -> its latest severity, to tell a change from a repeat."""
        self._lock = threading.Lock()
        """The receiving thread adds while a dashboard's thread may read the summary."""

    def add(self, findings: list[Finding]) -> list[Finding]:
        """Counts `findings`; returns those that moved their check to WARN or FAIL (the live lines)."""
        alarms = []
        checks, current = self._checks, self._current
        with self._lock:
            for finding in findings:
                severity, analysis, name = finding.severity, finding.analysis, finding.check
                check = checks.get((analysis, name))
                if check is None:
                    check = checks[analysis, name] = CheckSummary(severity, finding.step, 1, 1, finding.reason)
                elif severity == check.worst:  # nearly every finding: a repeat of its check's worst
                    check.total += 1
                    check.count += 1
                elif SEVERITY_RANK[severity] > SEVERITY_RANK[check.worst]:
                    check = checks[analysis, name] = CheckSummary(severity, finding.step, 1, check.total + 1, finding.reason)
                else:
                    check.total += 1
                where = (finding.run_id, finding.rank, analysis, name)
                if current.get(where) != severity:
                    current[where] = severity
                    if severity in ALARMS:
                        alarms.append(finding)
        return alarms

    def forget(self, run_id: str) -> None:
        """A run the sink no longer keeps (`sink.state.RUNS_KEPT`): its checks' counts stay in the
        summary, only what tells its next verdict's change from a repeat goes."""
        with self._lock:
            forget_run(self._current, run_id)

    def worst(self) -> str:
        """The worst severity of any check (OK when there was no finding or only pending ones)."""
        with self._lock:
            return max((OK, *(check.worst for check in self._checks.values())), key=SEVERITY_RANK.get)

    def checks(self) -> dict[tuple[str, str], CheckSummary]:
        """A copy, worst first, then by analysis and check."""
        with self._lock:
            ordered = sorted(self._checks.items(), key=lambda item: (-SEVERITY_RANK[item[1].worst], item[0]))
            return {key: CheckSummary(**vars(check)) for key, check in ordered}

    def text(self, log_paths: list[Path]) -> str:
        """The summary as printed and shown: one line per check, then the counts and the log paths."""
        checks = self.checks()
        width = max((len(f"{analysis}/{check}") for analysis, check in checks), default=0)
        lines = ["run summary (per check: worst severity, first step at it, findings at it / all)"]
        for (analysis, name), check in checks.items():
            step = "-" if check.first_step is None else str(check.first_step)
            line = f"  {check.worst:<7} {analysis + '/' + name:<{width}}  step {step:>5}  {check.count}/{check.total}"
            lines.append(line + (f"  {check.reason}" if check.worst != OK else ""))
        counts = {severity: sum(check.worst == severity for check in checks.values()) for severity in SEVERITY_RANK}
        pending = f", {counts[PENDING]} PENDING (still in their grace when the run ended)" if counts[PENDING] else ""
        lines.append(f"checks: {counts[FAIL]} FAIL, {counts[WARN]} WARN, {counts[OK]} OK{pending}")
        lines.extend(f"log: {path}" for path in log_paths)
        return "\n".join(lines)


def alarm_line(finding: Finding) -> str:
    """The live line for a finding that moved its check to WARN or FAIL."""
    where = "stream" if finding.rank is None else f"rank {finding.rank}"
    step = "" if finding.step is None else f" step {finding.step}"
    return f"{finding.severity} {finding.analysis}/{finding.check} ({where}{step}): {finding.reason}"


def fails_on(summary: RunSummary, threshold: str | None) -> bool:
    """Whether `--fail-on threshold` (None: off) turns this run into a failing exit code."""
    return threshold is not None and SEVERITY_RANK[summary.worst()] >= SEVERITY_RANK[threshold.upper()]
