"""Zero-shot verification: does the model use the reference voice?

The conditioning effect of a sample is its target-audio loss with a swapped-in reference of
another speaker minus the loss with its true reference: above zero, the true voice helps. It
is judged per snapshot (mean over rows), over a rank's latest captures once the model is
learning audio (a reference that never helps: silence, a wrong clip), as a trend per rank
(against the first capture), and per speaker and per (target language -> reference language)
pair over the latest few measurements of each group, across all ranks of the run. Each row's
effect and verdict (`effect_rows`) is what the dashboard's zero-shot table shows, so it never
computes or judges an effect itself.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from stratlog.protocol import ZeroShotSnapshot
from stratlog.sink.analysis.history import SeriesBook
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.findings import FAIL, OK, WARN, Finding, rounded
from stratlog.sink.thresholds import (
    AUDIO_LEARNING_DROP,
    CONDITIONING_DROP_WARN,
    CONDITIONING_EFFECT_FAIL,
    CONDITIONING_EFFECT_MIN,
    REFERENCE_IGNORED_AFTER_CAPTURES,
    TREND_MIN_CAPTURES,
)

ANALYSIS = "zero_shot"
SHOWN_GROUPS = 6


def effects(message: ZeroShotSnapshot) -> np.ndarray:
    """Per-row conditioning effect (swapped - true reference loss), NaN where not measured."""
    true = message.true_reference_loss.to_numpy().astype(float)
    swapped = message.swapped_reference_loss.to_numpy().astype(float)
    rows = min(len(true), len(swapped))
    return swapped[:rows] - true[:rows]


class EffectRow(NamedTuple):
    """One sample's conditioning effect (nats) and its verdict."""

    effect: float
    severity: str


def effect_severity(effect: float) -> str:
    """One sample's verdict: below CONDITIONING_EFFECT_FAIL the true reference fits worse
    (mispaired), above CONDITIONING_EFFECT_MIN it helps; in between (or NaN) it is ignored."""
    if effect < CONDITIONING_EFFECT_FAIL:
        return FAIL
    return OK if effect > CONDITIONING_EFFECT_MIN else WARN


def effect_rows(message: ZeroShotSnapshot, context: RunContext) -> tuple[EffectRow, ...]:
    """Per row, the effect and its verdict, for a viewer to show as they are (`context` unused:
    the snapshot alone decides)."""
    return tuple(EffectRow(effect, effect_severity(effect)) for effect in effects(message).tolist())


class ZeroShotAnalysis:
    """Judges zero-shot snapshots; keeps the effect series per rank, speaker and language pair."""

    def __init__(self) -> None:
        self._history = SeriesBook()

    def evaluate(self, message: ZeroShotSnapshot, context: RunContext) -> list[Finding]:
        rows = effects(message)
        finite = rows[np.isfinite(rows)]
        if message.skipped_reason or finite.size == 0:
            why = message.skipped_reason or "no finite loss pair was measured"
            verdicts = [("conditioning_effect", WARN, f"not measured: {why}; batches need at least two speakers "
                         "(shuffle the data, or raise the batch size)", None)]
        else:
            mean = float(finite.mean())
            series = self._history.add((message.run_id, message.rank), message.step, mean)
            true_loss = message.true_reference_loss.to_numpy().astype(float)[: rows.size][np.isfinite(rows)]
            audio_loss = self._history.add((message.run_id, message.rank, "true_reference_loss"), message.step,
                                           float(true_loss.mean()))
            verdicts = [effect_verdict(mean, series, audio_loss), trend_verdict(series)]
            groups = {"per_speaker": list(zip(message.speakers, rows)),
                      "per_language_pair": [(f"{target}->{reference}", effect) for target, reference, effect in
                                            zip(message.languages, message.swapped_languages, rows)]}
            for check, members in groups.items():
                means = {}
                for name, effect in members:
                    if math.isfinite(effect):
                        self._history.add((message.run_id, check, name), message.step, float(effect))
                    series_of_group = self._history.get((message.run_id, check, name))
                    if series_of_group is not None:
                        means[name] = series_of_group.recent_mean
                verdicts.append(group_verdict(check, means))
        return [Finding(message.run_id, message.rank, message.step, ANALYSIS, check, severity, reason, value)
                for check, severity, reason, value in filter(None, verdicts)]


def effect_verdict(mean: float, series, audio_loss):
    """`series`: this rank's per-capture mean effects; `audio_loss`: its true-reference target-audio losses."""
    if series.count >= TREND_MIN_CAPTURES and mean < CONDITIONING_EFFECT_FAIL:
        return ("conditioning_effect", FAIL, f"the true reference fits worse than another speaker's ({mean:.3f} nats) "
                f"after {series.count} captures: reference and target are mispaired; check the data set's "
                "reference/target speakers", rounded(mean))
    learning_audio = audio_loss.latest <= (1 - AUDIO_LEARNING_DROP) * audio_loss.first
    if (series.count >= REFERENCE_IGNORED_AFTER_CAPTURES and learning_audio
            and series.recent_mean <= CONDITIONING_EFFECT_MIN):
        return ("conditioning_effect", FAIL, f"the model ignores the reference: after {series.count} captures a swapped "
                f"reference changes the target-audio loss by {series.recent_mean:.3f} nats (mean of the latest "
                f"{len(series.recent)}) while that loss fell from {audio_loss.first:.2f} to {audio_loss.latest:.2f}; "
                "check that reference clips carry the speaker's voice (silence, wrong file) and reach the model",
                rounded(series.recent_mean))
    if mean > CONDITIONING_EFFECT_MIN:
        return ("conditioning_effect", OK, f"a swapped reference raises the target-audio loss by {mean:.3f} nats: "
                "the model uses the reference voice", rounded(mean))
    early = (f" (allowed until capture {REFERENCE_IGNORED_AFTER_CAPTURES})"
             if series.count < REFERENCE_IGNORED_AFTER_CAPTURES else "")
    return ("conditioning_effect", WARN, f"a swapped reference changes the target-audio loss by only {mean:.3f} nats"
            f"{early}: the model ignores the reference voice; check reference attention and that reference and target "
            "share a speaker", rounded(mean))


def trend_verdict(series):
    if series.count < TREND_MIN_CAPTURES:
        return None
    change = series.latest - series.first
    if change < -CONDITIONING_DROP_WARN:
        return ("conditioning_trend", WARN, f"the effect fell from {series.first:.3f} (step {series.first_step}) to "
                f"{series.latest:.3f} nats: the model is learning to ignore the reference; check the sample pairing "
                "and the reference attention", rounded(change))
    return ("conditioning_trend", OK, f"the effect went from {series.first:.3f} (step {series.first_step}) to "
            f"{series.latest:.3f} nats over {series.count} captures", rounded(change))


def group_verdict(check: str, means: dict[str, float]):
    if not means:
        return None
    kind = "speakers" if check == "per_speaker" else "language pairs"
    weak = sorted((name for name, mean in means.items() if not mean > CONDITIONING_EFFECT_MIN), key=means.get)
    value = {name: rounded(mean) for name, mean in sorted(means.items())}
    if weak:
        shown = ", ".join(f"{name} ({means[name]:+.3f})" for name in weak[:SHOWN_GROUPS])
        more = f" (+{len(weak) - SHOWN_GROUPS} more)" if len(weak) > SHOWN_GROUPS else ""
        return (check, WARN, f"{len(weak)} of the {len(means)} {kind} in this batch show no conditioning effect: {shown}{more}; their "
                "voices are not cloned; check those speakers' reference clips (silence, wrong speaker)", value)
    return (check, OK, f"all {len(means)} {kind} in this batch show a conditioning effect above "
            f"{CONDITIONING_EFFECT_MIN} nats (means of their latest measurements, all ranks)", value)
