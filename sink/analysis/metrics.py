"""Metrics health: NaN/inf loss, a grad norm of exactly 0, a learning rate too low outside
warmup (WARN below 1 % of the peak, FAIL below 0.1 %), and divergence.

Metrics arrive every logging step, so a check reports when its verdict changes (the first
verdict, then every OK -> WARN -> FAIL -> OK transition), not on every step: the findings
file stays readable and a healthy run costs one line per check. Warmup is told apart from a
too-low learning rate with the run's own TrainingArguments (warmup_steps / warmup_ratio).

Every check judges every message, but a verdict's words (its reason and value) are only written
out for a finding that is reported or a viewer that reads the latest verdicts: at thousands of
metrics messages a second nearly every verdict repeats the last one, and wording each would cost
more than judging it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stratlog.protocol import Metrics
from stratlog.sink.analysis.history import forget_run
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.findings import FAIL, OK, WARN, Finding, rounded
from stratlog.sink.thresholds import (
    DIVERGENCE_FAIL_FACTOR,
    DIVERGENCE_WARN_FACTOR,
    LOSS_SMOOTHING,
    LR_ABSOLUTE_FLOOR,
    LR_FAIL_FRACTION,
    LR_FLOOR_FRACTION,
)

ANALYSIS = "metrics"
LOSS_NAMES = ("loss", "text_loss", "audio_loss")

Verdict = tuple[str, str, Callable[..., tuple[str, Any]], tuple]
"""(check, severity, words, facts): `words(*facts)` gives the finding's reason and value. The
words are module functions given the facts, not closures over them: a closure makes a cell
per captured name on every call, and every check judges every message."""
_NO_VERDICTS: dict = {}
"""A rank's verdicts before its first evaluation (never written to)."""


class MetricsHealth:
    """Judges each rank's metrics stream; keeps the smoothed loss and the last verdicts."""

    def __init__(self) -> None:
        self._smoothed: dict[tuple[str, int], tuple[float, float]] = {}
        """(run, rank) -> (smoothed loss, its running minimum)."""
        self._verdicts: dict[tuple[str, int], dict[str, tuple[int, Verdict]]] = {}
        """(run, rank) -> check -> (step, verdict) of its latest verdict, changed or not (a
        dashboard reads it from another thread: a check's first verdict makes a new inner dict,
        so one being read never changes size)."""
        self.latest = LatestVerdicts(self._verdicts)
        """What a viewer shows (sink.dashboard_model)."""
        self._schedule_context: RunContext | None = None
        self._schedule: LrSchedule | None = None
        """The latest context's lr schedule (`_schedule_of`)."""

    def forget(self, run_id: str) -> None:
        """What is kept of a run the sink no longer keeps (`sink.state.RUNS_KEPT`) goes."""
        forget_run(self._smoothed, run_id)
        forget_run(self._verdicts, run_id)

    def evaluate(self, message: Metrics, context: RunContext) -> list[Finding]:
        values, step, key = message.values, message.step, (message.run_id, message.rank)
        verdicts = (
            self._loss_finite(values),
            self._grad_norm(values),
            self._learning_rate(values, step, self._schedule_of(context)),
            self._divergence(key, values),
        )
        findings = []
        latest = self._verdicts.get(key, _NO_VERDICTS)
        for verdict in verdicts:
            if verdict is None:
                continue
            check = verdict[0]
            before = latest.get(check)  # each check judges once a message: still the previous verdict
            if before is None:  # a new check: a new dict (a reader iterating the old one never sees it grow)
                latest = self._verdicts[key] = {**latest, check: (step, verdict)}
                findings.append(_finding(message.run_id, message.rank, step, verdict))
            else:  # a repeat replaces its value in place: the dict keeps its size
                latest[check] = (step, verdict)
                if before[1][1] != verdict[1]:
                    findings.append(_finding(message.run_id, message.rank, step, verdict))
        return findings

    def _schedule_of(self, context: RunContext) -> LrSchedule:
        """The run's lr schedule, read from its training arguments once per context (the
        pipeline makes a new context for each run start; one run's messages share one)."""
        if context is not self._schedule_context:
            self._schedule = LrSchedule.of(context)
            self._schedule_context = context
        return self._schedule

    @staticmethod
    def _loss_finite(values: dict[str, float]) -> Verdict | None:
        loss = bad = None
        for name in LOSS_NAMES:  # a plain loop: a healthy run's losses, on every message
            if name in values:
                value = values[name]
                if loss is None:
                    loss = value  # "loss" itself when present: it comes first in LOSS_NAMES
                if not math.isfinite(value):
                    bad = bad or []
                    bad.append((name, value))
        if loss is None:
            return None
        if bad is not None:
            return ("loss_finite", FAIL, _loss_overflowed, (bad,))
        return ("loss_finite", OK, _losses_finite, (loss,))

    @staticmethod
    def _grad_norm(values: dict[str, float]) -> Verdict | None:
        if "grad_norm" not in values:
            return None
        norm = values["grad_norm"]
        if not math.isfinite(norm):
            return ("grad_norm", FAIL, _grad_overflowed, (norm,))
        if norm == 0.0:
            return ("grad_norm", FAIL, _grad_zero, ())
        return ("grad_norm", OK, _grad_fine, (norm,))

    @staticmethod
    def _learning_rate(values: dict[str, float], step: int, schedule: LrSchedule) -> Verdict | None:
        if "learning_rate" not in values:
            return None
        lr, warmup = values["learning_rate"], schedule.warmup_steps
        if step <= warmup:
            return ("learning_rate", OK, _lr_in_warmup, (lr, step, warmup))
        if step > schedule.decay_tail_after:
            return ("learning_rate", OK, _lr_in_decay_tail, (lr, schedule.max_steps))
        if lr <= 0:
            return ("learning_rate", FAIL, _lr_not_positive, (lr,))
        peak = schedule.peak
        if peak and lr < LR_FAIL_FRACTION * peak:
            return ("learning_rate", FAIL, _lr_vanished, (lr, peak, warmup))
        floor = LR_FLOOR_FRACTION * peak if peak else LR_ABSOLUTE_FLOOR
        if lr < floor:
            return ("learning_rate", WARN, _lr_too_low, (lr, peak, floor, warmup))
        return ("learning_rate", OK, _lr_fine, (lr,))

    def _divergence(self, key: tuple[str, int], values: dict[str, float]) -> Verdict | None:
        loss = values.get("loss")
        if loss is None or not math.isfinite(loss):
            return None
        smoothed, minimum = self._smoothed.get(key, (loss, loss))
        smoothed = smoothed + LOSS_SMOOTHING * (loss - smoothed)
        minimum = min(minimum, smoothed)
        self._smoothed[key] = (smoothed, minimum)
        if minimum <= 0:
            return None
        ratio = smoothed / minimum
        if ratio >= DIVERGENCE_FAIL_FACTOR:
            return ("divergence", FAIL, _diverged, (smoothed, ratio, minimum))
        if ratio >= DIVERGENCE_WARN_FACTOR:
            return ("divergence", WARN, _climbing, (smoothed, ratio, minimum))
        return ("divergence", OK, _steady, (smoothed, ratio, minimum))


@dataclass(frozen=True)
class LrSchedule:
    """What the learning-rate check needs of a run's training arguments (`RunContext`'s reading
    of them), taken once per context instead of on every metrics message."""

    warmup_steps: int
    max_steps: int | None
    decay_tail_after: float
    """`RunContext.in_decay_tail(step)` is `step > decay_tail_after` (inf: no decaying tail)."""
    peak: float | None

    @classmethod
    def of(cls, context: RunContext) -> LrSchedule:
        return cls(context.warmup_steps, context.max_steps, context.decay_tail_after, context.peak_learning_rate)


def _loss_overflowed(bad: list[tuple[str, float]]) -> tuple[str, Any]:
    names = ", ".join(f"{name} = {value}" for name, value in bad)
    return (f"{names}: the loss overflowed; lower the learning rate, enable gradient clipping (max_grad_norm), or "
            "train in bf16 instead of fp16", bad[0][1])


def _losses_finite(loss: float) -> tuple[str, Any]:
    return "losses are finite", rounded(loss)


def _grad_overflowed(norm: float) -> tuple[str, Any]:
    return (f"grad norm is {norm}: gradients overflowed; lower the learning rate or use bf16, and look for a NaN "
            "loss just before", norm)


def _grad_zero() -> tuple[str, Any]:
    return ("grad norm is exactly 0: the optimizer stepped without gradients (backward never ran, every label is "
            "masked, or the parameters are frozen); check the collator's labels and requires_grad", 0.0)


def _grad_fine(norm: float) -> tuple[str, Any]:
    return f"grad norm {norm:.4g} is finite and non-zero", rounded(norm)


def _lr_in_warmup(lr: float, step: int, warmup: int) -> tuple[str, Any]:
    return f"lr {lr:.3g} during warmup (step {step} of {warmup})", lr


def _lr_in_decay_tail(lr: float, max_steps: int | None) -> tuple[str, Any]:
    return f"lr {lr:.3g} in the schedule's final decay (max_steps {max_steps})", lr


def _lr_not_positive(lr: float) -> tuple[str, Any]:
    return f"lr is {lr:g} outside warmup: nothing trains; check learning_rate and lr_scheduler_type", lr


def _lr_vanished(lr: float, peak: float, warmup: int) -> tuple[str, Any]:
    return (f"lr {lr:.3g} is {lr / peak:.1e} of the configured {peak:g}, below {LR_FAIL_FRACTION:.1%} of it after "
            f"warmup ({warmup} steps): nothing trains; the scheduler drops the lr to ~0 once warmup ends (check "
            "lr_scheduler_type, its kwargs and a custom scheduler)", lr)


def _lr_too_low(lr: float, peak: float | None, floor: float, warmup: int) -> tuple[str, Any]:
    of_peak = f"{LR_FLOOR_FRACTION:.0%} of the configured {peak:g}" if peak else f"{floor:g}"
    return (f"lr {lr:.3g} is below {of_peak} outside warmup (warmup {warmup} steps): too low to train; check "
            "learning_rate, lr_scheduler_type and warmup_steps", lr)


def _lr_fine(lr: float) -> tuple[str, Any]:
    return f"lr {lr:.3g} outside warmup", lr


def _diverged(smoothed: float, ratio: float, minimum: float) -> tuple[str, Any]:
    return (f"{_smoothed_loss(smoothed, ratio, minimum)}: training diverged; restart from a checkpoint with a lower "
            "learning rate", rounded(ratio))


def _climbing(smoothed: float, ratio: float, minimum: float) -> tuple[str, Any]:
    return (f"{_smoothed_loss(smoothed, ratio, minimum)}: the loss is climbing; a too-high learning rate is the "
            "usual cause (check lr and grad_norm)", rounded(ratio))


def _steady(smoothed: float, ratio: float, minimum: float) -> tuple[str, Any]:
    return _smoothed_loss(smoothed, ratio, minimum), rounded(ratio)


def _smoothed_loss(smoothed: float, ratio: float, minimum: float) -> str:
    return f"smoothed loss {smoothed:.4g} is {ratio:.2f}x its running minimum {minimum:.4g}"


def _finding(run_id: str, rank: int, step: int, verdict: Verdict) -> Finding:
    check, severity, words, facts = verdict
    reason, value = words(*facts)
    return Finding(run_id, rank, step, ANALYSIS, check, severity, f"step {step}: {reason}", value)


class LatestVerdicts(Mapping):
    """(run, rank) -> check -> the latest verdict of each metrics check as a finding, changed or
    not: a dashboard shows it, since findings only say when a verdict changes (it would show step
    1's "lr 0 during warmup" long after warmup). Built when read: a viewer reads one rank per
    redraw, while the verdicts change with every metrics message of every rank."""

    def __init__(self, verdicts: dict[tuple[str, int], dict[str, tuple[int, Verdict]]]):
        self._verdicts = verdicts

    def __getitem__(self, key: tuple[str, int]) -> dict[str, Finding]:
        run_id, rank = key
        return {check: _finding(run_id, rank, step, verdict) for check, (step, verdict) in self._verdicts[key].items()}

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(self._verdicts)

    def __len__(self) -> int:
        return len(self._verdicts)
