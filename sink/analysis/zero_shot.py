"""Zero-shot verification: does the model use the reference voice?

The conditioning effect of a sample is its target-audio loss with a swapped-in reference of
another speaker minus the loss with its true reference: above zero, the true voice helps. It
is judged per snapshot (mean over rows), over a rank's latest captures once the model is
learning audio (a reference that never helps: silence, a wrong clip), as a trend per rank
(against the first capture), and per speaker and per (target language -> reference language)
pair over the latest few captures of each group, across all ranks of the run. A model needs
training before it uses a voice, so "no effect" is PENDING until REFERENCE_GRACE_STEPS steps
(for the rank and for every group alike), and judged on means over the latest captures after.
Each row's effect and verdict (`effect_rows`) is what the dashboard's zero-shot table shows, so
it never computes or judges an effect itself.
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np

from stratlog.protocol import ZeroShotSnapshot
from stratlog.sink.analysis.history import SeriesBook, forget_run
from stratlog.sink.analysis.reductions import finite_mean_of_floats
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.analysis.voice_similarity import SimTrendJudge
from stratlog.sink.findings import FAIL, OK, PENDING, WARN, Finding, rounded
from stratlog.sink.thresholds import (
    AUDIO_LEARNING_DROP,
    CONDITIONING_DROP_WARN,
    CONDITIONING_EFFECT_FAIL,
    CONDITIONING_EFFECT_MIN,
    CONDITIONING_WINDOW,
    GROUP_MEASUREMENTS,
    REFERENCE_GRACE_STEPS,
    TREND_GRACE_STEPS,
    TREND_MIN_CAPTURES,
)

ANALYSIS = "zero_shot"
SHOWN_GROUPS = 6


def effects(message: ZeroShotSnapshot) -> np.ndarray:
    """Per-row conditioning effect (swapped - true reference loss) as float64, NaN where not measured."""
    return np.array(_losses(message)[1], dtype=np.float64)


def _losses(message: ZeroShotSnapshot) -> tuple[list[float], list[float]]:
    """(true reference losses, effects) over the rows that have both losses, as Python floats: exact
    from any float dtype, and the float64 difference NumPy would compute; a batch's few rows cost
    less so than as arrays."""
    true = message.true_reference_loss.to_numpy().tolist()
    swapped = message.swapped_reference_loss.to_numpy().tolist()
    return true[:len(swapped)], [swapped_loss - true_loss for true_loss, swapped_loss in zip(true, swapped)]


class EffectRow(NamedTuple):
    """One sample's conditioning effect (nats) and its verdict."""

    effect: float
    severity: str


def effect_severity(effect: float, in_grace: bool = False) -> str:
    """One sample's verdict: below CONDITIONING_EFFECT_FAIL the true reference fits worse
    (mispaired), above CONDITIONING_EFFECT_MIN it helps; in between (or NaN) it is ignored, or
    PENDING while `in_grace` (before REFERENCE_GRACE_STEPS, as the rank's own verdict)."""
    if effect < CONDITIONING_EFFECT_FAIL:
        return FAIL
    if effect > CONDITIONING_EFFECT_MIN:
        return OK
    return PENDING if in_grace else WARN


def effect_rows(message: ZeroShotSnapshot, context: RunContext) -> tuple[EffectRow, ...]:
    """Per row, the effect and its verdict, for a viewer to show as they are: the snapshot alone
    decides, and the run's capture interval where the reference grace ends."""
    in_grace = message.step < context.judged_from(1, REFERENCE_GRACE_STEPS)
    return tuple(EffectRow(effect, effect_severity(effect, in_grace)) for effect in _losses(message)[1])


class GroupEffects:
    """One speaker's or language pair's latest GROUP_MEASUREMENTS effects, all ranks together.
    Once the grace is over only samples measured after it count: what the model did before it
    learned voices says nothing about one speaker's clips."""

    def __init__(self) -> None:
        self.recent: deque[float] = deque(maxlen=GROUP_MEASUREMENTS)
        self.after_grace = False

    def add(self, effect: float, after_grace: bool) -> None:
        if after_grace and not self.after_grace:
            self.recent.clear()
            self.after_grace = True
        self.recent.append(effect)

    @property
    def mean(self) -> float:
        return sum(self.recent) / len(self.recent)

    @property
    def judged(self) -> bool:
        return self.after_grace and len(self.recent) == GROUP_MEASUREMENTS


class ZeroShotAnalysis:
    """Judges zero-shot snapshots; keeps the effect series per rank, speaker and language pair."""

    def __init__(self) -> None:
        self._history = SeriesBook()
        self._groups: dict[tuple[str, str, str], GroupEffects] = {}
        self._best_window: dict[str, tuple[float, int, int]] = {}
        """run -> the highest mean of CONDITIONING_WINDOW captures of any of its ranks so far, with
        its step and rank: the ranks train one model, so one rank's shown effect is the run's."""
        self._sim = SimTrendJudge()

    def forget(self, run_id: str) -> None:
        """What is kept of a run the sink no longer keeps (`sink.state.RUNS_KEPT`) goes."""
        self._history.forget(run_id)
        forget_run(self._groups, run_id)
        self._best_window.pop(run_id, None)
        self._sim.forget(run_id)

    def evaluate(self, message: ZeroShotSnapshot, context: RunContext) -> list[Finding]:
        true_losses, row_effects = _losses(message)
        measured = [math.isfinite(effect) for effect in row_effects]
        if message.skipped_reason or not any(measured):
            why = message.skipped_reason or "no finite loss pair was measured"
            verdicts = [("conditioning_effect", WARN, f"not measured: {why}; batches need at least two speakers "
                         "(shuffle the data, or raise the batch size)", None)]
        else:
            if not all(measured):
                rows_measured = [effect for effect, finite in zip(row_effects, measured) if finite]
                true_losses = [loss for loss, finite in zip(true_losses, measured) if finite]
            else:
                rows_measured = row_effects
            mean = finite_mean_of_floats(rows_measured)
            series = self._history.add((message.run_id, message.rank), message.step, mean)
            audio_loss = self._history.add((message.run_id, message.rank, "true_reference_loss"), message.step,
                                           finite_mean_of_floats(true_losses))
            best = self._best_window.get(message.run_id, (float("-inf"), 0, message.rank))
            if len(series.recent) == CONDITIONING_WINDOW and series.recent_mean > best[0]:  # full windows only
                best = self._best_window[message.run_id] = (series.recent_mean, message.step, message.rank)
            judged_from = context.judged_from(series.first_step, REFERENCE_GRACE_STEPS)
            trend_from = context.judged_from(series.first_step, TREND_GRACE_STEPS, TREND_MIN_CAPTURES)
            verdicts = [effect_verdict(mean, series, audio_loss, best, message.step, judged_from, trend_from),
                        trend_verdict(series, message.step, trend_from)]
            groups = {"per_speaker": list(zip(message.speakers, row_effects)),
                      "per_language_pair": [(f"{target}->{reference}", effect) for target, reference, effect in
                                            zip(message.languages, message.swapped_languages, row_effects)]}
            after_grace = message.step >= judged_from
            for check, members in groups.items():
                for name, effect in members:
                    if math.isfinite(effect):
                        key = (message.run_id, check, name)
                        group = self._groups.get(key)
                        if group is None:
                            group = self._groups[key] = GroupEffects()
                        group.add(effect, after_grace)
                groups_of_batch = {name: group for name, _ in members
                                   if (group := self._groups.get((message.run_id, check, name))) is not None}
                verdicts.append(group_verdict(check, groups_of_batch, message.step, judged_from))
        return [Finding(message.run_id, message.rank, message.step, ANALYSIS, check, severity, reason, value)
                for check, severity, reason, value in filter(None, verdicts)]

    def evaluate_sim(self, row: dict, context: RunContext | None) -> list[Finding]:
        """One capture's SIM scores from the audio decoder (`--audio-tokenizer` with stratlog[voice]),
        judged over the run (`voice_similarity`) and said beside the rank's conditioning effect."""
        series = self._history.get((row["run_id"], row["rank"]))
        effect = (f"conditioning effect {series.recent_mean:.3f} nats (mean of the rank's latest {len(series.recent)} "
                  "captures)" if series is not None else "conditioning effect not measured yet")
        return self._sim.evaluate(row, context, effect)


def effect_verdict(mean: float, series, audio_loss, best: tuple[float, int, int], step: int, judged_from: int,
                   trend_from: int):
    """`series`: this rank's per-capture mean effects; `audio_loss`: its true-reference target-audio
    losses; `best`: the run's highest window mean so far (any rank), the step it ended at and its
    rank; `judged_from`: the capture step where "no effect" stops being pending; `trend_from`: the
    one from which a negative effect is a settled fact (mispaired data)."""
    if step >= trend_from and mean < CONDITIONING_EFFECT_FAIL:
        return ("conditioning_effect", FAIL, f"the true reference fits worse than another speaker's ({mean:.3f} nats) "
                f"after {series.count} captures: reference and target are mispaired; check the data set's "
                "reference/target speakers", rounded(mean))
    if step < judged_from:
        if mean > CONDITIONING_EFFECT_MIN:
            return ("conditioning_effect", OK, f"a swapped reference raises the target-audio loss by {mean:.3f} nats: "
                    "the model uses the reference voice", rounded(mean))
        return ("conditioning_effect", PENDING, f"pending until step {judged_from}: a swapped reference changes the "
                f"target-audio loss by {mean:.3f} nats so far; a model needs training before it uses the reference "
                "voice, so no effect is judged only from then on", rounded(mean))
    window = f"mean of the latest {len(series.recent)} captures"
    if series.recent_mean > CONDITIONING_EFFECT_MIN:
        return ("conditioning_effect", OK, f"a swapped reference raises the target-audio loss by {series.recent_mean:.3f} "
                f"nats ({window}; {mean:.3f} at this one): the model uses the reference voice", rounded(series.recent_mean))
    if best[0] > CONDITIONING_EFFECT_MIN:
        return ("conditioning_effect", OK, f"a swapped reference raises the target-audio loss by only "
                f"{series.recent_mean:.3f} nats on this rank now ({window}), but by {best[0]:.3f} on rank {best[2]} up "
                f"to step {best[1]}: the reference reaches the model, which the ranks share, and carries a voice (a "
                "lasting fall shows in conditioning_trend)", rounded(series.recent_mean))
    if audio_loss.latest <= (1 - AUDIO_LEARNING_DROP) * audio_loss.first:
        return ("conditioning_effect", FAIL, f"the model ignores the reference: after {series.count} captures a swapped "
                f"reference changes the target-audio loss by {series.recent_mean:.3f} nats ({window}; never above "
                f"{CONDITIONING_EFFECT_MIN} on any rank) while that loss "
                f"fell from {audio_loss.first:.2f} to {audio_loss.latest:.2f}; check that reference clips carry the "
                "speaker's voice (silence, wrong file) and reach the model", rounded(series.recent_mean))
    return ("conditioning_effect", WARN, f"a swapped reference changes the target-audio loss by only "
            f"{series.recent_mean:.3f} nats ({window}) after {series.count} captures, while that loss fell only from "
            f"{audio_loss.first:.2f} to {audio_loss.latest:.2f}: the model learns neither the audio nor the voice; check "
            "the learning rate and the audio labels, then reference attention", rounded(series.recent_mean))


def trend_verdict(series, step: int, trend_from: int):
    if step < trend_from:
        return None
    change = series.latest - series.first
    if change < -CONDITIONING_DROP_WARN:
        return ("conditioning_trend", WARN, f"the effect fell from {series.first:.3f} (step {series.first_step}) to "
                f"{series.latest:.3f} nats: the model is learning to ignore the reference; check the sample pairing "
                "and the reference attention", rounded(change))
    return ("conditioning_trend", OK, f"the effect went from {series.first:.3f} (step {series.first_step}) to "
            f"{series.latest:.3f} nats over {series.count} captures", rounded(change))


def group_verdict(check: str, groups: dict[str, GroupEffects], step: int, judged_from: int):
    """`groups`: the speakers (or language pairs) of this snapshot's batch, each with its latest
    measurements from all ranks. A group without an effect is a WARN only after the grace and
    with GROUP_MEASUREMENTS measurements, PENDING before."""
    if not groups:
        return None
    kind = "speakers" if check == "per_speaker" else "language pairs"
    means = {name: group.mean for name, group in groups.items()}
    value = {name: rounded(mean) for name, mean in sorted(means.items())}
    weak = sorted((name for name, mean in means.items() if not mean > CONDITIONING_EFFECT_MIN), key=means.get)
    judged = [name for name in weak if groups[name].judged]
    if judged:
        return (check, WARN, f"{len(judged)} of the {len(groups)} {kind} in this batch show no conditioning effect "
                f"({_measured(judged_from)}): {_listed(judged, means, groups)}; their voices are not cloned; check "
                f"those {kind}' reference clips (silence, wrong speaker)", value)
    if weak:
        until = f"step {judged_from}" if step < judged_from else f"{GROUP_MEASUREMENTS} samples each from then"
        return (check, PENDING, f"pending until {until}: {len(weak)} of the {len(groups)} {kind} in this batch show "
                f"no conditioning effect so far: {_listed(weak, means, groups)}; a model needs training, and a group "
                f"{GROUP_MEASUREMENTS} samples, before its effect is judged", value)
    return (check, OK, f"all {len(groups)} {kind} in this batch show a conditioning effect above "
            f"{CONDITIONING_EFFECT_MIN} nats ({_measured(judged_from)}, or fewer so far)", value)


def _measured(judged_from: int) -> str:
    return f"each one's mean over its latest {GROUP_MEASUREMENTS} samples, all ranks, from step {judged_from} on"


def _listed(names: list[str], means: dict[str, float], groups: dict[str, GroupEffects]) -> str:
    """The first SHOWN_GROUPS of `names` with their mean effect and measurement count."""
    more = f" (+{len(names) - SHOWN_GROUPS} more)" if len(names) > SHOWN_GROUPS else ""
    return ", ".join(f"{name} ({means[name]:+.3f}, n={len(groups[name].recent)})"
                     for name in names[:SHOWN_GROUPS]) + more
