"""The end-of-run summary from hand-built findings: worst severity per check, the first step at
it, counts, and the live lines (a change to WARN/FAIL, not its repeats).
Run: ./run-tests tests/sink/test_run_summary.py"""

from __future__ import annotations

from pathlib import Path

from stratlog.sink.findings import FAIL, OK, PENDING, WARN, Finding
from stratlog.sink.run_summary import RunSummary, fails_on


def finding(step, severity, *, rank=0, check="grad_norm", analysis="metrics"):
    return Finding("run", rank, step, analysis, check, severity, f"{severity} at {step}")


def test_worst_severity_first_step_and_counts_per_check():
    summary = RunSummary()
    summary.add([finding(1, OK), finding(2, WARN), finding(3, FAIL), finding(4, WARN), finding(5, FAIL, rank=1)])
    summary.add([finding(1, OK, check="lr"), finding(2, OK, check="lr")])
    checks = summary.checks()
    assert list(checks) == [("metrics", "grad_norm"), ("metrics", "lr")]  # worst first
    grad = checks[("metrics", "grad_norm")]
    assert (grad.worst, grad.first_step, grad.count, grad.total, grad.reason) == (FAIL, 3, 2, 5, "FAIL at 3")
    lr = checks[("metrics", "lr")]
    assert (lr.worst, lr.first_step, lr.count, lr.total) == (OK, 1, 2, 2)
    assert summary.worst() == FAIL


def test_a_later_ok_never_hides_an_earlier_fail():
    """lr 0 at step 6 and a healthy lr later (or the end of a decay): the run's verdict stays FAIL."""
    summary = RunSummary()
    summary.add([finding(1, OK, check="learning_rate"), finding(6, FAIL, check="learning_rate")])
    summary.add([finding(step, OK, check="learning_rate") for step in range(7, 200)])
    check = summary.checks()[("metrics", "learning_rate")]
    assert (check.worst, check.first_step, check.count) == (FAIL, 6, 1)
    assert summary.worst() == FAIL and fails_on(summary, "fail")
    assert "  FAIL    metrics/learning_rate  step     6  1/195  FAIL at 6" in summary.text([])


def test_pending_is_below_ok_and_never_an_alarm():
    summary = RunSummary()
    alarms = summary.add([finding(1, PENDING, check="uniform_heads"), finding(10, PENDING, check="uniform_heads"),
                          finding(60, OK, check="uniform_heads"), finding(1, PENDING, check="per_speaker")])
    assert alarms == []
    checks = summary.checks()
    assert checks[("metrics", "uniform_heads")].worst == OK, "pending, then passed: OK"
    assert checks[("metrics", "per_speaker")].worst == PENDING, "still in its grace at the end"
    assert summary.worst() == OK and not fails_on(summary, "warn")
    assert summary.text([]).splitlines()[-1] == "checks: 0 FAIL, 0 WARN, 1 OK, 1 PENDING (still in their grace when the run ended)"
    assert [alarm.step for alarm in summary.add([finding(70, WARN, check="uniform_heads")])] == [70]


def test_live_lines_are_changes_to_warn_or_fail_per_rank():
    summary = RunSummary()
    alarms = summary.add([finding(1, WARN), finding(2, WARN), finding(3, FAIL), finding(4, FAIL), finding(4, WARN, rank=1),
                          finding(5, OK), finding(6, WARN)])
    assert [(alarm.rank, alarm.step) for alarm in alarms] == [(0, 1), (0, 3), (1, 4), (0, 6)]


def test_fail_on_thresholds():
    warned = RunSummary()
    warned.add([finding(1, WARN)])
    assert fails_on(warned, "warn") and not fails_on(warned, "fail") and not fails_on(warned, None)
    assert not fails_on(RunSummary(), "warn")


def test_text_names_each_check_and_the_log_paths():
    summary = RunSummary()
    summary.add([finding(1, OK), finding(7, FAIL), finding(2, OK, check="lr")])
    text = summary.text([Path("/logs/findings.jsonl")])
    lines = text.splitlines()
    assert lines[1].split()[:5] == ["FAIL", "metrics/grad_norm", "step", "7", "1/2"]
    assert lines[2].split()[:5] == ["OK", "metrics/lr", "step", "2", "1/1"]
    assert "checks: 1 FAIL, 0 WARN, 1 OK" in lines and lines[-1] == "log: /logs/findings.jsonl"
