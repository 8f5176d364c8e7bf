"""Metrics health: NaN loss, zero grad norm, warmup vs a too-low lr, divergence; verdicts are
reported when they change. Run: ./run-tests tests/sink/analysis/test_metrics.py"""

from __future__ import annotations

from stratlog.sink.analysis.metrics import MetricsHealth
from tests.sink import builders
from tests.sink.builders import metrics


def run(*messages, schedule: str | None = None) -> list:
    """`schedule`: the run's lr_scheduler_type (None: the builders' cosine)."""
    health, context = MetricsHealth(), builders.context()
    if schedule is not None:
        context.training_args["lr_scheduler_type"] = schedule
    return [finding for message in messages for finding in health.evaluate(message, context)]


def latest(findings: list, check: str):
    return [finding for finding in findings if finding.check == check][-1]


def test_a_healthy_step_reports_each_check_once_then_stays_quiet():
    findings = run(metrics(10, loss=5.0, grad_norm=1.0, learning_rate=1e-3), metrics(11, loss=4.9, grad_norm=1.0, learning_rate=1e-3))
    assert [(f.check, f.severity, f.step) for f in findings] == [
        ("loss_finite", "OK", 10), ("grad_norm", "OK", 10), ("learning_rate", "OK", 10), ("divergence", "OK", 10)]


def test_nan_loss_fails():
    finding = latest(run(metrics(10, loss=5.0), metrics(11, loss=float("nan"))), "loss_finite")
    assert finding.severity == "FAIL" and "loss = nan" in finding.reason and finding.step == 11


def test_zero_grad_norm_fails_as_a_step_without_backward():
    finding = latest(run(metrics(10, grad_norm=0.0)), "grad_norm")
    assert finding.severity == "FAIL" and "without gradients" in finding.reason


def test_a_low_lr_is_fine_in_warmup_but_not_after_it():
    findings = run(metrics(2, learning_rate=1e-5), metrics(50, learning_rate=1e-5))
    warmup, after = [f for f in findings if f.check == "learning_rate"]
    assert warmup.severity == "OK" and "warmup (step 2 of 5)" in warmup.reason
    assert after.severity == "WARN" and "below 1% of the configured 0.002" in after.reason


def test_a_vanishing_lr_after_warmup_fails():
    finding = latest(run(metrics(6, learning_rate=1e-9)), "learning_rate")
    assert finding.severity == "FAIL" and "after warmup" in finding.reason


def test_the_decay_tail_may_approach_zero():
    finding = latest(run(metrics(95, learning_rate=1e-7)), "learning_rate")
    assert finding.severity == "OK" and "final decay" in finding.reason


def test_lr_zero_under_a_constant_schedule_fails_to_the_end():
    for schedule in ("constant", "constant_with_warmup", "SchedulerType.CONSTANT"):
        findings = [f for f in run(*(metrics(step, learning_rate=0.0) for step in range(6, 101)), schedule=schedule)
                    if f.check == "learning_rate"]
        assert [(f.severity, f.step) for f in findings] == [("FAIL", 6)], schedule  # no later OK in the tail


def test_a_decaying_schedule_without_its_name_is_trainers_default_linear():
    context = builders.context()
    del context.training_args["lr_scheduler_type"]
    assert context.in_decay_tail(95) and not context.in_decay_tail(90)
    context.training_args["lr_scheduler_type"] = "inverse_sqrt"
    assert not context.in_decay_tail(95)


def test_a_climbing_loss_warns_then_fails_then_recovers():
    steps = [metrics(s, loss=2.0) for s in range(1, 20)]
    steps += [metrics(s, loss=4.0) for s in range(20, 30)]
    steps += [metrics(s, loss=40.0) for s in range(30, 60)]
    steps += [metrics(s, loss=2.0) for s in range(60, 120)]
    divergence = [(f.severity, f.step) for f in run(*steps) if f.check == "divergence"]
    assert [severity for severity, _ in divergence] == ["OK", "WARN", "FAIL", "WARN", "OK"]
    assert "too-high learning rate" in latest(run(*steps[:29]), "divergence").reason


def test_latest_verdicts_are_each_checks_last_evaluation_worded_at_its_step():
    """`latest` words its findings when read: the same finding a change reports, and a check a
    later message does not judge (no grad_norm in it) keeps its own step's verdict."""
    health, context = MetricsHealth(), builders.context()
    reported = health.evaluate(metrics(10, loss=5.0, grad_norm=0.0), context)
    assert health.evaluate(metrics(11, loss=5.0), context) == []
    verdicts = health.latest[("run", 0)]
    assert verdicts["grad_norm"] == latest(reported, "grad_norm")
    assert (verdicts["loss_finite"].step, verdicts["loss_finite"].reason, verdicts["loss_finite"].value) == (
        11, "step 11: losses are finite", 5.0)
    assert list(health.latest) == [("run", 0)] and health.latest.get(("run", 1)) is None
