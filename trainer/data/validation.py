"""Every sample checked before training starts, from file headers only (no decoding).

A bad sample (missing keys, empty text, missing or unreadable audio, a clip too long or too
short) is found here, up front, with a message naming the sample and the file, instead of as a
crash hours into a run. A clip at another sample rate is not an error: it is resampled with soxr
when encoded, and only reported (as information) so a user sees what happens to their data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from stratlog.trainer.data.audio_codes import inspect_clip
from stratlog.trainer.data.samples import SampleError, SampleSet, VoiceCloningSample


@dataclass(frozen=True)
class ClipLimits:
    max_audio_seconds: float
    """Longest clip accepted (reference or target), in seconds."""
    min_audio_seconds: float
    """Shortest clip accepted, in seconds; shorter clips carry too few codec frames to learn from."""

    def __post_init__(self):
        if not 0 <= self.min_audio_seconds < self.max_audio_seconds:
            raise ValueError(
                f"need 0 <= --min_audio_seconds < --max_audio_seconds, got {self.min_audio_seconds} and {self.max_audio_seconds}"
            )


@dataclass
class ValidationReport:
    valid: list[VoiceCloningSample]
    rejected: list[SampleError]
    resampled_rates: Counter = field(default_factory=Counter)
    """Source sample rate -> number of clips at that rate that will be resampled."""

    def resampling_note(self, target_rate: int) -> str | None:
        return resampling_note(self.resampled_rates, target_rate)


def resampling_note(resampled_rates: Counter, target_rate: int) -> str | None:
    """What happens to clips at other rates, said once (None when every clip is at the rate)."""
    if not resampled_rates:
        return None
    rates = ", ".join(f"{count} at {rate} Hz" for rate, count in sorted(resampled_rates.items()))
    return f"info: resampling clips to {target_rate} Hz with soxr ({rates})"


def validate_samples(sample_set: SampleSet, limits: ClipLimits, target_rate: int) -> ValidationReport:
    """Split the samples into valid ones and errors; the data file's own errors come first."""
    report = ValidationReport(valid=[], rejected=list(sample_set.errors))
    for sample in sample_set.samples:
        try:
            rates = check_sample(sample, limits)
        except SampleError as error:
            report.rejected.append(error)
            continue
        report.valid.append(sample)
        report.resampled_rates.update(rate for rate in rates if rate != target_rate)
    return report


def check_sample(sample: VoiceCloningSample, limits: ClipLimits) -> list[int]:
    """Raises SampleError for the first problem found; returns the clips' source sample rates."""
    for name, text, clip in (("reference", sample.ref_text, sample.ref_audio), ("target", sample.target_text, sample.target_audio)):
        if not text:
            raise SampleError(sample.sample_id, clip.path, f"empty {name} transcript")
    rates = []
    for name, clip in (("reference", sample.ref_audio), ("target", sample.target_audio)):
        info = inspect_clip(clip, sample_id=sample.sample_id)
        if info.seconds > limits.max_audio_seconds:
            raise SampleError(sample.sample_id, clip, f"{name} audio too long: {info.seconds:.2f} s > --max_audio_seconds {limits.max_audio_seconds:g}")
        if info.seconds < limits.min_audio_seconds:
            raise SampleError(sample.sample_id, clip, f"{name} audio too short: {info.seconds:.2f} s < --min_audio_seconds {limits.min_audio_seconds:g}")
        rates.append(info.source_rate)
    return rates
