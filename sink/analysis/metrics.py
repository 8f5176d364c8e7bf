"""Metrics health: NaN/inf loss, a grad norm of exactly 0, a learning rate too low outside
warmup (WARN below 1 % of the peak, FAIL below 0.1 %), and divergence.

Metrics arrive every logging step, so a check reports when its verdict changes (the first
verdict, then every OK -> WARN -> FAIL -> OK transition), not on every step: the findings
file stays readable and a healthy run costs one line per check. Warmup is told apart from a
too-low learning rate with the run's own TrainingArguments (warmup_steps / warmup_ratio).
"""

from __future__ import annotations

import math

from stratlog.protocol import Metrics
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


class MetricsHealth:
    """Judges each rank's metrics stream; keeps the smoothed loss and the last verdicts."""

    def __init__(self) -> None:
        self._smoothed: dict[tuple[str, int], tuple[float, float]] = {}
        """(run, rank) -> (smoothed loss, its running minimum)."""
        self._verdicts: dict[tuple[str, int, str], str] = {}
        self.latest: dict[tuple[str, int], dict[str, Finding]] = {}
        """(run, rank) -> check -> its latest verdict, changed or not: what a viewer shows (a
        dashboard reads it from another thread, so each evaluation replaces the inner dict whole)."""

    def evaluate(self, message: Metrics, context: RunContext) -> list[Finding]:
        values = message.values
        verdicts = [
            self._loss_finite(values),
            self._grad_norm(values),
            self._learning_rate(values, message.step, context),
            self._divergence(message),
        ]
        findings = []
        latest = dict(self.latest.get((message.run_id, message.rank), {}))
        for verdict in verdicts:
            if verdict is None:
                continue
            check, severity, reason, value = verdict
            finding = Finding(message.run_id, message.rank, message.step, ANALYSIS, check, severity,
                              f"step {message.step}: {reason}", value)
            latest[check] = finding
            key = (message.run_id, message.rank, check)
            if self._verdicts.get(key) != severity:
                self._verdicts[key] = severity
                findings.append(finding)
        self.latest[(message.run_id, message.rank)] = latest
        return findings

    @staticmethod
    def _loss_finite(values: dict[str, float]):
        present = {name: values[name] for name in LOSS_NAMES if name in values}
        if not present:
            return None
        bad = {name: value for name, value in present.items() if not math.isfinite(value)}
        if bad:
            names = ", ".join(f"{name} = {value}" for name, value in bad.items())
            return ("loss_finite", FAIL, f"{names}: the loss overflowed; lower the learning rate, enable gradient "
                    "clipping (max_grad_norm), or train in bf16 instead of fp16", next(iter(bad.values())))
        return ("loss_finite", OK, "losses are finite", rounded(present.get("loss", next(iter(present.values())))))

    @staticmethod
    def _grad_norm(values: dict[str, float]):
        if "grad_norm" not in values:
            return None
        norm = values["grad_norm"]
        if not math.isfinite(norm):
            return ("grad_norm", FAIL, f"grad norm is {norm}: gradients overflowed; lower the learning rate or use "
                    "bf16, and look for a NaN loss just before", norm)
        if norm == 0.0:
            return ("grad_norm", FAIL, "grad norm is exactly 0: the optimizer stepped without gradients (backward "
                    "never ran, every label is masked, or the parameters are frozen); check the collator's labels "
                    "and requires_grad", 0.0)
        return ("grad_norm", OK, f"grad norm {norm:.4g} is finite and non-zero", rounded(norm))

    @staticmethod
    def _learning_rate(values: dict[str, float], step: int, context: RunContext):
        if "learning_rate" not in values:
            return None
        lr, peak, warmup = values["learning_rate"], context.peak_learning_rate, context.warmup_steps
        if step <= warmup:
            return ("learning_rate", OK, f"lr {lr:.3g} during warmup (step {step} of {warmup})", lr)
        if context.in_decay_tail(step):
            return ("learning_rate", OK, f"lr {lr:.3g} in the schedule's final decay (max_steps {context.max_steps})", lr)
        if lr <= 0:
            return ("learning_rate", FAIL, f"lr is {lr:g} outside warmup: nothing trains; check learning_rate and "
                    "lr_scheduler_type", lr)
        if peak and lr < LR_FAIL_FRACTION * peak:
            return ("learning_rate", FAIL, f"lr {lr:.3g} is {lr / peak:.1e} of the configured {peak:g}, below "
                    f"{LR_FAIL_FRACTION:.1%} of it after warmup ({warmup} steps): nothing trains; the scheduler drops "
                    "the lr to ~0 once warmup ends (check lr_scheduler_type, its kwargs and a custom scheduler)", lr)
        floor = LR_FLOOR_FRACTION * peak if peak else LR_ABSOLUTE_FLOOR
        if lr < floor:
            of_peak = f"{LR_FLOOR_FRACTION:.0%} of the configured {peak:g}" if peak else f"{floor:g}"
            return ("learning_rate", WARN, f"lr {lr:.3g} is below {of_peak} outside warmup (warmup {warmup} steps): "
                    "too low to train; check learning_rate, lr_scheduler_type and warmup_steps", lr)
        return ("learning_rate", OK, f"lr {lr:.3g} outside warmup", lr)

    def _divergence(self, message: Metrics):
        loss = message.values.get("loss")
        if loss is None or not math.isfinite(loss):
            return None
        key = (message.run_id, message.rank)
        smoothed, minimum = self._smoothed.get(key, (loss, loss))
        smoothed = smoothed + LOSS_SMOOTHING * (loss - smoothed)
        minimum = min(minimum, smoothed)
        self._smoothed[key] = (smoothed, minimum)
        if minimum <= 0:
            return None
        ratio = smoothed / minimum
        summary = f"smoothed loss {smoothed:.4g} is {ratio:.2f}x its running minimum {minimum:.4g}"
        if ratio >= DIVERGENCE_FAIL_FACTOR:
            return ("divergence", FAIL, f"{summary}: training diverged; restart from a checkpoint with a lower "
                    "learning rate", rounded(ratio))
        if ratio >= DIVERGENCE_WARN_FACTOR:
            return ("divergence", WARN, f"{summary}: the loss is climbing; a too-high learning rate is the usual "
                    "cause (check lr and grad_norm)", rounded(ratio))
        return ("divergence", OK, summary, rounded(ratio))
