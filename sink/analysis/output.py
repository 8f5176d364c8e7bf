"""Output analysis: text and per-codebook audio accuracy and their trend, label alignment,
whether the audio stream EOS is trained, and the decoded prediction against the target.

Accuracy at the first capture is a baseline (a fresh model is near chance); from TREND_GRACE_STEPS
steps on (and the third capture) it must have risen, and before that a text accuracy not yet
above it or a codebook still at chance is PENDING. Chance for a codebook is 1 / codec size (the
model's codebook_size minus its stream BOS and EOS).
"""

from __future__ import annotations

import math
import operator
from collections import Counter
from typing import NamedTuple

import numpy as np

from stratlog.protocol import InputSnapshot, OutputSnapshot
from stratlog.sink.analysis.history import SeriesBook
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.findings import FAIL, OK, PENDING, WARN, Finding, rounded
from stratlog.sink.thresholds import (
    ACCURACY_RISE_MIN,
    CHANCE_MULTIPLE,
    COLLAPSE_MIN_POSITIONS,
    COLLAPSE_SHARE,
    LABEL_INPUT_MATCH_MIN,
    OFF_BY_ONE_MATCH_MIN,
    TREND_GRACE_STEPS,
    TREND_MIN_CAPTURES,
)

ANALYSIS = "output"


class OutputAnalysis:
    """Judges output snapshots; keeps each rank's accuracy series for the trend."""

    def __init__(self) -> None:
        self._history = SeriesBook()

    def forget(self, run_id: str) -> None:
        """What is kept of a run the sink no longer keeps (`sink.state.RUNS_KEPT`) goes."""
        self._history.forget(run_id)

    def evaluate(self, message: OutputSnapshot, context: RunContext) -> list[Finding]:
        series = self._history.add((message.run_id, message.rank), message.step, message.text_accuracy)
        same_step_input = context.same_step(message, InputSnapshot)
        judged_from = context.judged_from(series.first_step, TREND_GRACE_STEPS, TREND_MIN_CAPTURES)
        text = TextTables.of(message)
        verdicts = [
            text_accuracy(message, series, judged_from),
            codebook_accuracy(message, judged_from, context.codec_size),
            label_alignment(text),
            label_source(message, text, same_step_input.input_ids.to_numpy() if same_step_input is not None else None),
            audio_eos(message, context.stream_eos),
            decoded_text(message, context),
        ]
        return [Finding(message.run_id, message.rank, message.step, ANALYSIS, check, severity, reason, value)
                for check, severity, reason, value in filter(None, verdicts)]


def text_accuracy(message: OutputSnapshot, series, judged_from: int):
    """`judged_from`: the capture step from which an accuracy not above the baseline is a WARN."""
    accuracy = message.text_accuracy
    if message.text_label_count == 0:
        return ("text_accuracy", FAIL, "the sample has no text label positions: every text label is masked, so the "
                "text head gets no training signal; check the collator's label mask", 0)
    if not math.isfinite(message.text_loss):
        return ("text_accuracy", FAIL, f"text loss is {message.text_loss}: the text head's logits overflowed; lower "
                "the learning rate", message.text_loss)
    if accuracy >= series.first + ACCURACY_RISE_MIN:
        return ("text_accuracy", OK, f"{accuracy:.1%}, up from {series.first:.1%} at step {series.first_step}",
                rounded(accuracy))
    if message.step < judged_from:
        return ("text_accuracy", PENDING, f"pending until step {judged_from}: {accuracy:.1%}, not yet above the "
                f"{series.first:.1%} of step {series.first_step} (the baseline)", rounded(accuracy))
    return ("text_accuracy", WARN, f"{accuracy:.1%}, not above the {series.first:.1%} of step {series.first_step} "
            f"after {series.count} captures: the text head is not learning; check the learning rate and that the "
            "text labels are the next tokens", rounded(accuracy))


def codebook_accuracy(message: OutputSnapshot, judged_from: int, codec_size: int | None):
    """`judged_from`: the capture step from which a codebook at chance is a WARN."""
    accuracies = message.codebook_accuracies.to_numpy().tolist()  # Python floats: exact from any float dtype
    losses = message.codebook_losses.to_numpy().tolist()
    shown = [rounded(a) for a in accuracies]
    bad_losses = [k for k, loss in enumerate(losses) if not math.isfinite(loss)]
    if bad_losses:
        return ("codebook_accuracy", FAIL, f"codebooks {bad_losses} have a non-finite loss: their audio logits "
                "overflowed; lower the learning rate", shown)
    if codec_size is None:
        return ("codebook_accuracy", OK, f"accuracies {shown}; chance level unknown (no codebook_size in run_start)", shown)
    chance = 1.0 / codec_size
    at_chance = [k for k, accuracy in enumerate(accuracies) if accuracy <= CHANCE_MULTIPLE * chance]
    if at_chance and message.step < judged_from:
        return ("codebook_accuracy", PENDING, f"pending until step {judged_from}: codebooks {at_chance} at chance so far "
                f"(<= {CHANCE_MULTIPLE:g} x 1/{codec_size}; mean {message.audio_accuracy:.2%}), as a fresh model is", shown)
    if at_chance:
        return ("codebook_accuracy", WARN, f"codebooks {at_chance} are still at chance (<= {CHANCE_MULTIPLE:g} x "
                f"1/{codec_size}) at step {message.step}: their audio heads are not learning; check that the audio "
                "labels are not all masked and that the audio loss is part of the training loss", shown)
    return ("codebook_accuracy", OK, f"every codebook above chance ({chance:.2%}); mean {message.audio_accuracy:.2%}", shown)


class TextTables(NamedTuple):
    """The shown text positions' tables, read once for both label checks: as Python lists, a few
    dozen positions cost less than as arrays and the masks over them."""

    labels: list[int]
    predictions: list[int]
    positions: np.ndarray
    """As int64: adjacency is the difference of two positions as NumPy computes it."""
    match: list[bool]

    @classmethod
    def of(cls, message: OutputSnapshot) -> TextTables:
        return cls(message.text_labels.to_numpy().tolist(), message.text_predictions.to_numpy().tolist(),
                   message.text_positions.to_numpy().astype(np.int64), message.text_match.to_numpy().astype(bool).tolist())


def _shift_match(predictions: list[int], labels: list[int], positions: np.ndarray) -> tuple[float, float, int]:
    """(match rate of a prediction with the next label, with the previous label, adjacent pairs)."""
    adjacent = (positions[1:] - positions[:-1] == 1).nonzero()[0].tolist()  # np.flatnonzero, 1-D, without its wrapper
    if not adjacent:
        return 0.0, 0.0, 0
    ahead = sum(predictions[i] == labels[i + 1] for i in adjacent) / len(adjacent)
    behind = sum(predictions[i + 1] == labels[i] for i in adjacent) / len(adjacent)
    return ahead, behind, len(adjacent)


def label_alignment(text: TextTables):
    labels, predictions, positions, match = text
    if not (len(labels) == len(predictions) == len(positions) == len(match)):
        return ("label_alignment", FAIL, f"text tables differ in length (labels {len(labels)}, predictions "
                f"{len(predictions)}, positions {len(positions)}, match {len(match)}): a capture bug in the sender", None)
    masked = labels.count(-100)
    if masked:
        return ("label_alignment", FAIL, f"{masked} shown label positions hold -100: the capture "
                "shows masked positions as labels; its label mask is wrong", None)
    disagree = sum(map(operator.ne, match, map(operator.eq, predictions, labels)))
    if disagree:
        return ("label_alignment", FAIL, f"text_match disagrees with predictions == labels at {disagree} positions: "
                "a capture bug in the sender", disagree)
    in_place = match.count(True) / len(match) if match else 0.0
    ahead, behind, pairs = _shift_match(predictions, labels, positions)
    shifted = max(ahead, behind)
    if pairs >= 4 and shifted >= OFF_BY_ONE_MATCH_MIN and shifted >= 2 * in_place:
        direction = "next" if ahead >= behind else "previous"
        return ("label_alignment", FAIL, f"predictions equal the {direction} position's label at {shifted:.0%} of "
                f"adjacent positions but their own label at only {in_place:.0%}: labels are off by one; the shift is "
                "applied twice or not at all (transformers shifts inside the loss; the collator must not)",
                rounded(shifted))
    return ("label_alignment", OK, f"predictions match their own labels ({in_place:.0%}) more than shifted ones "
            f"({shifted:.0%})", rounded(in_place))


def label_source(message: OutputSnapshot, text: TextTables, input_ids: np.ndarray | None):
    """Are the text labels the input tokens at their own positions (the model shifts inside its
    loss), or the tokens one position earlier (a second shift: the model learns to copy)?
    `input_ids`: the first sample's ids from the same step's input snapshot, when there is one."""
    if input_ids is None or message.sample != 0:
        return None
    length = len(input_ids)
    shown = own = previous = 0
    for label, position in zip(text.labels, text.positions.tolist()):
        if 1 <= position < length:
            shown += 1
            own += label == input_ids.item(position)
            previous += label == input_ids.item(position - 1)
    if not shown:
        return None
    own, previous = own / shown, previous / shown
    value = {"own_position": rounded(own), "previous_position": rounded(previous)}
    if own >= LABEL_INPUT_MATCH_MIN:
        return ("label_source", OK, f"text labels are the input tokens at their own positions ({own:.0%} of "
                f"{shown} shown)", value)
    if previous >= OFF_BY_ONE_MATCH_MIN and previous > own:
        return ("label_source", FAIL, f"text labels equal the input token one position earlier at {previous:.0%} of "
                f"{shown} shown positions (their own position: {own:.0%}): labels are shifted one position "
                "too far, so the model is trained to reproduce its current input instead of the next token; the shift "
                "is applied twice (transformers shifts inside the loss; the collator must not)", value)
    return ("label_source", WARN, f"text labels equal the input tokens at only {own:.0%} of {shown} shown "
            "positions: labels and input_ids disagree; check how the collator builds the labels", value)


def audio_eos(message: OutputSnapshot, stream_eos: int | None):
    if message.audio_frame_count == 0:
        return ("audio_eos", WARN, "the sample has no target-audio label frames: the audio heads get no training signal "
                "from it (target audio missing or masked)", 0)
    if stream_eos is None:
        return ("audio_eos", WARN, "not checked: the run_start has no audio_stream_eos_id or codebook_size", None)
    labels = message.audio_labels.to_numpy()
    if (labels == stream_eos).any():
        return ("audio_eos", OK, f"the audio stream EOS (code {stream_eos}) is a label in the last frames: the model "
                "learns to stop", stream_eos)
    return ("audio_eos", FAIL, f"the audio stream EOS (code {stream_eos}) is never a label in the shown frames: EOS is "
            "masked (transformers' processor output_labels=True does this), so the model never learns to stop; "
            "keep EOS in audio_labels and mask only the stream BOS", stream_eos)


def _one_token_may_reach(ids: list[int], share: float) -> bool:
    """Whether the most frequent of `ids` can make up `share` of them: with d distinct ids it
    occurs at most len - d + 1 times, so a varied prediction is settled by a set, not a Counter."""
    return (len(ids) - len(set(ids)) + 1) / len(ids) >= share


def decoded_text(message: OutputSnapshot, context: RunContext):
    """The prediction is decoded only to quote a collapsed one in the reason."""
    predicted = message.predicted_text_ids.to_numpy().tolist()
    target = message.target_text_ids.to_numpy().tolist()
    if len(predicted) != len(target):
        return ("decoded_text", FAIL, f"{len(predicted)} predicted ids for {len(target)} target ids: the capture "
                "misaligned the decoded texts", None)
    if not target:
        return None
    matching = sum(map(operator.eq, predicted, target)) / len(target)
    if len(predicted) >= COLLAPSE_MIN_POSITIONS and _one_token_may_reach(predicted, COLLAPSE_SHARE):
        token, count = Counter(predicted).most_common(1)[0]
        share = count / len(predicted)
        if share >= COLLAPSE_SHARE and Counter(target).most_common(1)[0][1] / len(target) < COLLAPSE_SHARE:
            predicted_text = context.render(message.predicted_text_ids.to_numpy())
            return ("decoded_text", WARN, f"the prediction is one token (id {token}) at {share:.0%} of the positions "
                    f"(\"{predicted_text[:60]}\"): the text head collapsed onto a frequent token; usual causes are a "
                    "too-high learning rate or labels that are mostly one token", rounded(share))
    return ("decoded_text", OK, f"prediction matches the target at {matching:.0%} of {len(target)} text tokens",
            rounded(matching))
