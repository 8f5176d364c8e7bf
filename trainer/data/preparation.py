"""From the data file to training examples: validate, hold out, encode (cached), build sequences.

Bad samples are collected, not raised one at a time: without `skip_bad_samples` the run stops
before training with every bad sample listed (so a user fixes their data in one pass); with it,
they are left out and counted. Encoding can still find corrupt audio past a valid header; such a
sample is treated the same way.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from tqdm import tqdm

from stratlog.trainer.data.audio_codes import AudioCodeCache
from stratlog.trainer.data.pair_checks import pair_similarity
from stratlog.trainer.data.samples import SampleError, SampleSet, VoiceCloningSample
from stratlog.trainer.data.sequences import SequenceBuilder, TrainingExample
from stratlog.trainer.data.validation import ClipLimits, validate_samples

LISTED_ERRORS = 20
"""How many bad samples a message lists before it only counts the rest."""


class BadSamplesError(ValueError):
    """Bad samples found while `skip_bad_samples` is off; the message lists them."""

    def __init__(self, errors: list[SampleError]):
        self.errors = errors
        lines = [f"  - {error}" for error in errors[:LISTED_ERRORS]]
        if len(errors) > LISTED_ERRORS:
            lines.append(f"  ... and {len(errors) - LISTED_ERRORS} more")
        super().__init__(f"{len(errors)} bad sample(s):\n" + "\n".join(lines))


@dataclass
class PreparedData:
    examples: Sequence[TrainingExample]
    """A list, or a lazily read `PreparedDataSet`."""
    skipped: list[SampleError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def skip_summary(self) -> str:
        reasons = "\n".join(f"  - {error}" for error in self.skipped)
        return f"skipped {len(self.skipped)} bad sample(s):\n{reasons}"


def held_out_indices(sample_count: int, fraction: float, seed: int) -> set[int]:
    """A seeded random `fraction` of the data file's samples, at least one: the same on every
    rank (same seed), and the same whether the samples are held out before or after preparation."""
    order = list(range(sample_count))
    random.Random(seed).shuffle(order)
    return set(order[:max(1, round(fraction * sample_count))])


def hold_out(sample_set: SampleSet, fraction: float, seed: int) -> tuple[SampleSet, SampleSet]:
    """(train, held out) for evaluation when no eval file is given (`held_out_indices`)."""
    held = held_out_indices(len(sample_set.samples), fraction, seed)
    train = [s for i, s in enumerate(sample_set.samples) if i not in held]
    return SampleSet(train, sample_set.errors), SampleSet([sample_set.samples[i] for i in sorted(held)], [])


def prepare_examples(
    sample_set: SampleSet,
    codes: AudioCodeCache,
    builder: SequenceBuilder,
    *,
    limits: ClipLimits,
    skip_bad_samples: bool,
    show_progress: bool = True,
) -> PreparedData:
    report = validate_samples(sample_set, limits, codes.sample_rate)
    if report.rejected and not skip_bad_samples:
        raise BadSamplesError(report.rejected)
    prepared = PreparedData(examples=[], skipped=list(report.rejected))
    note = report.resampling_note(codes.sample_rate)
    if note:
        prepared.notes.append(note)
    for sample in tqdm(report.valid, desc="audio codes", unit="sample", disable=not show_progress):
        try:
            prepared.examples.append(example_for(sample, codes, builder))
        except SampleError as error:
            if not skip_bad_samples:
                raise BadSamplesError([error]) from None
            prepared.skipped.append(error)
    if not prepared.examples:
        raise ValueError(f"no usable samples: all {len(sample_set.samples) + len(sample_set.errors)} were bad")
    return prepared


def example_for(sample: VoiceCloningSample, codes: AudioCodeCache, builder: SequenceBuilder, *,
                pair_check: bool = False) -> TrainingExample:
    """One valid sample's training example: both clips' codes (from the cache), then the sequence,
    with its pair score (embedded with `pair_check`, trainer/data/pair_checks.py).
    Raises SampleError for a clip too short to yield a codec frame."""
    clip_codes = []
    for clip in (sample.ref_audio, sample.target_audio):
        clip_codes.append(codes.codes_for(clip, sample_id=sample.sample_id))
        if clip_codes[-1].shape[1] == 0:
            raise SampleError(sample.sample_id, clip, "audio too short to yield one codec frame")
    example = builder.build(sample, *clip_codes)
    example.pair_similarity = pair_similarity(sample, *clip_codes, embed=pair_check)
    return example
