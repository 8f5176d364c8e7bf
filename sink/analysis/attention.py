"""Shared attention / DualFFN analysis: does text attend to audio and audio to text, does the
target audio look at the reference, are heads dead or uniform, and do both FFN paths of every
DualFFN layer receive gradient and update?

Uniform attention is judged against causal attention's own uniform entropy, the mean of
log(t) over query positions t = 1..n (= lgamma(n + 1) / n), with n the padded sequence length
from the same step's input snapshot; without one the check says it could not judge. Uniform heads
are expected at initialisation, so they are judged as a state that persists (over the latest
captures, against the first) from UNIFORM_HEADS_GRACE_STEPS on, PENDING before; an FFN update
too large is PENDING for TREND_GRACE_STEPS, as AdamW's first steps make it by design. The DualFFN verdict of every layer and measurement (`ffn_verdicts`) is also what the dashboard
colours its table by, so the two can never disagree.
"""

from __future__ import annotations

import math

import numpy as np

from stratlog.protocol import AttentionSnapshot, InputSnapshot
from stratlog.sink.analysis.history import SeriesBook
from stratlog.sink.analysis.input import padded_length
from stratlog.sink.analysis.reductions import finite_mean
from stratlog.sink.analysis.run_context import RunContext
from stratlog.sink.findings import FAIL, OK, PENDING, WARN, Finding, rounded
from stratlog.sink.thresholds import (
    ATTENTION_MASS_MIN,
    DEAD_HEAD_MAX_WEIGHT,
    FFN_UPDATE_RATIO_MAX,
    TREND_GRACE_STEPS,
    TREND_MIN_CAPTURES,
    UNIFORM_ENTROPY_FRACTION,
    UNIFORM_HEADS_DROP_MIN,
    UNIFORM_HEADS_GRACE_STEPS,
    UNIFORM_HEADS_WARN_SHARE,
)

ANALYSIS = "attention"
SHOWN_HEADS = 5
FLOAT64_TABLES = ("text_to_audio", "audio_to_text", "target_to_reference", "entropy")
"""The per-head tables read whole as float64 (with max_weight: one row per sampled layer and one
column per sampled head)."""
FFN_TABLES = ("text_ffn_grad_norm", "audio_ffn_grad_norm", "text_ffn_update_ratio", "audio_ffn_update_ratio")
"""The DualFFN measurements, one value per DualFFN layer each."""
PATH_TABLES = (("text", "text_ffn_grad_norm", "text_ffn_update_ratio"),
               ("audio", "audio_ffn_grad_norm", "audio_ffn_update_ratio"))
"""Each FFN path of a DualFFN layer with its gradient-norm and update-ratio tables."""


class AttentionAnalysis:
    """Judges attention snapshots; keeps each rank's uniform-head share (the same step's sequence
    length is in the context)."""

    def __init__(self) -> None:
        self._uniform_shares = SeriesBook()

    def forget(self, run_id: str) -> None:
        """What is kept of a run the sink no longer keeps (`sink.state.RUNS_KEPT`) goes."""
        self._uniform_shares.forget(run_id)

    def evaluate(self, message: AttentionSnapshot, context: RunContext) -> list[Finding]:
        same_step_input = context.same_step(message, InputSnapshot)
        sequence_length = padded_length(same_step_input) if same_step_input is not None else None
        tables = float_tables(message)
        verdicts = [
            text_audio_mass(tables),
            reference_attention(tables),
            dead_heads(message, tables["entropy"]),
            self._uniform_heads(message, tables, sequence_length, context),
            *dual_ffn(message, first_step_at_zero_lr=starts_at_zero_lr(message, context),
                      pending_until=adam_grace_until(message, context)),
        ]
        return [Finding(message.run_id, message.rank, message.step, ANALYSIS, check, severity, reason, value)
                for check, severity, reason, value in filter(None, verdicts)]

    def _uniform_heads(self, message: AttentionSnapshot, tables: dict[str, np.ndarray], sequence_length: int | None,
                       context: RunContext):
        share = uniform_share(tables["entropy"], sequence_length)
        if share is None:
            return ("uniform_heads", OK, "not judged: no input snapshot of this step gives the sequence length", None)
        uniform, sampled, share, uniform_entropy = share
        series = self._uniform_shares.add((message.run_id, message.rank), message.step, share)
        judged_from = context.judged_from(series.first_step, UNIFORM_HEADS_GRACE_STEPS, TREND_MIN_CAPTURES)
        detail = f"{uniform} of {sampled} sampled heads ({share:.0%}) spread attention uniformly"
        if message.step < judged_from:
            if share < UNIFORM_HEADS_WARN_SHARE:
                return ("uniform_heads", OK, detail, rounded(share))
            return ("uniform_heads", PENDING, f"pending until step {judged_from}: {detail} (entropy >= "
                    f"{UNIFORM_ENTROPY_FRACTION:.0%} of {uniform_entropy:.2f} nats), as at initialisation", rounded(share))
        window = f"mean of the latest {len(series.recent)} captures: {series.recent_mean:.0%}"
        if series.recent_mean >= UNIFORM_HEADS_WARN_SHARE and series.first - series.recent_mean < UNIFORM_HEADS_DROP_MIN:
            return ("uniform_heads", WARN, f"{detail} ({window}; {series.first:.0%} at step {series.first_step}): "
                    "attention has not become selective since; check the learning rate and the attention scaling",
                    rounded(series.recent_mean))
        return ("uniform_heads", OK, f"{detail} ({window}; {series.first:.0%} at step {series.first_step})",
                rounded(series.recent_mean))


def starts_at_zero_lr(message: AttentionSnapshot, context: RunContext) -> bool:
    """Step 1 of a run with warmup: the schedule starts at lr 0, so nothing updates, by design."""
    return message.step == 1 and context.warmup_steps > 0


def adam_grace_until(message: AttentionSnapshot, context: RunContext) -> int | None:
    """The capture step up to which an update ratio past FFN_UPDATE_RATIO_MAX is PENDING, not a
    WARN (AdamW's first TREND_GRACE_STEPS steps move every weight by about the learning rate),
    while `message` is before it; None after."""
    until = context.judged_from(1, TREND_GRACE_STEPS)
    return until if message.step < until else None


def _floats(table) -> np.ndarray:
    return table.to_numpy().astype(float)


def float_tables(message: AttentionSnapshot) -> dict[str, np.ndarray]:
    """The per-head tables the checks sum or compare whole, as float64 and converted once for all
    of them (float64 so that a threshold is compared and a mean summed exactly, whatever float
    dtype arrived). max_weight is judged by its min first (`dead_heads`), the DualFFN rows as
    Python floats (`dual_ffn`)."""
    return {name: _floats(getattr(message, name)) for name in FLOAT64_TABLES}


def text_audio_mass(tables: dict[str, np.ndarray]):
    to_audio, to_text = finite_mean(tables["text_to_audio"]), finite_mean(tables["audio_to_text"])
    value = {"text_to_audio": rounded(to_audio), "audio_to_text": rounded(to_text)}
    weak = []
    if not to_audio >= ATTENTION_MASS_MIN:
        weak.append(f"text queries put {to_audio:.2%} of their attention on audio (the text stream ignores the audio)")
    if not to_text >= ATTENTION_MASS_MIN:
        weak.append(f"audio queries put {to_text:.2%} on text (the audio stream does not read the transcript)")
    if weak:
        return ("text_audio_mass", WARN, "; ".join(weak) + ": shared attention is not mixing the modalities; check the "
                "attention mask and that text and audio share one sequence", value)
    return ("text_audio_mass", OK, f"text->audio {to_audio:.1%}, audio->text {to_text:.1%} of attention mass", value)


def reference_attention(tables: dict[str, np.ndarray]):
    mass = finite_mean(tables["target_to_reference"])
    if not mass >= ATTENTION_MASS_MIN:
        return ("reference_attention", WARN, f"target audio puts {mass:.2%} of its attention on the reference clip: the "
                "model cannot copy the voice from it; check the reference precedes the target in the same sequence "
                "and is not masked", rounded(mass))
    return ("reference_attention", OK, f"target audio puts {mass:.1%} of its attention on the reference clip", rounded(mass))


def _heads(message: AttentionSnapshot, mask: np.ndarray) -> list[str]:
    rows, cols = np.nonzero(mask)
    return [f"L{message.layers[r]}H{message.heads[c]}" if r < len(message.layers) and c < len(message.heads)
            else "L?H?" for r, c in zip(rows.tolist(), cols.tolist())]


def dead_heads(message: AttentionSnapshot, entropy: np.ndarray):
    """`entropy`: the snapshot's entropy table as float64."""
    max_weight = message.max_weight.to_numpy()
    if (max_weight.size and float(np.minimum.reduce(max_weight, axis=None)) >= DEAD_HEAD_MAX_WEIGHT
            and math.isfinite(np.add.reduce(entropy, axis=None))):  # .min() and .sum() without their wrappers
        names = []  # the usual case in two reductions: a NaN makes the min NaN, and a finite sum has none (the
        # min of the arrived dtype read as a float is the float64 table's min: no float64 copy needed)
    else:
        names = _heads(message, ~(max_weight.astype(float) >= DEAD_HEAD_MAX_WEIGHT) | ~np.isfinite(entropy))
    if names:
        more = f" (+{len(names) - SHOWN_HEADS} more)" if len(names) > SHOWN_HEADS else ""
        return ("dead_heads", FAIL, f"{len(names)} of {max_weight.size} sampled heads are dead (largest weight ~0 or "
                f"NaN): {', '.join(names[:SHOWN_HEADS])}{more}; their rows are fully masked or overflowed; check the "
                "attention mask and fp16 overflow", len(names))
    return ("dead_heads", OK, f"none of {max_weight.size} sampled heads is dead", 0)


def uniform_share(entropy: np.ndarray, sequence_length: int | None) -> tuple[int, int, float, float] | None:
    """(uniform heads, sampled heads, their share, causal uniform entropy), None without a length.
    `entropy`: the snapshot's entropy table as float64."""
    if not sequence_length:
        return None
    uniform_entropy = math.lgamma(sequence_length + 1) / sequence_length
    uniform = int(np.count_nonzero(entropy >= UNIFORM_ENTROPY_FRACTION * uniform_entropy))
    return uniform, entropy.size, uniform / entropy.size if entropy.size else 0.0, uniform_entropy


def ffn_verdicts(message: AttentionSnapshot, first_step_at_zero_lr: bool = False,
                 early: bool = False) -> dict[str, np.ndarray]:
    """Per DualFFN layer, the verdict on each measurement (FFN_TABLES name -> severity per row): no
    gradient or no update FAIL (no update is OK when `first_step_at_zero_lr`), an update ratio
    past FFN_UPDATE_RATIO_MAX WARN (PENDING when `early`: AdamW's first steps). NaN fails: a norm
    or ratio that is not > 0 is no signal."""
    verdicts = {}
    for name in FFN_TABLES:
        values = _floats(getattr(message, name))
        severities = np.full(values.shape, OK, dtype=object)
        if name.endswith("update_ratio"):
            severities[values > FFN_UPDATE_RATIO_MAX] = PENDING if early else WARN
            if not first_step_at_zero_lr:
                severities[~(values > 0)] = FAIL
        else:
            severities[~(values > 0)] = FAIL
        verdicts[name] = severities
    return verdicts


def ffn_table_verdicts(message: AttentionSnapshot, context: RunContext) -> dict[str, np.ndarray]:
    """What the dashboard's DualFFN table shows: `ffn_verdicts` as this snapshot's findings judge it."""
    return ffn_verdicts(message, starts_at_zero_lr(message, context), adam_grace_until(message, context) is not None)


def _lowest_if_positive_and_finite(values: list[float]) -> float | None:
    """The smallest of `values` when there are some and no NaN, infinity or value <= 0 among them
    (a NaN or infinity makes the sum non-finite; a finite sum can also overflow, which only sends
    the caller down its exact path); None otherwise."""
    if values and math.isfinite(sum(values)):
        lowest = min(values)
        if lowest > 0:
            return lowest
    return None


def dual_ffn(message: AttentionSnapshot, first_step_at_zero_lr: bool = False, pending_until: int | None = None):
    """The findings on the rows `ffn_verdicts` judges (a ratio past FFN_UPDATE_RATIO_MAX is > 0, so
    never also a FAIL), read off the rows as Python floats (exact from any float dtype): a few
    dozen layers cost less so than as a mask and its indices. Rows all positive and finite (the
    usual case) need no per-layer test for 0 and NaN, and their min and max are Python's: without
    a NaN to skip or a zero to tie with -0.0, np.fmin / np.fmax reductions find the same float."""
    if not message.ffn_layers:
        return [("dual_ffn_gradient", WARN, "no DualFFN layers in the snapshot: the model config lists none "
                 "(audio_dual_ffn_layers) or capture skipped them, so both-path training cannot be verified", None)]
    layers = message.ffn_layers
    early = pending_until is not None
    no_gradient, frozen, too_fast, grad_summary, update_summary = {}, {}, {}, {}, {}
    for path, norm_table, ratio_table in PATH_TABLES:
        norms = getattr(message, norm_table).to_numpy()
        ratios = getattr(message, ratio_table).to_numpy()
        norm_values, ratio_values = norms.tolist(), ratios.tolist()
        lowest = _lowest_if_positive_and_finite(norm_values)
        if lowest is not None:
            no_gradient[path] = []
        else:
            no_gradient[path] = [layer for layer, norm in zip(layers, norm_values) if not norm > 0]
            lowest = float(np.fmin.reduce(norms.astype(float)))  # np.nanmin's own reduction
        if _lowest_if_positive_and_finite(ratio_values) is not None:
            frozen[path], highest = [], max(ratio_values)
        else:
            frozen[path] = [layer for layer, ratio in zip(layers, ratio_values) if not ratio > 0]
            highest = float(np.fmax.reduce(ratios.astype(float)))
        too_fast[path] = ([layer for layer, ratio in zip(layers, ratio_values) if ratio > FFN_UPDATE_RATIO_MAX]
                          if highest > FFN_UPDATE_RATIO_MAX else [])  # a NaN highest: all NaN, none past it
        grad_summary[path], update_summary[path] = rounded(lowest), rounded(highest)
    if any(no_gradient.values()):
        gradient = ("dual_ffn_gradient", FAIL, "; ".join(
            f"the {path} FFN of layers {bad} got no gradient" for path, bad in no_gradient.items() if bad)
            + ": that path is unused in the step (no text or no audio labels in the batch) or frozen; check the batch "
            "and requires_grad", grad_summary)
    else:
        gradient = ("dual_ffn_gradient", OK, f"both FFN paths receive gradient in all {len(layers)} DualFFN layers "
                    f"(smallest norm: text {grad_summary['text']:.3g}, audio {grad_summary['audio']:.3g})", grad_summary)
    if any(frozen.values()) and first_step_at_zero_lr:
        update = ("dual_ffn_update", OK, "no FFN weight changed on step 1, as expected: linear warmup starts at "
                  "learning rate 0", update_summary)
    elif any(frozen.values()):
        update = ("dual_ffn_update", FAIL, "; ".join(
            f"the {path} FFN of layers {bad} did not change" for path, bad in frozen.items() if bad)
            + ": those weights are not in the optimizer (param groups, requires_grad) or the learning rate is 0",
            update_summary)
    elif any(too_fast.values()):
        moved = "; ".join(f"the {path} FFN of layers {bad} moved by more than {FFN_UPDATE_RATIO_MAX:.0%} of its norm"
                          for path, bad in too_fast.items() if bad) + " in one step"
        if early:
            update = ("dual_ffn_update", PENDING, f"pending until step {pending_until}: {moved}, as AdamW's first "
                      "steps move every weight by about the learning rate", update_summary)
        else:
            update = ("dual_ffn_update", WARN, f"{moved}: it is being overwritten, not fine-tuned; lower the learning "
                      "rate", update_summary)
    else:
        update = ("dual_ffn_update", OK, f"both FFN paths update in every DualFFN layer (largest ratio: text "
                  f"{update_summary['text']:.2g}, audio {update_summary['audio']:.2g})", update_summary)
    return [gradient, update]
